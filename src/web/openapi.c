/*
 * openapi - the OpenAPI 3.1 document at /openapi.json.
 *
 * Built once at startup from what the router actually serves: every route
 * (router_at), its methods, and the api_route_doc_t the resource file
 * registered with it - the same api_param_t declarations that validate
 * requests give the parameters' types, defaults and bounds, so the document
 * cannot drift from behaviour. Routes without docs still appear, with their
 * path parameters and a minimal response.
 *
 * Response and body schemas are named in the route docs and defined here:
 * the row schemas (Order, User, Note) are generated from the table
 * descriptors the encoders use, the envelopes are fixed JSON text below. A
 * name referenced but not defined is a build error (api_openapi_build returns
 * -1 naming it), which the unit test turns into a failure.
 *
 * The document is serialised once; the handler only copies the cached bytes.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define OPENAPI_REF_PREFIX "#/components/schemas/"

/* ---- fixed schemas (JSON text, checked by the unit test) ---- */

typedef struct openapi_schema {
    const char *name;
    const char *json;
} openapi_schema_t;

static const openapi_schema_t openapi_fixed[] = {
    {"HTTPError", "{\"type\":\"object\",\"title\":\"HTTPError\",\"required\":[\"detail\"],"
                  "\"properties\":{\"detail\":{\"type\":\"string\",\"title\":\"Detail\"}}}"},
    {"ValidationError",
     "{\"type\":\"object\",\"title\":\"ValidationError\",\"required\":[\"loc\",\"msg\",\"type\"],"
     "\"properties\":{\"loc\":{\"type\":\"array\",\"title\":\"Location\",\"items\":{\"anyOf\":["
     "{\"type\":\"string\"},{\"type\":\"integer\"}]}},\"msg\":{\"type\":\"string\",\"title\":"
     "\"Message\"},\"type\":{\"type\":\"string\",\"title\":\"Error Type\"},\"input\":{\"title\":"
     "\"Input\"},\"ctx\":{\"type\":\"object\",\"title\":\"Context\"}}}"},
    {"HTTPValidationError",
     "{\"type\":\"object\",\"title\":\"HTTPValidationError\",\"properties\":{\"detail\":{"
     "\"type\":\"array\",\"title\":\"Detail\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX
     "ValidationError\"}}}}"},
    /* ---- ops ---- */
    {"Message",
     "{\"type\":\"object\",\"required\":[\"message\"],\"properties\":{\"message\":{\"type\":"
     "\"string\",\"examples\":[\"Hello Lakehouse\"]}}}"},
    {"HealthCheck",
     "{\"type\":\"object\",\"required\":[\"status\",\"timestamp\"],\"properties\":{\"status\":"
     "{\"type\":\"string\",\"const\":\"OK\"},\"timestamp\":{\"type\":\"string\",\"format\":"
     "\"date-time\"}}}"},
    {"Liveness",
     "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{\"type\":"
     "\"string\",\"const\":\"alive\"}}}"},
    {"Readiness",
     "{\"type\":\"object\",\"required\":[\"status\"],\"properties\":{\"status\":{\"type\":"
     "\"string\",\"enum\":[\"ready\",\"unavailable\"]},\"detail\":{\"type\":\"string\","
     "\"description\":\"Why the server is not ready\"}}}"},
    /* ---- orders ---- */
    {"OrderCount",
     "{\"type\":\"object\",\"required\":[\"total_orders\"],\"properties\":{\"total_orders\":"
     "{\"type\":\"integer\",\"minimum\":0}}}"},
    {"OrderSample",
     "{\"type\":\"object\",\"required\":[\"sample_order_keys\"],\"properties\":{"
     "\"sample_order_keys\":{\"type\":\"array\",\"items\":{\"type\":\"integer\"},\"maxItems\":5}"
     "}}"},
    {"PaginationInfo",
     "{\"type\":\"object\",\"required\":[\"page\",\"page_size\",\"total_pages\",\"total_count\","
     "\"has_next\",\"has_previous\"],\"properties\":{\"page\":{\"type\":\"integer\"},"
     "\"page_size\":{\"type\":\"integer\"},\"total_pages\":{\"type\":\"integer\",\"description\":"
     "\"-1 when include_count=false\"},\"total_count\":{\"type\":\"integer\",\"description\":"
     "\"-1 when include_count=false\"},\"has_next\":{\"type\":\"boolean\"},\"has_previous\":{"
     "\"type\":\"boolean\"}}}"},
    {"OrderListResponse",
     "{\"type\":\"object\",\"required\":[\"orders\",\"pagination\"],\"properties\":{\"orders\":"
     "{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX "Order\"}},\"pagination\":"
     "{\"$ref\":\"" OPENAPI_REF_PREFIX "PaginationInfo\"}}}"},
    {"CursorPaginationInfo",
     "{\"type\":\"object\",\"required\":[\"page_size\",\"has_next\",\"has_previous\","
     "\"next_cursor\",\"previous_cursor\"],\"properties\":{\"page_size\":{\"type\":\"integer\"},"
     "\"has_next\":{\"type\":\"boolean\"},\"has_previous\":{\"type\":\"boolean\"},"
     "\"next_cursor\":{\"type\":[\"integer\",\"null\"],\"description\":\"Last key returned when "
     "has_next\"},\"previous_cursor\":{\"type\":[\"integer\",\"null\"],\"description\":\"The "
     "cursor whose page is the previous one; null on the first page\"}}}"},
    {"OrderListCursorResponse",
     "{\"type\":\"object\",\"required\":[\"orders\",\"pagination\"],\"properties\":{\"orders\":"
     "{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX "Order\"}},\"pagination\":"
     "{\"$ref\":\"" OPENAPI_REF_PREFIX "CursorPaginationInfo\"}}}"},
    {"OrderStatusUpdate",
     "{\"type\":\"object\",\"required\":[\"o_orderstatus\"],\"properties\":{\"o_orderstatus\":"
     "{\"type\":\"string\",\"pattern\":\"^[A-Z]$\",\"minLength\":1,\"maxLength\":1,"
     "\"examples\":[\"F\"]}}}"},
    {"OrderStatusUpdateResponse",
     "{\"type\":\"object\",\"required\":[\"o_orderkey\",\"o_orderstatus\",\"message\"],"
     "\"properties\":{\"o_orderkey\":{\"type\":\"integer\"},\"o_orderstatus\":{\"type\":"
     "\"string\"},\"message\":{\"type\":\"string\"}}}"},
    /* ---- users ---- */
    {"UserList", "{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX "User\"}}"},
    {"UserWrite",
     "{\"type\":\"object\",\"additionalProperties\":false,\"description\":\"Every field is "
     "optional; null stores NULL; unknown fields are rejected.\",\"properties\":{"
     "\"first_name\":{\"type\":[\"string\",\"null\"],\"maxLength\":255},"
     "\"last_name\":{\"type\":[\"string\",\"null\"],\"maxLength\":255},"
     "\"email\":{\"type\":[\"string\",\"null\"],\"format\":\"email\",\"maxLength\":255},"
     "\"address\":{\"type\":[\"string\",\"null\"],\"maxLength\":1000},"
     "\"ip_address\":{\"type\":[\"string\",\"null\"],\"description\":\"An IPv4 or IPv6 "
     "address\"}}}"},
    {"UserId",
     "{\"type\":\"object\",\"required\":[\"user_id\"],\"properties\":{\"user_id\":{\"type\":"
     "\"integer\"}}}"},
    {"UserDeleted",
     "{\"type\":\"object\",\"required\":[\"user_id\",\"msg\"],\"properties\":{\"user_id\":{"
     "\"type\":\"integer\"},\"msg\":{\"type\":\"string\",\"const\":\"record deleted\"}}}"},
    /* ---- notes ---- */
    {"NoteList", "{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX "Note\"}}"},
    {"NoteCreate",
     "{\"type\":\"object\",\"required\":[\"content\"],\"additionalProperties\":false,"
     "\"properties\":{\"content\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":10000}}}"},
    /* ---- Lakebase resources (resources.c) ---- */
    {"LakebaseResourceError",
     "{\"type\":\"object\",\"required\":[\"operation\",\"http_status\",\"error_code\",\"message\","
     "\"detail\"],\"properties\":{\"operation\":{\"type\":\"string\",\"enum\":[\"lookup\","
     "\"create\",\"poll\",\"wait\",\"delete\"]},\"http_status\":{\"type\":[\"integer\",\"null\"],"
     "\"description\":\"The Databricks API's HTTP status; null when no answer came\"},"
     "\"error_code\":{\"type\":[\"string\",\"null\"],\"examples\":[\"PERMISSION_DENIED\"]},"
     "\"message\":{\"type\":\"string\"},\"detail\":{\"type\":\"string\",\"description\":\"The "
     "failed call in one line\"}}}"},
    {"LakebaseResourceStep",
     "{\"type\":\"object\",\"required\":[\"resource\",\"name\",\"state\",\"existed\","
     "\"remote_state\",\"error\"],\"properties\":{\"resource\":{\"type\":\"string\",\"enum\":["
     "\"database_instance\",\"database_catalog\",\"synced_table\"]},\"name\":{\"type\":"
     "\"string\"},\"state\":{\"type\":\"string\",\"enum\":[\"pending\",\"checking\","
     "\"to_create\",\"creating\",\"provisioning\",\"ready\",\"failed\",\"skipped\"]},"
     "\"existed\":{\"type\":\"boolean\",\"description\":\"Found by the lookup, so not created "
     "by this job\"},\"remote_state\":{\"type\":[\"string\",\"null\"],\"description\":\"The "
     "instance's state or the synced table's detailed_state\"},\"host\":{\"type\":[\"string\","
     "\"null\"],\"description\":\"Database instance: its read_write_dns\"},\"pipeline_id\":{"
     "\"type\":[\"string\",\"null\"],\"description\":\"Synced table: "
     "data_synchronization_status.pipeline_id\"},\"error\":{\"anyOf\":[{\"$ref\":"
     "\"" OPENAPI_REF_PREFIX "LakebaseResourceError\"},{\"type\":\"null\"}]}}}"},
    {"LakebaseResourcesResponse",
     "{\"type\":\"object\",\"required\":[\"instance\",\"catalog\",\"synced_table\",\"message\","
     "\"state\",\"steps\"],\"properties\":{\"instance\":{\"type\":\"string\"},\"catalog\":{"
     "\"type\":\"string\"},\"synced_table\":{\"type\":\"string\",\"description\":\"The synced "
     "table's pipeline id once known, else empty\"},\"message\":{\"type\":\"string\"},"
     "\"state\":{\"type\":\"string\",\"enum\":[\"idle\",\"checking\",\"running\",\"done\","
     "\"failed\",\"cancelled\"]},\"started_at\":{\"type\":[\"string\",\"null\"],\"format\":"
     "\"date-time\"},\"finished_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"
     "\"steps\":{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX
     "LakebaseResourceStep\"}}}}"},
    {"LakebaseDeleteStep",
     "{\"type\":\"object\",\"required\":[\"resource\",\"name\",\"result\",\"error\"],"
     "\"properties\":{\"resource\":{\"type\":\"string\",\"enum\":[\"synced_table\","
     "\"database_catalog\",\"database_instance\"]},\"name\":{\"type\":\"string\"},\"result\":{"
     "\"type\":\"string\",\"enum\":[\"deleted\",\"not_found\",\"failed\"]},\"error\":{\"anyOf\":["
     "{\"$ref\":\"" OPENAPI_REF_PREFIX "LakebaseResourceError\"},{\"type\":\"null\"}]}}}"},
    {"LakebaseResourcesDeleteResponse",
     "{\"type\":\"object\",\"required\":[\"deleted_resources\",\"failed_deletions\",\"message\"],"
     "\"properties\":{\"deleted_resources\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"failed_deletions\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
     "\"not_found_resources\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"message\":{"
     "\"type\":\"string\"},\"steps\":{\"type\":\"array\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX
     "LakebaseDeleteStep\"}}}}"},
    {"LakebaseError",
     "{\"type\":\"object\",\"required\":[\"detail\"],\"properties\":{\"detail\":{\"type\":"
     "\"string\"},\"error\":{\"anyOf\":[{\"$ref\":\"" OPENAPI_REF_PREFIX "LakebaseResourceError\"},"
     "{\"type\":\"null\"}]}}}"},
};

