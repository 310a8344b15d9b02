/*
 * orders - the orders API of the seed tutorial (SPEC section 2) over the
 * TPC-H ORDERS table: count, sample, page and cursor pagination, get by key,
 * status update.
 *
 * Handlers are thin: validate into typed parameters, issue prepared
 * statements, encode rows through the table descriptor. Where a response
 * needs two queries (a page and its count, a cursor page and its previous
 * cursor) both are issued at once and pipelined together; the rows are
 * encoded as soon as they arrive and the envelope is closed when the last
 * answer is in.
 */
#include <jansson.h>
#include <stdio.h>

#include "api/api_internal.h"

static const web_column_t orders_columns[] = {
    {"o_orderkey", WEB_COL_INT},     {"o_custkey", WEB_COL_INT},
    {"o_orderstatus", WEB_COL_TEXT}, {"o_totalprice", WEB_COL_NUMBER},
    {"o_orderdate", WEB_COL_DATE},   {"o_orderpriority", WEB_COL_TEXT},
    {"o_clerk", WEB_COL_TEXT},       {"o_shippriority", WEB_COL_INT},
    {"o_comment", WEB_COL_TEXT},
};

/* ---- declared parameters: validation and OpenAPI both read these ---- */

static const web_param_t param_page = {.name = "page",
                                       .in = "query",
                                       .type = WEB_PARAM_INT,
                                       .rule = {.def = 1, .has_min = true, .min = 1},
                                       .description = "Page number (1-based)"};
static const web_param_t param_page_size = {
    .name = "page_size",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 100, .has_min = true, .min = 1, .has_max = true, .max = 1000},
    .description = "Number of records per page (max 1000)"};
static const web_param_t param_include_count = {.name = "include_count",
                                                .in = "query",
                                                .type = WEB_PARAM_BOOL,
                                                .bool_default = true,
                                                .description =
                                                    "Include total count for pagination info"};
static const web_param_t param_cursor = {.name = "cursor",
                                         .in = "query",
                                         .type = WEB_PARAM_INT,
                                         .rule = {.def = 0, .has_min = true, .min = 0},
                                         .description =
                                             "Start after this order key (0 for beginning)"};
static const web_param_t param_order_key = {.name = "order_key",
                                            .in = "path",
                                            .type = WEB_PARAM_INT,
                                            .required = true,
                                            .description =
                                                "The order key (o_orderkey), a positive integer"};

/* State of one request while its queries are out. Lives in the request arena. */
typedef struct orders_req {
    http_exchange_t *ex;
    api_app_t *app;
    json_writer_t w;
    int pending; /* queries not answered yet */
    bool failed; /* an error was already sent */
    int64_t page, page_size, cursor;
    bool include_count;
    int64_t total; /* count, or the previous cursor for /stream */
    int64_t next_cursor;
    bool has_next;
    int64_t floor; /* /stream: the largest key <= cursor, when known_floor */
    bool known_floor;
    const char **params;
} orders_req_t;

static orders_req_t *orders_req_new(http_exchange_t *ex, api_app_t *app)
{
    orders_req_t *rq = arena_calloc(http_exchange_arena(ex), sizeof *rq);
    rq->ex = ex;
    rq->app = app;
    return rq;
}

static const char **orders_params(orders_req_t *rq, int n)
{
    return arena_alloc(http_exchange_arena(rq->ex), sizeof(char *) * (size_t)n);
}

/* Returns true when the request should go on (no earlier failure, this one OK). */
static bool orders_step_ok(orders_req_t *rq, const db_result_t *r)
{
    rq->pending--;
    http_exchange_note_pool_wait(rq->ex, r->wait_ms);
    if (rq->failed) return false;
    if (r->status != DB_OK) {
        rq->failed = true;
        web_send_db_error(rq->ex, r);
        return false;
    }
    return true;
}

/* ---- GET /count ---- */

static void orders_count_done(const db_result_t *r, int64_t value, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    web_json_begin(rq->ex, &rq->w);
    jw_object_begin(&rq->w);
    jw_kv_int(&rq->w, "total_orders", value);
    jw_object_end(&rq->w);
    web_send_json(rq->ex, 200);
}

