/*
 * credentials/workspace - the bearer token for Databricks workspace calls.
 *
 * Either a personal access token (DATABRICKS_TOKEN), used as is, or an OAuth
 * machine-to-machine token: POST {host}/oidc/v1/token with HTTP Basic
 * client_id:client_secret and grant_type=client_credentials&scope=all-apis.
 * The OAuth token is cached until 40 s before it expires (half its lifetime
 * for very short ones) and concurrent askers share one request.
 *
 * Which one: DATABRICKS_AUTH_TYPE when set; otherwise whichever is
 * configured. Both configured without DATABRICKS_AUTH_TYPE is refused (the
 * config loader checks it too), because silently preferring one has sent
 * people debugging the wrong identity's permissions.
 *
 * Owns copies of the secrets; they are wiped on free and scrubbed from every
 * message that leaves this module.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/credentials/internal.h"
#include "lakeapi/log.h"

typedef struct ws_waiter ws_waiter_t;
struct ws_waiter {
    cred_workspace_cb cb;
    void *data;
    ws_waiter_t *next;
};

struct cred_workspace {
    cred_http_t *http; /* borrowed */
    char *host;        /* https://... without a trailing slash */
    bool m2m;
    char *pat;
    char *client_id, *client_secret;
    char identity[160];
    char *token; /* the cached OAuth token */
    double minted_at, expires_at;
    bool fetching;
    ws_waiter_t *waiters, **waiters_tail;
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

const char *cred_workspace_auth_kind(const config_t *cfg)
{
    bool pat = cfg->databricks_token != NULL;
    bool m2m = cfg->databricks_client_id && cfg->databricks_client_secret;
    const char *type = cfg->databricks_auth_type;
    if (type && strcmp(type, "pat") == 0) return pat ? "pat" : NULL;
    if (type && strcmp(type, "oauth-m2m") == 0) return m2m ? "oauth-m2m" : NULL;
    if (pat && (m2m || cfg->databricks_client_id || cfg->databricks_client_secret)) return NULL;
    return pat ? "pat" : m2m ? "oauth-m2m" : NULL;
}

/* Explains why cred_workspace_auth_kind() found nothing usable. */
static void ws_auth_problem(const config_t *cfg, char *err, size_t errlen)
{
    bool pat = cfg->databricks_token != NULL;
    bool id = cfg->databricks_client_id != NULL, secret = cfg->databricks_client_secret != NULL;
    const char *type = cfg->databricks_auth_type;
    if (!type && pat && (id || secret))
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
}

cred_workspace_t *cred_workspace_new(cred_http_t *http, const config_t *cfg, char *err,
                                     size_t errlen)
{
    if (!cfg->databricks_host) {
        snprintf(err, errlen, "DATABRICKS_HOST is not set (the workspace that mints tokens)");
        return NULL;
    }
    const char *kind = cred_workspace_auth_kind(cfg);
    if (!kind) {
        ws_auth_problem(cfg, err, errlen);
        return NULL;
    }
    cred_workspace_t *w = calloc(1, sizeof *w);
    if (!w) abort();
    w->http = http;
    w->host = ws_strdup(cfg->databricks_host);
    size_t hl = strlen(w->host);
    while (hl > 0 && w->host[hl - 1] == '/')
        w->host[--hl] = '\0';
    w->m2m = strcmp(kind, "oauth-m2m") == 0;
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

void cred_workspace_free(cred_workspace_t *w)
{
    if (!w) return;
    for (ws_waiter_t *q = w->waiters, *n; q; q = n) {
        n = q->next;
        free(q);
    }
    ws_wipe(&w->pat);
    ws_wipe(&w->client_secret);
    ws_wipe(&w->token);
    free(w->client_id);
    free(w->host);
    free(w);
}

const char *cred_workspace_identity(const cred_workspace_t *w)
{
    return w->identity;
}

const char *cred_workspace_host(const cred_workspace_t *w)
{
    return w->host;
}

void cred_workspace_counts(const cred_workspace_t *w, uint64_t *fetches, uint64_t *failures)
{
    *fetches = w->fetches;
    *failures = w->failures;
}

void cred_workspace_scrub(const cred_workspace_t *w, char *msg)
{
    cred_scrub(msg, w->pat);
    cred_scrub(msg, w->client_secret);
    cred_scrub(msg, w->token);
}

bool cred_workspace_invalidate(cred_workspace_t *w)
{
    if (!w->m2m || w->fetching || !w->token) return false;
    ws_wipe(&w->token);
    return true;
}

/* Answers everyone waiting for the OAuth token; new askers may queue again meanwhile. */
static void ws_answer(cred_workspace_t *w, const char *bearer, const char *error)
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

static void ws_on_token(long status, const char *body, size_t len, const char *error, void *data)
{
    cred_workspace_t *w = data;
    char what[256], where[200], msg[700];
    w->fetching = false;
    snprintf(what, sizeof what, "workspace OAuth token for %s", w->identity);
    snprintf(where, sizeof where, " [POST %.120s/oidc/v1/token]", w->host);
    if (status == 200) {
        char *token = NULL, perr[160];
        double now = cred_now(), expires_at;
        if (cred_parse_token_response(CRED_RESP_OAUTH, body, len, now, &token, &expires_at, perr,
                                      sizeof perr) == 0) {
            ws_wipe(&w->token);
            w->token = token;
            w->minted_at = now;
            w->expires_at = expires_at;
            w->fetches++;
            log_debug("workspace OAuth token fetched (expires in %.0f s)", expires_at - now);
            /* The token may be dropped by a waiter's invalidate: hand out a copy. */
            char *copy = ws_strdup(token);
            ws_answer(w, copy, NULL);
            ws_wipe(&copy);
            return;
        }
        snprintf(msg, sizeof msg, "%s: HTTP 200 but %s%s", what, perr, where);
    } else {
        cred_describe_failure(msg, sizeof msg, what, status, body, len, error);
        size_t k = strlen(msg);
        snprintf(msg + k, sizeof msg - k, "%s", where);
    }
    w->failures++;
    cred_workspace_scrub(w, msg);
    ws_answer(w, NULL, msg);
}

static void ws_fetch(cred_workspace_t *w)
{
    char url[512];
    snprintf(url, sizeof url, "%s/oidc/v1/token", w->host);
    cred_http_request_t req = {
        .url = url,
        .body = "grant_type=client_credentials&scope=all-apis",
        .content_type = "application/x-www-form-urlencoded",
        .basic_user = w->client_id,
        .basic_password = w->client_secret,
        .timeout_s = CRED_HTTP_TIMEOUT_S,
    };
    w->fetching = true;
    if (cred_http_post(w->http, &req, ws_on_token, w) != 0) {
        w->fetching = false;
        w->failures++;
        char msg[256];
        snprintf(msg, sizeof msg, "workspace OAuth token request to %.120s: cannot start (curl)",
                 w->host);
        ws_answer(w, NULL, msg);
    }
}

void cred_workspace_token(cred_workspace_t *w, cred_workspace_cb cb, void *data)
{
    if (!w->m2m) {
        cb(w->pat, NULL, data);
        return;
    }
    if (w->token && !w->fetching &&
        !cred_needs_refresh(cred_now(), w->minted_at, w->expires_at, CRED_WS_MARGIN_S)) {
        cb(w->token, NULL, data);
        return;
    }
    ws_waiter_t *q = calloc(1, sizeof *q);
    if (!q) abort();
    q->cb = cb;
    q->data = data;
    *w->waiters_tail = q;
    w->waiters_tail = &q->next;
    if (!w->fetching) ws_fetch(w);
}
