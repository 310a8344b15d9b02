/*
 * auth/ratelimit - token buckets: RATE_LIMIT_BURST requests at once, refilled
 * at RATE_LIMIT_RPS per second, one bucket per key (role + subject for an
 * identity, the client address for anonymous requests).
 *
 * Buckets live in a bounded LRU: a key not seen for long enough to be
 * evicted would have refilled anyway unless the table is flooded, and a flood
 * of fresh keys only ever costs `capacity` buckets. One limiter per loop.
 */
#include <math.h>
#include <stdlib.h>

#include "auth/internal.h"

typedef struct bucket {
    double tokens;
    double last_s;
} bucket_t;

struct auth_ratelimit {
    double rps;
    int burst;
    auth_lru_t *table;
};

auth_ratelimit_t *auth_ratelimit_new(double rps, int burst, size_t capacity)
{
    auth_ratelimit_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->rps = rps > 0 ? rps : 1;
    r->burst = burst > 0 ? burst : 1;
    r->table = auth_lru_new(capacity, free);
    return r;
}

void auth_ratelimit_free(auth_ratelimit_t *r)
{
    if (!r) return;
    auth_lru_free(r->table);
    free(r);
}

size_t auth_ratelimit_size(const auth_ratelimit_t *r)
{
    return auth_lru_size(r->table);
}

auth_rate_decision_t auth_ratelimit_take(auth_ratelimit_t *r, const char *key, size_t keylen,
                                         double now_s, bool *evicted)
{
    unsigned char digest[32];
    auth_digest(key, keylen, digest);
    *evicted = false;
    bucket_t *b = auth_lru_get(r->table, digest);
    if (!b) {
        b = malloc(sizeof *b);
        if (!b) abort();
        b->tokens = r->burst;
        b->last_s = now_s;
        *evicted = auth_lru_put(r->table, digest, b);
    }
    double elapsed = now_s - b->last_s;
    if (elapsed > 0) b->tokens = fmin((double)r->burst, b->tokens + elapsed * r->rps);
    b->last_s = now_s;
    auth_rate_decision_t d = {0};
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        d.allowed = true;
    } else {
        d.retry_after = (int)ceil((1.0 - b->tokens) / r->rps);
        if (d.retry_after < 1) d.retry_after = 1;
    }
    d.remaining = (int)floor(b->tokens);
    d.reset = (int)ceil(((double)r->burst - b->tokens) / r->rps);
    return d;
}
