/* GGUF reader: maps a .gguf file read-only and validates all of it at open, so that every
 * accessor afterwards is a plain look-up that cannot fail on a bad file.
 *
 * Layout (little-endian): "GGUF", u32 version (2 or 3), u64 tensor count, u64 metadata count;
 * metadata entries (string key, u32 value type, value); tensor infos (string name, u32 n_dims,
 * u64 dims[n_dims], u32 ggml type, u64 offset relative to the data section); padding up to
 * general.alignment; the data section. A string is a u64 length and that many bytes.
 *
 * The file is hostile input. Every length, count and offset is checked against what is left in
 * the file before it is used, and no allocation is sized by a count that has not first been
 * bounded by (bytes left / smallest possible element). Errors read "PATH: FIELD: reason". */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <float.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
/* The state on the stack (its size is known): no allocation that could fail. */
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

/* Smallest possible encodings, used to bound counts before allocating:
 * a metadata entry is a key length (8), a type (4) and at least a one-byte value;
 * a tensor info is a name length (8), n_dims (4), one dim (8), a type (4) and an offset (8). */
#define GGUF_MIN_KV_BYTES 13u
#define GGUF_MIN_TENSOR_BYTES 32u
#define GGUF_HEADER_BYTES 24u

typedef struct gguf_kv {
    char *key;                /* NUL-terminated copy */
    enum nt_gguf_vtype type;
    enum nt_gguf_vtype arr_type; /* NT_GGUF_COUNT_ unless type is ARR */
    uint64_t arr_n;           /* element count for arrays */
    const uint8_t *val;       /* scalars: the value bytes; STR: the bytes; ARR: first element */
    uint64_t str_n;           /* STR: length */
    uint64_t *str_off;        /* ARR of STR: file offset of each element's length prefix */
    uint64_t raw_off, raw_n;  /* the whole entry (key, type, value) as stored: for the hash */
} gguf_kv;

struct nt_gguf {
    char *path;
    const uint8_t *base; /* the read-only mapping (NULL for an empty file) */
    uint64_t size;
    uint32_t version;
    size_t alignment;
    uint64_t data_start; /* file offset of the data section */

    int64_t n_kv;
    gguf_kv *kv;          /* [n_kv], file order */
    gguf_kv **kv_by_key;  /* [n_kv], sorted by key for binary search */

    int64_t n_tensors;
    nt_gguf_tensor *t;           /* [n_tensors], file order */
    nt_gguf_tensor **t_by_name;  /* [n_tensors], sorted by name */
    uint64_t *t_info_off;        /* [n_tensors + 1]: file offset of each tensor info, then of
                                    the table's end (the hash reads the infos as stored) */

    /* nt_gguf_model_hash, computed once on first use (any thread may be first). */
    _Atomic uint64_t hash;
    atomic_bool hashed;
};

/* ------------------------------------------------------------------ value types ----- */

const char *nt_gguf_vtype_name(enum nt_gguf_vtype t)
{
    static const char *const names[NT_GGUF_COUNT_] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "str", "arr", "u64", "i64", "f64"};
    return (unsigned)t < NT_GGUF_COUNT_ ? names[t] : "?";
}

size_t nt_gguf_vtype_size(enum nt_gguf_vtype t)
{
    static const size_t sizes[NT_GGUF_COUNT_] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < NT_GGUF_COUNT_ ? sizes[t] : 0;
}

static uint32_t gguf_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t gguf_le64(const uint8_t *p)
{
    return (uint64_t)gguf_le32(p) | (uint64_t)gguf_le32(p + 4) << 32;
}

/* ---------------------------------------------------------------------- cursor ----- */

/* A bounds-checked cursor over the mapping, plus the name of the place being read (the
 * FIELD of error messages: "header", "metadata entry 3", "key 'x'", "tensor 'y'"). */
typedef struct gguf_rd {
    const char *path;
    const uint8_t *p;
    uint64_t size, pos;
    char field[256];
    nt_err *err;
} gguf_rd;

static int gguf_rd_fail(gguf_rd *r, int code, const char *fmt, ...) NT_PRINTF(3, 4);

static int gguf_rd_fail(gguf_rd *r, int code, const char *fmt, ...)
{
    char reason[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    return nt_err_set(r->err, code, "%s: %s: %s", r->path, r->field, reason);
}

static void gguf_rd_field(gguf_rd *r, const char *fmt, ...) NT_PRINTF(2, 3);

static void gguf_rd_field(gguf_rd *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->field, sizeof r->field, fmt, ap);
    va_end(ap);
}

