/*
 * users - the users CRUD of seed 000 over a million-row table, and the
 * bounded users list that replaces seed 003's "SELECT * FROM user".
 *
 * GET /user?id=N (array), POST /user, PUT /user/{id} (partial), DELETE
 * /user/{id}, GET /users/ (keyset list with a Link header). Every route is
 * one prepared statement: a write is a single statement, so it either fully
 * happens or not at all, and the pool acknowledges it only once committed.
 *
 * The body model is pydantic's with extra="forbid": every field optional
 * (null stores NULL), unknown fields, non-strings, over-long strings, bad
 * emails (EmailStr) and bad IPs (IPvAnyAddress) are 422 items, all of them
 * reported at once as pydantic does.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "api/api_internal.h"
#include "web/validate.h"

static const web_column_t users_columns[] = {
    {"id", WEB_COL_INT},     {"first_name", WEB_COL_TEXT}, {"last_name", WEB_COL_TEXT},
    {"email", WEB_COL_TEXT}, {"address", WEB_COL_TEXT},    {"ip_address", WEB_COL_TEXT},
};

/* ---- the body model: writable fields in declaration order (pydantic's error order) ---- */

typedef enum { USERS_TEXT, USERS_EMAIL, USERS_IP } users_kind_t;

typedef struct users_field {
    const char *name;
    users_kind_t kind;
    int max_length; /* characters; USERS_IP: checked by shape instead */
} users_field_t;

#define USERS_NFIELDS 5

static const users_field_t users_fields[USERS_NFIELDS] = {
    {"first_name", USERS_TEXT, 255}, {"last_name", USERS_TEXT, 255}, {"email", USERS_EMAIL, 255},
    {"address", USERS_TEXT, 1000},   {"ip_address", USERS_IP, 0},
};

static const char *const users_write_cols[USERS_NFIELDS] = {"first_name", "last_name", "email",
                                                            "address", "ip_address"};

/* A validated body: which fields were given and their values (arena copies; NULL = null). */
typedef struct users_body {
    bool set[USERS_NFIELDS];
    const char *value[USERS_NFIELDS];
} users_body_t;

/* ---- declared parameters ---- */

static const web_param_t param_id_query = {.name = "id",
                                           .in = "query",
                                           .type = WEB_PARAM_INT,
                                           .required = true,
                                           .description = "The user id"};
static const web_param_t param_id_path = {.name = "id",
                                          .in = "path",
                                          .type = WEB_PARAM_INT,
                                          .required = true,
                                          .description = "The user id"};
static const web_param_t param_limit = {
    .name = "limit",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 100, .has_min = true, .min = 1, .has_max = true, .max = 1000},
    .description = "Most users to return (max 1000)"};
static const web_param_t param_after = {
    .name = "after",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 0},
    .description = "Return users whose id is greater than this (0 for the beginning)"};

/* State of one request while its store works. Lives in the request arena. */
typedef struct users_req {
    int64_t id, limit;
    const char *msg; /* an update or delete: its answer's "msg", or NULL */
} users_req_t;

static users_req_t *users_req_new(http_exchange_t *ex)
{
    return arena_calloc(http_exchange_arena(ex), sizeof(users_req_t));
}

static void users_cache_header(http_exchange_t *ex, const web_store_reply_t *r)
{
    if (r->cache) http_exchange_add_header(ex, "X-Lakeapi-Cache", r->cache);
}

/* An update or delete is answered {"user_id": id[, "msg": rq->msg]}, or 404 without the user. */
static void users_written_done(http_exchange_t *ex, const web_store_reply_t *r, void *data)
{
    users_req_t *rq = data;
    if (!r->found) {
        char detail[80];
        snprintf(detail, sizeof detail, "User with id '%lld' not found", (long long)rq->id);
        web_send_detail(ex, 404, detail);
        return;
    }
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_int(&w, "user_id", rq->id);
    if (rq->msg) jw_kv_string(&w, "msg", rq->msg);
    jw_object_end(&w);
    web_send_json(ex, 200);
}

/* ---- body validation ---- */

