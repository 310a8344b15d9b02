/*
 * body - request bodies for the api layer: jansson parsing (json/body.c)
 * turned into FastAPI's 422 items, so a client sees the same "missing",
 * "json_invalid" and "model_attributes_type" errors as from the Python peer.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api_internal.h"
#include "lakeapi/json_body.h"

char *api_json_text(const json_t *v)
{
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    json_write_jansson(&w, v);
    return buf_steal(&b);
}

json_t *api_body_object(http_exchange_t *ex, api_errors_t *e)
{
    size_t len = 0;
    const char *body = http_exchange_body(ex, &len);
    json_t *root = NULL;
    json_body_error_t err;
    if (!body || len == 0) {
        api_errors_add_raw(e, "missing", "[\"body\"]", "Field required", NULL, NULL);
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
        api_errors_add_raw(e, "json_invalid", loc, "JSON decode error", "{}", ctx.data);
        buf_dispose(&ctx);
        return NULL;
    }
    if (!json_is_object(root)) {
        char *input = api_json_text(root);
        api_errors_add_raw(e, "model_attributes_type", "[\"body\"]",
                           "Input should be a valid dictionary or object to extract fields from",
                           input, NULL);
        free(input);
        json_decref(root);
        return NULL;
    }
    return root;
}
