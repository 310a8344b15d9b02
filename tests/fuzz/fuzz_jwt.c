/*
 * fuzz_jwt - arbitrary bytes as a bearer token, as a JWKS document and as a
 * claim path: parsing must never crash or leak; a token that parses must have
 * a supported algorithm and an object of claims, and verification against an
 * HMAC key and the JWKS keys (when the input also parses as one) must only
 * ever answer yes/no/unknown-kid. Claim checks run on whatever parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char err[160];
    auth_keyset_t ks = {0};
    auth_keyset_add_secret(&ks, "fuzz-secret-0123456789abcdef0123", 32);
    auth_keyset_add_jwks(&ks, s, size, err, sizeof err);

    jwt_t t;
    const char *why = NULL;
    if (jwt_parse(s, size, &t, &why) == 0) {
        if (t.alg == JWT_ALG_UNKNOWN || !json_is_object(t.claims)) abort();
        int rc = jwt_verify(&t, &ks, &why);
        if (rc < -1 || rc > 1) abort();
        jwt_rules_t r = {.now = 1e9, .skew = 30, .audience = "a", .issuer = "i"};
        double exp;
        jwt_check_claims(t.claims, &r, &exp, &why);
    } else if (!why) {
        abort(); /* a refusal always says why */
    }
    jwt_dispose(&t);

    char *text = strndup(s, size > 256 ? 256 : size);
    auth_path_t *p = auth_path_parse(text, err, sizeof err);
    if (p) {
        json_error_t je;
        json_t *doc = json_loads("{\"role\":\"r\",\"a\":{\"b\":[\"x\",\"y\"]}}", 0, &je);
        auth_path_eval(p, doc);
        json_decref(doc);
        auth_path_free(p);
    }
    auth_predicate_t pr;
    if (auth_predicate_parse(&pr, text, err, sizeof err) == 0) auth_predicate_dispose(&pr);
    free(text);
    auth_keyset_dispose(&ks);
    return 0;
}
