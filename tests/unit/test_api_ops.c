/*
 * Unit tests for the api layer's operational parts: the OpenAPI document
 * built from the real app's routes (every route present, every $ref
 * defined, parameters carrying their declared bounds), the metrics
 * observer and its Prometheus rendering, and the CORS setting's parsing.
 * The app is built over a pool that is never started: no database needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/api_internal.h"

typedef struct fixture {
    uv_loop_t loop;
    config_t cfg;
    db_pool_t *pool;
    router_t *router;
    api_app_t *app;
    json_t *doc;
} fixture_t;

static int fixture_setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof f);
    uv_loop_init(&f.loop);
    config_init(&f.cfg);
    db_pool_config_t pc;
    db_pool_config_defaults(&pc);
    f.pool = db_pool_new(&f.loop, &pc);
    f.router = router_new();
    char err[256] = "";
    f.app = api_app_new(&f.loop, &f.cfg, f.pool, f.router, err, sizeof err);
    if (!f.app) {
        fprintf(stderr, "api_app_new: %s\n", err);
        return -1;
    }
    size_t doc_len;
    const char *doc_text = web_openapi_json(api_app_openapi(f.app), &doc_len);
    f.doc = json_loadb(doc_text, doc_len, 0, NULL);
    if (!f.doc) return -1;
    *state = &f;
    return 0;
}

static void fixture_pool_closed(void *data)
{
    (void)data;
}

static int fixture_teardown(void **state)
{
    fixture_t *f = *state;
    json_decref(f->doc);
    api_app_free(f->app);
    router_free(f->router);
    db_pool_close(f->pool, fixture_pool_closed, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    db_pool_free(f->pool);
    config_dispose(&f->cfg);
    uv_loop_close(&f->loop);
    return 0;
}

/* ---- OpenAPI ---- */

static json_t *path_op(json_t *doc, const char *path, const char *method)
{
    return json_object_get(json_object_get(json_object_get(doc, "paths"), path), method);
}

static json_t *op_param(json_t *op, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(op, "parameters"), i, p)
    {
        if (!strcmp(json_string_value(json_object_get(p, "name")), name)) return p;
    }
    return NULL;
}

static void test_openapi_header(void **state)
{
    fixture_t *f = *state;
    assert_string_equal(json_string_value(json_object_get(f->doc, "openapi")), "3.1.0");
    json_t *info = json_object_get(f->doc, "info");
    assert_string_equal(json_string_value(json_object_get(info, "title")), "lakeapi");
    assert_string_equal(json_string_value(json_object_get(info, "version")), LAKEAPI_VERSION);
    assert_non_null(json_object_get(json_array_get(json_object_get(f->doc, "servers"), 0), "url"));
}

static void test_openapi_builds_without_unknown_schemas(void **state)
{
    fixture_t *f = *state;
    char err[256] = "";
    web_openapi_t *o = api_app_openapi(f->app);
    int rc = web_openapi_build(o, f->router, err, sizeof err);
    if (rc != 0) fail_msg("%s", err); /* a route names a schema nobody registered */
    size_t len = 0;
    const char *text = web_openapi_json(o, &len);
    assert_non_null(text);
    assert_int_equal(len, strlen(text));
}

/* Every registered (method, pattern) is an operation of the document. */
static void test_openapi_has_every_route(void **state)
{
    fixture_t *f = *state;
    static const struct {
        unsigned m;
        const char *name;
    } methods[] = {{HTTP_GET, "get"},
                   {HTTP_POST, "post"},
                   {HTTP_PUT, "put"},
                   {HTTP_DELETE, "delete"},
                   {HTTP_PATCH, "patch"}};
    assert_true(router_count(f->router) >= 10);
    for (int i = 0; i < router_count(f->router); i++) {
        const route_t *rt = router_at(f->router, i);
        char path[256];
        size_t o = 0;
        bool skip = false;
        for (const char *p = rt->pattern; *p; p++) { /* {k:int} -> {k} */
            if (*p == ':') skip = true;
            if (*p == '}') skip = false;
            if (!skip) path[o++] = *p;
        }
        path[o] = '\0';
        for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++) {
            if (!(rt->methods & methods[k].m)) continue;
            if (!path_op(f->doc, path, methods[k].name))
                fail_msg("route %s %s missing from the document", methods[k].name, path);
        }
    }
}

