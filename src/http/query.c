/*
 * http/query - percent-decoding (RFC 3986) and query-string lookup.
 *
 * The parser validates the whole path and query with http_pct_valid() before
 * a request reaches a handler, so decoding here cannot fail for a request the
 * server accepted. %00 is refused everywhere: a NUL inside a C string would
 * silently truncate it, which is how injection bugs start.
 */
#include "http/parser.h"

#include <string.h>

static int http_hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes the escape at s[i] ('%'); returns the byte, or -1 if malformed or NUL. */
static int http_pct_byte(const char *s, size_t len, size_t i)
{
    if (len - i < 3) return -1;
    int hi = http_hex_val((unsigned char)s[i + 1]);
    int lo = http_hex_val((unsigned char)s[i + 2]);
    if (hi < 0 || lo < 0) return -1;
    int v = hi * 16 + lo;
    return v == 0 ? -1 : v;
}

bool http_pct_valid(const char *s, size_t len)
{
    const char *pct = memchr(s, '%', len);
    while (pct) {
        size_t i = (size_t)(pct - s);
        if (http_pct_byte(s, len, i) < 0) return false;
        pct = memchr(s + i + 3, '%', len - i - 3);
    }
    return true;
}

/*
 * One byte of a strict UTF-8 decoder (RFC 3629): *need continuation bytes
 * are expected, the next within [*lo, *hi], which is how overlong forms
 * (C0 80, E0 80 80), surrogates (ED A0 80) and code points above U+10FFFF are
 * refused.
 */
static bool http_utf8_step(unsigned char b, int *need, unsigned char *lo, unsigned char *hi)
{
    if (*need) {
        if (b < *lo || b > *hi) return false;
        *lo = 0x80, *hi = 0xBF;
        (*need)--;
        return true;
    }
    *lo = 0x80, *hi = 0xBF;
    if (b < 0x80) return true;
    if (b >= 0xC2 && b <= 0xDF)
        *need = 1;
    else if (b == 0xE0)
        *need = 2, *lo = 0xA0;
    else if (b == 0xED)
        *need = 2, *hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF)
        *need = 2;
    else if (b == 0xF0)
        *need = 3, *lo = 0x90;
    else if (b >= 0xF1 && b <= 0xF3)
        *need = 3;
    else if (b == 0xF4)
        *need = 3, *hi = 0x8F;
    else
        return false;
    return true;
}

int http_pct_check(const char *s, size_t len)
{
    int need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    for (size_t i = 0; i < len; i++) {
        int b = (unsigned char)s[i];
        if (b == '%') {
            if ((b = http_pct_byte(s, len, i)) < 0) return -1;
            i += 2;
        }
        if (!http_utf8_step((unsigned char)b, &need, &lo, &hi)) return -2;
    }
    return need ? -2 : 0;
}

ssize_t http_pct_decode(char *dst, const char *s, size_t len, bool plus_space)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            int v = http_pct_byte(s, len, i);
            if (v < 0) return -1;
            dst[o++] = (char)v;
            i += 2;
        } else {
            dst[o++] = (plus_space && c == '+') ? ' ' : c;
        }
    }
    return (ssize_t)o;
}

/* true when the encoded key s/n decodes to name (name_len bytes). */
static bool http_query_key_is(const char *s, size_t n, const char *name, size_t name_len)
{
    if (!memchr(s, '%', n) && !memchr(s, '+', n)) return n == name_len && memcmp(s, name, n) == 0;
    if (n < name_len) return false; /* decoding only shrinks */
    char tmp[256];
    if (n > sizeof tmp) return false; /* names this long are never asked for */
    ssize_t d = http_pct_decode(tmp, s, n, true);
    return d == (ssize_t)name_len && memcmp(tmp, name, name_len) == 0;
}

const char *http_query_get(const char *query, size_t qlen, const char *name, arena_t *arena,
                           size_t *len)
{
    size_t name_len = strlen(name);
    size_t i = 0;
    while (i < qlen) {
        const char *amp = memchr(query + i, '&', qlen - i);
        size_t end = amp ? (size_t)(amp - query) : qlen;
        const char *pair = query + i;
        size_t plen = end - i;
        const char *eq = memchr(pair, '=', plen);
        size_t klen = eq ? (size_t)(eq - pair) : plen;
        if (plen > 0 && http_query_key_is(pair, klen, name, name_len)) {
            const char *v = eq ? eq + 1 : pair + plen;
            size_t vlen = (size_t)(pair + plen - v);
            if (len) *len = 0;
            if (vlen == 0) return "";
            char *out = arena_alloc(arena, vlen + 1);
            ssize_t d = http_pct_decode(out, v, vlen, true);
            if (d < 0) return NULL;
            out[d] = '\0';
            if (len) *len = (size_t)d;
            return out;
        }
        i = end + 1;
    }
    return NULL;
}
