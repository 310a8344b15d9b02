/*
 * cors - Cross-Origin Resource Sharing from CORS_ALLOW_ORIGINS and
 * CORS_ALLOW_CREDENTIALS, as the http server's pre-route hook.
 *
 * Not configured (the default): the hook is not installed and no response
 * carries a CORS header. Configured, for a request whose Origin is allowed:
 *   - a preflight (OPTIONS with Access-Control-Request-Method) is answered
 *     here with 204: the methods the path's routes allow, the requested
 *     headers echoed back once each is a valid header token, Max-Age 600;
 *   - any other request goes on to its route with Access-Control-Allow-Origin
 *     (and -Credentials, and the headers scripts may read) already added.
 * A request from an origin that is not allowed gets no CORS header at all,
 * and its preflight a 400, which the browser reports as a CORS failure.
 * "*" allows every origin; with credentials the origin is echoed instead of
 * "*", as browsers refuse "*" on credentialed requests. Whenever the answer
 * depends on the Origin header it carries Vary: Origin, so caches keep one
 * copy per origin.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "web/web.h"

#define CORS_MAX_AGE "600"
#define CORS_EXPOSE_HEADERS                                                                        \
    "X-Request-Id, Retry-After, Link, Location, RateLimit, RateLimit-Policy, WWW-Authenticate"
#define CORS_MAX_REQ_HEADERS 2048

struct web_cors {
    const router_t *router;
    bool any; /* "*" */
    bool credentials;
    int norigins;
    char **origins; /* normalised: lower case, no trailing slash */
};

/* scheme://host[:port] with nothing after it; "null" is no origin we allow. */
static bool cors_origin_ok(const char *s, size_t n)
{
    const char *sep = n > 3 ? strstr(s, "://") : NULL;
    if (!sep || sep == s || (size_t)(sep - s) + 3 >= n) return false;
    for (const char *p = s; p < sep; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '+' || *p == '-' || *p == '.'))
            return false;
    for (const char *p = sep + 3; p < s + n; p++)
        if (*p == '/' || *p == '?' || *p == '#' || *p == ',' || *p == ' ' ||
            (unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    return true;
}

void web_cors_free(web_cors_t *c)
{
    if (!c) return;
    for (int i = 0; i < c->norigins; i++)
        free(c->origins[i]);
    free(c->origins);
    free(c);
}

int web_cors_new(const char *origins, bool credentials, const router_t *r, web_cors_t **out,
                 char *err, size_t errlen)
{
    *out = NULL;
    if (!origins || !origins[strspn(origins, " \t,")]) return 0; /* not configured */
    web_cors_t *c = calloc(1, sizeof *c);
    if (!c) abort();
    c->router = r;
    c->credentials = credentials;
    for (const char *p = origins; *p;) {
        p += strspn(p, " \t,");
        size_t n = strcspn(p, ",");
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n == 0) break;
        size_t keep = n;
        while (keep > 1 && p[keep - 1] == '/')
            keep--; /* "https://a.example/" is that origin */
        if (keep == 1 && p[0] == '*') {
            c->any = true;
        } else if (!cors_origin_ok(p, keep)) {
            snprintf(err, errlen,
                     "CORS_ALLOW_ORIGINS: '%.*s' is not an origin (scheme://host[:port], or *)",
                     (int)(n > 100 ? 100 : n), p);
            web_cors_free(c);
            return -1;
        } else {
            char **grown = realloc(c->origins, sizeof *grown * (size_t)(c->norigins + 1));
            if (!grown) abort();
            c->origins = grown;
            char *o = strndup(p, keep);
            if (!o) abort();
            for (char *q = o; *q; q++)
                if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
            c->origins[c->norigins++] = o;
        }
        p += strcspn(p, ",");
    }
    *out = c;
    return 0;
}

static bool cors_origin_allowed(const web_cors_t *c, const char *origin, size_t n)
{
    if (c->any) return n > 0;
    for (int i = 0; i < c->norigins; i++)
        if (strlen(c->origins[i]) == n && strncasecmp(c->origins[i], origin, n) == 0) return true;
    return false;
}

/* RFC 9110 tchar: the characters of a header field name. */
static bool cors_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Re-joins a comma list of header names as "a, b"; NULL if any element is not a token. */
static char *cors_header_list(arena_t *a, const char *v, size_t n)
{
    if (n > CORS_MAX_REQ_HEADERS) return NULL;
    char *out = arena_alloc(a, n + 1), *o = out;
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < n && cors_tchar(v[i]))
            i++;
        if (i == start) break;
        if (o != out) *o++ = ',', *o++ = ' ';
        memcpy(o, v + start, i - start);
        o += i - start;
        while (i < n && (v[i] == ' ' || v[i] == '\t'))
            i++;
        if (i < n && v[i] != ',') return NULL;
    }
    if (i < n) return NULL;
    *o = '\0';
    return out;
}

