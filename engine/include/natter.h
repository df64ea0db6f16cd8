/* natter.h — the one public header of natter's engine (libnatter.a).
 *
 * The engine runs Llama-family GGUF models on the CPU: it reads and writes GGUF files, builds
 * tokenizers from their metadata, formats chat templates, runs the forward pass with a KV cache
 * and samples tokens. It never prints, never exits and never touches the terminal: every
 * fallible function returns 0 (NT_OK) or a negative nt_status and fills a caller-supplied
 * nt_err with one message that names the file, the place and the reason.
 *
 * app/ includes only this header (and the trainer's): only engine/include/ is on its include
 * path. Engine modules keep their internals in their own headers
 * (engine/gguf.h, engine/quant.h, ...), which include this one.
 *
 * Ownership rules, everywhere below: a pointer returned by a `*_init`/`*_open`/`*_load`
 * function is owned by the caller and released with the matching `*_free`/`*_close` (which
 * accept NULL). A `const` pointer returned by an accessor is borrowed from its object and
 * lives as long as that object. Strings passed in are copied unless stated otherwise.
 *
 * Sections (each module owns its own): errors · tensor types · token vectors · gguf ·
 * tokenizer · chat templates · sampler · model. The trainer has its own header,
 * trainer/include/natter_train.h.
 */
#ifndef NATTER_H
#define NATTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define NT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NT_PRINTF(a, b)
#endif

/* ======================================================================= errors ===== */

enum nt_status {
    NT_OK = 0,
    NT_ERR_IO = -1,          /* open/read/write/mmap failed (errno text in the message) */
    NT_ERR_FORMAT = -2,      /* the file is malformed */
    NT_ERR_NOMEM = -3,       /* allocation failed */
    NT_ERR_UNSUPPORTED = -4, /* well-formed, but natter cannot run it (type, architecture) */
    NT_ERR_INVALID = -5,     /* a caller passed a bad argument */
    NT_ERR_CANCELLED = -6,   /* stopped by the cancel flag; state left consistent */
    NT_ERR_CONTEXT_FULL = -7 /* the KV cache has no room for the tokens asked for */
};

/* A message buffer filled by the engine on failure. code repeats the returned status. */
typedef struct nt_err {
    int code;
    char msg[512];
} nt_err;

/* Fills *e (if e is not NULL) and returns code, so `return nt_err_set(e, ...)` reads well. */
int nt_err_set(nt_err *e, int code, const char *fmt, ...) NT_PRINTF(3, 4);
/* "ok", "i/o error", "bad format", ... for a status code. Static string. */
const char *nt_status_str(int code);

/* The one way natter opens a file it reads (a model, a session, a persona, a card, a text):
 * O_NONBLOCK first, so a FIFO or a device never blocks the open waiting for a writer, then
 * fstat, and only a regular file is kept (blocking again, O_CLOEXEC). Returns the descriptor
 * (*size gets the file's size when size is not NULL), or -1 with NT_ERR_IO in *err and the
 * reason alone in err->msg, for the caller to put after the name it shows: "cannot open: No
 * such file or directory", or what the path is instead ("is a FIFO (named pipe), not a
 * regular file"). stdin, where a command means it by "-", is the caller's business. */
int nt_open_regular(const char *path, uint64_t *size, nt_err *err);

/* ================================================================= tensor types ===== */

/* ggml's tensor type ids, as stored in GGUF tensor infos. */
enum nt_type {
    NT_TYPE_F32 = 0, NT_TYPE_F16 = 1, NT_TYPE_Q4_0 = 2, NT_TYPE_Q4_1 = 3,
    NT_TYPE_Q5_0 = 6, NT_TYPE_Q5_1 = 7, NT_TYPE_Q8_0 = 8, NT_TYPE_Q8_1 = 9,
    NT_TYPE_Q2_K = 10, NT_TYPE_Q3_K = 11, NT_TYPE_Q4_K = 12, NT_TYPE_Q5_K = 13,
    NT_TYPE_Q6_K = 14, NT_TYPE_Q8_K = 15, NT_TYPE_IQ2_XXS = 16, NT_TYPE_IQ2_XS = 17,
    NT_TYPE_IQ3_XXS = 18, NT_TYPE_IQ1_S = 19, NT_TYPE_IQ4_NL = 20, NT_TYPE_IQ3_S = 21,
    NT_TYPE_IQ2_S = 22, NT_TYPE_IQ4_XS = 23, NT_TYPE_I8 = 24, NT_TYPE_I16 = 25,
    NT_TYPE_I32 = 26, NT_TYPE_I64 = 27, NT_TYPE_F64 = 28, NT_TYPE_IQ1_M = 29,
    NT_TYPE_BF16 = 30, NT_TYPE_TQ1_0 = 34, NT_TYPE_TQ2_0 = 35, NT_TYPE_MXFP4 = 39,
    NT_TYPE_COUNT_ = 40 /* ids at or above this are unknown */
};

/* "F32", "Q4_K", ... or NULL for an id that is not a known ggml type. */
const char *nt_type_name(int type);
/* Values per block (1 for plain types, 32 or 256 for quant blocks); 0 if unknown. */
int64_t nt_type_block_len(int type);
/* Bytes per block; 0 if unknown. */
size_t nt_type_block_bytes(int type);
/* Bytes of a row of n values; 0 if the type is unknown or n is not a multiple of its block. */
size_t nt_type_row_bytes(int type, int64_t n);
/* True for the types the forward pass can compute with (F32, F16, BF16, Q8_0, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4). */
bool nt_type_supported(int type);

/* The SIMD kernel set this process multiplies with: "scalar", "avx2" or "avx512" (the best
 * the CPU has, capped by the environment variable NATTER_ISA; decided at the first use). */
const char *nt_kernels_name(void);

/* Row quantizers, for writers of GGUF files (the trainer's checkpoints, the bench's generated
 * models). Block layouts are ggml's and the rounding that of ggml's reference quantizers, so
 * a file written here matches one made by llama.cpp's `llama-quantize --pure` from the same
 * F32 data bit for bit. True for the target types nt_quantize_rows writes: F32, F16, BF16,
 * Q8_0, MXFP4. */
bool nt_quantize_supported(int type);
/* Converts n_rows rows of n_per_row floats (row-major, contiguous) into dst, which holds
 * n_rows * nt_type_row_bytes(type, n_per_row) bytes. Returns the bytes written, or 0 when
 * the type is not supported or n_per_row is not a multiple of its block length. Thread-safe;
 * keeps no pointers. */
