/* fuzz_docs.c — the document chunker (app/docs/chunk.c) on hostile files: the first byte picks
 * the kind (text, Markdown, man page, code) and the passage budget, the rest is the file. What
 * must hold for any input: every passage has its lines inside the file, in order (a passage
 * never starts before the one before it), a title and a text; a file that is valid UTF-8 gives
 * passages that are valid UTF-8 (cuts fall between characters); kind detection and the binary
 * check never crash. */
#include "fuzz.h"
#include "docs/chunk.h"
#include "util/text.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    enum chunk_kind kind = (enum chunk_kind)(data[0] & 3);
    size_t budget = 16 + (size_t)(data[0] >> 2) * 16; /* 16 to 1024 bytes */
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    (void)chunk_kind_of("doc.md", text, n);
    (void)chunk_kind_of("page", text, n);
    bool binary = chunk_is_binary(text, n);
    int32_t lines = 1;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    doc_chunks c = {0};
    if (chunk_split(kind, text, n, budget, &c) != 0) {
        doc_chunks_free(&c);
        return 0;
    }
    int32_t prev = 0;
    for (size_t i = 0; i < c.n; i++) {
        const doc_chunk *k = &c.v[i];
        if (!k->text || !k->title) abort();
        if (k->line_a < 1 || k->line_b < k->line_a || k->line_b > lines) abort();
        if (k->line_a < prev) abort();
        prev = k->line_a;
        if (!binary && (!text_valid(k->text, strlen(k->text)) || !text_valid(k->title, strlen(k->title))))
            abort();
    }
    doc_chunks_free(&c);
    return 0;
}
