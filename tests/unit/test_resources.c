/*
 * test_resources - the pure parts of the Lakebase resource lifecycle
 * (src/api/resources_model.c): names from the settings, the Databricks
 * request bodies and paths, reading answers into step states, the state
 * machine's next action through a whole creation, deadlines, messages and
 * the JSON of a job. The HTTP side is tests/api/test_resources.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/resources.h"

static void set(char **field, const char *value)
{
    free(*field);
    *field = value ? strdup(value) : NULL;
}

static void full_config(config_t *c)
{
    config_init(c);
    set(&c->lakebase_instance_name, "inst-1");
    set(&c->lakebase_catalog_name, "cat_1");
    set(&c->synced_storage_catalog, "main");
    set(&c->synced_storage_schema, "default");
    set(&c->databricks_host, "https://ws.example/");
}

static void names(res_names_t *nm)
{
    config_t c;
    full_config(&c);
    char missing[256];
    assert_int_equal(res_names_from_config(&c, nm, missing, sizeof missing), 0);
    config_dispose(&c);
}

/* ---- names, bodies, paths ---- */

static void test_names_from_config(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    assert_string_equal(nm.instance, "inst-1");
    assert_string_equal(nm.catalog, "cat_1");
    assert_string_equal(nm.database, RES_DEFAULT_DATABASE);
    assert_string_equal(nm.synced, "cat_1.public.orders_synced"); /* ORDERS_TABLE's default */
    assert_string_equal(nm.host, "https://ws.example");           /* no trailing slash */

    config_t c;
    full_config(&c);
    set(&c.orders_table, "analytics.ord");
    set(&c.pg_database, "appdb");
    char missing[256];
    assert_int_equal(res_names_from_config(&c, &nm, missing, sizeof missing), 0);
    assert_string_equal(nm.synced, "cat_1.analytics.ord");
    assert_string_equal(nm.database, "appdb");
    set(&c.orders_table, "ord");
    res_names_from_config(&c, &nm, missing, sizeof missing);
    assert_string_equal(nm.synced, "cat_1.public.ord");

    set(&c.lakebase_catalog_name, NULL);
    set(&c.synced_storage_schema, NULL);
    assert_int_equal(res_names_from_config(&c, &nm, missing, sizeof missing), -1);
    assert_string_equal(missing, "LAKEBASE_CATALOG_NAME, SYNCED_TABLE_STORAGE_SCHEMA");
    assert_string_equal(nm.instance, "inst-1"); /* what is known is still filled */
    config_dispose(&c);
}

static json_t *parse(char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    free(text);
    assert_non_null(j);
    return j;
}

static void test_request_bodies(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_options_t opt = {
        .capacity = "CU_4", .node_count = 2, .readable_secondaries = true, .retention_days = 14};
    json_t *j = parse(res_instance_body(&nm, &opt));
    json_t *want =
        json_pack("{s:s,s:s,s:i,s:b,s:i}", "name", "inst-1", "capacity", "CU_4", "node_count", 2,
                  "enable_readable_secondaries", 1, "retention_window_in_days", 14);
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);

    j = parse(res_catalog_body(&nm));
    want = json_pack("{s:s,s:s,s:s,s:b}", "name", "cat_1", "database_instance_name", "inst-1",
                     "database_name", RES_DEFAULT_DATABASE, "create_database_if_not_exists", 1);
    assert_true(json_equal(j, want));
    json_decref(j);
    json_decref(want);

    j = parse(res_synced_body(&nm));
    assert_string_equal(json_string_value(json_object_get(j, "name")),
                        "cat_1.public.orders_synced");
    assert_string_equal(json_string_value(json_object_get(j, "logical_database_name")),
                        RES_DEFAULT_DATABASE);
    json_t *spec = json_object_get(j, "spec");
    want = json_pack("{s:s,s:[s],s:s,s:b,s:{s:s,s:s},s:s}", "source_table_full_name",
                     "samples.tpch.orders", "primary_key_columns", "o_orderkey", "timeseries_key",
                     "o_orderdate", "create_database_objects_if_missing", 1, "new_pipeline_spec",
                     "storage_catalog", "main", "storage_schema", "default", "scheduling_policy",
                     "SNAPSHOT");
    assert_true(json_equal(spec, want));
    json_decref(j);
    json_decref(want);
}