size_t nt_quantize_rows(int type, const float *src, void *dst, int64_t n_rows, int64_t n_per_row);
/* Random rows of a block type natter has no quantizer for (Q4_0 ... Q8_0, Q2_K ... Q6_K,
 * IQ4_NL, IQ4_XS), for benchmarks: every byte comes from *rng (a xorshift state, advanced)
 * (nonzero) except the blocks' binary16 scales, chosen so that every value lies within about
 * ±scale. dst holds n_rows * nt_type_row_bytes(type, n_per_row) bytes. Returns the bytes written, or
 * 0 for another type or a row length that is not a multiple of the block length. */
size_t nt_random_rows(int type, void *dst, int64_t n_rows, int64_t n_per_row, float scale,
                      uint64_t *rng);

/* ================================================================ token vectors ===== */

/* A growable array of token ids. Zero-initialise ({0}) before first use; free with
 * nt_tokens_free. Functions that produce tokens append to it. */
typedef struct nt_tokens {
    int32_t *v;
    size_t n, cap;
} nt_tokens;

int nt_tokens_push(nt_tokens *t, int32_t id); /* NT_OK or NT_ERR_NOMEM */
int nt_tokens_append(nt_tokens *t, const int32_t *ids, size_t n);
void nt_tokens_free(nt_tokens *t); /* frees v and zeroes the struct */

/* ========================================================================= gguf ===== */

/* A GGUF file opened read-only with mmap and fully validated at open: every later accessor is
 * safe on it. Opaque. */
typedef struct nt_gguf nt_gguf;

enum nt_gguf_vtype {
    NT_GGUF_U8 = 0, NT_GGUF_I8 = 1, NT_GGUF_U16 = 2, NT_GGUF_I16 = 3, NT_GGUF_U32 = 4,
    NT_GGUF_I32 = 5, NT_GGUF_F32 = 6, NT_GGUF_BOOL = 7, NT_GGUF_STR = 8, NT_GGUF_ARR = 9,
    NT_GGUF_U64 = 10, NT_GGUF_I64 = 11, NT_GGUF_F64 = 12,
    NT_GGUF_COUNT_
};

/* A string inside the mapping: not NUL-terminated; lives as long as the gguf. */
typedef struct nt_gguf_str {
    const char *p;
    size_t n;
} nt_gguf_str;

/* One tensor's view. dims[0] is the contiguous one (a [out][in] matrix has ne = {in, out}). */
typedef struct nt_gguf_tensor {
    const char *name;   /* NUL-terminated copy, owned by the nt_gguf */
    int type;           /* enum nt_type */
    uint32_t n_dims;    /* 1..4 */
    int64_t ne[4];      /* dims, unused ones are 1 */
    uint64_t offset;    /* relative to the data section */
    size_t nbytes;      /* bytes of data */
    const void *data;   /* inside the read-only mapping, aligned to nt_gguf_alignment() (at most
                           the page size: the mapping itself is page-aligned) */
} nt_gguf_tensor;

/* Opens and validates path. On failure *out is NULL and err says why, e.g.
 * "model.gguf: tensor 'blk.0.attn_q.weight': data [4096, 8192) lies outside the file (size 5000)". */
int nt_gguf_open(nt_gguf **out, const char *path, nt_err *err);
void nt_gguf_close(nt_gguf *g);

const char *nt_gguf_path(const nt_gguf *g);
uint32_t nt_gguf_version(const nt_gguf *g);
uint64_t nt_gguf_file_size(const nt_gguf *g);
/* The model's identity, independent of its path and of how the file is laid out: XXH3-64
 * (xxHash, seed 0) over, in this order,
 *   1. every metadata entry that defines the model, as stored (key length and key, value type,
 *      value), in file order: all but the descriptive general.* keys (general.architecture
 *      and general.quantization_version are kept; general.name, general.alignment, ... are
 *      not);
 *   2. every tensor info as stored (name length and name, n_dims, dims, type) without its
 *      data offset, in file order;
 *   3. every tensor's data bytes (nbytes, no padding), in file order.
 * So a renamed or re-padded copy hashes the same, a changed weight or tokenizer does not. The
 * first call reads all the weights (about a second for a 4 GB file); later calls return the
 * remembered value. Safe to call from several threads. Sessions record it (natter-session(5)). */
uint64_t nt_gguf_model_hash(const nt_gguf *g);
/* The same, giving up as soon as stop(user) returns true (asked between pieces of a few
 * megabytes): true with *out set when the hash is done (and remembered), false when stopped
 * (nothing remembered: a later call starts over). So a caller can read the weights in the
 * background, as their first use pages them in, and still quit at once. */
bool nt_gguf_model_hash_until(const nt_gguf *g, bool (*stop)(void *user), void *user, uint64_t *out);
size_t nt_gguf_alignment(const nt_gguf *g);

int64_t nt_gguf_n_kv(const nt_gguf *g);
const char *nt_gguf_kv_key(const nt_gguf *g, int64_t i);  /* NUL-terminated, owned by g */
enum nt_gguf_vtype nt_gguf_kv_type(const nt_gguf *g, int64_t i);
/* For arrays: element type and count (0 and NT_GGUF_COUNT_ for non-arrays). */
enum nt_gguf_vtype nt_gguf_kv_arr_type(const nt_gguf *g, int64_t i);
uint64_t nt_gguf_kv_arr_n(const nt_gguf *g, int64_t i);
int64_t nt_gguf_find_key(const nt_gguf *g, const char *key); /* index, or -1 when absent */

/* Typed look-ups. Each returns NT_OK when found and converted, 1 when the key is absent
 * (*out untouched), or NT_ERR_FORMAT (err names file, key, stored type and wanted type) when
 * the value has the wrong type or does not fit. Integer getters accept any integer type whose
 * value fits; nt_gguf_get_f32 accepts F32 and F64. */
int nt_gguf_get_u32(const nt_gguf *g, const char *key, uint32_t *out, nt_err *err);
int nt_gguf_get_i64(const nt_gguf *g, const char *key, int64_t *out, nt_err *err);
int nt_gguf_get_f32(const nt_gguf *g, const char *key, float *out, nt_err *err);
int nt_gguf_get_bool(const nt_gguf *g, const char *key, bool *out, nt_err *err);
int nt_gguf_get_str(const nt_gguf *g, const char *key, nt_gguf_str *out, nt_err *err);
/* Arrays: *type gets the element type, *n the count. For numeric element types *data points
 * at the packed little-endian elements inside the mapping (possibly unaligned: read with
 * memcpy). For string arrays *data is NULL: use nt_gguf_arr_str. */
int nt_gguf_get_arr(const nt_gguf *g, const char *key, enum nt_gguf_vtype *type, uint64_t *n,
                 const void **data, nt_err *err);