/* Names a key or tensor: 'name', cut to keep messages one readable line. */
static void gguf_rd_field_named(gguf_rd *r, const char *what, const char *name)
{
    size_t n = strlen(name);
    if (n > 160) gguf_rd_field(r, "%s '%.160s...'", what, name);
    else gguf_rd_field(r, "%s '%s'", what, name);
}

static uint64_t gguf_rd_left(const gguf_rd *r) { return r->size - r->pos; }

static int gguf_rd_need(gguf_rd *r, uint64_t n)
{
    if (n > gguf_rd_left(r))
        return gguf_rd_fail(r, NT_ERR_FORMAT,
                            "truncated: needs %" PRIu64 " bytes at offset %" PRIu64
                            ", file has %" PRIu64, n, r->pos, r->size);
    return NT_OK;
}

static int gguf_rd_u32(gguf_rd *r, uint32_t *v)
{
    int rc = gguf_rd_need(r, 4);
    if (rc) return rc;
    *v = gguf_le32(r->p + r->pos);
    r->pos += 4;
    return NT_OK;
}

static int gguf_rd_u64(gguf_rd *r, uint64_t *v)
{
    int rc = gguf_rd_need(r, 8);
    if (rc) return rc;
    *v = gguf_le64(r->p + r->pos);
    r->pos += 8;
    return NT_OK;
}

static int gguf_rd_str(gguf_rd *r, nt_gguf_str *s)
{
    uint64_t n;
    int rc = gguf_rd_u64(r, &n);
    if (rc) return rc;
    if ((rc = gguf_rd_need(r, n))) return rc;
    s->p = (const char *)(r->p + r->pos);
    s->n = (size_t)n;
    r->pos += n;
    return NT_OK;
}

/* A key or tensor name: non-empty, no NUL inside, copied NUL-terminated into *out. */
static int gguf_rd_name(gguf_rd *r, const char *what, char **out)
{
    nt_gguf_str s;
    int rc = gguf_rd_str(r, &s);
    if (rc) return rc;
    if (s.n == 0) return gguf_rd_fail(r, NT_ERR_FORMAT, "empty %s", what);
    if (memchr(s.p, '\0', s.n))
        return gguf_rd_fail(r, NT_ERR_FORMAT, "%s contains a NUL byte", what);
    char *c = malloc(s.n + 1);
    if (!c) return gguf_rd_fail(r, NT_ERR_NOMEM, "out of memory copying a %zu-byte %s", s.n, what);
    memcpy(c, s.p, s.n);
    c[s.n] = '\0';
    *out = c;
    return NT_OK;
}

/* Fails unless n elements of at least min bytes each can fit in what is left. */
static int gguf_rd_count(gguf_rd *r, const char *what, uint64_t n, uint64_t min)
{
    if (n > gguf_rd_left(r) / min)
        return gguf_rd_fail(r, NT_ERR_FORMAT,
                            "%s %" PRIu64 " cannot fit in the %" PRIu64
                            " bytes left after offset %" PRIu64 " (each needs at least %" PRIu64 ")",
                            what, n, gguf_rd_left(r), r->pos, min);
    return NT_OK;
}

/* ------------------------------------------------------------------- metadata ----- */

static int gguf_rd_array(gguf_rd *r, gguf_kv *kv)
{
    uint32_t et;
    uint64_t n;
    int rc;
    if ((rc = gguf_rd_u32(r, &et))) return rc;
    if (et == NT_GGUF_ARR)
        return gguf_rd_fail(r, NT_ERR_UNSUPPORTED, "arrays of arrays are not supported");
    if (et >= NT_GGUF_COUNT_) return gguf_rd_fail(r, NT_ERR_FORMAT, "bad array element type %" PRIu32, et);
    if ((rc = gguf_rd_u64(r, &n))) return rc;
    kv->arr_type = (enum nt_gguf_vtype)et;
    kv->arr_n = n;
    kv->val = r->p + r->pos;
    if (et != NT_GGUF_STR) {
        size_t esz = nt_gguf_vtype_size(kv->arr_type);
        char what[48];
        snprintf(what, sizeof what, "array of %s: count", nt_gguf_vtype_name(kv->arr_type));
        if ((rc = gguf_rd_count(r, what, n, esz))) return rc;
        r->pos += n * esz;
        return NT_OK;
    }
    /* String arrays: index every element once so nt_gguf_arr_str is O(1). Each element takes at
     * least its 8-byte length, which bounds the table before it is allocated. */
    if ((rc = gguf_rd_count(r, "array of str: count", n, 8))) return rc;
    kv->str_off = malloc(n ? (size_t)n * sizeof *kv->str_off : 1);
    if (!kv->str_off)
        return gguf_rd_fail(r, NT_ERR_NOMEM, "out of memory indexing %" PRIu64 " strings", n);
    const uint8_t *p = r->p;
    uint64_t pos = r->pos, size = r->size;
    for (uint64_t i = 0; i < n; i++) {
        if (size - pos < 8)
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "element %" PRIu64 ": truncated: needs 8 bytes at offset %" PRIu64
                                ", file has %" PRIu64, i, pos, size);
        uint64_t len = gguf_le64(p + pos);
        if (len > size - pos - 8)
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "element %" PRIu64 ": truncated: needs %" PRIu64
                                " bytes at offset %" PRIu64 ", file has %" PRIu64,
                                i, len, pos + 8, size);
        kv->str_off[i] = pos;
        pos += 8 + len;
    }
    r->pos = pos;
    return NT_OK;
}