/* Checks one string against its field's rules; returns the value to store or NULL. */
static const char *users_check_string(http_exchange_t *ex, const users_field_t *f, const json_t *v,
                                      web_errors_t *e)
{
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!web_body_string_length(e, f->name, v, 0, f->max_length)) return NULL;
    if (f->kind == USERS_EMAIL) {
        char reason[256];
        if (!web_email_valid(s, len, reason, sizeof reason)) {
            char msg[320];
            snprintf(msg, sizeof msg, "value is not a valid email address: %s", reason);
            buf_t b;
            buf_init(&b);
            json_writer_t w;
            jw_init(&w, &b);
            jw_object_begin(&w);
            jw_kv_string(&w, "reason", reason);
            jw_object_end(&w);
            web_errors_add_body(e, "value_error", f->name, msg, v, b.data);
            buf_dispose(&b);
            return NULL;
        }
    }
    if (f->kind == USERS_IP) {
        char ip[WEB_IP_MAX];
        if (!web_ip_normalize(s, len, ip)) {
            web_errors_add_body(e, "ip_any_address", f->name,
                                "value is not a valid IPv4 or IPv6 address", v, NULL);
            return NULL;
        }
        return arena_strdup(http_exchange_arena(ex), ip);
    }
    return arena_strndup(http_exchange_arena(ex), s, len);
}

/* Validates the request body into out; items go to e. */
static void users_parse_body(http_exchange_t *ex, users_body_t *out, web_errors_t *e)
{
    memset(out, 0, sizeof *out);
    json_t *root = web_body_object(ex, e);
    if (!root) return;
    for (int i = 0; i < USERS_NFIELDS; i++) {
        const users_field_t *f = &users_fields[i];
        json_t *v = json_object_get(root, f->name);
        if (!v) continue;
        out->set[i] = true;
        if (json_is_null(v)) continue;
        if (!json_is_string(v))
            web_errors_add_body(e, "string_type", f->name, "Input should be a valid string", v,
                                NULL);
        else
            out->value[i] = users_check_string(ex, f, v, e);
    }
    web_body_forbid_extra(e, root, users_write_cols, USERS_NFIELDS);
    json_decref(root);
}

/* Parses path parameter 0 as the id; adds a 422 item on failure. */
static bool users_path_id(http_exchange_t *ex, int64_t *id, web_errors_t *e)
{
    return web_path_int(ex, 0, param_id_path.name, id, e);
}

/* ---- GET /user?id=N ---- */

/* The store wrote the rows into the body buffer. */
static void users_rows_done(http_exchange_t *ex, const web_store_reply_t *r, void *data)
{
    (void)data;
    users_cache_header(ex, r);
    web_send_json(ex, 200);
}

static void users_get_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    int64_t id = 0;
    if (web_query_present(ex, &param_id_query, &e)) web_query_int(ex, &param_id_query, &id, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    app->users_store.ops->get(app->users_store.self, ex, id, users_rows_done, NULL);
}

/* ---- POST /user ---- */

static void users_create_done(http_exchange_t *ex, const web_store_reply_t *r, void *data)
{
    (void)data;
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_int(&w, "user_id", r->key);
    jw_object_end(&w);
    web_send_json(ex, 200); /* the seed answers a creation with 200 */
}

static void users_create_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    users_body_t body;
    users_parse_body(ex, &body, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    app->users_store.ops->insert(app->users_store.self, ex, body.value, users_create_done, NULL);
}

/* ---- PUT /user/{id} ---- */

static void users_update_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    int64_t id = 0;
    users_body_t body;
    /* FastAPI validates the path and the body together and reports both. */
    users_path_id(ex, &id, &e);
    users_parse_body(ex, &body, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    users_req_t *rq = users_req_new(ex);
    rq->id = id;
    app->users_store.ops->update(app->users_store.self, ex, id, body.set, body.value,
                                 users_written_done, rq);
}

/* ---- DELETE /user/{id} ---- */

static void users_delete_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    int64_t id = 0;
    users_path_id(ex, &id, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    users_req_t *rq = users_req_new(ex);
    rq->id = id;
    rq->msg = "record deleted";
    app->users_store.ops->remove(app->users_store.self, ex, id, users_written_done, rq);
}

/* ---- GET /users/ : keyset list with a Link header while more remain ---- */

static void users_list_done(http_exchange_t *ex, const web_store_reply_t *r, void *data)
{
    users_req_t *rq = data;
    if (r->more) {
        char *link =
            arena_sprintf(http_exchange_arena(ex), "</users/?after=%lld&limit=%lld>; rel=\"next\"",
                          (long long)r->last_key, (long long)rq->limit);
        http_exchange_add_header(ex, "Link", link);
    }
    users_cache_header(ex, r);
    web_send_json(ex, 200);
}