/* Element i of the string array at key index kv (O(1)); {NULL,0} when out of range. */
nt_gguf_str nt_gguf_arr_str(const nt_gguf *g, int64_t kv, uint64_t i);

int64_t nt_gguf_n_tensors(const nt_gguf *g);
const nt_gguf_tensor *nt_gguf_tensor_at(const nt_gguf *g, int64_t i);
const nt_gguf_tensor *nt_gguf_find_tensor(const nt_gguf *g, const char *name); /* NULL if absent */

/* Split models, llama.cpp's gguf-split format: PREFIX-00001-of-00003.gguf, -00002-of-, ...
 * Every part is a GGUF file with the keys split.no (0-based), split.count and
 * split.tensors.count (the tensors of all parts); the first part holds the model's metadata,
 * the tensors are distributed across the parts. */

/* True when path's file name ends in -NNNNN-of-MMMMM.gguf (1 <= NNNNN <= MMMMM): *prefix_len
 * gets the bytes before the dash, *no the part number (from 1) and *count the parts. */
bool nt_gguf_split_name(const char *path, size_t *prefix_len, int *no, int *count);
/* Writes the name of part no (from 1) of count into buf: path's first prefix_len bytes, then
 * -NNNNN-of-MMMMM.gguf. 0, or -1 when it does not fit in cap bytes. */
int nt_gguf_split_path(char *buf, size_t cap, const char *path, size_t prefix_len, int no,
                       int count);
/* Opens the model path belongs to: path alone (*n = 1) when it has no split.count above 1,
 * else every part in order, whichever part path names. Each part is checked: present, its
 * split.no in its place, split.count the same everywhere, the parts' tensors adding up to
 * split.tensors.count with no name twice. *parts (an array of *n open files, parts[0] the
 * first part, with the metadata) is released with nt_gguf_close_split. On failure *parts is
 * NULL and err names the part and the reason. */
int nt_gguf_open_split(nt_gguf ***parts, int *n, const char *path, nt_err *err);
void nt_gguf_close_split(nt_gguf **parts, int n); /* accepts NULL */

/* Writer: builds a GGUF v3 file in memory order and writes it atomically (temporary file in
 * the same folder, fsync, rename). Keys keep insertion order; setting a key twice is
 * NT_ERR_INVALID. Tensor data pointers are borrowed until nt_gguf_writer_write returns. */
typedef struct nt_gguf_writer nt_gguf_writer;

nt_gguf_writer *nt_gguf_writer_init(void); /* NULL on allocation failure */
void nt_gguf_writer_free(nt_gguf_writer *w);
int nt_gguf_writer_set_u32(nt_gguf_writer *w, const char *key, uint32_t v);
int nt_gguf_writer_set_i32(nt_gguf_writer *w, const char *key, int32_t v);
int nt_gguf_writer_set_u64(nt_gguf_writer *w, const char *key, uint64_t v);
int nt_gguf_writer_set_f32(nt_gguf_writer *w, const char *key, float v);
int nt_gguf_writer_set_bool(nt_gguf_writer *w, const char *key, bool v);
int nt_gguf_writer_set_str(nt_gguf_writer *w, const char *key, const char *v);
/* Any fixed-size scalar type (u8 .. i64, f32, f64, bool): *v holds one value of that C type
 * (uint8_t, int16_t, double, ...; bool as one byte 0/1), copied. */
int nt_gguf_writer_set_scalar(nt_gguf_writer *w, const char *key, enum nt_gguf_vtype type, const void *v);
/* Numeric array: n elements of type (not STR/ARR), packed, copied. */
int nt_gguf_writer_set_arr(nt_gguf_writer *w, const char *key, enum nt_gguf_vtype type,
                        const void *data, uint64_t n);
int nt_gguf_writer_set_arr_str(nt_gguf_writer *w, const char *key, const char *const *v, uint64_t n);
int nt_gguf_writer_set_alignment(nt_gguf_writer *w, uint32_t alignment); /* power of two */
/* ne has n_dims entries (dims[0] contiguous); data holds nt_type_row_bytes(type, ne[0]) *
 * (product of the other dims) bytes. */
int nt_gguf_writer_add_tensor(nt_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                           const int64_t *ne, const void *data);
int nt_gguf_writer_write(nt_gguf_writer *w, const char *path, nt_err *err);

/* ==================================================================== tokenizer ===== */

/* Built from a model's tokenizer.ggml.* metadata: `llama` (SentencePiece-style BPE with
 * scores and byte fallback) or `gpt2` (byte-level BPE with merges and a pre-tokenizer split
 * chosen by tokenizer.ggml.pre). Immutable once loaded: safe to share between threads. */
typedef struct nt_tokenizer nt_tokenizer;

enum nt_tokenizer_flags {
    NT_TOK_ADD_BOS = 1 << 0,       /* prepend BOS (only if the model has one) */
    NT_TOK_ADD_EOS = 1 << 1,
    NT_TOK_PARSE_SPECIAL = 1 << 2  /* recognise control tokens written in the text;
                                         never set this for text a user typed */
};

/* On success, nt_tokenizer_warning() may hold a non-fatal remark (unknown pre-tokenizer). */
int nt_tokenizer_load(nt_tokenizer **out, const nt_gguf *g, nt_err *err);
void nt_tokenizer_free(nt_tokenizer *t);

const char *nt_tokenizer_kind(const nt_tokenizer *t); /* "llama" or "gpt2" */
const char *nt_tokenizer_pre(const nt_tokenizer *t);  /* pre-tokenizer in use, e.g. "llama-bpe" */
const char *nt_tokenizer_warning(const nt_tokenizer *t); /* NULL when there is nothing to say */
int32_t nt_tokenizer_n_vocab(const nt_tokenizer *t);
int32_t nt_tokenizer_bos(const nt_tokenizer *t); /* -1 when the model has none */
int32_t nt_tokenizer_eos(const nt_tokenizer *t);
int32_t nt_tokenizer_eot(const nt_tokenizer *t); /* end-of-turn (<|eot_id|>, <|im_end|>, ...) or -1 */
bool nt_tokenizer_add_bos(const nt_tokenizer *t); /* the file's add_bos_token (or its default) */
bool nt_tokenizer_add_eos(const nt_tokenizer *t);
/* True for ids that end generation: EOS, EOT and other end-of-generation controls. */
bool nt_tokenizer_is_eog(const nt_tokenizer *t, int32_t id);
/* True for control/special tokens (never produced from plain user text). */
bool nt_tokenizer_is_control(const nt_tokenizer *t, int32_t id);
/* The vocabulary entry as stored (e.g. "▁the", "Ġthe", "<0x0A>"); {NULL,0} out of range. */
nt_gguf_str nt_tokenizer_piece(const nt_tokenizer *t, int32_t id);
/* Exact id of a stored piece, or -1. */
int32_t nt_tokenizer_find(const nt_tokenizer *t, const char *piece, size_t len);
/* Bytes of the longest stored piece (no token decodes to more). */
size_t nt_tokenizer_max_piece_len(const nt_tokenizer *t);
/* The piece a byte-level BPE vocabulary (`gpt2`) stores for the single byte b: GPT-2's
 * printable stand-in as UTF-8 ("a" for 'a', "Ġ" for a space, "Ċ" for '\n'). Writes it with a
 * NUL to out and returns its length (1 or 2). For programs that write such vocabularies. */
