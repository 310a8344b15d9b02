/*
 * credentials/lakebase - the Lakebase credential providers (Autoscaling and
 * Provisioned) and the choice of provider from the settings.
 *
 * A provider caches one database token. get() answers at once from the cache
 * while the token is not within its refresh margin; otherwise the caller
 * waits for a mint, and every caller arriving meanwhile waits for that same
 * mint. force_fresh (the database rejected our token, 28P01) skips the cache.
 *
 * A failed mint answers its waiters at once - with the old token when it can
 * still log in, else with the error - and the next attempt may only start
 * after a backoff (0.5 s doubling to 30 s). Retries are driven by demand: the
 * pool keeps asking while it has no connection, so an attempt happens as soon
 * as each backoff ends, and a workspace that comes back is noticed then.
 *
 * The workspace call itself (bearer token, HTTP on the loop, a retry with a
 * fresh OAuth token after a 401) is the workspace layer's (lakeapi/workspace.h).
 *
 * Ownership: the provider owns its workspace client and the token; waiters
 * are answered exactly once (or dropped silently on free, when nobody can be
 * called any more).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/credentials/internal.h"
#include "lakeapi/buf.h"
#include "lakeapi/log.h"

typedef enum { LB_AUTOSCALING, LB_PROVISIONED } lb_kind_t;

typedef struct lb_waiter lb_waiter_t;
struct lb_waiter {
    db_credentials_cb cb;
    void *data;
    bool force_fresh;
    lb_waiter_t *next;
};

typedef struct lakebase {
    db_credentials_t base;
    lb_kind_t kind;
    char *resource;  /* the endpoint path or the instance name */
    char label[400]; /* "endpoint projects/..." for messages */
    workspace_t *ws;
    char *token;
    double minted_at, expires_at;
    bool minting;
    lb_waiter_t *waiters, **waiters_tail;
    double backoff_s;
    uint64_t retry_at_ns; /* no new attempt before this (uv_hrtime) */
    uint64_t mints, failures;
    char last_error[512];
} lakebase_t;

static void lb_get(db_credentials_t *self, bool force_fresh, db_credentials_cb cb, void *cb_data);

