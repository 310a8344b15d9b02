/*
 * openapi - the OpenAPI 3.1 document at /openapi.json.
 *
 * Built once at startup from what the router actually serves: every route
 * (router_at), its methods, and the web_route_doc_t the resource file
 * registered with it - the same web_param_t declarations that validate
 * requests give the parameters' types, defaults and bounds, so the document
 * cannot drift from behaviour. Routes without docs still appear, with their
 * path parameters and a minimal response.
 *
 * Response and body schemas are named in the route docs and registered by
 * the rooms that own them (web_openapi_add_schemas): row schemas generated
 * from the table descriptors the encoders use, envelopes as fixed JSON text.
 * The framework's own error shapes (HTTPError, the FastAPI 422) are built in
 * below. A name referenced but not registered is a build error
 * (web_openapi_build returns -1 naming it), which the unit test turns into a
 * failure. Extensions (the Data API's tables) add paths after the routes.
 *
 * The document is serialised once per build; the handler only copies the
 * cached bytes.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "web/web.h"

#define OPENAPI_REF_PREFIX WEB_OPENAPI_REF

/* ---- fixed schemas (JSON text, checked by the unit test) ---- */

static const web_openapi_schema_t openapi_fixed[] = {
    {"HTTPError",
     "{\"type\":\"object\",\"title\":\"HTTPError\",\"required\":[\"detail\"],"
     "\"properties\":{\"detail\":{\"type\":\"string\",\"title\":\"Detail\"}}}",
     NULL, false},
    {"ValidationError",
     "{\"type\":\"object\",\"title\":\"ValidationError\",\"required\":[\"loc\",\"msg\",\"type\"],"
     "\"properties\":{\"loc\":{\"type\":\"array\",\"title\":\"Location\",\"items\":{\"anyOf\":["
     "{\"type\":\"string\"},{\"type\":\"integer\"}]}},\"msg\":{\"type\":\"string\",\"title\":"
     "\"Message\"},\"type\":{\"type\":\"string\",\"title\":\"Error Type\"},\"input\":{\"title\":"
     "\"Input\"},\"ctx\":{\"type\":\"object\",\"title\":\"Context\"}}}",
     NULL, false},
    {"HTTPValidationError",
     "{\"type\":\"object\",\"title\":\"HTTPValidationError\",\"properties\":{\"detail\":{"
     "\"type\":\"array\",\"title\":\"Detail\",\"items\":{\"$ref\":\"" OPENAPI_REF_PREFIX
     "ValidationError\"}}}}",
     NULL, false},
};

/* ---- generated schemas: rows, from the table descriptors ---- */

static json_t *openapi_col_schema(web_col_kind_t kind)
{
    switch (kind) {
    case WEB_COL_INT:
        return json_pack("{s:s}", "type", "integer");
    case WEB_COL_NUMBER:
        return json_pack("{s:s}", "type", "number");
    case WEB_COL_DATE:
        return json_pack("{s:s,s:s}", "type", "string", "format", "date");
    case WEB_COL_TIMESTAMP:
        return json_pack("{s:s,s:s}", "type", "string", "format", "date-time");
    case WEB_COL_BOOL:
        return json_pack("{s:s}", "type", "boolean");
    case WEB_COL_TEXT:
    default:
        return json_pack("{s:s}", "type", "string");
    }
}

/*
 * A row object with every column required; in a nullable table every
 * column but the key may be null, typed [T, "null"].
 */
static json_t *openapi_row_schema(const web_table_t *t, const char *title, bool nullable)
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

/* ---- the registry ---- */

#define OPENAPI_MAX_SETS       16
#define OPENAPI_MAX_EXTENSIONS 8

struct web_openapi {
    struct {
        const web_openapi_schema_t *v;
        size_t n;
    } sets[OPENAPI_MAX_SETS]; /* registered schema arrays (borrowed) */
    int nsets;
    struct {
        web_openapi_extend_fn fn;
        void *data;
    } ext[OPENAPI_MAX_EXTENSIONS];
    int next;
    char *json; /* the cached document */
    size_t len;
};

web_openapi_t *web_openapi_new(void)
{
    web_openapi_t *o = calloc(1, sizeof *o);
    if (o)
        web_openapi_add_schemas(o, openapi_fixed, sizeof openapi_fixed / sizeof openapi_fixed[0]);
    return o;
}