size_t nt_tokenizer_byte_piece(unsigned char b, char out[4]);

/* Appends the ids of text[0..len) to out. Any bytes are accepted (invalid UTF-8 included). */
int nt_tokenizer_encode(const nt_tokenizer *t, const char *text, size_t len, int flags,
                     nt_tokens *out, nt_err *err);

/* The bytes a token stands for when decoded (▁ → space, <0x0A> → "\n", byte-level mapping
 * undone; control tokens give their piece text). Writes up to cap bytes and returns the full
 * length (like snprintf, no NUL), or -1 for an out-of-range id. */
int nt_tokenizer_token_bytes(const nt_tokenizer *t, int32_t id, char *buf, size_t cap);

/* Streaming decode: feeds ids one at a time and emits only whole UTF-8 characters, holding
 * back a character split across tokens. Handles the SentencePiece leading space the way
 * llama.cpp does (removed after BOS at the start). Zero-initialise, or reset with
 * nt_tokenizer_stream_reset. */
typedef struct nt_tokenizer_stream {
    unsigned char pend[8];
    int npend;
    int ntok; /* tokens fed since reset */
    int32_t prev;
} nt_tokenizer_stream;

void nt_tokenizer_stream_reset(nt_tokenizer_stream *s);
/* Appends the printable text of id to buf (up to cap bytes, NUL-terminated when cap > 0)
 * and returns the number of bytes written. Control tokens print nothing; invalid UTF-8 prints
 * U+FFFD per bad byte. Text that does not fit is cut at a character boundary and lost: a cap of
 * 3 * nt_tokenizer_max_piece_len(t) + 16 never cuts (64 is enough for most tokens). The leading
 * space is removed from the first piece when it is the first token fed or follows a BOS fed
 * first; to decode a continuation of earlier text, set ntok = 1 and prev = -1 after reset. */
size_t nt_tokenizer_stream_feed(const nt_tokenizer *t, nt_tokenizer_stream *s, int32_t id, char *buf,
                             size_t cap);
/* Emits whatever is held back (an incomplete character becomes U+FFFD). */
size_t nt_tokenizer_stream_flush(const nt_tokenizer *t, nt_tokenizer_stream *s, char *buf, size_t cap);

/* =============================================================== chat templates ===== */

/* Chat templates, formatted in code (no Jinja), the way llama.cpp's src/llama-chat.cpp does.
 * The exact text of each family for the conversation [system S, user U1, assistant A1,
 * user U2] with add_generation (G: the part add_generation adds):
 *
 *   NT_CHAT_CHATML  <|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU1<|im_end|>\n
 *                <|im_start|>assistant\nA1<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n
 *                G: <|im_start|>assistant\n
 *   NT_CHAT_LLAMA2  [INST] <<SYS>>\nS\n<</SYS>>\n\nU1 [/INST]A1</s>[INST] U2 [/INST]
 *                (contents trimmed, as Meta's template strips them; G: nothing, the prompt
 *                already ends with [/INST])
 *   NT_CHAT_MISTRAL [INST] S\nU1 [/INST]A1</s>[INST] U2 [/INST]
 *                (no system role: S folded into the first user message; G: nothing)
 *   NT_CHAT_LLAMA3  <|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>... per turn,
 *                content trimmed; G: <|start_header_id|>assistant<|end_header_id|>\n\n
 *   NT_CHAT_ZEPHYR  <|system|>\nS</s>\n<|user|>\nU1</s>\n<|assistant|>\nA1</s>\n...
 *                G: <|assistant|>\n   (ends with "</s>", the eos_token of Zephyr-7B and
 *                TinyLlama; llama.cpp writes StableLM-Zephyr's "<|endoftext|>" instead)
 *   NT_CHAT_PHI3    <|system|>\nS<|end|>\n<|user|>\nU1<|end|>\n<|assistant|>\nA1<|end|>\n...
 *                G: <|assistant|>\n
 *   NT_CHAT_GEMMA   <start_of_turn>user\nS\n\nU1<end_of_turn>\n<start_of_turn>model\nA1
 *                <end_of_turn>\n... (no system role: S, trimmed, opens the first user turn;
 *                contents trimmed) G: <start_of_turn>model\n
 *   NT_CHAT_PHI4    <|im_start|>system<|im_sep|>S<|im_end|><|im_start|>user<|im_sep|>U1<|im_end|>
 *                <|im_start|>assistant<|im_sep|>A1<|im_end|>...
 *                G: <|im_start|>assistant<|im_sep|>
 *   NT_CHAT_MISTRAL_V7  [SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] U1[/INST] A1</s>[INST] U2[/INST]
 *                (G: nothing); NT_CHAT_MISTRAL_V7_TEKKEN the same without the four spaces
 *   NT_CHAT_DEEPSEEK3  S\n\n<｜User｜>U1<｜Assistant｜>A1<｜end▁of▁sentence｜><｜User｜>U2
 *                G: <｜Assistant｜>
 *   NT_CHAT_GRANITE <|start_of_role|>system<|end_of_role|>S<|end_of_text|>\n... per turn
 *                G: <|start_of_role|>assistant<|end_of_role|>
 *   NT_CHAT_TULU    <|system|>\nS\n<|user|>\nU1\n<|assistant|>\nA1<|endoftext|>\n<|user|>\nU2\n
 *                G: <|assistant|>\n (Tülu 3 and OLMo 2 Instruct)
 *   NT_CHAT_PLAIN   System: S\n\nUser: U1\nAssistant: A1\nUser: U2\nAssistant:
 *                For models without a template (base models continue it). G is "Assistant:"
 *                with no trailing space (the answer's first token carries its own space);
 *                callers should stop generation at "\nUser:".
 *
 * BOS rule: nt_chat_format never writes a BOS text ("<s>", "<|begin_of_text|>", "<bos>"), even
 * where the Jinja template starts with bos_token. The BOS is added once, as a token, by
 * nt_chat_tokenize when add_bos is true (pass nt_tokenizer_add_bos(t)); if the formatted text itself
 * starts with the BOS control token the duplicate is dropped. */
