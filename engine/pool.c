/* The compute thread pool declared in pool.h.
 *
 * One job at a time: the owner publishes (fn, ctx, n_tasks), bumps the generation counter and
 * wakes the workers; every thread, the owner included, then claims task numbers from one
 * atomic counter until they run out. The owner returns when every worker has reported the job
 * done, so no worker can still be touching the job's memory afterwards. */
#include "pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

/* Rounds of busy-waiting before a thread sleeps. A decode step runs a few hundred short jobs
 * back to back; spinning across the small serial gaps between them avoids a futex wake-up per
 * job, while a pool left idle goes to sleep after well under a millisecond. */
#define POOL_SPIN 4000

typedef struct pool_worker {
    pool *p;
    int id;
    pthread_t th;
} pool_worker;

struct pool {
    int n;                 /* threads in total, the owner included */
    pool_worker *workers;  /* (n - 1) started threads */
    int n_started;

    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* workers sleep here waiting for a new generation */
    pthread_cond_t cv_done; /* the owner sleeps here waiting for pending == 0 */

    atomic_uint gen;        /* bumped once per job (and once to quit) */
    atomic_int pending;     /* workers that have not finished the current job */
    atomic_llong next;      /* next unclaimed task number */
    bool quit;

    /* The current job; written by the owner before gen is bumped (release), read by workers
     * after they see the new gen (acquire). */
    pool_fn fn;
    void *ctx;
    int64_t n_tasks;
};

static inline void pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void pool_do_tasks(pool *p, int thread)
{
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
        if (t >= p->n_tasks) break;
        p->fn(p->ctx, t, thread);
    }
}

static void *pool_worker_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&p->gen, memory_order_acquire);
        for (int i = 0; g == seen && i < POOL_SPIN; i++) {
            pool_pause();
            g = atomic_load_explicit(&p->gen, memory_order_acquire);
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&p->cv_work, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        seen = g;
        if (p->quit) break;
        pool_do_tasks(p, w->id);
        if (atomic_fetch_sub_explicit(&p->pending, 1, memory_order_acq_rel) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->cv_done);
            pthread_mutex_unlock(&p->mu);
        }
    }
    return NULL;
}

pool *pool_init(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_work, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    atomic_init(&p->gen, 0);
    atomic_init(&p->pending, 0);
    atomic_init(&p->next, 0);
    if (n_threads > 1) {
        p->workers = calloc((size_t)n_threads - 1, sizeof *p->workers);
        if (!p->workers) goto fail;
        for (int i = 0; i < n_threads - 1; i++) {
            p->workers[i].p = p;
            p->workers[i].id = i + 1;
            if (pthread_create(&p->workers[i].th, NULL, pool_worker_main, &p->workers[i]) != 0)
                goto fail;
            p->n_started++;
        }
    }
    return p;
fail:
    pool_free(p);
    return NULL;
}

void pool_free(pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->quit = true;
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].th, NULL);
    free(p->workers);
    pthread_cond_destroy(&p->cv_done);
    pthread_cond_destroy(&p->cv_work);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int pool_n_threads(const pool *p)
{
    return p ? p->n : 1;
}

void pool_run(pool *p, int64_t n_tasks, pool_fn fn, void *ctx)
{
    if (n_tasks <= 0) return;
    if (!p || p->n == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store_explicit(&p->next, 0, memory_order_relaxed);
    atomic_store_explicit(&p->pending, p->n - 1, memory_order_relaxed);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add_explicit(&p->gen, 1, memory_order_release);
    pthread_cond_broadcast(&p->cv_work);
    pthread_mutex_unlock(&p->mu);

    pool_do_tasks(p, 0);

    for (int i = 0; i < POOL_SPIN; i++) {
        if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
        pool_pause();
    }
    pthread_mutex_lock(&p->mu);
    while (atomic_load_explicit(&p->pending, memory_order_acquire) != 0)
        pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
