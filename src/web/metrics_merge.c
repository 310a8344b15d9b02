/*
 * metrics_merge - one Prometheus text from the texts of several event loops
 * (WORKERS > 1), so that /metrics reads as it would with one loop.
 *
 * Owns: the rule per family. Samples with the same name and labels are
 * combined: summed (counters, histogram buckets, connections: each loop has
 * its own), except process-wide values every loop reports alike (build info,
 * uptime, credential and log counters, the DB_POOL_SIZE totals, the shared
 * rate-limit table's size: the largest) and health
 * flags (the smallest: healthy only when every loop is). The first text's order
 * is kept; a series only another loop has joins the end of its family's block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

typedef enum { MERGE_SUM, MERGE_MAX, MERGE_MIN } merge_rule_t;

typedef struct merge_line {
    char *text;   /* a comment line, or the series (name{labels}) of a sample */
    char *family; /* the family it belongs to */
    bool sample;
    double value;
} merge_line_t;

typedef struct merge {
    merge_line_t *lines;
    size_t n, cap;
} merge_t;

static merge_rule_t merge_rule(const char *family)
{
    static const char *const max_prefixes[] = {
        "lakeapi_build_info",
        "lakeapi_uptime_seconds",
        "lakeapi_db_token_",
        "lakeapi_workspace_token",
        "lakeapi_log_",
        "lakeapi_db_replica_lag_",
        "lakeapi_db_pool_size",
        "lakeapi_db_pool_max_overflow",
        "lakeapi_rate_limit_buckets"}; /* one table shared by every loop */
    static const char *const min_names[] = {"lakeapi_db_credentials_healthy",
                                            "lakeapi_db_pool_healthy", "lakeapi_db_target_up"};
    for (size_t i = 0; i < sizeof min_names / sizeof min_names[0]; i++)
        if (strcmp(family, min_names[i]) == 0) return MERGE_MIN;
    for (size_t i = 0; i < sizeof max_prefixes / sizeof max_prefixes[0]; i++)
        if (strncmp(family, max_prefixes[i], strlen(max_prefixes[i])) == 0) return MERGE_MAX;
    return MERGE_SUM;
}

static void merge_insert(merge_t *m, size_t at, merge_line_t l)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->lines = realloc(m->lines, m->cap * sizeof *m->lines);
        if (!m->lines) abort();
    }
    memmove(&m->lines[at + 1], &m->lines[at], (m->n - at) * sizeof *m->lines);
    m->lines[at] = l;
    m->n++;
}

static void merge_combine(double *into, double v, const char *family)
{
    switch (merge_rule(family)) {
    case MERGE_SUM:
        *into += v;
        break;
    case MERGE_MAX:
        if (v > *into) *into = v;
        break;
    case MERGE_MIN:
        if (v < *into) *into = v;
        break;
    }
}

/* Adds one loop's text; first says it is the first (its lines set the order). */
static void merge_text(merge_t *m, const char *text, size_t len, bool first)
{
    char family[128] = "";
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *next = nl ? nl + 1 : end;
        if (n == 0) {
            p = next;
            continue;
        }
        merge_line_t l = {0};
        if (p[0] == '#') {
            /* HELP comes first: it opens the family block as TYPE does. */
            if (n > 7 && (strncmp(p, "# TYPE ", 7) == 0 || strncmp(p, "# HELP ", 7) == 0)) {
                size_t k = strcspn(p + 7, " \n");
                snprintf(family, sizeof family, "%.*s", (int)(k < n - 7 ? k : n - 7), p + 7);
            }
            if (!first) {
                p = next;
                continue;
            }
            l.text = strndup(p, n);
        } else {
            const char *sp = p + n;
            while (sp > p && sp[-1] != ' ')
                sp--;
            if (sp == p) {
                p = next;
                continue;
            }
            l.text = strndup(p, (size_t)(sp - 1 - p));
            char *num = strndup(sp, (size_t)(p + n - sp));
            l.value = num ? strtod(num, NULL) : 0;
            free(num);
            l.sample = true;
        }
        l.family = strdup(family);
        if (!l.text || !l.family) abort();
        size_t last_of_family = m->n;
        bool found = false;
        for (size_t i = 0; i < m->n && l.sample && !first; i++) {
            if (strcmp(m->lines[i].family, l.family) == 0) last_of_family = i + 1;
            if (m->lines[i].sample && strcmp(m->lines[i].text, l.text) == 0) {
                merge_combine(&m->lines[i].value, l.value, l.family);
                found = true;
                break;
            }
        }
        if (found) {
            free(l.text);
            free(l.family);
        } else {
            merge_insert(m, first ? m->n : last_of_family, l);
        }
        p = next;
    }
}

void web_metrics_merge(buf_t *out, const buf_t *parts, int nparts)
{
    merge_t m = {0};
    for (int i = 0; i < nparts; i++)
        merge_text(&m, parts[i].data ? parts[i].data : "", parts[i].len, i == 0);
    for (size_t i = 0; i < m.n; i++) {
        if (m.lines[i].sample)
            buf_printf(out, "%s %.15g\n", m.lines[i].text, m.lines[i].value);
        else
            buf_printf(out, "%s\n", m.lines[i].text);
        free(m.lines[i].text);
        free(m.lines[i].family);
    }
    free(m.lines);
}
