/* backend.c — the backend settings of the config file and of a persona (see backend.h). */
#include "backend.h"

#include "remote.h"

#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void backend_cfg_free(backend_cfg *b)
{
    if (!b) return;
    free(b->api_base);
    free(b->model);
    free(b->api_key_env);
    free(b->file);
    memset(b, 0, sizeof *b);
}

/* An error on a line that may hold a secret (a key written where it does not belong): its
 * place and the message, but not the line itself, so the key is not repeated in output. */
static int backend_secret_error(ycfg *c, const yaml_node_t *v, const char *msg)
{
    if (c->diag)
        ycfg_diag_add(c->diag, "%s:%zu:%zu: %s", c->name ? c->name : "?",
                      (size_t)v->start_mark.line + 1, (size_t)v->start_mark.column + 1, msg);
    c->n_errors++;
    return NT_ERR_FORMAT;
}

/* api-base: remote_check_base's rule, said here with the file, line and column (before, a
 * base curl could not parse was refused only when the chat started, with no place). The line
 * is not quoted: a key may hide in a URL. */
static int h_api_base(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    char *s = NULL;
    if (ycfg_read_str(c, v, k->name, &s) != NT_OK) return NT_ERR_FORMAT;
    nt_err why = {0};
    if (remote_check_base(s, &why) != NT_OK) {
        free(s);
        char msg[600];
        snprintf(msg, sizeof msg, "'%s' %s", k->name, why.msg);
        return backend_secret_error(c, v, msg);
    }
    char **dst = (char **)((char *)obj + k->offset);
    free(*dst);
    *dst = s;
    return NT_OK;
}

/* api-key-env: the name of a variable. Something else there is most likely the key itself,
 * which must not sit in a file: the message says where it belongs. */
static int h_key_env(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    char *s = NULL;
    if (ycfg_read_str(c, v, k->name, &s) != NT_OK) return NT_ERR_FORMAT;
    bool ok = s[0] && !(s[0] >= '0' && s[0] <= '9');
    for (const char *p = s; ok && *p; p++)
        ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
             *p == '_';
    free(s);
    if (!ok)
        return backend_secret_error(c, v, "'api-key-env' names the environment variable that "
                                    "holds the API key (letters, digits and '_', e.g. "
                                    "OPENAI_API_KEY), not the key itself: natter never reads a "
                                    "key from a file");
    return ycfg_h_str(c, v, obj, k);
}

/* api-key: refused with the way to do it instead. */
static int h_key(ycfg *c, yaml_node_t *v, void *obj, const ycfg_key *k)
{
    return backend_secret_error(c, v, "an API key is never read from a file: put it in an "
                                "environment variable and give that variable's name as "
                                "'api-key-env'");
}

#define BACKEND_KEYS                                                                   \
    {"api-base", h_api_base, offsetof(backend_cfg, api_base), 0, 0, false, 0},         \
    {"model", ycfg_h_str, offsetof(backend_cfg, model), 0, 0, false, 0},               \
    {"api-key-env", h_key_env, offsetof(backend_cfg, api_key_env), 0, 0, false, 0},    \
    {"api-key", h_key, 0, 0, 0, false, 0}

static const ycfg_key persona_backend_keys[] = {
    BACKEND_KEYS,
    {NULL, NULL, 0, 0, 0, false, 0},
};

static const ycfg_key config_keys[] = {
    BACKEND_KEYS,
    {"connect-timeout", ycfg_h_double, offsetof(backend_cfg, connect_timeout),
     BACKEND_TIMEOUT_MIN, BACKEND_TIMEOUT_MAX, false, 0},
    {"idle-timeout", ycfg_h_double, offsetof(backend_cfg, idle_timeout), BACKEND_TIMEOUT_MIN,
     BACKEND_TIMEOUT_MAX, false, 0},
    {NULL, NULL, 0, 0, 0, false, 0},
};

static bool backend_has_key(ycfg *c, const yaml_node_t *map, const char *name)
{
    for (const yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = ycfg_node(c, p->key);
        if (k && k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, name) == 0)
            return true;
    }
    return false;
}

int backend_read_persona(ycfg *c, yaml_node_t *v, backend_cfg *b)
{
    int rc = ycfg_map(c, v, persona_backend_keys, b, YCFG_NO_SET, "'backend'");
    /* Missing, not refused (that was said at its line, which is not to be quoted here). */
    if (v && v->type == YAML_MAPPING_NODE && !b->api_base && !backend_has_key(c, v, "api-base"))
        rc = ycfg_error(c, v, "'backend' needs 'api-base' (the server's URL, e.g. "
                        "http://127.0.0.1:8080/v1)");
    if (rc == NT_OK && !(b->file = strdup(c->name ? c->name : "")))
        rc = ycfg_error(c, v, "out of memory");
    return rc;
}

char *backend_config_path(void)
{
    /* The user's config folder, as personas and themes find theirs (yamlcfg.h); the "kind"
     * is the file's name here. */
    return ycfg_user_dir("config.yaml");
}

int backend_config_load(const char *path, backend_cfg *b, ycfg_diag *diag)
{
    memset(b, 0, sizeof *b);
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) return NT_OK; /* no config: the defaults */
    ycfg c;
    int rc = ycfg_load(&c, path, NULL, diag);
    yaml_node_t *root = rc == NT_OK ? ycfg_root(&c) : NULL;
    if (root && !ycfg_is_null(root)) rc = ycfg_map(&c, root, config_keys, b, YCFG_NO_SET, "the config file");
    if (rc == NT_OK && !(b->file = strdup(path))) rc = NT_ERR_NOMEM;
    if (rc == NT_ERR_NOMEM) ycfg_diag_add(diag, "%s: out of memory", path);
    ycfg_free(&c);
    if (rc != NT_OK) backend_cfg_free(b);
    return rc;
}