static int gguf_rd_value(gguf_rd *r, gguf_kv *kv)
{
    int rc;
    if (kv->type == NT_GGUF_STR) {
        nt_gguf_str s;
        if ((rc = gguf_rd_str(r, &s))) return rc;
        kv->val = (const uint8_t *)s.p;
        kv->str_n = s.n;
        return NT_OK;
    }
    if (kv->type == NT_GGUF_ARR) return gguf_rd_array(r, kv);
    size_t sz = nt_gguf_vtype_size(kv->type);
    if ((rc = gguf_rd_need(r, sz))) return rc;
    kv->val = r->p + r->pos;
    r->pos += sz;
    return NT_OK;
}

static int gguf_cmp_kv(const void *a, const void *b)
{
    return strcmp((*(gguf_kv *const *)a)->key, (*(gguf_kv *const *)b)->key);
}

static int gguf_cmp_tensor_name(const void *a, const void *b)
{
    return strcmp((*(nt_gguf_tensor *const *)a)->name, (*(nt_gguf_tensor *const *)b)->name);
}

/* Sorts by[0..n), pointers to the n entries of base (stride bytes each), with cmp, and fails
 * on the first two entries with the same name (the char * at name_off in each): duplicates sit
 * next to each other once sorted, and the sorted index also serves look-ups. The error names
 * the entry as field ("key", "tensor") and says "duplicate NOUN (ENTRIES 3 and 7)". by is
 * read as bytes (memcpy), so one function serves both pointer types. */
static int gguf_index_unique(gguf_rd *r, void *by, int64_t n,
                             int (*cmp)(const void *, const void *), const void *base,
                             size_t stride, size_t name_off, const char *field, const char *noun,
                             const char *entries)
{
    const size_t ps = sizeof(void *);
    if (n > 1) qsort(by, (size_t)n, ps, cmp);
    for (int64_t i = 1; i < n; i++) {
        const char *slot = (const char *)by + (size_t)i * ps;
        if (cmp(slot - ps, slot) != 0) continue;
        const char *a, *b, *name;
        memcpy(&a, slot - ps, ps);
        memcpy(&b, slot, ps);
        memcpy(&name, a + name_off, sizeof name);
        int64_t ia = (int64_t)((size_t)(a - (const char *)base) / stride);
        int64_t ib = (int64_t)((size_t)(b - (const char *)base) / stride);
        gguf_rd_field_named(r, field, name);
        return gguf_rd_fail(r, NT_ERR_FORMAT, "duplicate %s (%s %" PRId64 " and %" PRId64 ")",
                            noun, entries, ia < ib ? ia : ib, ia < ib ? ib : ia);
    }
    return 0;
}

