/*
 * resources - the Lakebase resource lifecycle routes of the tutorial
 * (SPEC section 4):
 *
 *   POST   /api/v1/resources/create-lakebase-resources?create_resources=true
 *          [&capacity=CU_1&node_count=1&enable_readable_secondaries=false
 *           &retention_window_in_days=7]
 *   DELETE /api/v1/resources/delete-lakebase-resources?confirm_deletion=true
 *   GET    /api/v1/resources/status
 *
 * The flags are required, as in the tutorial; false answers 200 saying what
 * would have happened and calls nothing. Creation answers as soon as the
 * three lookups are back - 202 with what it started, or 200 when everything
 * already exists - and the job (resources_job.c) goes on in the background;
 * the status route reports it. Deletion is quick on the Databricks side
 * (the instance is purged asynchronously there), so the delete request
 * waits for its three calls - synced table, catalog, instance, in that
 * order, each attempted whatever the previous one did - and reports each.
 *
 * Errors: a failed Databricks call is a 502 (503 when there was no answer,
 * or it said 429/503) naming the call, its HTTP status, error_code and
 * message - never a token (the workspace layer scrubs them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resources.h"
#include "lakeapi/log.h"

/* ---- declared parameters ---- */

static const char *const capacity_choices[] = {"CU_1", "CU_2", "CU_4", "CU_8", NULL};

static const web_param_t param_create = {
    .name = "create_resources",
    .in = "query",
    .type = WEB_PARAM_BOOL,
    .required = true,
    .description = "This creates resources in your Databricks workspace that incur costs: set it "
                   "to true to acknowledge that. false only says what would be created."};
static const web_param_t param_capacity = {.name = "capacity",
                                           .in = "query",
                                           .type = WEB_PARAM_STRING,
                                           .choices = capacity_choices,
                                           .str_default = "CU_1",
                                           .description =
                                               "Capacity of the Lakebase database instance"};
static const web_param_t param_node_count = {
    .name = "node_count",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 1, .has_min = true, .min = 1, .has_max = true, .max = 3},
    .description = "Nodes of the instance: 1 primary and up to 2 secondaries"};
static const web_param_t param_secondaries = {.name = "enable_readable_secondaries",
                                              .in = "query",
                                              .type = WEB_PARAM_BOOL,
                                              .bool_default = false,
                                              .description =
                                                  "Serve read-only traffic from the secondaries"};
static const web_param_t param_retention = {
    .name = "retention_window_in_days",
    .in = "query",
    .type = WEB_PARAM_INT,
    .rule = {.def = 7, .has_min = true, .min = 2, .has_max = true, .max = 35},
    .description = "Point-in-time restore window of the instance, in days"};
static const web_param_t param_confirm = {
    .name = "confirm_deletion",
    .in = "query",
    .type = WEB_PARAM_BOOL,
    .required = true,
    .description = "This permanently deletes the synced table, the catalog and the database "
                   "instance (purged): set it to true to confirm."};

/* A required bool: FastAPI's "missing" item when absent. */
static bool res_query_required_bool(http_exchange_t *ex, const web_param_t *p, bool *out,
                                    web_errors_t *e)
{
    return web_query_present(ex, p, e) && web_query_bool(ex, p, out, e);
}

/* A string out of p->choices, with pydantic's "enum" item otherwise. */
static bool res_query_choice(http_exchange_t *ex, const web_param_t *p, const char **out,
                             web_errors_t *e)
{
    const char *raw = http_exchange_query(ex, p->name, NULL);
    if (!raw) {
        *out = p->str_default;
        return true;
    }
    for (const char *const *c = p->choices; *c; c++) {
        if (strcmp(raw, *c) == 0) {
            *out = *c;
            return true;
        }
    }
    buf_t expected, ctx;
    buf_init(&expected);
    buf_init(&ctx);
    for (const char *const *c = p->choices; *c; c++)
        buf_printf(&expected, "%s'%s'", c == p->choices ? "" : c[1] ? ", " : " or ", *c);
    json_writer_t w;
    jw_init(&w, &ctx);
    jw_object_begin(&w);
    jw_kv_string(&w, "expected", expected.data);
    jw_object_end(&w);
    char msg[160];
    snprintf(msg, sizeof msg, "Input should be %s", expected.data);
    web_errors_add(e, "enum", "query", p->name, msg, raw, ctx.data);
    buf_dispose(&expected);
    buf_dispose(&ctx);
    return false;
}

