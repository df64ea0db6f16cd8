/* chunk.h — a document's text cut into passages that follow its structure, for the document
 * index (app/docs/docindex.h).
 *
 * The kind of document decides where a passage may start: Markdown at its headings (outside
 * code fences), man pages (roff) at .SH/.SS, with the markup turned into plain text, source
 * code at top-level definitions (a non-indented line after a blank one: a function with the
 * comment above it stays whole), plain text at blank-line blocks. Within a section, paragraphs
 * (blank-line blocks) are joined while the passage stays within the byte budget; a paragraph
 * longer than the budget is cut at line ends, a line longer than it at a character boundary.
 * Every passage knows its lines in the file (1-based, inclusive) and the heading it falls
 * under. A Markdown line that is one HTML comment (`<!-- words -->`) is not shown in any
 * passage (a Markdown reader does not show it either) but its words are the passage's search
 * terms: what it answers, said the ways people ask it (models/guide-facts.md lists each
 * question's other phrasings so). No I/O here: tests/test_docindex.c checks it on strings. */
#ifndef NATTER_DOCS_CHUNK_H
#define NATTER_DOCS_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The passage budget: about CHUNK_TOKENS tokens of a typical tokenizer (4 bytes a token for
 * English), small enough that a passage or two fit the 256-token context of natter's default
 * model next to the question and the answer; larger contexts take more passages. */
#define CHUNK_TOKENS 128
#define CHUNK_MAX_BYTES (CHUNK_TOKENS * 4)

enum chunk_kind {
    CHUNK_TEXT,     /* plain text: blank-line blocks */
    CHUNK_MARKDOWN, /* headings start sections */
    CHUNK_MAN,      /* roff: .SH/.SS start sections, markup stripped */
    CHUNK_CODE,     /* source code: top-level definitions start passages */
};

typedef struct doc_chunk {
    char *text;             /* the passage (roff converted to text), owned */
    char *title;            /* the heading it falls under, "" when none; owned */
    char *terms;            /* searched but not shown: its Markdown comments, "" when none; owned */
    int32_t line_a, line_b; /* its lines in the file, 1-based, inclusive */
} doc_chunk;

typedef struct doc_chunks {
    doc_chunk *v;
    size_t n, cap;
} doc_chunks;

/* The kind of a file from its name (extension) and, for names that do not say, its first
 * bytes (a roff page starts with a .TH or .\" line). */
enum chunk_kind chunk_kind_of(const char *path, const char *text, size_t n);
const char *chunk_kind_name(enum chunk_kind k); /* "text", "markdown", "man", "code" */
/* True when s[0..n) is not text natter indexes: it holds a NUL byte or is not valid UTF-8. */
bool chunk_is_binary(const char *s, size_t n);
/* Appends the passages of text[0..n) to out (which the caller zero-initialises and frees
 * with doc_chunks_free). max_bytes is the budget (CHUNK_MAX_BYTES; at least 16). Blank
 * passages are left out. NT_OK or NT_ERR_NOMEM (out keeps what was added). */
int chunk_split(enum chunk_kind kind, const char *text, size_t n, size_t max_bytes,
                doc_chunks *out);
void doc_chunks_free(doc_chunks *c);

/* One roff source line as plain text (escapes \fB, \-, \(em, ... resolved, requests such as
 * .B and .BR turned into their text): appends to out (a strbuf) and returns what the line is.
 * Exposed for the tests. */
enum chunk_roff_line { CHUNK_ROFF_TEXT, CHUNK_ROFF_HEADING, CHUNK_ROFF_BREAK, CHUNK_ROFF_NONE };
struct strbuf;
enum chunk_roff_line chunk_roff_line(const char *line, size_t n, struct strbuf *out);

#endif
