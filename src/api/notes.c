/*
 * notes - the notes of seed 004 and the landing page that shows them.
 *
 * GET /api/v1/notes (newest first, bounded by `limit`), POST /api/v1/notes
 * ({"content"} -> 201 with the stored note), and GET / : the tutorial's
 * {"message":"Hello Lakehouse"} for API clients, or for a browser (Accept
 * ranks text/html first, see html.c) the "Hello from Lakebase!" page with
 * the five most recent notes. Note text is user input: it is HTML-escaped,
 * and the page also carries a Content-Security-Policy without scripts.
 */
#include <jansson.h>
#include <string.h>

#include "api/api_internal.h"
#include "web/html.h"

#define NOTES_TABLE       "public.notes"
#define NOTES_MAX_CONTENT 10000
#define NOTES_ON_PAGE     "5"

static const web_column_t notes_columns[] = {
    {"id", WEB_COL_INT},
    {"content", WEB_COL_TEXT},
    {"created_at", WEB_COL_TIMESTAMP},
};

static const char *const notes_write_cols[] = {"content"};

static const web_param_t param_limit = {
    .name = "limit",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 20, .has_min = true, .min = 1, .has_max = true, .max = 100},
    .description = "Most notes to return, newest first (max 100)"};

static const char *notes_params_one(http_exchange_t *ex, const char ***params, const char *v)
{
    *params = arena_alloc(http_exchange_arena(ex), sizeof(char *));
    (*params)[0] = v;
    return v;
}

/* ---- GET /api/v1/notes ---- */

typedef struct notes_req {
    http_exchange_t *ex;
    api_app_t *app;
    const char **params;
} notes_req_t;

static notes_req_t *notes_req_new(http_exchange_t *ex, api_app_t *app)
{
    notes_req_t *rq = arena_calloc(http_exchange_arena(ex), sizeof *rq);
    rq->ex = ex;
    rq->app = app;
    return rq;
}

static void notes_list_done(const db_result_t *r, void *data)
{
    notes_req_t *rq = data;
    if (!web_db_ok(rq->ex, r)) return;
    web_send_rows(rq->ex, &rq->app->notes, r->res, PQntuples(r->res));
}

static void notes_list_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    int64_t limit = 0;
    web_query_int(ex, &param_limit, &limit, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    notes_req_t *rq = notes_req_new(ex, app);
    notes_params_one(ex, &rq->params, web_i64_text(ex, limit));
    auth_db_query(rq->ex, app->pool, app->notes_sql.latest, 1, rq->params, notes_list_done, rq);
}

/* ---- POST /api/v1/notes ---- */

/* The body {"content": "<1..10000 characters>"}; returns an arena copy or NULL after a 422 item. */
static const char *notes_content_from_body(http_exchange_t *ex, web_errors_t *e)
{
    json_t *root = web_body_object(ex, e);
    if (!root) return NULL;
    const char *content = NULL;
    json_t *v = json_object_get(root, "content");
    if (!v)
        web_errors_add_body(e, "missing", "content", "Field required", root, NULL);
    else if (!json_is_string(v))
        web_errors_add_body(e, "string_type", "content", "Input should be a valid string", v, NULL);
    else if (web_body_string_length(e, "content", v, 1, NOTES_MAX_CONTENT))
        content =
            arena_strndup(http_exchange_arena(ex), json_string_value(v), json_string_length(v));
    web_body_forbid_extra(e, root, notes_write_cols, 1);
    json_decref(root);
    return content;
}

static void notes_create_done(const db_result_t *r, void *data)
{
    notes_req_t *rq = data;
    if (!web_db_ok(rq->ex, r)) return;
    web_send_row(rq->ex, 201, &rq->app->notes, r->res, 0);
}

static void notes_create_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    const char *content = notes_content_from_body(ex, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    notes_req_t *rq = notes_req_new(ex, app);
    notes_params_one(ex, &rq->params, content);
    auth_db_query(rq->ex, app->pool, app->notes_sql.insert, 1, rq->params, notes_create_done, rq);
}

/* ---- GET / : JSON for API clients, the HTML page for browsers ---- */

static const char landing_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>lakeapi</title>\n<style>\n"
    "body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;margin:0;"
    "background:#f6f7f9;color:#1b1f24}\n"
    "main{max-width:44rem;margin:3rem auto;padding:0 1.25rem}\n"
    "h1{font-size:2rem;margin:0 0 .25rem}\n"
    "h2{font-size:1.1rem;color:#555;margin:2rem 0 .75rem}\n"
    "ul{list-style:none;padding:0;margin:0}\n"
    "li{background:#fff;border:1px solid #e1e4e8;border-radius:8px;padding:.75rem 1rem;"
    "margin:.5rem 0;white-space:pre-wrap;overflow-wrap:anywhere}\n"
    "time{display:block;color:#6a737d;font-size:.85rem;margin-top:.25rem}\n"
    "a{color:#0b63c5}\nfooter{margin-top:2rem;font-size:.95rem}\n"
    "</style>\n</head>\n<body>\n<main>\n<h1>Hello from Lakebase!</h1>\n"
    "<h2>Recent Notes:</h2>\n";

