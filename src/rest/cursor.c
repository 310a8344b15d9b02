/*
 * rest/cursor - keyset cursor tokens (encode, verify, decode), the keyset
 * WHERE condition and the next-page Link (see cursor.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <uv.h>

#include "lakeapi/b64url.h"
#include "rest/cursor.h"

#define CURSOR_VERSION 1
#define CURSOR_MAC_LEN 16
#define CURSOR_KEY_LEN 32

struct rest_cursor_keyring {
    unsigned char key[64];
    size_t len;
};

rest_cursor_keyring_t *rest_cursor_keyring_new(const char *secret)
{
    rest_cursor_keyring_t *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    if (secret && secret[0]) {
        /* Any length: hashed to 32 bytes, so a long passphrase keeps all its entropy. */
        unsigned int n = 0;
        if (!EVP_Digest(secret, strlen(secret), k->key, &n, EVP_sha256(), NULL)) n = 0;
        k->len = n;
    } else if (RAND_bytes(k->key, CURSOR_KEY_LEN) == 1) {
        k->len = CURSOR_KEY_LEN;
    }
    if (k->len == 0) {
        free(k);
        return NULL;
    }
    return k;
}

void rest_cursor_keyring_free(rest_cursor_keyring_t *k)
{
    if (!k) return;
    OPENSSL_cleanse(k->key, sizeof k->key);
    free(k);
}

static uv_once_t cursor_once = UV_ONCE_INIT;
static const char *cursor_once_secret;
static rest_cursor_keyring_t *cursor_shared;

static void cursor_make_shared(void)
{
    cursor_shared = rest_cursor_keyring_new(cursor_once_secret);
}

const rest_cursor_keyring_t *rest_cursor_keyring_shared(const char *secret)
{
    cursor_once_secret = secret;
    uv_once(&cursor_once, cursor_make_shared);
    return cursor_shared;
}

/* ---- base64url ---- */

/* ---- tokens ---- */

static void cursor_mac(const rest_cursor_keyring_t *k, const char *context,
                       const unsigned char *payload, size_t n, unsigned char out[32])
{
    size_t clen = strlen(context);
    unsigned char *msg = malloc(clen + 1 + n);
    if (!msg) abort();
    memcpy(msg, context, clen);
    msg[clen] = 0; /* the context cannot run into the payload */
    memcpy(msg + clen + 1, payload, n);
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), k->key, (int)k->len, msg, clen + 1 + n, out, &len)) abort();
    free(msg);
}

void rest_cursor_encode(const rest_cursor_keyring_t *k, const char *context,
                        const rest_cursor_values_t *vals, buf_t *out)
{
    buf_t p;
    buf_init(&p);
    unsigned char head[2] = {CURSOR_VERSION, (unsigned char)vals->n};
    buf_append(&p, head, 2);
    for (int i = 0; i < vals->n; i++) {
        const char *v = vals->values[i];
        size_t n = v ? (vals->lens ? vals->lens[i] : strlen(v)) : 0;
        unsigned char h[5] = {v ? 1 : 0, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                              (unsigned char)(n >> 8), (unsigned char)n};
        buf_append(&p, h, 5);
        if (v) buf_append(&p, v, n);
    }
    unsigned char mac[32];
    cursor_mac(k, context, (unsigned char *)p.data, p.len, mac);
    buf_append(&p, mac, CURSOR_MAC_LEN);
    b64url_encode(out, (unsigned char *)p.data, p.len);
    buf_dispose(&p);
}

int rest_cursor_decode(const rest_cursor_keyring_t *k, const char *context, const char *token,
                       size_t len, arena_t *a, rest_cursor_values_t *out)
{
    memset(out, 0, sizeof *out);
    if (len == 0 || len > REST_CURSOR_MAX_TOKEN) return -1;
    unsigned char *raw = arena_alloc(a, len);
    long n = b64url_decode(token, len, raw);
    if (n < 2 + CURSOR_MAC_LEN) return -1;
    size_t plen = (size_t)n - CURSOR_MAC_LEN;
    unsigned char mac[32];
    cursor_mac(k, context, raw, plen, mac);
    if (CRYPTO_memcmp(mac, raw + plen, CURSOR_MAC_LEN) != 0) return -1;
    /* Authentic from here on, but parsed as carefully as if it were not. */
    if (raw[0] != CURSOR_VERSION || raw[1] > REST_CURSOR_MAX_KEYS) return -1;
    int count = raw[1];
    const char **values = arena_calloc(a, sizeof *values * (size_t)(count ? count : 1));
    size_t *lens = arena_calloc(a, sizeof *lens * (size_t)(count ? count : 1));
    size_t at = 2;
    for (int i = 0; i < count; i++) {
        if (plen - at < 5 || raw[at] > 1) return -1;
        bool present = raw[at] == 1;
        size_t vl = (size_t)raw[at + 1] << 24 | (size_t)raw[at + 2] << 16 |
                    (size_t)raw[at + 3] << 8 | raw[at + 4];
        at += 5;
        if (!present && vl != 0) return -1;
        if (vl > plen - at) return -1;
        if (present) {
            if (memchr(raw + at, 0, vl)) return -1; /* no NUL can be a bound text value */
            values[i] = arena_strndup(a, (const char *)raw + at, vl);
            lens[i] = vl;
        }
        at += vl;
    }
    if (at != plen) return -1;
    out->n = count;
    out->values = values;
    out->lens = lens;
    return 0;
}

