/*
 * workspace/workspace - the workspace auth and workspace_call().
 *
 * The bearer token is either a personal access token (DATABRICKS_TOKEN),
 * used as is, or an OAuth machine-to-machine token: POST {host}/oidc/v1/token
 * with HTTP Basic client_id:client_secret and
 * grant_type=client_credentials&scope=all-apis. The OAuth token is cached
 * until 40 s before it expires (half its lifetime for very short ones) and
 * concurrent askers share one fetch.
 *
 * A call answered 401 while it carried the cached OAuth token drops that
 * token (it was revoked or expired early) and is retried once with a fresh
 * one; a PAT cannot be renewed, so its 401 is final.
 *
 * Ownership: the workspace owns its HTTP client, copies of the secrets
 * (wiped on free) and every call in flight (a list, so that free can drop
 * them without calling back).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/log.h"
#include "workspace/internal.h"

typedef void (*ws_bearer_cb)(const char *bearer, const char *error, void *data);

typedef struct ws_waiter ws_waiter_t;
struct ws_waiter {
    ws_bearer_cb cb;
    void *data;
    ws_waiter_t *next;
};

typedef struct ws_call ws_call_t;
struct ws_call {
    workspace_t *w;
    workspace_method_t method;
    char *url, *body;
    double timeout_s;
    workspace_cb cb;
    void *data;
    unsigned token_gen; /* which OAuth token the call carried */
    bool retried;       /* already retried after a 401 */
    ws_call_t *prev, *next;
};

struct workspace {
    ws_http_t *http;
    char *host; /* https://... without a trailing slash */
    bool m2m;
    char *pat;
    char *client_id, *client_secret;
    char identity[160];
    char *token; /* the cached OAuth token */
    double minted_at, expires_at;
    unsigned token_gen; /* bumped for every token fetched */
    bool fetching;
    ws_waiter_t *waiters, **waiters_tail;
    ws_call_t *calls;
    uint64_t fetches, failures;
};

static char *ws_strdup(const char *s)
{
    if (!s) return NULL;
    char *p = strdup(s);
    if (!p) abort();
    return p;
}

static void ws_wipe(char **s)
{
    if (*s) explicit_bzero(*s, strlen(*s));
    free(*s);
    *s = NULL;
}

/* ---- settings ---- */

const char *workspace_auth_kind(const config_t *cfg)
{
    bool pat = cfg->databricks_token != NULL;
    bool m2m = cfg->databricks_client_id && cfg->databricks_client_secret;
    const char *type = cfg->databricks_auth_type;
    if (type && strcmp(type, "pat") == 0) return pat ? "pat" : NULL;
    if (type && strcmp(type, "oauth-m2m") == 0) return m2m ? "oauth-m2m" : NULL;
    if (pat && (m2m || cfg->databricks_client_id || cfg->databricks_client_secret)) return NULL;
    return pat ? "pat" : m2m ? "oauth-m2m" : NULL;
}

int workspace_check_config(const config_t *cfg, char *err, size_t errlen)
{
    bool pat = cfg->databricks_token != NULL;
    bool id = cfg->databricks_client_id != NULL, secret = cfg->databricks_client_secret != NULL;
    const char *type = cfg->databricks_auth_type;
    if (!cfg->databricks_host)
        snprintf(err, errlen, "DATABRICKS_HOST is not set (the Databricks workspace URL)");
    else if (workspace_auth_kind(cfg))
        return 0;
    else if (!type && pat && (id || secret))
        snprintf(err, errlen,
                 "both DATABRICKS_TOKEN and DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET are set: "
                 "set DATABRICKS_AUTH_TYPE to pat or oauth-m2m to choose");
    else if (type && strcmp(type, "pat") == 0)
        snprintf(err, errlen, "DATABRICKS_AUTH_TYPE is pat but DATABRICKS_TOKEN is not set");
    else if (id != secret)
        snprintf(err, errlen, "%s is set without %s",
                 id ? "DATABRICKS_CLIENT_ID" : "DATABRICKS_CLIENT_SECRET",
                 id ? "DATABRICKS_CLIENT_SECRET" : "DATABRICKS_CLIENT_ID");
    else
        snprintf(err, errlen,
                 "no Databricks workspace credentials: set DATABRICKS_TOKEN (a personal access "
                 "token) or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET (OAuth M2M)");
    return -1;
}

