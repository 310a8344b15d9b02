/*
 * workspace/rules - the pure parts of the workspace client: error
 * descriptions and fields, OAuth token responses, the token refresh rule,
 * scrubbing secrets, URL escaping. No I/O here, so the unit tests cover it
 * without a network.
 *
 * Why a margin scaled to the token's lifetime: a fixed margin meant for ~1
 * hour tokens, applied to a 5-second token, would mean "always expired" and
 * a fetch per call. Half the lifetime keeps short tokens (tests, aggressive
 * policies) usable while real tokens get the full margin.
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "workspace/internal.h"

double workspace_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *workspace_method_name(workspace_method_t m)
{
    switch (m) {
    case WORKSPACE_POST:
        return "POST";
    case WORKSPACE_PATCH:
        return "PATCH";
    case WORKSPACE_DELETE:
        return "DELETE";
    case WORKSPACE_GET:
    default:
        return "GET";
    }
}

/* ---- the refresh rule ---- */

double workspace_refresh_margin(double minted_at, double expires_at, double max_margin)
{
    double half = (expires_at - minted_at) / 2;
    if (half < 0) half = 0;
    return half < max_margin ? half : max_margin;
}

bool workspace_needs_refresh(double now, double minted_at, double expires_at, double max_margin)
{
    if (expires_at <= 0) return false; /* never expires */
    return now >= expires_at - workspace_refresh_margin(minted_at, expires_at, max_margin);
}

/* ---- strings ---- */

void workspace_escape_segment(buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            buf_append_char(out, (char)c);
        } else {
            char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
            buf_append(out, enc, 3);
        }
    }
}

void workspace_scrub_secret(char *s, const char *secret)
{
    if (!s || !secret) return;
    size_t n = strlen(secret);
    if (n < 4) return;
    for (char *hit; (hit = strstr(s, secret));) {
        memcpy(hit, "****", 4);
        memmove(hit + 4, hit + n, strlen(hit + n) + 1);
    }
}

/*
 * Appends at most max bytes of text (stopping early at a NUL) to out, control
 * characters as blanks, runs of blanks collapsed.
 */
static void rules_append_clean(char *out, size_t n, const char *text, size_t max)
{
    size_t k = strlen(out);
    bool blank = k > 0 && out[k - 1] == ' ';
    for (size_t i = 0; i < max && text[i] && k + 1 < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c < 0x20 || c == 0x7f) c = ' ';
        if (c == ' ' && blank) continue;
        blank = c == ' ';
        out[k++] = (char)c;
    }
    out[k] = '\0';
}

static const char *rules_json_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v && *v ? v : NULL;
}

/* The code and message of an error body (either may be NULL); j is the parsed body. */
static void rules_error_pair(json_t *j, const char **code, const char **msg)
{
    *code = rules_json_str(j, "error_code");
    *msg = rules_json_str(j, "message");
    if (!*code) *code = rules_json_str(j, "error");
    if (!*msg) *msg = rules_json_str(j, "error_description");
}

void ws_error_fields(const char *body, size_t len, char *code, size_t code_n, char *message,
                     size_t message_n)
{
    code[0] = message[0] = '\0';
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        const char *c, *m;
        rules_error_pair(j, &c, &m);
        if (c) rules_append_clean(code, code_n, c, 64);
        if (m) rules_append_clean(message, message_n, m, 300);
    }
    json_decref(j);
}

void workspace_describe_failure(char *out, size_t n, const char *what, long status,
                                const char *body, size_t len, const char *transport_error)
{
    if (n == 0) return;
    const char *sep = what && *what ? ": " : "";
    if (!what) what = "";
    if (status == 0) {
        snprintf(out, n, "%s%s%s", what, sep,
                 transport_error && *transport_error ? transport_error : "no response");
        return;
    }
    snprintf(out, n, "%s%sHTTP %ld", what, sep, status);
    json_t *j = body && len ? json_loadb(body, len, 0, NULL) : NULL;
    if (json_is_object(j)) {
        const char *code, *msg;
        rules_error_pair(j, &code, &msg);
        if (code) {
            rules_append_clean(out, n, " ", 1);
            rules_append_clean(out, n, code, 64);
        }
        if (msg) {
            rules_append_clean(out, n, ": ", 2);
            rules_append_clean(out, n, msg, 300);
        }
    } else if (body && len) {
        rules_append_clean(out, n, ": ", 2);
        rules_append_clean(out, n, body, len < 120 ? len : 120); /* body is not NUL-terminated */
    }
    json_decref(j);
}

/* ---- OAuth token responses ---- */

int ws_parse_oauth_token(const char *body, size_t len, double now, char **token, double *expires_at,
                         char *err, size_t errlen)
{
    json_t *j = json_loadb(body ? body : "", len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(err, errlen, "the response is not a JSON object");
        return -1;
    }
    const char *t = json_string_value(json_object_get(j, "access_token"));
    json_t *e = json_object_get(j, "expires_in");
    double secs = WS_DEFAULT_TTL_S;
    if (e) {
        secs = json_is_number(e)   ? json_number_value(e)
               : json_is_string(e) ? strtod(json_string_value(e), NULL)
                                   : NAN;
    }
    int rc = -1;
    if (!t || !*t)
        snprintf(err, errlen, "the response has no \"access_token\"");
    else if (!(secs > 0) || !isfinite(secs))
        snprintf(err, errlen, "the response has an invalid \"expires_in\"");
    else
        rc = 0;
    if (rc == 0) {
        *token = strdup(t);
        if (!*token) abort();
        *expires_at = now + secs;
    }
    json_decref(j);
    return rc;
}