static int gguf_cmp_tensor_offset(const void *a, const void *b)
{
    const nt_gguf_tensor *x = *(nt_gguf_tensor *const *)a, *y = *(nt_gguf_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int gguf_read_kvs(nt_gguf *g, gguf_rd *r)
{
    int rc;
    for (int64_t i = 0; i < g->n_kv; i++) {
        gguf_kv *kv = &g->kv[i];
        uint32_t type;
        kv->raw_off = r->pos;
        gguf_rd_field(r, "metadata entry %" PRId64, i);
        if ((rc = gguf_rd_name(r, "key", &kv->key))) return rc;
        gguf_rd_field_named(r, "key", kv->key);
        if ((rc = gguf_rd_u32(r, &type))) return rc;
        if (type >= NT_GGUF_COUNT_)
            return gguf_rd_fail(r, NT_ERR_FORMAT, "bad value type %" PRIu32, type);
        kv->type = (enum nt_gguf_vtype)type;
        if ((rc = gguf_rd_value(r, kv))) return rc;
        kv->raw_n = r->pos - kv->raw_off;
    }

    for (int64_t i = 0; i < g->n_kv; i++) g->kv_by_key[i] = &g->kv[i];
    if ((rc = gguf_index_unique(r, g->kv_by_key, g->n_kv, gguf_cmp_kv, g->kv, sizeof *g->kv,
                                offsetof(gguf_kv, key), "key", "key", "metadata entries")))
        return rc;

    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    int64_t ai = nt_gguf_find_key(g, GGUF_KEY_ALIGNMENT);
    if (ai >= 0) {
        const gguf_kv *kv = &g->kv[ai];
        gguf_rd_field_named(r, "key", kv->key);
        if (kv->type != NT_GGUF_U32)
            return gguf_rd_fail(r, NT_ERR_FORMAT, "must be a u32, found %s",
                                nt_gguf_vtype_name(kv->type));
        uint32_t a = gguf_le32(kv->val);
        if (a == 0 || (a & (a - 1)) != 0)
            return gguf_rd_fail(r, NT_ERR_FORMAT, "must be a power of two, found %" PRIu32, a);
        g->alignment = a;
    }
    return NT_OK;
}

/* ---------------------------------------------------------------- tensor infos ----- */

static int gguf_read_tensor_info(nt_gguf *g, gguf_rd *r, int64_t i)
{
    nt_gguf_tensor *t = &g->t[i];
    uint32_t n_dims, type;
    int rc;
    char *name = NULL;
    gguf_rd_field(r, "tensor info %" PRId64, i);
    if ((rc = gguf_rd_name(r, "name", &name))) return rc;
    t->name = name;
    gguf_rd_field_named(r, "tensor", name);
    if ((rc = gguf_rd_u32(r, &n_dims))) return rc;
    if (n_dims < 1 || n_dims > 4)
        return gguf_rd_fail(r, NT_ERR_FORMAT, "n_dims %" PRIu32 " out of range 1..4", n_dims);
    t->n_dims = n_dims;
    int64_t nel = 1;
    for (uint32_t d = 0; d < 4; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t v;
        if ((rc = gguf_rd_u64(r, &v))) return rc;
        if (v == 0) return gguf_rd_fail(r, NT_ERR_FORMAT, "dims[%" PRIu32 "] is 0", d);
        if (v > (uint64_t)INT64_MAX || (int64_t)v > INT64_MAX / nel)
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "element count overflows at dims[%" PRIu32 "] = %" PRIu64, d, v);
        t->ne[d] = (int64_t)v;
        nel *= (int64_t)v;
    }
    if ((rc = gguf_rd_u32(r, &type))) return rc;
    if (type >= NT_TYPE_COUNT_ || !nt_type_name((int)type))
        return gguf_rd_fail(r, NT_ERR_UNSUPPORTED, "unknown type %" PRIu32, type);
    t->type = (int)type;
    int64_t blk = nt_type_block_len(t->type);
    if (t->ne[0] % blk != 0)
        return gguf_rd_fail(r, NT_ERR_FORMAT,
                            "ne[0] = %" PRId64 " is not a multiple of the %s block length %" PRId64,
                            t->ne[0], nt_type_name(t->type), blk);
    size_t row = nt_type_row_bytes(t->type, t->ne[0]);
    uint64_t rows = (uint64_t)(nel / t->ne[0]);
    if (row == 0 || rows > SIZE_MAX / row || rows * row > r->size)
        return gguf_rd_fail(r, NT_ERR_FORMAT,
                            "data of %" PRId64 " %s values is larger than the file (size %" PRIu64 ")",
                            nel, nt_type_name(t->type), r->size);
    t->nbytes = (size_t)(rows * row);
    if ((rc = gguf_rd_u64(r, &t->offset))) return rc;
    return NT_OK;
}

static int gguf_read_tensors(nt_gguf *g, gguf_rd *r)
{
    int rc;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        g->t_info_off[i] = r->pos;
        if ((rc = gguf_read_tensor_info(g, r, i))) return rc;
    }
    g->t_info_off[g->n_tensors] = r->pos;

    for (int64_t i = 0; i < g->n_tensors; i++) g->t_by_name[i] = &g->t[i];
    if ((rc = gguf_index_unique(r, g->t_by_name, g->n_tensors, gguf_cmp_tensor_name, g->t,
                                sizeof *g->t, offsetof(nt_gguf_tensor, name), "tensor",
                                "name", "tensor infos")))
        return rc;

    /* The data section starts at the first aligned offset after the infos. pos <= size and
     * alignment <= 2^31, so neither this nor the sums below can wrap for a real file size. */
    uint64_t al = g->alignment;
    g->data_start = (r->pos + al - 1) / al * al;
    for (int64_t i = 0; i < g->n_tensors; i++) {
        nt_gguf_tensor *t = &g->t[i];
        gguf_rd_field_named(r, "tensor", t->name);
        if (t->offset % al != 0)
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "offset %" PRIu64 " is not a multiple of the alignment %zu",
                                t->offset, g->alignment);
        if (t->offset > r->size) /* keeps data_start + offset from wrapping */
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "data offset %" PRIu64 " lies outside the file (size %" PRIu64 ")",
                                t->offset, r->size);
        uint64_t b = g->data_start + t->offset, e = b + t->nbytes;
        if (e > r->size)
            return gguf_rd_fail(r, NT_ERR_FORMAT,
                                "data [%" PRIu64 ", %" PRIu64 ") lies outside the file (size %" PRIu64 ")",
                                b, e, r->size);
        t->data = r->p + b;
    }

    /* Sorted by offset, each tensor must end before the next begins. */
    nt_gguf_tensor **by_off = NULL;
    if (g->n_tensors > 1) {
        by_off = malloc((size_t)g->n_tensors * sizeof *by_off);
        if (!by_off) return nt_err_set(r->err, NT_ERR_NOMEM, "%s: out of memory", r->path);
        for (int64_t i = 0; i < g->n_tensors; i++) by_off[i] = &g->t[i];
        qsort(by_off, (size_t)g->n_tensors, sizeof *by_off, gguf_cmp_tensor_offset);
        for (int64_t i = 1; i < g->n_tensors; i++) {
            const nt_gguf_tensor *a = by_off[i - 1], *b = by_off[i];
            if (b->offset < a->offset + a->nbytes) {
                uint64_t ds = g->data_start;
                gguf_rd_field_named(r, "tensor", b->name);
                rc = gguf_rd_fail(r, NT_ERR_FORMAT,
                                  "data [%" PRIu64 ", %" PRIu64 ") overlaps tensor '%.160s' [%" PRIu64
                                  ", %" PRIu64 ")",
                                  ds + b->offset, ds + b->offset + b->nbytes, a->name,
                                  ds + a->offset, ds + a->offset + a->nbytes);
                free(by_off);
                return rc;
            }
        }
        free(by_off);
    }
    return NT_OK;
}

