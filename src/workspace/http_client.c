/*
 * workspace/http_client - asynchronous HTTP(S) requests (GET, POST, PATCH,
 * DELETE, with an optional body) on a libuv loop, for the workspace calls.
 *
 * libcurl's multi-socket API does the protocol work; we only tell it when its
 * sockets are ready (one uv_poll per socket curl asks us to watch) and when
 * its timeout passes (one uv_timer). So a slow or dead workspace never blocks
 * the loop that serves requests, and no thread of ours is involved.
 *
 * Ownership: the client owns its transfers (request copies, response bodies)
 * and its socket watchers. Watchers are freed by their close callback; ones
 * whose handle was closed by someone else (the server's shutdown walk closes
 * every handle on the loop) stay on a list that ws_http_free() frees.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "workspace/internal.h"
#include "lakeapi/buf.h"

typedef struct http_sock http_sock_t;
struct http_sock {
    uv_poll_t poll;
    ws_http_t *owner;
    curl_socket_t fd;
    http_sock_t *prev, *next;
};

typedef struct ws_http_xfer http_xfer_t;
struct ws_http_xfer {
    ws_http_t *owner;
    CURL *easy;
    struct curl_slist *headers;
    buf_t response;
    bool too_big;
    long retry_after;        /* the Retry-After header in seconds, -1 when absent */
    ws_http_data_cb on_data; /* streaming: the body goes here instead of response */
    bool paused, aborted;
    char errbuf[CURL_ERROR_SIZE];
    ws_http_result_cb cb;
    ws_http_cb plain_cb; /* ws_http_start's callers */
    void *plain_data;
    void *data;
    http_xfer_t *prev, *next;
};

struct ws_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer; /* initialised by the first request: an unused client owns no handle */
    bool timer_ready;
    http_sock_t *socks;
    http_xfer_t *xfers;
    bool freeing; /* curl callbacks must not touch the loop any more */
};

/* curl_global_init is neither reference counted nor thread-safe; loops (WORKERS) share it. */
static pthread_mutex_t http_global_lock = PTHREAD_MUTEX_INITIALIZER;
static int http_global_users;

static bool http_global_ref(void)
{
    pthread_mutex_lock(&http_global_lock);
    bool ok = http_global_users > 0 || curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    if (ok) http_global_users++;
    pthread_mutex_unlock(&http_global_lock);
    return ok;
}

static void http_global_unref(void)
{
    pthread_mutex_lock(&http_global_lock);
    if (--http_global_users == 0) curl_global_cleanup();
    pthread_mutex_unlock(&http_global_lock);
}

#define HTTP_LINK(head, x)                                                                         \
    do {                                                                                           \
        (x)->prev = NULL;                                                                          \
        (x)->next = (head);                                                                        \
        if (head) (head)->prev = (x);                                                              \
        (head) = (x);                                                                              \
    } while (0)

#define HTTP_UNLINK(head, x)                                                                       \
    do {                                                                                           \
        if ((x)->prev)                                                                             \
            (x)->prev->next = (x)->next;                                                           \
        else                                                                                       \
            (head) = (x)->next;                                                                    \
        if ((x)->next) (x)->next->prev = (x)->prev;                                                \
    } while (0)

/* ---- finished transfers ---- */

static void http_xfer_free(http_xfer_t *x)
{
    curl_easy_cleanup(x->easy);
    /* curl's copies of the header lines include the Authorization one. */
    for (struct curl_slist *l = x->headers; l; l = l->next)
        explicit_bzero(l->data, strlen(l->data));
    curl_slist_free_all(x->headers);
    buf_dispose(&x->response);
    free(x);
}