/* ---- generated schemas: rows, from the table descriptors ---- */

static json_t *openapi_col_schema(api_col_kind_t kind)
{
    switch (kind) {
    case API_COL_INT:
        return json_pack("{s:s}", "type", "integer");
    case API_COL_NUMBER:
        return json_pack("{s:s}", "type", "number");
    case API_COL_DATE:
        return json_pack("{s:s,s:s}", "type", "string", "format", "date");
    case API_COL_TIMESTAMP:
        return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    case API_COL_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case API_COL_TEXT:
    default:
        return json_pack("{s:s}", "type", "string");
    }
}

/*
 * A row object with every column required; in a nullable table every
 * column but the key may be null, typed [T, "null"].
 */
static json_t *openapi_row_schema(const api_table_t *t, const char *title, bool nullable)
{
    json_t *props = json_object(), *req = json_array();
    for (int i = 0; i < t->ncols; i++) {
        json_t *s = openapi_col_schema(t->cols[i].kind);
        bool is_key = t->key && strcmp(t->cols[i].name, t->key) == 0;
        if (nullable && !is_key) {
            json_t *type = json_object_get(s, "type");
            json_object_set_new(s, "type", json_pack("[O,s]", type, "null"));
        }
        json_object_set_new(props, t->cols[i].name, s);
        json_array_append_new(req, json_string(t->cols[i].name));
    }
    return json_pack("{s:s,s:s,s:o,s:o}", "type", "object", "title", title, "required", req,
                     "properties", props);
}

