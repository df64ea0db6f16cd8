/* queue.c — the thread-safe FIFO behind the worker's events (see queue.h).
 *
 * A ring buffer of item_size-byte slots under one mutex, plus an eventfd whose readability
 * mirrors "not empty": the push that makes the queue non-empty writes 1, the pop that empties
 * it reads the counter back to 0. Both happen under the mutex, so the invariant holds at every
 * moment another thread can observe. A condition variable serves queue_pop_wait. */
#include "queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct queue {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* signalled on every push */
    unsigned char *buf;       /* cap slots of item_size bytes */
    size_t item_size;
    size_t head, len, cap;    /* ring: items at head, head+1, ... (mod cap) */
    int fd;                   /* eventfd, non-blocking */
    void (*drop)(void *item);
};

queue *queue_init(size_t item_size, void (*drop)(void *item))
{
    if (item_size == 0) return NULL;
    queue *q = calloc(1, sizeof *q);
    if (!q) return NULL;
    q->item_size = item_size;
    q->drop = drop;
    q->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (q->fd < 0) goto fail_fd;
    if (pthread_mutex_init(&q->mu, NULL) != 0) goto fail_mu;
    if (pthread_cond_init(&q->cv, NULL) != 0) goto fail_cv;
    return q;
fail_cv:
    pthread_mutex_destroy(&q->mu);
fail_mu:
    close(q->fd);
fail_fd:
    free(q);
    return NULL;
}

static void *queue_slot(queue *q, size_t i)
{
    return q->buf + ((q->head + i) % q->cap) * q->item_size;
}

/* Drops every item; caller holds the lock. */
static void queue_clear_locked(queue *q)
{
    if (q->drop)
        for (size_t i = 0; i < q->len; i++) q->drop(queue_slot(q, i));
    if (q->len > 0) {
        uint64_t v;
        while (read(q->fd, &v, sizeof v) < 0 && errno == EINTR) {}
    }
    q->head = q->len = 0;
}

void queue_free(queue *q)
{
    if (!q) return;
    queue_clear_locked(q);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    close(q->fd);
    free(q->buf);
    free(q);
}

/* Doubles the ring, unrolling it so the items start at slot 0. */
static int queue_grow(queue *q)
{
    size_t ncap = q->cap ? q->cap * 2 : 64;
    if (ncap > SIZE_MAX / q->item_size) return -1;
    unsigned char *nb = malloc(ncap * q->item_size);
    if (!nb) return -1;
    for (size_t i = 0; i < q->len; i++)
        memcpy(nb + i * q->item_size, queue_slot(q, i), q->item_size);
    free(q->buf);
    q->buf = nb;
    q->cap = ncap;
    q->head = 0;
    return 0;
}

int queue_push(queue *q, const void *item)
{
    pthread_mutex_lock(&q->mu);
    if (q->len == q->cap && queue_grow(q) != 0) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    memcpy(queue_slot(q, q->len), item, q->item_size);
    q->len++;
    if (q->len == 1) {
        uint64_t one = 1;
        /* Cannot fail short of a counter overflow, which one pending write cannot reach. */
        while (write(q->fd, &one, sizeof one) < 0 && errno == EINTR) {}
    }
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

/* Pops the front item; caller holds the lock and has checked len > 0. */
static void queue_take_locked(queue *q, void *item)
{
    memcpy(item, queue_slot(q, 0), q->item_size);
    q->head = (q->head + 1) % q->cap;
    q->len--;
    if (q->len == 0) {
        uint64_t v;
        while (read(q->fd, &v, sizeof v) < 0 && errno == EINTR) {}
        q->head = 0;
    }
}

bool queue_pop(queue *q, void *item)
{
    pthread_mutex_lock(&q->mu);
    bool got = q->len > 0;
    if (got) queue_take_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    return got;
}

bool queue_pop_wait(queue *q, void *item, int timeout_ms)
{
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += timeout_ms / 1000;
        until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->mu);
    while (q->len == 0) {
        int rc = timeout_ms >= 0 ? pthread_cond_timedwait(&q->cv, &q->mu, &until)
                                 : pthread_cond_wait(&q->cv, &q->mu);
        if (rc == ETIMEDOUT) break;
    }
    bool got = q->len > 0;
    if (got) queue_take_locked(q, item);
    pthread_mutex_unlock(&q->mu);
    return got;
}

void queue_clear(queue *q)
{
    pthread_mutex_lock(&q->mu);
    queue_clear_locked(q);
    pthread_mutex_unlock(&q->mu);
}

size_t queue_len(queue *q)
{
    pthread_mutex_lock(&q->mu);
    size_t n = q->len;
    pthread_mutex_unlock(&q->mu);
    return n;
}

int queue_fd(const queue *q)
{
    return q->fd;
}