static void users_list_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    web_errors_t e;
    web_errors_init(&e);
    int64_t after = 0, limit = 0;
    web_query_int(ex, &param_limit, &limit, &e);
    web_query_int(ex, &param_after, &after, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    users_req_t *rq = users_req_new(ex);
    rq->limit = limit;
    app->users_store.ops->list(app->users_store.self, ex, after, limit, users_list_done, rq);
}

/* GET /users: FastAPI's redirect_slashes answer, keeping the query string. */
static void users_list_redirect(http_exchange_t *ex, void *data)
{
    (void)data;
    const char *q = http_exchange_raw_query(ex);
    char *to = arena_sprintf(http_exchange_arena(ex), "/users/%s%s", *q ? "?" : "", q);
    http_exchange_add_header(ex, "Location", to);
    buf_reset(http_exchange_body_buf(ex));
    http_exchange_send(ex, 307, NULL);
}

/* ---- routes and what OpenAPI says about them ---- */

static const web_param_t *const params_get[] = {&param_id_query, NULL};
static const web_param_t *const params_path[] = {&param_id_path, NULL};
static const web_param_t *const params_list[] = {&param_limit, &param_after, NULL};

static const web_response_doc_t resp_get[] = {
    {200, "UserList", "The matching user (an empty array when there is none)"},
    WEB_422,
    WEB_DB_ERRORS,
    {0}};
static const web_response_doc_t resp_create[] = {
    {200, "UserId", "The new user's id"}, WEB_422, WEB_DB_ERRORS, {0}};
static const web_response_doc_t resp_update[] = {{200, "UserId", "The user was updated"},
                                                 {404, "HTTPError", "User not found"},
                                                 WEB_422,
                                                 WEB_DB_ERRORS,
                                                 {0}};
static const web_response_doc_t resp_delete[] = {{200, "UserDeleted", "The user was deleted"},
                                                 {404, "HTTPError", "User not found"},
                                                 WEB_422,
                                                 WEB_DB_ERRORS,
                                                 {0}};
static const web_response_doc_t resp_list[] = {
    {200, "UserList", "Users in id order; a Link header (rel=\"next\") while more remain"},
    WEB_422,
    WEB_DB_ERRORS,
    {0}};

static const web_route_t users_routes[] = {
    {HTTP_GET,
     "/user",
     users_get_handler,
     {"get_user", "Get a user by id", "users", params_get, NULL, resp_get}},
    {HTTP_POST,
     "/user",
     users_create_handler,
     {"create_user", "Create a user", "users", NULL, "UserWrite", resp_create}},
    {HTTP_PUT,
     "/user/{id:int}",
     users_update_handler,
     {"update_user", "Update some fields of a user", "users", params_path, "UserWrite",
      resp_update}},
    {HTTP_DELETE,
     "/user/{id:int}",
     users_delete_handler,
     {"delete_user", "Delete a user", "users", params_path, NULL, resp_delete}},
    {HTTP_GET,
     "/users/",
     users_list_handler,
     {"list_users", "List users in id order, a bounded page at a time", "users", params_list, NULL,
      resp_list}},
};

/* ---- registration ---- */

static int users_register(api_app_t *app, router_t *r)
{
    web_table_t *t = &app->users;
    if (web_table_init(t, app->cfg->users_table, "id", users_columns,
                       (int)(sizeof users_columns / sizeof users_columns[0])) != 0)
        return -1;
    /* Postgres unless api_users_use_lakehouse() swaps the store (USERS_BACKEND=lakehouse). */
    web_store_pg_init(&app->users_pg, &app->users_store, app->pool, auth_db_query, t,
                      users_write_cols, USERS_NFIELDS);
    if (web_add_routes(r, users_routes, sizeof users_routes / sizeof users_routes[0], app) != 0)
        return -1;
    return router_add(r, HTTP_GET, "/users", users_list_redirect, app, NULL);
}

const api_resource_t api_users_resource = {"users", users_register, NULL};

int api_users_use_lakehouse(api_app_t *app, lakehouse_t *lh, char *err, size_t errlen)
{
    web_store_t *store = lakehouse_store_new(lh, app->cfg->lakehouse_users_table, &app->users,
                                             users_write_cols, USERS_NFIELDS, err, errlen);
    if (!store) return -1;
    app->users_store = *store;
    return 0;
}