enum nt_chat_family {
    NT_CHAT_PLAIN = 0, /* fallback for a model without a recognised template (documented) */
    NT_CHAT_CHATML,    /* <|im_start|>role\n...<|im_end|>\n (Qwen, SmolLM) */
    NT_CHAT_LLAMA2,    /* [INST] <<SYS>>...<</SYS>> ... [/INST] (Llama 2) */
    NT_CHAT_LLAMA3,    /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
    NT_CHAT_ZEPHYR,    /* <|user|>\n...</s>\n (Zephyr, TinyLlama chat) */
    NT_CHAT_PHI3,      /* <|user|>\n...<|end|>\n */
    NT_CHAT_GEMMA,     /* <start_of_turn>user\n...<end_of_turn>\n */
    NT_CHAT_MISTRAL,   /* [INST] ... [/INST] without <<SYS>> (Mistral; system folded into user) */
    NT_CHAT_PHI4,      /* <|im_start|>role<|im_sep|>...<|im_end|> (Phi-4) */
    NT_CHAT_MISTRAL_V7,        /* [SYSTEM_PROMPT] S[/SYSTEM_PROMPT][INST] U[/INST] A</s> */
    NT_CHAT_MISTRAL_V7_TEKKEN, /* the same without the spaces (Mistral Small 3.x) */
    NT_CHAT_DEEPSEEK3, /* <｜User｜>U<｜Assistant｜>A<｜end▁of▁sentence｜> (V3, R1 distills) */
    NT_CHAT_GRANITE,   /* <|start_of_role|>role<|end_of_role|>...<|end_of_text|>\n (Granite 3/4) */
    NT_CHAT_TULU,      /* <|user|>\n...\n, answers ...<|endoftext|>\n (Tülu 3, OLMo 2 Instruct) */
    NT_CHAT_FAMILY_COUNT_
};

enum nt_chat_role { NT_ROLE_SYSTEM, NT_ROLE_USER, NT_ROLE_ASSISTANT };

typedef struct nt_chat_msg {
    enum nt_chat_role role;
    const char *content; /* UTF-8, NUL-terminated, borrowed */
} nt_chat_msg;

/* Family from a Jinja template string (NULL or unrecognised → NT_CHAT_PLAIN). A string that is
 * exactly a family name ("chatml") gives that family. Distinctive substrings, checked in this
 * order: "<|im_start|>" → phi4 if it has "<|im_sep|>", else chatml; starts with "mistral" or
 * has "[INST]" → mistral-v7 if it has "[SYSTEM_PROMPT] ", mistral-v7-tekken if it has
 * "[SYSTEM_PROMPT]" without the space, llama2 if it has "<<SYS>>", else mistral; "<|assistant|>"
 * and "<|end|>" → phi3; "<|user|>" → zephyr; "<start_of_turn>" → gemma; "<|start_header_id|>"
 * and "<|end_header_id|>" → llama3; "<｜Assistant｜>", "<｜User｜>" and "<｜end▁of▁sentence｜>" →
 * deepseek3; "<|start_of_role|>" → granite. */
enum nt_chat_family nt_chat_detect(const char *jinja);
/* Family of a loaded model: tokenizer.chat_template, else NT_CHAT_PLAIN. */
enum nt_chat_family nt_chat_detect_gguf(const nt_gguf *g);
const char *nt_chat_family_name(enum nt_chat_family f); /* "chatml", "llama2", ...; NULL if unknown */
int nt_chat_family_from_name(const char *name);      /* enum value, or -1 if unknown */

/* One run of formatted prompt text. special runs hold template markup whose control tokens
 * must be parsed as specials; other runs hold message text, tokenized as plain text. */
typedef struct nt_chat_piece {
    char *text; /* NUL-terminated, owned by the nt_chat_prompt */
    bool special;
} nt_chat_piece;

typedef struct nt_chat_prompt {
    nt_chat_piece *v;
    size_t n, cap;
} nt_chat_prompt;

/* Formats msgs (in order; a system message, if any, first) and, when add_generation is true,
 * the opening of the assistant's next answer (nt_chat_format_opts below, with think -1).
 * Appends to *out (zero-initialised first). Adjacent runs of the same kind are merged; empty
 * runs are not stored. */
int nt_chat_format(enum nt_chat_family f, const nt_chat_msg *msgs, size_t n, bool add_generation,
                nt_chat_prompt *out, nt_err *err);
/* Reasoning ("thinking") models write their thoughts between <think> and </think> before the
 * answer. Every family puts earlier answers back into the prompt the way its template does:
 * chatml (Qwen3's template) and deepseek3 (DeepSeek R1's) keep only what follows the last
 * "</think>" (chatml without its leading newlines); the others keep the whole text. */
typedef struct nt_chat_opts {
    bool add_generation; /* open the assistant's next answer */
    int think;           /* -1: the template's default; 0: thinking off (chatml: the answer opens
                            with an empty "<think>\n\n</think>\n\n", as Qwen3's template does for
                            enable_thinking=false; other families have no switch); 1: on */
} nt_chat_opts;
int nt_chat_format_opts(enum nt_chat_family f, const nt_chat_msg *msgs, size_t n, const nt_chat_opts *o,
                        nt_chat_prompt *out, nt_err *err);
/* Whether a template has a thinking switch natter can set (a ChatML template that reads
 * enable_thinking, as Qwen3's does). */
bool nt_chat_think_switch(const char *jinja);
bool nt_chat_think_switch_gguf(const nt_gguf *g);
void nt_chat_prompt_free(nt_chat_prompt *p);
/* The whole prompt as one malloc'd string (caller frees); NULL on allocation failure. */
char *nt_chat_prompt_text(const nt_chat_prompt *p);
/* Tokenizes a formatted prompt and appends the ids to out. Control tokens (nt_tokenizer_is_control)
 * are recognised only inside special runs; the plain text between two control tokens is
 * encoded as one piece even when it spans special and text runs, so the result equals
 * llama.cpp's tokenization of the whole prompt with special parsing (including the whitespace
 * that tokens like Phi-3's strip after themselves), except that message text never yields
 * control tokens. BOS first when add_bos is true (see the BOS rule above). */
int nt_chat_tokenize(const nt_tokenizer *t, const nt_chat_prompt *p, bool add_bos, nt_tokens *out,
                  nt_err *err); /* on failure out keeps only what it held before */

