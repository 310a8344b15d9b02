/*
 * http/parser - incremental HTTP/1.x request-head parser (see parser.h for the
 * interface and for every accept/reject decision).
 *
 * Two phases. The scan phase runs over the new bytes only: it finds line
 * ends, enforces the size limits and rejects NUL and a non-token method as
 * soon as they appear, and validates the request line the moment it is
 * complete (so an HTTP/2 preface or a TLS handshake is answered at once). When
 * the blank line ending the head arrives, the whole head is parsed in one pass
 * into slices of the caller's buffer. Nothing here allocates.
 */
#include "http/parser.h"

#include <string.h>
#include <strings.h>

/* RFC 9110 tchar: the bytes allowed in a method and in a header name. */
static const unsigned char http_tchar[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1,  ['~'] = 1, ['0'] = 1,
    ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,  ['7'] = 1, ['8'] = 1,
    ['9'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1,  ['F'] = 1, ['G'] = 1,
    ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,  ['N'] = 1, ['O'] = 1,
    ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1,  ['V'] = 1, ['W'] = 1,
    ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,  ['d'] = 1, ['e'] = 1,
    ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1,  ['l'] = 1, ['m'] = 1,
    ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1, ['s'] = 1,  ['t'] = 1, ['u'] = 1,
    ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
};

/* Blank lines tolerated before the request line. */
#define HTTP_MAX_LEADING_BLANKS 64

static const struct {
    const char *name;
    size_t len;
    http_method_t method;
} http_methods[] = {
    {"GET", 3, HTTP_GET},         {"HEAD", 4, HTTP_HEAD},     {"POST", 4, HTTP_POST},
    {"PUT", 3, HTTP_PUT},         {"DELETE", 6, HTTP_DELETE}, {"PATCH", 5, HTTP_PATCH},
    {"OPTIONS", 7, HTTP_OPTIONS},
};

const char *http_method_str(http_method_t m)
{
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
        if (http_methods[i].method == m) return http_methods[i].name;
    return "";
}

static http_method_t http_method_lookup(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof http_methods / sizeof http_methods[0]; i++)
        if (http_methods[i].len == len && memcmp(http_methods[i].name, s, len) == 0)
            return http_methods[i].method;
    return 0;
}

void http_parser_init(http_parser_t *p, const http_parser_limits_t *limits)
{
    memset(p, 0, sizeof *p);
    p->limits = *limits;
}

void http_parser_reset(http_parser_t *p)
{
    http_parser_limits_t limits = p->limits;
    http_parser_init(p, &limits);
}

static http_parse_result_t http_parser_fail(http_parser_t *p, int status, const char *detail)
{
    p->status = status;
    p->detail = detail;
    return HTTP_PARSE_ERROR;
}

/* True when the target byte may appear in a request target (we accept obs-text). */
static bool http_target_byte(unsigned char c)
{
    return c > 0x20 && c != 0x7F && c != '#';
}

/* Splits a target into path and query; handles origin, absolute and asterisk form. */
static int http_split_target(http_parser_t *p, http_request_head_t *h)
{
    const char *t = h->target;
    size_t n = h->target_len;
    const char *path = t;
    size_t skip = 0;

    if (t[0] == '*') {
        if (n != 1 || h->method != HTTP_OPTIONS)
            return http_parser_fail(p, 400, "Invalid request target");
        h->path = t;
        h->path_len = 1;
        h->query = t + 1;
        h->query_len = 0;
        return 0;
    }
    if (t[0] != '/') {
        if (n > 7 && strncasecmp(t, "http://", 7) == 0)
            skip = 7;
        else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
            skip = 8;
        else
            return http_parser_fail(p, 400, "Invalid request target");
        size_t a = skip;
        while (a < n && t[a] != '/' && t[a] != '?')
            a++;
        if (a == skip) return http_parser_fail(p, 400, "Invalid request target");
        path = t + a;
    }
    size_t rest = n - (size_t)(path - t);
    const char *q = memchr(path, '?', rest);
    size_t plen = q ? (size_t)(q - path) : rest;
    if (plen == 0) {
        path = "/"; /* "http://host" or "http://host?x" */
        plen = 1;
    }
    h->path = path;
    h->path_len = plen;
    h->query = q ? q + 1 : t + n;
    h->query_len = q ? (size_t)(t + n - (q + 1)) : 0;
    int pc = http_pct_check(h->path, h->path_len), qc = http_pct_check(h->query, h->query_len);
    if (pc == -1) return http_parser_fail(p, 400, "Invalid percent-encoding in path");
    if (pc == -2) return http_parser_fail(p, 400, "Invalid UTF-8 in path");
    if (qc == -1) return http_parser_fail(p, 400, "Invalid percent-encoding in query string");
    if (qc == -2) return http_parser_fail(p, 400, "Invalid UTF-8 in query string");
    return 0;
}

