/*
 * http/server - the listening socket, configuration defaults, the per-loop
 * server state (exchange freelist, Date cache, request-id generator, flush
 * hooks) and graceful shutdown.
 *
 * Writes are not issued from http_exchange_send() directly: a connection with
 * a response ready is put on a dirty list, flushed by a prepare handle (before
 * the loop blocks: covers timers and write callbacks) and a check handle
 * (after the poll phase: covers reads and database results). Responses that
 * become ready in the same loop iteration thus leave in one uv_write.
 * Everything is per-server: several servers (one per loop and thread) share
 * only the connection limits they are given (limits.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/internal.h"
#include "lakeapi/log.h"

#define HTTP_BACKLOG 1024

void http_server_config_defaults(http_server_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->host = "127.0.0.1";
    cfg->port = 8000;
    cfg->max_request_line = 8 * 1024;
    cfg->max_header_bytes = 16 * 1024;
    cfg->max_headers = 100;
    cfg->max_body_bytes = 1024 * 1024;
    cfg->header_timeout_ms = 10 * 1000;
    cfg->body_timeout_ms = 30 * 1000;
    cfg->keepalive_timeout_ms = 60 * 1000;
    cfg->max_connections = 10000;
    cfg->require_host = true;
    cfg->server_header = "lakeapi";
    cfg->max_pipelined = 16;
    cfg->reuse_port = false;
    cfg->access_log = true;
}

static uint64_t http_splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

http_server_t *http_server_new(uv_loop_t *loop, const http_server_config_t *cfg,
                               const router_t *router)
{
    http_server_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->loop = loop;
    s->cfg = *cfg;
    s->host = strdup(cfg->host ? cfg->host : "127.0.0.1");
    s->cfg.host = s->host;
    if (s->cfg.max_headers == 0) s->cfg.max_headers = 1;
    if (s->cfg.max_pipelined == 0) s->cfg.max_pipelined = 1;
    s->router = router;
    s->limits = (http_parser_limits_t){
        .max_request_line = s->cfg.max_request_line,
        .max_header_bytes = s->cfg.max_header_bytes,
        .max_headers = s->cfg.max_headers,
        .max_body = s->cfg.max_body_bytes,
        .require_host = s->cfg.require_host,
    };
    snprintf(s->server_line, sizeof s->server_line, "Server: %.64s\r\n",
             s->cfg.server_header ? s->cfg.server_header : "lakeapi");
    s->server_line_len = strlen(s->server_line);
    s->scratch = calloc(s->cfg.max_headers, sizeof(http_header_t));
    if (!s->host || !s->scratch) {
        free(s->host);
        free(s->scratch);
        free(s);
        return NULL;
    }
    /* Request ids only need to be unique, not secret: a fast PRNG seeded once. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->rng = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^ ((uint64_t)getpid() << 16) ^
             (uint64_t)(uintptr_t)s ^ uv_hrtime();
    buf_init(&s->logbuf);
    s->conn_limits =
        cfg->limits ? http_conn_limits_share(cfg->limits)
                    : http_conn_limits_new(s->cfg.max_connections, s->cfg.max_connections_per_ip);
    s->cfg.limits = NULL; /* ours is conn_limits */
    return s;
}

void http_server_free(http_server_t *s)
{
    if (!s) return;
    http_server_flush_log(s);
    while (s->free_ex) {
        http_exchange_t *ex = s->free_ex;
        s->free_ex = ex->next;
        http_exchange_free(ex);
    }
    buf_dispose(&s->logbuf);
    http_conn_limits_release(s->conn_limits);
    free(s->scratch);
    free(s->host);
    free(s);
}

void http_server_set_observer(http_server_t *s, http_observer_fn fn, void *data)
{
    s->observer = fn;
    s->observer_data = data;
}

void http_server_set_pre_route(http_server_t *s, http_pre_route_fn fn, void *data)
{
    s->pre_route = fn;
    s->pre_route_data = data;
}

unsigned http_server_connections(const http_server_t *s)
{
    return s->nconns;
}

unsigned http_server_in_flight(const http_server_t *s)
{
    return s->in_flight;
}

int http_server_port(const http_server_t *s)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (!s->listening || uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

const char *http_server_date_line(http_server_t *s, size_t *len)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        s->date_len =
            strftime(s->date_line, sizeof s->date_line, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
        s->date_sec = now;
    }
    *len = s->date_len;
    return s->date_line;
}

void http_server_gen_id(http_server_t *s, char out[17])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t v = http_splitmix(&s->rng);
    for (int i = 15; i >= 0; i--) {
        out[i] = hex[v & 15];
        v >>= 4;
    }
    out[16] = '\0';
}

/* Once per access-log line: the seconds are cached, the milliseconds put by hand (no printf). */
size_t http_server_iso_now(http_server_t *s, char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != s->iso_sec || !s->iso_prefix[0]) {
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        s->iso_prefix_len = strftime(s->iso_prefix, sizeof s->iso_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
        s->iso_sec = ts.tv_sec;
    }
    size_t n = s->iso_prefix_len;
    memcpy(out, s->iso_prefix, n);
    long ms = ts.tv_nsec / 1000000;
    out[n++] = '.';
    out[n++] = (char)('0' + ms / 100);
    out[n++] = (char)('0' + ms / 10 % 10);
    out[n++] = (char)('0' + ms % 10);
    out[n++] = 'Z';
    out[n] = '\0';
    return n;
}

