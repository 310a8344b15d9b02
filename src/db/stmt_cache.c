/*
 * db/stmt_cache - statements made at run time (the Data API builds SQL per
 * request shape), keyed by their SQL text and kept in an LRU of pool slots.
 *
 * A slot is an ordinary statement id, so every connection prepares it lazily
 * on first use exactly as it does the statements registered before start
 * (conn.c). When the cache is full, the least recently used slot that no
 * queued or in-flight query holds takes the new SQL under a new generation,
 * so its server-side name changes ("lk<id>g<gen>"); a connection that had
 * the old one prepared DEALLOCATEs it before preparing the new one. Lookups
 * compare a 64-bit hash first; the cache is small enough for a linear scan
 * to cost less than the request's parsing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"

#define DB_STMT_CACHE_DEFAULT 256

/*
 * Eight bytes per step (a multiply and a rotate-xor each): a Data API read's
 * SQL is a few hundred bytes, and FNV-1a's byte at a time was a twentieth of
 * the request. Equal texts hash equal; a collision only costs the strcmp.
 */
static uint64_t stmt_hash(const char *s)
{
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    size_t n = strlen(s);
    uint64_t h = n * k, w;
    for (; n >= 8; n -= 8, s += 8) {
        memcpy(&w, s, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * k;
    return h ^ (h >> 32);
}

static int stmt_new_slot(db_pool_t *p)
{
    void *grown = realloc(p->stmts, sizeof *p->stmts * (size_t)(p->nstmts + 1));
    if (!grown) abort();
    p->stmts = grown;
    int id = p->nstmts++;
    memset(&p->stmts[id], 0, sizeof p->stmts[id]);
    p->stmts[id].dynamic = true;
    p->ndynamic++;
    return id;
}

/* The least recently used free slot, or -1 when every slot is in use. */
static int stmt_victim(const db_pool_t *p)
{
    int best = -1;
    for (int i = 0; i < p->nstmts; i++) {
        if (!p->stmts[i].dynamic || p->stmts[i].refs) continue;
        if (best < 0 || p->stmts[i].last_used < p->stmts[best].last_used) best = i;
    }
    return best;
}

static int stmt_lookup(db_pool_t *p, const char *sql, int nparams, db_stmt_kind_t kind)
{
    uint64_t h = stmt_hash(sql);
    for (int i = 0; i < p->nstmts; i++) {
        if (p->stmts[i].dynamic && p->stmts[i].hash == h && p->stmts[i].kind == kind &&
            p->stmts[i].nparams == nparams && !strcmp(p->stmts[i].sql, sql))
            return i;
    }
    int cap = p->cfg.stmt_cache_size > 0 ? p->cfg.stmt_cache_size : DB_STMT_CACHE_DEFAULT;
    int id = p->ndynamic < cap ? -1 : stmt_victim(p);
    if (id < 0) {
        id = stmt_new_slot(p);
    } else {
        free(p->stmts[id].sql);
        p->stmts[id].gen++;
    }
    p->stmts[id].sql = strdup(sql);
    if (!p->stmts[id].sql) abort();
    snprintf(p->stmts[id].name, sizeof p->stmts[id].name, "lk%dg%u", id, p->stmts[id].gen);
    p->stmts[id].nparams = nparams;
    p->stmts[id].kind = kind;
    p->stmts[id].hash = h;
    return id;
}

int db_pool_stmt_for_sql(db_pool_t *p, const char *sql, int nparams, db_stmt_kind_t kind)
{
    int id = stmt_lookup(p, sql, nparams, kind);
    p->stmts[id].refs++; /* released when the query that uses it completes */
    p->stmts[id].last_used = ++p->lru_clock;
    return id;
}

void db_pool_query_sql(db_pool_t *p, const char *sql, int nparams, const char *const *values,
                       db_stmt_kind_t kind, db_result_fn cb, void *data)
{
    db_pool_query(p, db_pool_stmt_for_sql(p, sql, nparams, kind), nparams, values, cb, data);
}

void db_stmt_release(db_pool_t *p, int stmt)
{
    if (stmt < p->nstmts && p->stmts[stmt].dynamic && p->stmts[stmt].refs > 0)
        p->stmts[stmt].refs--;
}

int db_pool_stmt_cache_size(const db_pool_t *p)
{
    return p->ndynamic;
}
