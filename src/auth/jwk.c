/*
 * auth/jwk - verification keys: the JWT_SECRET HMAC key and the public keys of
 * a JWKS document (RFC 7517/7518/8037), turned into OpenSSL 3 EVP_PKEYs.
 *
 * Which algorithm a key may verify is decided by its type alone (and by its
 * "alg" when the JWK names one): an HMAC secret never verifies an RS/ES/EdDSA
 * token and a public key never an HS one, so the classic "HS256 signed with
 * the RSA public key" confusion cannot happen. RSA keys under 2048 bits are
 * skipped.
 */
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"

static const struct {
    const char *name;
    jwt_alg_t alg;
} jwt_algs[] = {
    {"HS256", JWT_HS256}, {"HS384", JWT_HS384}, {"HS512", JWT_HS512},
    {"RS256", JWT_RS256}, {"RS384", JWT_RS384}, {"RS512", JWT_RS512},
    {"ES256", JWT_ES256}, {"ES384", JWT_ES384}, {"EdDSA", JWT_EDDSA},
};

jwt_alg_t jwt_alg_parse(const char *name)
{
    for (size_t i = 0; name && i < sizeof jwt_algs / sizeof jwt_algs[0]; i++)
        if (strcmp(jwt_algs[i].name, name) == 0) return jwt_algs[i].alg;
    return JWT_ALG_UNKNOWN;
}

const char *jwt_alg_name(jwt_alg_t alg)
{
    for (size_t i = 0; i < sizeof jwt_algs / sizeof jwt_algs[0]; i++)
        if (jwt_algs[i].alg == alg) return jwt_algs[i].name;
    return "unknown";
}

bool auth_key_fits(const auth_key_t *k, jwt_alg_t alg)
{
    if (k->alg != JWT_ALG_UNKNOWN && k->alg != alg) return false;
    switch (k->type) {
    case AUTH_KEY_HMAC:
        return alg == JWT_HS256 || alg == JWT_HS384 || alg == JWT_HS512;
    case AUTH_KEY_RSA:
        return alg == JWT_RS256 || alg == JWT_RS384 || alg == JWT_RS512;
    case AUTH_KEY_EC256:
        return alg == JWT_ES256;
    case AUTH_KEY_EC384:
        return alg == JWT_ES384;
    case AUTH_KEY_OKP:
        return alg == JWT_EDDSA;
    }
    return false;
}

static auth_key_t *keyset_push(auth_keyset_t *ks)
{
    auth_key_t *grown = realloc(ks->keys, sizeof *grown * (size_t)(ks->n + 1));
    if (!grown) abort();
    ks->keys = grown;
    auth_key_t *k = &ks->keys[ks->n++];
    memset(k, 0, sizeof *k);
    return k;
}

void auth_keyset_add_secret(auth_keyset_t *ks, const char *secret, size_t len)
{
    auth_key_t *k = keyset_push(ks);
    k->type = AUTH_KEY_HMAC;
    k->secret = malloc(len ? len : 1);
    if (!k->secret) abort();
    memcpy(k->secret, secret, len);
    k->secret_len = len;
}

/* A base64url member of a JWK, decoded; NULL when absent or malformed. */
static unsigned char *jwk_bytes(json_t *jwk, const char *name, size_t *len)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    if (!s) return NULL;
    return jwt_b64url_decode(s, strlen(s), len);
}

