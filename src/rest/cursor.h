/*
 * rest/cursor - opaque, signed keyset cursor tokens and the WHERE condition
 * that resumes an ordered read after the row a token names.
 *
 * An ordered read (order=... plus the primary key as tie-breaker, so the order
 * is total) returns `Link: <...&cursor=TOKEN>; rel="next"`, TOKEN naming the
 * last row sent by its sort values. The next request's `cursor=TOKEN` becomes
 * a keyset condition (rest_cursor_where) instead of an OFFSET, so a page costs
 * the same at row 10 and at row 10 million, and it is right with duplicate and
 * NULL sort values and mixed directions.
 *
 * Token: base64url (no padding) of
 *   version (1) | count (1) | per value: flag (1: 0 = NULL, 1 = value) + length (u32 BE) + bytes
 *   | HMAC-SHA256(key, context || payload), first 16 bytes
 * The context (the caller's description of the resource and its order, e.g.
 * "public.orders|o_orderdate.desc.nullslast,o_orderkey.asc") is signed but not
 * stored: a token is only accepted for the ordering it was made for. MACs are
 * compared in constant time. The key is CURSOR_SECRET, or random at start (then
 * tokens do not survive a restart).
 *
 * Values are PostgreSQL's text output of each sort key (the builder selects
 * them as extra, hidden columns `key::text AS lakeapi_kN`: aliased, or an
 * ORDER BY on the column becomes ambiguous); the condition casts the bound
 * text back with the catalog's type name, which round-trips exactly for every
 * type with a total order (ISO dates, UTC timestamps, shortest-exact floats).
 *
 * May include: db (libpq types only), util; OpenSSL.
 */
#ifndef LAKEAPI_REST_CURSOR_H
#define LAKEAPI_REST_CURSOR_H

#include <stdbool.h>
#include <stddef.h>

#include "lakeapi/arena.h"
#include "lakeapi/buf.h"

#define REST_CURSOR_MAX_KEYS  32
#define REST_CURSOR_MAX_TOKEN 8192 /* characters of base64url accepted */

typedef struct rest_cursor_keyring rest_cursor_keyring_t;

/* secret NULL or "": a random 32-byte key. NULL on failure (no randomness). */
rest_cursor_keyring_t *rest_cursor_keyring_new(const char *secret);
void rest_cursor_keyring_free(rest_cursor_keyring_t *k);
/*
 * The process-wide keyring, made on first use from secret (every loop of the
 * process must verify every other's tokens, so a random key is drawn once).
 * Never freed. NULL only without randomness.
 */
const rest_cursor_keyring_t *rest_cursor_keyring_shared(const char *secret);

/* The sort values of one row: n values, NULL entries are SQL NULLs. */
typedef struct rest_cursor_values {
    int n;
    const char **values;
    size_t *lens;
} rest_cursor_values_t;

/* Appends the token for vals to out. */
void rest_cursor_encode(const rest_cursor_keyring_t *k, const char *context,
                        const rest_cursor_values_t *vals, buf_t *out);

/*
 * Decodes and verifies a token made for context. On success returns 0 and
 * fills out (strings in the arena, NUL-terminated); -1 if the token is
 * malformed, forged, or was made for another ordering (answer 400).
 */
int rest_cursor_decode(const rest_cursor_keyring_t *k, const char *context, const char *token,
                       size_t len, arena_t *a, rest_cursor_values_t *out);

/* One sort key of the total order. expr and type come from the catalog only. */
typedef struct rest_cursor_key {
    const char *expr; /* SQL expression, e.g. "\"t\".\"o_orderdate\"" */
    const char *type; /* type to cast the bound text to, e.g. "date"; NULL = none */
    bool desc;
    bool nulls_first; /* where NULLs sort (PostgreSQL: last for asc, first for desc) */
    bool not_null;    /* the column cannot be NULL (lets the condition use a row comparison) */
} rest_cursor_key_t;

/* The effective NULL placement of an order term: explicit, else PostgreSQL's default. */
bool rest_cursor_nulls_first(bool desc, int nulls /* 0 default, 1 first, 2 last */);

/*
 * Appends to sql the condition "row sorts after vals" for keys (same count),
 * with every value a bound parameter: $next, $next+1, ... are appended to
 * params (pointers into vals). Returns the number of parameters added, or -1
 * if the counts differ. Shape: a leading range on the first key (index-usable)
 * AND the lexicographic expansion; a plain row comparison when every key is
 * NOT NULL, non-NULL-valued and in the same direction.
 */
int rest_cursor_where(const rest_cursor_key_t *keys, int nkeys, const rest_cursor_values_t *vals,
                      int next, buf_t *sql, const char **params, int max_params);

/*
 * The Link header value for the next page: path?query with any cursor= and
 * offset= removed and cursor=token appended, as `<...>; rel="next"`.
 */
void rest_cursor_link(const char *path, const char *raw_query, const char *token, buf_t *out);

#endif
