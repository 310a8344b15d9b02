/*
 * lakehouse/result - a statement's result set and the faithful JSON of its values.
 *
 * The warehouse sends every value as a string (or null) and types it in the
 * manifest. We keep the strings as they came (one buffer, (offset, length)
 * per value) and type them only when encoding, so DECIMAL(38,2) keeps every
 * digit, BIGINT is exact beyond 2^53, and ARRAY/MAP/STRUCT go out as the JSON
 * the warehouse wrote. A value that does not look like its type (a warehouse
 * bug or a new type) goes out as a JSON string rather than as broken JSON.
 *
 * Ownership: a result owns its columns and its buffer. It is reference counted
 * (atomically: the cache hands one result to the loops of every waiter):
 * lh_result_new's caller holds one reference, lh_result_share adds one and
 * lh_result_free drops one; the last frees all. A shared result is read only.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"

#define LH_RESULT_MAX ((size_t)UINT32_MAX - 1) /* offsets are 32-bit */

lh_type_t lh_type_from_name(const char *t)
{
    static const struct {
        const char *name;
        lh_type_t type;
    } map[] = {
        {"BYTE", LH_T_INT},
        {"SHORT", LH_T_INT},
        {"INT", LH_T_INT},
        {"LONG", LH_T_INT},
        {"TINYINT", LH_T_INT},
        {"SMALLINT", LH_T_INT},
        {"BIGINT", LH_T_INT},
        {"INTEGER", LH_T_INT},
        {"DECIMAL", LH_T_DECIMAL},
        {"FLOAT", LH_T_FLOAT},
        {"DOUBLE", LH_T_FLOAT},
        {"BOOLEAN", LH_T_BOOL},
        {"DATE", LH_T_DATE},
        {"TIMESTAMP", LH_T_TIMESTAMP},
        {"TIMESTAMP_NTZ", LH_T_TIMESTAMP},
        {"ARRAY", LH_T_JSON},
        {"MAP", LH_T_JSON},
        {"STRUCT", LH_T_JSON},
        {"BINARY", LH_T_BINARY},
    };
    for (size_t i = 0; t && i < sizeof map / sizeof map[0]; i++)
        if (strcasecmp(t, map[i].name) == 0) return map[i].type;
    return LH_T_STRING;
}

lh_result_t *lh_result_new(void)
{
    lh_result_t *r = calloc(1, sizeof *r);
    if (!r) abort();
    atomic_init(&r->refs, 1);
    buf_init(&r->data);
    return r;
}

lh_result_t *lh_result_share(lh_result_t *r)
{
    if (r) atomic_fetch_add(&r->refs, 1);
    return r;
}

void lh_result_free(lh_result_t *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1) return;
    for (int i = 0; i < r->ncols; i++)
        free(r->cols[i].name);
    free(r->cols);
    free(r->values);
    buf_dispose(&r->data);
    free(r);
}

void lh_result_set_columns(lh_result_t *r, int ncols, const char *const *names,
                           const lh_type_t *types)
{
    r->ncols = ncols;
    r->cols = calloc((size_t)(ncols > 0 ? ncols : 1), sizeof *r->cols);
    if (!r->cols) abort();
    for (int i = 0; i < ncols; i++) {
        r->cols[i].name = strdup(names[i] ? names[i] : "");
        if (!r->cols[i].name) abort();
        r->cols[i].type = types[i];
    }
}

int lh_result_add_row(lh_result_t *r, const char *const *vals, const size_t *lens)
{
    size_t need = 0;
    for (int i = 0; i < r->ncols; i++)
        need += vals[i] ? lens[i] + 1 : 0;
    if (r->data.len + need > LH_RESULT_MAX) return -1;
    if (r->nrows == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->values =
            realloc(r->values, r->cap * (size_t)(r->ncols ? r->ncols : 1) * sizeof *r->values);
        if (!r->values) abort();
    }
    lh_value_t *row = r->values + r->nrows * (size_t)r->ncols;
    buf_reserve(&r->data, need);
    for (int i = 0; i < r->ncols; i++) {
        if (!vals[i]) {
            row[i].off = 0;
            row[i].len = LH_NULL;
            continue;
        }
        row[i].off = (uint32_t)r->data.len;
        row[i].len = (uint32_t)lens[i];
        buf_append(&r->data, vals[i], lens[i]);
        buf_append(&r->data, "", 1); /* each value NUL-terminated */
    }
    r->nrows++;
    return 0;
}

