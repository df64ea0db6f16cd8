/* GGUF writer: collects metadata and tensors in memory order and writes a GGUF v3 file
 * atomically (temporary file in the same folder, fsync, rename), so a reader never sees a
 * half-written model and a failed write leaves any existing file at the path untouched.
 *
 * Values are serialised when they are set (each entry keeps the bytes that follow its type
 * field), so writing is a straight copy. Tensor data is borrowed until nt_gguf_writer_write. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct gguf_wkv {
    char *key;
    enum nt_gguf_vtype type;
    uint8_t *val; /* serialised value: everything after the u32 type field */
    size_t val_n;
} gguf_wkv;

typedef struct gguf_wtensor {
    char *name;
    int type;
    uint32_t n_dims;
    int64_t ne[4];
    const void *data; /* borrowed */
    size_t nbytes;
    uint64_t offset;  /* in the data section, set by nt_gguf_writer_write */
} gguf_wtensor;

struct nt_gguf_writer {
    gguf_wkv *kv;
    size_t n_kv, cap_kv;
    gguf_wtensor *t;
    size_t n_t, cap_t;
    uint32_t alignment;
};

/* A growable byte buffer; a failed allocation is remembered and reported once at the end. */
typedef struct gguf_buf {
    uint8_t *p;
    size_t n, cap;
    bool oom;
} gguf_buf;

static void gguf_buf_put(gguf_buf *b, const void *src, size_t n)
{
    if (b->oom || n == 0) return;
    if (n > SIZE_MAX - b->n) {
        b->oom = true;
        return;
    }
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap = cap > SIZE_MAX / 2 ? b->n + n : cap * 2;
        uint8_t *p = realloc(b->p, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void gguf_buf_u32(gguf_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    gguf_buf_put(b, x, 4);
}

static void gguf_buf_u64(gguf_buf *b, uint64_t v)
{
    gguf_buf_u32(b, (uint32_t)v);
    gguf_buf_u32(b, (uint32_t)(v >> 32));
}

static void gguf_buf_str(gguf_buf *b, const char *s, size_t n)
{
    gguf_buf_u64(b, n);
    gguf_buf_put(b, s, n);
}

static char *gguf_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, s, n);
    return c;
}

/* ------------------------------------------------------------------ metadata ----- */

nt_gguf_writer *nt_gguf_writer_init(void)
{
    nt_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->alignment = GGUF_DEFAULT_ALIGNMENT;
    return w;
}

void nt_gguf_writer_free(nt_gguf_writer *w)
{
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kv[i].key);
        free(w->kv[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w);
}

static gguf_wkv *gguf_writer_find(nt_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kv[i].key, key) == 0) return &w->kv[i];
    return NULL;
}

static bool gguf_pow2(uint64_t a) { return a != 0 && (a & (a - 1)) == 0; }

/* Adds key with an already serialised value, taking ownership of b->p in every case. */
static int gguf_writer_add(nt_gguf_writer *w, const char *key, enum nt_gguf_vtype type, gguf_buf *b)
{
    int rc = NT_ERR_INVALID;
    char *k = NULL;
    if (!w || !key || !key[0] || gguf_writer_find(w, key)) goto fail;
    if (b->oom) {
        rc = NT_ERR_NOMEM;
        goto fail;
    }
    /* The reader insists on a u32 power of two here, so the writer never produces another. */
    if (strcmp(key, GGUF_KEY_ALIGNMENT) == 0) {
        if (type != NT_GGUF_U32 || b->n != 4) goto fail;
        uint32_t a = (uint32_t)b->p[0] | (uint32_t)b->p[1] << 8 | (uint32_t)b->p[2] << 16 |
                     (uint32_t)b->p[3] << 24;
        if (!gguf_pow2(a)) goto fail;
        w->alignment = a;
    }
    rc = NT_ERR_NOMEM;
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 16;
        gguf_wkv *kv = realloc(w->kv, cap * sizeof *kv);
        if (!kv) goto fail;
        w->kv = kv;
        w->cap_kv = cap;
    }
    if (!(k = gguf_strdup(key))) goto fail;
    w->kv[w->n_kv++] = (gguf_wkv){.key = k, .type = type, .val = b->p, .val_n = b->n};
    return NT_OK;

fail:
    free(b->p);
    return rc;
}