/* ---- the keyset condition ---- */

bool rest_cursor_nulls_first(bool desc, int nulls)
{
    if (nulls == 1) return true;
    if (nulls == 2) return false;
    return desc;
}

static void cursor_param(buf_t *sql, const rest_cursor_key_t *key, int n)
{
    buf_printf(sql, "$%d", n);
    if (key->type) buf_printf(sql, "::%s", key->type);
}

/* "key sorts strictly after $n" (v non-NULL). */
static void cursor_after(buf_t *sql, const rest_cursor_key_t *key, int n)
{
    bool nulls_after = !key->nulls_first && !key->not_null;
    if (nulls_after) buf_append_char(sql, '(');
    buf_printf(sql, "%s %s ", key->expr, key->desc ? "<" : ">");
    cursor_param(sql, key, n);
    if (nulls_after) buf_printf(sql, " OR %s IS NULL)", key->expr);
}

static bool cursor_row_comparable(const rest_cursor_key_t *keys, int nkeys,
                                  const rest_cursor_values_t *vals)
{
    for (int i = 0; i < nkeys; i++)
        if (!keys[i].not_null || !vals->values[i] || keys[i].desc != keys[0].desc) return false;
    return true;
}

int rest_cursor_where(const rest_cursor_key_t *keys, int nkeys, const rest_cursor_values_t *vals,
                      int next, buf_t *sql, const char **params, int max_params)
{
    if (nkeys <= 0 || vals->n != nkeys) return -1;
    int np = 0;
    int pnum[REST_CURSOR_MAX_KEYS];
    if (nkeys > REST_CURSOR_MAX_KEYS) return -1;
    for (int i = 0; i < nkeys; i++) {
        pnum[i] = 0;
        if (!vals->values[i]) continue;
        if (np >= max_params) return -1;
        params[np] = vals->values[i];
        pnum[i] = next + np++;
    }
    if (cursor_row_comparable(keys, nkeys, vals)) {
        buf_append_char(sql, '(');
        for (int i = 0; i < nkeys; i++)
            buf_printf(sql, "%s%s", i ? ", " : "", keys[i].expr);
        buf_printf(sql, ") %s (", keys[0].desc ? "<" : ">");
        for (int i = 0; i < nkeys; i++) {
            if (i) buf_append_str(sql, ", ");
            cursor_param(sql, &keys[i], pnum[i]);
        }
        buf_append_char(sql, ')');
        return np;
    }
    /* A range on the first key an index scan can start from; the expansion decides. */
    const rest_cursor_key_t *k0 = &keys[0];
    buf_append_char(sql, '(');
    if (vals->values[0]) {
        bool nulls_after = !k0->nulls_first && !k0->not_null;
        buf_printf(sql, "%s %s ", k0->expr, k0->desc ? "<=" : ">=");
        cursor_param(sql, k0, pnum[0]);
        if (nulls_after) buf_printf(sql, " OR %s IS NULL", k0->expr);
    } else if (k0->nulls_first) {
        buf_append_str(sql, "true"); /* NULLs first: any row may follow */
    } else {
        buf_printf(sql, "%s IS NULL", k0->expr); /* NULLs last: only rows with a NULL follow */
    }
    buf_append_str(sql, ") AND (");
    bool any = false;
    for (int i = 0; i < nkeys; i++) {
        const rest_cursor_key_t *ki = &keys[i];
        /* The term "keys before i equal, key i after". */
        if (!vals->values[i] && !ki->nulls_first) continue; /* nothing sorts after a last NULL */
        buf_append_str(sql, any ? " OR (" : "(");
        any = true;
        for (int j = 0; j < i; j++) {
            if (vals->values[j]) {
                buf_printf(sql, "%s = ", keys[j].expr);
                cursor_param(sql, &keys[j], pnum[j]);
            } else {
                buf_printf(sql, "%s IS NULL", keys[j].expr);
            }
            buf_append_str(sql, " AND ");
        }
        if (vals->values[i])
            cursor_after(sql, ki, pnum[i]);
        else
            buf_printf(sql, "%s IS NOT NULL", ki->expr);
        buf_append_char(sql, ')');
    }
    if (!any) buf_append_str(sql, "false");
    buf_append_char(sql, ')');
    return np;
}

/* ---- the Link header ---- */

static bool cursor_param_is(const char *p, size_t n, const char *name)
{
    size_t l = strlen(name);
    return n >= l && strncmp(p, name, l) == 0 && (n == l || p[l] == '=');
}

void rest_cursor_link(const char *path, const char *raw_query, const char *token, buf_t *out)
{
    buf_append_char(out, '<');
    buf_append_str(out, path);
    buf_append_char(out, '?');
    const char *p = raw_query ? raw_query : "";
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n > 0 && !cursor_param_is(p, n, "cursor") && !cursor_param_is(p, n, "offset")) {
            /* '<' and '>' would end the URI reference early: only ever percent-encoded. */
            for (size_t i = 0; i < n; i++) {
                char c = p[i];
                if (c == '<' || c == '>' || c == '"' || c == ' ' || (unsigned char)c < 0x20)
                    buf_printf(out, "%%%02X", (unsigned char)c);
                else
                    buf_append_char(out, c);
            }
            buf_append_char(out, '&');
        }
        p += n + (amp ? 1 : 0);
    }
    buf_append_str(out, "cursor=");
    buf_append_str(out, token);
    buf_append_str(out, ">; rel=\"next\"");
}
