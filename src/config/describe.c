/*
 * config/describe - what leaves the config module: libpq connection
 * parameters, the human-readable settings listing, and password masking.
 *
 * Secrets never leave here in clear text except through config_conninfo(),
 * whose arrays go straight to libpq. config_mask_url() errs on the side of
 * masking too much: when it cannot tell where a password ends it masks the
 * whole value.
 */
#include "lakeapi/config.h"
#include "config/config_internal.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CONFIG_MASK "****"

/* ---- masking ---------------------------------------------------------------- */

/* Keywords whose values are secrets: password, sslpassword, ... */
static bool config_is_password_key(const char *key, size_t len)
{
    return len >= 8 && strncasecmp(key + len - 8, "password", 8) == 0;
}

/*
 * scheme://[user[:password]@]host[:port][/db][?key=value&...]. Masks the union
 * of every span a parser could read as a password: the userinfo password runs
 * to the LAST '@' (libpq stops at the first one, but a hand-written URL may
 * hold a raw '@', '/' or '?' in its password), and everything after a query
 * key ending in "password" (a raw '&' may be part of it). Masking a little too
 * much beats leaking.
 */
static char *config_mask_uri(const char *url, const char *rest)
{
    size_t len = strlen(url);
    bool *mask = calloc(len + 1, sizeof *mask);
    if (!mask) abort();

    const char *at = strrchr(rest, '@');
    const char *colon = at ? memchr(rest, ':', (size_t)(at - rest)) : NULL;
    if (colon) {
        for (const char *p = colon + 1; p < at; p++)
            mask[p - url] = true;
    }
    const char *q = strchr(rest, '?');
    for (const char *key = q; key && *key;) {
        key++; /* past '?' or '&' */
        size_t n = strcspn(key, "&");
        const char *eq = memchr(key, '=', n);
        if (eq && config_is_password_key(key, (size_t)(eq - key))) {
            /* To the end: a raw '&' in the password would otherwise show its tail. */
            for (const char *p = eq + 1; *p; p++)
                mask[p - url] = true;
        }
        key += n;
    }

    buf_t out;
    buf_init(&out);
    for (size_t i = 0; i < len; i++) {
        if (!mask[i])
            buf_append_char(&out, url[i]);
        else if (i == 0 || !mask[i - 1])
            buf_append_str(&out, CONFIG_MASK);
    }
    free(mask);
    return buf_steal(&out);
}

static bool config_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* "key = value key='quoted \' value'" (libpq's syntax); NULL when unparseable. */
static char *config_mask_conninfo(const char *s)
{
    buf_t out;
    buf_init(&out);
    const char *p = s;
    for (;;) {
        while (config_is_space(*p))
            p++;
        if (!*p) break;
        const char *key = p;
        while (*p && *p != '=' && !config_is_space(*p))
            p++;
        size_t key_len = (size_t)(p - key);
        while (config_is_space(*p))
            p++;
        if (*p != '=' || key_len == 0) goto fail;
        p++;
        while (config_is_space(*p))
            p++;
        const char *val = p;
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++) {
                if (*p == '\\' && p[1]) p++;
            }
            if (*p != '\'') goto fail;
            p++;
        } else {
            for (; *p && !config_is_space(*p); p++) {
                if (*p == '\\' && p[1]) p++;
            }
        }
        if (out.len) buf_append_char(&out, ' ');
        buf_append(&out, key, key_len);
        buf_append_char(&out, '=');
        if (config_is_password_key(key, key_len))
            buf_append_str(&out, CONFIG_MASK);
        else
            buf_append(&out, val, (size_t)(p - val));
    }
    return buf_steal(&out);
fail:
    buf_dispose(&out);
    return NULL;
}

char *config_mask_url(const char *url)
{
    if (!url) return NULL;
    /* A URI starts with scheme "://"; anything else is read as key=value pairs. */
    size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (n > 0 && strncmp(url + n, "://", 3) == 0) return config_mask_uri(url, url + n + 3);
    char *masked = config_mask_conninfo(url);
    if (!masked) masked = strdup(CONFIG_MASK); /* cannot tell where a password is */
    if (!masked) abort();
    return masked;
}

/* ---- describe ---------------------------------------------------------------- */

