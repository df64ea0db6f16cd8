/* quantize.h — F32 → F16, BF16 and Q8_0 row quantizers, for writers of GGUF files (the
 * bench's generated models, exporters). Block layouts are ggml's, the rounding that of
 * ggml's reference quantizers, so a file written here matches one made by llama.cpp's
 * `llama-quantize --pure` from the same F32 data bit for bit. */
#ifndef NATTER_QUANTIZE_H
#define NATTER_QUANTIZE_H

#include "natter.h"

/* True for the target types quantize_rows writes: F32, F16, BF16, Q8_0. */
bool quantize_type_supported(int type);

/* Converts n_rows rows of n_per_row floats (row-major, contiguous) into dst, which holds
 * n_rows * nt_type_row_bytes(type, n_per_row) bytes. Returns the bytes written, or 0 when
 * the type is not supported or n_per_row is not a multiple of its block length. Thread-safe;
 * keeps no pointers. */
size_t quantize_rows(int type, const float *src, void *dst, int64_t n_rows, int64_t n_per_row);

#endif
