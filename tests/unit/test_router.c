/*
 * test_router - pattern validation, literal-over-parameter precedence in both
 * registration orders, 404 vs 405 with the allowed set, HEAD -> GET, decoded
 * parameters and "%2F" inside a parameter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "lakeapi/router.h"
#include "test_util.h"

static void h_a(http_exchange_t *ex, void *data) {}

static const char *match_pattern(const router_t *r, http_method_t m, const char *path)
{
    router_match_t mt;
    if (router_match(r, m, path, test_arena, &mt) != ROUTER_MATCH) return NULL;
    return mt.route->pattern;
}

static void test_bad_patterns(void **state)
{
    router_t *r = router_new();
    assert_int_equal(router_add(r, HTTP_GET, "nope", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a/{", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a/{}", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a/{x:float}", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a/x{y}", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a/{x-y}", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, 0, "/a", h_a, NULL, NULL), -1);
    assert_int_equal(router_add(r, HTTP_GET, "/a", NULL, NULL, NULL), -1);
    assert_int_equal(router_count(r), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/a/{x:int}/{y:str}/{z}", h_a, NULL, NULL), 0);
    assert_int_equal(router_count(r), 1);
    router_free(r);
}

static void check_precedence(router_t *r)
{
    assert_string_equal(match_pattern(r, HTTP_GET, "/api/v1/orders/count"), "/api/v1/orders/count");
    assert_string_equal(match_pattern(r, HTTP_GET, "/api/v1/orders/42"),
                        "/api/v1/orders/{order_key:int}");
    assert_string_equal(match_pattern(r, HTTP_GET, "/api/v1/orders/sample"),
                        "/api/v1/orders/sample");
    /* decoded literal still matches the literal */
    assert_string_equal(match_pattern(r, HTTP_GET, "/api/v1/orders/c%6Funt"),
                        "/api/v1/orders/count");
}

static void test_literal_beats_param(void **state)
{
    router_t *r = router_new();
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/{order_key:int}", h_a, NULL, NULL), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/count", h_a, NULL, NULL), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/sample", h_a, NULL, NULL), 0);
    check_precedence(r);
    router_free(r);

    r = router_new();
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/count", h_a, NULL, NULL), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/sample", h_a, NULL, NULL), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/api/v1/orders/{order_key:int}", h_a, NULL, NULL), 0);
    check_precedence(r);
    router_free(r);
}

static void test_earlier_literal_wins(void **state)
{
    router_t *r = router_new();
    assert_int_equal(router_add(r, HTTP_GET, "/{a}/x", h_a, NULL, NULL), 0);
    assert_int_equal(router_add(r, HTTP_GET, "/k/{b}", h_a, NULL, NULL), 0);
    assert_string_equal(match_pattern(r, HTTP_GET, "/k/x"), "/k/{b}");
    assert_string_equal(match_pattern(r, HTTP_GET, "/z/x"), "/{a}/x");
    router_free(r);
}

