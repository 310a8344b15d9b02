/*
 * table - resources described by data: a table descriptor (name, key column,
 * columns and their JSON kinds) is all the SQL builders and the row encoder
 * need, so serving another synced table needs no new SQL-building code.
 *
 * Identifiers are quoted here; table names were validated as
 * [schema.]identifier by config before they reach this file, and values are
 * always bound as parameters ($n), never spliced into the text.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

static void table_quote_ident(buf_t *b, const char *s, size_t len)
{
    buf_append_char(b, '"');
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"') buf_append_char(b, '"');
        buf_append_char(b, s[i]);
    }
    buf_append_char(b, '"');
}

int web_table_init(web_table_t *t, const char *qualified, const char *key, const web_column_t *cols,
                   int ncols)
{
    memset(t, 0, sizeof *t);
    buf_t b;
    buf_init(&b);
    const char *dot = strchr(qualified, '.');
    if (dot) {
        table_quote_ident(&b, qualified, (size_t)(dot - qualified));
        buf_append_char(&b, '.');
        table_quote_ident(&b, dot + 1, strlen(dot + 1));
    } else {
        table_quote_ident(&b, "public", 6);
        buf_append_char(&b, '.');
        table_quote_ident(&b, qualified, strlen(qualified));
    }
    t->sql_name = buf_steal(&b);
    for (int i = 0; i < ncols; i++) {
        if (i) buf_append_str(&b, ", ");
        table_quote_ident(&b, cols[i].name, strlen(cols[i].name));
    }
    t->select_list = buf_steal(&b);
    /* Keys are encoded once here, so a row costs a memcpy per key. */
    t->key_prefix = calloc((size_t)ncols, sizeof *t->key_prefix);
    t->key_prefix_len = calloc((size_t)ncols, sizeof *t->key_prefix_len);
    if (!t->key_prefix || !t->key_prefix_len) abort();
    t->row_overhead = 1;
    for (int i = 0; i < ncols; i++) {
        json_writer_t w;
        jw_init(&w, &b);
        buf_append_char(&b, i == 0 ? '{' : ',');
        jw_cstring(&w, cols[i].name);
        buf_append_char(&b, ':');
        t->key_prefix_len[i] = b.len;
        t->row_overhead += b.len + 2; /* the quotes of a string value */
        t->key_prefix[i] = buf_steal(&b);
    }
    t->key = key;
    t->cols = cols;
    t->ncols = ncols;
    return 0;
}

void web_table_dispose(web_table_t *t)
{
    free(t->sql_name);
    free(t->select_list);
    for (int i = 0; t->key_prefix && i < t->ncols; i++)
        free(t->key_prefix[i]);
    free(t->key_prefix);
    free(t->key_prefix_len);
    memset(t, 0, sizeof *t);
}

static char *table_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *table_sql(const char *fmt, ...)
{
    buf_t b;
    buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return buf_steal(&b);
}

char *web_sql_get(const web_table_t *t)
{
    return table_sql("SELECT %s FROM %s WHERE \"%s\" = $1", t->select_list, t->sql_name, t->key);
}

char *web_sql_keyset(const web_table_t *t)
{
    return table_sql("SELECT %s FROM %s WHERE \"%s\" > $1 ORDER BY \"%s\" LIMIT $2", t->select_list,
                     t->sql_name, t->key, t->key);
}

char *web_sql_offset(const web_table_t *t)
{
    return table_sql("SELECT %s FROM %s ORDER BY \"%s\" OFFSET $1 LIMIT $2", t->select_list,
                     t->sql_name, t->key);
}

char *web_sql_count(const web_table_t *t)
{
    return table_sql("SELECT count(*) FROM %s", t->sql_name);
}

/*
 * The cursor whose next page is the page before `cursor`: the previous page
 * is the page_size largest keys <= cursor, so its cursor is the key just
 * below them - the (page_size+1)-th largest key <= cursor - or 0 when there
 * are not that many. Correct for sparse keys, unlike cursor - page_size.
 * The second column, the largest key <= cursor (one index probe), is the
 * previous cursor of the page after this one (web/cursors.c).
 */
char *web_sql_prev_cursor(const web_table_t *t)
{
    return table_sql(
        "SELECT COALESCE((SELECT \"%s\" FROM %s WHERE \"%s\" <= $1 ORDER BY \"%s\" "
        "DESC OFFSET $2 LIMIT 1), 0), COALESCE((SELECT \"%s\" FROM %s WHERE \"%s\" <= $1 "
        "ORDER BY \"%s\" DESC LIMIT 1), 0)",
        t->key, t->sql_name, t->key, t->key, t->key, t->sql_name, t->key, t->key);
}