static void test_paths_escape_names(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    char *p = res_resource_path(RES_INSTANCE, &nm, "purge=true");
    assert_string_equal(p, "/api/2.0/database/instances/inst-1?purge=true");
    free(p);
    p = res_resource_path(RES_SYNCED, &nm, NULL);
    assert_string_equal(p, "/api/2.0/database/synced_tables/cat_1.public.orders_synced");
    free(p);
    snprintf(nm.catalog, sizeof nm.catalog, "odd name/x?");
    p = res_resource_path(RES_CATALOG, &nm, NULL);
    assert_string_equal(p, "/api/2.0/database/catalogs/odd%20name%2Fx%3F");
    free(p);
    assert_string_equal(res_collection_path(RES_SYNCED), "/api/2.0/database/synced_tables");
}

/* ---- reading answers ---- */

static void test_classify(void **state)
{
    (void)state;
    assert_int_equal(res_classify_instance("AVAILABLE"), RES_OBS_READY);
    assert_int_equal(res_classify_instance("STARTING"), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_instance("UPDATING"), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_instance("FAILING_OVER"), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_instance(""), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_instance(NULL), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_instance("STOPPED"), RES_OBS_FAILED);
    assert_int_equal(res_classify_instance("DELETING"), RES_OBS_FAILED);
    assert_int_equal(res_classify_instance("FAILED"), RES_OBS_FAILED);

    assert_int_equal(res_classify_synced("SYNCED_TABLE_ONLINE"), RES_OBS_READY);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE"), RES_OBS_READY);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_ONLINE_TRIGGERED_UPDATE"), RES_OBS_READY);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_ONLINE_PIPELINE_FAILED"), RES_OBS_FAILED);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_OFFLINE_FAILED"), RES_OBS_FAILED);
    assert_int_equal(res_classify_synced("SYNCED_TABLED_OFFLINE"), RES_OBS_FAILED);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_PROVISIONING"), RES_OBS_PROGRESS);
    assert_int_equal(res_classify_synced("SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT"),
                     RES_OBS_PROGRESS);
    assert_int_equal(res_classify_synced(NULL), RES_OBS_PROGRESS);
}

static void test_upstream_status_and_codes(void **state)
{
    (void)state;
    assert_int_equal(res_upstream_status(0), 503);
    assert_int_equal(res_upstream_status(429), 503);
    assert_int_equal(res_upstream_status(503), 503);
    assert_int_equal(res_upstream_status(403), 502);
    assert_int_equal(res_upstream_status(500), 502);
    assert_int_equal(res_upstream_status(401), 502);
    assert_true(res_is_not_found(404, "RESOURCE_DOES_NOT_EXIST"));
    assert_true(res_is_not_found(404, "NOT_FOUND"));
    assert_true(res_is_not_found(404, ""));
    assert_false(res_is_not_found(404, "ENDPOINT_NOT_FOUND")); /* a wrong URL is not absence */
    assert_false(res_is_not_found(403, "RESOURCE_DOES_NOT_EXIST"));
    assert_true(res_is_already_exists(409, "RESOURCE_ALREADY_EXISTS"));
    assert_true(res_is_already_exists(400, "ALREADY_EXISTS"));
    assert_false(res_is_already_exists(409, "ABORTED"));
}

#define OBSERVE(s, text) res_step_observe((s), (text), strlen(text))

