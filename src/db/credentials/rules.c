/*
 * credentials/rules - the pure parts of the credential providers: time
 * parsing, token responses, the backoff rule, UUIDs. No I/O here, so the
 * unit tests cover it without a network. (The refresh margin, error
 * descriptions and scrubbing are the workspace layer's: lakeapi/workspace.h.)
 */
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/credentials/internal.h"

double cred_now(void)
{
    return workspace_now();
}

/* ---- RFC 3339 ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t rules_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int rules_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* Reads exactly n digits at *p into *out. */
static bool rules_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i])) return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool rules_expect(const char **p, char c)
{
    if (**p != c) return false;
    (*p)++;
    return true;
}

int cred_parse_rfc3339(const char *s, double *out)
{
    if (!s) return -1;
    const char *p = s;
    int y, mo, d, h, mi, sec;
    if (!rules_digits(&p, 4, &y) || !rules_expect(&p, '-') || !rules_digits(&p, 2, &mo) ||
        !rules_expect(&p, '-') || !rules_digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ') return -1;
    p++;
    if (!rules_digits(&p, 2, &h) || !rules_expect(&p, ':') || !rules_digits(&p, 2, &mi) ||
        !rules_expect(&p, ':') || !rules_digits(&p, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > rules_days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    double frac = 0, scale = 0.1;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p)) return -1;
        for (; isdigit((unsigned char)*p); p++, scale /= 10)
            frac += (*p - '0') * scale;
    }
    int offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (!rules_digits(&p, 2, &oh) || !rules_expect(&p, ':') || !rules_digits(&p, 2, &om) ||
            oh > 23 || om > 59)
            return -1;
        offset_s = sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p) return -1;
    int64_t days = rules_days_from_civil(y, mo, d);
    *out = (double)(days * 86400 + h * 3600 + mi * 60 + sec - offset_s) + frac;
    return 0;
}

/* ---- the refresh and backoff rules ---- */

bool cred_usable(double now, double expires_at)
{
    return expires_at <= 0 || now < expires_at - 1.0;
}

double cred_backoff_next(double prev)
{
    if (prev <= 0) return CRED_BACKOFF_MIN_S;
    double next = prev * 2;
    return next > CRED_BACKOFF_MAX_S ? CRED_BACKOFF_MAX_S : next;
}

/* ---- small helpers ---- */

void cred_uuid4_format(const unsigned char rnd[16], char out[37])
{
    unsigned char b[16];
    memcpy(b, rnd, 16);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

/* ---- token responses ---- */

static int rules_fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
    snprintf(err, errlen, fmt, arg);
    return -1;
}

int cred_parse_token_response(cred_response_kind_t kind, const char *body, size_t len, double now,
                              char **token, double *expires_at, char *err, size_t errlen)
{
    static const char *const token_keys[] = {"token", "token", "access_token"};
    static const char *const expiry_keys[] = {"expire_time", "expiration_time", "expires_in"};
    const char *tk = token_keys[kind], *ek = expiry_keys[kind];
    json_t *j = json_loadb(body ? body : "", len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return rules_fail(err, errlen, "the response is not a JSON object%s", "");
    }
    int rc = 0;
    const char *t = json_string_value(json_object_get(j, tk));
    json_t *e = json_object_get(j, ek);
    double exp = now + CRED_DEFAULT_TTL_S;
    if (!t || !*t) {
        rc = rules_fail(err, errlen, "the response has no \"%s\"", tk);
    } else if (kind == CRED_RESP_OAUTH && e) {
        double secs = json_is_number(e)   ? json_number_value(e)
                      : json_is_string(e) ? strtod(json_string_value(e), NULL)
                                          : NAN;
        if (!(secs > 0) || !isfinite(secs))
            rc = rules_fail(err, errlen, "the response has an invalid \"%s\"", ek);
        else
            exp = now + secs;
    } else if (kind != CRED_RESP_OAUTH && e) {
        if (cred_parse_rfc3339(json_string_value(e), &exp) != 0)
            rc = rules_fail(err, errlen, "the response has an invalid \"%s\" (not RFC 3339)", ek);
    }
    if (rc == 0) {
        *token = strdup(t);
        if (!*token) abort();
        *expires_at = exp;
    }
    json_decref(j);
    return rc;
}