/* ----------------------------------------------------------------------- open ------ */

static int gguf_read_header(nt_gguf *g, gguf_rd *r)
{
    uint64_t n_tensors, n_kv;
    uint32_t version;
    int rc;
    gguf_rd_field(r, "header");
    if ((rc = gguf_rd_need(r, 4))) return rc;
    if (memcmp(r->p, GGUF_MAGIC, 4) != 0)
        return gguf_rd_fail(r, NT_ERR_FORMAT,
                            "bad magic %02x %02x %02x %02x (not a GGUF file)",
                            r->p[0], r->p[1], r->p[2], r->p[3]);
    r->pos = 4;
    if ((rc = gguf_rd_u32(r, &version))) return rc;
    if (version == 0x02000000u || version == 0x03000000u)
        return gguf_rd_fail(r, NT_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    if (version != 2 && version != 3)
        return gguf_rd_fail(r, NT_ERR_UNSUPPORTED,
                            "unsupported version %" PRIu32 " (natter reads versions 2 and 3)",
                            version);
    g->version = version;
    if ((rc = gguf_rd_u64(r, &n_tensors))) return rc;
    if ((rc = gguf_rd_u64(r, &n_kv))) return rc;
    if ((rc = gguf_rd_count(r, "metadata count", n_kv, GGUF_MIN_KV_BYTES))) return rc;
    if ((rc = gguf_rd_count(r, "tensor count", n_tensors, GGUF_MIN_TENSOR_BYTES))) return rc;
    g->n_kv = (int64_t)n_kv;
    g->n_tensors = (int64_t)n_tensors;
    /* +1 keeps calloc from being asked for 0 bytes. */
    g->kv = calloc((size_t)n_kv + 1, sizeof *g->kv);
    g->kv_by_key = calloc((size_t)n_kv + 1, sizeof *g->kv_by_key);
    g->t = calloc((size_t)n_tensors + 1, sizeof *g->t);
    g->t_by_name = calloc((size_t)n_tensors + 1, sizeof *g->t_by_name);
    g->t_info_off = calloc((size_t)n_tensors + 1, sizeof *g->t_info_off);
    if (!g->kv || !g->kv_by_key || !g->t || !g->t_by_name || !g->t_info_off)
        return gguf_rd_fail(r, NT_ERR_NOMEM, "out of memory for %" PRIu64 " entries and %" PRIu64
                            " tensors", n_kv, n_tensors);
    return NT_OK;
}

int nt_gguf_open(nt_gguf **out, const char *path, nt_err *err)
{
    nt_gguf *g = NULL;
    int fd = -1, rc;
    if (!out) return nt_err_set(err, NT_ERR_INVALID, "nt_gguf_open: no output pointer");
    *out = NULL;
    if (!path) return nt_err_set(err, NT_ERR_INVALID, "nt_gguf_open: no path");

    g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    uint64_t fsize;
    nt_err oe;
    if ((fd = nt_open_regular(path, &fsize, &oe)) < 0) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: %s", path, oe.msg);
        goto fail;
    }
    if (fsize > SIZE_MAX || fsize > (uint64_t)INT64_MAX / 4) {
        rc = nt_err_set(err, NT_ERR_IO, "%s: file too large to map", path);
        goto fail;
    }
    g->size = fsize;
    if (g->size > 0) {
        void *m = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            rc = nt_err_set(err, NT_ERR_IO, "%s: mmap: %s", path, strerror(errno));
            goto fail;
        }
        g->base = m;
    }
    close(fd);
    fd = -1;

    gguf_rd r = {.path = path, .p = g->base, .size = g->size, .pos = 0, .err = err};
    if ((rc = gguf_read_header(g, &r))) goto fail;
    if ((rc = gguf_read_kvs(g, &r))) goto fail;
    if ((rc = gguf_read_tensors(g, &r))) goto fail;
    *out = g;
    return NT_OK;