/* ---- the handle ---- */

workspace_t *workspace_new(uv_loop_t *loop, const config_t *cfg, char *err, size_t errlen)
{
    if (workspace_check_config(cfg, err, errlen) != 0) return NULL;
    workspace_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->http = ws_http_new(loop);
    if (!w->http) {
        snprintf(err, errlen, "libcurl could not be initialised");
        free(w);
        return NULL;
    }
    w->host = ws_strdup(cfg->databricks_host);
    size_t hl = strlen(w->host);
    while (hl > 0 && w->host[hl - 1] == '/')
        w->host[--hl] = '\0';
    w->m2m = strcmp(workspace_auth_kind(cfg), "oauth-m2m") == 0;
    if (w->m2m) {
        w->client_id = ws_strdup(cfg->databricks_client_id);
        w->client_secret = ws_strdup(cfg->databricks_client_secret);
        snprintf(w->identity, sizeof w->identity, "oauth-m2m (client id %.100s)", w->client_id);
    } else {
        w->pat = ws_strdup(cfg->databricks_token);
        snprintf(w->identity, sizeof w->identity, "pat (DATABRICKS_TOKEN)");
    }
    w->waiters_tail = &w->waiters;
    return w;
}

static void ws_call_free(ws_call_t *c)
{
    free(c->url);
    free(c->body);
    free(c);
}