size_t lh_result_bytes(const lh_result_t *r)
{
    size_t b = sizeof *r + r->data.cap + r->cap * (size_t)r->ncols * sizeof(lh_value_t);
    for (int i = 0; i < r->ncols; i++)
        b += sizeof r->cols[i] + strlen(r->cols[i].name) + 1;
    return b;
}

const char *lh_result_value(const lh_result_t *r, size_t row, int col, size_t *len)
{
    const lh_value_t *v = &r->values[row * (size_t)r->ncols + (size_t)col];
    if (v->len == LH_NULL) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = v->len;
    return r->data.data + v->off;
}

int lh_result_column(const lh_result_t *r, const char *name)
{
    for (int i = 0; i < r->ncols; i++)
        if (strcmp(r->cols[i].name, name) == 0) return i;
    return -1;
}

/* ---- encoding ---- */

/* -?digits: what an integer type must look like. */
static bool lh_is_integer(const char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
    if (i == n) return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

/* The warehouse's JSON text of a complex value, kept when it parses as JSON. */
static void lh_encode_json_text(json_writer_t *w, const char *s, size_t n)
{
    json_error_t e;
    json_t *v = json_loadb(s, n, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &e);
    if (!v) {
        jw_string(w, s, n);
        return;
    }
    json_decref(v);
    jw_raw(w, s, n);
}

/* Databricks writes "2024-01-02T03:04:05.000Z"; a blank separator becomes the ISO 'T'. */
static void lh_encode_timestamp(json_writer_t *w, const char *s, size_t n)
{
    if (n > 10 && s[10] == ' ') {
        char tmp[80];
        if (n < sizeof tmp) {
            memcpy(tmp, s, n);
            tmp[10] = 'T';
            jw_string(w, tmp, n);
            return;
        }
    }
    jw_string(w, s, n);
}

void lh_encode_value(json_writer_t *w, lh_type_t t, const char *s, size_t n)
{
    if (!s) {
        jw_null(w);
        return;
    }
    switch (t) {
    case LH_T_INT:
        if (lh_is_integer(s, n))
            jw_raw_number(w, s, n);
        else
            jw_string(w, s, n);
        return;
    case LH_T_DECIMAL:
    case LH_T_FLOAT:
        jw_raw_number(w, s, n); /* a string when it is no JSON number (NaN, Infinity) */
        return;
    case LH_T_BOOL:
        if (n == 4 && strncasecmp(s, "true", 4) == 0)
            jw_bool(w, true);
        else if (n == 5 && strncasecmp(s, "false", 5) == 0)
            jw_bool(w, false);
        else
            jw_string(w, s, n);
        return;
    case LH_T_TIMESTAMP:
        lh_encode_timestamp(w, s, n);
        return;
    case LH_T_JSON:
        lh_encode_json_text(w, s, n);
        return;
    default:
        jw_string(w, s, n);
        return;
    }
}

void lh_encode_row(json_writer_t *w, const lh_result_t *r, size_t row)
{
    jw_object_begin(w);
    for (int c = 0; c < r->ncols; c++) {
        size_t len;
        const char *v = lh_result_value(r, row, c, &len);
        jw_key(w, r->cols[c].name);
        lh_encode_value(w, r->cols[c].type, v, len);
    }
    jw_object_end(w);
}

void lh_csv_field(buf_t *out, const char *s, size_t n)
{
    if (!s) return;
    bool quote = n == 0 || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) ||
                 memchr(s, '\r', n);
    if (!quote) {
        buf_append(out, s, n);
        return;
    }
    buf_append_char(out, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"') buf_append_char(out, '"');
        buf_append_char(out, s[i]);
    }
    buf_append_char(out, '"');
}