static void test_observe_instance(void **state)
{
    (void)state;
    res_step_t s = {.kind = RES_INSTANCE};
    OBSERVE(&s, "{\"name\":\"i\",\"state\":\"STARTING\",\"read_write_dns\":\"i.db.example\"}");
    assert_int_equal(s.state, RES_STEP_PROVISIONING);
    assert_string_equal(s.remote_state, "STARTING");
    assert_string_equal(s.host, "i.db.example");
    OBSERVE(&s, "{\"state\":\"AVAILABLE\"}");
    assert_int_equal(s.state, RES_STEP_READY);
    assert_string_equal(s.host, "i.db.example"); /* kept */
    OBSERVE(&s, "{\"state\":\"STOPPED\"}");
    assert_int_equal(s.state, RES_STEP_FAILED);
    assert_true(s.error.set);
    assert_non_null(strstr(s.error.detail, "database instance is STOPPED"));

    res_step_t t = {.kind = RES_INSTANCE};
    OBSERVE(&t, "not json");
    assert_int_equal(t.state, RES_STEP_PROVISIONING); /* no state yet: keep polling */

    res_step_t c = {.kind = RES_CATALOG};
    OBSERVE(&c, "{\"name\":\"cat\"}");
    assert_int_equal(c.state, RES_STEP_READY);
}

static void test_observe_synced(void **state)
{
    (void)state;
    res_step_t s = {.kind = RES_SYNCED};
    OBSERVE(&s, "{\"data_synchronization_status\":{\"detailed_state\":"
                "\"SYNCED_TABLE_PROVISIONING_PIPELINE_RESOURCES\"}}");
    assert_int_equal(s.state, RES_STEP_PROVISIONING);
    assert_string_equal(s.pipeline_id, "");
    OBSERVE(&s, "{\"data_synchronization_status\":{\"detailed_state\":"
                "\"SYNCED_TABLE_PROVISIONING_INITIAL_SNAPSHOT\",\"pipeline_id\":\"p-42\"}}");
    assert_string_equal(s.pipeline_id, "p-42");
    OBSERVE(&s, "{\"data_synchronization_status\":{\"detailed_state\":\"SYNCED_TABLE_ONLINE\"}}");
    assert_int_equal(s.state, RES_STEP_READY);
    assert_string_equal(s.pipeline_id, "p-42"); /* an answer without it keeps the known one */
    OBSERVE(&s, "{\"data_synchronization_status\":{\"detailed_state\":"
                "\"SYNCED_TABLE_OFFLINE_FAILED\",\"message\":\"no SELECT on the source\"}}");
    assert_int_equal(s.state, RES_STEP_FAILED);
    assert_non_null(
        strstr(s.error.message, "SYNCED_TABLE_OFFLINE_FAILED: no SELECT on the source"));
}

static void test_step_fail_from_response(void **state)
{
    (void)state;
    res_step_t s = {.kind = RES_CATALOG};
    workspace_response_t r = {.status = 403,
                              .error = "HTTP 403 PERMISSION_DENIED: no CREATE CATALOG",
                              .error_code = "PERMISSION_DENIED",
                              .message = "no CREATE CATALOG"};
    res_step_fail(&s, "create", &r, "creating database catalog c");
    assert_int_equal(s.state, RES_STEP_FAILED);
    assert_true(s.error.set);
    assert_string_equal(s.error.operation, "create");
    assert_int_equal(s.error.http_status, 403);
    assert_string_equal(s.error.error_code, "PERMISSION_DENIED");
    assert_string_equal(s.error.message, "no CREATE CATALOG");
    assert_string_equal(s.error.detail,
                        "creating database catalog c: HTTP 403 PERMISSION_DENIED: no CREATE "
                        "CATALOG");
    /* no answer: the transport error is the message */
    workspace_response_t none = {
        .status = 0, .error = "Couldn't connect to server", .error_code = "", .message = ""};
    res_step_fail(&s, "lookup", &none, "looking up x");
    assert_string_equal(s.error.message, "Couldn't connect to server");
    assert_int_equal(s.error.http_status, 0);
}

/* ---- the state machine ---- */

static void test_poll_delay(void **state)
{
    (void)state;
    assert_int_equal(res_poll_delay_ms(0), 500);
    assert_int_equal(res_poll_delay_ms(1), 1000);
    assert_int_equal(res_poll_delay_ms(3), 4000);
    assert_int_equal(res_poll_delay_ms(5), 15000);
    assert_int_equal(res_poll_delay_ms(1000), 15000);
}

