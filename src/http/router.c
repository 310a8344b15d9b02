/*
 * http/router - (method, path) -> route (see include/lakeapi/router.h).
 *
 * Patterns are pre-split into segments when added. A lookup splits the path
 * once, then checks every route (there are a few dozen): a route matches when
 * its segment count is equal and each literal segment equals the decoded path
 * segment. Among the routes that match path and method, the most specific
 * wins: routes are ranked by a bit mask with one bit per segment, set for a
 * literal, first segment most significant, so a literal beats a parameter at
 * the first position where two routes differ whatever the registration order;
 * ties keep registration order. Only the winner's parameters are decoded into
 * the arena; matching itself does not allocate (segments are compared raw
 * unless they contain '%').
 */
#include "lakeapi/router.h"

#include <stdlib.h>
#include <string.h>

#include "http/parser.h"

#define ROUTER_MAX_SEGMENTS 32

typedef struct router_seg {
    const char *lit; /* literal text, NULL for a parameter */
    size_t len;
} router_seg_t;

typedef struct router_entry {
    route_t route;
    int nsegs;
    uint32_t rank; /* bit (nsegs-1-i) set when segment i is literal */
    router_seg_t segs[ROUTER_MAX_SEGMENTS];
} router_entry_t;

struct router {
    router_entry_t *entries;
    int count, cap;
};

/* A path split into raw segments, each decoded lazily only if it has a '%'. */
typedef struct router_path {
    int n;
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t len[ROUTER_MAX_SEGMENTS];
    char dec[ROUTER_MAX_SEGMENTS][128];   /* decoded copy of an escaped segment */
    ssize_t dec_len[ROUTER_MAX_SEGMENTS]; /* -1 not decoded / not decodable here */
    bool pct[ROUTER_MAX_SEGMENTS];        /* the raw segment has a '%' */
} router_path_t;

router_t *router_new(void)
{
    return calloc(1, sizeof(router_t));
}

void router_free(router_t *r)
{
    if (!r) return;
    free(r->entries);
    free(r);
}

