/*
 * json - our JSON writer, plus a thin wrapper over jansson for request bodies.
 *
 * The writer appends to a buf_t and tracks commas itself, so encoders read like
 * the document they produce. Strings are escaped per RFC 8259 and validated as
 * UTF-8: an invalid byte sequence is written as U+FFFD, so the output is always
 * valid JSON whatever the input. Numbers that come from PostgreSQL as text
 * (numeric, int8) are copied verbatim with jw_raw_number(): 172799.49
 * is never converted through a double.
 *
 * The writer's functions are prefixed jw_ (not json_) because jansson, which
 * parses request bodies, already owns json_string(), json_null() and friends.
 */
#ifndef LAKEAPI_JSON_H
#define LAKEAPI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakeapi/buf.h"

#define JSON_MAX_DEPTH 32

typedef struct json_writer {
    buf_t *out;
    int depth;
    bool first[JSON_MAX_DEPTH]; /* no value written yet at this depth */
    bool after_key;             /* a key was written; the next value follows its ':' */
} json_writer_t;

void jw_init(json_writer_t *w, buf_t *out);
void jw_object_begin(json_writer_t *w);
void jw_object_end(json_writer_t *w);
void jw_array_begin(json_writer_t *w);
void jw_array_end(json_writer_t *w);
/* key must be a NUL-terminated string; it is escaped like any string. */
void jw_key(json_writer_t *w, const char *key);
void jw_string(json_writer_t *w, const char *s, size_t len);
void jw_cstring(json_writer_t *w, const char *s);
void jw_int(json_writer_t *w, int64_t v);
void jw_double(json_writer_t *w, double v); /* shortest round-trip form; NaN/inf -> null */
void jw_bool(json_writer_t *w, bool v);
void jw_null(json_writer_t *w);
/*
 * Writes s as a JSON number if it is one by RFC 8259 grammar (as PostgreSQL
 * prints int/numeric), else as a JSON string. Returns true if written as a number.
 */
bool jw_raw_number(json_writer_t *w, const char *s, size_t len);
/*
 * For encoders that write one value straight into w->out: writes the comma or
 * colon the value needs and returns true; the caller then appends exactly one
 * complete JSON value. false: the value is dropped (nesting too deep).
 */
bool jw_value_begin(json_writer_t *w);
/* Appends pre-encoded JSON (already valid) as one value. */
void jw_raw(json_writer_t *w, const char *json, size_t len);

/* Escapes s (UTF-8 validated) into out, without the surrounding quotes. */
void json_escape_into(buf_t *out, const char *s, size_t len);
/* Length of the prefix of s that a JSON string can hold as is (printable ASCII but '"' and '\\').
 */
size_t json_plain_length(const char *s, size_t len);
/* true when s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
bool json_utf8_valid(const char *s, size_t len);

/* Convenience helpers: {"key1":v1,...} pairs by key at a time. */
void jw_kv_string(json_writer_t *w, const char *key, const char *s);
void jw_kv_int(json_writer_t *w, const char *key, int64_t v);
void jw_kv_bool(json_writer_t *w, const char *key, bool v);

#endif
