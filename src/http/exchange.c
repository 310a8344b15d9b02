/*
 * http/exchange - one request/response pair: the accessors handlers use
 * (include/lakeapi/http.h), building the response head, error bodies, the
 * access log line, and the server's freelist of exchanges.
 *
 * Exchanges are recycled, never freed per request: each keeps its arena and
 * its three buffers across requests (reset, not released), so a request in
 * steady state costs no malloc at all. Buffers that grew for one big response
 * are given back so an idle server does not hold megabytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"
#include "lakeapi/json.h"
#include "lakeapi/log.h"

#define HTTP_EX_ARENA_BLOCK  8192
#define HTTP_EX_FREELIST_MAX 1024
#define HTTP_EX_KEEP_BUF     (256 * 1024)
#define HTTP_REQUEST_ID_MAX  200
#define HTTP_LOG_BATCH       (32 * 1024) /* access-log bytes handed on mid-turn */

/* ---- lifecycle ---- */

http_exchange_t *http_exchange_acquire(http_server_t *s, http_conn_t *c)
{
    http_exchange_t *ex = s->free_ex;
    if (ex) {
        s->free_ex = ex->next;
        s->nfree_ex--;
    } else {
        ex = calloc(1, sizeof *ex);
        if (!ex) abort();
        ex->arena = arena_new(HTTP_EX_ARENA_BLOCK);
        buf_init(&ex->head);
        buf_init(&ex->body_out);
        buf_init(&ex->extra);
    }
    ex->srv = s;
    ex->conn = c;
    ex->next = NULL;
    c->refs++;
    return ex;
}

void http_exchange_free(http_exchange_t *ex)
{
    arena_free(ex->arena);
    buf_dispose(&ex->head);
    buf_dispose(&ex->body_out);
    buf_dispose(&ex->extra);
    free(ex);
}

static void http_buf_recycle(buf_t *b)
{
    if (b->cap > HTTP_EX_KEEP_BUF)
        buf_dispose(b);
    else
        buf_reset(b);
}

void http_exchange_release(http_exchange_t *ex)
{
    http_server_t *s = ex->srv;
    http_conn_t *c = ex->conn;
    arena_reset(ex->arena);
    http_buf_recycle(&ex->head);
    http_buf_recycle(&ex->body_out);
    http_buf_recycle(&ex->extra);
    /* Clear the request fields so a recycled exchange never shows stale data. */
    arena_t *arena = ex->arena;
    buf_t head = ex->head, body = ex->body_out, extra = ex->extra;
    memset(ex, 0, sizeof *ex);
    ex->arena = arena;
    ex->head = head;
    ex->body_out = body;
    ex->extra = extra;
    if (s->nfree_ex < HTTP_EX_FREELIST_MAX) {
        ex->next = s->free_ex;
        s->free_ex = ex;
        s->nfree_ex++;
    } else {
        http_exchange_free(ex);
    }
    http_conn_unref(c);
}

