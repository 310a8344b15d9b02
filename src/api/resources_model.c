/*
 * resources_model - the pure parts of the Lakebase resource lifecycle: the
 * names (from the settings), the Databricks request bodies, reading the
 * answers into step states, the state machine's next action, the messages
 * and the JSON of a job. No I/O: tests/unit/test_resources.c drives it.
 *
 * A job has three steps (instance, catalog, synced table). The lookups set
 * each one READY (exists and usable), PROVISIONING (exists, not ready yet:
 * an instance STARTING, a synced table still provisioning) or TO_CREATE
 * (404). Then the steps are driven strictly in order, because each needs
 * the previous one: a catalog is registered on an AVAILABLE instance, a
 * synced table lives in the catalog.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api/resources.h"

/* ---- names ---- */

static void model_copy(char *dst, size_t n, const char *src)
{
    snprintf(dst, n, "%s", src ? src : "");
}

int res_names_from_config(const config_t *cfg, res_names_t *nm, char *missing, size_t n)
{
    memset(nm, 0, sizeof *nm);
    model_copy(nm->instance, sizeof nm->instance, cfg->lakebase_instance_name);
    model_copy(nm->catalog, sizeof nm->catalog, cfg->lakebase_catalog_name);
    model_copy(nm->database, sizeof nm->database,
               cfg->pg_database ? cfg->pg_database : RES_DEFAULT_DATABASE);
    model_copy(nm->storage_catalog, sizeof nm->storage_catalog, cfg->synced_storage_catalog);
    model_copy(nm->storage_schema, sizeof nm->storage_schema, cfg->synced_storage_schema);
    model_copy(nm->host, sizeof nm->host, cfg->databricks_host);
    size_t hl = strlen(nm->host);
    while (hl > 0 && nm->host[hl - 1] == '/')
        nm->host[--hl] = '\0';
    /* The synced table is the table the orders API reads, inside the catalog. */
    const char *table = cfg->orders_table ? cfg->orders_table : "public.orders_synced";
    snprintf(nm->synced, sizeof nm->synced, "%s.%s%s", nm->catalog,
             strchr(table, '.') ? "" : "public.", table);

    const struct {
        const char *value, *setting;
    } need[] = {
        {nm->instance, "LAKEBASE_INSTANCE_NAME"},
        {nm->catalog, "LAKEBASE_CATALOG_NAME"},
        {nm->storage_catalog, "SYNCED_TABLE_STORAGE_CATALOG"},
        {nm->storage_schema, "SYNCED_TABLE_STORAGE_SCHEMA"},
    };
    missing[0] = '\0';
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (need[i].value[0]) continue;
        size_t k = strlen(missing);
        snprintf(missing + k, n - k, "%s%s", k ? ", " : "", need[i].setting);
    }
    return missing[0] ? -1 : 0;
}

/* ---- request bodies and paths ---- */

static char *model_dump(json_t *o)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!s) abort();
    return s;
}

char *res_instance_body(const res_names_t *nm, const res_options_t *opt)
{
    return model_dump(json_pack("{s:s,s:s,s:i,s:b,s:i}", "name", nm->instance, "capacity",
                                opt->capacity, "node_count", opt->node_count,
                                "enable_readable_secondaries", opt->readable_secondaries,
                                "retention_window_in_days", opt->retention_days));
}

char *res_catalog_body(const res_names_t *nm)
{
    return model_dump(json_pack("{s:s,s:s,s:s,s:b}", "name", nm->catalog, "database_instance_name",
                                nm->instance, "database_name", nm->database,
                                "create_database_if_not_exists", 1));
}

char *res_synced_body(const res_names_t *nm)
{
    json_t *spec = json_pack(
        "{s:s,s:[s],s:s,s:b,s:{s:s,s:s},s:s}", "source_table_full_name", RES_SOURCE_TABLE,
        "primary_key_columns", RES_PRIMARY_KEY, "timeseries_key", RES_TIMESERIES_KEY,
        "create_database_objects_if_missing", 1, "new_pipeline_spec", "storage_catalog",
        nm->storage_catalog, "storage_schema", nm->storage_schema, "scheduling_policy", "SNAPSHOT");
    return model_dump(json_pack("{s:s,s:s,s:s,s:o}", "name", nm->synced, "database_instance_name",
                                nm->instance, "logical_database_name", nm->database, "spec", spec));
}

