/* backend.h — where answers come from, as files say it: the user's config file
 * ($XDG_CONFIG_HOME/natter/config.yaml) and a persona's `backend:` mapping. Both name an
 * OpenAI-compatible server (api-base), the model it serves (model) and the NAME of the
 * environment variable holding its API key (api-key-env: the key itself is never in a file);
 * the config file also gives the network timeouts.
 *
 * The keys are spelled as the command line spells its options (api-base, api-key-env), and
 * read with the YAML layer (util/yamlcfg.h), so a mistake reads `file:line:col: message` with
 * the line and a caret. What wins: the command line, then the persona's backend, then the
 * config file (cli.c, cli_pick_backend, applies the order; natter(1), FILES). */
#ifndef NATTER_APP_BACKEND_H
#define NATTER_APP_BACKEND_H

#include "util/yamlcfg.h"

#include <stdbool.h>

/* Seconds a timeout may be set to in the config file. */
#define BACKEND_TIMEOUT_MIN 0.1
#define BACKEND_TIMEOUT_MAX 86400.0

/* One backend as a file gives it. Every string is malloc'd and owned (backend_cfg_free);
 * NULL when the file does not say. */
typedef struct backend_cfg {
    char *api_base;          /* "http://host:port/v1" (checked: http:// or https://) */
    char *model;             /* the server's name for the model; without api_base (config
                                file only), the local model: a GGUF path or a model's name */
    char *api_key_env;       /* the variable's name (checked: letters, digits, '_') */
    double connect_timeout;  /* seconds; 0: not set (config file only) */
    double idle_timeout;     /* seconds; 0: not set (config file only) */
    char *file;              /* the file it was read from (messages say where a setting came
                                from); NULL for an empty backend */
} backend_cfg;

void backend_cfg_free(backend_cfg *b); /* frees the strings and zeroes b; accepts a zeroed b */

/* Reads a persona's `backend:` mapping at node v into *b (api-base, model, api-key-env;
 * api-base required). Errors are reported through c; NT_OK or NT_ERR_FORMAT. */
int backend_read_persona(ycfg *c, yaml_node_t *v, backend_cfg *b);

/* The config file's path: $XDG_CONFIG_HOME/natter/config.yaml (an absolute XDG_CONFIG_HOME),
 * else ~/.config/natter/config.yaml. malloc'd; NULL when neither is known or out of memory. */
char *backend_config_path(void);

/* Reads the config file at path into *b (zeroed first). A file that does not exist is no
 * error (*b stays empty, NT_OK). Otherwise every problem goes to diag as `file:line:col:
 * message` and the result is NT_ERR_FORMAT or NT_ERR_IO (*b emptied). */
int backend_config_load(const char *path, backend_cfg *b, ycfg_diag *diag);

#endif