/* ====================================================================== sampler ===== */

/* Sampling parameters. Every field may change between two tokens (nt_sampler_set_params).
 *
 * The chain, applied to the logits of each step in this fixed order (each stage is skipped
 * when off; natter(1) explains the order to users):
 *   1. repetition penalty, then presence and frequency penalties (last repeat_last_n tokens)
 *   2. DRY (the whole history)
 *   3. top-nσ  4. top-k  5. typical-p  6. top-p  7. min-p  8. XTC
 *   9. temperature, then the draw.
 * With Mirostat on (mirostat_tau > 0), stages 3-8 are skipped: 1, 2, temperature, then
 * Mirostat v2's truncation and the draw. At temperature <= 0 the step is greedy: the argmax of
 * the logits after stages 1 and 2 (ties: lowest id); every other stage is skipped.
 * This is llama.cpp's default order ("penalties; dry; top_n_sigma; top_k; typ_p; top_p;
 * min_p; xtc; temperature", then dist; Mirostat: temperature, then mirostat_v2): the history
 * stages first, because they change logits rather than remove tokens, so the filters see the
 * penalised values; the filters from the cheapest and coarsest to the finest; XTC last among
 * them, so it removes top choices only from the set the filters judged sensible; temperature
 * last, so the filters judge the probabilities at temperature 1 and temperature only reshapes
 * the survivors. Probabilities below are the softmax of the current candidates' logits.
 *   repetition: over the distinct tokens of the window, a positive logit is divided by
 *     repeat_penalty and a negative one multiplied (llama.cpp's rule);
 *   presence/frequency: logit -= count * frequency_penalty + (count > 0) * presence_penalty;
 *   DRY ("don't repeat yourself", p-e-w, as llama.cpp defines it): for every earlier place in
 *     the history whose tokens end the same way as the history does, L = the length of that
 *     common ending (not reaching back past the latest sequence breaker). If L >=
 *     dry_allowed_length, the token that followed that place would extend the repetition: its
 *     logit -= dry_multiplier * dry_base^(L - dry_allowed_length), with L the longest such run
 *     for that token (the exponent capped so the power stays finite). Sequence-breaker tokens
 *     (nt_sampler_set_breakers) are never penalised; with no breakers set, none. Nothing
 *     happens when the history has at most dry_allowed_length tokens;
 *   top-nσ (Tang et al. 2024): keeps tokens whose logit >= max - top_n_sigma * σ, σ the
 *     population standard deviation of the finite logits of the set;
 *   top-k: the k highest logits (ties: lower id first);
 *   typical-p (Meister et al. 2022): with H the entropy of the set, tokens ordered by
 *     |-ln p - H| (ties: by logit, then lower id); keeps the shortest such prefix whose
 *     cumulative probability > typical_p (strictly, as llama.cpp);
 *   top-p: the smallest prefix, by probability, whose cumulative probability >= top_p;
 *   min-p: drops tokens whose probability < min_p * the highest probability;
 *   XTC ("exclude top choices", p-e-w): with probability xtc_probability, when at least two
 *     tokens have probability >= xtc_threshold, all of them but the least likely are removed
 *     (xtc_threshold > 0.5 can never find two: off);
 *   temperature: logits / temperature, then a draw from their softmax;
 *   Mirostat v2 (Basu et al. 2021, llama.cpp's mirostat_v2): keeps the likeliest tokens whose
 *     surprise -log2 p <= mu (at least one), draws from them renormalised, then mu -= eta *
 *     (-log2 p' - tau), p' the drawn token's renormalised probability. mu starts at 2 * tau
 *     when the sampler starts or is reset and when Mirostat is switched on; later changes of
 *     tau or eta keep it (nt_sampler_mirostat_mu reads it).
 * Randomness: the sampler's RNG is xoshiro256**, seeded with splitmix64 from seed. Every
 * nt_sampler_sample call takes exactly one 64-bit output r from it, whatever the parameters
 * (greedy too), so the RNG state depends only on the number of steps taken. The draw (and
 * Mirostat's) uses u = (r >> 11) / 2^53: the first candidate, in the set's order, at which
 * the cumulative weight exceeds u times the total. XTC uses u' = (mix(r) >> 11) / 2^53, mix
 * being splitmix64's output function (a bijection of r, so u' is independent of u for any
 * practical purpose, without taking a second output): XTC acts when u' < xtc_probability.
 * Out-of-range values act as "off" (top_k <= 0, top_p >= 1, min_p <= 0, typical_p >= 1,
 * top_n_sigma <= 0, xtc_probability <= 0, dry_multiplier <= 0 or dry_base < 1,
 * mirostat_tau <= 0, repeat_penalty <= 0 or 1); repeat_last_n < 0 means whole history. */
typedef struct nt_sampler_params {
    float temperature;       /* 0 = greedy */
    int32_t top_k;           /* 0 = off */
    float top_p;             /* 1 = off */
    float min_p;             /* 0 = off */
    float repeat_penalty;    /* 1 = off */
    int32_t repeat_last_n;   /* window for all three penalties; 0 = off, -1 = whole history */
    float presence_penalty;  /* 0 = off */
    float frequency_penalty; /* 0 = off */
    float typical_p;         /* 1 = off */
    float top_n_sigma;       /* 0 = off */
    float xtc_threshold;     /* probability a top choice must reach (0.1) */
    float xtc_probability;   /* chance XTC acts on a step; 0 = off */
    float dry_multiplier;    /* 0 = off */
    float dry_base;          /* growth of the DRY penalty per extra repeated token (1.75) */
    int32_t dry_allowed_length; /* repeats up to this many tokens go unpenalised (2) */
    float mirostat_tau;      /* Mirostat v2's target surprise in bits; 0 = off */
    float mirostat_eta;      /* its learning rate (0.1) */
    /* The decoding strategy around the sampler: beams > 1 asks the caller's generation loop
     * for beam search over the model's log-probabilities (natter's app/conv/gen.c, built on
     * nt_model_kv_save), which scores a finished beam total / length^length_penalty. The
     * sampler itself ignores both fields. */
    int32_t beams;           /* 1 = sampling (this chain) */
    float length_penalty;    /* 1 */
    uint64_t seed;
} nt_sampler_params;

nt_sampler_params nt_sampler_default_params(void); /* llama.cpp's defaults, seed 0; the new
                                                      samplers off */

/* Not thread-safe: one thread (the worker) calls every function on a sampler; live changes
 * from the UI reach it as a parameter snapshot applied between two tokens. */
typedef struct nt_sampler nt_sampler;

