/* Small pieces every engine module shares: error reporting, opening files, token vectors. */
#include "natter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nt_err_set(nt_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int nt_open_regular(const char *path, uint64_t *size, nt_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        nt_err_set(err, NT_ERR_IO, "cannot open: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        const char *what = S_ISDIR(st.st_mode)    ? "a folder"
                           : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                           : S_ISCHR(st.st_mode)  ? "a character device"
                           : S_ISBLK(st.st_mode)  ? "a block device"
                           : S_ISSOCK(st.st_mode) ? "a socket"
                                                  : "not a file";
        nt_err_set(err, NT_ERR_IO, "is %s, not a regular file", what);
        close(fd);
        return -1;
    }
    /* Reads of a regular file never wait; the flag only mattered for the open. */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    if (size) *size = (uint64_t)st.st_size;
    return fd;
}

const char *nt_status_str(int code)
{
    switch (code) {
    case NT_OK: return "ok";
    case NT_ERR_IO: return "i/o error";
    case NT_ERR_FORMAT: return "bad format";
    case NT_ERR_NOMEM: return "out of memory";
    case NT_ERR_UNSUPPORTED: return "unsupported";
    case NT_ERR_INVALID: return "invalid argument";
    case NT_ERR_CANCELLED: return "cancelled";
    case NT_ERR_CONTEXT_FULL: return "context full";
    default: return "unknown error";
    }
}

int nt_tokens_append(nt_tokens *t, const int32_t *ids, size_t n)
{
    if (n > SIZE_MAX / sizeof *t->v - t->n) return NT_ERR_NOMEM;
    if (t->n + n > t->cap) {
        size_t cap = t->cap ? t->cap : 16;
        while (cap < t->n + n) cap = cap > SIZE_MAX / 2 / sizeof *t->v ? t->n + n : cap * 2;
        int32_t *v = realloc(t->v, cap * sizeof *v);
        if (!v) return NT_ERR_NOMEM;
        t->v = v;
        t->cap = cap;
    }
    if (n) memcpy(t->v + t->n, ids, n * sizeof *ids);
    t->n += n;
    return NT_OK;
}

int nt_tokens_push(nt_tokens *t, int32_t id)
{
    return nt_tokens_append(t, &id, 1);
}

void nt_tokens_free(nt_tokens *t)
{
    if (!t) return;
    free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}