/* "{name}" or "{name:int}" / "{name:str}" */
static bool router_param_ok(const char *s, size_t n)
{
    if (n < 3 || s[0] != '{' || s[n - 1] != '}') return false;
    size_t i = 1;
    while (i < n - 1 && (s[i] == '_' || (s[i] >= 'a' && s[i] <= 'z') ||
                         (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
        i++;
    if (i == 1) return false;
    if (i == n - 1) return true;
    if (s[i] != ':') return false;
    size_t tl = n - 1 - (i + 1);
    const char *t = s + i + 1;
    return (tl == 3 && memcmp(t, "int", 3) == 0) || (tl == 3 && memcmp(t, "str", 3) == 0);
}

static int router_split_pattern(const char *pattern, router_entry_t *e)
{
    if (pattern[0] != '/') return -1;
    const char *s = pattern + 1;
    e->nsegs = 0;
    e->rank = 0;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (e->nsegs == ROUTER_MAX_SEGMENTS) return -1;
        router_seg_t *g = &e->segs[e->nsegs++];
        if (n > 0 && s[0] == '{') {
            if (!router_param_ok(s, n)) return -1;
            g->lit = NULL;
            g->len = 0;
        } else {
            if (memchr(s, '{', n) || memchr(s, '}', n) || memchr(s, '%', n)) return -1;
            g->lit = s;
            g->len = n;
        }
        if (!slash) break;
        s = slash + 1;
    }
    for (int i = 0; i < e->nsegs; i++)
        if (e->segs[i].lit) e->rank |= 1u << (e->nsegs - 1 - i);
    return 0;
}

int router_add(router_t *r, unsigned methods, const char *pattern, http_handler_fn handler,
               void *data, const void *doc)
{
    if (!pattern || !handler || methods == 0) return -1;
    router_entry_t e;
    if (router_split_pattern(pattern, &e) != 0) return -1;
    int nparams = 0;
    for (int i = 0; i < e.nsegs; i++)
        nparams += e.segs[i].lit == NULL;
    if (nparams > ROUTER_MAX_PARAMS) return -1;
    if (r->count == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        router_entry_t *p = realloc(r->entries, (size_t)cap * sizeof *p);
        if (!p) return -1;
        r->entries = p;
        r->cap = cap;
    }
    e.route = (route_t){
        .methods = methods, .pattern = pattern, .handler = handler, .data = data, .doc = doc};
    r->entries[r->count++] = e;
    return 0;
}

int router_count(const router_t *r)
{
    return r->count;
}

const route_t *router_at(const router_t *r, int i)
{
    return (i >= 0 && i < r->count) ? &r->entries[i].route : NULL;
}

static int router_split_path(const char *path, router_path_t *p)
{
    if (path[0] != '/') return -1;
    const char *s = path + 1;
    p->n = 0;
    for (;;) {
        const char *slash = strchr(s, '/');
        size_t n = slash ? (size_t)(slash - s) : strlen(s);
        if (p->n == ROUTER_MAX_SEGMENTS) return -1;
        p->seg[p->n] = s;
        p->len[p->n] = n;
        p->dec_len[p->n] = -1;
        p->pct[p->n] = memchr(s, '%', n) != NULL;
        if (p->pct[p->n]) {
            /* A literal is at most a few dozen bytes; longer escaped segments can
             * only match a parameter and are decoded later, for the winner. */
            if (n <= sizeof p->dec[0])
                p->dec_len[p->n] = http_pct_decode(p->dec[p->n], s, n, false);
            if (!http_pct_valid(s, n)) return -1;
        }
        p->n++;
        if (!slash) break;
        s = slash + 1;
    }
    return 0;
}

/* Called for every route on every request: lengths and first bytes before memcmp. */
static bool router_seg_eq(const router_path_t *p, int i, const router_seg_t *g)
{
    if (p->dec_len[i] >= 0)
        return (size_t)p->dec_len[i] == g->len && memcmp(p->dec[i], g->lit, g->len) == 0;
    if (p->pct[i]) return false; /* escaped and too long for any literal here */
    return p->len[i] == g->len && (g->len == 0 || p->seg[i][0] == g->lit[0]) &&
           memcmp(p->seg[i], g->lit, g->len) == 0;
}

static bool router_path_matches(const router_entry_t *e, const router_path_t *p)
{
    if (e->nsegs != p->n) return false;
    for (int i = 0; i < p->n; i++) {
        const router_seg_t *g = &e->segs[i];
        if (g->lit ? !router_seg_eq(p, i, g) : p->len[i] == 0) return false;
    }
    return true;
}

static void router_capture(const router_entry_t *e, const router_path_t *p, arena_t *arena,
                           router_match_t *out)
{
    out->nparams = 0;
    for (int i = 0; i < e->nsegs; i++) {
        if (e->segs[i].lit) continue;
        char *v = arena_alloc(arena, p->len[i] + 1);
        ssize_t d = http_pct_decode(v, p->seg[i], p->len[i], false);
        v[d < 0 ? 0 : d] = '\0'; /* cannot fail: validated by router_split_path */
        out->params[out->nparams++] = v;
    }
}

router_status_t router_match(const router_t *r, http_method_t method, const char *path,
                             arena_t *arena, router_match_t *out)
{
    memset(out, 0, sizeof *out);
    router_path_t p;
    if (router_split_path(path, &p) != 0) return ROUTER_NOT_FOUND;
    unsigned want = method == HTTP_HEAD ? (HTTP_HEAD | HTTP_GET) : (unsigned)method;
    const router_entry_t *best = NULL;
    unsigned allowed = 0;
    for (int i = 0; i < r->count; i++) {
        const router_entry_t *e = &r->entries[i];
        if (!router_path_matches(e, &p)) continue;
        allowed |= e->route.methods;
        if ((e->route.methods & want) && (!best || e->rank > best->rank)) best = e;
    }
    if (best) {
        out->route = &best->route;
        router_capture(best, &p, arena, out);
        return ROUTER_MATCH;
    }
    if (!allowed) return ROUTER_NOT_FOUND;
    if (allowed & HTTP_GET) allowed |= HTTP_HEAD;
    out->allowed_methods = allowed;
    return ROUTER_METHOD_NOT_ALLOWED;
}