/*
 * Parses "METHOD SP target SP HTTP/x.y" (l/n without the line end). Checks run
 * in an order that gives the most useful status: syntax (400), then the
 * version (505: the HTTP/2 preface is "PRI * HTTP/2.0"), then the method (501).
 */
static int http_parse_request_line(http_parser_t *p, const char *l, size_t n,
                                   http_request_head_t *h)
{
    size_t m = 0;
    while (m < n && http_tchar[(unsigned char)l[m]])
        m++;
    if (m == 0 || m >= n || l[m] != ' ') return http_parser_fail(p, 400, "Invalid request line");
    size_t ts = m + 1, te = ts;
    while (te < n && http_target_byte((unsigned char)l[te]))
        te++;
    if (te == ts || te >= n || l[te] != ' ')
        return http_parser_fail(p, 400, "Invalid request line");
    const char *v = l + te + 1;
    if (n - (te + 1) != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' ||
        v[6] != '.' || v[7] < '0' || v[7] > '9')
        return http_parser_fail(p, 400, "Invalid HTTP version");
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return http_parser_fail(p, 505, "HTTP Version Not Supported");
    h->version_minor = v[7] - '0';
    h->method_name = l;
    h->method_len = m;
    h->method = http_method_lookup(l, m);
    if (!h->method) return http_parser_fail(p, 501, "Method Not Implemented");
    h->target = l + ts;
    h->target_len = te - ts;
    return http_split_target(p, h);
}

static bool http_name_is(const http_header_t *f, const char *name, size_t len)
{
    return f->name_len == len && strncasecmp(f->name, name, len) == 0;
}

/* Applies a Connection header's comma-separated tokens. */
static void http_parse_connection(const char *v, size_t n, bool *close, bool *keep)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t s = i;
        while (i < n && v[i] != ',')
            i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
            e--;
        if (e - s == 5 && strncasecmp(v + s, "close", 5) == 0) *close = true;
        if (e - s == 10 && strncasecmp(v + s, "keep-alive", 10) == 0) *keep = true;
    }
}

static int http_parse_content_length(http_parser_t *p, const http_header_t *f,
                                     http_request_head_t *h)
{
    if (h->has_content_length) return http_parser_fail(p, 400, "Duplicate Content-Length");
    if (f->value_len == 0) return http_parser_fail(p, 400, "Invalid Content-Length");
    uint64_t v = 0;
    bool huge = false;
    for (size_t i = 0; i < f->value_len; i++) {
        char c = f->value[i];
        if (c < '0' || c > '9') return http_parser_fail(p, 400, "Invalid Content-Length");
        if (v > (UINT64_MAX - 9) / 10)
            huge = true; /* still validate the remaining digits */
        else
            v = v * 10 + (uint64_t)(c - '0');
    }
    h->has_content_length = true;
    h->content_length = huge ? UINT64_MAX : v;
    return 0;
}

/* Parses one header line (l/n without the line end) into f. */
static int http_parse_header_line(http_parser_t *p, const char *l, size_t n, http_header_t *f)
{
    if (l[0] == ' ' || l[0] == '\t') return http_parser_fail(p, 400, "Obsolete line folding");
    size_t c = 0;
    while (c < n && http_tchar[(unsigned char)l[c]])
        c++;
    if (c == 0 || c >= n || l[c] != ':') return http_parser_fail(p, 400, "Invalid header name");
    size_t vs = c + 1, ve = n;
    while (vs < n && (l[vs] == ' ' || l[vs] == '\t'))
        vs++;
    while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    for (size_t i = vs; i < ve; i++) {
        unsigned char b = (unsigned char)l[i];
        if ((b < 0x20 && b != '\t') || b == 0x7F)
            return http_parser_fail(p, 400, "Invalid character in header value");
    }
    f->name = l;
    f->name_len = c;
    f->value = l + vs;
    f->value_len = ve - vs;
    return 0;
}

/* Strips the line end (LF or CRLF) off the line [from, lf). */
static size_t http_line_len(const char *buf, size_t from, size_t lf)
{
    return (lf > from && buf[lf - 1] == '\r') ? lf - 1 - from : lf - from;
}

