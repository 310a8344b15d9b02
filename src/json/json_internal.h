/*
 * json/json_internal - what the json module's files share but nobody else needs.
 *
 * Layer json: may include util only (the log sits above it).
 */
#ifndef LAKEAPI_JSON_INTERNAL_H
#define LAKEAPI_JSON_INTERNAL_H

#include <stddef.h>

#include "lakeapi/json.h"

/* Offset of the first byte that is not valid UTF-8, or len when all of it is. */
size_t json_utf8_invalid_offset(const char *s, size_t len);

/* jw_key() for keys with an explicit length (jansson keys may hold NUL). */
void jw_key_len(json_writer_t *w, const char *key, size_t len);

#endif
