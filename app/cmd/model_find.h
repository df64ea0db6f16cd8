/* model_find.h — the GGUF models a person already has, in the places other programs keep
 * them, and the names `-m`, `/model` and `natter models` know them by.
 *
 * Search order (the order of `natter models`; one rule, documented in natter(1)):
 *   1. $NATTER_MODELS: colon-separated folders, their *.gguf files      name: FILE.gguf
 *   2. llama.cpp's cache: $LLAMA_CACHE, else $XDG_CACHE_HOME/llama.cpp,
 *      else ~/.cache/llama.cpp: its *.gguf files                       name: FILE.gguf
 *   3. the Hugging Face hub cache: $HF_HUB_CACHE, else $HF_HOME/hub, else
 *      $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub:
 *      models--ORG--NAME/snapshots/REV/[DIR/]*.gguf (symlinks into blobs/)
 *                                                                      name: ORG/NAME/FILE.gguf
 *   4. Ollama's store: $OLLAMA_MODELS, else ~/.ollama/models: the JSON manifests
 *      manifests/HOST/NAMESPACE/NAME/TAG, whose layer of media type
 *      application/vnd.ollama.image.model names its blob by digest     name: NAME:TAG
 *      (NAMESPACE/NAME:TAG outside "library", HOST/... outside registry.ollama.ai)
 *   5. LM Studio: ~/.lmstudio/models/PUBLISHER/REPO/FILE.gguf, then the older
 *      ~/.cache/lm-studio/models/PUBLISHER/REPO/FILE.gguf                 name: PUBLISHER/REPO/FILE.gguf
 * A file reached from two places (LM Studio linking into the Hugging Face cache) is listed
 * once, where it is met first; within a place each name is listed (Ollama tags may share a
 * blob). Of a
 * split model (NAME-00001-of-00003.gguf) only the first part is listed, with the size of all.
 *
 * Besides its name, an entry is selected by shorter names: its file name with or without
 * .gguf (and without -00001-of-0000N.gguf for a split model), the repository ORG/NAME
 * (Hugging Face, LM Studio), NAME for Ollama's NAME:latest. */
#ifndef NATTER_APP_MODEL_FIND_H
#define NATTER_APP_MODEL_FIND_H

#include <stddef.h>
#include <stdint.h>

typedef struct model_found {
    char *name;        /* "qwen3:0.6b", "Qwen/Qwen2.5-0.5B-Instruct-GGUF/x.gguf", "x.gguf" */
    char *repo;        /* a shorter selecting name ("ORG/NAME", "qwen3"), or NULL */
    char *path;        /* the file to open (a split model's first part) */
    const char *place; /* "NATTER_MODELS", "llama.cpp", "huggingface", "ollama", "lmstudio" */
    uint64_t size;     /* bytes, all parts of a split model */
    int n_parts;       /* 1, or the parts of a split model found next to it */
} model_found;

/* What the search found. Every string is malloc'd and owned by the list. */
typedef struct model_list {
    model_found *v;
    size_t n, cap;
    char **warn;       /* "PATH: reason" for things that looked like models but were not
                          (a manifest that does not parse, a blob that is missing) */
    size_t n_warn;
} model_list;

/* Fills *out (zero-initialised) with every model in the search order above. Returns 0, or
 * -1 when out of memory (what was found so far stays in *out). */
int model_find_all(model_list *out);
void model_list_free(model_list *l); /* accepts NULL; leaves *l zeroed */

/* The file a -m argument names: arg itself when it is an existing file, else the one model
 * of model_find_all that it names (its name first; shorter names only when no name matches).
 * Returns a malloc'd path (the caller frees), or NULL with a message in msg (no match, or
 * the candidates of an ambiguous name, one per line). */
char *model_find_resolve(const char *arg, char *msg, size_t cap);

/* model_find_resolve for a command's model argument, the one way every subcommand taking a
 * model reads it (-m of the chat, serve, perplexity, bench, replay, --check --model, train
 * --init/--eval, info and tokenize's MODEL): on failure it prints "PROG: OPT: reason" (or
 * "PROG: reason" when opt is NULL, an operand) on stderr, through text_printf since
 * candidates' names come from folder listings, and returns NULL; the caller exits with 2.
 * Returns a malloc'd path (the caller frees). */
char *model_find_arg(const char *prog, const char *opt, const char *arg);

#endif