static res_action_t next(const res_job_t *job)
{
    return res_job_next(job);
}

static void test_a_whole_creation(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_options_t opt = {.capacity = "CU_1", .node_count = 1, .retention_days = 7};
    res_job_t job;
    res_job_init(&job, &nm, &opt, 1000);
    assert_int_equal(job.state, RES_JOB_CHECKING);
    assert_int_equal(next(&job).kind, RES_ACT_NONE); /* lookups out */
    /* the lookups: nothing exists */
    for (int k = 0; k < RES_NSTEPS; k++)
        job.steps[k].state = RES_STEP_TO_CREATE;
    job.state = RES_JOB_RUNNING;
    assert_false(res_job_nothing_to_create(&job));
    res_action_t a = next(&job);
    assert_int_equal(a.kind, RES_ACT_CREATE);
    assert_int_equal(a.step, RES_INSTANCE);
    job.steps[RES_INSTANCE].state = RES_STEP_CREATING;
    assert_int_equal(next(&job).kind, RES_ACT_NONE); /* the create is out */
    OBSERVE(&job.steps[RES_INSTANCE], "{\"state\":\"STARTING\"}");
    a = next(&job);
    assert_int_equal(a.kind, RES_ACT_POLL);
    assert_int_equal(a.step, RES_INSTANCE);
    assert_int_equal(a.delay_ms, 500);
    job.steps[RES_INSTANCE].polls = 2;
    assert_int_equal(next(&job).delay_ms, 2000);
    OBSERVE(&job.steps[RES_INSTANCE], "{\"state\":\"AVAILABLE\"}");
    a = next(&job); /* the catalog only once the instance is AVAILABLE */
    assert_int_equal(a.kind, RES_ACT_CREATE);
    assert_int_equal(a.step, RES_CATALOG);
    OBSERVE(&job.steps[RES_CATALOG], "{\"name\":\"cat_1\"}");
    a = next(&job);
    assert_int_equal(a.kind, RES_ACT_CREATE);
    assert_int_equal(a.step, RES_SYNCED);
    OBSERVE(&job.steps[RES_SYNCED], "{\"data_synchronization_status\":{\"detailed_state\":"
                                    "\"SYNCED_TABLE_PROVISIONING\",\"pipeline_id\":\"p1\"}}");
    a = next(&job);
    assert_int_equal(a.kind, RES_ACT_POLL);
    assert_int_equal(a.step, RES_SYNCED);
    OBSERVE(&job.steps[RES_SYNCED], "{\"data_synchronization_status\":{\"detailed_state\":"
                                    "\"SYNCED_TABLE_ONLINE_NO_PENDING_UPDATE\"}}");
    assert_int_equal(next(&job).kind, RES_ACT_DONE);
}

static void test_failure_stops_and_skips(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_job_t job;
    res_job_init(&job, &nm, NULL, 1000);
    job.state = RES_JOB_RUNNING;
    job.steps[RES_INSTANCE].state = RES_STEP_READY;
    job.steps[RES_CATALOG].state = RES_STEP_FAILED;
    job.steps[RES_SYNCED].state = RES_STEP_TO_CREATE;
    res_action_t a = next(&job);
    assert_int_equal(a.kind, RES_ACT_FAIL);
    assert_int_equal(a.step, RES_CATALOG);
    res_job_skip_rest(&job);
    assert_int_equal(job.steps[RES_INSTANCE].state, RES_STEP_READY); /* it exists: kept */
    assert_int_equal(job.steps[RES_CATALOG].state, RES_STEP_FAILED);
    assert_int_equal(job.steps[RES_SYNCED].state, RES_STEP_SKIPPED);
    /* everything found at lookup: nothing to create */
    for (int k = 0; k < RES_NSTEPS; k++)
        job.steps[k].existed = true;
    assert_true(res_job_nothing_to_create(&job));
}