fail:
    if (fd >= 0) close(fd);
    nt_gguf_close(g);
    return rc;
}

void nt_gguf_close(nt_gguf *g)
{
    if (!g) return;
    if (g->kv)
        for (int64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            free(g->kv[i].str_off);
        }
    if (g->t)
        for (int64_t i = 0; i < g->n_tensors; i++) free((char *)g->t[i].name);
    free(g->kv);
    free(g->kv_by_key);
    free(g->t_info_off);
    free(g->t);
    free(g->t_by_name);
    if (g->base) munmap((void *)g->base, (size_t)g->size);
    free(g->path);
    free(g);
}

/* ------------------------------------------------------------------- accessors ----- */

const char *nt_gguf_path(const nt_gguf *g) { return g->path; }
uint32_t nt_gguf_version(const nt_gguf *g) { return g->version; }
uint64_t nt_gguf_file_size(const nt_gguf *g) { return g->size; }
const void *nt_gguf_mapping(const nt_gguf *g) { return g->base; }

/* ------------------------------------------------------------------ model hash ----- */

/* Descriptive metadata (general.name, general.license, general.alignment, ...) does not
 * change what the model computes: a renamed or re-padded copy is the same model. Of the
 * general.* keys only these define it. */
static bool gguf_key_defines_model(const char *key)
{
    return strncmp(key, "general.", 8) != 0 || strcmp(key, "general.architecture") == 0 ||
           strcmp(key, "general.quantization_version") == 0;
}

/* Feeds n bytes at p to st in pieces, asking stop between them; false when stopped. */
static bool gguf_hash_bytes(XXH3_state_t *st, const uint8_t *p, size_t n, bool (*stop)(void *),
                            void *user)
{
    const size_t piece = (size_t)4 << 20;
    for (size_t o = 0; o < n; o += piece) {
        if (stop && stop(user)) return false;
        XXH3_64bits_update(st, p + o, n - o < piece ? n - o : piece);
    }
    return true;
}

bool nt_gguf_model_hash_until(const nt_gguf *g, bool (*stop)(void *user), void *user, uint64_t *out)
{
    /* The cache is the only thing that changes in an nt_gguf after open: two threads that
     * both compute store the same value. */
    nt_gguf *mg = (nt_gguf *)g;
    if (atomic_load(&mg->hashed)) {
        *out = atomic_load(&mg->hash);
        return true;
    }
    XXH3_state_t st;
    XXH3_INITSTATE(&st);
    XXH3_64bits_reset(&st);
    for (int64_t i = 0; i < g->n_kv; i++)
        if (gguf_key_defines_model(g->kv[i].key))
            XXH3_64bits_update(&st, g->base + g->kv[i].raw_off, (size_t)g->kv[i].raw_n);
    /* Each tensor info as stored but for its last field, the data offset: where the bytes
     * sit in the file is layout, not model. */
    for (int64_t i = 0; i < g->n_tensors; i++)
        XXH3_64bits_update(&st, g->base + g->t_info_off[i],
                           (size_t)(g->t_info_off[i + 1] - g->t_info_off[i] - 8));
    for (int64_t i = 0; i < g->n_tensors; i++)
        if (!gguf_hash_bytes(&st, g->t[i].data, g->t[i].nbytes, stop, user)) return false;
    uint64_t h = XXH3_64bits_digest(&st);
    atomic_store(&mg->hash, h);
    atomic_store(&mg->hashed, true);
    *out = h;
    return true;
}

