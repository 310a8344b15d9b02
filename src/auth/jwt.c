/*
 * auth/jwt - compact JWS tokens (RFC 7515/7519): parsing, signature
 * verification with OpenSSL 3 and the registered claim checks.
 *
 * The parser trusts nothing: three base64url parts without padding, a header
 * that is a JSON object naming a supported "alg" (never "none"), claims that
 * are a JSON object (duplicate keys refused: two "role"s are an attack, not a
 * typo), a signature of the length the algorithm implies. Messages are fixed
 * strings (PostgREST's wording where it has one): they go into 401 bodies and
 * logs, so they never quote any part of the token.
 *
 * HMAC signatures are compared with CRYPTO_memcmp (constant time). ECDSA's
 * JOSE form (r || s) is converted to DER for EVP_DigestVerify.
 */
#include <math.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"
#include "lakeapi/b64url.h"

unsigned char *jwt_b64url_decode(const char *s, size_t len, size_t *outlen)
{
    unsigned char *out = malloc(B64URL_DECODED_MAX(len));
    if (!out) abort();
    long n = b64url_decode(s, len, out);
    if (n < 0) {
        free(out);
        return NULL;
    }
    *outlen = (size_t)n;
    return out;
}

static json_t *jwt_json_part(const char *s, size_t len)
{
    size_t n;
    unsigned char *raw = jwt_b64url_decode(s, len, &n);
    if (!raw) return NULL;
    json_error_t jerr;
    json_t *v = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, &jerr);
    free(raw);
    if (v && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

void jwt_dispose(jwt_t *t)
{
    json_decref(t->claims);
    free(t->sig);
    memset(t, 0, sizeof *t);
}

static size_t jwt_sig_len(jwt_alg_t alg)
{
    switch (alg) {
    case JWT_HS256:
        return 32;
    case JWT_HS384:
        return 48;
    case JWT_HS512:
        return 64;
    case JWT_ES256:
        return 64;
    case JWT_ES384:
        return 96;
    default:
        return 0; /* RSA: the modulus size; EdDSA: 64 or 114 (checked by OpenSSL) */
    }
}

int jwt_parse(const char *token, size_t len, jwt_t *out, const char **why)
{
    memset(out, 0, sizeof *out);
    if (len == 0) return *why = "Empty JWT is sent in Authorization header", -1;
    if (len > JWT_MAX_TOKEN) return *why = "JWT too long", -1;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return *why = "Expected 3 parts in JWT", -1;
    json_t *header = jwt_json_part(token, (size_t)(d1 - token));
    if (!header) return *why = "JWT couldn't be decoded", -1;
    const char *alg = json_string_value(json_object_get(header, "alg"));
    json_t *kid = json_object_get(header, "kid");
    json_t *crit = json_object_get(header, "crit");
    out->alg = jwt_alg_parse(alg);
    int rc = 0;
    if (out->alg == JWT_ALG_UNKNOWN) {
        *why = "Wrong or unsupported encoding algorithm", rc = -1;
    } else if (crit) {
        *why = "Unsupported critical JWT header", rc = -1; /* we understand no extension */
    } else if (kid && (!json_is_string(kid) || json_string_length(kid) >= sizeof out->kid)) {
        *why = "JWT couldn't be decoded", rc = -1;
    } else if (kid) {
        strcpy(out->kid, json_string_value(kid));
        out->has_kid = true;
    }
    json_decref(header);
    if (rc != 0) return rc;
    out->claims = jwt_json_part(d1 + 1, (size_t)(d2 - d1 - 1));
    if (!out->claims) return *why = "Parsing claims failed", -1;
    out->sig = jwt_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), &out->sig_len);
    size_t want = jwt_sig_len(out->alg);
    if (!out->sig || out->sig_len == 0 || (want && out->sig_len != want))
        return *why = "JWT cryptographic operation failed", -1;
    out->signing_input = token;
    out->signing_len = (size_t)(d2 - token);
    return 0;
}

static const EVP_MD *jwt_md(jwt_alg_t alg)
{
    switch (alg) {
    case JWT_HS256:
    case JWT_RS256:
    case JWT_ES256:
        return EVP_sha256();
    case JWT_HS384:
    case JWT_RS384:
    case JWT_ES384:
        return EVP_sha384();
    case JWT_HS512:
    case JWT_RS512:
        return EVP_sha512();
    default:
        return NULL; /* EdDSA hashes internally */
    }
}

static bool jwt_verify_hmac(const jwt_t *t, const auth_key_t *k)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(jwt_md(t->alg), k->secret, (int)k->secret_len,
              (const unsigned char *)t->signing_input, t->signing_len, mac, &maclen))
        return false;
    return maclen == t->sig_len && CRYPTO_memcmp(mac, t->sig, maclen) == 0;
}