int nt_gguf_writer_set_scalar(nt_gguf_writer *w, const char *key, enum nt_gguf_vtype type, const void *v)
{
    size_t sz = nt_gguf_vtype_size(type);
    if (sz == 0 || !v) return NT_ERR_INVALID;
    gguf_buf b = {0};
    /* Host values are converted to little-endian byte by byte, whatever the machine. */
    uint8_t x[8];
    uint64_t u = 0;
    switch (type) {
    case NT_GGUF_U8: u = *(const uint8_t *)v; break;
    case NT_GGUF_I8: u = (uint8_t) * (const int8_t *)v; break;
    case NT_GGUF_BOOL: u = *(const bool *)v ? 1 : 0; break;
    case NT_GGUF_U16: u = *(const uint16_t *)v; break;
    case NT_GGUF_I16: u = (uint16_t) * (const int16_t *)v; break;
    case NT_GGUF_U32: u = *(const uint32_t *)v; break;
    case NT_GGUF_I32: u = (uint32_t) * (const int32_t *)v; break;
    case NT_GGUF_F32: { uint32_t f; memcpy(&f, v, 4); u = f; break; }
    case NT_GGUF_U64: u = *(const uint64_t *)v; break;
    case NT_GGUF_I64: u = (uint64_t) * (const int64_t *)v; break;
    case NT_GGUF_F64: memcpy(&u, v, 8); break;
    default: return NT_ERR_INVALID;
    }
    for (size_t i = 0; i < sz; i++) x[i] = (uint8_t)(u >> (8 * i));
    gguf_buf_put(&b, x, sz);
    return gguf_writer_add(w, key, type, &b);
}

int nt_gguf_writer_set_u32(nt_gguf_writer *w, const char *key, uint32_t v)
{
    return nt_gguf_writer_set_scalar(w, key, NT_GGUF_U32, &v);
}

int nt_gguf_writer_set_i32(nt_gguf_writer *w, const char *key, int32_t v)
{
    return nt_gguf_writer_set_scalar(w, key, NT_GGUF_I32, &v);
}

int nt_gguf_writer_set_u64(nt_gguf_writer *w, const char *key, uint64_t v)
{
    return nt_gguf_writer_set_scalar(w, key, NT_GGUF_U64, &v);
}

int nt_gguf_writer_set_f32(nt_gguf_writer *w, const char *key, float v)
{
    return nt_gguf_writer_set_scalar(w, key, NT_GGUF_F32, &v);
}

int nt_gguf_writer_set_bool(nt_gguf_writer *w, const char *key, bool v)
{
    return nt_gguf_writer_set_scalar(w, key, NT_GGUF_BOOL, &v);
}

int nt_gguf_writer_set_str(nt_gguf_writer *w, const char *key, const char *v)
{
    if (!v) return NT_ERR_INVALID;
    gguf_buf b = {0};
    gguf_buf_str(&b, v, strlen(v));
    return gguf_writer_add(w, key, NT_GGUF_STR, &b);
}

int nt_gguf_writer_set_arr(nt_gguf_writer *w, const char *key, enum nt_gguf_vtype type,
                        const void *data, uint64_t n)
{
    size_t sz = nt_gguf_vtype_size(type);
    if (sz == 0 || (n > 0 && !data) || n > SIZE_MAX / sz) return NT_ERR_INVALID;
    gguf_buf b = {0};
    gguf_buf_u32(&b, (uint32_t)type);
    gguf_buf_u64(&b, n);
    /* Elements are taken as packed little-endian values (the host order on every machine
     * natter targets), like the arrays nt_gguf_get_arr hands out. */
    gguf_buf_put(&b, data, (size_t)n * sz);
    return gguf_writer_add(w, key, NT_GGUF_ARR, &b);
}

int nt_gguf_writer_set_arr_str(nt_gguf_writer *w, const char *key, const char *const *v, uint64_t n)
{
    if (n > 0 && !v) return NT_ERR_INVALID;
    for (uint64_t i = 0; i < n; i++)
        if (!v[i]) return NT_ERR_INVALID;
    gguf_buf b = {0};
    gguf_buf_u32(&b, NT_GGUF_STR);
    gguf_buf_u64(&b, n);
    for (uint64_t i = 0; i < n; i++) gguf_buf_str(&b, v[i], strlen(v[i]));
    return gguf_writer_add(w, key, NT_GGUF_ARR, &b);
}

int nt_gguf_writer_set_alignment(nt_gguf_writer *w, uint32_t alignment)
{
    if (!w || !gguf_pow2(alignment)) return NT_ERR_INVALID;
    gguf_wkv *kv = gguf_writer_find(w, GGUF_KEY_ALIGNMENT);
    if (!kv) return nt_gguf_writer_set_u32(w, GGUF_KEY_ALIGNMENT, alignment);
    /* The writer's own key: updating it is allowed, unlike setting a key twice. */
    for (int i = 0; i < 4; i++) kv->val[i] = (uint8_t)(alignment >> (8 * i));
    w->alignment = alignment;
    return NT_OK;
}

/* ------------------------------------------------------------------- tensors ----- */

