/* cmd_persona.c — the command-line entry points for persona and theme files:
 * `natter --check FILE...`, `--list-personas`, `--list-themes` and `natter import-card`.
 * main() dispatches here (declarations and contracts in persona.h). These print: they are
 * commands, not library code. */
#include "args.h"
#include "util/text.h"
#include "conv/chat.h"
#include "cli.h"
#include "model_find.h"
#include "conv/backend.h"
#include "conv/persona.h"
#include "tui/theme.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The folder a path sits in is named `dir` (themes/x.yaml, ~/.config/natter/themes/x.yaml). */
static bool in_folder(const char *path, const char *dir)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return false;
    size_t n = strlen(dir);
    const char *start = slash - n;
    return start >= path && !strncmp(start, dir, n) && (start == path || start[-1] == '/');
}

/* A file is a theme when it sits in a themes folder, or (elsewhere) when its top-level
 * mapping has a `styles` key; everything else is checked as a persona. */
static bool looks_like_theme(const char *path)
{
    if (in_folder(path, "themes")) return true;
    if (in_folder(path, "prompts")) return false;
    ycfg c;
    bool theme = false;
    if (ycfg_load(&c, path, NULL, NULL) == NT_OK) {
        yaml_node_t *r = ycfg_root(&c);
        if (r && r->type == YAML_MAPPING_NODE) {
            for (yaml_node_pair_t *p = r->data.mapping.pairs.start; p < r->data.mapping.pairs.top; p++) {
                yaml_node_t *k = ycfg_node(&c, p->key);
                if (k && k->type == YAML_SCALAR_NODE && !strcmp((char *)k->data.scalar.value, "styles"))
                    theme = true;
            }
        }
    }
    ycfg_free(&c);
    return theme;
}

static void print_diag(const ycfg_diag *d)
{
    for (size_t i = 0; i < d->n; i++) text_printf(stderr, "%s\n", d->v[i]);
}

/* The file --check reads for arg: an existing file as it is; a name (no '/', no .yaml) as
 * --persona finds it in the prompts folders, else as --theme does. NULL (diag says where it
 * looked) when neither has it. malloc'd. */
static char *check_resolve(const char *arg, ycfg_diag *d)
{
    struct stat st;
    if (stat(arg, &st) == 0 || strchr(arg, '/') || strstr(arg, ".yaml") || strstr(arg, ".yml"))
        return strdup(arg);
    char *p = ycfg_find("prompts", arg);
    if (!p) p = ycfg_find("themes", arg);
    if (!p) p = ycfg_find_or_report("prompts", "persona or theme", arg, d);
    return p;
}