char *web_sql_keys(const web_table_t *t)
{
    return table_sql("SELECT \"%s\" FROM %s LIMIT $1", t->key, t->sql_name);
}

char *web_sql_anchors(const web_table_t *t)
{
    return table_sql("SELECT k FROM (SELECT \"%s\" AS k, row_number() OVER (ORDER BY \"%s\") AS rn "
                     "FROM %s) s WHERE rn %% $1 = 0 ORDER BY k",
                     t->key, t->key, t->sql_name);
}

char *web_sql_keyset_offset(const web_table_t *t)
{
    return table_sql("SELECT %s FROM %s WHERE \"%s\" > $1 ORDER BY \"%s\" OFFSET $2 LIMIT $3",
                     t->select_list, t->sql_name, t->key, t->key);
}

char *web_sql_update_column(const web_table_t *t, const char *column)
{
    return table_sql("UPDATE %s SET \"%s\" = $2 WHERE \"%s\" = $1 RETURNING \"%s\"", t->sql_name,
                     column, t->key, t->key);
}

/* ", "-separated quoted column names. */
static void table_column_list(buf_t *b, const char *const *cols, int n)
{
    for (int i = 0; i < n; i++) {
        if (i) buf_append_str(b, ", ");
        table_quote_ident(b, cols[i], strlen(cols[i]));
    }
}

char *web_sql_insert(const web_table_t *t, const char *const *cols, int n)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "INSERT INTO %s (", t->sql_name);
    table_column_list(&b, cols, n);
    buf_append_str(&b, ") VALUES (");
    for (int i = 0; i < n; i++)
        buf_printf(&b, "%s$%d", i ? ", " : "", i + 1);
    buf_printf(&b, ") RETURNING %s", t->select_list);
    return buf_steal(&b);
}

/*
 * One statement for every subset of columns: each column is assigned either
 * its new value or itself, chosen by a boolean parameter. Assigning a column
 * to itself changes nothing, so a single prepared plan serves any partial
 * update and no SQL is ever built per request.
 */
char *web_sql_update_partial(const web_table_t *t, const char *const *cols, int n)
{
    buf_t b;
    buf_init(&b);
    buf_printf(&b, "UPDATE %s SET ", t->sql_name);
    for (int i = 0; i < n; i++) {
        if (i) buf_append_str(&b, ", ");
        table_quote_ident(&b, cols[i], strlen(cols[i]));
        buf_printf(&b, " = CASE WHEN $%d::boolean THEN $%d ELSE ", 2 + 2 * i, 3 + 2 * i);
        table_quote_ident(&b, cols[i], strlen(cols[i]));
        buf_append_str(&b, " END");
    }
    buf_printf(&b, " WHERE \"%s\" = $1 RETURNING \"%s\"", t->key, t->key);
    return buf_steal(&b);
}

char *web_sql_delete(const web_table_t *t)
{
    return table_sql("DELETE FROM %s WHERE \"%s\" = $1 RETURNING \"%s\"", t->sql_name, t->key,
                     t->key);
}

char *web_sql_latest(const web_table_t *t, const char *order_col)
{
    return table_sql("SELECT %s FROM %s ORDER BY \"%s\" DESC, \"%s\" DESC LIMIT $1", t->select_list,
                     t->sql_name, order_col, t->key);
}

static void table_encode_value(json_writer_t *w, web_col_kind_t kind, const char *v, int len)
{
    switch (kind) {
    case WEB_COL_INT:
    case WEB_COL_NUMBER:
        jw_raw_number(w, v, (size_t)len);
        break;
    case WEB_COL_BOOL:
        jw_bool(w, v[0] == 't');
        break;
    case WEB_COL_TIMESTAMP: {
        /* PostgreSQL's ISO output "2026-01-02 03:04:05.6" -> ISO 8601 with a 'T'. */
        char tmp[64];
        if (len > 10 && len < (int)sizeof tmp && v[10] == ' ') {
            memcpy(tmp, v, (size_t)len);
            tmp[10] = 'T';
            jw_string(w, tmp, (size_t)len);
            break;
        }
        jw_string(w, v, (size_t)len);
        break;
    }
    default:
        jw_string(w, v, (size_t)len);
    }
}