static void test_deadline(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_step_t s = {.kind = RES_INSTANCE, .state = RES_STEP_PROVISIONING, .since = 1000};
    snprintf(s.remote_state, sizeof s.remote_state, "STARTING");
    assert_false(res_step_check_deadline(&s, &nm, 1000 + RES_STEP_DEADLINE_S - 1));
    assert_int_equal(s.state, RES_STEP_PROVISIONING);
    assert_true(res_step_check_deadline(&s, &nm, 1000 + RES_STEP_DEADLINE_S));
    assert_int_equal(s.state, RES_STEP_FAILED);
    assert_string_equal(s.error.operation, "wait");
    assert_non_null(strstr(s.error.message, "inst-1 did not become ready within 60 minutes"));
    assert_non_null(strstr(s.error.message, "last state STARTING"));
    res_step_t ready = {.kind = RES_CATALOG, .state = RES_STEP_READY};
    assert_false(res_step_check_deadline(&ready, &nm, 1e12));
}

/* ---- messages and JSON ---- */

static void test_messages(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_options_t opt = {.capacity = "CU_2", .node_count = 2, .retention_days = 7};
    res_job_t job;
    res_job_init(&job, &nm, &opt, 1000);
    char msg[2048];
    res_job_message(&job, msg, sizeof msg);
    assert_string_equal(msg, "Checking which Lakebase resources exist.");

    job.state = RES_JOB_RUNNING;
    job.steps[RES_INSTANCE].existed = true;
    OBSERVE(&job.steps[RES_INSTANCE], "{\"state\":\"STARTING\"}");
    job.steps[RES_CATALOG].state = RES_STEP_TO_CREATE;
    job.steps[RES_SYNCED].state = RES_STEP_TO_CREATE;
    res_job_message(&job, msg, sizeof msg);
    assert_string_equal(msg,
                        "Waiting for database instance inst-1 to become AVAILABLE (now STARTING).");
    res_plan_message(&job, msg, sizeof msg);
    assert_non_null(strstr(msg, "Resources provisioning asynchronously: "));
    assert_non_null(strstr(msg, "database instance inst-1 (STARTING) already exists"));
    assert_non_null(strstr(msg, "database catalog cat_1 will be created"));
    assert_non_null(strstr(msg, "from samples.tpch.orders"));
    assert_non_null(strstr(msg, "GET /api/v1/resources/status"));

    job.steps[RES_INSTANCE].existed = false;
    res_plan_message(&job, msg, sizeof msg);
    assert_non_null(strstr(msg, "database instance inst-1 will be created (CU_2, 2 nodes)"));

    job.state = RES_JOB_DONE;
    for (int k = 0; k < RES_NSTEPS; k++)
        job.steps[k].state = RES_STEP_READY;
    snprintf(job.steps[RES_SYNCED].pipeline_id, sizeof job.steps[RES_SYNCED].pipeline_id, "p9");
    res_job_message(&job, msg, sizeof msg);
    assert_non_null(strstr(msg, "All resources are ready"));
    assert_non_null(strstr(msg, "Synced table pipeline p9: https://ws.example/pipelines/p9."));

    job.state = RES_JOB_FAILED;
    job.steps[RES_CATALOG].error.set = true;
    snprintf(job.steps[RES_CATALOG].error.detail, sizeof job.steps[RES_CATALOG].error.detail,
             "creating database catalog cat_1: HTTP 403 PERMISSION_DENIED: no");
    res_job_message(&job, msg, sizeof msg);
    assert_string_equal(msg, "Resource creation failed: creating database catalog cat_1: HTTP 403 "
                             "PERMISSION_DENIED: no");
    job.state = RES_JOB_CANCELLED;
    res_job_message(&job, msg, sizeof msg);
    assert_non_null(strstr(msg, "cancelled by a delete request"));

    /* a small buffer is cut, never overrun */
    char small[16];
    memset(small, 'Z', sizeof small);
    res_plan_message(&job, small, 10);
    assert_int_equal(strlen(small), 9);
    assert_int_equal(small[12], 'Z');
}