/* The table behind a generated schema name, or NULL when the name is not a row schema. */
static const api_table_t *openapi_row_table(const api_app_t *app, const char *name, bool *nullable)
{
    *nullable = false;
    if (!strcmp(name, "Order") || !strcmp(name, "OrderRead")) return &app->orders;
    if (!strcmp(name, "Note") || !strcmp(name, "NoteRead")) return &app->notes;
    *nullable = true; /* every users column but the key may be NULL */
    if (!strcmp(name, "User")) return &app->users;
    return NULL;
}

/* The schema called name, a new reference; NULL when unknown. */
static json_t *openapi_schema(const api_app_t *app, const char *name)
{
    bool nullable;
    const api_table_t *t = openapi_row_table(app, name, &nullable);
    if (t) return t->ncols > 0 ? openapi_row_schema(t, name, nullable) : NULL;
    for (size_t i = 0; i < sizeof openapi_fixed / sizeof openapi_fixed[0]; i++) {
        if (strcmp(openapi_fixed[i].name, name) == 0)
            return json_loads(openapi_fixed[i].json, 0, NULL);
    }
    return NULL;
}

/* ---- the builder ---- */

typedef struct openapi_builder {
    const api_app_t *app;
    json_t *root, *paths, *tags, *schemas;
    json_t *wanted; /* object: schema names referenced so far (values unused) */
    json_t *op_ids; /* object: operation ids used so far */
    char err[256];
} openapi_builder_t;

