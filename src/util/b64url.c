/*
 * b64url - base64url without padding, shared by the JWT parser (auth/) and
 * the cursor tokens (rest/). See lakeapi/b64url.h for the strictness rules.
 */
#include <stdint.h>

#include "lakeapi/b64url.h"

static const char b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void b64url_encode(buf_t *out, const unsigned char *p, size_t n)
{
    const char *a = b64url_alphabet;
    buf_reserve(out, (n + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        char q[4] = {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63], a[v & 63]};
        buf_append(out, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        char q[2] = {a[v >> 18], a[(v >> 12) & 63]};
        buf_append(out, q, 2);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        char q[3] = {a[v >> 18], a[(v >> 12) & 63], a[(v >> 6) & 63]};
        buf_append(out, q, 3);
    }
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

long b64url_decode(const char *s, size_t n, unsigned char *out)
{
    if (n % 4 == 1) return -1; /* no valid encoding has this length */
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return -1; /* non-canonical leftover bits */
    return (long)o;
}