static void orders_count_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    orders_req_t *rq = orders_req_new(ex, app);
    rq->pending = 1;
    web_count_cache_get(app->orders_count, http_exchange_arena(ex), orders_count_done, rq);
}

/* ---- GET /sample ---- */

static void orders_sample_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    web_json_begin(rq->ex, &rq->w);
    jw_object_begin(&rq->w);
    jw_key(&rq->w, "sample_order_keys");
    jw_array_begin(&rq->w);
    for (int i = 0; i < PQntuples(r->res); i++)
        jw_raw_number(&rq->w, PQgetvalue(r->res, i, 0), (size_t)PQgetlength(r->res, i, 0));
    jw_array_end(&rq->w);
    jw_object_end(&rq->w);
    web_send_json(rq->ex, 200);
}

static void orders_sample_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    orders_req_t *rq = orders_req_new(ex, app);
    rq->pending = 1;
    rq->params = orders_params(rq, 1);
    rq->params[0] = "5";
    auth_db_query(rq->ex, app->pool, app->orders_sql.sample, 1, rq->params, orders_sample_done, rq);
}

/* ---- shared by /pages and /stream: rows first, envelope when all is in ---- */

static void orders_encode_page(orders_req_t *rq, const PGresult *res)
{
    int n = PQntuples(res);
    rq->has_next = n > rq->page_size;
    if (rq->has_next) n = (int)rq->page_size;
    if (rq->has_next) rq->next_cursor = web_result_int(res, n - 1, 0);
    web_json_begin(rq->ex, &rq->w);
    jw_object_begin(&rq->w);
    jw_key(&rq->w, "orders");
    web_encode_rows(&rq->w, &rq->app->orders, res, n);
}

static void orders_pages_finish(orders_req_t *rq)
{
    json_writer_t *w = &rq->w;
    int64_t total_pages = -1, total = -1;
    if (rq->include_count) {
        total = rq->total;
        total_pages = (total + rq->page_size - 1) / rq->page_size;
    }
    jw_key(w, "pagination");
    jw_object_begin(w);
    jw_kv_int(w, "page", rq->page);
    jw_kv_int(w, "page_size", rq->page_size);
    jw_kv_int(w, "total_pages", total_pages);
    jw_kv_int(w, "total_count", total);
    jw_kv_bool(w, "has_next", rq->has_next);
    jw_kv_bool(w, "has_previous", rq->page > 1);
    jw_object_end(w);
    jw_object_end(w);
    web_send_json(rq->ex, 200);
}

static void orders_pages_rows_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    orders_encode_page(rq, r->res);
    if (rq->pending == 0) orders_pages_finish(rq);
}

static void orders_pages_count_done(const db_result_t *r, int64_t value, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    rq->total = value;
    if (rq->pending == 0) orders_pages_finish(rq);
}

static void orders_pages_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    orders_req_t *rq = orders_req_new(ex, app);
    web_errors_t e;
    web_errors_init(&e);
    web_query_int(ex, &param_page, &rq->page, &e);
    web_query_int(ex, &param_page_size, &rq->page_size, &e);
    web_query_bool(ex, &param_include_count, &rq->include_count, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    /* A page past int64 offsets is simply empty, as it would be with unbounded ints. */
    int64_t offset =
        rq->page - 1 > INT64_MAX / rq->page_size ? INT64_MAX : (rq->page - 1) * rq->page_size;
    rq->pending = rq->include_count ? 2 : 1;
    int64_t after, rest;
    if (web_anchors_lookup(&app->orders_anchors, offset, &after, &rest)) {
        /* Deep page: start from the nearest anchor key instead of skipping `offset` rows. */
        rq->params = orders_params(rq, 3);
        rq->params[0] = web_i64_text(rq->ex, after);
        rq->params[1] = web_i64_text(rq->ex, rest);
        rq->params[2] = web_i64_text(rq->ex, rq->page_size + 1);
        auth_db_query(rq->ex, app->pool, app->orders_sql.keyset_offset, 3, rq->params,
                      orders_pages_rows_done, rq);
    } else {
        rq->params = orders_params(rq, 2);
        rq->params[0] = web_i64_text(rq->ex, offset);
        rq->params[1] = web_i64_text(rq->ex, rq->page_size + 1);
        auth_db_query(rq->ex, app->pool, app->orders_sql.offset, 2, rq->params,
                      orders_pages_rows_done, rq);
    }
    if (rq->include_count)
        web_count_cache_get(app->orders_count, http_exchange_arena(ex), orders_pages_count_done,
                            rq);
}

