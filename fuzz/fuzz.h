/* fuzz.h — what natter's libFuzzer targets share: the entry point's declaration and a scratch
 * file for readers that take a path (the GGUF reader maps a file; personas and themes are read
 * from one). Each target is one fuzz_NAME.c built by `make fuzz` (see the Makefile). */
#ifndef NATTER_FUZZ_H
#define NATTER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Writes data to this process's scratch file (in $TMPDIR or /tmp, kept for the whole run and
 * rewritten each time) and returns its path, or NULL when it cannot be written. suffix names
 * the file's kind (".gguf", ".yaml"), which some loaders check. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);

#endif
