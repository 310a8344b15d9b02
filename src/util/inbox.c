/*
 * util/inbox - closures posted from any thread, run on one loop (see
 * include/lakeapi/inbox.h). The async handle is unreferenced: an inbox does
 * not keep its loop running; its owner closes it with the loop's other
 * handles.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "lakeapi/inbox.h"

typedef struct inbox_item {
    struct inbox_item *next;
    inbox_fn fn;
    void *arg;
} inbox_item_t;

struct inbox {
    uv_async_t async;
    atomic_int refs; /* the creator's (until the close callback), and every inbox_ref */
    pthread_mutex_t lock;
    inbox_item_t *head, **tail;
    bool open;
};

static void inbox_run(inbox_item_t *it)
{
    for (inbox_item_t *n; it; it = n) {
        n = it->next;
        it->fn(it->arg);
        free(it);
    }
}

static inbox_item_t *inbox_take(inbox_t *b)
{
    pthread_mutex_lock(&b->lock);
    inbox_item_t *it = b->head;
    b->head = NULL;
    b->tail = &b->head;
    pthread_mutex_unlock(&b->lock);
    return it;
}

static void inbox_on_async(uv_async_t *a)
{
    inbox_run(inbox_take(a->data));
}

inbox_t *inbox_new(uv_loop_t *loop)
{
    inbox_t *b = calloc(1, sizeof *b);
    if (!b) abort();
    atomic_init(&b->refs, 1);
    pthread_mutex_init(&b->lock, NULL);
    b->tail = &b->head;
    b->open = true;
    uv_async_init(loop, &b->async, inbox_on_async);
    b->async.data = b;
    uv_unref((uv_handle_t *)&b->async);
    return b;
}

inbox_t *inbox_ref(inbox_t *b)
{
    if (b) atomic_fetch_add(&b->refs, 1);
    return b;
}

void inbox_unref(inbox_t *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1) return;
    inbox_run(inbox_take(b)); /* nothing is left by now; for safety's sake */
    pthread_mutex_destroy(&b->lock);
    free(b);
}

bool inbox_post(inbox_t *b, inbox_fn fn, void *arg)
{
    inbox_item_t *it = malloc(sizeof *it);
    if (!it) abort();
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    pthread_mutex_lock(&b->lock);
    bool open = b->open;
    if (open) {
        *b->tail = it;
        b->tail = &it->next;
        uv_async_send(&b->async); /* under the lock: close cannot run between */
    }
    pthread_mutex_unlock(&b->lock);
    if (!open) free(it);
    return open;
}

static void inbox_on_closed(uv_handle_t *h)
{
    inbox_unref(h->data);
}

void inbox_close(inbox_t *b)
{
    if (!b) return;
    pthread_mutex_lock(&b->lock);
    bool was = b->open;
    b->open = false;
    pthread_mutex_unlock(&b->lock);
    if (!was) return;
    inbox_run(inbox_take(b));
    if (!uv_is_closing((uv_handle_t *)&b->async))
        uv_close((uv_handle_t *)&b->async, inbox_on_closed);
    else
        inbox_unref(b); /* a walk closed it already, with no callback of ours */
}