/* ---- shared answers ---- */

/* 503 when the names or the workspace are not configured; returns false after answering. */
static bool res_require_config(http_exchange_t *ex, api_app_t *app)
{
    api_resources_t *r = app->resources;
    char detail[512];
    if (r->missing[0]) {
        snprintf(detail, sizeof detail, "Lakebase resources are not configured: set %s",
                 r->missing);
    } else if (!app->workspace) {
        char why[300] = "the workspace client is not available";
        workspace_check_config(app->cfg, why, sizeof why);
        snprintf(detail, sizeof detail, "Lakebase resources need the Databricks workspace: %s",
                 why);
    } else {
        return true;
    }
    web_send_detail(ex, 503, detail);
    return false;
}

static void res_send_upstream_error(res_reply_t *rp, const res_job_t *job)
{
    const res_error_t *err = NULL;
    for (int k = 0; k < RES_NSTEPS && !err; k++)
        if (job->steps[k].error.set) err = &job->steps[k].error;
    char msg[2048];
    res_job_message(job, msg, sizeof msg);
    int status = err ? res_upstream_status(err->http_status) : 502;
    json_writer_t w;
    res_reply_json(rp, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "detail", msg);
    if (err) res_error_encode(&w, err);
    jw_object_end(&w);
    res_reply_send(rp, status, status == 503 ? 5 : 0);
}

void res_answer_create(res_reply_t *rp, const res_job_t *job)
{
    if (job->state == RES_JOB_FAILED) {
        res_send_upstream_error(rp, job);
        return;
    }
    if (job->state == RES_JOB_CANCELLED) {
        res_reply_detail(rp, 409, "Resource creation was cancelled by a delete request");
        return;
    }
    char msg[2048];
    res_plan_message(job, msg, sizeof msg);
    json_writer_t w;
    res_reply_json(rp, &w);
    res_job_encode(&w, job, msg);
    res_reply_send(rp, res_job_nothing_to_create(job) ? 200 : 202, 0);
}

/* ---- POST create-lakebase-resources ---- */

static void res_not_created(http_exchange_t *ex, const api_resources_t *r, const res_options_t *opt)
{
    char msg[1600];
    const res_names_t *nm = &r->names;
    int n = snprintf(msg, sizeof msg,
                     "No resources were created (create_resources=False). With "
                     "create_resources=true: database instance %s (%s, %d node%s), database "
                     "catalog %s and synced table %s from %s; the instance incurs costs while it "
                     "exists.",
                     nm->instance[0] ? nm->instance : "<LAKEBASE_INSTANCE_NAME>", opt->capacity,
                     opt->node_count, opt->node_count == 1 ? "" : "s",
                     nm->catalog[0] ? nm->catalog : "<LAKEBASE_CATALOG_NAME>", nm->synced,
                     RES_SOURCE_TABLE);
    if (r->missing[0] && n > 0 && (size_t)n < sizeof msg)
        snprintf(msg + n, sizeof msg - (size_t)n, " Not configured yet: set %s.", r->missing);
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_kv_string(&w, "instance", "");
    jw_kv_string(&w, "catalog", "");
    jw_kv_string(&w, "synced_table", "");
    jw_kv_string(&w, "message", msg);
    jw_kv_string(&w, "state", "idle");
    jw_key(&w, "steps");
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    web_send_json(ex, 200);
}

static void res_create_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    api_resources_t *r = app->resources;
    web_errors_t e;
    web_errors_init(&e);
    bool create = false;
    const char *capacity = NULL;
    int64_t nodes = 1, retention = 7;
    res_options_t opt = {0};
    res_query_required_bool(ex, &param_create, &create, &e);
    res_query_choice(ex, &param_capacity, &capacity, &e);
    web_query_int(ex, &param_node_count, &nodes, &e);
    web_query_bool(ex, &param_secondaries, &opt.readable_secondaries, &e);
    web_query_int(ex, &param_retention, &retention, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    snprintf(opt.capacity, sizeof opt.capacity, "%s", capacity);
    opt.node_count = (int)nodes;
    opt.retention_days = (int)retention;
    if (!create) {
        res_not_created(ex, r, &opt);
        return;
    }
    if (!res_require_config(ex, app)) return;
    if (!res_is_home(r)) {
        res_forward(r, RES_OP_CREATE, &opt, ex);
        return;
    }
    res_create_run(r, res_reply_local(ex), &opt);
}