static void test_404_405(void **state)
{
    router_t *r = router_new();
    router_add(r, HTTP_GET, "/user", h_a, NULL, NULL);
    router_add(r, HTTP_POST, "/user", h_a, NULL, NULL);
    router_add(r, HTTP_PUT | HTTP_DELETE, "/user/{id:int}", h_a, NULL, NULL);
    router_add(r, HTTP_GET, "/users/", h_a, NULL, NULL);
    router_match_t m;
    assert_int_equal(router_match(r, HTTP_GET, "/nothing", test_arena, &m), ROUTER_NOT_FOUND);
    assert_null(m.route);
    assert_int_equal(router_match(r, HTTP_GET, "/users", test_arena, &m), ROUTER_NOT_FOUND);
    assert_int_equal(router_match(r, HTTP_GET, "/users/", test_arena, &m), ROUTER_MATCH);
    assert_int_equal(router_match(r, HTTP_GET, "/user/", test_arena, &m), ROUTER_NOT_FOUND);
    assert_int_equal(router_match(r, HTTP_PATCH, "/user", test_arena, &m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m.allowed_methods, HTTP_GET | HTTP_HEAD | HTTP_POST);
    assert_int_equal(router_match(r, HTTP_GET, "/user/7", test_arena, &m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m.allowed_methods, HTTP_PUT | HTTP_DELETE);
    assert_int_equal(router_match(r, HTTP_OPTIONS, "/user/7", test_arena, &m),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(router_match(r, HTTP_DELETE, "/user/7", test_arena, &m), ROUTER_MATCH);
    assert_string_equal(m.params[0], "7");
    assert_int_equal(router_match(r, HTTP_GET, "*", test_arena, &m), ROUTER_NOT_FOUND);
    router_free(r);
}

static void test_head_matches_get(void **state)
{
    router_t *r = router_new();
    router_add(r, HTTP_GET, "/", h_a, NULL, NULL);
    router_add(r, HTTP_POST, "/p", h_a, NULL, NULL);
    router_match_t m;
    assert_int_equal(router_match(r, HTTP_HEAD, "/", test_arena, &m), ROUTER_MATCH);
    assert_string_equal(m.route->pattern, "/");
    assert_int_equal(router_match(r, HTTP_HEAD, "/p", test_arena, &m), ROUTER_METHOD_NOT_ALLOWED);
    assert_int_equal(m.allowed_methods, HTTP_POST);
    router_free(r);
}

static void test_method_picks_route(void **state)
{
    /* POST /orders/count matches the parameter route, as Starlette would. */
    router_t *r = router_new();
    router_add(r, HTTP_GET, "/orders/count", h_a, NULL, NULL);
    router_add(r, HTTP_POST, "/orders/{key}", h_a, NULL, NULL);
    router_match_t m;
    assert_int_equal(router_match(r, HTTP_POST, "/orders/count", test_arena, &m), ROUTER_MATCH);
    assert_string_equal(m.route->pattern, "/orders/{key}");
    assert_string_equal(m.params[0], "count");
    router_free(r);
}

static void test_params_decoded(void **state)
{
    router_t *r = router_new();
    router_add(r, HTTP_POST, "/api/v1/orders/{order_key:int}/status", h_a, NULL, NULL);
    router_add(r, HTTP_GET, "/files/{a}/{b}", h_a, NULL, NULL);
    router_match_t m;
    assert_int_equal(router_match(r, HTTP_POST, "/api/v1/orders/123/status", test_arena, &m),
                     ROUTER_MATCH);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(m.params[0], "123");
    assert_int_equal(router_match(r, HTTP_GET, "/files/a%20b/x%2Fy", test_arena, &m), ROUTER_MATCH);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.params[0], "a b");
    assert_string_equal(m.params[1], "x/y"); /* %2F stays inside its segment */
    assert_string_equal(m.route->pattern, "/files/{a}/{b}");
    /* empty segment does not match a parameter */
    assert_int_equal(router_match(r, HTTP_GET, "/files//b", test_arena, &m), ROUTER_NOT_FOUND);
    /* malformed escape never matches */
    assert_int_equal(router_match(r, HTTP_GET, "/files/%zz/b", test_arena, &m), ROUTER_NOT_FOUND);
    /* a long escaped parameter is decoded too */
    char path[400] = "/files/x/";
    for (int i = 0; i < 60; i++)
        strcat(path, "%41");
    assert_int_equal(router_match(r, HTTP_GET, path, test_arena, &m), ROUTER_MATCH);
    assert_int_equal(strlen(m.params[1]), 60);
    assert_int_equal(m.params[1][59], 'A');
    router_free(r);
}

static void test_iteration(void **state)
{
    router_t *r = router_new();
    int data = 5;
    router_add(r, HTTP_GET, "/a", h_a, &data, "doc-a");
    router_add(r, HTTP_POST, "/b/{x}", h_a, NULL, NULL);
    assert_int_equal(router_count(r), 2);
    assert_string_equal(router_at(r, 0)->pattern, "/a");
    assert_ptr_equal(router_at(r, 0)->data, &data);
    assert_string_equal((const char *)router_at(r, 0)->doc, "doc-a");
    assert_int_equal(router_at(r, 1)->methods, HTTP_POST);
    assert_null(router_at(r, 2));
    assert_null(router_at(r, -1));
    router_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_patterns),         cmocka_unit_test(test_literal_beats_param),
        cmocka_unit_test(test_earlier_literal_wins), cmocka_unit_test(test_404_405),
        cmocka_unit_test(test_head_matches_get),     cmocka_unit_test(test_method_picks_route),
        cmocka_unit_test(test_params_decoded),       cmocka_unit_test(test_iteration),
    };
    return cmocka_run_group_tests(tests, test_arena_setup, test_arena_teardown);
}