/* 1..200 characters of [A-Za-z0-9._-]: safe to echo in a header and a log. */
static bool http_request_id_ok(const char *v, size_t n)
{
    if (n == 0 || n > HTTP_REQUEST_ID_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static void http_exchange_set_request_id(http_exchange_t *ex)
{
    size_t n;
    const char *v = http_exchange_header(ex, "x-request-id", &n);
    if (v && http_request_id_ok(v, n)) {
        ex->request_id = v;
        return;
    }
    char *id = arena_alloc(ex->arena, 17);
    http_server_gen_id(ex->srv, id);
    ex->request_id = id;
}

void http_exchange_init_bare(http_exchange_t *ex)
{
    ex->method_name = "";
    ex->path = ex->raw_path = ex->raw_query = "";
    ex->version_minor = 1;
    ex->start_ns = uv_hrtime();
    http_exchange_set_request_id(ex);
}

/* Rebases a slice of the parser's buffer onto the arena copy, NUL-terminating it. */
static const char *http_rebase(char *copy, const char *src, size_t n, const char *p, size_t len)
{
    if (p < src || p + len > src + n) return NULL; /* a static string from the parser */
    char *q = copy + (p - src);
    q[len] = '\0'; /* the byte after a slice is a separator or the line end: not needed */
    return q;
}

void http_exchange_adopt_head(http_exchange_t *ex, const http_request_head_t *h, const char *src)
{
    size_t n = h->head_len;
    char *copy = arena_alloc(ex->arena, n + 1);
    memcpy(copy, src, n);
    copy[n] = '\0';
    ex->method = h->method;
    ex->method_name = http_method_str(h->method);
    ex->version_minor = h->version_minor;
    ex->keep_alive = h->keep_alive;
    ex->expect_continue = h->expect_continue;
    ex->headers = arena_alloc(ex->arena, (h->nheaders ? h->nheaders : 1) * sizeof(http_header_t));
    ex->nheaders = h->nheaders;
    for (size_t i = 0; i < h->nheaders; i++) {
        const http_header_t *f = &h->headers[i];
        http_header_t *g = &ex->headers[i];
        g->name = http_rebase(copy, src, n, f->name, f->name_len);
        g->name_len = f->name_len;
        g->value = http_rebase(copy, src, n, f->value, f->value_len);
        g->value_len = f->value_len;
    }
    const char *rp = http_rebase(copy, src, n, h->path, h->path_len);
    ex->raw_path = rp ? rp : "/";
    const char *rq = http_rebase(copy, src, n, h->query, h->query_len);
    ex->raw_query = (rq && h->query_len) ? rq : "";
    ex->raw_query_len = h->query_len;
    char *dp = arena_alloc(ex->arena, h->path_len + 1);
    ssize_t d = http_pct_decode(dp, ex->raw_path, h->path_len, false);
    dp[d < 0 ? 0 : d] = '\0'; /* validated by the parser: cannot fail */
    ex->path = dp;
    if (h->content_length > 0) {
        ex->body_len = (size_t)h->content_length;
        ex->body = arena_alloc(ex->arena, ex->body_len + 1);
        ex->body[ex->body_len] = '\0';
    }
    ex->start_ns = uv_hrtime();
    http_exchange_set_request_id(ex);
}

/* ---- request accessors ---- */

http_method_t http_exchange_method(const http_exchange_t *ex)
{
    return ex->method;
}

const char *http_exchange_method_name(const http_exchange_t *ex)
{
    return ex->method_name;
}

const char *http_exchange_path(const http_exchange_t *ex)
{
    return ex->path;
}

const char *http_exchange_raw_path(const http_exchange_t *ex)
{
    return ex->raw_path;
}

const char *http_exchange_raw_query(const http_exchange_t *ex)
{
    return ex->raw_query;
}

const char *http_exchange_param(const http_exchange_t *ex, int i)
{
    return (i >= 0 && i < ex->match.nparams) ? ex->match.params[i] : NULL;
}

const char *http_exchange_query(const http_exchange_t *ex, const char *name, size_t *len)
{
    return http_query_get(ex->raw_query, ex->raw_query_len, name, ex->arena, len);
}

const char *http_exchange_header(const http_exchange_t *ex, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < ex->nheaders; i++) {
        const http_header_t *f = &ex->headers[i];
        if (f->name_len == n && strncasecmp(f->name, name, n) == 0) {
            if (len) *len = f->value_len;
            return f->value;
        }
    }
    return NULL;
}

const char *http_exchange_body(const http_exchange_t *ex, size_t *len)
{
    if (len) *len = ex->body_len;
    return ex->body ? ex->body : "";
}

arena_t *http_exchange_arena(http_exchange_t *ex)
{
    return ex->arena;
}

const struct route *http_exchange_route(const http_exchange_t *ex)
{
    return ex->match.route;
}

const char *http_exchange_request_id(const http_exchange_t *ex)
{
    return ex->request_id;
}

void **http_exchange_user_slot(http_exchange_t *ex)
{
    return &ex->user;
}

void **http_exchange_identity_slot(http_exchange_t *ex)
{
    return &ex->identity;
}

void http_exchange_set_authenticated(http_exchange_t *ex, bool yes)
{
    ex->authenticated = yes;
}

bool http_exchange_authenticated(const http_exchange_t *ex)
{
    return ex->authenticated;
}

size_t http_exchange_header_count(const http_exchange_t *ex)
{
    return ex->nheaders;
}

void http_exchange_header_at(const http_exchange_t *ex, size_t i, const char **name,
                             size_t *name_len, const char **value, size_t *value_len)
{
    const http_header_t *f = &ex->headers[i];
    *name = f->name, *name_len = f->name_len;
    *value = f->value, *value_len = f->value_len;
}

const char *http_exchange_peer(http_exchange_t *ex)
{
    if (ex->peer[0] || ex->conn->dead) return ex->peer;
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (uv_tcp_getpeername(&ex->conn->tcp, (struct sockaddr *)&ss, &len) != 0) return ex->peer;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, ex->peer, sizeof ex->peer);
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, ex->peer, sizeof ex->peer);
    return ex->peer;
}

void http_exchange_route_now(http_exchange_t *ex)
{
    http_conn_route(ex);
}

bool http_exchange_client_gone(const http_exchange_t *ex)
{
    return ex->conn->dead;
}

void http_exchange_note_pool_wait(http_exchange_t *ex, double ms)
{
    ex->pool_wait_ms += ms;
}

/* ---- response ---- */

