/*
 * test_auth - the pure parts of src/auth: base64url, JWT parsing and HMAC
 * verification (constant-time path), the algorithm/key-type rule, registered
 * claim checks with the clock skew, PostgREST claim paths and ADMIN_CLAIM
 * predicates, the bounded LRU and the token bucket's arithmetic. RS/ES/EdDSA
 * signatures and the JWKS are covered end to end in tests/api/test_auth.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"

#define SECRET "unit-test-secret-0123456789abcdefghij"

static char *b64url(const unsigned char *d, size_t n)
{
    static const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *out = malloc(n * 4 / 3 + 4);
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8) | d[i];
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out[o++] = a[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out[o++] = a[(acc << (6 - bits)) & 63];
    out[o] = '\0';
    return out;
}

/* header.payload.HMAC-SHA256(secret); caller frees. */
static char *hs256(const char *header, const char *payload, const char *secret)
{
    char *h = b64url((const unsigned char *)header, strlen(header));
    char *p = b64url((const unsigned char *)payload, strlen(payload));
    size_t n = strlen(h) + strlen(p) + 2;
    char *signing = malloc(n);
    snprintf(signing, n, "%s.%s", h, p);
    unsigned char mac[32];
    unsigned int ml = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signing, strlen(signing),
         mac, &ml);
    char *s = b64url(mac, ml);
    char *tok = malloc(strlen(signing) + strlen(s) + 2);
    sprintf(tok, "%s.%s", signing, s);
    free(h), free(p), free(signing), free(s);
    return tok;
}

static void test_b64url(void **state)
{
    (void)state;
    size_t n;
    unsigned char *d = jwt_b64url_decode("aGVsbG8", 7, &n);
    assert_non_null(d);
    assert_int_equal(n, 5);
    assert_memory_equal(d, "hello", 5);
    free(d);
    assert_null(jwt_b64url_decode("aGVsbG8=", 8, &n)); /* padding is not base64url */
    assert_null(jwt_b64url_decode("a+b/", 4, &n));     /* base64, not base64url */
    assert_null(jwt_b64url_decode("a", 1, &n));        /* impossible length */
    assert_null(jwt_b64url_decode("aGVsbG9", 7, &n));  /* non-zero leftover bits */
}

static void test_parse_errors(void **state)
{
    (void)state;
    jwt_t t;
    const char *why = NULL;
    assert_int_equal(jwt_parse("", 0, &t, &why), -1);
    jwt_dispose(&t);
    assert_int_equal(jwt_parse("a.b", 3, &t, &why), -1);
    assert_string_equal(why, "Expected 3 parts in JWT");
    jwt_dispose(&t);
    assert_int_equal(jwt_parse("a.b.c.d", 7, &t, &why), -1);
    jwt_dispose(&t);
    char *none = hs256("{\"alg\":\"none\"}", "{\"sub\":\"x\"}", SECRET);
    assert_int_equal(jwt_parse(none, strlen(none), &t, &why), -1);
    assert_string_equal(why, "Wrong or unsupported encoding algorithm");
    jwt_dispose(&t);
    free(none);
    char *arr = hs256("{\"alg\":\"HS256\"}", "[1,2]", SECRET);
    assert_int_equal(jwt_parse(arr, strlen(arr), &t, &why), -1);
    assert_string_equal(why, "Parsing claims failed");
    jwt_dispose(&t);
    free(arr);
    char *dup = hs256("{\"alg\":\"HS256\"}", "{\"role\":\"a\",\"role\":\"admin\"}", SECRET);
    assert_int_equal(jwt_parse(dup, strlen(dup), &t, &why), -1);
    jwt_dispose(&t);
    free(dup);
    char *crit = hs256("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{}", SECRET);
    assert_int_equal(jwt_parse(crit, strlen(crit), &t, &why), -1);
    jwt_dispose(&t);
    free(crit);
}

static void test_hmac_verify(void **state)
{
    (void)state;
    auth_keyset_t ks = {0};
    auth_keyset_add_secret(&ks, SECRET, strlen(SECRET));
    char *tok = hs256("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", "{\"sub\":\"alice\"}", SECRET);
    jwt_t t;
    const char *why = NULL;
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    assert_int_equal(t.alg, JWT_HS256);
    assert_int_equal(jwt_verify(&t, &ks, &why), 0);
    jwt_dispose(&t);
    /* one flipped signature character */
    tok[strlen(tok) - 2] = tok[strlen(tok) - 2] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    assert_int_equal(jwt_verify(&t, &ks, &why), -1);
    jwt_dispose(&t);
    free(tok);
    /* the wrong secret */
    tok = hs256("{\"alg\":\"HS256\"}", "{\"sub\":\"alice\"}",
                "another-secret-of-32-bytes-at-least!!");
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    assert_int_equal(jwt_verify(&t, &ks, &why), -1);
    jwt_dispose(&t);
    free(tok);
    auth_keyset_dispose(&ks);
}

