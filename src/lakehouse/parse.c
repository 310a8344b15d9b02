/*
 * lakehouse/parse - the Statement Execution API's responses, read defensively.
 *
 * A statement response is {"statement_id", "status": {"state", "error":
 * {"error_code", "message"}}, "manifest": {"schema": {"columns": [{"name",
 * "type_name", "position"}]}, "total_row_count", "total_chunk_count"},
 * "result": {...}}; a chunk response is the "result" object alone:
 * {"chunk_index", "row_count", "data_array": [[...]], "next_chunk_internal_link",
 * "external_links": [{"external_link", "chunk_index", ...}]}.
 *
 * Everything is checked before use: a row must have exactly the manifest's
 * number of values, each a string or null; a next link must be a path under
 * /api/2.0/sql/statements/ (it is requested with the workspace token, so it
 * must not point anywhere else); an external link must be an http(s) URL.
 * Messages never quote values (they may hold data or presigned URLs).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"

#define LH_MAX_COLUMNS 4096

static const char *const lh_state_names[] = {"PENDING",  "RUNNING", "SUCCEEDED", "FAILED",
                                             "CANCELED", "CLOSED",  "UNKNOWN"};

const char *lh_state_name(lh_state_t s)
{
    return lh_state_names[s <= LH_UNKNOWN ? s : LH_UNKNOWN];
}

static lh_state_t lh_state_parse(const char *s)
{
    for (int i = 0; s && i < LH_UNKNOWN; i++)
        if (strcmp(s, lh_state_names[i]) == 0) return (lh_state_t)i;
    return LH_UNKNOWN;
}

void lh_reply_dispose(lh_reply_t *p)
{
    free(p->next_link);
    p->next_link = NULL;
    for (int i = 0; i < p->nlinks; i++)
        free(p->links[i]);
    p->nlinks = 0;
}

static void lh_copy(char *dst, size_t n, const json_t *v)
{
    const char *s = json_string_value(v);
    snprintf(dst, n, "%s", s ? s : "");
    for (char *p = dst; *p; p++) /* one line in logs and bodies */
        if ((unsigned char)*p < ' ') *p = ' ';
}

static int lh_fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "unexpected SQL warehouse response: %s", what);
    return -1;
}

/* Sets r's columns from manifest.schema.columns. */
static int lh_parse_manifest(const json_t *manifest, lh_result_t *r, lh_reply_t *out, char *err,
                             size_t errlen)
{
    const json_t *cols = json_object_get(json_object_get(manifest, "schema"), "columns");
    if (!json_is_array(cols)) return lh_fail(err, errlen, "manifest without schema.columns");
    size_t n = json_array_size(cols);
    if (n > LH_MAX_COLUMNS) return lh_fail(err, errlen, "too many columns");
    out->has_manifest = true;
    json_t *v = json_object_get(manifest, "total_row_count");
    out->total_rows = json_is_integer(v) ? json_integer_value(v) : -1;
    v = json_object_get(manifest, "total_chunk_count");
    out->total_chunks = json_is_integer(v) ? json_integer_value(v) : -1;
    if (!r || r->cols) return 0;
    const char **names = calloc(n + 1, sizeof *names);
    lh_type_t *types = calloc(n + 1, sizeof *types);
    if (!names || !types) abort();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const json_t *c = json_array_get(cols, i);
        names[i] = json_string_value(json_object_get(c, "name"));
        types[i] = lh_type_from_name(json_string_value(json_object_get(c, "type_name")));
        if (!names[i]) rc = lh_fail(err, errlen, "a column without a name");
    }
    if (rc == 0) lh_result_set_columns(r, (int)n, names, types);
    free(names);
    free(types);
    return rc;
}

static int lh_parse_rows(const json_t *rows, lh_result_t *r, char *err, size_t errlen)
{
    if (!json_is_array(rows)) return lh_fail(err, errlen, "data_array is not an array");
    if (json_array_size(rows) == 0) return 0;
    if (!r || !r->cols) return lh_fail(err, errlen, "rows before the manifest");
    int nc = r->ncols;
    const char **vals = calloc((size_t)nc + 1, sizeof *vals);
    size_t *lens = calloc((size_t)nc + 1, sizeof *lens);
    if (!vals || !lens) abort();
    int rc = 0;
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        if (!json_is_array(row) || json_array_size(row) != (size_t)nc) {
            rc = lh_fail(err, errlen, "a row whose width is not the manifest's");
            break;
        }
        for (int c = 0; c < nc && rc == 0; c++) {
            json_t *v = json_array_get(row, (size_t)c);
            if (json_is_null(v)) {
                vals[c] = NULL;
                lens[c] = 0;
            } else if (json_is_string(v)) {
                vals[c] = json_string_value(v);
                lens[c] = json_string_length(v);
            } else {
                rc = lh_fail(err, errlen, "a value that is neither a string nor null");
            }
        }
        if (rc == 0 && lh_result_add_row(r, vals, lens) != 0)
            rc = lh_fail(err, errlen, "result larger than 4 GiB");
        if (rc) break;
    }
    free(vals);
    free(lens);
    return rc;
}