/* NULL on allocation failure. The RNG is seeded from params->seed. */
nt_sampler *nt_sampler_init(const nt_sampler_params *params, int32_t n_vocab);
void nt_sampler_free(nt_sampler *s);
/* New parameters from the next sample on. A changed seed reseeds the RNG; other changes keep
 * the RNG state, so a replay that applies the same changes at the same steps is exact. */
void nt_sampler_set_params(nt_sampler *s, const nt_sampler_params *params);
const nt_sampler_params *nt_sampler_get_params(const nt_sampler *s);
/* Forgets the token history, reseeds the RNG from the current seed and restarts Mirostat's
 * mu at 2 * tau. */
void nt_sampler_reset(nt_sampler *s);
/* Records a token in the history the penalties and DRY look at (generated tokens; callers
 * may also feed the prompt). */
void nt_sampler_accept(nt_sampler *s, int32_t id);
/* DRY's sequence breakers: every token whose decoded text (nt_tokenizer_token_bytes)
 * contains one of breakers[0..n) (non-empty strings) becomes a breaker, replacing the
 * previous set; n = 0 clears it. A breaker string only counts where one token holds all of
 * it. NT_OK, or NT_ERR_INVALID when t's vocabulary is not the sampler's size. */
int nt_sampler_set_breakers(nt_sampler *s, const nt_tokenizer *t, const char *const *breakers,
                            size_t n);
/* llama.cpp's default breakers: "\n", ":", "\"", "*". */
extern const char *const nt_sampler_default_breakers[4];
/* Picks the next token from logits[n_vocab] (not modified). Does not call nt_sampler_accept. */
int32_t nt_sampler_sample(nt_sampler *s, const float *logits);
/* Mirostat's current mu (bits), 0 while it has not been switched on. */
float nt_sampler_mirostat_mu(const nt_sampler *s);

/* For the step just sampled: the top candidates by raw probability (softmax of the logits
 * before any stage, temperature 1) with their probability after the whole chain (0 when a
 * stage removed them; at temperature 0 the argmax has 1). Sorted by p_before, descending
 * (ties: lower id first). Returns how many were written (0 before the first sample). */
typedef struct nt_sampler_cand {
    int32_t id;
    float p_before;
    float p_after;
} nt_sampler_cand;

int nt_sampler_candidates(const nt_sampler *s, nt_sampler_cand *out, int max);

/* The stages of the chain, in its order (NT_STAGE_MIROSTAT stands where Mirostat's
 * truncation runs, after the temperature). */
enum nt_sampler_stage {
    NT_STAGE_PENALTIES, NT_STAGE_DRY, NT_STAGE_TOP_N_SIGMA, NT_STAGE_TOP_K, NT_STAGE_TYPICAL,
    NT_STAGE_TOP_P, NT_STAGE_MIN_P, NT_STAGE_XTC, NT_STAGE_TEMPERATURE, NT_STAGE_MIROSTAT,
    NT_STAGE_GREEDY, NT_STAGE_COUNT
};
/* "penalties", "dry", "top-n-sigma", "top-k", "typical-p", "top-p", "min-p", "xtc",
 * "temperature", "mirostat", "greedy"; NULL out of range. */
const char *nt_sampler_stage_name(int stage);

/* What one active stage did on the step just sampled. */
typedef struct nt_sampler_stage_info {
    int stage;       /* enum nt_sampler_stage */
    int32_t kept;    /* candidates left after it */
    int32_t changed; /* logits it changed (penalties, DRY), else 0 */
} nt_sampler_stage_info;

/* The stages that ran on the step just sampled, in chain order: those switched on (XTC
 * whether or not its chance let it act: then it kept everything), then NT_STAGE_TEMPERATURE
 * (and NT_STAGE_MIROSTAT) or, at temperature <= 0, NT_STAGE_GREEDY (kept 1). Returns how many
 * were written (at most NT_STAGE_COUNT; 0 before the first sample). */
int nt_sampler_stages(const nt_sampler *s, nt_sampler_stage_info *out, int max);

/* ======================================================================== model ===== */

/* A loaded model: the mapped GGUF, its tokenizer, weights views and one KV cache. Not
 * thread-safe: one thread uses it at a time (the worker). Internally it may use a pool of
 * compute threads; results never depend on their number. */
typedef struct nt_model nt_model;

typedef struct nt_model_params {
    int32_t n_ctx;     /* KV cache length; 0 = the model's context length, capped at 4096 */
    int32_t n_threads; /* compute threads; 0 = number of online CPUs */
    int32_t kv_type;   /* the KV cache's type: NT_TYPE_F32, NT_TYPE_F16 or NT_TYPE_Q8_0 (Q8_0
                          needs a head size that is a multiple of 32) */
} nt_model_params;

/* n_ctx 0, n_threads 0, kv_type NT_KV_TYPE_DEFAULT. */
nt_model_params nt_model_default_params(void);

/* The KV cache type natter uses unless told otherwise; natter(1) says why (measured speed
 * and perplexity of each type). */
#define NT_KV_TYPE_DEFAULT NT_TYPE_F16
/* "f32", "f16", "q8_0" for the three cache types, NULL for any other type. */
const char *nt_kv_type_name(int type);
/* The cache type named s (those names, any case), or -1. */
int nt_kv_type_parse(const char *s);

/* Facts about the loaded model (for `natter info`, the status bar, sessions). */
typedef struct nt_model_info {
    const char *arch;     /* general.architecture: "llama", "qwen2", "gemma3", ... */
    const char *name;     /* general.name or the file's base name */
    int64_t n_params;
    int32_t n_ctx_train, n_ctx; /* trained context; the cache's length */
    int32_t n_layer, n_head, n_head_kv, n_embd, n_ff, n_vocab, head_dim, n_rot;
    int32_t n_expert, n_expert_used; /* mixture of experts: experts per layer and per token
                                        (0 for a dense model) */
    float rope_base, rope_scale, norm_eps;
    int32_t kv_type; /* the KV cache's type (enum nt_type); NT_TYPE_F32 from nt_model_check */
} nt_model_info;

int nt_model_load(nt_model **out, const char *path, const nt_model_params *params, nt_err *err);
void nt_model_free(nt_model *m);
/* Whether nt_model_load would load path, without loading it: the same checks, verdict and
 * message (architecture, hyperparameters, every tensor's presence, type and shape, the
 * tokenizer), but no KV cache, no compute threads, and the weights are mapped, not read
 * (only the header, the metadata and the few norm vectors are touched). NT_OK with *info
 * (may be NULL) filled as nt_model_get_info would, except name (NULL) and n_ctx (0). */
