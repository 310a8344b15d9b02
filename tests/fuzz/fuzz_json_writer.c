/*
 * fuzz_json_writer - arbitrary bytes through the writer must always come out
 * as valid JSON in valid UTF-8, and valid UTF-8 input must survive unchanged.
 * The same bytes also go through json_body_parse and, when they parse, back
 * out through json_write_jansson, which must reproduce an equal value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/buf.h"
#include "lakeapi/json.h"
#include "lakeapi/json_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_string_roundtrip(const char *s, size_t len)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    jw_array_begin(&w);
    jw_string(&w, s, len);
    jw_key(&w, "ignored?"); /* misuse inside an array still must not crash */
    jw_array_end(&w);
    buf_reset(&b);

    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key(&w, "s");
    jw_string(&w, s, len);
    jw_key(&w, "n");
    jw_raw_number(&w, s, len);
    jw_kv_int(&w, "i", (int64_t)len * -7);
    jw_object_end(&w);

    if (!json_utf8_valid(b.data, b.len)) abort();
    json_error_t err;
    json_t *doc = json_loadb(b.data, b.len, JSON_ALLOW_NUL | JSON_DECODE_INT_AS_REAL, &err);
    if (!doc) {
        /* Only a raw number too large for a double may be refused. */
        if (json_error_code(&err) != json_error_numeric_overflow) abort();
        buf_dispose(&b);
        return;
    }
    json_t *str = json_object_get(doc, "s");
    if (!json_is_string(str)) abort();
    if (json_utf8_valid(s, len)) {
        if (json_string_length(str) != len || memcmp(json_string_value(str), s, len) != 0) abort();
    }
    json_decref(doc);
    buf_dispose(&b);
}

static void check_body_echo(const char *s, size_t len)
{
    json_t *v = NULL;
    json_body_error_t err;
    if (json_body_parse(s, len, &v, &err) != 0) {
        if (v || err.kind == JSON_BODY_OK || err.position > len) abort();
        return;
    }
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    json_write_jansson(&w, v);
    json_error_t jerr;
    json_t *back = json_loadb(b.data, b.len, JSON_DECODE_ANY, &jerr);
    if (!back) abort();
    /* Reals are printed in shortest round-trip form, so equality holds. */
    if (!json_equal(v, back)) abort();
    json_decref(back);
    json_decref(v);
    buf_dispose(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_string_roundtrip(s, size);
    check_body_echo(s, size);

    if (size >= sizeof(double)) {
        double d;
        memcpy(&d, data, sizeof d);
        buf_t b;
        buf_init(&b);
        json_writer_t w;
        jw_init(&w, &b);
        jw_double(&w, d);
        json_error_t err;
        json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &err);
        if (!v) abort();
        if (json_is_real(v) && json_real_value(v) != d) abort();
        json_decref(v);
        buf_dispose(&b);
    }
    return 0;
}
