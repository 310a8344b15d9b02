/*
 * validate - the value checks behind the users model: EmailStr, IPvAnyAddress
 * and str lengths as pydantic counts them.
 *
 * The email rules follow email-validator (what pydantic's EmailStr calls)
 * without its DNS and IDNA steps, and reuse its reason texts so a 422 reads
 * the same as from the Python peer. Addresses are only checked, never
 * rewritten: what the client sent is what is stored.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "web/validate.h"

#define EMAIL_MAX_LOCAL  64
#define EMAIL_MAX_DOMAIN 255
#define EMAIL_MAX_LABEL  63
#define EMAIL_MAX_TOTAL  254

size_t web_utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80) n++;
    return n;
}

/* ---- email ---- */

static bool email_atext(unsigned char c)
{
    if (c >= 0x80) return true; /* internationalised local parts (SMTPUTF8) */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

static bool email_domain_char(unsigned char c)
{
    if (c >= 0x80) return true; /* internationalised domain names */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.';
}

/*
 * "<prefix>: 'x', SPACE, U+0009." listing each rejected ASCII character once,
 * in code point order, the way email-validator displays them.
 */
static bool email_bad_chars(const char *s, size_t len, bool (*ok)(unsigned char),
                            const char *prefix, char *reason, size_t n)
{
    bool bad[128] = {false};
    bool any = false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!ok(c)) bad[c & 0x7F] = any = true;
    }
    if (!any) return false;
    size_t k = (size_t)snprintf(reason, n, "%s: ", prefix);
    bool first = true;
    for (int c = 0; c < 128 && k < n; c++) {
        if (!bad[c]) continue;
        const char *sep = first ? "" : ", ";
        first = false;
        if (c == ' ')
            k += (size_t)snprintf(reason + k, n - k, "%sSPACE", sep);
        else if (c < 0x20 || c == 0x7F)
            k += (size_t)snprintf(reason + k, n - k, "%sU+%04X", sep, c);
        else if (c == '\'')
            k += (size_t)snprintf(reason + k, n - k, "%s\"'\"", sep);
        else
            k += (size_t)snprintf(reason + k, n - k, "%s'%c'", sep, c);
    }
    if (k < n) snprintf(reason + k, n - k, ".");
    return true;
}

static void email_too_long(char *reason, size_t n, const char *where, size_t over)
{
    snprintf(reason, n, "The email address is too long%s (%zu character%s too many).", where, over,
             over == 1 ? "" : "s");
}

/* Dot placement in a dot-atom: email-validator's check_dot_atom. */
static bool email_dots(const char *s, size_t len, bool is_domain, char *reason, size_t n)
{
    if (s[0] == '.') {
        snprintf(reason, n, "%s",
                 is_domain ? "An email address cannot have a period immediately after "
                             "the @-sign."
                           : "An email address cannot start with a period.");
        return false;
    }
    if (s[len - 1] == '.') {
        snprintf(reason, n, "%s",
                 is_domain ? "An email address cannot end with a period."
                           : "An email address cannot have a period immediately before "
                             "the @-sign.");
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        if (s[i] == '.' && s[i - 1] == '.') {
            snprintf(reason, n, "An email address cannot have two periods in a row.");
            return false;
        }
    }
    return true;
}

static bool email_local(const char *s, size_t len, char *reason, size_t n)
{
    if (len == 0) {
        snprintf(reason, n, "There must be something before the @-sign.");
        return false;
    }
    size_t chars = web_utf8_chars(s, len);
    if (chars > EMAIL_MAX_LOCAL) {
        email_too_long(reason, n, " before the @-sign", chars - EMAIL_MAX_LOCAL);
        return false;
    }
    if (email_bad_chars(s, len, email_atext,
                        "The email address contains invalid characters before the @-sign", reason,
                        n))
        return false;
    return email_dots(s, len, false, reason, n);
}

