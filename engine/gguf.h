/* gguf.h — internal helpers of the GGUF reader and writer (engine/gguf.c, engine/gguf_write.c)
 * that other engine modules may also use. The public API is in natter.h's "gguf" section. */
#ifndef NATTER_GGUF_H
#define NATTER_GGUF_H

#include "natter.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_KEY_ALIGNMENT "general.alignment"

/* The file's read-only mapping (NULL for an empty file); its length is nt_gguf_file_size. */
const void *nt_gguf_mapping(const nt_gguf *g);

/* "u8", "i32", "str", "arr", ... for a value type; "?" for an id outside the enum. Static. */
const char *nt_gguf_vtype_name(enum nt_gguf_vtype t);
/* Bytes of one value of a fixed-size type (u8 .. f64, bool); 0 for STR, ARR and bad ids. */
size_t nt_gguf_vtype_size(enum nt_gguf_vtype t);

#endif