/*
 * The hot path of every list endpoint: rows are written straight into the
 * response buffer, one reservation per row, keys pre-encoded, values copied
 * with a single memcpy unless they need escaping (then the general escaper).
 * Numbers come from PostgreSQL's text output and are copied as they are; the
 * only numeric texts that are not JSON numbers (NaN, Infinity) go through the
 * checked path.
 */
static void table_fast_value(buf_t *b, web_col_kind_t kind, const char *v, size_t len)
{
    switch (kind) {
    case WEB_COL_INT:
        memcpy(b->data + b->len, v, len);
        b->len += len;
        return;
    case WEB_COL_NUMBER:
        if (len && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && v[len - 1] != 'y') {
            memcpy(b->data + b->len, v, len);
            b->len += len;
            return;
        }
        break;
    case WEB_COL_DATE:
        /* PostgreSQL's ISO dates (digits and '-'; "infinity" too) never need escaping. */
        b->data[b->len++] = '"';
        memcpy(b->data + b->len, v, len);
        b->len += len;
        b->data[b->len++] = '"';
        return;
    case WEB_COL_TEXT:
        if (json_plain_length(v, len) == len) {
            b->data[b->len++] = '"';
            memcpy(b->data + b->len, v, len);
            b->len += len;
            b->data[b->len++] = '"';
            return;
        }
        break;
    default:
        break;
    }
    /* The general path: a writer positioned after the key. */
    json_writer_t w;
    jw_init(&w, b);
    w.after_key = true;
    b->data[b->len] = '\0';
    table_encode_value(&w, kind, v, (int)len);
}

/* One row as a JSON object, straight into b: one reservation, keys pre-encoded. */
/* Rows of more than TABLE_ROW_COLS columns: one field at a time. */
static void table_write_wide_row(buf_t *b, const web_table_t *t, const PGresult *res, int r)
{
    for (int c = 0; c < t->ncols; c++) {
        size_t len = (size_t)PQgetlength(res, r, c);
        buf_reserve(b, t->key_prefix_len[c] + len + 8);
        memcpy(b->data + b->len, t->key_prefix[c], t->key_prefix_len[c]);
        b->len += t->key_prefix_len[c];
        if (PQgetisnull(res, r, c)) {
            memcpy(b->data + b->len, "null", 4);
            b->len += 4;
        } else {
            table_fast_value(b, t->cols[c].kind, PQgetvalue(res, r, c), len);
        }
    }
    buf_reserve(b, 2);
    b->data[b->len++] = '}';
    b->data[b->len] = '\0';
}

#define TABLE_ROW_COLS 64 /* fields read into locals first; wider rows are done in slices */

static void table_write_row(buf_t *b, const web_table_t *t, const PGresult *res, int r)
{
    /*
     * libpq's accessors check their arguments on every call: each field is
     * read once (value and length; the NULL flag only for empty values, the
     * one case where a length cannot tell NULL from '').
     */
    const char *val[TABLE_ROW_COLS];
    size_t len[TABLE_ROW_COLS];
    if (t->ncols > TABLE_ROW_COLS) {
        table_write_wide_row(b, t, res, r);
        return;
    }
    size_t need = t->row_overhead + 1;
    for (int c = 0; c < t->ncols; c++) {
        val[c] = PQgetvalue(res, r, c);
        len[c] = (size_t)PQgetlength(res, r, c);
        if (len[c] == 0 && PQgetisnull(res, r, c)) val[c] = NULL;
        need += len[c] + 4;
    }
    buf_reserve(b, need);
    for (int c = 0; c < t->ncols; c++) {
        memcpy(b->data + b->len, t->key_prefix[c], t->key_prefix_len[c]);
        b->len += t->key_prefix_len[c];
        if (!val[c]) {
            memcpy(b->data + b->len, "null", 4);
            b->len += 4;
        } else {
            table_fast_value(b, t->cols[c].kind, val[c], len[c]);
            buf_reserve(b, need); /* the general path may have used the slack */
        }
    }
    b->data[b->len++] = '}';
    b->data[b->len] = '\0';
}

void web_encode_row(json_writer_t *w, const web_table_t *t, const PGresult *res, int row)
{
    if (jw_value_begin(w)) table_write_row(w->out, t, res, row);
}

void web_encode_rows(json_writer_t *w, const web_table_t *t, const PGresult *res, int nrows)
{
    jw_array_begin(w);
    for (int r = 0; r < nrows; r++)
        web_encode_row(w, t, res, r);
    jw_array_end(w);
}