static json_t *openapi_ref(openapi_builder_t *b, const char *name)
{
    json_object_set_new(b->wanted, name, json_true());
    char ref[160];
    snprintf(ref, sizeof ref, OPENAPI_REF_PREFIX "%s", name);
    return json_pack("{s:s}", "$ref", ref);
}

/* "/a/{k:int}/b" -> "/a/{k}/b" */
static void openapi_path(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    bool in_param = false, skip = false;
    for (const char *p = pattern; *p && o + 1 < n; p++) {
        if (*p == '{') in_param = true, skip = false;
        if (in_param && *p == ':') skip = true;
        if (*p == '}') in_param = false, skip = false;
        if (!skip) out[o++] = *p;
    }
    out[o] = '\0';
}

static json_t *openapi_param_schema(const api_param_t *p)
{
    json_t *s;
    switch (p->type) {
    case API_PARAM_INT:
        s = json_pack("{s:s}", "type", "integer");
        if (!p->required) json_object_set_new(s, "default", json_integer(p->rule.def));
        if (p->rule.has_min) json_object_set_new(s, "minimum", json_integer(p->rule.min));
        if (p->rule.has_max) json_object_set_new(s, "maximum", json_integer(p->rule.max));
        return s;
    case API_PARAM_BOOL:
        s = json_pack("{s:s}", "type", "boolean");
        if (!p->required) json_object_set_new(s, "default", json_boolean(p->bool_default));
        return s;
    case API_PARAM_STRING:
    default:
        s = json_pack("{s:s}", "type", "string");
        if (p->max_length > 0) json_object_set_new(s, "maxLength", json_integer(p->max_length));
        if (p->choices) {
            json_t *e = json_array();
            for (const char *const *c = p->choices; *c; c++)
                json_array_append_new(e, json_string(*c));
            json_object_set_new(s, "enum", e);
        }
        if (p->str_default && !p->required)
            json_object_set_new(s, "default", json_string(p->str_default));
        return s;
    }
}