/* Second phase: the head [p->start, end) is complete; parse all of it. */
static http_parse_result_t http_parse_head(http_parser_t *p, const char *buf, size_t end,
                                           http_request_head_t *h, http_header_t *hdrs, size_t cap)
{
    memset(h, 0, sizeof *h);
    size_t lf = p->line_end - 1;
    if (http_parse_request_line(p, buf + p->start, http_line_len(buf, p->start, lf), h) != 0)
        return HTTP_PARSE_ERROR;
    bool conn_close = false, conn_keep = false, has_te = false, has_host = false;
    size_t from = p->line_end;
    h->headers = hdrs;
    for (;;) {
        const char *nl = memchr(buf + from, '\n', end - from);
        size_t at = (size_t)(nl - buf);
        size_t n = http_line_len(buf, from, at);
        if (n == 0) break;
        if (h->nheaders >= cap) return http_parser_fail(p, 431, "Too many header fields");
        http_header_t *f = &hdrs[h->nheaders];
        if (http_parse_header_line(p, buf + from, n, f) != 0) return HTTP_PARSE_ERROR;
        h->nheaders++;
        from = at + 1;
        if (http_name_is(f, "content-length", 14)) {
            if (http_parse_content_length(p, f, h) != 0) return HTTP_PARSE_ERROR;
        } else if (http_name_is(f, "transfer-encoding", 17)) {
            has_te = true;
        } else if (http_name_is(f, "connection", 10)) {
            http_parse_connection(f->value, f->value_len, &conn_close, &conn_keep);
        } else if (http_name_is(f, "expect", 6)) {
            if (f->value_len == 12 && strncasecmp(f->value, "100-continue", 12) == 0)
                h->expect_continue = true;
        } else if (http_name_is(f, "host", 4)) {
            if (has_host) return http_parser_fail(p, 400, "Duplicate Host header");
            has_host = true;
        }
    }
    if (has_te) {
        if (h->has_content_length)
            return http_parser_fail(p, 400, "Both Transfer-Encoding and Content-Length");
        return http_parser_fail(p, 501, "Transfer-Encoding is not supported");
    }
    if (!has_host && h->version_minor == 1 && p->limits.require_host)
        return http_parser_fail(p, 400, "Missing Host header");
    if (h->content_length > p->limits.max_body)
        return http_parser_fail(p, 413, "Request body too large");
    /* 100-continue means nothing to a 1.0 client, or without a body to wait for. */
    if (h->version_minor == 0 || h->content_length == 0) h->expect_continue = false;
    h->keep_alive = h->version_minor == 1 ? !conn_close : (conn_keep && !conn_close);
    h->head_len = end;
    return HTTP_PARSE_DONE;
}

/* Called when the LF ending a line at [p->line_from, i) is found. */
static int http_scan_line_end(http_parser_t *p, const char *buf, size_t i, http_request_head_t *h)
{
    size_t n = http_line_len(buf, p->line_from, i);
    if (p->line_end == 0) {
        if (n > p->limits.max_request_line) return http_parser_fail(p, 414, "URI Too Long");
        p->line_end = i + 1;
        /* Validate now: a bad request line is answered without waiting for headers. */
        return http_parse_request_line(p, buf + p->start, n, h) != 0 ? -1 : 0;
    }
    if (n == 0) return 1; /* blank line: end of head */
    if (++p->nlines > p->limits.max_headers)
        return http_parser_fail(p, 431, "Too many header fields");
    return 0;
}

http_parse_result_t http_parser_execute(http_parser_t *p, const char *buf, size_t len,
                                        http_request_head_t *head, http_header_t *hdrs,
                                        size_t hdrs_cap)
{
    if (p->status) return HTTP_PARSE_ERROR;
    size_t i = p->scanned;
    /* Empty lines before the request line are skipped (robustness, RFC 9112 2.2). */
    while (p->line_end == 0 && i == p->start && i < len && (buf[i] == '\r' || buf[i] == '\n')) {
        if (++i > HTTP_MAX_LEADING_BLANKS) return http_parser_fail(p, 400, "Invalid request line");
        p->start = p->line_from = i;
    }
    for (; i < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c == '\n') {
            int r = http_scan_line_end(p, buf, i, head);
            if (r < 0) return HTTP_PARSE_ERROR;
            p->line_from = i + 1;
            if (r > 0) {
                p->scanned = i + 1;
                return http_parse_head(p, buf, i + 1, head, hdrs, hdrs_cap);
            }
            continue;
        }
        if (c == 0) return http_parser_fail(p, 400, "NUL byte in request head");
        if (p->line_end == 0) {
            /* The method is the first thing on the line: garbage fails fast. */
            if (i - p->start >= p->limits.max_request_line + 1)
                return http_parser_fail(p, 414, "URI Too Long");
            if (!p->method_done) {
                if (c == ' ')
                    p->method_done = true;
                else if (!http_tchar[c])
                    return http_parser_fail(p, 400, "Invalid request line");
            }
        } else if (i - p->line_end >= p->limits.max_header_bytes) {
            return http_parser_fail(p, 431, "Request header fields too large");
        }
    }
    p->scanned = len;
    return HTTP_PARSE_MORE;
}
