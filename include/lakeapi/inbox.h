/*
 * inbox - runs closures on one libuv loop, posted from any thread: a list
 * under a mutex and a uv_async that runs it on the loop (libuv coalesces
 * sends, so one wake-up may run many).
 *
 * Lifetime: reference counted. inbox_new's caller (the loop's owner) holds
 * one; a thread that keeps the pointer to post later takes its own
 * (inbox_ref) and drops it (inbox_unref). inbox_close, on the loop, refuses
 * later posts, runs what was queued and closes the async; the memory goes
 * when the close callback has run and the last reference is dropped.
 */
#ifndef LAKEAPI_INBOX_H
#define LAKEAPI_INBOX_H

#include <stdbool.h>
#include <uv.h>

typedef struct inbox inbox_t;
typedef void (*inbox_fn)(void *arg);

inbox_t *inbox_new(uv_loop_t *loop); /* on the loop's thread; the async does not keep it alive */
inbox_t *inbox_ref(inbox_t *b);
void inbox_unref(inbox_t *b);
/* Runs fn(arg) on the inbox's loop; false (fn never runs) once the inbox is closed. */
bool inbox_post(inbox_t *b, inbox_fn fn, void *arg);
/* On the loop: no more posts; queued closures run now; drops the creator's reference. */
void inbox_close(inbox_t *b);

#endif