void workspace_free(workspace_t *w)
{
    if (!w) return;
    ws_http_free(w->http); /* first: no transfer may complete into a freed call */
    for (ws_waiter_t *q = w->waiters, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    for (ws_call_t *c = w->calls, *n; c; c = n) {
        n = c->next;
        ws_call_free(c);
    }
    ws_wipe(&w->pat);
    ws_wipe(&w->client_secret);
    ws_wipe(&w->token);
    free(w->client_id);
    free(w->host);
    free(w);
}

const char *workspace_identity(const workspace_t *w)
{
    return w->identity;
}

const char *workspace_host(const workspace_t *w)
{
    return w->host;
}

void workspace_counts(const workspace_t *w, uint64_t *fetches, uint64_t *failures)
{
    *fetches = w->fetches;
    *failures = w->failures;
}

void workspace_scrub(const workspace_t *w, char *msg)
{
    workspace_scrub_secret(msg, w->pat);
    workspace_scrub_secret(msg, w->client_secret);
    workspace_scrub_secret(msg, w->token);
}

/* ---- the bearer token ---- */

/* Answers everyone waiting for the OAuth token; new askers may queue again meanwhile. */
static void ws_answer(workspace_t *w, const char *bearer, const char *error)
{
    ws_waiter_t *q = w->waiters;
    w->waiters = NULL;
    w->waiters_tail = &w->waiters;
    for (ws_waiter_t *n; q; q = n) {
        n = q->next;
        q->cb(bearer, error, q->data);
        free(q);
    }
}

static void ws_on_token(const ws_http_result_t *hr, void *data)
{
    workspace_t *w = data;
    long status = hr->status;
    const char *body = hr->body, *error = hr->error;
    size_t len = hr->len;
    char what[256], where[200], msg[700];
    w->fetching = false;
    snprintf(what, sizeof what, "workspace OAuth token for %s", w->identity);
    snprintf(where, sizeof where, " [POST %.120s/oidc/v1/token]", w->host);
    if (status == 200) {
        char *token = NULL, perr[160];
        double now = workspace_now(), expires_at;
        if (ws_parse_oauth_token(body, len, now, &token, &expires_at, perr, sizeof perr) == 0) {
            ws_wipe(&w->token);
            w->token = token;
            w->minted_at = now;
            w->expires_at = expires_at;
            w->token_gen++;
            w->fetches++;
            log_debug("workspace OAuth token fetched (expires in %.0f s)", expires_at - now);
            /* A waiter's 401 may drop the cached token: hand out a copy. */
            char *copy = ws_strdup(token);
            ws_answer(w, copy, NULL);
            ws_wipe(&copy);
            return;
        }
        snprintf(msg, sizeof msg, "%s: HTTP 200 but %s%s", what, perr, where);
    } else {
        workspace_describe_failure(msg, sizeof msg, what, status, body, len, error);
        size_t k = strlen(msg);
        snprintf(msg + k, sizeof msg - k, "%s", where);
    }
    w->failures++;
    workspace_scrub(w, msg);
    ws_answer(w, NULL, msg);
}

/*
 * Starts the shared token fetch; -1 (why in err) when it cannot even start.
 * Nobody is waiting yet: waiters queue only while a fetch is under way.
 */
static int ws_fetch(workspace_t *w, char *err, size_t errlen)
{
    char url[512];
    snprintf(url, sizeof url, "%s/oidc/v1/token", w->host);
    ws_http_request_t req = {
        .method = WORKSPACE_POST,
        .url = url,
        .body = "grant_type=client_credentials&scope=all-apis",
        .content_type = "application/x-www-form-urlencoded",
        .basic_user = w->client_id,
        .basic_password = w->client_secret,
        .timeout_s = WORKSPACE_TIMEOUT_S,
    };
    w->fetching = true;
    if (ws_http_stream(w->http, &req, NULL, ws_on_token, w, NULL) != 0) {
        w->fetching = false;
        w->failures++;
        snprintf(err, errlen, "workspace OAuth token request to %.120s: cannot start (curl)",
                 w->host);
        return -1;
    }
    return 0;
}

/*
 * The bearer token. 1 with *bearer set when it is at hand (a PAT or a fresh
 * cached token); 0 when cb will get it once the shared fetch ends; -1 (why in
 * err) when the fetch cannot even start, and cb is never called. Never calling
 * back from in here keeps workspace_call() free of re-entrancy.
 */
static int ws_token(workspace_t *w, ws_bearer_cb cb, void *data, const char **bearer, char *err,
                    size_t errlen)
{
    if (!w->m2m) {
        *bearer = w->pat;
        return 1;
    }
    if (w->token && !w->fetching &&
        !workspace_needs_refresh(workspace_now(), w->minted_at, w->expires_at, WS_TOKEN_MARGIN_S)) {
        *bearer = w->token;
        return 1;
    }
    if (!w->fetching && ws_fetch(w, err, errlen) != 0) return -1;
    ws_waiter_t *q = calloc(1, sizeof *q);
    if (!q) abort();
    q->cb = cb;
    q->data = data;
    *w->waiters_tail = q;
    w->waiters_tail = &q->next;
    return 0;
}

/* ---- calls ---- */

static void ws_call_unlink(ws_call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->w->calls = c->next;
    if (c->next) c->next->prev = c->prev;
}

/* Ends a call started earlier: its callback, then the call is freed. */
static void ws_call_finish(ws_call_t *c, const workspace_response_t *res)
{
    ws_call_unlink(c);
    c->cb(res, c->data);
    ws_call_free(c);
}

static void ws_call_fail(ws_call_t *c, const char *error, bool auth_failed)
{
    workspace_response_t res = {.status = 0,
                                .body = "",
                                .error = error,
                                .error_code = "",
                                .message = "",
                                .auth_failed = auth_failed,
                                .retry_after = -1};
    ws_call_finish(c, &res);
}

static void ws_call_on_http(const ws_http_result_t *hr, void *data);

/* Starts the call's request; -1 when curl cannot start it (no callback then). */
static int ws_call_send(ws_call_t *c, const char *bearer)
{
    ws_http_request_t req = {
        .method = c->method,
        .url = c->url,
        .body = c->body,
        .content_type = "application/json",
        .bearer = bearer,
        .timeout_s = c->timeout_s,
    };
    c->token_gen = c->w->token_gen;
    return ws_http_stream(c->w->http, &req, NULL, ws_call_on_http, c, NULL);
}

static void ws_call_on_bearer(const char *bearer, const char *error, void *data)
{
    ws_call_t *c = data;
    if (!bearer)
        ws_call_fail(c, error, true);
    else if (ws_call_send(c, bearer) != 0)
        ws_call_fail(c, "cannot start the request (curl)", false);
}

/* Sends the call again after a 401, with a token at hand or once one is fetched. */
static void ws_call_retry(ws_call_t *c)
{
    const char *bearer = NULL;
    char err[256];
    c->retried = true;
    int r = ws_token(c->w, ws_call_on_bearer, c, &bearer, err, sizeof err);
    if (r > 0)
        ws_call_on_bearer(bearer, NULL, c);
    else if (r < 0)
        ws_call_on_bearer(NULL, err, c);
}

static void ws_call_on_http(const ws_http_result_t *hr, void *data)
{
    ws_call_t *c = data;
    long status = hr->status;
    const char *body = hr->body, *error = hr->error;
    size_t len = hr->len;
    workspace_t *w = c->w;
    if (status == 401 && w->m2m && !c->retried) {
        /* Drop the token this call carried (unless a newer one came meanwhile) and retry. */
        if (c->token_gen == w->token_gen && !w->fetching) ws_wipe(&w->token);
        ws_call_retry(c);
        return;
    }
    char desc[700] = "", code[80], message[400];
    ws_error_fields(body, len, code, sizeof code, message, sizeof message);
    bool ok = status >= 200 && status < 300;
    if (!ok) workspace_describe_failure(desc, sizeof desc, NULL, status, body, len, error);
    workspace_scrub(w, desc);
    workspace_scrub(w, message);
    workspace_response_t res = {
        .status = status,
        .body = body ? body : "",
        .len = body ? len : 0,
        .error = ok ? NULL : desc,
        .error_code = code,
        .message = message,
        .retry_after = hr->retry_after,
    };
    ws_call_finish(c, &res);
}

int workspace_call(workspace_t *w, workspace_method_t method, const char *path,
                   const char *json_body, double timeout_s, workspace_cb cb, void *data)
{
    ws_call_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->w = w;
    c->method = method;
    if (asprintf(&c->url, "%s%s", w->host, path) < 0) abort();
    c->body = ws_strdup(json_body);
    c->timeout_s = timeout_s > 0 ? timeout_s : WORKSPACE_TIMEOUT_S;
    c->cb = cb;
    c->data = data;
    c->prev = NULL;
    c->next = w->calls;
    if (w->calls) w->calls->prev = c;
    w->calls = c;
    /* Only a failure to start is reported here; everything later goes to cb. */
    const char *bearer = NULL;
    char err[256];
    int r = ws_token(w, ws_call_on_bearer, c, &bearer, err, sizeof err);
    if (r > 0) r = ws_call_send(c, bearer);
    if (r < 0) {
        ws_call_unlink(c);
        ws_call_free(c);
        return -1;
    }
    return 0;
}

/* ---- downloads of presigned URLs (no workspace token) ---- */

struct workspace_download {
    workspace_t *w;
    ws_http_xfer_t *xfer;
    workspace_data_cb on_data;
    workspace_cb done;
    void *arg;
};

static int ws_download_on_data(const char *data, size_t len, void *arg)
{
    workspace_download_t *d = arg;
    return d->on_data(data, len, d->arg);
}

static void ws_download_on_http(const ws_http_result_t *hr, void *data)
{
    workspace_download_t *d = data;
    char desc[700] = "", code[80], message[400];
    ws_error_fields(hr->body, hr->len, code, sizeof code, message, sizeof message);
    bool ok = hr->status >= 200 && hr->status < 300 && !hr->error;
    if (!ok)
        workspace_describe_failure(desc, sizeof desc, NULL, hr->status, hr->body, hr->len,
                                   hr->error);
    workspace_scrub(d->w, desc);
    workspace_response_t res = {.status = hr->status,
                                .body = hr->body ? hr->body : "",
                                .len = hr->body ? hr->len : 0,
                                .error = ok ? NULL : desc,
                                .error_code = code,
                                .message = message,
                                .retry_after = hr->retry_after};
    workspace_cb done = d->done;
    void *arg = d->arg;
    free(d);
    done(&res, arg);
}

workspace_download_t *workspace_download(workspace_t *w, const char *url, double timeout_s,
                                         workspace_data_cb on_data, workspace_cb done, void *arg)
{
    workspace_download_t *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->w = w;
    d->on_data = on_data;
    d->done = done;
    d->arg = arg;
    ws_http_request_t req = {.method = WORKSPACE_GET, .url = url, .timeout_s = timeout_s};
    if (ws_http_stream(w->http, &req, ws_download_on_data, ws_download_on_http, d, &d->xfer) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void workspace_download_resume(workspace_download_t *d)
{
    ws_http_resume(d->xfer);
}

void workspace_download_abort(workspace_download_t *d)
{
    ws_http_abort(d->xfer);
    free(d);
}
