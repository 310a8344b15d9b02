/*
 * rest/handler - the one route `<REST_PREFIX>/{table}`: picks the snapshot,
 * the schema (Accept-Profile for reads, Content-Profile for writes, as
 * PostgREST does), the table, parses the query string, Prefer, Accept and
 * Range, then hands the request to read.c or write.c. The request keeps a
 * reference to the snapshot it started with until it has answered, so a
 * reload never changes the catalog under it.
 */
#include <string.h>
#include <strings.h>

#include "auth/auth.h"
#include "rest/export.h"
#include "rest/rest.h"

#define REST_JSON   "application/json; charset=utf-8"
#define REST_OBJECT "application/vnd.pgrst.object+json"

void rest_req_query(rest_req_t *rq, const char *sql, const rest_sql_t *s, db_stmt_kind_t kind,
                    db_result_fn cb)
{
    db_pool_t *pool = rq->app->pool;
    int id = db_pool_stmt_for_sql(pool, sql, s->nparams, kind);
    auth_db_query(rq->ex, pool, id, s->nparams, s->params, cb, rq);
}

bool rest_req_has_role(const rest_req_t *rq)
{
    const auth_identity_t *id = auth_identity(rq->ex);
    return id && id->role;
}

void rest_req_send(rest_req_t *rq, int status, const char *content_type)
{
    rest_snapshot_t *snap = rq->snap;
    rq->snap = NULL;
    if (rq->head) buf_reset(http_exchange_body_buf(rq->ex));
    http_exchange_send(rq->ex, status, content_type);
    rest_snapshot_unref(snap);
}

void rest_req_fail(rest_req_t *rq, const rest_error_t *e)
{
    rest_snapshot_t *snap = rq->snap;
    rq->snap = NULL;
    rest_send_error(rq->ex, e);
    rest_snapshot_unref(snap);
}

void rest_req_db_fail(rest_req_t *rq, const db_result_t *r)
{
    rest_snapshot_t *snap = rq->snap;
    rq->snap = NULL;
    rest_send_db_error(rq->ex, r);
    rest_snapshot_unref(snap);
}

static int hd_schema(rest_app_t *app, http_exchange_t *ex, bool read, const char **schema,
                     rest_error_t *e)
{
    arena_t *a = http_exchange_arena(ex);
    const char *p = http_exchange_header(ex, read ? "Accept-Profile" : "Content-Profile", NULL);
    *schema = p && *p ? p : app->snap->schemas[0];
    if (rest_snapshot_has_schema(app->snap, *schema)) return 0;
    buf_t list;
    buf_init(&list);
    for (int i = 0; i < app->nschemas; i++)
        buf_printf(&list, "%s%s", i ? ", " : "", app->schemas[i]);
    char *hint = arena_sprintf(a, "Only the following schemas are exposed: %s", list.data);
    buf_dispose(&list);
    return rest_error_set(e, a, 406, "PGRST106", arena_sprintf(a, "Invalid schema: %s", *schema),
                          NULL, hint);
}

static int hd_table(rest_app_t *app, http_exchange_t *ex, const char *schema, const char *name,
                    const rest_table_t **t, rest_error_t *e)
{
    *t = rest_snapshot_table(app->snap, schema, name);
    if (*t) return 0;
    arena_t *a = http_exchange_arena(ex);
    const char *near = rest_closest_table(app->snap, schema, name);
    char *hint =
        near ? arena_sprintf(a, "Perhaps you meant the table '%s.%s'", schema, near) : NULL;
    char *msg =
        arena_sprintf(a, "Could not find the table '%s.%s' in the schema cache", schema, name);
    return rest_error_set(e, a, 404, "PGRST205", msg, NULL, hint);
}

/* Accept: the singular object, JSON (or anything), or 406. */
static int hd_accept(rest_req_t *rq, rest_error_t *e)
{
    const char *acc = http_exchange_header(rq->ex, "Accept", NULL);
    if (!acc || !*acc) return 0;
    rq->export_fmt = (int)rest_export_format_from_accept(acc);
    if (rq->export_fmt) return 0;
    if (strcasestr(acc, REST_OBJECT)) {
        rq->singular = true;
        return 0;
    }
    if (strcasestr(acc, "application/json") || strstr(acc, "*/*") ||
        strcasestr(acc, "application/*"))
        return 0;
    arena_t *a = http_exchange_arena(rq->ex);
    return rest_error_set(e, a, 406, "PGRST107",
                          arena_sprintf(a, "None of these media types are available: %s", acc),
                          NULL, NULL);
}

static int hd_parse(rest_req_t *rq, rest_error_t *e)
{
    http_exchange_t *ex = rq->ex;
    arena_t *a = http_exchange_arena(ex);
    const char *raw = http_exchange_raw_query(ex);
    if (rest_parse_query(a, raw, strlen(raw), &rq->app->limits, &rq->q, e)) return -1;
    if (rest_parse_prefer(a, http_exchange_header(ex, "Prefer", NULL), &rq->prefer, e)) return -1;
    if (hd_accept(rq, e)) return -1;
    rq->offset = rq->q.scopes[0].offset;
    rq->limit = rq->q.scopes[0].limit;
    if (rq->head || http_exchange_method(ex) == HTTP_GET) {
        long off = 0, lim = -1;
        if (rest_parse_range(a, http_exchange_header(ex, "Range", NULL),
                             http_exchange_header(ex, "Range-Unit", NULL), &off, &lim, e))
            return -1;
        /* The Range header and limit/offset combine as PostgREST does: offsets add, limits meet. */
        rq->offset += off;
        if (lim >= 0 && (rq->limit < 0 || lim < rq->limit)) rq->limit = lim;
    }
    return 0;
}

void rest_handler(http_exchange_t *ex, void *data)
{
    rest_app_t *app = data;
    arena_t *a = http_exchange_arena(ex);
    rest_error_t e = {0};
    if (!app->snap) {
        http_exchange_add_header(ex, "Retry-After", "1");
        rest_error_set(&e, a, 503, "PGRST002",
                       "Could not query the database for the schema cache. Retrying.", NULL, NULL);
        rest_send_error(ex, &e);
        return;
    }
    http_method_t m = http_exchange_method(ex);
    bool read = m == HTTP_GET || m == HTTP_HEAD;
    const char *schema;
    const rest_table_t *t;
    if (hd_schema(app, ex, read, &schema, &e) ||
        hd_table(app, ex, schema, http_exchange_param(ex, 0), &t, &e)) {
        rest_send_error(ex, &e);
        return;
    }
    rest_req_t *rq = arena_calloc(a, sizeof *rq);
    rq->ex = ex;
    rq->app = app;
    rq->t = t;
    rq->head = m == HTTP_HEAD;
    rq->total = -1;
    rq->snap = rest_snapshot_ref(app->snap);
    if (hd_parse(rq, &e)) {
        rest_req_fail(rq, &e);
        return;
    }
    if (app->nschemas > 1) http_exchange_add_header(ex, "Content-Profile", schema);
    if (rq->prefer.applied) http_exchange_add_header(ex, "Preference-Applied", rq->prefer.applied);
    rq->content_type = rq->singular ? REST_OBJECT "; charset=utf-8" : REST_JSON;
    if (read)
        rest_read(rq);
    else
        rest_write(rq);
}
