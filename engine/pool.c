/* The compute thread pool declared in pool.h.
 *
 * One job at a time. The owner publishes the job in a slot, then sets `state` to
 * (generation << 32). The job's tasks are split into one contiguous range per thread: each
 * thread claims the tasks of its own range from the front, then takes what is left of the
 * other ranges from the back. So when nothing disturbs the threads, each one streams its own
 * contiguous part of a matrix (consecutive tasks are consecutive rows), as a decoding step
 * wants from memory, and a thread that is late, asleep or descheduled loses its tasks to the
 * others instead of holding up the job. A range is one 64-bit word (generation, first, end)
 * advanced by compare-and-swap, so a worker that wakes up late can never claim a task of a job
 * it did not read. The owner returns once `done` counts every task: it never waits for a
 * worker that claimed nothing (on a 2-core machine shared with other programs, waiting for
 * every worker to check in costs a scheduler time slice per job).
 *
 * Jobs alternate between two slots. A slot is rewritten two generations later, and a worker
 * only uses a slot after a successful claim in that slot's generation, which proves the slot
 * had not been rewritten yet. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Rounds of busy-waiting before a worker sleeps. A decode step runs a few hundred short jobs
 * back to back; spinning across the small serial gaps between them avoids a wake-up per job,
 * while a pool left idle goes to sleep after well under a millisecond. */
#define POOL_SPIN 4000

/* Tasks per job in one range word (16 bits each for first and end); larger jobs run as
 * several jobs. */
#define POOL_MAX_TASKS 0xffff

/* A range of tasks: generation << 32 | first << 16 | end, on a cache line of its own (its
 * thread claims from it at every task while the others only look at it when they run out). */
typedef struct pool_range {
    _Alignas(64) _Atomic uint64_t w;
} pool_range;

typedef struct pool_job {
    pool_fn fn;       /* read only after a successful claim (then stable: see the top) */
    void *ctx;
    int64_t base;     /* task numbers passed to fn are base + the range's numbers */
    pool_range *ranges; /* n of them */
} pool_job;

typedef struct pool_worker {
    pool *p;
    int id;
    pthread_t th;
} pool_worker;

struct pool {
    int n;                 /* threads in total, the owner included */
    pool_worker *workers;  /* (n - 1) started threads */
    int n_started;

    pool_job jobs[2];      /* the job of generation g is in jobs[g & 1] */
    _Alignas(64) _Atomic uint64_t state; /* generation << 32 */
    _Alignas(64) atomic_llong done; /* tasks of the current job completed; on its own cache
                                       line: workers add to it while others claim */
    _Alignas(64) char pad_; /* nothing else on done's line */
    atomic_int sleepers;   /* workers asleep (or about to be) on cv */
    atomic_bool quit;

    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static inline void pool_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims one task of generation gen from range r: from the front of the thread's own range,
 * from the back of the others. -1 when the range is empty (or the job moved on). */
static int64_t pool_claim(pool_range *r, uint32_t gen, bool own)
{
    uint64_t w = atomic_load(&r->w);
    for (;;) {
        if ((uint32_t)(w >> 32) != gen) return -1;
        const uint32_t first = (uint32_t)(w >> 16) & 0xffff, end = (uint32_t)w & 0xffff;
        if (first >= end) return -1;
        const uint64_t next = own ? w + ((uint64_t)1 << 16) : w - 1;
        if (atomic_compare_exchange_weak(&r->w, &w, next)) return own ? first : end - 1;
        /* w reloaded */
    }
}

/* Runs tasks of generation gen until none are left (or the job moved on): the thread's own
 * range first, then the others'. */
static void pool_work(pool *p, uint32_t gen, int thread)
{
    pool_job *j = &p->jobs[gen & 1];
    for (int k = 0; k < p->n; k++) {
        const int r = (thread + k) % p->n;
        int64_t task;
        while ((task = pool_claim(&j->ranges[r], gen, k == 0)) >= 0) {
            j->fn(j->ctx, j->base + task, thread);
            atomic_fetch_add(&p->done, 1);
        }
        if ((uint32_t)(atomic_load(&p->state) >> 32) != gen) return;
    }
}

static void *pool_worker_main(void *arg)
{
    pool_worker *w = arg;
    pool *p = w->p;
    uint32_t seen = 0;
    for (;;) {
        uint32_t g = (uint32_t)(atomic_load(&p->state) >> 32);
        for (int i = 0; g == seen && i < POOL_SPIN; i++) {
            pool_pause();
            g = (uint32_t)(atomic_load(&p->state) >> 32);
        }
        if (g == seen) {
            /* sleepers is raised before the last look at state; the owner stores state
             * before it looks at sleepers (both sequentially consistent), so either we see
             * the new generation or the owner sees us and signals under the mutex. */
            pthread_mutex_lock(&p->mu);
            atomic_fetch_add(&p->sleepers, 1);
            while ((g = (uint32_t)(atomic_load(&p->state) >> 32)) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->cv, &p->mu);
            atomic_fetch_sub(&p->sleepers, 1);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit)) break;
        seen = g;
        pool_work(p, g, w->id);
    }
    return NULL;
}