static EVP_PKEY *jwk_fromdata(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *jwk_rsa(json_t *jwk)
{
    size_t nl = 0, el = 0;
    unsigned char *n = jwk_bytes(jwk, "n", &nl), *e = jwk_bytes(jwk, "e", &el);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nl, NULL) : NULL,
           *be = e ? BN_bin2bn(e, (int)el, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bn && be && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = jwk_fromdata("RSA", bld);
    if (pkey && EVP_PKEY_get_bits(pkey) < 2048) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *jwk_ec(json_t *jwk, auth_key_type_t *type)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    const char *group;
    size_t coord;
    if (crv && strcmp(crv, "P-256") == 0) {
        group = "prime256v1", coord = 32, *type = AUTH_KEY_EC256;
    } else if (crv && strcmp(crv, "P-384") == 0) {
        group = "secp384r1", coord = 48, *type = AUTH_KEY_EC384;
    } else {
        return NULL;
    }
    size_t xl = 0, yl = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xl), *y = jwk_bytes(jwk, "y", &yl);
    EVP_PKEY *pkey = NULL;
    if (x && y && xl == coord && yl == coord) {
        unsigned char point[1 + 2 * 48];
        point[0] = 0x04; /* uncompressed */
        memcpy(point + 1, x, coord);
        memcpy(point + 1 + coord, y, coord);
        OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
        if (bld && OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * coord))
            pkey = jwk_fromdata("EC", bld);
        OSSL_PARAM_BLD_free(bld);
    }
    free(x);
    free(y);
    return pkey;
}

static EVP_PKEY *jwk_okp(json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));
    int id;
    size_t want;
    if (crv && strcmp(crv, "Ed25519") == 0)
        id = EVP_PKEY_ED25519, want = 32;
    else if (crv && strcmp(crv, "Ed448") == 0)
        id = EVP_PKEY_ED448, want = 57;
    else
        return NULL;
    size_t xl = 0;
    unsigned char *x = jwk_bytes(jwk, "x", &xl);
    EVP_PKEY *pkey = x && xl == want ? EVP_PKEY_new_raw_public_key(id, NULL, x, xl) : NULL;
    free(x);
    return pkey;
}

/* One JWK; false when it is not a usable verification key. */
static bool jwk_add(auth_keyset_t *ks, json_t *jwk)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    if (!kty || (use && strcmp(use, "sig") != 0)) return false;
    if (kid && strlen(kid) >= sizeof((auth_key_t *)0)->kid) return false;
    jwt_alg_t a = alg ? jwt_alg_parse(alg) : JWT_ALG_UNKNOWN;
    if (alg && a == JWT_ALG_UNKNOWN) return false; /* e.g. RSA-OAEP: not for signatures */
    auth_key_type_t type;
    EVP_PKEY *pkey = NULL;
    if (strcmp(kty, "RSA") == 0) {
        type = AUTH_KEY_RSA;
        pkey = jwk_rsa(jwk);
    } else if (strcmp(kty, "EC") == 0) {
        pkey = jwk_ec(jwk, &type);
    } else if (strcmp(kty, "OKP") == 0) {
        type = AUTH_KEY_OKP;
        pkey = jwk_okp(jwk);
    }
    if (!pkey) return false;
    auth_key_t *k = keyset_push(ks);
    k->type = type;
    k->pkey = pkey;
    k->alg = a;
    if (kid) strcpy(k->kid, kid);
    if (a != JWT_ALG_UNKNOWN && !auth_key_fits(k, a)) { /* "alg" contradicting "kty" */
        EVP_PKEY_free(pkey);
        ks->n--;
        return false;
    }
    return true;
}

int auth_keyset_add_jwks(auth_keyset_t *ks, const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    json_t *keys = json_object_get(root, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "not a JWKS document (no \"keys\" array)");
        json_decref(root);
        return -1;
    }
    int added = 0;
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        if (json_is_object(jwk) && jwk_add(ks, jwk)) added++;
    }
    json_decref(root);
    return added;
}

void auth_keyset_dispose(auth_keyset_t *ks)
{
    for (int i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].pkey);
        if (ks->keys[i].secret) OPENSSL_cleanse(ks->keys[i].secret, ks->keys[i].secret_len);
        free(ks->keys[i].secret);
    }
    free(ks->keys);
    ks->keys = NULL;
    ks->n = 0;
}

void auth_keyset_move(auth_keyset_t *dst, auth_keyset_t *src)
{
    auth_keyset_dispose(dst);
    *dst = *src;
    src->keys = NULL;
    src->n = 0;
}