const char *res_collection_path(res_kind_t kind)
{
    static const char *const paths[] = {"/api/2.0/database/instances", "/api/2.0/database/catalogs",
                                        "/api/2.0/database/synced_tables"};
    return paths[kind];
}

const char *res_kind_key(res_kind_t kind)
{
    static const char *const keys[] = {"database_instance", "database_catalog", "synced_table"};
    return keys[kind];
}

const char *res_kind_label(res_kind_t kind)
{
    static const char *const labels[] = {"database instance", "database catalog", "synced table"};
    return labels[kind];
}

const char *res_kind_name(res_kind_t kind, const res_names_t *nm)
{
    return kind == RES_INSTANCE ? nm->instance : kind == RES_CATALOG ? nm->catalog : nm->synced;
}

char *res_resource_path(res_kind_t kind, const res_names_t *nm, const char *query)
{
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, res_collection_path(kind));
    buf_append_char(&b, '/');
    workspace_escape_segment(&b, res_kind_name(kind, nm));
    if (query) buf_printf(&b, "?%s", query);
    return buf_steal(&b);
}

/* ---- reading answers ---- */

res_obs_t res_classify_instance(const char *state)
{
    if (!state || !*state) return RES_OBS_PROGRESS; /* not reported yet */
    if (strcmp(state, "AVAILABLE") == 0) return RES_OBS_READY;
    if (strcmp(state, "FAILING_OVER") == 0) return RES_OBS_PROGRESS; /* a secondary takes over */
    if (strcmp(state, "STOPPED") == 0 || strcmp(state, "DELETING") == 0 || strstr(state, "FAIL"))
        return RES_OBS_FAILED;
    return RES_OBS_PROGRESS; /* STARTING, UPDATING, and states added later */
}

res_obs_t res_classify_synced(const char *ds)
{
    if (!ds || !*ds) return RES_OBS_PROGRESS;
    if (strstr(ds, "FAILED") || strstr(ds, "OFFLINE")) return RES_OBS_FAILED;
    if (strncmp(ds, "SYNCED_TABLE_ONLINE", 19) == 0) return RES_OBS_READY;
    return RES_OBS_PROGRESS; /* PROVISIONING*, STATE_UNSPECIFIED */
}

int res_upstream_status(long http_status)
{
    return http_status == 0 || http_status == 429 || http_status == 503 ? 503 : 502;
}

bool res_is_not_found(long http_status, const char *code)
{
    return http_status == 404 && (!code || !*code || strcmp(code, "RESOURCE_DOES_NOT_EXIST") == 0 ||
                                  strcmp(code, "NOT_FOUND") == 0);
}

bool res_is_already_exists(long http_status, const char *code)
{
    return code &&
           (strcmp(code, "RESOURCE_ALREADY_EXISTS") == 0 || strcmp(code, "ALREADY_EXISTS") == 0) &&
           (http_status == 409 || http_status == 400);
}

/*
 * "<prefix><state><suffix>": suffix may quote what the workspace said, so it
 * is data, never part of a format (a message with "%n" once was: fuzz_databricks).
 */
static void model_fail_state(res_step_t *s, const char *prefix, const char *state,
                             const char *suffix)
{
    s->state = RES_STEP_FAILED;
    s->error.set = true;
    s->error.operation = "poll";
    s->error.http_status = 200;
    s->error.error_code[0] = '\0';
    snprintf(s->error.message, sizeof s->error.message, "%.230s%.63s%.100s", prefix, state, suffix);
    snprintf(s->error.detail, sizeof s->error.detail, "%s %s", res_kind_label(s->kind),
             s->error.message);
}