static void test_alg_must_fit_the_key(void **state)
{
    (void)state;
    auth_key_t hmac = {.type = AUTH_KEY_HMAC}, rsa = {.type = AUTH_KEY_RSA},
               ec = {.type = AUTH_KEY_EC256}, okp = {.type = AUTH_KEY_OKP};
    assert_true(auth_key_fits(&hmac, JWT_HS384));
    assert_false(auth_key_fits(&hmac, JWT_RS256));
    assert_false(auth_key_fits(&rsa, JWT_HS256)); /* no HS256-with-the-public-key */
    assert_true(auth_key_fits(&rsa, JWT_RS512));
    assert_false(auth_key_fits(&ec, JWT_ES384));
    assert_true(auth_key_fits(&okp, JWT_EDDSA));
    rsa.alg = JWT_RS256;
    assert_false(auth_key_fits(&rsa, JWT_RS512)); /* the JWK's alg pins it */
    assert_int_equal(jwt_alg_parse("none"), JWT_ALG_UNKNOWN);
    assert_int_equal(jwt_alg_parse("EdDSA"), JWT_EDDSA);
    /* An HS token with only asymmetric keys: no key, refused (never tried as HMAC). */
    char *tok = hs256("{\"alg\":\"HS256\"}", "{}", SECRET);
    jwt_t t;
    const char *why;
    assert_int_equal(jwt_parse(tok, strlen(tok), &t, &why), 0);
    auth_keyset_t ks = {.keys = &rsa, .n = 1};
    assert_int_equal(jwt_verify(&t, &ks, &why), -1);
    jwt_dispose(&t);
    free(tok);
}

static void test_jwks_document(void **state)
{
    (void)state;
    auth_keyset_t ks = {0};
    char err[128];
    assert_int_equal(auth_keyset_add_jwks(&ks, "{}", 2, err, sizeof err), -1);
    /* unusable keys are skipped, not fatal */
    const char *doc = "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                      "{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"},{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                      "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":\"ed\"}]}";
    assert_int_equal(auth_keyset_add_jwks(&ks, doc, strlen(doc), err, sizeof err), 1);
    assert_int_equal(ks.keys[0].type, AUTH_KEY_OKP);
    assert_string_equal(ks.keys[0].kid, "ed");
    auth_keyset_dispose(&ks);
}

static void test_claims(void **state)
{
    (void)state;
    json_error_t e;
    json_t *c =
        json_loads("{\"exp\":1000,\"nbf\":900,\"aud\":[\"x\",\"lakeapi\"],\"iss\":\"i\"}", 0, &e);
    jwt_rules_t r = {.now = 950, .skew = 30, .audience = "lakeapi", .issuer = "i"};
    double exp;
    const char *why;
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), 0);
    assert_true(exp == 1000);
    r.now = 1025; /* expired, within the skew */
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), 0);
    r.now = 1031;
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), -1);
    assert_string_equal(why, "JWT expired");
    r.now = 860; /* nbf - 40 */
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), -1);
    assert_string_equal(why, "JWT not yet valid");
    r.now = 950;
    r.audience = "other";
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), -1);
    assert_string_equal(why, "JWT not in audience");
    r.audience = NULL;
    r.issuer = "j";
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), -1);
    json_decref(c);
    c = json_loads("{\"exp\":\"soon\"}", 0, &e);
    r.issuer = NULL;
    assert_int_equal(jwt_check_claims(c, &r, &exp, &why), -1);
    assert_string_equal(why, "The JWT 'exp' claim must be a number");
    json_decref(c);
}