void res_create_run(api_resources_t *r, res_reply_t *rp, const res_options_t *opt)
{
    if (r->deleting) {
        res_reply_detail(rp, 409,
                         "A deletion of the Lakebase resources is in progress; create "
                         "them again once it has finished");
        return;
    }
    if (r->job && r->job->state == RES_JOB_CHECKING) {
        res_job_add_waiter(r, rp); /* answered with the running job's findings */
        return;
    }
    if (r->job && r->job->state == RES_JOB_RUNNING) {
        char msg[2048], now[1900];
        res_job_message(r->job, now, sizeof now);
        snprintf(msg, sizeof msg,
                 "Resource creation is already in progress; nothing new was "
                 "started. %s",
                 now);
        json_writer_t w;
        res_reply_json(rp, &w);
        res_job_encode(&w, r->job, msg);
        res_reply_send(rp, 202, 0);
        return;
    }
    res_job_start(r, opt, rp);
}

/* ---- DELETE delete-lakebase-resources ---- */

static const res_kind_t del_order[RES_NSTEPS] = {RES_SYNCED, RES_CATALOG, RES_INSTANCE};

/* One delete request (malloc'd: its request may be another loop's); freed once answered. */
typedef struct res_delete {
    res_reply_t *rp;
    api_resources_t *r;
    res_names_t names;
    int step; /* index into del_order */
    res_del_t result[RES_NSTEPS];
    res_error_t error[RES_NSTEPS];
} res_delete_t;

/* The tutorial's labels: "Synced table: x", "Catalog: x", "Database instance: x". */
static const char *res_delete_label(res_kind_t kind)
{
    return kind == RES_SYNCED    ? "Synced table"
           : kind == RES_CATALOG ? "Catalog"
                                 : "Database instance";
}

static void res_delete_list(json_writer_t *w, const res_delete_t *d, const char *key,
                            res_del_t which)
{
    jw_key(w, key);
    jw_array_begin(w);
    for (int i = 0; i < RES_NSTEPS; i++) {
        res_kind_t k = del_order[i];
        if (d->result[i] != which) continue;
        char line[1400];
        int n =
            snprintf(line, sizeof line, "%s: %s", res_delete_label(k), res_kind_name(k, &d->names));
        if (which == RES_DEL_FAILED && n > 0 && (size_t)n < sizeof line)
            snprintf(line + n, sizeof line - (size_t)n, " - %s", d->error[i].detail);
        jw_cstring(w, line);
    }
    jw_array_end(w);
}