void res_step_observe(res_step_t *s, const char *body, size_t len)
{
    json_t *j = json_loadb(body ? body : "", len, 0, NULL);
    json_t *o = json_is_object(j) ? j : NULL;
    res_obs_t obs = RES_OBS_READY;
    if (s->kind == RES_INSTANCE) {
        const char *st = json_string_value(json_object_get(o, "state"));
        const char *dns = json_string_value(json_object_get(o, "read_write_dns"));
        if (st) model_copy(s->remote_state, sizeof s->remote_state, st);
        if (dns) model_copy(s->host, sizeof s->host, dns);
        obs = res_classify_instance(s->remote_state);
        if (obs == RES_OBS_FAILED)
            model_fail_state(s, "is ", s->remote_state,
                             ": it must be AVAILABLE (start it, or delete it and create it again)");
    } else if (s->kind == RES_SYNCED) {
        json_t *dss = json_object_get(o, "data_synchronization_status");
        const char *ds = json_string_value(json_object_get(dss, "detailed_state"));
        const char *pid = json_string_value(json_object_get(dss, "pipeline_id"));
        if (ds) model_copy(s->remote_state, sizeof s->remote_state, ds);
        if (pid && *pid) model_copy(s->pipeline_id, sizeof s->pipeline_id, pid);
        obs = res_classify_synced(s->remote_state);
        if (obs == RES_OBS_FAILED) {
            const char *msg = json_string_value(json_object_get(dss, "message"));
            char suffix[310];
            snprintf(suffix, sizeof suffix, "%s%.300s", msg && *msg ? ": " : "", msg ? msg : "");
            model_fail_state(s, "is ", s->remote_state, suffix);
        }
    }
    json_decref(j);
    if (obs == RES_OBS_READY) s->state = RES_STEP_READY;
    if (obs == RES_OBS_PROGRESS) s->state = RES_STEP_PROVISIONING;
}

void res_step_fail(res_step_t *s, const char *operation, const workspace_response_t *r,
                   const char *what)
{
    s->state = RES_STEP_FAILED;
    s->error.set = true;
    s->error.operation = operation;
    s->error.http_status = r->status;
    model_copy(s->error.error_code, sizeof s->error.error_code, r->error_code);
    model_copy(s->error.message, sizeof s->error.message,
               r->message && *r->message ? r->message : r->error);
    snprintf(s->error.detail, sizeof s->error.detail, "%s: %s", what,
             r->error ? r->error : "unexpected answer");
}

bool res_step_check_deadline(res_step_t *s, const res_names_t *nm, double now)
{
    if (s->state != RES_STEP_PROVISIONING || now - s->since < RES_STEP_DEADLINE_S) return false;
    char prefix[240];
    snprintf(prefix, sizeof prefix, "%.150s did not become ready within %.0f minutes (last state ",
             res_kind_name(s->kind, nm), RES_STEP_DEADLINE_S / 60);
    model_fail_state(s, prefix, s->remote_state[0] ? s->remote_state : "unknown",
                     "); check it in the workspace");
    s->error.operation = "wait";
    s->error.http_status = 0;
    return true;
}

/* ---- the state machine ---- */

void res_job_init(res_job_t *job, const res_names_t *nm, const res_options_t *opt, double now)
{
    memset(job, 0, sizeof *job);
    job->names = *nm;
    if (opt) job->opt = *opt;
    job->state = RES_JOB_CHECKING;
    job->started_at = now;
    for (int k = 0; k < RES_NSTEPS; k++) {
        job->steps[k].kind = (res_kind_t)k;
        job->steps[k].state = RES_STEP_PENDING;
    }
}

uint64_t res_poll_delay_ms(int polls)
{
    uint64_t d = RES_POLL_MIN_MS;
    for (int i = 0; i < polls && d < RES_POLL_MAX_MS; i++)
        d *= 2;
    return d < RES_POLL_MAX_MS ? d : RES_POLL_MAX_MS;
}

res_action_t res_job_next(const res_job_t *job)
{
    res_action_t a = {.kind = RES_ACT_DONE};
    for (int k = 0; k < RES_NSTEPS; k++) {
        const res_step_t *s = &job->steps[k];
        a.step = (res_kind_t)k;
        switch (s->state) {
        case RES_STEP_READY:
            continue;
        case RES_STEP_TO_CREATE:
            a.kind = RES_ACT_CREATE;
            return a;
        case RES_STEP_PROVISIONING:
            a.kind = RES_ACT_POLL;
            a.delay_ms = res_poll_delay_ms(s->polls);
            return a;
        case RES_STEP_FAILED:
        case RES_STEP_SKIPPED:
            a.kind = RES_ACT_FAIL;
            return a;
        case RES_STEP_PENDING:
        case RES_STEP_CHECKING:
        case RES_STEP_CREATING:
        default:
            a.kind = RES_ACT_NONE;
            return a;
        }
    }
    return a;
}

void res_job_skip_rest(res_job_t *job)
{
    for (int k = 0; k < RES_NSTEPS; k++) {
        res_step_t *s = &job->steps[k];
        if (s->state != RES_STEP_READY && s->state != RES_STEP_FAILED) s->state = RES_STEP_SKIPPED;
    }
}

