/* queue.h — a thread-safe FIFO of fixed-size items with a wake-up descriptor.
 *
 * The worker thread pushes events, the UI thread pops them. The wake-up descriptor (an
 * eventfd) is readable exactly while the queue holds items, so the UI can poll() it together
 * with stdin and a signal pipe: push makes it readable, and popping the last item drains it.
 * Items are copied in and out by value (item_size bytes); pointers inside an item are owned by
 * whoever holds the item (the queue while it is queued, the popper afterwards). */
#ifndef NATTER_APP_QUEUE_H
#define NATTER_APP_QUEUE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct queue queue;

/* A queue of items of item_size bytes. drop (may be NULL) releases what an item owns; it is
 * called for items still queued by queue_clear and queue_free. NULL on failure (no memory or
 * no descriptor). */
queue *queue_init(size_t item_size, void (*drop)(void *item));
/* Drops the remaining items and closes the descriptor. Accepts NULL. */
void queue_free(queue *q);

/* Copies *item to the back. 0, or -1 when memory runs out (the item is not queued). */
int queue_push(queue *q, const void *item);
/* Copies the front item into *item and removes it; false (and *item untouched) when empty.
 * Never blocks. */
bool queue_pop(queue *q, void *item);
/* Like queue_pop, but waits up to timeout_ms (negative: forever) for an item. */
bool queue_pop_wait(queue *q, void *item, int timeout_ms);
/* Drops every queued item. */
void queue_clear(queue *q);
size_t queue_len(queue *q);
/* Readable (POLLIN) while the queue is not empty. Owned by the queue: do not read or close. */
int queue_fd(const queue *q);

#endif
