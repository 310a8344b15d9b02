/*
 * libFuzzer target: query/path parameter parsing of the api layer
 * (web_parse_int, web_parse_bool) and the 422 item encoder, with arbitrary
 * bytes as the raw parameter. Checks that a parsed int is stable when printed
 * and parsed again, and that every 422 body is valid JSON.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';

    int64_t v;
    if (web_parse_int(s, &v)) {
        char again[32];
        snprintf(again, sizeof again, "%lld", (long long)v);
        int64_t w;
        if (!web_parse_int(again, &w) || w != v) abort();
    }
    bool b;
    (void)web_parse_bool(s, &b);

    web_errors_t e;
    web_errors_init(&e);
    web_errors_add(&e, "int_parsing", "query", s, "msg", s, NULL);
    buf_t doc;
    buf_init(&doc);
    buf_append_char(&doc, '[');
    buf_append(&doc, e.buf.data, e.buf.len);
    buf_append_char(&doc, ']');
    json_error_t err;
    json_t *parsed = json_loadb(doc.data, doc.len, 0, &err);
    if (!parsed) abort(); /* the encoder must always produce valid JSON */
    json_decref(parsed);
    buf_dispose(&doc);
    web_errors_dispose(&e);
    free(s);
    return 0;
}