/* ---- GET /stream ---- */

static void orders_stream_finish(orders_req_t *rq)
{
    json_writer_t *w = &rq->w;
    /* The next page's previous cursor: what a sequential reader asks next (web/cursors.c). */
    if (rq->has_next && rq->known_floor)
        web_cursor_cache_put(&rq->app->orders_cursors, rq->next_cursor, rq->page_size, rq->floor);
    jw_key(w, "pagination");
    jw_object_begin(w);
    jw_kv_int(w, "page_size", rq->page_size);
    jw_kv_bool(w, "has_next", rq->has_next);
    jw_kv_bool(w, "has_previous", rq->cursor > 0);
    jw_key(w, "next_cursor");
    if (rq->has_next)
        jw_int(w, rq->next_cursor);
    else
        jw_null(w);
    jw_key(w, "previous_cursor");
    if (rq->cursor > 0)
        jw_int(w, rq->total);
    else
        jw_null(w);
    jw_object_end(w);
    jw_object_end(w);
    web_send_json(rq->ex, 200);
}

static void orders_stream_rows_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    orders_encode_page(rq, r->res);
    if (rq->pending == 0) orders_stream_finish(rq);
}

static void orders_stream_prev_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    rq->total = web_result_int(r->res, 0, 0);
    rq->floor = web_result_int(r->res, 0, 1);
    rq->known_floor = true;
    if (rq->pending == 0) orders_stream_finish(rq);
}

/*
 * One statement for a sequential reader: the previous cursor comes from the
 * page that ended at this cursor (web/cursors.c), which also proves the
 * cursor is a row key, the next page's answer. Other cursors cost a second
 * statement, pipelined with the first.
 */
static void orders_stream_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    orders_req_t *rq = orders_req_new(ex, app);
    web_errors_t e;
    web_errors_init(&e);
    web_query_int(ex, &param_cursor, &rq->cursor, &e);
    web_query_int(ex, &param_page_size, &rq->page_size, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    rq->params = orders_params(rq, 3);
    rq->params[0] = web_i64_text(rq->ex, rq->cursor);
    rq->params[1] = web_i64_text(rq->ex, rq->page_size + 1);
    rq->params[2] = web_i64_text(rq->ex, rq->page_size);
    bool cached = rq->cursor == 0 ||
                  web_cursor_cache_get(&app->orders_cursors, rq->cursor, rq->page_size, &rq->total);
    /* Keys are positive (cursor 0 is the start): the page after 0 has no previous page. */
    rq->floor = rq->cursor;
    rq->known_floor = cached;
    rq->pending = cached ? 1 : 2;
    auth_db_query(rq->ex, app->pool, app->orders_sql.keyset, 2, rq->params, orders_stream_rows_done,
                  rq);
    if (!cached) {
        const char **prev = orders_params(rq, 2);
        prev[0] = rq->params[0];
        prev[1] = rq->params[2];
        auth_db_query(rq->ex, app->pool, app->orders_sql.prev_cursor, 2, prev,
                      orders_stream_prev_done, rq);
    }
}

/* ---- GET /{order_key} and POST /{order_key}/status ---- */

/* Validates the path key; answers 422/400 itself and returns false on failure. */
static bool orders_path_key(http_exchange_t *ex, int64_t *key)
{
    web_errors_t e;
    web_errors_init(&e);
    web_path_int(ex, 0, param_order_key.name, key, &e);
    if (web_send_errors_if_any(ex, &e)) return false;
    if (*key <= 0) {
        web_send_detail(ex, 400, "Invalid order key provided");
        return false;
    }
    return true;
}

static void orders_not_found(orders_req_t *rq)
{
    char detail[80];
    snprintf(detail, sizeof detail, "Order with key '%s' not found", rq->params[0]);
    web_send_detail(rq->ex, 404, detail);
}

static void orders_get_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    if (PQntuples(r->res) == 0) {
        orders_not_found(rq);
        return;
    }
    web_send_row(rq->ex, 200, &rq->app->orders, r->res, 0);
}

