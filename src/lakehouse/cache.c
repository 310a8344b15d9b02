/*
 * lakehouse/cache - results of reads, shared: cached, coalesced, invalidated.
 *
 * The key is the statement with its blanks collapsed plus every parameter
 * (name, type, value; a NULL is distinct from "NULL"). An entry is:
 *   fresh   younger than LAKEHOUSE_CACHE_TTL: answered from memory ("hit");
 *   stale   younger than twice the TTL: answered from memory at once ("stale")
 *           while one background statement refreshes it;
 *   older   dropped, fetched again ("miss").
 * Reads that find their statement already out wait for it: a thousand
 * identical requests are one warehouse statement (coalescing). Entries are
 * kept in LRU order under a byte budget (LAKEHOUSE_CACHE_MB); a result larger
 * than the budget is answered and not kept.
 *
 * A write through lakeapi calls lh_cache_invalidate(table): the table's
 * entries go, and a read of it still in flight is detached - its waiters get
 * its answer, but it is not kept and later reads do not join it (they may
 * have been sent after the write).
 *
 * One cache serves every event loop of the process (shared.c holds it), under
 * one mutex. A miss runs its statement on the loop that asked first (the
 * entry's owner); a read from another loop joins it, and its answer is handed
 * to that loop through its mailbox with a reference to the result (results are
 * reference counted and read only once cached). The lock is never held while
 * a callback runs. A client that leaves is noticed on its own loop: the
 * owner's statement asks its own waiters, and a loop with waiters on another
 * loop's statement asks them every 250 ms (lh_remote_tick) and takes the gone
 * ones off; the statement is cancelled once no waiter is left anywhere.
 *
 * Ownership: the cache owns its entries, their results and waiter records.
 * An entry with a statement out stays allocated until that statement ends, or
 * until its owner's loop stops (lh_cache_detach).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"

#define LH_BUCKETS 4096

typedef struct lh_entry lh_entry_t;

struct lh_waiter {
    lh_read_cb cb;
    lh_wanted_fn wanted;
    void *data;
    lakehouse_t *lh; /* the loop its callback runs on ... */
    int member;      /* ... and its mailbox in the shared state */
    lh_waiter_t *next;
    /* Waiting for another loop's statement: on lh->remote_waits, checked by lh's own timer. */
    struct lh_entry *entry;
    lh_waiter_t *rprev, *rnext;
    bool remote;
};

struct lh_entry {
    lh_cache_t *cache;
    lakehouse_t *owner; /* the loop running its statement, while in_flight */
    char *key, *table, *sql;
    uint64_t hash;
    lh_param_t *params;
    int nparams;
    lh_result_t *result; /* NULL until the first answer */
    double fetched_at;
    size_t bytes;
    bool in_flight, linked;
    lh_waiter_t *waiters;
    lh_entry_t *hnext;
    lh_entry_t *lru_prev, *lru_next; /* lru_prev toward the most recently used */
};

struct lh_cache {
    lakehouse_shared_t *sh;
    pthread_mutex_t lock; /* everything below */
    double ttl_s;
    size_t budget, used;
    lh_entry_t *buckets[LH_BUCKETS];
    lh_entry_t *lru_head, *lru_tail; /* head: most recently used */
    lh_entry_t *orphans;             /* unlinked while their statement is out (via hnext) */
};

static uint64_t lh_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

char *lh_cache_key(const char *sql, const lh_param_t *params, int nparams)
{
    buf_t b;
    buf_init(&b);
    bool blank = false;
    char quote = 0;
    for (const char *p = sql; *p; p++) { /* collapse blanks outside quotes */
        char c = *p;
        if (quote) {
            buf_append_char(&b, c);
            if (c == quote) quote = 0;
            continue;
        }
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            blank = b.len > 0;
            continue;
        }
        if (blank) buf_append_char(&b, ' ');
        blank = false;
        if (c == '\'' || c == '`' || c == '"') quote = c;
        buf_append_char(&b, c);
    }
    for (int i = 0; i < nparams; i++) { /* lengths make the encoding unambiguous */
        const lh_param_t *q = &params[i];
        const char *t = q->type ? q->type : "STRING";
        buf_printf(&b, "\x1f%zu:%s:%s:", strlen(q->name), q->name, t);
        if (q->value)
            buf_printf(&b, "%zu:%s", strlen(q->value), q->value);
        else
            buf_append_str(&b, "null");
    }
    buf_append(&b, "", 1);
    return buf_steal(&b);
}