static void test_claim_paths(void **state)
{
    (void)state;
    json_error_t e;
    json_t *c = json_loads("{\"role\":\"r\",\"realm_access\":{\"roles\":[\"other\",\"author\"]},"
                           "\"https://x.com/role\":{\"key\":\"k\"},\"n\":1}",
                           0, &e);
    char err[128];
    struct {
        const char *path, *want;
    } cases[] = {{".role", "r"},
                 {"$.role", "r"},
                 {".realm_access.roles[0]", "other"},
                 {".realm_access.roles[-1]", "author"},
                 {".\"https://x.com/role\".key", "k"},
                 {"$['https://x.com/role'].key", "k"},
                 {".realm_access.roles[?(@ == \"author\")]", "author"},
                 {".realm_access.roles[?(@ != \"other\")]", "author"},
                 {".realm_access.roles[?(@ ^== \"aut\")]", "author"},
                 {".realm_access.roles[?(@ ==^ \"her\")]", "other"},
                 {".realm_access.roles[?(@ *== \"utho\")]", "author"},
                 {".realm_access.roles[5]", NULL},
                 {".missing.x", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        auth_path_t *p = auth_path_parse(cases[i].path, err, sizeof err);
        assert_non_null(p);
        const char *got = json_string_value(auth_path_eval(p, c));
        if (cases[i].want)
            assert_string_equal(got, cases[i].want);
        else
            assert_null(got);
        auth_path_free(p);
    }
    const char *bad[] = {"", "role", ".", ".a[", ".a[x]", ".a[?(@ = \"x\")]", "..a"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_null(auth_path_parse(bad[i], err, sizeof err));
    json_decref(c);
}

static void test_admin_predicate(void **state)
{
    (void)state;
    json_error_t e;
    json_t *yes = json_loads("{\"lakeapi_admin\":true,\"groups\":[\"a\",\"admins\"]}", 0, &e);
    json_t *no = json_loads("{\"lakeapi_admin\":\"true\"}", 0, &e);
    auth_predicate_t p;
    char err[128];
    assert_int_equal(auth_predicate_parse(&p, ".lakeapi_admin == true", err, sizeof err), 0);
    assert_true(auth_predicate_holds(&p, yes));
    assert_false(auth_predicate_holds(&p, no)); /* a string is not true */
    auth_predicate_dispose(&p);
    assert_int_equal(
        auth_predicate_parse(&p, ".groups[?(@ == \"admins\")] == \"admins\"", err, sizeof err), 0);
    assert_true(auth_predicate_holds(&p, yes));
    auth_predicate_dispose(&p);
    assert_int_equal(auth_predicate_parse(&p, ".lakeapi_admin", err, sizeof err), 0);
    assert_true(auth_predicate_holds(&p, yes));
    auth_predicate_dispose(&p);
    assert_int_equal(auth_predicate_parse(&p, ".x == nope", err, sizeof err), -1);
    json_decref(yes);
    json_decref(no);
}

static void test_lru_bounded(void **state)
{
    (void)state;
    auth_lru_t *l = auth_lru_new(3, free);
    unsigned char k[4][32];
    for (int i = 0; i < 4; i++) {
        char s[8];
        snprintf(s, sizeof s, "k%d", i);
        auth_digest(s, strlen(s), k[i]);
    }
    for (int i = 0; i < 3; i++)
        assert_false(auth_lru_put(l, k[i], malloc(1)));
    assert_non_null(auth_lru_get(l, k[0])); /* k0 is now the most recent: k1 goes next */
    assert_true(auth_lru_put(l, k[3], malloc(1)));
    assert_int_equal(auth_lru_size(l), 3);
    assert_null(auth_lru_get(l, k[1]));
    assert_non_null(auth_lru_get(l, k[0]));
    auth_lru_remove(l, k[0]);
    assert_int_equal(auth_lru_size(l), 2);
    auth_lru_free(l);
}

static void test_token_bucket(void **state)
{
    (void)state;
    auth_ratelimit_t *r = auth_ratelimit_new(2.0, 3, 100);
    bool ev;
    for (int i = 0; i < 3; i++)
        assert_true(auth_ratelimit_take(r, "a", 1, 10.0, &ev).allowed);
    auth_rate_decision_t d = auth_ratelimit_take(r, "a", 1, 10.0, &ev);
    assert_false(d.allowed);
    assert_int_equal(d.retry_after, 1);
    assert_true(auth_ratelimit_take(r, "b", 1, 10.0, &ev).allowed); /* others unaffected */
    d = auth_ratelimit_take(r, "a", 1, 10.5, &ev);                  /* one token back */
    assert_true(d.allowed);
    assert_int_equal(d.remaining, 0);
    assert_false(auth_ratelimit_take(r, "a", 1, 10.5, &ev).allowed);
    d = auth_ratelimit_take(r, "a", 1, 100.0, &ev); /* full again, never above the burst */
    assert_int_equal(d.remaining, 2);
    auth_ratelimit_free(r);
    r = auth_ratelimit_new(1.0, 1, 2);
    auth_ratelimit_take(r, "x", 1, 0, &ev);
    auth_ratelimit_take(r, "y", 1, 0, &ev);
    auth_ratelimit_take(r, "z", 1, 0, &ev);
    assert_true(ev);
    assert_int_equal(auth_ratelimit_size(r), 2);
    auth_ratelimit_free(r);
}

static void test_secret_compare(void **state)
{
    (void)state;
    assert_true(auth_secret_equal("tok-123", 7, "tok-123"));
    assert_false(auth_secret_equal("tok-12", 6, "tok-123"));
    assert_false(auth_secret_equal("tok-1234", 8, "tok-123"));
    assert_false(auth_secret_equal("tok-124", 7, "tok-123"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url),         cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_hmac_verify),    cmocka_unit_test(test_alg_must_fit_the_key),
        cmocka_unit_test(test_jwks_document),  cmocka_unit_test(test_claims),
        cmocka_unit_test(test_claim_paths),    cmocka_unit_test(test_admin_predicate),
        cmocka_unit_test(test_lru_bounded),    cmocka_unit_test(test_token_bucket),
        cmocka_unit_test(test_secret_compare),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