bool res_job_nothing_to_create(const res_job_t *job)
{
    for (int k = 0; k < RES_NSTEPS; k++)
        if (!job->steps[k].existed) return false;
    return true;
}

/* ---- messages ---- */

void res_iso_time(double t, char *out, size_t n)
{
    time_t secs = (time_t)t;
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Appends to out (snprintf-style, never overruns). */
static void model_add(char *out, size_t n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void model_add(char *out, size_t n, const char *fmt, ...)
{
    size_t k = strlen(out);
    if (k + 1 >= n) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + k, n - k, fmt, ap);
    va_end(ap);
}

/* "database instance X (AVAILABLE)" */
static void model_step_name(char *out, size_t n, const res_job_t *job, const res_step_t *s)
{
    model_add(out, n, "%s %s", res_kind_label(s->kind), res_kind_name(s->kind, &job->names));
    if (s->remote_state[0]) model_add(out, n, " (%s)", s->remote_state);
}

static void model_pipeline(char *out, size_t n, const res_job_t *job)
{
    const char *pid = job->steps[RES_SYNCED].pipeline_id;
    if (!pid[0]) return;
    model_add(out, n, " Synced table pipeline %s", pid);
    if (job->names.host[0]) model_add(out, n, ": %s/pipelines/%s", job->names.host, pid);
    model_add(out, n, ".");
}

static void model_running_message(const res_job_t *job, char *out, size_t n)
{
    for (int k = 0; k < RES_NSTEPS; k++) {
        const res_step_t *s = &job->steps[k];
        const char *name = res_kind_name(s->kind, &job->names);
        if (s->state == RES_STEP_READY) continue;
        if (s->state == RES_STEP_PROVISIONING && s->kind == RES_INSTANCE) {
            model_add(out, n, "Waiting for database instance %s to become AVAILABLE (now %s).",
                      name, s->remote_state[0] ? s->remote_state : "unknown");
        } else if (s->state == RES_STEP_PROVISIONING) {
            model_add(out, n, "Synced table %s is provisioning (%s).", name,
                      s->remote_state[0] ? s->remote_state : "state not reported yet");
            if (!s->pipeline_id[0]) model_add(out, n, " The pipeline id is not known yet.");
            model_pipeline(out, n, job);
        } else {
            model_add(out, n, "Creating %s %s.", res_kind_label(s->kind), name);
        }
        return;
    }
}

void res_job_message(const res_job_t *job, char *out, size_t n)
{
    out[0] = '\0';
    switch (job->state) {
    case RES_JOB_IDLE:
        model_add(out, n, "No resource creation has run since the server started.");
        break;
    case RES_JOB_CHECKING:
        model_add(out, n, "Checking which Lakebase resources exist.");
        break;
    case RES_JOB_RUNNING:
        model_running_message(job, out, n);
        break;
    case RES_JOB_DONE:
        model_add(out, n, "All resources are ready: ");
        for (int k = 0; k < RES_NSTEPS; k++) {
            if (k) model_add(out, n, ", ");
            model_step_name(out, n, job, &job->steps[k]);
        }
        model_add(out, n, ".");
        model_pipeline(out, n, job);
        break;
    case RES_JOB_FAILED:
        model_add(out, n, "Resource creation failed: ");
        for (int k = 0; k < RES_NSTEPS; k++) {
            if (job->steps[k].error.set) {
                model_add(out, n, "%s", job->steps[k].error.detail);
                break;
            }
        }
        break;
    case RES_JOB_CANCELLED:
        model_add(out, n, "Resource creation was cancelled by a delete request.");
        break;
    }
}

void res_plan_message(const res_job_t *job, char *out, size_t n)
{
    out[0] = '\0';
    bool none = res_job_nothing_to_create(job);
    model_add(out, n,
              none ? "Resources already exist, nothing was created: "
                   : "Resources provisioning asynchronously: ");
    for (int k = 0; k < RES_NSTEPS; k++) {
        const res_step_t *s = &job->steps[k];
        if (k) model_add(out, n, "; ");
        if (s->existed) {
            model_step_name(out, n, job, s);
            model_add(out, n, " already exists");
        } else {
            model_add(out, n, "%s %s will be created", res_kind_label(s->kind),
                      res_kind_name(s->kind, &job->names));
            if (s->kind == RES_INSTANCE)
                model_add(out, n, " (%s, %d node%s)", job->opt.capacity, job->opt.node_count,
                          job->opt.node_count == 1 ? "" : "s");
            if (s->kind == RES_SYNCED) model_add(out, n, " from %s", RES_SOURCE_TABLE);
        }
    }
    model_add(out, n, ".");
    model_pipeline(out, n, job);
    if (job->state == RES_JOB_RUNNING || job->state == RES_JOB_CHECKING)
        model_add(out, n, " Follow the progress at GET /api/v1/resources/status.");
}

void res_delete_message(int deleted, int not_found, int failed, char *out, size_t n)
{
    if (failed > 0) {
        snprintf(out, n, "Deletion completed with errors. %d resources deleted, %d failed", deleted,
                 failed);
        if (not_found) model_add(out, n, ", %d did not exist", not_found);
        model_add(out, n, ".");
    } else if (not_found == 0) {
        snprintf(out, n, "All %d resources deleted successfully.", deleted);
    } else if (deleted == 0) {
        snprintf(out, n, "Nothing to delete: none of the %d resources exist.", not_found);
    } else {
        snprintf(out, n, "%d resources deleted successfully, %d did not exist.", deleted,
                 not_found);
    }
}

/* ---- JSON ---- */

static const char *model_step_state(res_step_state_t st)
{
    static const char *const names[] = {"pending",      "checking", "to_create", "creating",
                                        "provisioning", "ready",    "failed",    "skipped"};
    return names[st];
}

static const char *model_job_state(res_job_state_t st)
{
    static const char *const names[] = {"idle", "checking", "running",
                                        "done", "failed",   "cancelled"};
    return names[st];
}

static void model_kv_opt(json_writer_t *w, const char *key, const char *value)
{
    jw_key(w, key);
    if (value && *value)
        jw_cstring(w, value);
    else
        jw_null(w);
}

void res_error_encode(json_writer_t *w, const res_error_t *e)
{
    jw_key(w, "error");
    if (!e->set) {
        jw_null(w);
        return;
    }
    jw_object_begin(w);
    jw_kv_string(w, "operation", e->operation);
    jw_key(w, "http_status");
    if (e->http_status)
        jw_int(w, e->http_status);
    else
        jw_null(w);
    model_kv_opt(w, "error_code", e->error_code);
    jw_kv_string(w, "message", e->message);
    jw_kv_string(w, "detail", e->detail);
    jw_object_end(w);
}

static void model_encode_step(json_writer_t *w, const res_job_t *job, const res_step_t *s)
{
    jw_object_begin(w);
    jw_kv_string(w, "resource", res_kind_key(s->kind));
    jw_kv_string(w, "name", res_kind_name(s->kind, &job->names));
    jw_kv_string(w, "state", model_step_state(s->state));
    jw_kv_bool(w, "existed", s->existed);
    model_kv_opt(w, "remote_state", s->remote_state);
    if (s->kind == RES_INSTANCE) model_kv_opt(w, "host", s->host);
    if (s->kind == RES_SYNCED) model_kv_opt(w, "pipeline_id", s->pipeline_id);
    res_error_encode(w, &s->error);
    jw_object_end(w);
}

void res_job_encode(json_writer_t *w, const res_job_t *job, const char *message)
{
    char msg[2048], when[32];
    if (!message) {
        res_job_message(job, msg, sizeof msg);
        message = msg;
    }
    jw_object_begin(w);
    /* The tutorial's LakebaseResourcesResponse fields first (synced_table: the pipeline id). */
    jw_kv_string(w, "instance", job->names.instance);
    jw_kv_string(w, "catalog", job->names.catalog);
    jw_kv_string(w, "synced_table", job->steps[RES_SYNCED].pipeline_id);
    jw_kv_string(w, "message", message);
    jw_kv_string(w, "state", model_job_state(job->state));
    jw_key(w, "started_at");
    if (job->started_at > 0) {
        res_iso_time(job->started_at, when, sizeof when);
        jw_cstring(w, when);
    } else {
        jw_null(w);
    }
    jw_key(w, "finished_at");
    if (job->finished_at > 0) {
        res_iso_time(job->finished_at, when, sizeof when);
        jw_cstring(w, when);
    } else {
        jw_null(w);
    }
    jw_key(w, "steps");
    jw_array_begin(w);
    for (int k = 0; k < RES_NSTEPS; k++)
        model_encode_step(w, job, &job->steps[k]);
    jw_array_end(w);
    jw_object_end(w);
}
