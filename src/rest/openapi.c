/*
 * rest/openapi - the OpenAPI 3.1 description of every table and view of the
 * current snapshot, added to the same /openapi.json (web_openapi extension)
 * and rebuilt on every schema reload: a path per relation with GET (and,
 * for tables, POST/PATCH/DELETE), its filter parameters (one per column, in
 * PostgREST's operator grammar), select/order/limit/offset, the Prefer,
 * Range and profile headers, and a row schema with the column types and the
 * required fields (NOT NULL without a default).
 */
#include <jansson.h>
#include <string.h>

#include "rest/rest.h"

#define OA_FILTER_DOC                                                                              \
    "Filter on this column: op.value with op one of eq, neq, gt, gte, lt, lte, like, ilike, "      \
    "match, imatch, in.(a,b), is.null|not_null|true|false, isdistinct, cs, cd, ov, sl, sr, nxr, "  \
    "nxl, adj, fts, plfts, phfts, wfts; prefix not. to negate; eq(any).{a,b} / eq(all).{a,b}"

static json_t *oa_scalar(const rest_column_t *c)
{
    const char *t = c->typname;
    if (!strcmp(t, "int2") || !strcmp(t, "int4"))
        return json_pack("{s:s,s:s}", "type", "integer", "format", "int32");
    if (!strcmp(t, "int8")) return json_pack("{s:s,s:s}", "type", "integer", "format", "int64");
    if (!strcmp(t, "numeric") || !strcmp(t, "float4") || !strcmp(t, "float8") ||
        !strcmp(t, "money"))
        return json_pack("{s:s}", "type", "number");
    if (!strcmp(t, "bool")) return json_pack("{s:s}", "type", "boolean");
    if (!strcmp(t, "json") || !strcmp(t, "jsonb")) return json_object();
    if (!strcmp(t, "date")) return json_pack("{s:s,s:s}", "type", "string", "format", "date");
    if (!strcmp(t, "timestamp") || !strcmp(t, "timestamptz"))
        return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    if (!strcmp(t, "uuid")) return json_pack("{s:s,s:s}", "type", "string", "format", "uuid");
    return json_pack("{s:s}", "type", "string");
}

static json_t *oa_column(const rest_column_t *c)
{
    json_t *s = oa_scalar(c);
    if (c->is_array) s = json_pack("{s:s,s:o}", "type", "array", "items", s);
    if (c->nullable) {
        json_t *type = json_object_get(s, "type");
        if (type) {
            json_object_set_new(s, "type", json_pack("[O,s]", type, "null"));
        }
    }
    json_object_set_new(s, "description", json_string(c->description ? c->description : c->type));
    if (c->in_pk) json_object_set_new(s, "x-primary-key", json_true());
    return s;
}

static json_t *oa_row_schema(const rest_table_t *t)
{
    json_t *props = json_object(), *req = json_array();
    for (int i = 0; i < t->ncols; i++) {
        const rest_column_t *c = &t->cols[i];
        json_object_set_new(props, c->name, oa_column(c));
        if (!c->nullable && !c->has_default) json_array_append_new(req, json_string(c->name));
    }
    json_t *s = json_pack("{s:s,s:o,s:o}", "type", "object", "properties", props, "required", req);
    if (t->description) json_object_set_new(s, "description", json_string(t->description));
    return s;
}

static json_t *oa_param(const char *name, const char *in, const char *desc)
{
    return json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", name, "in", in, "description", desc, "schema",
                     "type", "string");
}

static json_t *oa_params(const rest_table_t *t, bool read)
{
    json_t *p = json_array();
    for (int i = 0; i < t->ncols; i++)
        json_array_append_new(p, oa_param(t->cols[i].name, "query", OA_FILTER_DOC));
    json_array_append_new(p, oa_param("or", "query", "Logic tree: (a.eq.1,and(b.gt.2,c.is.null))"));
    json_array_append_new(p, oa_param("and", "query", "Logic tree, as or"));
    json_array_append_new(
        p, oa_param("select", "query",
                    "Columns: a,alias:b,c::text,d->k->>j,*,rel(cols),alias:rel!fk!inner(*)"));
    json_array_append_new(
        p, oa_param("Prefer", "header",
                    read ? "count=exact|planned|estimated"
                         : "return=minimal|headers-only|representation, "
                           "resolution=merge-duplicates|ignore-duplicates, "
                           "tx=commit|rollback, max-affected=N, handling=strict|lenient"));
    json_array_append_new(p, oa_param(read ? "Accept-Profile" : "Content-Profile", "header",
                                      "The schema (one of LAKEAPI_SCHEMAS)"));
    if (read) {
        json_array_append_new(p,
                              oa_param("order", "query", "col.asc|desc.nullsfirst|nullslast,..."));
        json_array_append_new(
            p, oa_param("limit", "query", "At most this many rows (DB_MAX_ROWS caps it)"));
        json_array_append_new(p, oa_param("offset", "query", "Skip this many rows"));
        json_array_append_new(p,
                              oa_param("Range", "header", "Rows as 0-24 (with Range-Unit: items)"));
    } else {
        json_array_append_new(p, oa_param("columns", "query", "The body's columns (POST)"));
        json_array_append_new(p, oa_param("on_conflict", "query", "Upsert conflict target (POST)"));
    }
    return p;
}