static void config_describe_one(const config_t *c, const config_setting_t *s, buf_t *out)
{
    const void *field = (const char *)c + s->offset;
    const char *str = NULL;
    buf_printf(out, "%s = ", s->names[0]);
    switch (s->kind) {
    case CONFIG_PORT:
    case CONFIG_POOL_SIZE:
    case CONFIG_OVERFLOW:
    case CONFIG_COUNT:
    case CONFIG_MS:
    case CONFIG_ROWS:
        buf_printf(out, "%d\n", *(const int *)field);
        return;
    case CONFIG_WORKERS:
        if (c->workers == 0)
            buf_printf(out, "0 (one loop per core: %d", config_workers_wanted(c));
        else
            buf_printf(out, "%d", c->workers);
        if (config_workers_count(c) < config_workers_wanted(c))
            buf_printf(out, "%s%d with DB_POOL_SIZE=%d", c->workers == 0 ? "; " : " (",
                       config_workers_count(c), c->pool_size);
        buf_printf(out, "%s\n", c->workers == 0 || config_workers_count(c) < c->workers ? ")" : "");
        return;
    case CONFIG_SECONDS:
    case CONFIG_SECONDS0:
    case CONFIG_NUMBER0:
        buf_printf(out, "%g\n", *(const double *)field);
        return;
    case CONFIG_BOOL:
        buf_printf(out, "%s\n", *(const bool *)field ? "true" : "false");
        return;
    case CONFIG_LOG_LEVEL:
        buf_printf(out, "%s\n", log_level_name(*(const log_level_t *)field));
        return;
    default:
        str = *(char *const *)field;
        break;
    }
    if (!str) {
        buf_append_str(out, "(not set)\n");
    } else if (s->kind == CONFIG_URL) {
        char *masked = config_mask_url(str);
        buf_printf(out, "%s\n", masked);
        free(masked);
    } else {
        buf_printf(out, "%s\n", s->secret ? CONFIG_MASK : str);
    }
}

void config_describe(const config_t *c, buf_t *out)
{
    for (size_t i = 0; i < config_settings_count; i++) {
        config_describe_one(c, &config_settings[i], out);
    }
}

/* ---- libpq parameters ---------------------------------------------------- */

#define CONFIG_CONNINFO_MAX 12

typedef struct config_params {
    const char **keywords;
    const char **values;
    size_t n;
} config_params_t;

static char *config_dup(const char *s)
{
    char *p = strdup(s);
    if (!p) abort();
    return p;
}

static void config_param(config_params_t *p, const char *key, const char *value)
{
    if (!value) return;
    p->keywords[p->n] = config_dup(key);
    p->values[p->n] = config_dup(value);
    p->n++;
}

/* Which keywords DATABASE_URL itself sets, so our defaults do not override them. */
static void config_url_sets(const char *url, bool *appname, bool *timeout)
{
    *appname = *timeout = false;
    if (!url) return;
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);
    if (msg) PQfreemem(msg);
    if (!opts) return;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (strcmp(o->keyword, "application_name") == 0) *appname = true;
        if (strcmp(o->keyword, "connect_timeout") == 0) *timeout = true;
    }
    PQconninfoFree(opts);
}

void config_conninfo(const config_t *c, const char *password, const char ***keywords,
                     const char ***values)
{
    config_params_t p;
    p.keywords = calloc(CONFIG_CONNINFO_MAX, sizeof *p.keywords);
    p.values = calloc(CONFIG_CONNINFO_MAX, sizeof *p.values);
    if (!p.keywords || !p.values) abort();
    p.n = 0;

    /*
     * With expand_dbname=1 libpq expands only the FIRST dbname, and later
     * keywords override what it set. So the URL goes first and the discrete
     * fields after it; without a URL an empty dbname (ignored by libpq) takes
     * that place, so a PGDATABASE that looks like a URL is not expanded.
     */
    config_param(&p, "dbname", c->database_url ? c->database_url : "");
    bool url_appname, url_timeout;
    config_url_sets(c->database_url, &url_appname, &url_timeout);

    config_param(&p, "host", c->pg_host);
    config_param(&p, "port", c->pg_port);
    config_param(&p, "dbname", c->pg_database);
    config_param(&p, "user", c->pg_user);
    config_param(&p, "password", password ? password : c->pg_password);
    config_param(&p, "sslmode", c->pg_sslmode);
    bool default_appname = c->pg_appname && strcmp(c->pg_appname, CONFIG_DEFAULT_APPNAME) == 0;
    if (!(url_appname && default_appname)) config_param(&p, "application_name", c->pg_appname);
    if (!url_timeout) config_param(&p, "connect_timeout", "10");

    *keywords = p.keywords;
    *values = p.values;
}

void config_free_conninfo(const char **keywords, const char **values)
{
    for (size_t i = 0; keywords && keywords[i]; i++) {
        free((char *)keywords[i]);
        free((char *)values[i]);
    }
    free(keywords);
    free(values);
}