int cmd_check(int argc, char **argv)
{
    const char *model_arg = NULL;
    /* Options may come before or after the files (`natter --check FILE --model M`): getopt
     * moves the files to the end of argv, in order. argv[0] is "--check". */
    static const struct option opts[] = {{"model", required_argument, NULL, 'm'}, {0}};
    args a = args_start("natter --check", argc, argv, "m:", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        if (c != 'm') return 2;
        model_arg = a.value;
    }
    int first = a.first;
    if (first >= argc) {
        text_printf(stderr, "usage: natter --check [--model MODEL.gguf] FILE...\n");
        return 2;
    }
    char *model_path = NULL;
    if (model_arg && !(model_path = model_find_arg("natter --check", "--model", model_arg))) return 2;
    nt_gguf *g = NULL;
    nt_tokenizer *tok = NULL;
    if (model_path) {
        nt_err e = {0};
        if (nt_gguf_open(&g, model_path, &e) != NT_OK || nt_tokenizer_load(&tok, g, &e) != NT_OK) {
            text_printf(stderr, "natter --check: %s\n", e.msg);
            nt_gguf_close(g);
            free(model_path);
            return 2;
        }
    }
    /* The context a chat on this model gets by default (nt_model_params: the trained
     * length, at most 4096), which the fixed part must leave room in. */
    int32_t n_ctx = 0;
    if (model_path) {
        nt_model_info mi;
        nt_err e = {0};
        if (nt_model_check(model_path, &mi, &e) == NT_OK)
            n_ctx = mi.n_ctx_train > 0 && mi.n_ctx_train < 4096 ? mi.n_ctx_train : 4096;
    }
    int bad = 0;
    for (int i = first; i < argc; i++) {
        ycfg_diag d = {0};
        /* A name (`--check guide`) is found as --persona and --theme find it. */
        char *found = check_resolve(argv[i], &d);
        if (!found) {
            print_diag(&d);
            ycfg_diag_free(&d);
            bad++;
            continue;
        }
        const char *path = found;
        const char *base = strrchr(path, '/');
        if (!strcmp(base ? base + 1 : path, "config.yaml")) {
            /* natter's config file (natter(1), FILES): read as natter reads it at start. */
            backend_cfg b;
            if (backend_config_load(path, &b, &d) == NT_OK) {
                text_printf(stdout, "%s: ok (config: %s%s", path, b.api_base ? "server " : "no server",
                            b.api_base ? b.api_base : "");
                if (b.model) text_printf(stdout, ", model %s", b.model);
                if (b.api_key_env) text_printf(stdout, ", its key from $%s", b.api_key_env);
                text_printf(stdout, ")\n");
            } else {
                bad++;
            }
            backend_cfg_free(&b);
        } else if (looks_like_theme(path)) {
            theme *t = theme_load(path, NULL, &d);
            if (t)
                text_printf(stdout, "%s: ok (theme '%s')\n", path, t->name);
            else
                bad++;
            theme_free(t);
        } else {
            persona *p = persona_load(path, NULL, &d);
            int32_t too_big = 0;
            if (p) {
                text_printf(stdout, "%s: ok (persona '%s': %zu example pair%s, %zu document%s", path, p->name,
                       p->n_examples, p->n_examples == 1 ? "" : "s", p->n_docs,
                       p->n_docs == 1 ? "" : "s");
                if (tok) {
                    /* Counted as the chat counts it (the status bar's number): the system
                     * prompt with the documents, the examples and the greeting. */
                    const char *mb = strrchr(model_path, '/');
                    enum nt_chat_family mf = nt_chat_detect_gguf(g);
                    int32_t n = 0;
                    nt_err e = {0};
                    chat *c = chat_init(tok, mf, INT32_MAX);
                    if (!c)
                        text_printf(stdout, "; tokens not counted: out of memory");
                    else if (cli_chat_persona(c, p, mb ? mb + 1 : model_path, NULL, (int)mf, &e) == NT_OK &&
                             chat_count_fixed(c, &n, &e) == NT_OK) {
                        text_printf(stdout, "; fixed part %d tokens in %s format", (int)n,
                               nt_chat_family_name(chat_get_family(c)));
                        /* Room for a question and its answer is needed too. */
                        if (n_ctx > 0 && n >= n_ctx) too_big = n - n_ctx + 1;
                    } else
                        text_printf(stdout, "; tokens not counted: %s", e.msg);
                    chat_free(c);
                }
                text_printf(stdout, ")\n");
                if (too_big) {
                    text_printf(stderr, "%s: the fixed part does not fit %s's context of %d tokens: "
                                    "%d tokens too many\n", path, model_path, (int)n_ctx, (int)too_big);
                    bad++;
                }
            } else {
                bad++;
            }
            persona_free(p);
        }
        print_diag(&d);
        ycfg_diag_free(&d);
        free(found);
    }
    nt_tokenizer_free(tok);
    nt_gguf_close(g);
    free(model_path);
    if (bad) text_printf(stderr, "%d of %d file%s with errors\n", bad, argc - first, argc - first == 1 ? "" : "s");
    return bad ? 1 : 0;
}

/* Prints a listing (persona_list or theme_list: both are ycfg_entry arrays) and frees it. */
static int print_entries(ycfg_entry *v, int n, const char *none)
{
    if (n < 0) {
        text_printf(stderr, "natter: out of memory\n");
        return 1;
    }
    if (n == 0) text_printf(stdout, "%s\n", none);
    for (int i = 0; i < n; i++) {
        const char *desc = !v[i].ok ? "(has errors: run natter --check on it)"
                           : v[i].description ? v[i].description : "";
        text_printf(stdout, "%-16s %-60s %s\n", v[i].ok ? v[i].name : v[i].base, desc, v[i].path);
    }
    ycfg_entries_free(v, n);
    return 0;
}

int cmd_list_personas(void)
{
    persona_entry *v;
    int n = persona_list(&v);
    return print_entries(v, n, "no personas found (the built-in 'default' is used)");
}

int cmd_list_themes(void)
{
    theme_entry *v;
    int n = theme_list(&v);
    return print_entries(v, n, "no themes found (the built-in 'dark' is used)");
}

#define CARD_MAX (16u << 20) /* cards with embedded assets can be large, but not this large */