buf_t *http_exchange_body_buf(http_exchange_t *ex)
{
    return &ex->body_out;
}

/* CR, LF or NUL in a field would let a value forge headers: such fields are dropped. */
static bool http_field_safe(const char *s)
{
    return strpbrk(s, "\r\n") == NULL;
}

void http_exchange_add_header(http_exchange_t *ex, const char *name, const char *value)
{
    if (!name[0] || !http_field_safe(name) || !http_field_safe(value) || strchr(name, ':')) return;
    buf_append_str(&ex->extra, name);
    buf_append(&ex->extra, ": ", 2);
    buf_append_str(&ex->extra, value);
    buf_append(&ex->extra, "\r\n", 2);
}

static void http_append_lit(buf_t *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* true when the handler's extra header fields include one starting with name (lower case). */
static bool http_extra_has(const buf_t *extra, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i + n <= extra->len; i++) {
        if ((i == 0 || extra->data[i - 1] == '\n') && strncasecmp(extra->data + i, name, n) == 0)
            return true;
    }
    return false;
}

void http_exchange_build_head(http_exchange_t *ex, const char *content_type, bool stream)
{
    int st = ex->status;
    bool no_body_status = (st >= 100 && st < 200) || st == 204 || st == 304;
    ex->send_body = !no_body_status && ex->method != HTTP_HEAD && (stream || ex->body_out.len > 0);
    buf_t *h = &ex->head;
    buf_reset(h);
    buf_reserve(h, 256 + ex->extra.len);
    char line[13] = "HTTP/1.1 000 "; /* status is 100..999 */
    line[9] = (char)('0' + st / 100);
    line[10] = (char)('0' + st / 10 % 10);
    line[11] = (char)('0' + st % 10);
    buf_append(h, line, 13);
    http_append_lit(h, http_status_reason(st));
    buf_append(h, "\r\n", 2);
    buf_append(h, ex->srv->server_line, ex->srv->server_line_len);
    http_append_lit(h, "X-Content-Type-Options: nosniff\r\n");
    /* An error is about this moment: no cache may keep it (a handler may say otherwise). */
    if (st >= 400 && !http_extra_has(&ex->extra, "cache-control:"))
        http_append_lit(h, "Cache-Control: no-store\r\n");
    size_t dlen;
    const char *date = http_server_date_line(ex->srv, &dlen);
    buf_append(h, date, dlen);
    if (content_type && !no_body_status) {
        http_append_lit(h, "Content-Type: ");
        http_append_lit(h, content_type);
        http_append_lit(h, "\r\n");
    }
    if (stream && !no_body_status) {
        if (ex->chunked) http_append_lit(h, "Transfer-Encoding: chunked\r\n");
    } else if (!no_body_status) {
        http_append_lit(h, "Content-Length: ");
        buf_append_i64(h, (int64_t)ex->body_out.len);
        http_append_lit(h, "\r\n");
    }
    http_append_lit(h, "X-Request-Id: ");
    http_append_lit(h, ex->request_id);
    http_append_lit(h, "\r\n");
    if (ex->close_after)
        http_append_lit(h, "Connection: close\r\n");
    else if (ex->version_minor == 0)
        http_append_lit(h, "Connection: keep-alive\r\n");
    buf_append(h, ex->extra.data ? ex->extra.data : "", ex->extra.len);
    http_append_lit(h, "\r\n");
}

/* ---- the access log line, formatted in place ---- */

static char *http_put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define HTTP_PUT_LIT(p, lit) http_put(p, lit, sizeof(lit) - 1)

/* Milliseconds with three decimals, without printf's floating-point path. */
static char *http_put_ms(char *p, double ms)
{
    if (!(ms >= 0) || ms > 1e12) ms = 0; /* NaN, negative or absurd */
    uint64_t us = (uint64_t)(ms * 1000.0 + 0.5);
    p = buf_i64_put(p, (int64_t)(us / 1000));
    *p++ = '.';
    *p++ = (char)('0' + us / 100 % 10);
    *p++ = (char)('0' + us / 10 % 10);
    *p++ = (char)('0' + us % 10);
    return p;
}

/* A JSON string's contents: copied when nothing needs escaping (the usual case). */
static char *http_put_json(buf_t *b, char *p, const char *s)
{
    size_t n = strlen(s);
    if (json_plain_length(s, n) == n) return http_put(p, s, n);
    b->len = (size_t)(p - b->data);
    json_escape_into(b, s, n); /* within the reservation: the buffer does not move */
    return b->data + b->len;
}

/*
 * One line per finished request, appended to the loop turn's batch
 * (s->logbuf), which server.c hands to the log writer thread once per turn
 * (util/log.c: the loop never writes to stderr). Formatted in place: one
 * reservation for the line, strings copied unless they need escaping.
 */