void web_openapi_free(web_openapi_t *o)
{
    if (!o) return;
    free(o->json);
    free(o);
}

void web_openapi_add_schemas(web_openapi_t *o, const web_openapi_schema_t *schemas, size_t n)
{
    if (o->nsets == OPENAPI_MAX_SETS) return; /* a fixed number of rooms registers: cannot happen */
    o->sets[o->nsets].v = schemas;
    o->sets[o->nsets].n = n;
    o->nsets++;
}

int web_openapi_add_extension(web_openapi_t *o, web_openapi_extend_fn fn, void *data)
{
    if (o->next == OPENAPI_MAX_EXTENSIONS) return -1;
    o->ext[o->next].fn = fn;
    o->ext[o->next].data = data;
    o->next++;
    return 0;
}

const char *web_openapi_json(const web_openapi_t *o, size_t *len)
{
    *len = o->len;
    return o->json;
}

/* The schema called name, a new reference; NULL when nobody registered it. */
static json_t *openapi_schema(const web_openapi_t *o, const char *name)
{
    for (int i = 0; i < o->nsets; i++) {
        for (size_t j = 0; j < o->sets[i].n; j++) {
            const web_openapi_schema_t *sc = &o->sets[i].v[j];
            if (strcmp(sc->name, name) != 0) continue;
            if (sc->table)
                return sc->table->ncols > 0 ? openapi_row_schema(sc->table, name, sc->nullable)
                                            : NULL;
            return json_loads(sc->json, 0, NULL);
        }
    }
    return NULL;
}

/* ---- the builder ---- */

typedef struct openapi_builder {
    const web_openapi_t *o;
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

static json_t *openapi_param_schema(const web_param_t *p)
{
    json_t *s;
    switch (p->type) {
    case WEB_PARAM_INT:
        s = json_pack("{s:s}", "type", "integer");
        if (!p->required) json_object_set_new(s, "default", json_integer(p->rule.def));
        if (p->rule.has_min) json_object_set_new(s, "minimum", json_integer(p->rule.min));
        if (p->rule.has_max) json_object_set_new(s, "maximum", json_integer(p->rule.max));
        return s;
    case WEB_PARAM_BOOL:
        s = json_pack("{s:s}", "type", "boolean");
        if (!p->required) json_object_set_new(s, "default", json_boolean(p->bool_default));
        return s;
    case WEB_PARAM_STRING:
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

static json_t *openapi_param(const web_param_t *p)
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

static json_t *openapi_content(openapi_builder_t *b, const web_response_doc_t *r)
{
    if (!r->schema) return NULL; /* no body */
    if (strchr(r->schema, '/'))  /* a media type: not JSON, described as text */
        return json_pack("{s:{s:{s:s}}}", r->schema, "schema", "type",
                         strstr(r->schema, "json") ? "object" : "string");
    return json_pack("{s:{s:o}}", "application/json", "schema", openapi_ref(b, r->schema));
}

static json_t *openapi_responses(openapi_builder_t *b, const web_route_doc_t *doc)
{
    json_t *out = json_object();
    for (const web_response_doc_t *r = doc ? doc->responses : NULL; r && r->status; r++) {
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
    const web_route_doc_t *doc = rt->doc;
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
    for (const web_param_t *const *p = doc ? doc->params : NULL; p && *p; p++)
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
            json_t *s = openapi_schema(b->o, name);
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

int web_openapi_build(web_openapi_t *o, const router_t *r, char *err, size_t errlen)
{
    openapi_builder_t b = {.o = o};
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
    for (int i = 0; i < o->next; i++) {
        if (o->ext[i].fn(b.root, o->ext[i].data) != 0 && rc == 0) {
            snprintf(b.err, sizeof b.err, "OpenAPI: an extension failed");
            rc = -1;
        }
    }
    char *text = json_dumps(b.root, JSON_COMPACT);
    json_decref(b.root);
    if (!text) {
        snprintf(err, errlen, "OpenAPI: out of memory");
        return -1;
    }
    free(o->json);
    o->json = text;
    o->len = strlen(text);
    if (rc != 0) snprintf(err, errlen, "%s", b.err);
    return rc;
}

void web_openapi_handler(http_exchange_t *ex, void *data)
{
    const web_openapi_t *o = data;
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    buf_append(b, o->json, o->len);
    http_exchange_send(ex, 200, "application/json");
}
