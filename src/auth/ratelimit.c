/*
 * auth/ratelimit - token buckets: RATE_LIMIT_BURST requests at once, refilled
 * at RATE_LIMIT_RPS per second, one bucket per key (role + subject for an
 * identity, the client address for anonymous requests).
 *
 * Buckets live in a bounded LRU: a key not seen for long enough to be
 * evicted would have refilled anyway unless the table is flooded, and a flood
 * of fresh keys only ever costs `capacity` buckets.
 *
 * One table per process: with WORKERS > 1 every loop's auth_t holds a
 * reference to the same limiter (auth_use_ratelimit), so an identity gets its
 * limit once whatever loop its connections land on. A mutex guards the table;
 * the key's SHA-256 is computed before taking it, so the critical section is
 * a hash lookup, a list move and a few floating-point operations (~100 ns).
 * The limiter is freed by whoever drops the last reference.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "auth/internal.h"

/* Buckets held at most: 16384 x ~100 bytes, whatever the flood of identities. */
#define AUTH_RATE_TABLE_MAX 16384

typedef struct bucket {
    double tokens;
    double last_s;
} bucket_t;

struct auth_ratelimit {
    double rps;
    int burst;
    atomic_int refs;
    pthread_mutex_t lock; /* guards table and every bucket in it */
    auth_lru_t *table;
};

auth_ratelimit_t *auth_ratelimit_new(double rps, int burst, size_t capacity)
{
    auth_ratelimit_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    r->rps = rps > 0 ? rps : 1;
    r->burst = burst > 0 ? burst : 1;
    atomic_init(&r->refs, 1);
    pthread_mutex_init(&r->lock, NULL);
    r->table = auth_lru_new(capacity, free);
    return r;
}

auth_ratelimit_t *auth_ratelimit_from_config(const config_t *cfg)
{
    if (cfg->rate_limit_rps <= 0) return NULL;
    return auth_ratelimit_new(cfg->rate_limit_rps, auth_rate_burst(cfg), AUTH_RATE_TABLE_MAX);
}

auth_ratelimit_t *auth_ratelimit_share(auth_ratelimit_t *r)
{
    if (r) atomic_fetch_add(&r->refs, 1);
    return r;
}

void auth_ratelimit_free(auth_ratelimit_t *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    auth_lru_free(r->table);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

size_t auth_ratelimit_size(auth_ratelimit_t *r)
{
    pthread_mutex_lock(&r->lock);
    size_t n = auth_lru_size(r->table);
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* Under r->lock: refills b to now_s and takes a token when there is one. */
static auth_rate_decision_t rate_take_locked(const auth_ratelimit_t *r, bucket_t *b, double now_s)
{
    /* Loops read the clock on their own threads: a time older than the bucket's is "now". */
    double elapsed = now_s - b->last_s;
    if (elapsed > 0) {
        b->tokens = fmin((double)r->burst, b->tokens + elapsed * r->rps);
        b->last_s = now_s;
    }
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

auth_rate_decision_t auth_ratelimit_take(auth_ratelimit_t *r, const char *key, size_t keylen,
                                         double now_s, bool *evicted)
{
    unsigned char digest[32];
    auth_digest(key, keylen, digest);
    *evicted = false;
    pthread_mutex_lock(&r->lock);
    bucket_t *b = auth_lru_get(r->table, digest);
    if (!b) {
        b = malloc(sizeof *b);
        if (!b) abort();
        b->tokens = r->burst;
        b->last_s = now_s;
        *evicted = auth_lru_put(r->table, digest, b);
    }
    auth_rate_decision_t d = rate_take_locked(r, b, now_s);
    pthread_mutex_unlock(&r->lock);
    return d;
}