static bool lh_valid_next_link(const char *s)
{
    static const char prefix[] = "/api/2.0/sql/statements/";
    if (strncmp(s, prefix, sizeof prefix - 1) != 0) return false;
    for (const char *p = s; *p; p++) /* a path: no query tricks, no blanks, no dot segments */
        if ((unsigned char)*p <= ' ' || *p == '?' || *p == '#' || *p == '\\' ||
            (p[0] == '.' && p[1] == '.'))
            return false;
    return true;
}

static bool lh_valid_url(const char *s)
{
    if (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) return false;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) return false;
    return true;
}

/* obj's next_chunk_internal_link, unless out has one already; checked before it is kept. */
static int lh_take_next_link(const json_t *obj, lh_reply_t *out, char *err, size_t errlen)
{
    const char *next = json_string_value(json_object_get(obj, "next_chunk_internal_link"));
    if (!next || out->next_link) return 0;
    if (!lh_valid_next_link(next))
        return lh_fail(err, errlen, "a next_chunk_internal_link outside the API");
    out->next_link = strdup(next);
    if (!out->next_link) abort();
    return 0;
}

static int lh_parse_links(const json_t *links, lh_reply_t *out, char *err, size_t errlen)
{
    if (!json_is_array(links)) return lh_fail(err, errlen, "external_links is not an array");
    size_t i;
    json_t *l;
    json_array_foreach(links, i, l)
    {
        const char *url = json_string_value(json_object_get(l, "external_link"));
        if (!url || !lh_valid_url(url)) return lh_fail(err, errlen, "a malformed external_link");
        if (out->nlinks == LH_MAX_LINKS) return lh_fail(err, errlen, "too many external_links");
        out->links[out->nlinks] = strdup(url);
        if (!out->links[out->nlinks]) abort();
        out->nlinks++;
        /* one link per chunk: a link's own next link is the chunk's */
        if (lh_take_next_link(l, out, err, errlen) != 0) return -1;
    }
    return 0;
}

static int lh_parse_chunk(const json_t *res, lh_result_t *r, lh_reply_t *out, char *err,
                          size_t errlen)
{
    if (!json_is_object(res)) return lh_fail(err, errlen, "result is not an object");
    out->has_chunk = true;
    json_t *v = json_object_get(res, "chunk_index");
    out->chunk_index = json_is_integer(v) ? json_integer_value(v) : 0;
    json_t *rows = json_object_get(res, "data_array");
    if (rows && lh_parse_rows(rows, r, err, errlen) != 0) return -1;
    json_t *links = json_object_get(res, "external_links");
    if (links && lh_parse_links(links, out, err, errlen) != 0) return -1;
    return lh_take_next_link(res, out, err, errlen);
}

int lh_parse_reply(const char *body, size_t len, bool chunk_only, lh_result_t *r, lh_reply_t *out,
                   char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->state = LH_UNKNOWN;
    out->total_rows = out->total_chunks = -1;
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return lh_fail(err, errlen, "not a JSON object");
    }
    int rc = 0;
    if (chunk_only) {
        out->state = LH_SUCCEEDED;
        rc = lh_parse_chunk(root, r, out, err, errlen);
    } else {
        lh_copy(out->statement_id, sizeof out->statement_id, json_object_get(root, "statement_id"));
        const json_t *status = json_object_get(root, "status");
        out->state = lh_state_parse(json_string_value(json_object_get(status, "state")));
        const json_t *e = json_object_get(status, "error");
        lh_copy(out->error_code, sizeof out->error_code, json_object_get(e, "error_code"));
        lh_copy(out->message, sizeof out->message, json_object_get(e, "message"));
        if (out->state == LH_UNKNOWN) rc = lh_fail(err, errlen, "no known status.state");
        const json_t *manifest = json_object_get(root, "manifest");
        if (rc == 0 && out->state == LH_SUCCEEDED && manifest)
            rc = lh_parse_manifest(manifest, r, out, err, errlen);
        const json_t *res = json_object_get(root, "result");
        if (rc == 0 && out->state == LH_SUCCEEDED && res)
            rc = lh_parse_chunk(res, r, out, err, errlen);
    }
    json_decref(root);
    if (rc != 0) lh_reply_dispose(out);
    return rc;
}

void lh_parse_warehouse_state(const char *body, size_t len, char *state, size_t n)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    lh_copy(state, n, json_object_get(root, "state"));
    json_decref(root);
}

bool lh_valid_name(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n > 0 && n <= 128;
}

bool lh_warehouse_from_http_path(const char *path, char *id, size_t n)
{
    static const char *const prefixes[] = {"/sql/1.0/warehouses/", "/sql/1.0/endpoints/"};
    for (size_t i = 0; path && i < 2; i++) {
        size_t pl = strlen(prefixes[i]);
        if (strncmp(path, prefixes[i], pl) != 0) continue;
        char tmp[160];
        snprintf(tmp, sizeof tmp, "%s", path + pl);
        size_t tl = strlen(tmp);
        while (tl > 0 && tmp[tl - 1] == '/')
            tmp[--tl] = '\0';
        if (!lh_valid_name(tmp)) return false;
        snprintf(id, n, "%s", tmp);
        return true;
    }
    return false;
}