void http_server_flush_log(http_server_t *s)
{
    if (s->logbuf.len == 0) return;
    log_json_line(s->logbuf.data, s->logbuf.len);
    buf_reset(&s->logbuf);
}

static void http_server_flush_cb(uv_handle_t *h)
{
    http_conn_flush_dirty(h->data);
    http_server_flush_log(h->data);
}

static void http_server_prepare_cb(uv_prepare_t *h)
{
    http_server_flush_cb((uv_handle_t *)h);
}

static void http_server_check_cb(uv_check_t *h)
{
    http_server_flush_cb((uv_handle_t *)h);
}

static void http_server_connection_cb(uv_stream_t *listener, int status)
{
    if (status < 0) return; /* EMFILE and friends: the next accept may work */
    http_conn_accept(listener->data);
}

/* Resolves host (an IP literal, "[v6]" or "localhost") and port. */
static int http_server_addr(const char *host, int port, struct sockaddr_storage *ss)
{
    char tmp[64];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof tmp) {
        memcpy(tmp, host + 1, n - 2);
        tmp[n - 2] = '\0';
        host = tmp;
    }
    if (strcmp(host, "localhost") == 0) host = "127.0.0.1";
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)ss) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)ss) == 0) return 0;
    return -1;
}

/*
 * The socket is made by hand so SO_REUSEPORT can be set before bind (libuv
 * 1.44 has no flag for it) and so a failed bind leaves no libuv handle behind.
 */
static int http_server_socket(http_server_t *s, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (s->cfg.port < 0 || s->cfg.port > 65535 ||
        http_server_addr(s->host, s->cfg.port, &ss) != 0) {
        snprintf(err, errlen,
                 "invalid listen address %s:%d (host must be an IP address or localhost)", s->host,
                 s->cfg.port);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (s->cfg.reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
        snprintf(err, errlen, "SO_REUSEPORT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    socklen_t alen =
        ss.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    if (bind(fd, (struct sockaddr *)&ss, alen) != 0 || listen(fd, HTTP_BACKLOG) != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->host, s->cfg.port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int http_server_listen(http_server_t *s, char *err, size_t errlen)
{
    if (s->listening || s->shutting_down) {
        snprintf(err, errlen, "server already started");
        return -1;
    }
    int fd = http_server_socket(s, err, errlen);
    if (fd < 0) return -1;
    /*
     * A peer that resets a connection must cost an EPIPE, not the process:
     * libuv writes with writev(), which raises SIGPIPE. Only the default
     * disposition is replaced, so a handler installed by the program stays.
     */
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) signal(SIGPIPE, SIG_IGN);
    uv_tcp_init(s->loop, &s->listener);
    s->listener.data = s;
    s->handles++;
    s->listening = true;
    int r = uv_tcp_open(&s->listener, fd);
    if (r == 0) r = uv_listen((uv_stream_t *)&s->listener, HTTP_BACKLOG, http_server_connection_cb);
    if (r != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", s->host, s->cfg.port, uv_strerror(r));
        return -1; /* the handle is closed by http_server_shutdown() */
    }
    uv_prepare_init(s->loop, &s->prepare);
    uv_check_init(s->loop, &s->check);
    s->prepare.data = s->check.data = s;
    s->handles += 2;
    s->hooks = true;
    uv_prepare_start(&s->prepare, http_server_prepare_cb);
    uv_check_start(&s->check, http_server_check_cb);
    /* They only flush: they must not keep the loop alive on their own. */
    uv_unref((uv_handle_t *)&s->prepare);
    uv_unref((uv_handle_t *)&s->check);
    return 0;
}

static void http_server_handle_closed(uv_handle_t *h)
{
    http_server_t *s = h->data;
    s->handles--;
    http_server_maybe_done(s);
}

void http_server_maybe_done(http_server_t *s)
{
    if (!s->shutting_down || s->nlive > 0) return;
    if (s->hooks && !s->closing_hooks) {
        /* Connections are gone: the flush hooks can go too. */
        s->closing_hooks = true;
        uv_close((uv_handle_t *)&s->prepare, http_server_handle_closed);
        uv_close((uv_handle_t *)&s->check, http_server_handle_closed);
        return;
    }
    http_server_flush_log(s);
    if (s->handles == 0 && s->done) {
        void (*done)(void *) = s->done;
        s->done = NULL;
        done(s->done_data);
    }
}

void http_server_shutdown(http_server_t *s, void (*done)(void *data), void *data)
{
    if (s->shutting_down) return;
    s->shutting_down = true;
    s->done = done;
    s->done_data = data;
    if (s->listening) uv_close((uv_handle_t *)&s->listener, http_server_handle_closed);
    http_conn_t *c = s->conns;
    while (c) {
        http_conn_t *next = c->next; /* draining may close and unlink c */
        http_conn_drain(c);
        c = next;
    }
    http_server_maybe_done(s);
}