int cmd_import_card(int argc, char **argv)
{
    const char *card_path = NULL, *out_path = NULL;
    bool force = false;
    static const struct option opts[] = {
        {"output", required_argument, NULL, 'o'},
        {"force", no_argument, NULL, 'f'},
        {0},
    };
    args a = args_start("natter import-card", argc, argv, "o:f", opts);
    for (int c; (c = args_next(&a)) != -1;) {
        switch (c) {
        case 'o': out_path = a.value; break;
        case 'f': force = true; break;
        default: return 2;
        }
    }
    if (a.first < argc) card_path = argv[a.first];
    if (a.first + 1 < argc) {
        text_printf(stderr, "natter import-card: one card at a time ('%s' is extra)\n",
                argv[a.first + 1]);
        return 2;
    }
    if (!card_path) {
        text_printf(stderr, "usage: natter import-card CARD.json [-o FILE] [--force]\n");
        return 2;
    }
    int status = 1;
    size_t len = 0;
    json_t *j = NULL;
    persona *p = NULL;
    char *yaml = NULL, *slug = NULL, *def_out = NULL;
    char *text = NULL;
    nt_err re;
    if (ycfg_read_file(card_path, CARD_MAX, &text, &len, &re) != NT_OK) {
        text_printf(stderr, "natter import-card: %s: %s\n", card_path, re.msg);
        goto done;
    }
    if (len >= 8 && !memcmp(text, "\x89PNG", 4)) {
        text_printf(stderr, "%s: PNG cards are not supported; export the card as JSON first\n", card_path);
        goto done;
    }
    json_error je;
    if (json_parse(text, len, &j, &je) != NT_OK) {
        text_printf(stderr, "%s:%s\n", card_path, je.msg);
        goto done;
    }
    nt_err e = {0};
    int dropped = 0;
    if (persona_from_card(j, &p, &dropped, &e) != NT_OK) {
        text_printf(stderr, "%s: %s\n", card_path, e.msg);
        goto done;
    }
    if (!out_path) {
        /* The user's own persona folder, where --persona NAME finds it from any folder;
         * never the current one. */
        char *dir = ycfg_user_dir("prompts");
        if (!dir) {
            text_printf(stderr, "natter import-card: no persona folder (set HOME or "
                            "XDG_CONFIG_HOME, or give -o FILE)\n");
            goto done;
        }
        slug = persona_slug(p->name);
        def_out = slug ? malloc(strlen(dir) + strlen(slug) + 16) : NULL;
        if (def_out) sprintf(def_out, "%s/%s.yaml", dir, slug);
        int mk = def_out ? ycfg_make_dirs(dir, 0755, &e) : NT_OK;
        free(dir);
        if (!def_out) goto oom;
        if (mk != NT_OK) {
            text_printf(stderr, "natter import-card: %s\n", e.msg);
            goto done;
        }
        out_path = def_out;
    }
    char header[600];
    snprintf(header, sizeof header,
             "Imported from %s by `natter import-card` (Character Card V2).\n"
             "Schema: man 5 natter-persona.", card_path);
    yaml = persona_to_yaml(p, header);
    if (!yaml) goto oom;
    /* Read it with the same validation every persona gets (the file's size limit included)
     * before anything is written: a card that gives something natter would reject leaves no
     * file behind. */
    ycfg_diag d = {0};
    persona *back = persona_load_mem(out_path, yaml, strlen(yaml), &d);
    print_diag(&d);
    ycfg_diag_free(&d);
    if (!back) {
        text_printf(stderr, "natter import-card: %s: nothing written: the persona made from this card "
                    "would not load (see above; shorten the card's fields)\n", card_path);
        goto done;
    }
    if (ycfg_write_atomic(out_path, yaml, strlen(yaml), force, &e) != NT_OK) {
        text_printf(stderr, "natter import-card: %s\n", e.msg);
        persona_free(back);
        goto done;
    }
    persona_free(back);
    text_printf(stdout, "wrote %s (persona '%s': %zu example pair%s%s", out_path, p->name, p->n_examples,
           p->n_examples == 1 ? "" : "s", p->greeting ? ", greeting" : "");
    if (p->alt_greetings.n)
        text_printf(stdout, ", %zu alternate greeting%s", p->alt_greetings.n, p->alt_greetings.n == 1 ? "" : "s");
    text_printf(stdout, ")\n");
    if (slug) text_printf(stdout, "use it with: natter --persona %s\n", slug);
    if (dropped)
        text_printf(stdout, "note: %d unsupported {{macro}}%s written as plain text\n", dropped, dropped == 1 ? "" : "s");
    status = 0;
    goto done;
oom:
    text_printf(stderr, "natter import-card: out of memory\n");
done:
    free(yaml);
    free(slug);
    free(def_out);
    persona_free(p);
    json_decref(j);
    free(text);
    return status;
}