/* Delivers every finished transfer to its callback. */
static void http_check_done(ws_http_t *h)
{
    CURLMsg *msg;
    int left;
    while (!h->freeing && (msg = curl_multi_info_read(h->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *easy = msg->easy_handle;
        CURLcode res = msg->data.result;
        http_xfer_t *x = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
        long status = 0;
        char error[CURL_ERROR_SIZE + 64] = "";
        if (res == CURLE_OK) {
            curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
        } else if (x->aborted) {
            snprintf(error, sizeof error, "stopped by the receiver");
        } else if (x->too_big) {
            snprintf(error, sizeof error, "response larger than %d bytes", WORKSPACE_MAX_RESPONSE);
        } else {
            snprintf(error, sizeof error, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(res));
        }
        HTTP_UNLINK(h->xfers, x);
        curl_multi_remove_handle(h->multi, easy);
        buf_append(&x->response, "", 0); /* NUL-terminated even when empty */
        ws_http_result_t result = {.status = status,
                                   .body = x->response.data,
                                   .len = x->response.len,
                                   .error = res == CURLE_OK ? NULL : error,
                                   .retry_after = x->retry_after};
        x->cb(&result, x->data);
        http_xfer_free(x);
    }
}

/* ---- curl's socket and timer callbacks, wired to libuv ---- */

static void http_sock_closed(uv_handle_t *handle)
{
    http_sock_t *k = handle->data;
    HTTP_UNLINK(k->owner->socks, k);
    free(k);
}

static void http_on_poll(uv_poll_t *handle, int status, int events)
{
    http_sock_t *k = handle->data;
    ws_http_t *h = k->owner;
    int flags = 0;
    if (status < 0) {
        flags = CURL_CSELECT_ERR;
    } else {
        if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    }
    int running;
    /* k may be closed during this call (CURL_POLL_REMOVE); it stays allocated until its close cb.
     */
    curl_multi_socket_action(h->multi, k->fd, flags, &running);
    http_check_done(h);
}

static int http_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    ws_http_t *h = userp;
    http_sock_t *k = socketp;
    if (h->freeing) return 0;
    if (what == CURL_POLL_REMOVE) {
        if (!k) return 0;
        curl_multi_assign(h->multi, fd, NULL);
        if (!uv_is_closing((uv_handle_t *)&k->poll)) {
            uv_poll_stop(&k->poll);
            uv_close((uv_handle_t *)&k->poll, http_sock_closed);
        }
        return 0;
    }
    if (!k) {
        k = calloc(1, sizeof *k);
        if (!k) return -1;
        if (uv_poll_init_socket(h->loop, &k->poll, fd) != 0) {
            free(k);
            return -1;
        }
        k->owner = h;
        k->fd = fd;
        k->poll.data = k;
        HTTP_LINK(h->socks, k);
        curl_multi_assign(h->multi, fd, k);
    }
    if (uv_is_closing((uv_handle_t *)&k->poll)) return 0;
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    uv_poll_start(&k->poll, events, http_on_poll);
    return 0;
}

static void http_on_timeout(uv_timer_t *t)
{
    ws_http_t *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    http_check_done(h);
}

static int http_on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    ws_http_t *h = userp;
    if (h->freeing || !h->timer_ready || uv_is_closing((uv_handle_t *)&h->timer)) return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else /* 0 means "as soon as possible": the next loop iteration, not from inside curl */
        uv_timer_start(&h->timer, http_on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

/* ---- requests ---- */

static size_t http_on_write(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_xfer_t *x = userdata;
    size_t n = size * nmemb;
    long code = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &code);
    if (x->on_data && code >= 200 && code < 300) {
        int r = x->on_data(ptr, n, x->data);
        if (r > 0) {
            x->paused = true;
            return CURL_WRITEFUNC_PAUSE; /* curl hands the same bytes again on resume */
        }
        if (r < 0) {
            x->aborted = true;
            return 0;
        }
        return n;
    }
    if (x->response.len + n > WORKSPACE_MAX_RESPONSE) {
        x->too_big = true;
        return 0; /* curl fails the transfer with CURLE_WRITE_ERROR */
    }
    buf_append(&x->response, ptr, n);
    return n;
}

/* Keeps Retry-After (delta-seconds form) for 429 and 503 answers. */
static size_t http_on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    http_xfer_t *x = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name && strncasecmp(ptr, name, sizeof name - 1) == 0) {
        long v = 0;
        bool digits = false;
        for (size_t i = sizeof name - 1; i < n; i++) {
            if (ptr[i] >= '0' && ptr[i] <= '9') {
                digits = true;
                if (v < 86400) v = v * 10 + (ptr[i] - '0');
            } else if (ptr[i] != ' ' && ptr[i] != '\t' && ptr[i] != '\r' && ptr[i] != '\n') {
                digits = false;
                break;
            }
        }
        if (digits) x->retry_after = v;
    }
    return n;
}

static int http_add_header(http_xfer_t *x, const char *fmt, const char *value)
{
    char *line;
    if (asprintf(&line, fmt, value) < 0) return -1;
    struct curl_slist *l = curl_slist_append(x->headers, line);
    /* The Authorization line holds a secret: do not leave it in freed memory. */
    explicit_bzero(line, strlen(line));
    free(line);
    if (!l) return -1;
    x->headers = l;
    return 0;
}

/* The method and body: curl's POST machinery carries a body for any method. */
static CURLcode http_set_method(CURL *e, const ws_http_request_t *req)
{
    CURLcode rc = CURLE_OK;
    if (req->body || req->method == WORKSPACE_POST)
        rc = curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
    else
        rc = curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    if (rc == CURLE_OK && req->method != WORKSPACE_GET && req->method != WORKSPACE_POST)
        rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, workspace_method_name(req->method));
    return rc;
}