static void test_delete_messages(void **state)
{
    (void)state;
    char m[256];
    res_delete_message(3, 0, 0, m, sizeof m);
    assert_string_equal(m, "All 3 resources deleted successfully.");
    res_delete_message(1, 0, 2, m, sizeof m);
    assert_string_equal(m, "Deletion completed with errors. 1 resources deleted, 2 failed.");
    res_delete_message(1, 1, 1, m, sizeof m);
    assert_string_equal(m, "Deletion completed with errors. 1 resources deleted, 1 failed, 1 did "
                           "not exist.");
    res_delete_message(0, 3, 0, m, sizeof m);
    assert_string_equal(m, "Nothing to delete: none of the 3 resources exist.");
    res_delete_message(2, 1, 0, m, sizeof m);
    assert_string_equal(m, "2 resources deleted successfully, 1 did not exist.");
}

static void test_job_json(void **state)
{
    (void)state;
    res_names_t nm;
    names(&nm);
    res_job_t job;
    res_job_init(&job, &nm, NULL, 1735689600);
    job.state = RES_JOB_FAILED;
    job.finished_at = 1735689660;
    OBSERVE(&job.steps[RES_INSTANCE], "{\"state\":\"AVAILABLE\",\"read_write_dns\":\"h\"}");
    workspace_response_t none = {
        .status = 0, .error = "timed out", .error_code = "", .message = ""};
    res_step_fail(&job.steps[RES_CATALOG], "create", &none, "creating database catalog cat_1");
    job.steps[RES_SYNCED].state = RES_STEP_SKIPPED;
    buf_t b;
    buf_init(&b);
    json_writer_t w;
    jw_init(&w, &b);
    res_job_encode(&w, &job, NULL);
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "instance")), "inst-1");
    assert_string_equal(json_string_value(json_object_get(j, "synced_table")), "");
    assert_string_equal(json_string_value(json_object_get(j, "state")), "failed");
    assert_string_equal(json_string_value(json_object_get(j, "started_at")),
                        "2025-01-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(j, "finished_at")),
                        "2025-01-01T00:01:00Z");
    assert_non_null(strstr(json_string_value(json_object_get(j, "message")), "timed out"));
    json_t *steps = json_object_get(j, "steps");
    assert_int_equal(json_array_size(steps), 3);
    json_t *inst = json_array_get(steps, 0), *cat = json_array_get(steps, 1),
           *syn = json_array_get(steps, 2);
    assert_string_equal(json_string_value(json_object_get(inst, "resource")), "database_instance");
    assert_string_equal(json_string_value(json_object_get(inst, "state")), "ready");
    assert_string_equal(json_string_value(json_object_get(inst, "host")), "h");
    assert_null(json_object_get(inst, "pipeline_id"));
    assert_true(json_is_null(json_object_get(inst, "error")));
    json_t *err = json_object_get(cat, "error");
    assert_string_equal(json_string_value(json_object_get(err, "operation")), "create");
    assert_true(json_is_null(json_object_get(err, "http_status"))); /* no answer */
    assert_true(json_is_null(json_object_get(err, "error_code")));
    assert_string_equal(json_string_value(json_object_get(syn, "state")), "skipped");
    assert_true(json_is_null(json_object_get(syn, "pipeline_id")));
    assert_null(json_object_get(syn, "host"));
    json_decref(j);
    buf_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_from_config),
        cmocka_unit_test(test_request_bodies),
        cmocka_unit_test(test_paths_escape_names),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_upstream_status_and_codes),
        cmocka_unit_test(test_observe_instance),
        cmocka_unit_test(test_observe_synced),
        cmocka_unit_test(test_step_fail_from_response),
        cmocka_unit_test(test_poll_delay),
        cmocka_unit_test(test_a_whole_creation),
        cmocka_unit_test(test_failure_stops_and_skips),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_messages),
        cmocka_unit_test(test_delete_messages),
        cmocka_unit_test(test_job_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