static void lb_wipe(char **s)
{
    if (*s) explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

/* ---- answering ---- */

/* Answers every waiter: the fresh token, or on failure the old one where it still works. */
static void lb_answer(lakebase_t *lb, bool minted)
{
    lb_waiter_t *q = lb->waiters;
    lb->waiters = NULL;
    lb->waiters_tail = &lb->waiters;
    /* Copies: a callback may start the next mint, which must not free what we hand out. */
    char *token = lb->token ? strdup(lb->token) : NULL;
    char *error = strdup(lb->last_error);
    if ((lb->token && !token) || !error) abort();
    double expires_at = lb->expires_at;
    bool usable = token && cred_usable(cred_now(), expires_at);
    for (lb_waiter_t *n; q; q = n) {
        n = q->next;
        if (minted || (usable && !q->force_fresh))
            q->cb(token, expires_at, NULL, q->data);
        else
            q->cb(NULL, 0, error, q->data);
        free(q);
    }
    lb_wipe(&token);
    free(error);
}

static void lb_fail(lakebase_t *lb, const char *msg)
{
    snprintf(lb->last_error, sizeof lb->last_error, "%s", msg);
    workspace_scrub(lb->ws, lb->last_error);
    cred_scrub(lb->last_error, lb->token);
    lb->failures++;
    lb->minting = false;
    lb->backoff_s = cred_backoff_next(lb->backoff_s);
    lb->retry_at_ns = uv_hrtime() + (uint64_t)(lb->backoff_s * 1e9);
    log_warn("%s (next attempt in %.1f s)", lb->last_error, lb->backoff_s);
    lb_answer(lb, false);
}

static void lb_succeed(lakebase_t *lb, char *token, double now, double expires_at)
{
    bool recovered = lb->failures > 0 && lb->last_error[0];
    lb_wipe(&lb->token);
    lb->token = token;
    lb->minted_at = now;
    lb->expires_at = expires_at;
    lb->mints++;
    lb->minting = false;
    lb->backoff_s = 0;
    lb->retry_at_ns = 0;
    lb->last_error[0] = '\0';
    log_info("minted a Lakebase database token for %s (valid %.0f s; mint %llu)%s", lb->label,
             expires_at - now, (unsigned long long)lb->mints,
             recovered ? ": credentials recovered" : "");
    lb_answer(lb, true);
}

/* ---- minting ---- */

static const char *lb_path(const lakebase_t *lb)
{
    return lb->kind == LB_AUTOSCALING ? "/api/2.0/postgres/credentials"
                                      : "/api/2.0/database/credentials";
}

static void lb_on_response(const workspace_response_t *res, void *data)
{
    lakebase_t *lb = data;
    /* The reason first: the pool keeps only the start of a message for its own reports. */
    char what[448], where[400], msg[1400];
    snprintf(what, sizeof what, "Lakebase credential for %s", lb->label);
    snprintf(where, sizeof where, " [POST %.120s%s as %s]", workspace_host(lb->ws), lb_path(lb),
             workspace_identity(lb->ws));
    if (res->status == 200) {
        char *token = NULL, perr[160];
        double now = cred_now(), expires_at;
        cred_response_kind_t kind =
            lb->kind == LB_AUTOSCALING ? CRED_RESP_AUTOSCALING : CRED_RESP_PROVISIONED;
        if (cred_parse_token_response(kind, res->body, res->len, now, &token, &expires_at, perr,
                                      sizeof perr) == 0) {
            lb_succeed(lb, token, now, expires_at);
            return;
        }
        snprintf(msg, sizeof msg, "%s: HTTP 200 but %s%s", what, perr, where);
    } else if (res->auth_failed) {
        /* The workspace token fetch failed: its message names its own call. */
        snprintf(msg, sizeof msg, "%s: %s", what, res->error);
    } else {
        snprintf(msg, sizeof msg, "%s: %s%s", what,
                 res->error ? res->error : "unexpected HTTP status", where);
    }
    lb_fail(lb, msg);
}

/* The request body: {"endpoint": ...} or {"request_id": uuid, "instance_names": [...]}. */
static char *lb_body(const lakebase_t *lb)
{
    json_t *o;
    if (lb->kind == LB_AUTOSCALING) {
        o = json_pack("{s:s}", "endpoint", lb->resource);
    } else {
        unsigned char rnd[16];
        char uuid[37];
        if (uv_random(NULL, NULL, rnd, sizeof rnd, 0, NULL) != 0) return NULL;
        cred_uuid4_format(rnd, uuid);
        o = json_pack("{s:s, s:[s]}", "request_id", uuid, "instance_names", lb->resource);
    }
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static void lb_mint(lakebase_t *lb)
{
    lb->minting = true;
    char *body = lb_body(lb);
    int rc = body ? workspace_call(lb->ws, WORKSPACE_POST, lb_path(lb), body, CRED_HTTP_TIMEOUT_S,
                                   lb_on_response, lb)
                  : -1;
    free(body);
    if (rc != 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "Lakebase credential for %s: cannot start the request",
                 lb->label);
        lb_fail(lb, msg);
    }
}

static void lb_get(db_credentials_t *self, bool force_fresh, db_credentials_cb cb, void *cb_data)
{
    lakebase_t *lb = (lakebase_t *)self;
    double now = cred_now();
    if (!force_fresh && lb->token &&
        !cred_needs_refresh(now, lb->minted_at, lb->expires_at, CRED_DB_MARGIN_S)) {
        cb(lb->token, lb->expires_at, NULL, cb_data);
        return;
    }
    if (!lb->minting && uv_hrtime() < lb->retry_at_ns) {
        /* Backing off after a failure: answer now, so the pool fails fast (503). */
        if (!force_fresh && lb->token && cred_usable(now, lb->expires_at))
            cb(lb->token, lb->expires_at, NULL, cb_data);
        else
            cb(NULL, 0, lb->last_error, cb_data);
        return;
    }
    lb_waiter_t *q = calloc(1, sizeof *q);
    if (!q) abort();
    q->cb = cb;
    q->data = cb_data;
    q->force_fresh = force_fresh;
    *lb->waiters_tail = q;
    lb->waiters_tail = &q->next;
    if (!lb->minting) lb_mint(lb);
}

static void lb_free(db_credentials_t *self)
{
    lakebase_t *lb = (lakebase_t *)self;
    for (lb_waiter_t *q = lb->waiters, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    lb_wipe(&lb->token);
    workspace_free(lb->ws);
    free(lb->resource);
    free(lb);
}

/* ---- choosing a provider ---- */

typedef enum { CHOICE_STATIC, CHOICE_AUTOSCALING, CHOICE_PROVISIONED } choice_t;

/*
 * A Lakebase name selects token auth - unless only a static password is
 * configured and no workspace credentials at all (a native Postgres role on
 * Lakebase): then the password is used as given.
 */
static choice_t lb_choose(const config_t *cfg)
{
    bool ws_auth =
        cfg->databricks_token || cfg->databricks_client_id || cfg->databricks_client_secret;
    if (!cfg->endpoint_name && !cfg->lakebase_instance_name) return CHOICE_STATIC;
    if (cfg->pg_password && !ws_auth) return CHOICE_STATIC;
    return cfg->endpoint_name ? CHOICE_AUTOSCALING : CHOICE_PROVISIONED;
}

int credentials_from_config(uv_loop_t *loop, const config_t *cfg, db_credentials_t **out, char *err,
                            size_t errlen)
{
    *out = NULL;
    choice_t choice = lb_choose(cfg);
    if (choice == CHOICE_STATIC) {
        *out = db_credentials_static_new(cfg->pg_password);
        if (!*out) snprintf(err, errlen, "out of memory");
        return *out ? 0 : -1;
    }
    const char *setting = choice == CHOICE_AUTOSCALING ? "ENDPOINT_NAME" : "LAKEBASE_INSTANCE_NAME";
    lakebase_t *lb = calloc(1, sizeof *lb);
    if (!lb) abort();
    char why[400];
    lb->ws = workspace_new(loop, cfg, why, sizeof why);
    if (!lb->ws) {
        snprintf(err, errlen, "%s is set (Lakebase token auth), but %s", setting, why);
        free(lb);
        return -1;
    }
    lb->kind = choice == CHOICE_AUTOSCALING ? LB_AUTOSCALING : LB_PROVISIONED;
    lb->resource =
        strdup(choice == CHOICE_AUTOSCALING ? cfg->endpoint_name : cfg->lakebase_instance_name);
    if (!lb->resource) abort();
    snprintf(lb->label, sizeof lb->label, "%s %.300s",
             lb->kind == LB_AUTOSCALING ? "endpoint" : "instance", lb->resource);
    lb->base.get = lb_get;
    lb->base.free = lb_free;
    lb->base.kind = lb->kind == LB_AUTOSCALING ? "lakebase-autoscaling" : "lakebase-provisioned";
    lb->waiters_tail = &lb->waiters;
    *out = &lb->base;
    return 0;
}

void credentials_describe(const config_t *cfg, char *out, size_t n)
{
    if (n == 0) return;
    choice_t choice = lb_choose(cfg);
    buf_t b;
    buf_init(&b);
    if (choice == CHOICE_STATIC) {
        buf_printf(&b, "static (%s)",
                   cfg->pg_password    ? "PGPASSWORD"
                   : cfg->database_url ? "the password in DATABASE_URL, if any"
                                       : "no password");
        if (cfg->endpoint_name || cfg->lakebase_instance_name)
            buf_append_str(&b, "; no workspace credentials, so no Lakebase tokens");
    } else {
        bool autoscaling = choice == CHOICE_AUTOSCALING;
        const char *auth = workspace_auth_kind(cfg);
        bool m2m = auth && strcmp(auth, "oauth-m2m") == 0;
        buf_printf(&b, "%s (%s %s, workspace %s, auth %s",
                   autoscaling ? "lakebase-autoscaling" : "lakebase-provisioned",
                   autoscaling ? "endpoint" : "instance",
                   autoscaling ? cfg->endpoint_name : cfg->lakebase_instance_name,
                   cfg->databricks_host ? cfg->databricks_host : "NOT SET (DATABRICKS_HOST)",
                   auth ? auth : "NOT USABLE");
        if (m2m) buf_printf(&b, ", client id %s", cfg->databricks_client_id);
        buf_append_str(&b, ")");
        if (!cfg->pg_user) {
            buf_append_str(&b, "; PGUSER is not set: Lakebase expects the Postgres role of the "
                               "identity that mints the token");
            if (m2m) buf_printf(&b, " (here the client id %s)", cfg->databricks_client_id);
        }
        if (cfg->pg_password) buf_append_str(&b, "; PGPASSWORD is ignored");
        if (autoscaling && cfg->lakebase_instance_name)
            buf_append_str(&b, "; LAKEBASE_INSTANCE_NAME is ignored (ENDPOINT_NAME wins)");
    }
    snprintf(out, n, "%s", b.data);
    buf_dispose(&b);
}

void credentials_stats(const db_credentials_t *cr, credentials_stats_t *out)
{
    memset(out, 0, sizeof *out);
    out->healthy = true;
    if (!cr) {
        out->kind = "none";
        return;
    }
    out->kind = cr->kind;
    if (credentials_hub_stats(cr, out)) return;
    if (cr->get != lb_get) return;
    const lakebase_t *lb = (const lakebase_t *)cr;
    out->mints = lb->mints;
    out->expires_at = lb->token ? lb->expires_at : 0;
    out->healthy = lb->last_error[0] == '\0';
    snprintf(out->last_error, sizeof out->last_error, "%s", lb->last_error);
    workspace_counts(lb->ws, &out->workspace_tokens, &out->workspace_failures);
    out->mint_failures = lb->failures;
}

/* ---- one-shot use ---- */

typedef struct {
    bool done;
    char *password;
    double expires_at;
    char error[512];
} lb_once_t;

static void lb_once_cb(const char *password, double expires_at, const char *error, void *data)
{
    lb_once_t *o = data;
    o->done = true;
    o->password = password ? strdup(password) : NULL;
    o->expires_at = expires_at;
    if (!password && error) snprintf(o->error, sizeof o->error, "%s", error);
}

static void lb_close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

int credentials_fetch_once(const config_t *cfg, char **password, double *expires_at, char *err,
                           size_t errlen)
{
    *password = NULL;
    *expires_at = 0;
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0) {
        snprintf(err, errlen, "cannot create an event loop");
        return -1;
    }
    db_credentials_t *cr;
    if (credentials_from_config(&loop, cfg, &cr, err, errlen) != 0) {
        uv_loop_close(&loop);
        return -1;
    }
    lb_once_t once = {0};
    cr->get(cr, false, lb_once_cb, &once);
    while (!once.done && uv_run(&loop, UV_RUN_ONCE))
        ;
    uv_walk(&loop, lb_close_walk, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr->free(cr);
    uv_loop_close(&loop);
    if (!once.done || (!once.password && once.error[0])) {
        snprintf(err, errlen, "%s",
                 once.done ? once.error : "the credential provider never answered");
        return -1;
    }
    *password = once.password;
    *expires_at = once.expires_at;
    return 0;
}