static void collect_refs(json_t *v, json_t *schemas, int *count)
{
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x)
        {
            if (!strcmp(k, "$ref")) {
                const char *ref = json_string_value(x);
                assert_non_null(ref);
                assert_memory_equal(ref, "#/components/schemas/", 21);
                if (!json_object_get(schemas, ref + 21)) fail_msg("dangling $ref %s", ref);
                (*count)++;
            } else {
                collect_refs(x, schemas, count);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) collect_refs(x, schemas, count);
    }
}

static void test_openapi_refs_resolve(void **state)
{
    fixture_t *f = *state;
    json_t *schemas = json_object_get(json_object_get(f->doc, "components"), "schemas");
    int count = 0;
    collect_refs(f->doc, schemas, &count);
    assert_true(count > 20);
    static const char *const expected[] = {"Order",
                                           "OrderRead",
                                           "OrderCount",
                                           "OrderSample",
                                           "OrderListResponse",
                                           "PaginationInfo",
                                           "OrderListCursorResponse",
                                           "CursorPaginationInfo",
                                           "OrderStatusUpdate",
                                           "OrderStatusUpdateResponse",
                                           "HTTPError",
                                           "HTTPValidationError",
                                           "ValidationError"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        if (!json_object_get(schemas, expected[i])) fail_msg("schema %s missing", expected[i]);
}

static void test_openapi_unique_operation_ids(void **state)
{
    fixture_t *f = *state;
    json_t *seen = json_object();
    const char *path;
    json_t *item;
    int n = 0;
    json_object_foreach(json_object_get(f->doc, "paths"), path, item)
    {
        const char *method;
        json_t *op;
        json_object_foreach(item, method, op)
        {
            const char *id = json_string_value(json_object_get(op, "operationId"));
            assert_non_null(id);
            if (json_object_get(seen, id)) fail_msg("operationId %s used twice", id);
            json_object_set_new(seen, id, json_true());
            assert_non_null(json_object_get(op, "responses"));
            n++;
        }
    }
    json_decref(seen);
    assert_true(n >= 10);
}

static void test_openapi_parameters_carry_bounds(void **state)
{
    fixture_t *f = *state;
    json_t *pages = path_op(f->doc, "/api/v1/orders/pages", "get");
    assert_non_null(pages);
    json_t *ps = json_object_get(op_param(pages, "page_size"), "schema");
    assert_string_equal(json_string_value(json_object_get(ps, "type")), "integer");
    assert_int_equal(json_integer_value(json_object_get(ps, "minimum")), 1);
    assert_int_equal(json_integer_value(json_object_get(ps, "maximum")), 1000);
    assert_int_equal(json_integer_value(json_object_get(ps, "default")), 100);
    json_t *ic = json_object_get(op_param(pages, "include_count"), "schema");
    assert_string_equal(json_string_value(json_object_get(ic, "type")), "boolean");
    assert_true(json_is_true(json_object_get(ic, "default")));
    assert_false(json_is_true(json_object_get(op_param(pages, "page"), "required")));

    json_t *get = path_op(f->doc, "/api/v1/orders/{order_key}", "get");
    assert_non_null(get);
    json_t *key = op_param(get, "order_key");
    assert_string_equal(json_string_value(json_object_get(key, "in")), "path");
    assert_true(json_is_true(json_object_get(key, "required")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(key, "schema"), "type")),
                        "integer");
    json_t *r422 = json_object_get(json_object_get(get, "responses"), "422");
    assert_non_null(r422);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_object_get(r422, "content"), "application/json"),
                            "schema"),
            "$ref")),
        "#/components/schemas/HTTPValidationError");
}

