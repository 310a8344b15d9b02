/*
 * db/listen - one dedicated connection that LISTENs on a channel and reports
 * NOTIFYs, for the schema reload of the Data API.
 *
 * It logs in exactly as the pool's connections do (same conninfo, same
 * credential provider: a Lakebase token is minted the same way), is driven
 * by the loop (non-blocking libpq, a uv_poll on its socket), and reconnects
 * with a backoff (0.5 s doubling to 30 s) when it is lost. After every
 * (re)connect the callback is called with channel NULL: notifications sent
 * while it was away are lost, so the listener should assume one was sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pool_internal.h"
#include "lakeapi/log.h"

typedef enum { LS_CREDENTIALS, LS_CONNECTING, LS_LISTENING, LS_BACKOFF, LS_STOPPED } ls_state_t;

struct db_listen {
    db_pool_t *pool;
    char *listen_sql;
    db_notify_fn fn;
    void *data;
    PGconn *pg;
    uv_poll_t *poll;
    int poll_fd;
    uv_timer_t timer;
    ls_state_t state;
    uint64_t backoff_ms;
    bool cred_pending;
    int open_handles;
};

static void ls_connect(db_listen_t *l);

static void ls_free_if_done(db_listen_t *l)
{
    if (l->state == LS_STOPPED && l->open_handles == 0 && !l->cred_pending) {
        free(l->listen_sql);
        free(l);
    }
}

static void ls_handle_closed(uv_handle_t *h)
{
    db_listen_t *l = h->data;
    if (h != (uv_handle_t *)&l->timer) free(h);
    l->open_handles--;
    ls_free_if_done(l);
}

static void ls_drop_conn(db_listen_t *l)
{
    if (l->poll) {
        uv_poll_stop(l->poll);
        uv_close((uv_handle_t *)l->poll, ls_handle_closed);
        l->poll = NULL;
    }
    if (l->pg) PQfinish(l->pg);
    l->pg = NULL;
}

static void ls_on_timer(uv_timer_t *t)
{
    ls_connect(t->data);
}

static void ls_retry(db_listen_t *l, const char *why)
{
    ls_drop_conn(l);
    if (l->state == LS_STOPPED) return;
    log_warn("schema listener: %s; retrying in %llu ms", why, (unsigned long long)l->backoff_ms);
    l->state = LS_BACKOFF;
    uv_timer_start(&l->timer, ls_on_timer, l->backoff_ms, 0);
    l->backoff_ms = l->backoff_ms * 2 > 30000 ? 30000 : l->backoff_ms * 2;
}

static void ls_on_poll(uv_poll_t *h, int status, int events);

static int ls_watch(db_listen_t *l, int events)
{
    int fd = PQsocket(l->pg);
    if (fd < 0) return -1;
    if (l->poll && l->poll_fd != fd) { /* libpq moved to another socket (next host) */
        uv_poll_stop(l->poll);
        uv_close((uv_handle_t *)l->poll, ls_handle_closed);
        l->poll = NULL;
    }
    if (!l->poll) {
        l->poll = malloc(sizeof *l->poll);
        if (!l->poll || uv_poll_init(l->pool->loop, l->poll, fd) != 0) abort();
        l->poll->data = l;
        l->poll_fd = fd;
        l->open_handles++;
    }
    return uv_poll_start(l->poll, events, ls_on_poll);
}

static void ls_read(db_listen_t *l)
{
    if (!PQconsumeInput(l->pg)) {
        ls_retry(l, "connection lost");
        return;
    }
    for (PGresult *r; !PQisBusy(l->pg) && (r = PQgetResult(l->pg));) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            ls_retry(l, PQresultErrorMessage(r));
            PQclear(r);
            return;
        }
        PQclear(r);
    }
    for (PGnotify *n; (n = PQnotifies(l->pg));) {
        l->fn(n->relname, n->extra, l->data);
        PQfreemem(n);
        if (l->state == LS_STOPPED) return;
    }
}

static void ls_poll_connect(db_listen_t *l)
{
    switch (PQconnectPoll(l->pg)) {
    case PGRES_POLLING_READING:
        if (ls_watch(l, UV_READABLE)) ls_retry(l, "connect");
        return;
    case PGRES_POLLING_WRITING:
        if (ls_watch(l, UV_WRITABLE)) ls_retry(l, "connect");
        return;
    case PGRES_POLLING_OK:
        if (!PQsendQuery(l->pg, l->listen_sql) || ls_watch(l, UV_READABLE)) {
            ls_retry(l, "LISTEN failed");
            return;
        }
        PQflush(l->pg);
        l->state = LS_LISTENING;
        l->backoff_ms = 500;
        l->fn(NULL, NULL, l->data); /* anything sent while we were away is lost */
        return;
    default: {
        char why[256];
        const char *msg = PQerrorMessage(l->pg);
        snprintf(why, sizeof why, "connect failed: %.*s", (int)strcspn(msg, "\n"), msg);
        ls_retry(l, why);
    }
    }
}

static void ls_on_poll(uv_poll_t *h, int status, int events)
{
    db_listen_t *l = h->data;
    if (l->state == LS_CONNECTING) {
        ls_poll_connect(l);
    } else if (l->state == LS_LISTENING) {
        if (status < 0)
            ls_retry(l, "socket error");
        else if (events & UV_READABLE)
            ls_read(l);
    }
}

static void ls_start_connect(db_listen_t *l, const char *password)
{
    db_pool_t *p = l->pool;
    const char **kw = NULL, **vals = NULL;
    p->cfg.conninfo(p->cfg.conninfo_data, password, &kw, &vals);
    l->pg = PQconnectStartParams(kw, vals, 1);
    if (p->cfg.conninfo_free) p->cfg.conninfo_free(kw, vals);
    l->state = LS_CONNECTING;
    if (!l->pg || PQstatus(l->pg) == CONNECTION_BAD) {
        ls_retry(l, "connect failed");
        return;
    }
    ls_poll_connect(l);
}

static void ls_on_password(const char *password, double expires_at, const char *error, void *data)
{
    db_listen_t *l = data;
    (void)expires_at;
    l->cred_pending = false;
    if (l->state == LS_STOPPED) {
        ls_free_if_done(l);
        return;
    }
    if (error) {
        ls_retry(l, error);
        return;
    }
    ls_start_connect(l, password);
}

static void ls_connect(db_listen_t *l)
{
    db_credentials_t *cr = l->pool->cfg.credentials;
    if (!cr) {
        ls_start_connect(l, NULL);
        return;
    }
    l->state = LS_CREDENTIALS;
    l->cred_pending = true;
    cr->get(cr, false, ls_on_password, l);
}

db_listen_t *db_listen_start(db_pool_t *p, const char *channel, db_notify_fn fn, void *data)
{
    db_listen_t *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->pool = p;
    l->fn = fn;
    l->data = data;
    l->backoff_ms = 500;
    size_t len = strlen(channel) * 2 + 16;
    l->listen_sql = malloc(len);
    if (!l->listen_sql) abort();
    char *o = l->listen_sql + sprintf(l->listen_sql, "LISTEN \"");
    for (const char *c = channel; *c; c++) {
        if (*c == '"') *o++ = '"';
        *o++ = *c;
    }
    strcpy(o, "\"");
    uv_timer_init(p->loop, &l->timer);
    l->timer.data = l;
    l->open_handles = 1;
    ls_connect(l);
    return l;
}

void db_listen_stop(db_listen_t *l)
{
    if (!l || l->state == LS_STOPPED) return;
    l->state = LS_STOPPED;
    ls_drop_conn(l);
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, ls_handle_closed);
}
