/* pool.h — a small pool of compute threads for the forward pass (engine-internal).
 *
 * nt_pool_run splits one job into n_tasks numbered tasks and runs them on every thread of the
 * pool, the calling thread included. Which thread runs which task is decided at run time, so
 * a task must compute the same thing whoever runs it: that is how the forward pass gets
 * bit-identical results with any thread count (each task owns a fixed range of output rows).
 * The `thread` argument only selects per-thread scratch memory.
 *
 * Threads wait for work by spinning briefly and then sleeping on a condition variable, so an
 * idle pool costs nothing while a busy decode loop does not pay a wake-up per matrix. */
#ifndef NATTER_POOL_H
#define NATTER_POOL_H

#include <stdint.h>

typedef struct pool pool;

/* Runs task number `task` (0 <= task < n_tasks) on thread number `thread` (0 = caller). */
typedef void (*pool_fn)(void *ctx, int64_t task, int thread);

/* A pool of n_threads threads in total (the caller counts as one, so n_threads - 1 are
 * started). NULL when a thread or allocation fails. Free with nt_pool_free. */
pool *nt_pool_init(int n_threads);
void nt_pool_free(pool *p);
int nt_pool_n_threads(const pool *p);

/* Runs fn for every task and returns when all are done. Not reentrant: one job at a time, from
 * the thread that owns the pool. */
void nt_pool_run(pool *p, int64_t n_tasks, pool_fn fn, void *ctx);

#endif
