/*
 * libFuzzer target: the Statement Execution API response parser
 * (lh_parse_reply), on both statement and chunk responses, then the JSON
 * encoding of whatever rows it accepted. Invariants: every encoded row is a
 * JSON object (jansson's number range aside), and a
 * next link, when accepted, stays under /api/2.0/sql/statements/.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    bool chunk_only = data[0] & 1;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    lh_result_t *r = lh_result_new();
    if (chunk_only) { /* a chunk needs columns from an earlier manifest */
        const char *names[] = {"a", "b", "c"};
        lh_type_t types[] = {LH_T_INT, LH_T_JSON, LH_T_DECIMAL};
        lh_result_set_columns(r, 3, names, types);
    }
    lh_reply_t p;
    char err[200];
    if (lh_parse_reply(body, len, chunk_only, r, &p, err, sizeof err) == 0) {
        if (p.next_link && strncmp(p.next_link, "/api/2.0/sql/statements/", 24) != 0) abort();
        for (size_t i = 0; i < r->nrows; i++) {
            buf_t b;
            buf_init(&b);
            json_writer_t w;
            jw_init(&w, &b);
            lh_encode_row(&w, r, i);
            json_error_t je;
            json_t *v = json_loadb(b.data, b.len, JSON_DECODE_INT_AS_REAL, &je);
            /* jansson refuses numbers beyond a double (a DECIMAL(38) may be): not our bug */
            if (!v && !strstr(je.text, "overflow") && !strstr(je.text, "too big")) abort();
            if (v && !json_is_object(v)) abort();
            json_decref(v);
            buf_dispose(&b);
        }
        lh_reply_dispose(&p);
    }
    lh_result_free(r);
    return 0;
}
