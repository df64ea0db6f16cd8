/* Tests for app/util/queue.c: FIFO order, the wake-up descriptor's readability mirroring "not
 * empty", the drop callback, and many producers against one consumer. */
#include "util/queue.h"
#include "t.h"

#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* True when fd polls readable right now. */
static int fd_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_fifo_order(void)
{
    queue *q = queue_init(sizeof(int), NULL);
    T_ASSERT(q);
    int v = -1;
    T_CHECK(!queue_pop(q, &v));
    T_EQ_INT(v, -1);
    /* 1000 items cross the initial 64-slot ring several times, with pops interleaved so the
     * ring wraps before it grows. */
    int next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 100; i++) T_EQ_INT(queue_push(q, &(int){next_in++}), 0);
        for (int i = 0; i < 70; i++) {
            T_ASSERT(queue_pop(q, &v));
            T_EQ_INT(v, next_out++);
        }
    }
    T_EQ_INT(queue_len(q), next_in - next_out);
    while (queue_pop(q, &v)) T_EQ_INT(v, next_out++);
    T_EQ_INT(next_out, 1000);
    queue_free(q);
}

static void test_wake_fd(void)
{
    queue *q = queue_init(sizeof(int), NULL);
    T_ASSERT(q);
    int fd = queue_fd(q);
    int v;
    T_CHECK(!fd_readable(fd));
    queue_push(q, &(int){1});
    T_CHECK(fd_readable(fd));
    queue_push(q, &(int){2});
    T_CHECK(fd_readable(fd));
    T_CHECK(queue_pop(q, &v));
    T_CHECK(fd_readable(fd)); /* one item left */
    T_CHECK(queue_pop(q, &v));
    T_CHECK(!fd_readable(fd)); /* drained when empty */
    T_CHECK(!queue_pop(q, &v));
    T_CHECK(!fd_readable(fd));
    queue_push(q, &(int){3});
    T_CHECK(fd_readable(fd));
    queue_clear(q);
    T_CHECK(!fd_readable(fd));
    T_EQ_INT(queue_len(q), 0);
    T_CHECK(!queue_pop_wait(q, &v, 10)); /* times out on an empty queue */
    queue_free(q);
}

static int drops;
static void count_drop(void *item)
{
    free(*(char **)item);
    drops++;
}

static void test_drop(void)
{
    queue *q = queue_init(sizeof(char *), count_drop);
    T_ASSERT(q);
    for (int i = 0; i < 5; i++) {
        char *s = malloc(8);
        T_ASSERT(s);
        strcpy(s, "x");
        queue_push(q, &s);
    }
    char *s = NULL;
    T_ASSERT(queue_pop(q, &s));
    T_EQ_STR(s, "x");
    free(s); /* a popped item belongs to the popper */
    drops = 0;
    queue_free(q); /* the four still queued are dropped */
    T_EQ_INT(drops, 4);
}

enum { N_PRODUCERS = 4, N_PER_PRODUCER = 20000 };

typedef struct item {
    int producer, seq;
} item;

static queue *shared_q;

static void *producer(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = 0; i < N_PER_PRODUCER; i++) queue_push(shared_q, &(item){id, i});
    return NULL;
}

/* The consumer waits on the descriptor like the UI does; every item arrives exactly once and
 * each producer's items arrive in the order it pushed them. */
static void test_many_producers(void)
{
    shared_q = queue_init(sizeof(item), NULL);
    T_ASSERT(shared_q);
    pthread_t th[N_PRODUCERS];
    for (int i = 0; i < N_PRODUCERS; i++)
        T_ASSERT(pthread_create(&th[i], NULL, producer, (void *)(intptr_t)i) == 0);
    int next[N_PRODUCERS] = {0};
    int total = 0, bad_order = 0;
    while (total < N_PRODUCERS * N_PER_PRODUCER) {
        struct pollfd p = {.fd = queue_fd(shared_q), .events = POLLIN};
        if (poll(&p, 1, 5000) != 1) break; /* a lost wake-up would hang here: fail instead */
        item it;
        while (queue_pop(shared_q, &it)) {
            if (it.producer < 0 || it.producer >= N_PRODUCERS || it.seq != next[it.producer])
                bad_order++;
            else
                next[it.producer]++;
            total++;
        }
    }
    for (int i = 0; i < N_PRODUCERS; i++) pthread_join(th[i], NULL);
    T_EQ_INT(total, N_PRODUCERS * N_PER_PRODUCER);
    T_EQ_INT(bad_order, 0);
    T_CHECK(!fd_readable(queue_fd(shared_q)));
    queue_free(shared_q);
}

int main(void)
{
    T_RUN(test_fifo_order);
    T_RUN(test_wake_fd);
    T_RUN(test_drop);
    T_RUN(test_many_producers);
    return t_done();
}