/* JOSE r||s -> DER ECDSA-Sig-Value; *der is OpenSSL-allocated. */
static int jwt_ecdsa_der(const jwt_t *t, unsigned char **der)
{
    size_t half = t->sig_len / 2;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(t->sig, (int)half, NULL), *s = BN_bin2bn(t->sig + half, (int)half, NULL);
    int n = -1;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        *der = NULL;
        n = i2d_ECDSA_SIG(es, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return n;
}

static bool jwt_verify_pkey(const jwt_t *t, const auth_key_t *k)
{
    const unsigned char *sig = t->sig;
    size_t sig_len = t->sig_len;
    unsigned char *der = NULL;
    if (k->type == AUTH_KEY_EC256 || k->type == AUTH_KEY_EC384) {
        int n = jwt_ecdsa_der(t, &der);
        if (n <= 0) return false;
        sig = der, sig_len = (size_t)n;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, jwt_md(t->alg), NULL, k->pkey) == 1 &&
              EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)t->signing_input,
                               t->signing_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

bool jwt_verify_with(const jwt_t *t, const auth_key_t *key)
{
    if (!auth_key_fits(key, t->alg)) return false;
    return key->type == AUTH_KEY_HMAC ? jwt_verify_hmac(t, key) : jwt_verify_pkey(t, key);
}

int jwt_verify(const jwt_t *t, const auth_keyset_t *ks, const char **why)
{
    bool kid_known = false, fitting = false;
    for (int i = 0; i < ks->n; i++) {
        const auth_key_t *k = &ks->keys[i];
        /* An HMAC secret has no kid: it answers tokens with or without one. */
        if (t->has_kid && k->type != AUTH_KEY_HMAC && strcmp(k->kid, t->kid) != 0) continue;
        kid_known = kid_known || k->type != AUTH_KEY_HMAC;
        if (!auth_key_fits(k, t->alg)) continue;
        fitting = true;
        if (jwt_verify_with(t, k)) return 0;
    }
    bool asymmetric = t->alg != JWT_HS256 && t->alg != JWT_HS384 && t->alg != JWT_HS512;
    /* An unknown kid, or no key at all for this alg yet: the JWKS may have rotated. */
    if (asymmetric && (t->has_kid ? !kid_known : !fitting))
        return *why = "No suitable key or wrong key type", 1;
    *why = fitting ? "JWT cryptographic operation failed" : "No suitable key or wrong key type";
    return -1;
}

/* A NumericDate claim: absent is fine, anything but a number is not. */
static int jwt_time_claim(const json_t *claims, const char *name, double *out, bool *present)
{
    json_t *v = json_object_get(claims, name);
    *present = v && !json_is_null(v);
    if (!*present) return 0;
    if (!json_is_number(v)) return -1;
    *out = json_number_value(v);
    return isfinite(*out) ? 0 : -1;
}

static bool jwt_aud_ok(json_t *aud, const char *want)
{
    if (!aud || json_is_null(aud)) return true; /* PostgREST: no aud is for every audience */
    if (json_is_string(aud)) return strcmp(json_string_value(aud), want) == 0;
    if (!json_is_array(aud)) return false;
    if (json_array_size(aud) == 0) return true;
    size_t i;
    json_t *v;
    json_array_foreach(aud, i, v)
    {
        if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) return true;
    }
    return false;
}

int jwt_check_claims(const json_t *claims, const jwt_rules_t *r, double *exp_out, const char **why)
{
    double exp = 0, nbf = 0;
    bool has_exp, has_nbf;
    *exp_out = 0;
    if (jwt_time_claim(claims, "exp", &exp, &has_exp) != 0)
        return *why = "The JWT 'exp' claim must be a number", -1;
    if (jwt_time_claim(claims, "nbf", &nbf, &has_nbf) != 0)
        return *why = "The JWT 'nbf' claim must be a number", -1;
    if (has_exp && r->now - r->skew >= exp) return *why = "JWT expired", -1;
    if (has_nbf && r->now + r->skew < nbf) return *why = "JWT not yet valid", -1;
    json_t *aud = json_object_get(claims, "aud");
    if (aud && !json_is_null(aud) && !json_is_string(aud) && !json_is_array(aud))
        return *why = "The JWT 'aud' claim must be a string or an array of strings", -1;
    if (r->audience && !jwt_aud_ok(aud, r->audience)) return *why = "JWT not in audience", -1;
    if (r->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, r->issuer) != 0) return *why = "JWT issuer not accepted", -1;
    }
    *exp_out = has_exp ? exp : 0;
    return 0;
}