/* Label rules: 1..63 characters, no hyphen at either end. */
static bool email_labels(const char *s, size_t len, char *reason, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '.') continue;
        const char *label = s + start;
        size_t llen = i - start;
        if (llen > EMAIL_MAX_LABEL) {
            snprintf(reason, n,
                     "After the @-sign, periods cannot be separated by so many characters (%zu "
                     "character%s too many).",
                     llen - EMAIL_MAX_LABEL, llen - EMAIL_MAX_LABEL == 1 ? "" : "s");
            return false;
        }
        if (label[0] == '-' || label[llen - 1] == '-') {
            snprintf(reason, n, "%s",
                     start == 0 && label[0] == '-'
                         ? "An email address cannot have a hyphen immediately after the @-sign."
                     : i == len && label[llen - 1] == '-'
                         ? "An email address cannot end with a hyphen."
                         : "An email address cannot have a period and a hyphen next to each "
                           "other.");
            return false;
        }
        start = i + 1;
    }
    return true;
}

static bool email_domain(const char *s, size_t len, char *reason, size_t n)
{
    if (len == 0) {
        snprintf(reason, n, "There must be something after the @-sign.");
        return false;
    }
    if (email_bad_chars(s, len, email_domain_char,
                        "The part after the @-sign contains invalid characters", reason, n))
        return false;
    if (!email_dots(s, len, true, reason, n)) return false;
    if (len > EMAIL_MAX_DOMAIN) {
        snprintf(reason, n, "The email address is too long after the @-sign.");
        return false;
    }
    if (!email_labels(s, len, reason, n)) return false;
    const char *dot = memrchr(s, '.', len);
    if (!dot) {
        snprintf(reason, n, "The part after the @-sign is not valid. It should have a period.");
        return false;
    }
    /* A top-level domain starts with a letter ("a@b.123" is not a name on the internet). */
    unsigned char tld0 = (unsigned char)dot[1];
    if (tld0 < 0x80 && !((tld0 >= 'a' && tld0 <= 'z') || (tld0 >= 'A' && tld0 <= 'Z'))) {
        snprintf(reason, n,
                 "The part after the @-sign is not valid. It is not within a valid top-level "
                 "domain.");
        return false;
    }
    return true;
}

bool web_email_valid(const char *s, size_t len, char *reason, size_t reason_len)
{
    const char *at = memrchr(s, '@', len);
    if (!at) {
        snprintf(reason, reason_len, "An email address must have an @-sign.");
        return false;
    }
    size_t local_len = (size_t)(at - s);
    if (!email_local(s, local_len, reason, reason_len)) return false;
    if (!email_domain(at + 1, len - local_len - 1, reason, reason_len)) return false;
    size_t chars = web_utf8_chars(s, len);
    if (chars > EMAIL_MAX_TOTAL) {
        email_too_long(reason, reason_len, "", chars - EMAIL_MAX_TOTAL);
        return false;
    }
    return true;
}

/* ---- IP addresses ---- */

bool web_ip_normalize(const char *s, size_t len, char out[WEB_IP_MAX])
{
    char text[WEB_IP_MAX];
    if (len == 0 || len >= sizeof text || memchr(s, '\0', len)) return false;
    memcpy(text, s, len);
    text[len] = '\0';
    struct in_addr v4;
    /* glibc's inet_pton takes exactly a.b.c.d with no leading zeros, as Python does. */
    if (inet_pton(AF_INET, text, &v4) == 1) return inet_ntop(AF_INET, &v4, out, WEB_IP_MAX) != NULL;
    /* IPv6, possibly scoped: "fe80::1%eth0" (the zone is kept verbatim). */
    char *zone = strchr(text, '%');
    if (zone) {
        *zone++ = '\0';
        if (*zone == '\0' || strchr(zone, '%') || strchr(zone, '/')) return false;
    }
    struct in6_addr v6;
    if (inet_pton(AF_INET6, text, &v6) != 1) return false;
    if (!inet_ntop(AF_INET6, &v6, out, WEB_IP_MAX)) return false;
    if (zone) {
        size_t k = strlen(out);
        int w = snprintf(out + k, WEB_IP_MAX - k, "%%%s", zone);
        if (w < 0 || (size_t)w >= WEB_IP_MAX - k) return false;
    }
    return true;
}