static void orders_get_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    int64_t key;
    if (!orders_path_key(ex, &key)) return;
    orders_req_t *rq = orders_req_new(ex, app);
    rq->params = orders_params(rq, 1);
    rq->params[0] = web_i64_text(rq->ex, key);
    rq->pending = 1;
    auth_db_query(rq->ex, app->pool, app->orders_sql.get, 1, rq->params, orders_get_done, rq);
}

static void orders_status_done(const db_result_t *r, void *data)
{
    orders_req_t *rq = data;
    if (!orders_step_ok(rq, r)) return;
    if (PQntuples(r->res) == 0) {
        orders_not_found(rq);
        return;
    }
    json_writer_t *w = &rq->w;
    web_json_begin(rq->ex, w);
    jw_object_begin(w);
    jw_key(w, "o_orderkey");
    jw_raw_number(w, PQgetvalue(r->res, 0, 0), (size_t)PQgetlength(r->res, 0, 0));
    jw_kv_string(w, "o_orderstatus", rq->params[1]);
    jw_kv_string(w, "message", "Order status updated successfully");
    jw_object_end(w);
    web_send_json(rq->ex, 200);
}

/* The body {"o_orderstatus": "<A-Z>"}; returns the letter or 0 after adding a 422 item. */
static char orders_status_from_body(http_exchange_t *ex, web_errors_t *e)
{
    json_t *root = web_body_object(ex, e);
    if (!root) return 0;
    json_t *v = json_object_get(root, "o_orderstatus");
    char letter = 0;
    const char *field = "o_orderstatus";
    if (!v) {
        web_errors_add_body(e, "missing", field, "Field required", root, NULL);
    } else if (!json_is_string(v)) {
        web_errors_add_body(e, "string_type", field, "Input should be a valid string", v, NULL);
    } else {
        const char *s = json_string_value(v);
        if (json_string_length(v) == 1 && s[0] >= 'A' && s[0] <= 'Z')
            letter = s[0];
        else
            web_errors_add_body(e, "string_pattern_mismatch", field,
                                "String should match pattern '^[A-Z]$'", v,
                                "{\"pattern\":\"^[A-Z]$\"}");
    }
    json_decref(root);
    return letter;
}

static void orders_status_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    int64_t key = 0;
    web_errors_t e;
    web_errors_init(&e);
    /* FastAPI validates the path and the body together and reports both. */
    bool key_ok = web_path_int(ex, 0, param_order_key.name, &key, &e);
    char letter = orders_status_from_body(ex, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    if (!key_ok || key <= 0) {
        web_send_detail(ex, 400, "Invalid order key provided");
        return;
    }
    orders_req_t *rq = orders_req_new(ex, app);
    rq->params = orders_params(rq, 2);
    rq->params[0] = web_i64_text(rq->ex, key);
    rq->params[1] = arena_strndup(http_exchange_arena(ex), &letter, 1);
    rq->pending = 1;
    auth_db_query(rq->ex, app->pool, app->orders_sql.update_status, 2, rq->params,
                  orders_status_done, rq);
}

/* ---- routes and what OpenAPI says about them ---- */

static const web_param_t *const params_pages[] = {&param_page, &param_page_size,
                                                  &param_include_count, NULL};
static const web_param_t *const params_stream[] = {&param_cursor, &param_page_size, NULL};
static const web_param_t *const params_key[] = {&param_order_key, NULL};