lh_cache_t *lh_cache_new(lakehouse_shared_t *sh, double ttl_s, size_t budget)
{
    lh_cache_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->sh = sh;
    pthread_mutex_init(&c->lock, NULL);
    c->ttl_s = ttl_s;
    c->budget = budget;
    return c;
}

/* ---- entries ---- */

static void lh_lru_unlink(lh_cache_t *c, lh_entry_t *e)
{
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else if (c->lru_head == e)
        c->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else if (c->lru_tail == e)
        c->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lh_lru_front(lh_cache_t *c, lh_entry_t *e)
{
    lh_lru_unlink(c, e);
    e->lru_next = c->lru_head;
    if (c->lru_head) c->lru_head->lru_prev = e;
    c->lru_head = e;
    if (!c->lru_tail) c->lru_tail = e;
}

/* Takes e out of the table and the LRU list (it may live on while its statement is out). */
static void lh_entry_unlink(lh_cache_t *c, lh_entry_t *e)
{
    if (!e->linked) return;
    lh_entry_t **pp = &c->buckets[e->hash % LH_BUCKETS];
    while (*pp && *pp != e)
        pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    lh_lru_unlink(c, e);
    c->used -= e->bytes;
    e->linked = false;
}

static void lh_entry_free(lh_entry_t *e)
{
    for (int i = 0; i < e->nparams; i++) {
        free((char *)e->params[i].name);
        free((char *)e->params[i].value);
        free((char *)e->params[i].type);
    }
    free(e->params);
    free(e->key);
    free(e->table);
    free(e->sql);
    lh_result_free(e->result);
    free(e);
}

/* Unlinks and frees e, unless its statement is out (then it is freed when that ends). */
static void lh_entry_drop(lh_cache_t *c, lh_entry_t *e)
{
    if (!e->linked) return;
    lh_entry_unlink(c, e);
    if (!e->in_flight) {
        lh_entry_free(e);
        return;
    }
    e->hnext = c->orphans;
    c->orphans = e;
}

static void lh_orphan_free(lh_cache_t *c, lh_entry_t *e)
{
    for (lh_entry_t **pp = &c->orphans; *pp; pp = &(*pp)->hnext) {
        if (*pp == e) {
            *pp = e->hnext;
            break;
        }
    }
    lh_entry_free(e);
}

static lh_entry_t *lh_find(lh_cache_t *c, const char *key, uint64_t hash)
{
    for (lh_entry_t *e = c->buckets[hash % LH_BUCKETS]; e; e = e->hnext)
        if (e->hash == hash && strcmp(e->key, key) == 0) return e;
    return NULL;
}

static char *lh_dup(const char *s)
{
    if (!s) return NULL;
    char *p = strdup(s);
    if (!p) abort();
    return p;
}

static lh_entry_t *lh_entry_new(lh_cache_t *c, char *key, uint64_t hash, const char *table,
                                const char *sql, const lh_param_t *params, int n)
{
    lh_entry_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    e->cache = c;
    e->key = key;
    e->hash = hash;
    e->table = lh_dup(table);
    e->sql = lh_dup(sql);
    e->params = calloc((size_t)(n > 0 ? n : 1), sizeof *e->params);
    if (!e->params) abort();
    for (int i = 0; i < n; i++) {
        e->params[i].name = lh_dup(params[i].name);
        e->params[i].value = lh_dup(params[i].value);
        e->params[i].type = lh_dup(params[i].type);
    }
    e->nparams = n;
    e->hnext = c->buckets[hash % LH_BUCKETS];
    c->buckets[hash % LH_BUCKETS] = e;
    e->linked = true;
    lh_lru_front(c, e);
    return e;
}

/* ---- waiters on another loop's statement ---- */

#define LH_REMOTE_TICK_MS 250

/* Under the lock. */
static void lh_remote_link(lh_waiter_t *w, lh_entry_t *e)
{
    lakehouse_t *lh = w->lh;
    w->entry = e;
    w->remote = true;
    w->rprev = NULL;
    w->rnext = lh->remote_waits;
    if (lh->remote_waits) lh->remote_waits->rprev = w;
    lh->remote_waits = w;
}

/* Under the lock: w is off its entry (answered or gone). */
static void lh_remote_unlink(lh_waiter_t *w)
{
    if (!w->remote) return;
    if (w->rprev)
        w->rprev->rnext = w->rnext;
    else
        w->lh->remote_waits = w->rnext;
    if (w->rnext) w->rnext->rprev = w->rprev;
    w->remote = false;
    w->rprev = w->rnext = NULL;
}

static void lh_remote_unlink_all(lh_waiter_t *w)
{
    for (; w; w = w->next)
        lh_remote_unlink(w);
}

/* On lh's loop: its clients that left stop waiting for other loops' statements. */
static void lh_remote_tick(uv_timer_t *t)
{
    lakehouse_t *lh = t->data;
    lh_cache_t *c = lh->cache;
    lh_waiter_t *gone = NULL;
    pthread_mutex_lock(&c->lock);
    for (lh_waiter_t *w = lh->remote_waits, *n; w; w = n) {
        n = w->rnext;
        if (!w->wanted || w->wanted(w->data)) continue;
        lh_remote_unlink(w);
        lh_waiter_t **pp = &w->entry->waiters;
        while (*pp && *pp != w)
            pp = &(*pp)->next;
        if (*pp) *pp = w->next;
        w->next = gone;
        gone = w;
    }
    bool idle = lh->remote_waits == NULL;
    pthread_mutex_unlock(&c->lock);
    if (idle) uv_timer_stop(t);
    lh_outcome_t o = {.status = 499, .detail = "client closed request"};
    for (lh_waiter_t *n; gone; gone = n) {
        n = gone->next;
        gone->cb(&o, "miss", gone->data);
        free(gone);
    }
}

static void lh_remote_watch(lakehouse_t *lh)
{
    if (!lh->remote_timer_ready) {
        uv_timer_init(lh->loop, &lh->remote_timer);
        lh->remote_timer.data = lh;
        lh->remote_timer_ready = true;
        uv_unref((uv_handle_t *)&lh->remote_timer);
    }
    if (!uv_is_active((uv_handle_t *)&lh->remote_timer))
        uv_timer_start(&lh->remote_timer, lh_remote_tick, LH_REMOTE_TICK_MS, LH_REMOTE_TICK_MS);
}

/* ---- answers ---- */

/* A waiter's answer on its own loop: the outcome copied, the result a reference. */
typedef struct lh_delivery {
    lh_waiter_t *w;
    int status, retry_after;
    char *detail;
    char wh_state[24];
    bool has_state;
    lh_result_t *result;
} lh_delivery_t;

static void lh_delivery_free(lh_delivery_t *d)
{
    lh_result_free(d->result);
    free(d->detail);
    free(d->w);
    free(d);
}

static void lh_delivery_run(void *arg)
{
    lh_delivery_t *d = arg;
    lh_outcome_t o = {.status = d->status,
                      .detail = d->detail,
                      .retry_after = d->retry_after,
                      .wh_state = d->has_state ? d->wh_state : NULL,
                      .result = d->result};
    d->w->cb(&o, "miss", d->w->data);
    lh_delivery_free(d);
}

/* Answers the waiters w (taken off their entry) with o: here when they are mine, else posted. */
static void lh_answer_waiters(lh_cache_t *c, lakehouse_t *here, lh_waiter_t *w,
                              const lh_outcome_t *o)
{
    for (lh_waiter_t *n; w; w = n) {
        n = w->next;
        if (w->lh == here) {
            w->cb(o, "miss", w->data);
            free(w);
            continue;
        }
        lh_delivery_t *d = calloc(1, sizeof *d);
        if (!d) abort();
        d->w = w;
        d->status = o->status;
        d->retry_after = o->retry_after;
        if (o->detail && !(d->detail = strdup(o->detail))) abort();
        if (o->wh_state) {
            d->has_state = true;
            snprintf(d->wh_state, sizeof d->wh_state, "%s", o->wh_state);
        }
        d->result = lh_result_share(o->result);
        /* A loop that left has no request waiting any more (it drained first). */
        if (!lh_post(c->sh, w->member, lh_delivery_run, d)) lh_delivery_free(d);
    }
}

/* ---- statements ---- */

static bool lh_entry_wanted(void *data)
{
    lh_entry_t *e = data;
    lh_cache_t *c = e->cache;
    pthread_mutex_lock(&c->lock);
    if (e->result) { /* a background refresh: nobody waits, it still matters */
        pthread_mutex_unlock(&c->lock);
        return true;
    }
    lh_waiter_t *gone = NULL;
    for (lh_waiter_t **pp = &e->waiters; *pp;) {
        lh_waiter_t *w = *pp;
        /* Only the owner's own clients can be asked here (their exchanges are on this loop). */
        if (w->lh == e->owner && w->wanted && !w->wanted(w->data)) {
            *pp = w->next;
            w->next = gone;
            gone = w;
        } else {
            pp = &w->next;
        }
    }
    bool wanted = e->waiters != NULL;
    lakehouse_t *owner = e->owner;
    pthread_mutex_unlock(&c->lock);
    lh_outcome_t o = {.status = 499, .detail = "client closed request"};
    lh_answer_waiters(c, owner, gone, &o);
    return wanted;
}

static void lh_evict(lh_cache_t *c, lh_entry_t *keep)
{
    for (lh_entry_t *e = c->lru_tail; e && c->used > c->budget;) {
        lh_entry_t *prev = e->lru_prev;
        if (e != keep && e->result) lh_entry_drop(c, e);
        e = prev;
    }
}

static void lh_entry_done(const lh_outcome_t *o, void *data)
{
    lh_entry_t *e = data;
    lh_cache_t *c = e->cache;
    pthread_mutex_lock(&c->lock);
    lakehouse_t *owner = e->owner;
    e->in_flight = false;
    e->owner = NULL;
    lh_waiter_t *w = e->waiters;
    e->waiters = NULL;
    lh_remote_unlink_all(w);
    lh_outcome_t mine = *o;
    if (o->status == 0) {
        lh_result_free(e->result);
        e->result = o->result;
        e->fetched_at = lh_now();
        if (e->linked) {
            c->used -= e->bytes;
            e->bytes = lh_result_bytes(e->result) + strlen(e->key);
            c->used += e->bytes;
        }
        mine.result = lh_result_share(e->result); /* the entry may go before the answers */
    }
    if (!e->linked) {
        lh_orphan_free(c, e); /* invalidated while it ran */
    } else if (o->status != 0 && !e->result) {
        lh_entry_drop(c, e); /* a failure is not cached */
    } else if (e->bytes > c->budget) {
        lh_entry_drop(c, e);
    } else {
        lh_evict(c, e);
    }
    pthread_mutex_unlock(&c->lock);
    lh_answer_waiters(c, owner, w, &mine);
    if (o->status == 0) lh_result_free(mine.result);
}

/* Marks e as fetched by lh; the statement itself starts after the lock is released. */
static void lh_entry_claim(lh_entry_t *e, lakehouse_t *lh)
{
    e->in_flight = true;
    e->owner = lh;
}

static void lh_entry_fetch(lh_entry_t *e, lakehouse_t *lh)
{
    lh_stmt_run(lh, e->sql, e->params, e->nparams, lh_entry_done, lh_entry_wanted, e);
}

/* A fresh or stale answer for e, if it has one: true when cb was called. Takes the lock. */
static bool lh_cache_answer(lh_cache_t *c, lakehouse_t *lh, const char *key, uint64_t hash,
                            lh_read_cb cb, void *data)
{
    pthread_mutex_lock(&c->lock);
    lh_entry_t *e = lh_find(c, key, hash);
    if (!e || !e->result) {
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    double age = lh_now() - e->fetched_at;
    if (age >= 2 * c->ttl_s) {
        lh_entry_drop(c, e); /* too old to answer with; a refresh out ends unkept */
        pthread_mutex_unlock(&c->lock);
        return false;
    }
    bool fresh = age < c->ttl_s;
    if (fresh)
        lh->m.hits++;
    else
        lh->m.stale++;
    lh_lru_front(c, e);
    bool refresh = !fresh && !e->in_flight;
    if (refresh) lh_entry_claim(e, lh);
    lh_result_t *r = lh_result_share(e->result);
    pthread_mutex_unlock(&c->lock);
    if (refresh) lh_entry_fetch(e, lh); /* in flight: e stays allocated until it ends */
    lh_outcome_t o = {.result = r};
    cb(&o, fresh ? "hit" : "stale", data);
    lh_result_free(r);
    return true;
}

void lh_cache_read(lakehouse_t *lh, const char *table, const char *sql, const lh_param_t *params,
                   int nparams, lh_read_cb cb, lh_wanted_fn wanted, void *data)
{
    lh_cache_t *c = lh->cache;
    char *key = lh_cache_key(sql, params, nparams);
    uint64_t hash = lh_hash(key);
    if (lh_cache_answer(c, lh, key, hash, cb, data)) {
        free(key);
        return;
    }
    lh->m.misses++;
    int retry_after = 0;
    if (!lh_warehouse_usable(lh, &retry_after)) {
        free(key);
        char detail[200], st[24];
        lh_wh_get(lh, st, NULL, 0);
        snprintf(detail, sizeof detail, "SQL warehouse %s is %s", lh->warehouse_id, st);
        lh_outcome_t o = {
            .status = 503, .detail = detail, .retry_after = retry_after, .wh_state = st};
        cb(&o, "miss", data);
        return;
    }
    lh_waiter_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->cb = cb;
    w->wanted = wanted;
    w->data = data;
    w->lh = lh;
    w->member = lh->member;
    pthread_mutex_lock(&c->lock);
    lh_entry_t *e = lh_find(c, key, hash);
    if (e && (e->in_flight || !e->result)) { /* its answer is on the way: wait with the others */
        free(key);
        lh->m.coalesced++;
        w->next = e->waiters;
        e->waiters = w;
        bool remote = e->owner != lh;
        if (remote) lh_remote_link(w, e);
        pthread_mutex_unlock(&c->lock);
        if (remote) lh_remote_watch(lh);
        return;
    }
    if (e) { /* answered between the two looks: that answer will do */
        lh_result_t *r = lh_result_share(e->result);
        pthread_mutex_unlock(&c->lock);
        free(key);
        free(w);
        lh_outcome_t o = {.result = r};
        cb(&o, "hit", data);
        lh_result_free(r);
        return;
    }
    e = lh_entry_new(c, key, hash, table, sql, params, nparams);
    e->waiters = w;
    lh_entry_claim(e, lh);
    pthread_mutex_unlock(&c->lock);
    lh_entry_fetch(e, lh);
}

void lh_cache_invalidate(lh_cache_t *c, const char *table)
{
    pthread_mutex_lock(&c->lock);
    for (lh_entry_t *e = c->lru_head, *n; e; e = n) {
        n = e->lru_next;
        if (e->table && strcmp(e->table, table) == 0) lh_entry_drop(c, e);
    }
    pthread_mutex_unlock(&c->lock);
}

void lh_cache_clear(lh_cache_t *c)
{
    pthread_mutex_lock(&c->lock);
    for (lh_entry_t *e = c->lru_head, *n; e; e = n) {
        n = e->lru_next;
        lh_entry_drop(c, e);
    }
    pthread_mutex_unlock(&c->lock);
}

/* Under the lock: e's statement will never answer; its waiters are moved to *out. */
static void lh_entry_abandon(lh_entry_t *e, lh_waiter_t **out)
{
    for (lh_waiter_t *w = e->waiters, *n; w; w = n) {
        n = w->next;
        lh_remote_unlink(w);
        w->next = *out;
        *out = w;
    }
    e->waiters = NULL;
    e->in_flight = false;
    e->owner = NULL;
}

void lh_cache_detach(lh_cache_t *c, lakehouse_t *lh)
{
    lh_waiter_t *w = NULL;
    pthread_mutex_lock(&c->lock);
    for (int b = 0; b < LH_BUCKETS; b++) {
        for (lh_entry_t *e = c->buckets[b], *n; e; e = n) {
            n = e->hnext;
            if (!e->in_flight || e->owner != lh) continue;
            lh_entry_abandon(e, &w);
            if (!e->result) lh_entry_drop(c, e); /* nothing to keep */
        }
    }
    for (lh_entry_t *e = c->orphans, *n; e; e = n) {
        n = e->hnext;
        if (!e->in_flight || e->owner != lh) continue;
        lh_entry_abandon(e, &w);
        lh_orphan_free(c, e);
    }
    pthread_mutex_unlock(&c->lock);
    /* Its own waiters are gone with its drained server: only other loops' are answered. */
    for (lh_waiter_t **pp = &w; *pp;) {
        lh_waiter_t *x = *pp;
        if (x->lh == lh) {
            *pp = x->next;
            free(x);
        } else {
            pp = &x->next;
        }
    }
    lh_outcome_t o = {
        .status = 503, .detail = "the event loop running this read stopped", .retry_after = 1};
    lh_answer_waiters(c, lh, w, &o);
}

static void lh_chain_free(lh_entry_t *e)
{
    for (lh_entry_t *n; e; e = n) {
        n = e->hnext;
        for (lh_waiter_t *w = e->waiters, *wn; w; w = wn) {
            wn = w->next;
            free(w);
        }
        lh_entry_free(e);
    }
}

void lh_cache_free(lh_cache_t *c)
{
    if (!c) return;
    /* Statements are gone (lh_stmts_drop) by now: in-flight entries are plain memory. */
    for (int b = 0; b < LH_BUCKETS; b++)
        lh_chain_free(c->buckets[b]);
    lh_chain_free(c->orphans);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