static void http_access_log(http_exchange_t *ex, const http_exchange_info_t *info)
{
    http_server_t *s = ex->srv;
    buf_t *b = &s->logbuf;
    /* Fixed text and numbers take under 200 bytes; a string at most 6 bytes per byte. */
    size_t strings =
        strlen(info->request_id) + strlen(info->method) + strlen(info->route) + strlen(info->path);
    buf_reserve(b, 256 + 6 * strings);
    char *p = b->data + b->len;
    p = HTTP_PUT_LIT(p, "{\"time\":\"");
    p += http_server_iso_now(s, p);
    p = HTTP_PUT_LIT(p, "\",\"level\":\"info\",\"type\":\"access\",\"request_id\":\"");
    p = http_put_json(b, p, info->request_id);
    p = HTTP_PUT_LIT(p, "\",\"method\":\"");
    p = http_put_json(b, p, info->method);
    p = HTTP_PUT_LIT(p, "\",\"route\":\"");
    p = http_put_json(b, p, info->route);
    p = HTTP_PUT_LIT(p, "\",\"path\":\"");
    p = http_put_json(b, p, info->path);
    p = HTTP_PUT_LIT(p, "\",\"status\":");
    p = buf_i64_put(p, info->status < 0 ? 0 : info->status);
    p = HTTP_PUT_LIT(p, ",\"bytes\":");
    p = buf_i64_put(p, (int64_t)info->bytes);
    p = HTTP_PUT_LIT(p, ",\"duration_ms\":");
    p = http_put_ms(p, info->duration_ms);
    p = HTTP_PUT_LIT(p, ",\"pool_wait_ms\":");
    p = http_put_ms(p, info->pool_wait_ms);
    p = HTTP_PUT_LIT(p, "}\n");
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
    if (b->len > HTTP_LOG_BATCH) http_server_flush_log(s);
}

void http_exchange_report(http_exchange_t *ex)
{
    http_server_t *s = ex->srv;
    if (!s->cfg.access_log && !s->observer) return;
    http_exchange_info_t info = {
        .method = ex->method_name,
        .route = ex->match.route ? ex->match.route->pattern : "",
        .path = ex->path,
        .status = ex->status,
        .bytes = ex->stream      ? ex->streamed
                 : ex->send_body ? ex->body_out.len
                                 : 0,
        .duration_ms = (double)(uv_hrtime() - ex->start_ns) / 1e6,
        .pool_wait_ms = ex->pool_wait_ms,
        .request_id = ex->request_id,
    };
    if (s->cfg.access_log && log_get_level() <= LOG_INFO) http_access_log(ex, &info);
    if (s->observer) s->observer(&info, s->observer_data);
}

void http_exchange_send(http_exchange_t *ex, int status, const char *content_type)
{
    http_conn_t *c = ex->conn;
    ex->srv->in_flight--;
    ex->status = (status >= 100 && status <= 999) ? status : 500;
    if (c->dead) {
        /* The client is gone: nothing to write, but the request did finish. */
        ex->send_body = false;
        http_exchange_report(ex);
        http_exchange_release(ex);
        return;
    }
    if (!ex->keep_alive || (c->draining && ex->next == NULL)) ex->close_after = true;
    http_exchange_build_head(ex, content_type, false);
    ex->state = HTTP_EX_READY;
    if (ex == c->qhead) http_conn_mark_dirty(c);
    http_exchange_report(ex);
}

/* Minimal JSON string escaping for our own detail messages. */
static void http_escape_detail(buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            buf_append_char(b, '\\');
            buf_append_char(b, (char)ch);
        } else if (ch < 0x20) {
            buf_printf(b, "\\u%04x", ch);
        } else {
            buf_append_char(b, (char)ch);
        }
    }
}

void http_exchange_send_error(http_exchange_t *ex, int status, const char *detail)
{
    buf_t *b = &ex->body_out;
    buf_reset(b);
    http_append_lit(b, "{\"detail\":\"");
    http_escape_detail(b, detail);
    http_append_lit(b, "\"}");
    http_exchange_send(ex, status, "application/json");
}

uintptr_t http_exchange_connection_key(const http_exchange_t *ex)
{
    /* The peer's address and port tell apart connections that reuse one allocation. */
    struct sockaddr_storage peer;
    int len = (int)sizeof peer;
    uintptr_t key = (uintptr_t)ex->conn;
    memset(&peer, 0, sizeof peer);
    if (uv_tcp_getpeername(&ex->conn->tcp, (struct sockaddr *)&peer, &len) == 0) {
        const unsigned char *b = (const unsigned char *)&peer;
        for (int i = 0; i < len; i++)
            key = (key ^ b[i]) * (uintptr_t)0x100000001b3ull;
    }
    return key;
}
