/* mktiny — writes one of the tiny test models (tiny.h): `mktiny NAME OUT.gguf [VOCAB.gguf]`,
 * or `mktiny --list`, or the vocabulary file they take (`mktiny --vocab OUT.gguf MODEL.gguf`:
 * MODEL's tokenizer alone). Prints the file's hash. Used by tests/tiny/ref.mjs's instructions to
 * make the files the reference figures are measured on. */
#include "tiny.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < tiny_n_models; i++) printf("%s\n", tiny_models[i].name);
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "--vocab") == 0) {
        nt_err err = {0};
        if (tiny_write_vocab(argv[2], argv[3], &err) != NT_OK) {
            fprintf(stderr, "mktiny: %s\n", err.msg[0] ? err.msg : "failed");
            return 1;
        }
        return 0;
    }
    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: mktiny NAME OUT.gguf [VOCAB.gguf] | mktiny --list | mktiny --vocab OUT.gguf MODEL.gguf\n");
        return 2;
    }
    const tiny_entry *e = tiny_find(argv[1]);
    if (!e) {
        fprintf(stderr, "mktiny: no tiny model '%s' (mktiny --list)\n", argv[1]);
        return 2;
    }
    nt_err err = {0};
    char hex[17];
    if (e->write(argv[2], argc == 4 ? argv[3] : TINY_VOCAB_FILE, &err) != NT_OK ||
        tiny_file_hash(argv[2], hex, &err) != NT_OK) {
        fprintf(stderr, "mktiny: %s\n", err.msg[0] ? err.msg : "failed");
        return 1;
    }
    printf("%s %s\n", argv[1], hex);
    return 0;
}