int nt_model_check(const char *path, nt_model_info *info, nt_err *err);

const nt_model_info *nt_model_get_info(const nt_model *m);
const nt_gguf *nt_model_gguf(const nt_model *m);
const nt_tokenizer *nt_model_tokenizer(const nt_model *m);
/* The file mappings the weights are read from, one per file of a split model: part i's
 * address and length (page-aligned start), false when i is out of range or the part is empty.
 * A model file truncated on disk while it is mapped makes reads of it fault with SIGBUS; the
 * engine installs no signal handler (a library must not), so the program watches these
 * ranges itself (natter: app/conv/mapguard.h). */
bool nt_model_mapping(const nt_model *m, int i, const void **base, size_t *size);

/* Number of tokens in the KV cache (the position the next token takes). */
int32_t nt_model_n_past(const nt_model *m);
/* Forgets cached tokens from position n_past on (0 <= n_past <= nt_model_n_past). */
void nt_model_rewind(nt_model *m, int32_t n_past);

/* Forks of the KV cache. A state is a copy of the cache's positions [start, end) (end is
 * nt_model_n_past at the time of the save). It lets one model continue several ways from one
 * prefix that was computed once (beam search, A/B answers): evaluate the shared prefix, then
 * for each branch restore its state, evaluate its next tokens, save again. Saving from the
 * end of the shared prefix copies only the branch's own positions, so a fork costs
 * 2 × n_layer × (end - start) × kv_dim values of the cache's type (nt_kv_state_bytes), not
 * the whole prefix;
 * start 0 saves everything.
 *
 * Restoring rewinds the cache to start and writes the saved positions back (n_past becomes
 * end). The positions below start are not part of the state: the caller must make sure they
 * still hold what they held at the save (the same tokens evaluated, i.e. the cache was not
 * rewound below start and refilled differently since); then the logits that follow are
 * bit-identical to those of recomputing the whole sequence. A state can be restored any
 * number of times, into the model it came from (or one with the same shape; another model
 * is refused only when its cache has another shape). States are independent of each other
 * and of the model's later work: freeing the model does not free them. */
typedef struct nt_kv_state nt_kv_state;

/* Saves positions [start, nt_model_n_past(m)) into *out (owned by the caller:
 * nt_kv_state_free). NT_ERR_INVALID when start is outside [0, n_past], NT_ERR_NOMEM. */
int nt_model_kv_save(const nt_model *m, int32_t start, nt_kv_state **out, nt_err *err);
/* Restores s (see above). NT_ERR_INVALID, with the cache untouched, when the cache holds fewer
 * than start positions or has another shape. */
int nt_model_kv_restore(nt_model *m, const nt_kv_state *s, nt_err *err);
void nt_kv_state_free(nt_kv_state *s); /* accepts NULL */
int32_t nt_kv_state_start(const nt_kv_state *s);
int32_t nt_kv_state_end(const nt_kv_state *s);
size_t nt_kv_state_bytes(const nt_kv_state *s); /* memory the state holds */
/* Tokens run through the network by nt_model_eval / nt_model_eval_all since loading (the
 * cost of a strategy: beam search's shared prefix counts once). */
int64_t nt_model_n_evaluated(const nt_model *m);

/* Progress and cancellation for long work. `cancel` is polled at least once per layer: when it
 * returns true the call stops, the cache keeps only whole tokens already processed, and the
 * function returns NT_ERR_CANCELLED. `progress` (may be NULL) reports tokens done of total. */
typedef struct nt_model_hooks {
    bool (*cancel)(void *user);
    void (*progress)(int32_t done, int32_t total, void *user);
    void *user;
} nt_model_hooks;

void nt_model_set_hooks(nt_model *m, const nt_model_hooks *hooks); /* copied; NULL clears them */
/* Compute threads from the next call on (0 or less: the number of online CPUs). Results do
 * not depend on it. NT_OK, or NT_ERR_NOMEM with the previous pool kept. */
int nt_model_set_threads(nt_model *m, int32_t n_threads);

/* Runs tokens[0..n) at positions n_past.. and appends them to the cache (prompts in batches).
 * When logits is not NULL it receives the logits after the last token (n_vocab floats).
 * NT_ERR_CONTEXT_FULL when n_past + n exceeds the cache (nothing is processed). */
int nt_model_eval(nt_model *m, const int32_t *tokens, int32_t n, float *logits, nt_err *err);
/* Same, but logits receives n × n_vocab floats: the logits after every token (perplexity). */
int nt_model_eval_all(nt_model *m, const int32_t *tokens, int32_t n, float *logits, nt_err *err);

/* Numerics of nt_model_eval*: tokens run in batches of up to 64. Weights multiply activations
 * prepared per weight type (quant.h: int8 blocks for quantized weights, f32 for float ones)
 * with one per-row kernel, whatever the batch: a token's logits depend neither on the thread
 * count nor on how the tokens were split into calls, so a conversation evaluated turn by turn,
 * resumed or replayed gives bit-identical logits. The KV cache holds F32, F16 or Q8_0
 * (nt_model_params.kv_type); the same holds for each. */

/* Perplexity exactly as llama.cpp's llama-perplexity defines it. tokens is the whole text,
 * tokenized the way llama-perplexity does it (nt_tokenizer_encode with NT_TOK_ADD_BOS when
 * nt_tokenizer_add_bos()). It is cut into n / n_ctx independent chunks of n_ctx tokens (the rest
 * is dropped; at least 2 × n_ctx tokens are required); each chunk runs from an empty cache
 * with its first token replaced by BOS when the model adds BOS; in each chunk the logits at
 * positions n_ctx/2 .. n_ctx-2 score the token that follows them. ppl = exp(mean NLL over all
 * scored tokens). n_ctx 0 means the model's context; it must be 4..nt_model_info.n_ctx.
 * The hooks apply: progress counts tokens evaluated of n_chunks × n_ctx, cancel stops with
 * NT_ERR_CANCELLED. The KV cache is left empty (nt_model_n_past() == 0) in every case. */
typedef struct nt_model_ppl {
    double ppl;       /* the estimate */
    double ppl_err;   /* llama-perplexity's "+/-": ppl × standard error of the mean NLL */
    double nll;       /* mean negative log-likelihood (natural log) */
    int32_t n_chunks;
    int64_t n_scored; /* tokens scored: n_chunks × (n_ctx - 1 - n_ctx/2) */
} nt_model_ppl;

int nt_model_perplexity(nt_model *m, const int32_t *tokens, size_t n, int32_t n_ctx, nt_model_ppl *out,
                     nt_err *err);

#ifdef __cplusplus
}
#endif

#endif
