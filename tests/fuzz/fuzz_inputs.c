/*
 * libFuzzer target: every other parser that reads untrusted bytes - request
 * bodies (json_body_parse), the Accept header, email and IP validation, the
 * HTML escaper, and what the Databricks workspace answers (token responses,
 * RFC 3339 times, error bodies). The first input byte picks the parser; the
 * rest is its input. Besides "no crash", each checks an invariant of its own.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/html.h"
#include "web/validate.h"
#include "db/credentials/internal.h"
#include "lakeapi/json_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_body(const char *s, size_t n)
{
    json_t *v = NULL;
    json_body_error_t err;
    if (json_body_parse(s, n, &v, &err) == 0) {
        if (!v) abort();
        json_decref(v);
    } else if (v || err.position > n) {
        abort();
    }
}

static void fuzz_html(const char *s, size_t n)
{
    buf_t b;
    buf_init(&b);
    web_html_escape(&b, s, n);
    /* Escaped text never contains a raw markup character. */
    if (memchr(b.data ? b.data : "", '<', b.len) || memchr(b.data ? b.data : "", '>', b.len))
        abort();
    buf_dispose(&b);
}

static void fuzz_workspace(const char *s, size_t n, uint8_t kind)
{
    char *token = NULL, err[256];
    double expires = 0;
    if (cred_parse_token_response((cred_response_kind_t)(kind % 3), s, n, 1e9, &token, &expires,
                                  err, sizeof err) == 0) {
        if (!token) abort();
        free(token);
    }
    char *z = strndup(s, n);
    if (!z) return;
    double t;
    (void)cred_parse_rfc3339(z, &t);
    char out[512];
    cred_describe_failure(out, sizeof out, "mint", 403, s, n, NULL);
    if (strlen(out) >= sizeof out) abort();
    free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t which = data[0];
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    char *z = strndup(s, n); /* NUL-terminated copy for the C-string parsers */
    if (!z) return 0;
    switch (which % 6) {
    case 0:
        fuzz_body(s, n);
        break;
    case 1:
        (void)web_accept_prefers_html(z);
        break;
    case 2: {
        char reason[128];
        (void)web_email_valid(s, n, reason, sizeof reason);
        break;
    }
    case 3: {
        char ip[WEB_IP_MAX];
        if (web_ip_normalize(s, n, ip) && strlen(ip) >= WEB_IP_MAX) abort();
        break;
    }
    case 4:
        fuzz_html(s, n);
        break;
    default:
        fuzz_workspace(s, n, which / 6);
        break;
    }
    free(z);
    return 0;
}
