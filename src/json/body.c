/*
 * json/body - request-body parsing over jansson (see include/lakeapi/json_body.h).
 *
 * Owns: the checks a body goes through before the api layer sees it (empty,
 * UTF-8, syntax, duplicate keys, depth) and the bridge from jansson values back
 * into our writer. jansson does the parsing; we only classify its verdict.
 */
#include "lakeapi/json_body.h"
#include "json/json_internal.h"

#include <stdio.h>
#include <string.h>

static void json_body_fail(json_body_error_t *err, json_body_status_t kind, size_t position,
                           int line, int column, const char *message)
{
    if (!err) return;
    err->kind = kind;
    err->position = position;
    err->line = line;
    err->column = column;
    snprintf(err->message, sizeof err->message, "%s", message);
}

/* true when v nests deeper than limit (a scalar is depth 0). */
static bool json_body_too_deep(const json_t *v, int limit)
{
    if (json_is_array(v)) {
        if (limit == 0) return true;
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (json_body_too_deep(json_array_get(v, i), limit - 1)) return true;
        }
    } else if (json_is_object(v)) {
        if (limit == 0) return true;
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            if (json_body_too_deep(child, limit - 1)) return true;
        }
    }
    return false;
}

/*
 * jansson reports the offset just past the offending token and quotes that
 * token ("... near 'x'") when it is at most 20 bytes long. Python's json (and
 * so FastAPI) points at the token's start, so step back over it when we can.
 */
static size_t json_body_token_start(const json_error_t *jerr, size_t len)
{
    size_t pos = jerr->position > 0 ? (size_t)jerr->position : 0;
    if (pos > len) pos = len;
    const char *near = strstr(jerr->text, " near '");
    if (!near) return pos;
    size_t quoted = strlen(near + 7);
    if (quoted == 0 || near[7 + quoted - 1] != '\'') return pos;
    size_t token_len = quoted - 1;
    return token_len <= pos ? pos - token_len : pos;
}

/* Characters (code points) in valid UTF-8 s[0..n): bytes that are not continuations. */
static size_t json_body_char_count(const char *s, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (((unsigned char)s[i] & 0xC0) != 0x80) count++;
    }
    return count;
}

static json_body_status_t json_body_classify(const json_error_t *jerr)
{
    switch (json_error_code(jerr)) {
    case json_error_invalid_utf8:
        return JSON_BODY_BAD_UTF8;
    case json_error_duplicate_key:
        return JSON_BODY_DUPLICATE_KEY;
    case json_error_stack_overflow:
        return JSON_BODY_TOO_DEEP;
    default:
        return JSON_BODY_INVALID;
    }
}

int json_body_parse(const char *body, size_t len, json_t **out, json_body_error_t *err)
{
    *out = NULL;
    if (err) memset(err, 0, sizeof *err);
    if (!body || len == 0) {
        json_body_fail(err, JSON_BODY_EMPTY, 0, 0, 0, "empty body");
        return -1;
    }
    /* Checked first so the offset points at the bad byte itself. */
    size_t bad = json_utf8_invalid_offset(body, len);
    if (bad < len) {
        json_body_fail(err, JSON_BODY_BAD_UTF8, bad, 0, 0, "invalid UTF-8");
        if (err) err->char_position = json_body_char_count(body, bad);
        return -1;
    }

    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!v) {
        size_t pos = json_body_token_start(&jerr, len);
        json_body_fail(err, json_body_classify(&jerr), pos, jerr.line, jerr.column, jerr.text);
        if (err) err->char_position = json_body_char_count(body, pos);
        return -1;
    }
    if (json_body_too_deep(v, JSON_BODY_MAX_DEPTH)) {
        json_decref(v);
        json_body_fail(err, JSON_BODY_TOO_DEEP, 0, 0, 0, "nesting deeper than 32 levels");
        return -1;
    }
    *out = v;
    return 0;
}

const char *json_body_type_name(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "boolean";
    default:
        return "null";
    }
}

void json_write_jansson(json_writer_t *w, const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: {
        jw_object_begin(w);
        /* Past the writer's depth the object is already null: skipping its
         * children also bounds this recursion. */
        if (w->depth <= JSON_MAX_DEPTH) {
            const char *key;
            size_t key_len;
            json_t *child;
            json_object_keylen_foreach((json_t *)v, key, key_len, child)
            {
                jw_key_len(w, key, key_len);
                json_write_jansson(w, child);
            }
        }
        jw_object_end(w);
        break;
    }
    case JSON_ARRAY:
        jw_array_begin(w);
        if (w->depth <= JSON_MAX_DEPTH) {
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_write_jansson(w, json_array_get(v, i));
            }
        }
        jw_array_end(w);
        break;
    case JSON_STRING:
        jw_string(w, json_string_value(v), json_string_length(v));
        break;
    case JSON_INTEGER:
        jw_int(w, (int64_t)json_integer_value(v));
        break;
    case JSON_REAL:
        jw_double(w, json_real_value(v));
        break;
    case JSON_TRUE:
        jw_bool(w, true);
        break;
    case JSON_FALSE:
        jw_bool(w, false);
        break;
    default:
        jw_null(w);
        break;
    }
}