static json_t *oa_error_responses(json_t *ok)
{
    json_t *err = json_pack("{s:s,s:{s:{s:{s:s}}}}", "description",
                            "PostgREST error {code, message, details, hint}", "content",
                            "application/json", "schema", "$ref", WEB_OPENAPI_REF "RestError");
    json_t *r = json_object();
    json_object_set_new(r, "2XX", ok);
    json_object_set_new(r, "4XX", err);
    json_object_set_new(r, "5XX", json_deep_copy(err));
    return r;
}

static json_t *oa_op(const char *id, const char *summary, json_t *params, const char *ref,
                     bool body, const char *ok)
{
    json_t *rows = json_pack("{s:s,s:{s:s}}", "type", "array", "items", "$ref", ref);
    json_t *okr = json_pack("{s:s,s:{s:{s:o}}}", "description", ok, "content", "application/json",
                            "schema", rows);
    json_t *op = json_pack("{s:s,s:s,s:[s],s:o,s:o}", "operationId", id, "summary", summary, "tags",
                           "Data API", "parameters", params, "responses", oa_error_responses(okr));
    if (body)
        json_object_set_new(op, "requestBody",
                            json_pack("{s:{s:{s:{s:[{s:s},{s:s,s:{s:s}}]}}}}", "content",
                                      "application/json", "schema", "oneOf", "$ref", ref, "type",
                                      "array", "items", "$ref", ref));
    return op;
}

static void oa_table(json_t *paths, json_t *schemas, const char *prefix, const rest_table_t *t,
                     bool first_schema)
{
    char name[512], path[512], id[600];
    snprintf(name, sizeof name, "%s.%s", t->schema, t->name);
    snprintf(path, sizeof path, "%s/%s", strcmp(prefix, "/") ? prefix : "", t->name);
    json_object_set_new(schemas, name, oa_row_schema(t));
    char ref[600];
    snprintf(ref, sizeof ref, WEB_OPENAPI_REF "%s", name);
    /* the same name in a second schema is the same path with another profile header */
    if (!first_schema && json_object_get(paths, path)) return;
    json_t *item = json_object();
    snprintf(id, sizeof id, "rest_get_%s_%s", t->schema, t->name);
    json_object_set_new(item, "get",
                        oa_op(id, "Read rows (PostgREST grammar)", oa_params(t, true), ref, false,
                              "The rows (206 when partial, with Content-Range)"));
    if (t->kind == 'r' || t->kind == 'p' || t->kind == 'f') {
        snprintf(id, sizeof id, "rest_post_%s_%s", t->schema, t->name);
        json_object_set_new(item, "post",
                            oa_op(id, "Insert one row or many; upsert with resolution",
                                  oa_params(t, false), ref, true, "Created"));
        snprintf(id, sizeof id, "rest_patch_%s_%s", t->schema, t->name);
        json_object_set_new(
            item, "patch",
            oa_op(id, "Update the filtered rows", oa_params(t, false), ref, true, "Updated"));
        snprintf(id, sizeof id, "rest_delete_%s_%s", t->schema, t->name);
        json_object_set_new(
            item, "delete",
            oa_op(id, "Delete the filtered rows", oa_params(t, false), ref, false, "Deleted"));
        if (t->npk) {
            snprintf(id, sizeof id, "rest_put_%s_%s", t->schema, t->name);
            json_object_set_new(item, "put",
                                oa_op(id, "Upsert one row by its primary key (eq filters)",
                                      oa_params(t, false), ref, true, "Upserted"));
        }
    }
    json_object_set_new(paths, path, item);
}

int rest_openapi_extend(json_t *root, void *data)
{
    rest_app_t *app = data;
    json_t *paths = json_object_get(root, "paths");
    json_t *schemas = json_object_get(json_object_get(root, "components"), "schemas");
    if (!paths || !schemas) return -1;
    json_object_del(paths, app->pattern); /* the generic route: the tables below replace it */
    json_t *tags = json_object_get(root, "tags");
    for (size_t i = 0; i < json_array_size(tags); i++)
        if (!strcmp(json_string_value(json_object_get(json_array_get(tags, i), "name")), "default"))
            json_array_remove(tags, i--);
    json_array_append_new(
        tags, json_pack("{s:s,s:s}", "name", "Data API", "description",
                        "Every table and view of LAKEAPI_SCHEMAS in PostgREST's grammar"));
    json_object_set_new(schemas, "RestError",
                        json_pack("{s:s,s:{s:{s:s},s:{s:[s,s]},s:{s:[s,s]},s:{s:s}},s:[s,s,s,s]}",
                                  "type", "object", "properties", "code", "type", "string",
                                  "details", "type", "string", "null", "hint", "type", "string",
                                  "null", "message", "type", "string", "required", "code",
                                  "details", "hint", "message"));
    const rest_snapshot_t *s = app->snap;
    for (int i = 0; s && i < s->ntables; i++)
        oa_table(paths, schemas, app->prefix, &s->tables[i],
                 !strcmp(s->tables[i].schema, s->schemas[0]));
    return 0;
}
