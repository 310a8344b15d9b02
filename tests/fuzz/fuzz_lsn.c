/*
 * libFuzzer target: the X-Lakeapi-Min-LSN header parser (db_lsn_parse), which
 * reads client bytes. Besides "no crash": whatever parses formats back to a
 * text that parses to the same position, and never reads past the length.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/db.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy, so reading past size is caught by the sanitizer. */
    char *s = malloc(size ? size : 1);
    if (!s) return 0;
    memcpy(s, data, size);
    uint64_t v = 0, w = 0;
    if (db_lsn_parse(s, size, &v) == 0) {
        char text[24];
        db_lsn_format(v, text, sizeof text);
        if (db_lsn_parse(text, strlen(text), &w) != 0 || w != v) abort();
    }
    free(s);
    return 0;
}