static json_t *openapi_param(const api_param_t *p)
{
    bool path = strcmp(p->in, "path") == 0;
    json_t *o = json_pack("{s:s,s:s,s:b,s:o}", "name", p->name, "in", p->in, "required",
                          path || p->required, "schema", openapi_param_schema(p));
    if (p->description) json_object_set_new(o, "description", json_string(p->description));
    return o;
}

static bool openapi_has_param(json_t *params, const char *name, const char *in)
{
    size_t i;
    json_t *v;
    json_array_foreach(params, i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "name")), name) &&
            !strcmp(json_string_value(json_object_get(v, "in")), in))
            return true;
    }
    return false;
}

/* Path parameters the docs did not declare, from the pattern ("{k:int}" -> integer). */
static void openapi_pattern_params(const char *pattern, json_t *params)
{
    for (const char *p = strchr(pattern, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        if (!end) return;
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *name_end = colon ? colon : end;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(name_end - p - 1), p + 1);
        if (openapi_has_param(params, name, "path")) continue;
        bool is_int = colon && end - colon == 4 && !strncmp(colon + 1, "int", 3);
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", name, "in", "path",
                                                "required", 1, "schema", "type",
                                                is_int ? "integer" : "string"));
    }
}

static json_t *openapi_content(openapi_builder_t *b, const api_response_doc_t *r)
{
    if (!r->schema) return NULL; /* no body */
    if (strchr(r->schema, '/'))  /* a media type: not JSON, described as text */
        return json_pack("{s:{s:{s:s}}}", r->schema, "schema", "type",
                         strstr(r->schema, "json") ? "object" : "string");
    return json_pack("{s:{s:o}}", "application/json", "schema", openapi_ref(b, r->schema));
}

static json_t *openapi_responses(openapi_builder_t *b, const api_route_doc_t *doc)
{
    json_t *out = json_object();
    for (const api_response_doc_t *r = doc ? doc->responses : NULL; r && r->status; r++) {
        char code[8];
        snprintf(code, sizeof code, "%d", r->status);
        json_t *o = json_pack("{s:s}", "description", r->description ? r->description : "");
        json_t *content = openapi_content(b, r);
        if (content) json_object_set_new(o, "content", content);
        json_object_set_new(out, code, o);
    }
    if (json_object_size(out) == 0)
        json_object_set_new(out, "200", json_pack("{s:s}", "description", "Successful Response"));
    return out;
}