static int http_setup(http_xfer_t *x, const ws_http_request_t *req)
{
    CURL *e = x->easy;
    long timeout_ms = (long)((req->timeout_s > 0 ? req->timeout_s : WORKSPACE_TIMEOUT_S) * 1000);
    if ((req->body &&
         http_add_header(x, "Content-Type: %s",
                         req->content_type ? req->content_type : "application/json") != 0) ||
        http_add_header(x, "Accept: %s", "application/json") != 0 ||
        http_add_header(x, "Expect:%s", "") != 0 ||
        (req->bearer && http_add_header(x, "Authorization: Bearer %s", req->bearer) != 0))
        return -1;
    CURLcode rc = http_set_method(e, req);
#define HTTP_OPT(opt, val)                                                                         \
    if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
    HTTP_OPT(CURLOPT_URL, req->url);
    HTTP_OPT(CURLOPT_PROTOCOLS_STR, "http,https");
    HTTP_OPT(CURLOPT_HTTPHEADER, x->headers);
    HTTP_OPT(CURLOPT_USERAGENT, "lakeapi/" LAKEAPI_VERSION);
    HTTP_OPT(CURLOPT_NOSIGNAL, 1L);
    HTTP_OPT(CURLOPT_TIMEOUT_MS, timeout_ms);
    HTTP_OPT(CURLOPT_CONNECTTIMEOUT_MS, timeout_ms < 5000 ? timeout_ms : 5000L);
    HTTP_OPT(CURLOPT_WRITEFUNCTION, http_on_write);
    HTTP_OPT(CURLOPT_WRITEDATA, x);
    HTTP_OPT(CURLOPT_HEADERFUNCTION, http_on_header);
    HTTP_OPT(CURLOPT_HEADERDATA, x);
    HTTP_OPT(CURLOPT_PRIVATE, x);
    HTTP_OPT(CURLOPT_ERRORBUFFER, x->errbuf);
    if (req->basic_user) {
        HTTP_OPT(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        HTTP_OPT(CURLOPT_USERNAME, req->basic_user);
        HTTP_OPT(CURLOPT_PASSWORD, req->basic_password ? req->basic_password : "");
    }
#undef HTTP_OPT
    return rc == CURLE_OK ? 0 : -1;
}

/* ws_http_start's callback, from the result. */
static void http_plain(const ws_http_result_t *r, void *data)
{
    http_xfer_t *x = data;
    x->plain_cb(r->status, r->body, r->len, r->error, x->plain_data);
}

int ws_http_start(ws_http_t *h, const ws_http_request_t *req, ws_http_cb cb, void *data)
{
    http_xfer_t *x = NULL;
    if (ws_http_stream(h, req, NULL, http_plain, NULL, &x) != 0) return -1;
    x->data = x;
    x->plain_cb = cb;
    x->plain_data = data;
    return 0;
}

int ws_http_stream(ws_http_t *h, const ws_http_request_t *req, ws_http_data_cb on_data,
                   ws_http_result_cb cb, void *data, ws_http_xfer_t **out)
{
    if (!h->timer_ready) {
        uv_timer_init(h->loop, &h->timer);
        h->timer.data = h;
        h->timer_ready = true;
    }
    http_xfer_t *x = calloc(1, sizeof *x);
    if (!x) return -1;
    x->owner = h;
    x->cb = cb;
    x->data = data;
    x->on_data = on_data;
    x->retry_after = -1;
    buf_init(&x->response);
    x->easy = curl_easy_init();
    if (!x->easy || http_setup(x, req) != 0 ||
        curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
        http_xfer_free(x);
        return -1;
    }
    HTTP_LINK(h->xfers, x);
    if (out) *out = x;
    return 0;
}

void ws_http_resume(ws_http_xfer_t *x)
{
    if (!x->paused) return;
    x->paused = false;
    curl_easy_pause(x->easy, CURLPAUSE_CONT); /* may deliver data (and pause again) at once */
}

void ws_http_abort(ws_http_xfer_t *x)
{
    ws_http_t *h = x->owner;
    HTTP_UNLINK(h->xfers, x);
    curl_multi_remove_handle(h->multi, x->easy);
    http_xfer_free(x);
}

/* ---- the client ---- */

ws_http_t *ws_http_new(uv_loop_t *loop)
{
    if (!http_global_ref()) return NULL;
    ws_http_t *h = calloc(1, sizeof *h);
    if (!h || !(h->multi = curl_multi_init())) {
        free(h);
        http_global_unref();
        return NULL;
    }
    h->loop = loop;
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_on_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    return h;
}

void ws_http_free(ws_http_t *h)
{
    if (!h) return;
    h->freeing = true;
    for (http_xfer_t *x = h->xfers, *n; x; x = n) {
        n = x->next;
        curl_multi_remove_handle(h->multi, x->easy);
        http_xfer_free(x);
    }
    curl_multi_cleanup(h->multi);
    /* The loop has stopped with every handle closed: what is left is plain memory. */
    for (http_sock_t *k = h->socks, *n; k; k = n) {
        n = k->next;
        free(k);
    }
    free(h);
    http_global_unref();
}