int nt_gguf_writer_add_tensor(nt_gguf_writer *w, const char *name, int type, uint32_t n_dims,
                           const int64_t *ne, const void *data)
{
    if (!w || !name || !name[0] || !ne || !data || n_dims < 1 || n_dims > 4) return NT_ERR_INVALID;
    if (!nt_type_name(type)) return NT_ERR_INVALID;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->t[i].name, name) == 0) return NT_ERR_INVALID;
    gguf_wtensor t = {.type = type, .n_dims = n_dims, .ne = {1, 1, 1, 1}, .data = data};
    int64_t nel = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] < 1 || ne[d] > INT64_MAX / nel) return NT_ERR_INVALID;
        t.ne[d] = ne[d];
        nel *= ne[d];
    }
    size_t row = nt_type_row_bytes(type, ne[0]);
    uint64_t rows = (uint64_t)(nel / ne[0]);
    if (row == 0 || rows > SIZE_MAX / row) return NT_ERR_INVALID;
    t.nbytes = (size_t)rows * row;
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 16;
        gguf_wtensor *p = realloc(w->t, cap * sizeof *p);
        if (!p) return NT_ERR_NOMEM;
        w->t = p;
        w->cap_t = cap;
    }
    if (!(t.name = gguf_strdup(name))) return NT_ERR_NOMEM;
    w->t[w->n_t++] = t;
    return NT_OK;
}

/* --------------------------------------------------------------------- write ----- */

static int gguf_write_all(int fd, const void *p, size_t n)
{
    const uint8_t *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int gguf_write_pad(int fd, uint64_t pos, uint64_t al)
{
    static const uint8_t zeros[4096];
    uint64_t pad = (al - pos % al) % al;
    while (pad > 0) {
        size_t k = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        if (gguf_write_all(fd, zeros, k)) return -1;
        pad -= k;
    }
    return 0;
}

/* fsync of the folder makes the rename itself durable; a failure there is not fatal (the
 * file is complete either way), so it is ignored. */
static void gguf_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int nt_gguf_writer_write(nt_gguf_writer *w, const char *path, nt_err *err)
{
    gguf_buf h = {0};
    char *tmp = NULL;
    int fd = -1, rc;
    const char *what = "write";
    if (!w || !path || !path[0]) return nt_err_set(err, NT_ERR_INVALID, "nt_gguf_writer_write: no path");

    /* Header, metadata and tensor infos go to memory first; data offsets are laid out here. */
    uint64_t al = w->alignment, off = 0;
    gguf_buf_put(&h, GGUF_MAGIC, 4);
    gguf_buf_u32(&h, 3);
    gguf_buf_u64(&h, w->n_t);
    gguf_buf_u64(&h, w->n_kv);
    for (size_t i = 0; i < w->n_kv; i++) {
        gguf_buf_str(&h, w->kv[i].key, strlen(w->kv[i].key));
        gguf_buf_u32(&h, (uint32_t)w->kv[i].type);
        gguf_buf_put(&h, w->kv[i].val, w->kv[i].val_n);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        gguf_wtensor *t = &w->t[i];
        gguf_buf_str(&h, t->name, strlen(t->name));
        gguf_buf_u32(&h, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++) gguf_buf_u64(&h, (uint64_t)t->ne[d]);
        gguf_buf_u32(&h, (uint32_t)t->type);
        gguf_buf_u64(&h, off);
        t->offset = off;
        if (t->nbytes > UINT64_MAX - off - al) {
            rc = nt_err_set(err, NT_ERR_INVALID, "%s: tensors too large", path);
            goto fail;
        }
        off += (t->nbytes + al - 1) / al * al;
    }
    if (h.oom) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }

    size_t plen = strlen(path);
    if (!(tmp = malloc(plen + 8))) {
        rc = nt_err_set(err, NT_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".XXXXXX", 8);
    fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        tmp = NULL; /* nothing to unlink */
        what = "cannot create a temporary file";
        goto io_fail;
    }
    what = "write";
    if (fchmod(fd, 0644) != 0) goto io_fail;
    if (gguf_write_all(fd, h.p, h.n) || gguf_write_pad(fd, h.n, al)) goto io_fail;
    for (size_t i = 0; i < w->n_t; i++)
        if (gguf_write_all(fd, w->t[i].data, w->t[i].nbytes) ||
            gguf_write_pad(fd, w->t[i].nbytes, al))
            goto io_fail;
    what = "fsync";
    if (fsync(fd) != 0) goto io_fail;
    what = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd) != 0) goto io_fail;
    what = "rename";
    if (rename(tmp, path) != 0) goto io_fail;
    free(tmp);
    free(h.p);
    gguf_sync_dir(path);
    return NT_OK;

io_fail:
    rc = nt_err_set(err, NT_ERR_IO, "%s: %s: %s", path, what, strerror(errno));
fail:
    if (fd >= 0) close(fd);
    if (tmp) {
        unlink(tmp);
        free(tmp);
    }
    free(h.p);
    return rc;
}