static const char landing_foot[] =
    "<footer><a href=\"/docs\">API documentation</a> &middot; "
    "<a href=\"/openapi.json\">OpenAPI</a></footer>\n</main>\n</body>\n</html>\n";

/* One note: its text, then when it was written ("2026-01-02 03:04:05", fraction cut). */
static void landing_note(buf_t *b, const PGresult *res, int row)
{
    buf_append_str(b, "<li>");
    web_html_escape(b, PQgetvalue(res, row, 1), (size_t)PQgetlength(res, row, 1));
    if (!PQgetisnull(res, row, 2)) {
        const char *ts = PQgetvalue(res, row, 2);
        size_t len = strcspn(ts, ".");
        buf_append_str(b, "<time>");
        web_html_escape(b, ts, len);
        buf_append_str(b, "</time>");
    }
    buf_append_str(b, "</li>\n");
}

static void landing_page_done(const db_result_t *r, void *data)
{
    http_exchange_t *ex = data;
    if (!web_db_ok(ex, r)) return;
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    buf_append(b, landing_head, sizeof landing_head - 1);
    int n = PQntuples(r->res);
    if (n == 0) {
        buf_append_str(b, "<p>No notes yet.</p>\n");
    } else {
        buf_append_str(b, "<ul>\n");
        for (int i = 0; i < n; i++)
            landing_note(b, r->res, i);
        buf_append_str(b, "</ul>\n");
    }
    buf_append(b, landing_foot, sizeof landing_foot - 1);
    /* Defence in depth: even an escaping bug could not run a script on this page. */
    http_exchange_add_header(ex, "Content-Security-Policy",
                             "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                             "form-action 'none'; frame-ancestors 'none'");
    http_exchange_add_header(ex, "X-Content-Type-Options", "nosniff");
    http_exchange_send(ex, 200, "text/html; charset=utf-8");
}

static void landing_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    /* The representation depends on Accept: caches must keep them apart. */
    http_exchange_add_header(ex, "Vary", "Accept");
    if (web_accept_prefers_html(http_exchange_header(ex, "Accept", NULL))) {
        const char **params;
        notes_params_one(ex, &params, NOTES_ON_PAGE);
        auth_db_query(ex, app->pool, app->notes_sql.latest, 1, params, landing_page_done, ex);
        return;
    }
    web_send_field(ex, 200, "message", "Hello Lakehouse");
}

/* ---- routes and what OpenAPI says about them ---- */

static const web_param_t *const params_list[] = {&param_limit, NULL};

static const web_response_doc_t resp_root[] = {
    {200, "Message", "{\"message\":\"Hello Lakehouse\"}, or the HTML page for a browser"},
    WEB_DB_ERRORS,
    {0}};
static const web_response_doc_t resp_list[] = {
    {200, "NoteList", "The most recent notes, newest first"}, WEB_422, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_create[] = {
    {201, "NoteRead", "The stored note"}, WEB_422, WEB_DB_ERRORS, {0}};

static const web_route_t notes_routes[] = {
    {HTTP_GET,
     "/",
     landing_handler,
     {"root", "Landing message (JSON), or the landing page for browsers", "default", NULL, NULL,
      resp_root}},
    {HTTP_GET,
     "/api/v1/notes",
     notes_list_handler,
     {"list_notes", "List the most recent notes", "notes", params_list, NULL, resp_list}},
    {HTTP_POST,
     "/api/v1/notes",
     notes_create_handler,
     {"create_note", "Create a note", "notes", NULL, "NoteCreate", resp_create}},
};

/* ---- registration ---- */

static int notes_register(api_app_t *app, router_t *r)
{
    web_table_t *t = &app->notes;
    if (web_table_init(t, NOTES_TABLE, "id", notes_columns,
                       (int)(sizeof notes_columns / sizeof notes_columns[0])) != 0)
        return -1;
    app->notes_sql.latest = api_prepare(app, web_sql_latest(t, "created_at"), 1, DB_STMT_READ);
    app->notes_sql.insert =
        api_prepare(app, web_sql_insert(t, notes_write_cols, 1), 1, DB_STMT_WRITE);
    return web_add_routes(r, notes_routes, sizeof notes_routes / sizeof notes_routes[0], app);
}

const api_resource_t api_notes_resource = {"notes", notes_register, NULL};
