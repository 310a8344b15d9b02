/*
 * util/loopspin - bounded busy-poll before the loop blocks (see
 * include/lakeapi/loopspin.h for when and why).
 *
 * The prepare callback is the last thing libuv runs before its epoll_wait,
 * the check callback the first after it; between the two lies the wait.
 * check measures how long the turn's wait took (the spin, plus the blocking
 * part if any) and prepare decides from that whether to spin next. The spin
 * polls the epoll descriptor itself, which is readable while any descriptor
 * it watches is ready, so no event is consumed or reordered.
 */
#include <poll.h>
#include <stdlib.h>

#include "lakeapi/loopspin.h"

struct loopspin {
    uv_prepare_t prepare;
    uv_check_t check;
    int closing; /* close callbacks still to come */
    uint64_t budget_ns;
    loopspin_gate_fn gate;
    void *gate_data;
    uint64_t wait_start; /* uv_hrtime() at the end of prepare */
    bool hot;            /* the last wait ended within the budget */
    loopspin_stats_t stats;
};

/* Polls the backend descriptor until it is readable or budget_ns has passed. */
static bool loopspin_poll(int fd, uint64_t start, uint64_t budget_ns)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    for (;;) {
        if (poll(&pfd, 1, 0) > 0) return true;
        if (uv_hrtime() - start >= budget_ns) return false;
    }
}

static void loopspin_prepare_cb(uv_prepare_t *h)
{
    loopspin_t *s = h->data;
    uint64_t now = uv_hrtime();
    /* libuv's wait is non-blocking anyway with a callback pending; a timer due
     * within the budget shortens it. */
    int timeout_ms = uv_backend_timeout(h->loop);
    if (s->hot && timeout_ms != 0 && s->gate(s->gate_data)) {
        uint64_t budget = s->budget_ns;
        if (timeout_ms > 0 && (uint64_t)timeout_ms * 1000000 < budget)
            budget = (uint64_t)timeout_ms * 1000000;
        s->stats.spins++;
        if (loopspin_poll(uv_backend_fd(h->loop), now, budget)) s->stats.caught++;
        s->stats.spin_ns += uv_hrtime() - now;
    }
    s->wait_start = now;
}

static void loopspin_check_cb(uv_check_t *h)
{
    loopspin_t *s = h->data;
    s->hot = uv_hrtime() - s->wait_start < s->budget_ns;
}

loopspin_t *loopspin_new(uv_loop_t *loop, unsigned budget_us, loopspin_gate_fn gate, void *data)
{
    if (budget_us == 0) return NULL;
    loopspin_t *s = calloc(1, sizeof *s);
    if (!s) abort();
    s->budget_ns = (uint64_t)budget_us * 1000;
    s->gate = gate;
    s->gate_data = data;
    uv_prepare_init(loop, &s->prepare);
    uv_check_init(loop, &s->check);
    s->prepare.data = s->check.data = s;
    /* Neither keeps the loop alive. */
    uv_unref((uv_handle_t *)&s->prepare);
    uv_unref((uv_handle_t *)&s->check);
    uv_prepare_start(&s->prepare, loopspin_prepare_cb);
    uv_check_start(&s->check, loopspin_check_cb);
    return s;
}

static void loopspin_closed_cb(uv_handle_t *h)
{
    loopspin_t *s = h->data;
    if (--s->closing == 0) free(s);
}

void loopspin_close(loopspin_t *s)
{
    if (!s) return;
    s->closing = 2;
    uv_close((uv_handle_t *)&s->prepare, loopspin_closed_cb);
    uv_close((uv_handle_t *)&s->check, loopspin_closed_cb);
}

void loopspin_stats(const loopspin_t *s, loopspin_stats_t *out)
{
    *out = s ? s->stats : (loopspin_stats_t){0};
}
