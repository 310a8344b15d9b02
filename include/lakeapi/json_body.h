/*
 * json_body - request bodies parsed with jansson, failures described the way
 * FastAPI reports them.
 *
 * The api layer turns a json_body_error_t into its 422 body: JSON_BODY_INVALID
 * is FastAPI's {"type":"json_invalid","loc":["body",<char_position>],"msg":"JSON
 * decode error","ctx":{"error":<message>}}, JSON_BODY_EMPTY is its "missing"
 * body. The other kinds are stricter than FastAPI (which accepts duplicate keys
 * and answers invalid UTF-8 with a 400); the api layer decides how to map them.
 */
#ifndef LAKEAPI_JSON_BODY_H
#define LAKEAPI_JSON_BODY_H

#include <jansson.h>
#include <stddef.h>

#include "lakeapi/json.h"

/* Deepest accepted nesting of arrays/objects: "[[1]]" is depth 2. */
#define JSON_BODY_MAX_DEPTH 32

typedef enum {
    JSON_BODY_OK = 0,
    JSON_BODY_EMPTY,         /* zero bytes */
    JSON_BODY_INVALID,       /* not JSON (syntax, trailing data, \u0000, integer overflow) */
    JSON_BODY_BAD_UTF8,      /* bytes that are not UTF-8 */
    JSON_BODY_DUPLICATE_KEY, /* an object repeats a key */
    JSON_BODY_TOO_DEEP,      /* nesting deeper than JSON_BODY_MAX_DEPTH */
} json_body_status_t;

typedef struct json_body_error {
    json_body_status_t kind;
    size_t position;      /* byte offset in the body where the problem was found */
    size_t char_position; /* the same in characters: FastAPI's loc ["body", N] */
    int line, column;     /* 1-based, as jansson counts them (0 when unknown) */
    char message[160];    /* jansson's text, or ours for the kinds jansson does not check */
} json_body_error_t;

/*
 * Parses body[0..len) (need not be NUL-terminated). Any JSON value is accepted
 * at the top level; integers stay integers (json_int_t is long long). On
 * success returns 0 and *out holds a new reference (json_decref it). On
 * failure returns -1, *out is NULL and err (if not NULL) says why.
 */
int json_body_parse(const char *body, size_t len, json_t **out, json_body_error_t *err);

/* "string", "integer", "number", "boolean", "null", "array" or "object". */
const char *json_body_type_name(const json_t *v);

/* Writes v as one value through w (so a 422 can echo its `input`). NULL -> null. */
void json_write_jansson(json_writer_t *w, const json_t *v);

#endif