static http_method_t cors_method(const char *s, size_t n)
{
    static const struct {
        const char *name;
        http_method_t m;
    } names[] = {{"GET", HTTP_GET},        {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
                 {"PUT", HTTP_PUT},        {"DELETE", HTTP_DELETE}, {"PATCH", HTTP_PATCH},
                 {"OPTIONS", HTTP_OPTIONS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == n && memcmp(names[i].name, s, n) == 0) return names[i].m;
    return 0;
}

static void cors_methods_text(unsigned methods, char *out, size_t n)
{
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    out[0] = '\0';
    if (methods & HTTP_GET) methods |= HTTP_HEAD;
    for (int i = 0; i < 7; i++) {
        if (!(methods & (1u << i))) continue;
        if (out[0]) strncat(out, ", ", n - strlen(out) - 1);
        strncat(out, names[i], n - strlen(out) - 1);
    }
}

/* The headers every allowed cross-origin answer carries. */
static void cors_allow_origin(const web_cors_t *c, http_exchange_t *ex, const char *origin)
{
    bool echo = !c->any || c->credentials;
    http_exchange_add_header(ex, "Access-Control-Allow-Origin", echo ? origin : "*");
    if (c->credentials) http_exchange_add_header(ex, "Access-Control-Allow-Credentials", "true");
    if (echo) http_exchange_add_header(ex, "Vary", "Origin");
}

/*
 * The path's allowed methods come from the router, matched on the decoded path
 * (the hook has no other): only a parameter holding an escaped '/' could match
 * differently, and its preflight then falls through to the router's 404/405.
 */
static bool cors_preflight(const web_cors_t *c, http_exchange_t *ex, const char *origin,
                           const char *req_method, size_t req_method_len)
{
    router_match_t m;
    router_status_t st =
        router_match(c->router, HTTP_OPTIONS, http_exchange_path(ex), http_exchange_arena(ex), &m);
    if (st == ROUTER_NOT_FOUND) return false; /* the router answers 404 */
    unsigned allowed = st == ROUTER_MATCH ? m.route->methods : m.allowed_methods;
    if (allowed & HTTP_GET) allowed |= HTTP_HEAD;
    http_method_t want = cors_method(req_method, req_method_len);
    size_t hn = 0;
    const char *hdrs = http_exchange_header(ex, "access-control-request-headers", &hn);
    char *hlist = hdrs ? cors_header_list(http_exchange_arena(ex), hdrs, hn) : NULL;
    if (!(want & allowed)) {
        http_exchange_add_header(ex, "Vary", "Origin");
        web_send_detail(ex, 400, "Disallowed CORS method");
        return true;
    }
    if (hdrs && !hlist) {
        http_exchange_add_header(ex, "Vary", "Origin");
        web_send_detail(ex, 400, "Disallowed CORS headers");
        return true;
    }
    char methods[64];
    cors_methods_text(allowed, methods, sizeof methods);
    cors_allow_origin(c, ex, origin);
    if (c->any && !c->credentials) http_exchange_add_header(ex, "Vary", "Origin");
    http_exchange_add_header(ex, "Access-Control-Allow-Methods", methods);
    if (hlist && hlist[0]) http_exchange_add_header(ex, "Access-Control-Allow-Headers", hlist);
    http_exchange_add_header(ex, "Access-Control-Max-Age", CORS_MAX_AGE);
    buf_reset(http_exchange_body_buf(ex));
    http_exchange_send(ex, 204, NULL);
    return true;
}

bool web_cors_pre_route(http_exchange_t *ex, void *data)
{
    const web_cors_t *c = data;
    size_t on = 0;
    const char *origin = http_exchange_header(ex, "origin", &on);
    if (!origin) return false;
    /* The answer depends on Origin whenever the allowed set is a list. */
    bool allowed = on < 512 && cors_origin_allowed(c, origin, on) && !memchr(origin, '\r', on) &&
                   !memchr(origin, '\n', on);
    size_t rn = 0;
    const char *req_method = http_exchange_method(ex) == HTTP_OPTIONS
                                 ? http_exchange_header(ex, "access-control-request-method", &rn)
                                 : NULL;
    if (req_method && !allowed) {
        if (!c->any) http_exchange_add_header(ex, "Vary", "Origin");
        web_send_detail(ex, 400, "Disallowed CORS origin");
        return true;
    }
    if (!allowed) {
        if (!c->any) http_exchange_add_header(ex, "Vary", "Origin");
        return false;
    }
    const char *o = arena_strndup(http_exchange_arena(ex), origin, on);
    if (req_method && cors_preflight(c, ex, o, req_method, rn)) return true;
    cors_allow_origin(c, ex, o);
    http_exchange_add_header(ex, "Access-Control-Expose-Headers", CORS_EXPOSE_HEADERS);
    return false;
}
