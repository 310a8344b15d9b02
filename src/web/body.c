/*
 * body - request bodies for the api layer: jansson parsing (json/body.c)
 * turned into FastAPI's 422 items, so a client sees the same "missing",
 * "json_invalid" and "model_attributes_type" errors as from the Python peer,
 * and the field checks the body models share (string lengths, extra fields).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"
#include "web/validate.h"
#include "lakeapi/json_body.h"

char *web_json_text(const json_t *v)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    json_write_jansson(&w, v);
    return buf_steal(&b);
}

json_t *web_body_object(http_exchange_t *ex, web_errors_t *e)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);
    json_t *root = NULL;
    json_body_error_t err;
    if (!body || len == 0) {
        web_errors_add_raw(e, "missing", "[\"body\"]", "Field required", NULL, NULL);
        return NULL;
    }
    if (json_body_parse(body, len, &root, &err) != 0) {
        char loc[48];
        snprintf(loc, sizeof loc, "[\"body\",%zu]", err.char_position);
        buf_t ctx;
        buf_init(&ctx);
        json_writer_t w;
        jw_init(&w, &ctx);
        jw_object_begin(&w);
        jw_kv_string(&w, "error", err.message);
        jw_object_end(&w);
        web_errors_add_raw(e, "json_invalid", loc, "JSON decode error", "{}", ctx.data);
        buf_dispose(&ctx);
        return NULL;
    }
    if (!json_is_object(root)) {
        char *input = web_json_text(root);
        web_errors_add_raw(e, "model_attributes_type", "[\"body\"]",
                           "Input should be a valid dictionary or object to extract fields from",
                           input, NULL);
        free(input);
        json_decref(root);
        return NULL;
    }
    return root;
}

void web_errors_add_body(web_errors_t *e, const char *type, const char *field, const char *msg,
                         const json_t *input, const char *ctx_json)
{
    buf_t loc;
    buf_init(&loc);
    json_writer_t w;
    jw_init(&w, &loc);
    jw_array_begin(&w);
    jw_cstring(&w, "body");
    jw_cstring(&w, field);
    jw_array_end(&w);
    char *in = web_json_text(input);
    web_errors_add_raw(e, type, loc.data, msg, in, ctx_json);
    free(in);
    buf_dispose(&loc);
}

bool web_body_string_length(web_errors_t *e, const char *field, const json_t *v, int min_length,
                            int max_length)
{
    size_t chars = web_utf8_chars(json_string_value(v), json_string_length(v));
    const char *type, *bound, *ctx_key;
    int limit;
    if (min_length > 0 && chars < (size_t)min_length) {
        type = "string_too_short", bound = "at least", ctx_key = "min_length", limit = min_length;
    } else if (max_length > 0 && chars > (size_t)max_length) {
        type = "string_too_long", bound = "at most", ctx_key = "max_length", limit = max_length;
    } else {
        return true;
    }
    char msg[96], ctx[48];
    snprintf(msg, sizeof msg, "String should have %s %d character%s", bound, limit,
             limit == 1 ? "" : "s");
    snprintf(ctx, sizeof ctx, "{\"%s\":%d}", ctx_key, limit);
    web_errors_add_body(e, type, field, msg, v, ctx);
    return false;
}

void web_body_forbid_extra(web_errors_t *e, json_t *root, const char *const *fields, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v)
    {
        size_t i = 0;
        while (i < n && strcmp(fields[i], key) != 0)
            i++;
        if (i == n)
            web_errors_add_body(e, "extra_forbidden", key, "Extra inputs are not permitted", v,
                                NULL);
    }
}