/* operationIds must be unique: a second use gets the method, then a number. */
static void openapi_op_id(openapi_builder_t *b, const char *base, const char *method, char *out,
                          size_t n)
{
    snprintf(out, n, "%s", base);
    for (int k = 1; json_object_get(b->op_ids, out); k++) {
        if (k == 1)
            snprintf(out, n, "%s_%s", base, method);
        else
            snprintf(out, n, "%s_%s_%d", base, method, k);
    }
    json_object_set_new(b->op_ids, out, json_true());
}

/* "get" + "/docs/{file}" -> "get_docs_file" for routes without docs. */
static void openapi_default_id(const char *method, const char *path, char *out, size_t n)
{
    size_t o = (size_t)snprintf(out, n, "%s", method);
    bool sep = true;
    for (const char *p = path; *p && o + 2 < n; p++) {
        char c = *p;
        bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (alnum) {
            if (sep) out[o++] = '_';
            out[o++] = c;
            sep = false;
        } else {
            sep = true;
        }
    }
    out[o] = '\0';
    if (strcmp(out, method) == 0) snprintf(out, n, "%s_root", method);
}

static const char *openapi_tag_description(const char *tag)
{
    static const struct {
        const char *tag, *text;
    } known[] = {
        {"orders", "The TPC-H ORDERS table: count, sample, pages, cursor pages, get, status"},
        {"users", "Users CRUD and a bounded users list"},
        {"notes", "Short notes, newest first"},
        {"ops", "Health, readiness, metrics and this documentation"},
        {"resources", "Lakebase resources (instance, catalog, synced table) lifecycle"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcmp(known[i].tag, tag)) return known[i].text;
    return "Other routes";
}

static void openapi_tag(openapi_builder_t *b, const char *tag)
{
    size_t i;
    json_t *v;
    json_array_foreach(b->tags, i, v)
    {
        if (!strcmp(json_string_value(json_object_get(v, "name")), tag)) return;
    }
    json_array_append_new(
        b->tags, json_pack("{s:s,s:s}", "name", tag, "description", openapi_tag_description(tag)));
}

static json_t *openapi_operation(openapi_builder_t *b, const route_t *rt, const char *method,
                                 const char *path)
{
    const api_route_doc_t *doc = rt->doc;
    json_t *op = json_object();
    char id[160];
    if (doc && doc->operation_id) {
        openapi_op_id(b, doc->operation_id, method, id, sizeof id);
    } else {
        char base[160];
        openapi_default_id(method, path, base, sizeof base);
        openapi_op_id(b, base, method, id, sizeof id);
    }
    const char *tag = doc && doc->tag ? doc->tag : "default";
    openapi_tag(b, tag);
    json_object_set_new(op, "tags", json_pack("[s]", tag));
    json_object_set_new(op, "summary", json_string(doc && doc->summary ? doc->summary : path));
    json_object_set_new(op, "operationId", json_string(id));
    json_t *params = json_array();
    for (const api_param_t *const *p = doc ? doc->params : NULL; p && *p; p++)
        json_array_append_new(params, openapi_param(*p));
    openapi_pattern_params(rt->pattern, params);
    if (json_array_size(params))
        json_object_set_new(op, "parameters", params);
    else
        json_decref(params);
    if (doc && doc->body_schema) {
        json_object_set_new(op, "requestBody",
                            json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                      "application/json", "schema",
                                      openapi_ref(b, doc->body_schema)));
    }
    json_object_set_new(op, "responses", openapi_responses(b, doc));
    return op;
}