static void res_delete_finish(res_delete_t *d)
{
    static const char *const results[] = {"pending", "deleted", "not_found", "failed"};
    int count[4] = {0};
    for (int i = 0; i < RES_NSTEPS; i++)
        count[d->result[i]]++;
    char msg[256];
    res_delete_message(count[RES_DEL_DELETED], count[RES_DEL_NOT_FOUND], count[RES_DEL_FAILED], msg,
                       sizeof msg);
    d->r->deleting = false;
    d->r->del = NULL;
    log_msg(count[RES_DEL_FAILED] ? LOG_WARN : LOG_INFO, "lakebase resources: %s", msg);
    json_writer_t w;
    res_reply_json(d->rp, &w);
    jw_object_begin(&w);
    res_delete_list(&w, d, "deleted_resources", RES_DEL_DELETED);
    res_delete_list(&w, d, "failed_deletions", RES_DEL_FAILED);
    res_delete_list(&w, d, "not_found_resources", RES_DEL_NOT_FOUND);
    jw_kv_string(&w, "message", msg);
    jw_key(&w, "steps");
    jw_array_begin(&w);
    for (int i = 0; i < RES_NSTEPS; i++) {
        jw_object_begin(&w);
        jw_kv_string(&w, "resource", res_kind_key(del_order[i]));
        jw_kv_string(&w, "name", res_kind_name(del_order[i], &d->names));
        jw_kv_string(&w, "result", results[d->result[i]]);
        res_error_encode(&w, &d->error[i]);
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    res_reply_send(d->rp, count[RES_DEL_FAILED] ? 502 : 200, 0);
    free(d);
}

void res_delete_dispose(api_resources_t *r)
{
    if (!r->del) return; /* its call was dropped with the workspace client */
    res_reply_abandon(r->del->rp);
    free(r->del);
    r->del = NULL;
}

static void res_delete_next(res_delete_t *d);

static void res_delete_record(res_delete_t *d, const workspace_response_t *res)
{
    int i = d->step;
    res_kind_t kind = del_order[i];
    if (res->status >= 200 && res->status < 300) {
        d->result[i] = RES_DEL_DELETED;
        log_info("lakebase resources: deleted %s %s", res_kind_label(kind),
                 res_kind_name(kind, &d->names));
    } else if (res_is_not_found(res->status, res->error_code)) {
        d->result[i] = RES_DEL_NOT_FOUND;
    } else {
        char what[700];
        snprintf(what, sizeof what, "deleting %s %s", res_kind_label(kind),
                 res_kind_name(kind, &d->names));
        res_step_t tmp = {.kind = kind};
        res_step_fail(&tmp, "delete", res, what);
        d->error[i] = tmp.error;
        d->result[i] = RES_DEL_FAILED;
    }
}

static void res_delete_on_answer(const workspace_response_t *res, void *data)
{
    res_delete_t *d = data;
    res_delete_record(d, res);
    d->step++;
    res_delete_next(d);
}

static void res_delete_next(res_delete_t *d)
{
    for (; d->step < RES_NSTEPS; d->step++) {
        res_kind_t kind = del_order[d->step];
        /* purge=true: the API requires it (soft delete is not offered for instances). */
        char *path = res_resource_path(kind, &d->names, kind == RES_INSTANCE ? "purge=true" : NULL);
        int rc = workspace_call(d->r->app->workspace, WORKSPACE_DELETE, path, NULL,
                                RES_CALL_TIMEOUT_S, res_delete_on_answer, d);
        free(path);
        if (rc == 0) return;
        workspace_response_t none = {
            .error = "cannot start the request", .error_code = "", .message = ""};
        res_delete_record(d, &none);
    }
    res_delete_finish(d);
}

static void res_not_deleted(http_exchange_t *ex, const api_resources_t *r)
{
    char msg[1600];
    const res_names_t *nm = &r->names;
    snprintf(msg, sizeof msg,
             "No resources were deleted (confirm_deletion=False). With confirm_deletion=true: "
             "synced table %s, database catalog %s and database instance %s (purged), in that "
             "order.",
             nm->synced, nm->catalog[0] ? nm->catalog : "<LAKEBASE_CATALOG_NAME>",
             nm->instance[0] ? nm->instance : "<LAKEBASE_INSTANCE_NAME>");
    json_writer_t w;
    web_json_begin(ex, &w);
    jw_object_begin(&w);
    jw_key(&w, "deleted_resources");
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_key(&w, "failed_deletions");
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_kv_string(&w, "message", msg);
    jw_object_end(&w);
    web_send_json(ex, 200);
}

static void res_delete_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    api_resources_t *r = app->resources;
    web_errors_t e;
    web_errors_init(&e);
    bool confirm = false;
    res_query_required_bool(ex, &param_confirm, &confirm, &e);
    if (web_send_errors_if_any(ex, &e)) return;
    if (!confirm) {
        res_not_deleted(ex, r);
        return;
    }
    if (!res_require_config(ex, app)) return;
    if (!res_is_home(r)) {
        res_forward(r, RES_OP_DELETE, NULL, ex);
        return;
    }
    res_delete_run(r, res_reply_local(ex));
}

void res_delete_run(api_resources_t *r, res_reply_t *rp)
{
    if (r->deleting) {
        res_reply_detail(rp, 409, "A deletion of the Lakebase resources is already in progress");
        return;
    }
    res_job_cancel(r); /* a creation in progress would race the deletes */
    r->deleting = true;
    res_delete_t *d = calloc(1, sizeof *d);
    if (!d) abort();
    d->rp = rp;
    d->r = r;
    r->del = d;
    d->names = r->names;
    log_info("lakebase resources: deleting synced table %s, catalog %s, instance %s",
             d->names.synced, d->names.catalog, d->names.instance);
    res_delete_next(d);
}

/* ---- GET status ---- */

