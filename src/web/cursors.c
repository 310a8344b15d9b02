/*
 * cursors - the previous cursors of recently served cursor pages, so a
 * sequential reader's page costs one statement instead of two.
 *
 * The previous cursor of a page after cursor N (page size P) is the
 * (P+1)-th largest key <= N (web_sql_prev_cursor): correct for sparse keys,
 * but a backward scan of P+1 index entries, as costly as the page itself. A
 * reader that walks forward asks for N right after a page that ended at N,
 * and that page already tells the answer: its P rows are the P largest keys
 * <= N, so the previous cursor of N is the largest key <= that page's own
 * cursor C. Which is C itself when C was a row key (the page's cursor came
 * from this cache: only row keys are stored), or what the statement that
 * computed C's previous cursor also returned (its "floor" column).
 *
 * A direct-mapped table keyed by (N, P): a collision simply overwrites, a
 * miss falls back to the statement. Entries expire after a TTL, so rows
 * inserted or deleted elsewhere (the synced-table pipeline) are seen within
 * it; writes through lakeapi never change keys. Loop thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

int web_cursor_cache_init(web_cursor_cache_t *c, int slots_log2, double ttl_s)
{
    memset(c, 0, sizeof *c);
    c->mask = (1u << slots_log2) - 1;
    c->slots = calloc((size_t)c->mask + 1, sizeof *c->slots);
    c->ttl_ns = (uint64_t)(ttl_s * 1e9);
    return c->slots ? 0 : -1;
}

void web_cursor_cache_dispose(web_cursor_cache_t *c)
{
    free(c->slots);
    c->slots = NULL;
}

static web_cursor_slot_t *cursors_slot(const web_cursor_cache_t *c, int64_t cursor, int64_t size)
{
    uint64_t h = ((uint64_t)cursor * 0x9E3779B97F4A7C15ull) ^ ((uint64_t)size << 17);
    return &c->slots[(h >> 40) & c->mask];
}

void web_cursor_cache_put(web_cursor_cache_t *c, int64_t cursor, int64_t page_size, int64_t prev)
{
    if (!c->slots) return;
    web_cursor_slot_t *s = cursors_slot(c, cursor, page_size);
    s->cursor = cursor;
    s->page_size = page_size;
    s->prev = prev;
    s->stored_ns = uv_hrtime();
    c->puts++;
}

bool web_cursor_cache_get(web_cursor_cache_t *c, int64_t cursor, int64_t page_size, int64_t *prev)
{
    if (!c->slots) return false;
    const web_cursor_slot_t *s = cursors_slot(c, cursor, page_size);
    if (s->stored_ns == 0 || s->cursor != cursor || s->page_size != page_size ||
        uv_hrtime() - s->stored_ns > c->ttl_ns) {
        c->misses++;
        return false;
    }
    *prev = s->prev;
    c->hits++;
    return true;
}

void web_cursor_cache_clear(web_cursor_cache_t *c)
{
    if (c->slots) memset(c->slots, 0, sizeof *c->slots * ((size_t)c->mask + 1));
}