static void test_openapi_order_schema_from_descriptor(void **state)
{
    fixture_t *f = *state;
    json_t *schemas = json_object_get(json_object_get(f->doc, "components"), "schemas");
    json_t *props = json_object_get(json_object_get(schemas, "Order"), "properties");
    assert_int_equal(json_object_size(props), 9);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "o_totalprice"), "type")),
        "number");
    json_t *date = json_object_get(props, "o_orderdate");
    assert_string_equal(json_string_value(json_object_get(date, "type")), "string");
    assert_string_equal(json_string_value(json_object_get(date, "format")), "date");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(props, "o_orderkey"), "type")),
        "integer");
    /* Key order is the row's JSON key order. */
    void *it = json_object_iter(props);
    assert_string_equal(json_object_iter_key(it), "o_orderkey");
    json_t *st = json_object_get(
        json_object_get(json_object_get(schemas, "OrderStatusUpdate"), "properties"),
        "o_orderstatus");
    assert_string_equal(json_string_value(json_object_get(st, "pattern")), "^[A-Z]$");
    json_t *body = path_op(f->doc, "/api/v1/orders/{order_key}/status", "post");
    assert_non_null(json_object_get(body, "requestBody"));
}

static void dummy_handler(http_exchange_t *ex, void *data)
{
    (void)ex;
    (void)data;
}