static void openapi_add_route(openapi_builder_t *b, const route_t *rt)
{
    static const struct {
        http_method_t m;
        const char *name;
    } methods[] = {{HTTP_GET, "get"},       {HTTP_POST, "post"},   {HTTP_PUT, "put"},
                   {HTTP_DELETE, "delete"}, {HTTP_PATCH, "patch"}, {HTTP_OPTIONS, "options"}};
    char path[512];
    openapi_path(rt->pattern, path, sizeof path);
    json_t *item = json_object_get(b->paths, path);
    if (!item) {
        item = json_object();
        json_object_set_new(b->paths, path, item);
    }
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        if (!(rt->methods & methods[i].m) || json_object_get(item, methods[i].name)) continue;
        json_object_set_new(item, methods[i].name, openapi_operation(b, rt, methods[i].name, path));
    }
}

/* Adds every wanted schema, and the ones they reference, to components/schemas. */
static void openapi_collect_refs(json_t *v, json_t *wanted)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            const char *s = json_string_value(x);
            if (!strcmp(k, "$ref") && s &&
                !strncmp(s, OPENAPI_REF_PREFIX, strlen(OPENAPI_REF_PREFIX)))
                json_object_set_new(wanted, s + strlen(OPENAPI_REF_PREFIX), json_true());
            else
                openapi_collect_refs(x, wanted);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) openapi_collect_refs(x, wanted);
    }
}

static int openapi_resolve_schemas(openapi_builder_t *b)
{
    int rc = 0;
    for (bool added = true; added;) {
        added = false;
        /* Names found inside schemas go to a side object: b->wanted must not grow while
         * it is being iterated. */
        json_t *found = json_object();
        const char *name;
        json_t *v;
        json_object_foreach(b->wanted, name, v)
        {
            if (json_object_get(b->schemas, name)) continue;
            json_t *s = openapi_schema(b->app, name);
            if (!s) {
                if (rc == 0) snprintf(b->err, sizeof b->err, "OpenAPI: unknown schema '%s'", name);
                rc = -1;
                s = json_pack("{s:s}", "description", "unknown schema");
            }
            openapi_collect_refs(s, found);
            json_object_set_new(b->schemas, name, s);
            added = true;
        }
        json_object_update(b->wanted, found);
        json_decref(found);
    }
    return rc;
}

int api_openapi_build(const api_app_t *app, const router_t *r, char **out, size_t *len, char *err,
                      size_t errlen)
{
    openapi_builder_t b = {.app = app};
    b.paths = json_object();
    b.tags = json_array();
    b.schemas = json_object();
    b.wanted = json_object();
    b.op_ids = json_object();
    for (int i = 0; i < router_count(r); i++)
        openapi_add_route(&b, router_at(r, i));
    int rc = openapi_resolve_schemas(&b);
    /* The operational routes come first in the router but last on the Swagger UI page. */
    for (size_t i = 0; i < json_array_size(b.tags); i++) {
        json_t *t = json_array_get(b.tags, i);
        if (strcmp(json_string_value(json_object_get(t, "name")), "ops") != 0) continue;
        json_array_append(b.tags, t);
        json_array_remove(b.tags, i);
        break;
    }
    b.root =
        json_pack("{s:s,s:{s:s,s:s,s:s},s:[{s:s}],s:o,s:o,s:{s:o}}", "openapi", "3.1.0", "info",
                  "title", "lakeapi", "version", LAKEAPI_VERSION, "description",
                  "A low-latency HTTP/JSON data-product API over PostgreSQL (Databricks Lakebase).",
                  "servers", "url", "/", "tags", b.tags, "paths", b.paths, "components", "schemas",
                  b.schemas);
    json_decref(b.wanted);
    json_decref(b.op_ids);
    char *text = json_dumps(b.root, JSON_COMPACT);
    json_decref(b.root);
    if (!text) {
        snprintf(err, errlen, "OpenAPI: out of memory");
        return -1;
    }
    *out = text;
    *len = strlen(text);
    if (rc != 0) snprintf(err, errlen, "%s", b.err);
    return rc;
}

void api_openapi_handler(http_exchange_t *ex, void *data)
{
    const api_app_t *app = data;
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    buf_append(b, app->openapi_json, app->openapi_len);
    http_exchange_send(ex, 200, "application/json");
}
