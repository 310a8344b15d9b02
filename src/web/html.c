/*
 * html - content negotiation for the landing page and HTML escaping.
 *
 * The landing page is the only route with two representations: browsers get
 * HTML, everything else keeps the tutorial's JSON. The decision reads only
 * the Accept header's q-values, so "curl /" (which sends "*" "/" "*") and
 * HTTP libraries still get JSON.
 */
#include <ctype.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "web/html.h"

/* How a media range matched a type: 0 none, 1 "* / *", 2 "text / *", 3 exact. */
typedef struct accept_rank {
    int specificity;
    int q; /* thousandths */
} accept_rank_t;

static const char *accept_skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* RFC 9110 qvalue: "0" / "0.ddd" / "1" / "1.000". Returns -1 when malformed. */
static int accept_parse_q(const char *p, const char *end)
{
    if (p >= end || (*p != '0' && *p != '1')) return -1;
    int whole = *p++ - '0';
    int frac = 0, digits = 0;
    if (p < end && *p == '.') {
        for (p++; p < end && isdigit((unsigned char)*p) && digits < 3; p++, digits++)
            frac = frac * 10 + (*p - '0');
    }
    for (; digits < 3; digits++)
        frac *= 10;
    p = accept_skip_ows(p, end);
    if (p != end) return -1;
    int q = whole * 1000 + frac;
    return q > 1000 ? -1 : q;
}

static int accept_specificity(const char *range, size_t len, const char *type)
{
    const char *slash = strchr(type, '/');
    size_t tlen = (size_t)(slash - type);
    if (len == 3 && memcmp(range, "*/*", 3) == 0) return 1;
    if (len == tlen + 2 && strncasecmp(range, type, tlen) == 0 && range[tlen] == '/' &&
        range[tlen + 1] == '*')
        return 2;
    if (len == strlen(type) && strncasecmp(range, type, len) == 0) return 3;
    return 0;
}

/* Ranks one element "type/sub;a=b;q=0.5" against type into r. */
static void accept_element(const char *p, const char *end, const char *type, accept_rank_t *r)
{
    p = accept_skip_ows(p, end);
    const char *range = p;
    while (p < end && *p != ';' && *p != ' ' && *p != '\t')
        p++;
    int spec = accept_specificity(range, (size_t)(p - range), type);
    if (spec == 0 || spec < r->specificity) return;
    int q = 1000;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        if (!semi) break;
        p = accept_skip_ows(semi + 1, end);
        const char *next = memchr(p, ';', (size_t)(end - p));
        const char *pend = next ? next : end;
        if (pend - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
            q = accept_parse_q(p + 2, pend);
            if (q < 0) return; /* a malformed element is ignored */
        }
        p = pend;
    }
    if (spec > r->specificity || q > r->q) {
        r->specificity = spec;
        r->q = q;
    }
}

static int accept_q(const char *accept, const char *type)
{
    accept_rank_t r = {0, 0};
    const char *p = accept;
    while (*p) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        accept_element(p, end, type, &r);
        p = comma ? comma + 1 : end;
    }
    return r.q;
}

bool web_accept_prefers_html(const char *accept)
{
    if (!accept) return false;
    return accept_q(accept, "text/html") > accept_q(accept, "application/json");
}

void web_html_escape(buf_t *b, const char *s, size_t len)
{
    size_t run = 0; /* bytes copied as they are, flushed in one append */
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            run++;
            continue;
        }
        buf_append(b, s + i - run, run);
        run = 0;
        buf_append_str(b, rep);
    }
    buf_append(b, s + len - run, run);
}