static const web_response_doc_t resp_count[] = {
    {200, "OrderCount", "Total number of orders"}, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_sample[] = {
    {200, "OrderSample", "Five order keys"}, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_pages[] = {
    {200, "OrderListResponse", "One page of orders"}, WEB_422, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_stream[] = {
    {200, "OrderListCursorResponse", "Orders after the cursor"}, WEB_422, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_get[] = {{200, "OrderRead", "The order"},
                                              {400, "HTTPError", "Invalid order key provided"},
                                              {404, "HTTPError", "Order not found"},
                                              WEB_422,
                                              WEB_DB_ERRORS,
                                              {0}};
static const web_response_doc_t resp_status[] = {
    {200, "OrderStatusUpdateResponse", "The status was updated"},
    {400, "HTTPError", "Invalid order key provided"},
    {404, "HTTPError", "Order not found"},
    WEB_422,
    WEB_DB_ERRORS,
    {0}};

static const web_route_t orders_routes[] = {
    {HTTP_GET,
     "/api/v1/orders/count",
     orders_count_handler,
     {"get_order_count", "Get total order count", "orders", NULL, NULL, resp_count}},
    {HTTP_GET,
     "/api/v1/orders/sample",
     orders_sample_handler,
     {"get_sample_orders", "Get 5 random order keys", "orders", NULL, NULL, resp_sample}},
    {HTTP_GET,
     "/api/v1/orders/pages",
     orders_pages_handler,
     {"get_orders_by_page", "Get orders with page-based pagination", "orders", params_pages, NULL,
      resp_pages}},
    {HTTP_GET,
     "/api/v1/orders/stream",
     orders_stream_handler,
     {"get_orders_by_cursor", "Get orders with cursor-based pagination", "orders", params_stream,
      NULL, resp_stream}},
    {HTTP_GET,
     "/api/v1/orders/{order_key:int}",
     orders_get_handler,
     {"read_order", "Get an order by its key", "orders", params_key, NULL, resp_get}},
    {HTTP_POST,
     "/api/v1/orders/{order_key:int}/status",
     orders_status_handler,
     {"update_order_status", "Update order status", "orders", params_key, "OrderStatusUpdate",
      resp_status}},
};

/* ---- registration ---- */

/*
 * Freshness of the derived views for writes made outside lakeapi (the synced
 * table pipeline): the count is at most REST_COUNT_TTL old (served from
 * memory by the shared per-table cache, refreshed in the background), and anchors are rebuilt at least this often
 * and at once when the count moves. Status updates change neither.
 */
#define ORDERS_ANCHOR_TTL_S 60.0
#define ORDERS_ANCHOR_STEP  100
/* /stream's previous cursors: 4096 recent pages, each trusted this long. */
#define ORDERS_CURSOR_SLOTS_LOG2 12
#define ORDERS_CURSOR_TTL_S      5.0

static void orders_anchors_stale(void *data)
{
    web_anchors_invalidate(data);
}

static int orders_register(api_app_t *app, router_t *r)
{
    web_table_t *t = &app->orders;
    if (web_table_init(t, app->cfg->orders_table, "o_orderkey", orders_columns,
                       (int)(sizeof orders_columns / sizeof orders_columns[0])) != 0)
        return -1;
    app->orders_sql.sample = api_prepare(app, web_sql_keys(t), 1, DB_STMT_READ);
    app->orders_sql.get = api_prepare(app, web_sql_get(t), 1, DB_STMT_READ);
    app->orders_sql.keyset = api_prepare(app, web_sql_keyset(t), 2, DB_STMT_READ);
    app->orders_sql.offset = api_prepare(app, web_sql_offset(t), 2, DB_STMT_READ);
    app->orders_sql.prev_cursor = api_prepare(app, web_sql_prev_cursor(t), 2, DB_STMT_READ);
    app->orders_sql.update_status =
        api_prepare(app, web_sql_update_column(t, "o_orderstatus"), 2, DB_STMT_WRITE);
    app->orders_sql.anchors = api_prepare(app, web_sql_anchors(t), 1, DB_STMT_READ);
    app->orders_sql.keyset_offset = api_prepare(app, web_sql_keyset_offset(t), 3, DB_STMT_READ);
    /* The shared per-table cache: the Data API counts this table through the same entry. */
    app->orders_count = web_counts_table(app->counts, t->sql_name);
    web_anchors_init(&app->orders_anchors, app->pool, app->orders_sql.anchors, ORDERS_ANCHOR_STEP,
                     ORDERS_ANCHOR_TTL_S);
    web_cursor_cache_init(&app->orders_cursors, ORDERS_CURSOR_SLOTS_LOG2, ORDERS_CURSOR_TTL_S);
    /* A count that moved means rows came or went: the anchors are stale at once. */
    app->orders_count->on_change = orders_anchors_stale;
    app->orders_count->on_change_data = &app->orders_anchors;
    return web_add_routes(r, orders_routes, sizeof orders_routes / sizeof orders_routes[0], app);
}

const api_resource_t api_orders_resource = {"orders", orders_register, NULL};