uint64_t nt_gguf_model_hash(const nt_gguf *g)
{
    uint64_t h = 0;
    nt_gguf_model_hash_until(g, NULL, NULL, &h);
    return h;
}
size_t nt_gguf_alignment(const nt_gguf *g) { return g->alignment; }
int64_t nt_gguf_n_kv(const nt_gguf *g) { return g->n_kv; }

static const gguf_kv *gguf_kv_at(const nt_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const char *nt_gguf_kv_key(const nt_gguf *g, int64_t i)
{
    const gguf_kv *kv = gguf_kv_at(g, i);
    return kv ? kv->key : NULL;
}

enum nt_gguf_vtype nt_gguf_kv_type(const nt_gguf *g, int64_t i)
{
    const gguf_kv *kv = gguf_kv_at(g, i);
    return kv ? kv->type : NT_GGUF_COUNT_;
}

enum nt_gguf_vtype nt_gguf_kv_arr_type(const nt_gguf *g, int64_t i)
{
    const gguf_kv *kv = gguf_kv_at(g, i);
    return kv && kv->type == NT_GGUF_ARR ? kv->arr_type : NT_GGUF_COUNT_;
}

uint64_t nt_gguf_kv_arr_n(const nt_gguf *g, int64_t i)
{
    const gguf_kv *kv = gguf_kv_at(g, i);
    return kv && kv->type == NT_GGUF_ARR ? kv->arr_n : 0;
}

int64_t nt_gguf_find_key(const nt_gguf *g, const char *key)
{
    if (!key) return -1;
    int64_t lo = 0, hi = g->n_kv;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv_by_key[mid]->key, key);
        if (c == 0) return g->kv_by_key[mid] - g->kv;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

/* "u32", or "arr[str]" for arrays: how a stored value is named in wrong-type messages. */
static const char *gguf_kv_type_desc(const gguf_kv *kv, char *buf, size_t cap)
{
    if (kv->type != NT_GGUF_ARR) return nt_gguf_vtype_name(kv->type);
    snprintf(buf, cap, "arr[%s]", nt_gguf_vtype_name(kv->arr_type));
    return buf;
}

static int gguf_wrong_type(const nt_gguf *g, const gguf_kv *kv, const char *want, nt_err *err)
{
    char buf[32];
    return nt_err_set(err, NT_ERR_FORMAT, "%s: key '%s': has type %s, wanted %s", g->path,
                      kv->key, gguf_kv_type_desc(kv, buf, sizeof buf), want);
}

/* Reads an integer value of any width: *neg tells whether it is negative (then *s holds it),
 * else *u holds it. Returns false for non-integer types. */
static bool gguf_kv_int(const gguf_kv *kv, bool *neg, uint64_t *u, int64_t *s)
{
    const uint8_t *p = kv->val;
    int64_t sv;
    switch (kv->type) {
    case NT_GGUF_U8: *neg = false; *u = p[0]; return true;
    case NT_GGUF_U16: *neg = false; *u = (uint64_t)p[0] | (uint64_t)p[1] << 8; return true;
    case NT_GGUF_U32: *neg = false; *u = gguf_le32(p); return true;
    case NT_GGUF_U64: *neg = false; *u = gguf_le64(p); return true;
    case NT_GGUF_I8: sv = (int8_t)p[0]; break;
    case NT_GGUF_I16: sv = (int16_t)(uint16_t)((unsigned)p[0] | (unsigned)p[1] << 8); break;
    case NT_GGUF_I32: sv = (int32_t)gguf_le32(p); break;
    case NT_GGUF_I64: sv = (int64_t)gguf_le64(p); break;
    default: return false;
    }
    *neg = sv < 0;
    *s = sv;
    *u = (uint64_t)sv;
    return true;
}

static const gguf_kv *gguf_lookup(const nt_gguf *g, const char *key)
{
    int64_t i = nt_gguf_find_key(g, key);
    return i >= 0 ? &g->kv[i] : NULL;
}

static int gguf_no_fit(const nt_gguf *g, const gguf_kv *kv, bool neg, uint64_t u, int64_t s,
                       const char *want, nt_err *err)
{
    if (neg)
        return nt_err_set(err, NT_ERR_FORMAT, "%s: key '%s': value %" PRId64 " (%s) does not fit %s",
                          g->path, kv->key, s, nt_gguf_vtype_name(kv->type), want);
    return nt_err_set(err, NT_ERR_FORMAT, "%s: key '%s': value %" PRIu64 " (%s) does not fit %s",
                      g->path, kv->key, u, nt_gguf_vtype_name(kv->type), want);
}

int nt_gguf_get_u32(const nt_gguf *g, const char *key, uint32_t *out, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    bool neg;
    uint64_t u;
    int64_t s;
    if (!kv) return 1;
    if (!gguf_kv_int(kv, &neg, &u, &s)) return gguf_wrong_type(g, kv, "u32", err);
    if (neg || u > UINT32_MAX) return gguf_no_fit(g, kv, neg, u, s, "u32", err);
    *out = (uint32_t)u;
    return NT_OK;
}

int nt_gguf_get_i64(const nt_gguf *g, const char *key, int64_t *out, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    bool neg;
    uint64_t u;
    int64_t s;
    if (!kv) return 1;
    if (!gguf_kv_int(kv, &neg, &u, &s)) return gguf_wrong_type(g, kv, "i64", err);
    if (neg) {
        *out = s;
        return NT_OK;
    }
    if (u > (uint64_t)INT64_MAX) return gguf_no_fit(g, kv, neg, u, s, "i64", err);
    *out = (int64_t)u;
    return NT_OK;
}

int nt_gguf_get_f32(const nt_gguf *g, const char *key, float *out, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    if (!kv) return 1;
    if (kv->type == NT_GGUF_F32) {
        uint32_t b = gguf_le32(kv->val);
        float f;
        memcpy(&f, &b, sizeof f);
        *out = f;
        return NT_OK;
    }
    if (kv->type == NT_GGUF_F64) {
        uint64_t b = gguf_le64(kv->val);
        double d;
        memcpy(&d, &b, sizeof d);
        if (isfinite(d) && fabs(d) > FLT_MAX)
            return nt_err_set(err, NT_ERR_FORMAT, "%s: key '%s': value %g (f64) does not fit f32",
                              g->path, kv->key, d);
        *out = (float)d;
        return NT_OK;
    }
    return gguf_wrong_type(g, kv, "f32", err);
}

int nt_gguf_get_bool(const nt_gguf *g, const char *key, bool *out, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    if (!kv) return 1;
    if (kv->type != NT_GGUF_BOOL) return gguf_wrong_type(g, kv, "bool", err);
    *out = kv->val[0] != 0;
    return NT_OK;
}

int nt_gguf_get_str(const nt_gguf *g, const char *key, nt_gguf_str *out, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    if (!kv) return 1;
    if (kv->type != NT_GGUF_STR) return gguf_wrong_type(g, kv, "str", err);
    out->p = (const char *)kv->val;
    out->n = (size_t)kv->str_n;
    return NT_OK;
}

int nt_gguf_get_arr(const nt_gguf *g, const char *key, enum nt_gguf_vtype *type, uint64_t *n,
                 const void **data, nt_err *err)
{
    const gguf_kv *kv = gguf_lookup(g, key);
    if (!kv) return 1;
    if (kv->type != NT_GGUF_ARR) return gguf_wrong_type(g, kv, "arr", err);
    if (type) *type = kv->arr_type;
    if (n) *n = kv->arr_n;
    if (data) *data = kv->arr_type == NT_GGUF_STR ? NULL : (const void *)kv->val;
    return NT_OK;
}

nt_gguf_str nt_gguf_arr_str(const nt_gguf *g, int64_t kvi, uint64_t i)
{
    nt_gguf_str s = {NULL, 0};
    const gguf_kv *kv = gguf_kv_at(g, kvi);
    if (!kv || kv->type != NT_GGUF_ARR || kv->arr_type != NT_GGUF_STR || i >= kv->arr_n) return s;
    const uint8_t *p = g->base + kv->str_off[i];
    s.n = (size_t)gguf_le64(p);
    s.p = (const char *)(p + 8);
    return s;
}

int64_t nt_gguf_n_tensors(const nt_gguf *g) { return g->n_tensors; }

const nt_gguf_tensor *nt_gguf_tensor_at(const nt_gguf *g, int64_t i)
{
    return i >= 0 && i < g->n_tensors ? &g->t[i] : NULL;
}

const nt_gguf_tensor *nt_gguf_find_tensor(const nt_gguf *g, const char *name)
{
    if (!name) return NULL;
    int64_t lo = 0, hi = g->n_tensors;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->t_by_name[mid]->name, name);
        if (c == 0) return g->t_by_name[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}