pool *nt_pool_init(int n_threads)
{
    if (n_threads < 1) n_threads = 1;
    pool *p = aligned_alloc(64, sizeof *p); /* state and done on lines of their own */
    if (!p) return NULL;
    memset(p, 0, sizeof *p);
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    atomic_init(&p->state, 0);
    atomic_init(&p->done, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->quit, false);
    for (int i = 0; i < 2; i++) {
        p->jobs[i].ranges = aligned_alloc(64, (size_t)n_threads * sizeof(pool_range));
        if (!p->jobs[i].ranges) goto fail;
        for (int k = 0; k < n_threads; k++) atomic_init(&p->jobs[i].ranges[k].w, 0);
    }
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
    nt_pool_free(p);
    return NULL;
}

void nt_pool_free(pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_started; i++) pthread_join(p->workers[i].th, NULL);
    free(p->workers);
    free(p->jobs[0].ranges);
    free(p->jobs[1].ranges);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

int nt_pool_n_threads(const pool *p)
{
    return p ? p->n : 1;
}

/* One job of at most POOL_MAX_TASKS tasks, numbered base.. for fn. */
static void pool_run_part(pool *p, int64_t base, int64_t n_tasks, pool_fn fn, void *ctx)
{
    const uint32_t gen = (uint32_t)(atomic_load(&p->state) >> 32) + 1;
    pool_job *j = &p->jobs[gen & 1];
    j->fn = fn;
    j->ctx = ctx;
    j->base = base;
    for (int k = 0; k < p->n; k++) {
        const uint64_t first = (uint64_t)(n_tasks * k / p->n), end = (uint64_t)(n_tasks * (k + 1) / p->n);
        atomic_store_explicit(&j->ranges[k].w, (uint64_t)gen << 32 | first << 16 | end, memory_order_relaxed);
    }
    atomic_store(&p->done, 0);
    atomic_store(&p->state, (uint64_t)gen << 32);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }

    pool_work(p, gen, 0);

    /* Every task is claimed; wait for the ones still running on workers. */
    for (unsigned i = 0; atomic_load(&p->done) < n_tasks; i++) {
        if (i < POOL_SPIN) pool_pause();
        else sched_yield();
    }
}

void nt_pool_run(pool *p, int64_t n_tasks, pool_fn fn, void *ctx)
{
    if (n_tasks <= 0) return;
    if (!p || p->n == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; t++) fn(ctx, t, 0);
        return;
    }
    for (int64_t base = 0; base < n_tasks; base += POOL_MAX_TASKS)
        pool_run_part(p, base, n_tasks - base < POOL_MAX_TASKS ? n_tasks - base : POOL_MAX_TASKS, fn, ctx);
}
