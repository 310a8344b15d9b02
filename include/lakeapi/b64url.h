/*
 * b64url - base64url without padding (RFC 4648 section 5), as JWTs (RFC 7515)
 * and lakeapi's cursor tokens use it. Decoding is strict: no padding, no
 * character outside the alphabet, no non-zero leftover bits, so every byte
 * string has exactly one accepted encoding.
 */
#ifndef LAKEAPI_B64URL_H
#define LAKEAPI_B64URL_H

#include <stddef.h>

#include "lakeapi/buf.h"

/* Appends the encoding of p[0..n) to out. */
void b64url_encode(buf_t *out, const unsigned char *p, size_t n);

/* Bytes a decoding of n characters can take: the size out must have. */
#define B64URL_DECODED_MAX(n) ((n) / 4 * 3 + 3)

/* Decodes s[0..n) into out (B64URL_DECODED_MAX(n) bytes); the byte count, or -1 when invalid. */
long b64url_decode(const char *s, size_t n, unsigned char *out);

#endif