static void test_openapi_unknown_schema_is_an_error(void **state)
{
    fixture_t *f = *state;
    static const web_response_doc_t resp[] = {{200, "NoSuchSchema", "x"}, {0}};
    static const web_route_doc_t doc = {"x", "x", "x", NULL, NULL, resp};
    router_t *r = router_new();
    assert_int_equal(router_add(r, HTTP_GET, "/x/{id:int}", dummy_handler, NULL, &doc), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/y/{name}", dummy_handler, NULL, NULL), 0);
    char err[256] = "";
    size_t len;
    web_openapi_t *o = web_openapi_new();
    api_schemas_register(f->app, o);
    assert_int_equal(web_openapi_build(o, r, err, sizeof err), -1);
    assert_non_null(strstr(err, "NoSuchSchema"));
    const char *text = web_openapi_json(o, &len);
    assert_non_null(text);
    /* A route without docs still appears, with its path parameter declared. */
    json_t *d = json_loads(text, 0, NULL);
    json_t *y = path_op(d, "/y/{name}", "get");
    assert_non_null(y);
    assert_non_null(op_param(y, "name"));
    assert_non_null(op_param(path_op(d, "/x/{id}", "get"), "id"));
    json_decref(d);
    web_openapi_free(o);
    router_free(r);
}

/* ---- metrics ---- */

static int count_lines_with(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_metrics_counts_by_route_template(void **state)
{
    fixture_t *f = *state;
    web_metrics_t *m = web_metrics_new(f->router);
    assert_non_null(m);
    const route_t *count = NULL;
    for (int i = 0; i < router_count(f->router); i++)
        if (!strcmp(router_at(f->router, i)->pattern, "/api/v1/orders/count"))
            count = router_at(f->router, i);
    assert_non_null(count);
    http_exchange_info_t info = {.method = "GET",
                                 .route = count->pattern,
                                 .path = "/api/v1/orders/count",
                                 .status = 200,
                                 .duration_ms = 3.0};
    for (int i = 0; i < 3; i++)
        web_metrics_observe(&info, m);
    info.status = 503;
    info.duration_ms = 700;
    web_metrics_observe(&info, m);
    http_exchange_info_t miss = {
        .method = "BREW", .route = "", .path = "/nope", .status = 404, .duration_ms = 0.1};
    web_metrics_observe(&miss, m);

    buf_t out;
    buf_init(&out);
    web_metrics_set_sources(
        m, &(web_metrics_sources_t){.pool = f->pool, .pool_size = f->cfg.pool_size});
    web_metrics_render(m, &out);
    const char *t = out.data;
    assert_non_null(strstr(t, "lakeapi_http_requests_total{route=\"/api/v1/orders/count\","
                              "method=\"GET\",status=\"200\"} 3\n"));
    assert_non_null(strstr(t, "lakeapi_http_requests_total{route=\"/api/v1/orders/count\","
                              "method=\"GET\",status=\"503\"} 1\n"));
    assert_non_null(
        strstr(t, "lakeapi_http_requests_total{route=\"\",method=\"other\",status=\"404\"} 1\n"));
    /* Buckets are cumulative: 3 requests <= 5 ms, the fourth <= 1 s. */
    assert_non_null(strstr(t, "lakeapi_http_request_duration_seconds_bucket{route=\"/api/v1/"
                              "orders/count\",le=\"0.0025\"} 0\n"));
    assert_non_null(strstr(t, "lakeapi_http_request_duration_seconds_bucket{route=\"/api/v1/"
                              "orders/count\",le=\"0.005\"} 3\n"));
    assert_non_null(strstr(t, "lakeapi_http_request_duration_seconds_bucket{route=\"/api/v1/"
                              "orders/count\",le=\"1\"} 4\n"));
    assert_non_null(strstr(t, "lakeapi_http_request_duration_seconds_bucket{route=\"/api/v1/"
                              "orders/count\",le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t, "lakeapi_http_request_duration_seconds_count{route=\"/api/v1/"
                              "orders/count\"} 4\n"));
    /* Only routes that saw traffic get a histogram. */
    assert_int_equal(count_lines_with(t, "_count{route="), 2);
    assert_non_null(strstr(t, "lakeapi_db_pool_connections{state=\"idle\"} 0\n"));
    assert_non_null(strstr(t, "lakeapi_build_info{version=\"" LAKEAPI_VERSION "\"} 1\n"));
    assert_non_null(strstr(t, "# TYPE lakeapi_http_request_duration_seconds histogram\n"));
    buf_dispose(&out);
    web_metrics_free(m);
}

static void test_metrics_status_codes_are_bounded(void **state)
{
    fixture_t *f = *state;
    web_metrics_t *m = web_metrics_new(f->router);
    http_exchange_info_t info = {.method = "GET", .route = "", .path = "/", .duration_ms = 1};
    for (int code = 100; code < 600; code++) {
        info.status = code;
        web_metrics_observe(&info, m);
    }
    info.status = 5000; /* out of range: "other" too */
    web_metrics_observe(&info, m);
    buf_t out;
    buf_init(&out);
    web_metrics_set_sources(
        m, &(web_metrics_sources_t){.pool = f->pool, .pool_size = f->cfg.pool_size});
    web_metrics_render(m, &out);
    int series = count_lines_with(out.data, "\nlakeapi_http_requests_total{");
    assert_int_equal(series, 41); /* 40 distinct codes, then one "other" */
    assert_non_null(strstr(out.data, "status=\"other\"} 461\n"));
    buf_dispose(&out);
    web_metrics_free(m);
}

/* ---- CORS setting ---- */

static void test_cors_setting(void **state)
{
    fixture_t *f = *state;
    web_cors_t *c = (web_cors_t *)1;
    char err[256] = "";
    assert_int_equal(web_cors_new(NULL, false, f->router, &c, err, sizeof err), 0);
    assert_null(c);
    assert_int_equal(web_cors_new(" , ", false, f->router, &c, err, sizeof err), 0);
    assert_null(c);
    assert_int_equal(web_cors_new("https://a.example, http://localhost:3000/", true, f->router, &c,
                                  err, sizeof err),
                     0);
    assert_non_null(c);
    web_cors_free(c);
    assert_int_equal(web_cors_new("*", false, f->router, &c, err, sizeof err), 0);
    assert_non_null(c);
    web_cors_free(c);
    const char *bad[] = {"a.example", "https://a.example/path", "https://", "://x",
                         "https://a example"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(web_cors_new(bad[i], false, f->router, &c, err, sizeof err), -1);
        assert_null(c);
        assert_non_null(strstr(err, "CORS_ALLOW_ORIGINS"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openapi_header),
        cmocka_unit_test(test_openapi_builds_without_unknown_schemas),
        cmocka_unit_test(test_openapi_has_every_route),
        cmocka_unit_test(test_openapi_refs_resolve),
        cmocka_unit_test(test_openapi_unique_operation_ids),
        cmocka_unit_test(test_openapi_parameters_carry_bounds),
        cmocka_unit_test(test_openapi_order_schema_from_descriptor),
        cmocka_unit_test(test_openapi_unknown_schema_is_an_error),
        cmocka_unit_test(test_metrics_counts_by_route_template),
        cmocka_unit_test(test_metrics_status_codes_are_bounded),
        cmocka_unit_test(test_cors_setting),
    };
    return cmocka_run_group_tests(tests, fixture_setup, fixture_teardown);
}
