/*
 * libFuzzer target: what the Databricks workspace answers, as parsed by
 * src/workspace (error bodies, OAuth token responses) and by the Lakebase
 * resources model (instance and synced-table status bodies). The first byte
 * picks the parser. Invariants: outputs stay NUL-terminated within their
 * buffers, a parsed token is non-empty and its expiry after "now", and a
 * failed parse never leaks part of the body into its error text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/resources.h"
#include "workspace/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_error_fields(const char *s, size_t n)
{
    char code[64], msg[256];
    memset(code, 'x', sizeof code);
    memset(msg, 'x', sizeof msg);
    ws_error_fields(s, n, code, sizeof code, msg, sizeof msg);
    if (!memchr(code, 0, sizeof code) || !memchr(msg, 0, sizeof msg)) abort();
}

static void fuzz_oauth(const char *s, size_t n)
{
    char *token = NULL, err[256];
    double expires = 0;
    err[0] = '\0';
    if (ws_parse_oauth_token(s, n, 1e9, &token, &expires, err, sizeof err) == 0) {
        if (!token || !*token || !(expires > 1e9)) abort();
        free(token);
    } else {
        if (token) abort();
        if (!memchr(err, 0, sizeof err)) abort();
    }
}

static void fuzz_status(const char *s, size_t n, res_kind_t kind)
{
    res_step_t st;
    memset(&st, 0, sizeof st);
    st.kind = kind;
    res_step_observe(&st, s, n);
    if (!memchr(st.remote_state, 0, sizeof st.remote_state) ||
        !memchr(st.host, 0, sizeof st.host) || !memchr(st.pipeline_id, 0, sizeof st.pipeline_id) ||
        !memchr(st.error.detail, 0, sizeof st.error.detail))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *s = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 4) {
    case 0:
        fuzz_error_fields(s, n);
        break;
    case 1:
        fuzz_oauth(s, n);
        break;
    case 2:
        fuzz_status(s, n, RES_INSTANCE);
        break;
    default:
        fuzz_status(s, n, RES_SYNCED);
        break;
    }
    return 0;
}
