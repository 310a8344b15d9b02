/*
 * rest/grammar_prefer - the Prefer header (RFC 7240 tokens PostgREST knows)
 * and the Range / Range-Unit headers.
 */
#include "rest/grammar_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lakeapi/buf.h"

#define REST_RANGE_MAX 1000000000000L /* beyond any table; keeps hi - lo + 1 from overflowing */

typedef struct {
    const char *k, *v;
    rest_return_t ret;
    rest_count_t count;
    rest_resolution_t res;
} rg_pref_word_t;

static const rg_pref_word_t rg_words[] = {
    {"return", "minimal", REST_RET_MINIMAL, 0, 0},
    {"return", "headers-only", REST_RET_HEADERS, 0, 0},
    {"return", "representation", REST_RET_REPR, 0, 0},
    {"count", "exact", 0, REST_COUNT_EXACT, 0},
    {"count", "planned", 0, REST_COUNT_PLANNED, 0},
    {"count", "estimated", 0, REST_COUNT_ESTIMATED, 0},
    {"resolution", "merge-duplicates", 0, 0, REST_RES_MERGE},
    {"resolution", "ignore-duplicates", 0, 0, REST_RES_IGNORE},
};

/* Applies one k=v token; false if it is not a preference we know. */
static bool rg_pref_apply(rest_prefer_t *o, const char *k, const char *v)
{
    for (size_t i = 0; i < sizeof rg_words / sizeof rg_words[0]; i++) {
        if (strcmp(k, rg_words[i].k) || strcmp(v, rg_words[i].v)) continue;
        if (rg_words[i].ret) o->ret = rg_words[i].ret;
        if (rg_words[i].count) o->count = rg_words[i].count;
        if (rg_words[i].res) o->resolution = rg_words[i].res;
        return true;
    }
    if (!strcmp(k, "tx") && (!strcmp(v, "commit") || !strcmp(v, "rollback"))) {
        o->tx_rollback = v[0] == 'r';
        o->tx_set = true;
        return true;
    }
    if (!strcmp(k, "handling") && (!strcmp(v, "strict") || !strcmp(v, "lenient"))) {
        o->strict = v[0] == 's';
        return true;
    }
    if (!strcmp(k, "missing") && (!strcmp(v, "default") || !strcmp(v, "null"))) {
        o->missing_default = v[0] == 'd';
        return true;
    }
    if (!strcmp(k, "max-affected")) {
        char *end;
        long n = isdigit((unsigned char)*v) ? strtol(v, &end, 10) : -1;
        if (n < 0 || *end) return false;
        o->max_affected = n;
        return true;
    }
    return false;
}

int rest_parse_prefer(arena_t *a, const char *header, rest_prefer_t *out, rest_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->max_affected = -1;
    if (!header || !*header) return 0;
    buf_t applied, bad;
    buf_init(&applied);
    buf_init(&bad);
    char *copy = arena_strdup(a, header);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t')
            tok++;
        char *e = tok + strlen(tok);
        while (e > tok && (e[-1] == ' ' || e[-1] == '\t'))
            *--e = '\0';
        if (!*tok) continue;
        char *eq = strchr(tok, '=');
        const char *k = tok, *v = "";
        if (eq) {
            *eq = '\0';
            v = eq + 1;
        }
        buf_t *to = rg_pref_apply(out, k, v) ? &applied : &bad;
        if (to->len) buf_append_str(to, ", ");
        buf_append_str(to, k);
        if (eq) {
            buf_append_char(to, '=');
            buf_append_str(to, v);
        }
    }
    int rc = 0;
    if (bad.len && out->strict) {
        char *details = arena_sprintf(a, "Invalid preferences: %s", bad.data);
        rc = rest_error_set(err, a, 400, "PGRST122",
                            "Invalid preferences given with handling=strict", details, NULL);
    }
    out->applied = applied.len ? arena_strdup(a, applied.data) : NULL;
    buf_dispose(&applied);
    buf_dispose(&bad);
    return rc;
}

int rest_parse_range(arena_t *a, const char *range, const char *unit, long *offset, long *limit,
                     rest_error_t *err)
{
    if (!range) return 0;
    if (unit && strcasecmp(unit, "items")) return 0;
    const char *s = range;
    if (!strncasecmp(s, "items=", 6)) s += 6; /* tolerate the RFC 7233 form */
    if (!isdigit((unsigned char)*s)) return 0;
    char *end;
    long lo = strtol(s, &end, 10);
    if (*end != '-' || lo > REST_RANGE_MAX) return 0;
    s = end + 1;
    long hi = -1;
    if (*s) {
        if (!isdigit((unsigned char)*s)) return 0;
        hi = strtol(s, &end, 10);
        if (*end || hi > REST_RANGE_MAX) return 0;
        if (hi < lo)
            return rest_error_set(err, a, 416, "PGRST103", "Requested range not satisfiable", NULL,
                                  NULL);
    }
    *offset = lo;
    *limit = hi < 0 ? -1 : hi - lo + 1;
    return 0;
}