static void res_status_handler(http_exchange_t *ex, void *data)
{
    api_app_t *app = data;
    api_resources_t *r = app->resources;
    if (!res_is_home(r)) {
        res_forward(r, RES_OP_STATUS, NULL, ex);
        return;
    }
    res_status_run(r, res_reply_local(ex));
}

void res_status_run(api_resources_t *r, res_reply_t *rp)
{
    api_app_t *app = r->app;
    json_writer_t w;
    res_reply_json(rp, &w);
    if (r->job) {
        res_job_encode(&w, r->job, NULL);
    } else {
        res_job_t idle;
        res_job_init(&idle, &r->names, NULL, 0);
        idle.state = RES_JOB_IDLE;
        char msg[800], why[300];
        int n = snprintf(msg, sizeof msg,
                         "No resource creation has run since the server started: POST "
                         "/api/v1/resources/create-lakebase-resources?create_resources=true "
                         "creates them, or resumes watching the ones that exist.");
        if (n > 0 && (size_t)n < sizeof msg) {
            if (r->missing[0])
                snprintf(msg + n, sizeof msg - (size_t)n, " Not configured yet: set %s.",
                         r->missing);
            else if (!app->workspace && workspace_check_config(app->cfg, why, sizeof why) != 0)
                snprintf(msg + n, sizeof msg - (size_t)n, " Not configured yet: %s.", why);
        }
        res_job_encode(&w, &idle, msg);
    }
    res_reply_send(rp, 200, 0);
}

/* ---- routes ---- */

static const web_param_t *const params_create[] = {
    &param_create, &param_capacity, &param_node_count, &param_secondaries, &param_retention, NULL};
static const web_param_t *const params_delete[] = {&param_confirm, NULL};

static const web_response_doc_t resp_create[] = {
    {200, "LakebaseResourcesResponse",
     "Nothing created: create_resources=false, or every resource already exists"},
    {202, "LakebaseResourcesResponse", "Creation started; follow it at /api/v1/resources/status"},
    {409, "HTTPError", "A deletion is in progress, or it cancelled this creation"},
    WEB_422,
    {502, "LakebaseError", "The Databricks API refused a call (its status and error_code)"},
    {503, "LakebaseError", "Not configured, or the workspace could not be reached"},
    {0}};
static const web_response_doc_t resp_delete[] = {
    {200, "LakebaseResourcesDeleteResponse", "Every resource is gone (or never existed)"},
    {409, "HTTPError", "A deletion is already in progress"},
    WEB_422,
    {502, "LakebaseResourcesDeleteResponse", "Some deletions failed: the report says which"},
    {503, "HTTPError", "Not configured"},
    {0}};
static const web_response_doc_t resp_status[] = {
    {200, "LakebaseResourcesResponse", "The last creation job, step by step"}, {0}};

static const web_route_t res_routes[] = {
    {HTTP_POST,
     "/api/v1/resources/create-lakebase-resources",
     res_create_handler,
     {"create_lakebase_resources", "Create Lakebase Resources", "resources", params_create, NULL,
      resp_create}},
    {HTTP_DELETE,
     "/api/v1/resources/delete-lakebase-resources",
     res_delete_handler,
     {"delete_lakebase_resources", "Delete Lakebase Resources", "resources", params_delete, NULL,
      resp_delete}},
    {HTTP_GET,
     "/api/v1/resources/status",
     res_status_handler,
     {"lakebase_resources_status", "Lakebase resource creation progress", "resources", NULL, NULL,
      resp_status}},
};

static int resources_register(api_app_t *app, router_t *router)
{
    api_resources_t *r = calloc(1, sizeof *r);
    if (!r) return -1;
    r->app = app;
    res_names_from_config(app->cfg, &r->names, r->missing, sizeof r->missing);
    app->resources = r;
    return web_add_routes(router, res_routes, sizeof res_routes / sizeof res_routes[0], app);
}

static void resources_dispose(api_app_t *app)
{
    if (!app->resources) return;
    res_job_dispose(app->resources);
    res_delete_dispose(app->resources);
    res_home_leave(app->resources);
    free(app->resources);
    app->resources = NULL;
}

void api_app_set_workspace(api_app_t *app, workspace_t *workspace)
{
    app->workspace = workspace;
}

const api_resource_t api_resources_resource = {"resources", resources_register, resources_dispose};
