/*
 * resources.h - the Lakebase resource lifecycle (SPEC section 4): what the
 * three files of the module share, and what the unit tests reach.
 *
 *   resources_model.c  pure: names from the settings, request bodies, reading
 *                      Databricks answers, the state machine's decisions,
 *                      messages, the JSON of a job
 *   resources_job.c    the creation job on the loop: lookups, creates, polls
 *   resources.c        the routes: create, delete, status; their docs
 *   resources_home.c   WORKERS loops: one loop (the home) runs the job; the
 *                      others forward the three routes to it and answer
 *                      from there (res_reply_t)
 *
 * Three resources, created in this order and deleted in the reverse one:
 *   database instance  /api/2.0/database/instances      LAKEBASE_INSTANCE_NAME
 *   database catalog   /api/2.0/database/catalogs       LAKEBASE_CATALOG_NAME
 *   synced table       /api/2.0/database/synced_tables  <catalog>.<ORDERS_TABLE>
 *                      from samples.tpch.orders (key o_orderkey, SNAPSHOT)
 *
 * Layer api: like every resource, these files include api/api_internal.h
 * and their own header, never another resource's.
 */
#ifndef LAKEAPI_API_RESOURCES_H
#define LAKEAPI_API_RESOURCES_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api_internal.h"
#include "lakeapi/inbox.h"
#include "lakeapi/workspace.h"

#define RES_POLL_MIN_MS      500    /* first poll after a create; doubling ... */
#define RES_POLL_MAX_MS      15000  /* ... up to this */
#define RES_STEP_DEADLINE_S  3600.0 /* give up waiting for one resource after this */
#define RES_MAX_POLL_ERRORS  5      /* consecutive failed polls before the step fails */
#define RES_CALL_TIMEOUT_S   30.0   /* creates and deletes can be slow to answer */
#define RES_SOURCE_TABLE     "samples.tpch.orders"
#define RES_PRIMARY_KEY      "o_orderkey"
#define RES_TIMESERIES_KEY   "o_orderdate"
#define RES_DEFAULT_DATABASE "databricks_postgres"

typedef enum { RES_INSTANCE, RES_CATALOG, RES_SYNCED, RES_NSTEPS } res_kind_t;

/* ---- names and options ---- */

typedef struct res_names {
    char instance[128];
    char catalog[256];
    char database[128];        /* the Postgres database the catalog registers */
    char synced[600];          /* <catalog>.<schema>.<table> */
    char storage_catalog[256]; /* where the sync pipeline keeps its files */
    char storage_schema[256];
    char host[256]; /* DATABRICKS_HOST, for the pipeline's URL in messages; may be "" */
} res_names_t;

typedef struct res_options {
    char capacity[8]; /* CU_1, CU_2, CU_4, CU_8 */
    int node_count;
    bool readable_secondaries;
    int retention_days;
} res_options_t;

/*
 * Fills names from the settings. Returns 0, or -1 with missing naming every
 * setting that is not set (the names that are known are still filled).
 */
int res_names_from_config(const config_t *cfg, res_names_t *names, char *missing, size_t n);

/* The request bodies (malloc'ed JSON text). */
char *res_instance_body(const res_names_t *names, const res_options_t *opt);
char *res_catalog_body(const res_names_t *names);
char *res_synced_body(const res_names_t *names);
/* "/api/2.0/database/instances/<escaped name>" etc. (malloc'ed); query may be NULL. */
char *res_resource_path(res_kind_t kind, const res_names_t *names, const char *query);
const char *res_collection_path(res_kind_t kind);
const char *res_kind_key(res_kind_t kind);   /* "database_instance" ... (JSON) */
const char *res_kind_label(res_kind_t kind); /* "database instance" ... (messages) */
const char *res_kind_name(res_kind_t kind, const res_names_t *names);

/* ---- reading Databricks answers ---- */

typedef enum { RES_OBS_PROGRESS, RES_OBS_READY, RES_OBS_FAILED } res_obs_t;

/* DatabaseInstanceState: AVAILABLE ready; STARTING, UPDATING... progress; STOPPED, DELETING,
 * FAILED.. failed. */
res_obs_t res_classify_instance(const char *state);
/* SyncedTableState: SYNCED_TABLE_ONLINE* ready (but ONLINE_PIPELINE_FAILED), *FAILED and OFFLINE
 * failed. */
res_obs_t res_classify_synced(const char *detailed_state);
/* The status to answer when a workspace call failed: 503 without an answer, 429 or 503; else 502.
 */
int res_upstream_status(long http_status);
/* true for Databricks' "no such resource" answer. */
bool res_is_not_found(long http_status, const char *error_code);
/* true for "already exists" (a create racing another one). */
bool res_is_already_exists(long http_status, const char *error_code);

/* ---- the job: three steps and their states ---- */

typedef enum {
    RES_STEP_PENDING,      /* not looked at yet */
    RES_STEP_CHECKING,     /* looking up whether it exists */
    RES_STEP_TO_CREATE,    /* missing: created once the earlier steps are ready */
    RES_STEP_CREATING,     /* the create call is in flight */
    RES_STEP_PROVISIONING, /* exists; polled until ready */
    RES_STEP_READY,
    RES_STEP_FAILED,
    RES_STEP_SKIPPED, /* not attempted: an earlier step failed, or the job was cancelled */
} res_step_state_t;

typedef struct res_error {
    bool set;
    const char *operation; /* "lookup", "create", "poll" (static strings) */
    long http_status;      /* 0: no answer */
    char error_code[64];
    char message[400];
    char detail[700]; /* the one-line description: "<call>: HTTP 403 CODE: message" */
} res_error_t;

typedef struct res_step {
    res_kind_t kind;
    res_step_state_t state;
    bool existed;           /* found by the lookup: not created by this job */
    char remote_state[64];  /* instance state, or the synced table's detailed_state */
    char pipeline_id[80];   /* synced table */
    char host[256];         /* instance: read_write_dns */
    int polls, poll_errors; /* polls of this step; consecutive failures */
    double since;           /* when the step started waiting (deadline) */
    bool verifying;         /* a create failed without a clear answer: did it happen anyway? */
    res_error_t error;
} res_step_t;

typedef enum {
    RES_JOB_IDLE,     /* no job yet (only for encoding the status) */
    RES_JOB_CHECKING, /* the lookups are out */
    RES_JOB_RUNNING,
    RES_JOB_DONE,
    RES_JOB_FAILED,
    RES_JOB_CANCELLED,
} res_job_state_t;

typedef struct res_job {
    unsigned id; /* calls in flight name their job by id: a replaced job is just gone */
    res_job_state_t state;
    res_names_t names;
    res_options_t opt;
    res_step_t steps[RES_NSTEPS];
    double started_at, finished_at;
    int lookups_pending;
    struct res_waiter *waiters; /* create requests waiting for the lookups */
} res_job_t;

void res_job_init(res_job_t *job, const res_names_t *names, const res_options_t *opt, double now);

/*
 * Applies what a GET (or create) answered for a step: remote state, pipeline
 * id, host; the step becomes READY, PROVISIONING or FAILED (with a message).
 * body is the JSON object the workspace returned.
 */
void res_step_observe(res_step_t *s, const char *body, size_t len);
/* Records a failed call on a step (which becomes FAILED). */
void res_step_fail(res_step_t *s, const char *operation, const workspace_response_t *r,
                   const char *what);

typedef enum {
    RES_ACT_NONE,   /* wait: a call is out */
    RES_ACT_CREATE, /* create step `step` */
    RES_ACT_POLL,   /* poll step `step` after delay_ms */
    RES_ACT_DONE,   /* every step is ready */
    RES_ACT_FAIL,   /* a step failed: the rest are skipped */
} res_action_kind_t;

typedef struct res_action {
    res_action_kind_t kind;
    res_kind_t step;
    uint64_t delay_ms;
} res_action_t;

/* The next thing the running job should do: steps are driven strictly in order. */
res_action_t res_job_next(const res_job_t *job);
/* true when a step has waited longer than RES_STEP_DEADLINE_S; it then FAILED (timed out). */
bool res_step_check_deadline(res_step_t *s, const res_names_t *names, double now);
/* The delay before poll number polls + 1 of a step: 0.5 s doubling to 15 s. */
uint64_t res_poll_delay_ms(int polls);
/* Marks the steps after a failure (or all unfinished ones on cancel) SKIPPED. */
void res_job_skip_rest(res_job_t *job);
bool res_job_nothing_to_create(const res_job_t *job);

/* ---- messages and JSON ---- */

/* The job's one-line summary for its state. */
void res_job_message(const res_job_t *job, char *out, size_t n);
/* What a create request started: each resource "will be created" or "already exists". */
void res_plan_message(const res_job_t *job, char *out, size_t n);
/* The job as JSON (LakebaseResourcesResponse); message NULL: res_job_message(). */
void res_job_encode(json_writer_t *w, const res_job_t *job, const char *message);
/* "error": null or {"operation","http_status","error_code","message","detail"} */
void res_error_encode(json_writer_t *w, const res_error_t *e);
/* "2025-01-31T12:00:00Z" */
void res_iso_time(double t, char *out, size_t n);

/* A delete's per-step outcome. */
typedef enum { RES_DEL_PENDING, RES_DEL_DELETED, RES_DEL_NOT_FOUND, RES_DEL_FAILED } res_del_t;
/* "All 3 resources deleted successfully." / "Deletion completed with errors. ..." */
void res_delete_message(int deleted, int not_found, int failed, char *out, size_t n);

/* ---- answers that may go to a request of another loop (resources_home.c) ---- */

typedef struct res_reply res_reply_t;
/* A request of this loop (the reply lives in its arena). */
res_reply_t *res_reply_local(http_exchange_t *ex);
/* Starts the JSON body of the answer. */
void res_reply_json(res_reply_t *rp, json_writer_t *w);
/* Sends the body with status (Retry-After when retry_after > 0); rp is gone after. */
void res_reply_send(res_reply_t *rp, int status, int retry_after);
void res_reply_detail(res_reply_t *rp, int status, const char *detail);
/* Shutdown of the home: another loop's request gets a 503; one of this loop is forgotten. */
void res_reply_abandon(res_reply_t *rp);

/* ---- the module (resources.c, resources_job.c) ---- */

typedef struct res_waiter {
    res_reply_t *rp; /* answered once (its request stays valid until then) */
    struct res_waiter *next;
} res_waiter_t;

typedef struct api_resources {
    api_app_t *app;
    res_names_t names;
    char missing[256]; /* the settings that are not set; "" when every one is */
    res_job_t *job;    /* the current or last creation job; NULL before the first */
    unsigned next_job_id;
    struct res_ticket *tickets; /* the job's workspace calls in flight */
    bool deleting;              /* a delete request is in progress */
    uv_timer_t timer;           /* the job's polls; initialised with the first job */
    bool timer_ready;
    struct res_delete *del; /* the delete in progress (its calls are out), or NULL */
    /* WORKERS loops (resources_home.c): NULL home: this loop runs everything itself. */
    api_resources_home_t *home; /* a reference */
    inbox_t *inbox;             /* this loop's (a reference): where answers come back */
    bool is_home;               /* this loop runs the job for every loop */
} api_resources_t;

enum { RES_OP_CREATE, RES_OP_DELETE, RES_OP_STATUS };
/* true when this loop runs the job (one loop, or the home of several). */
bool res_is_home(const api_resources_t *r);
/* Runs op for ex on the home loop, answered from there; 503 when the home is not running. */
void res_forward(api_resources_t *r, int op, const res_options_t *opt, http_exchange_t *ex);
/* resources_home.c: drops the references and, on the home, leaves the home (dispose). */
void res_home_leave(api_resources_t *r);

/* resources.c: the three operations, on the home loop. */
void res_create_run(api_resources_t *r, res_reply_t *rp, const res_options_t *opt);
void res_delete_run(api_resources_t *r, res_reply_t *rp);
void res_status_run(api_resources_t *r, res_reply_t *rp);
/* Frees the delete in progress at shutdown (its request answered 503 if another loop's). */
void res_delete_dispose(api_resources_t *r);

/*
 * Starts a creation job, dropping the previous (finished) one. The lookups
 * go out at once; ex (may be NULL) is answered through res_answer_create()
 * when they are back - possibly before this returns, when no call could
 * start.
 */
void res_job_start(api_resources_t *r, const res_options_t *opt, res_reply_t *rp);
/* Adds a request waiting for the lookups of the current job (state CHECKING). */
void res_job_add_waiter(api_resources_t *r, res_reply_t *rp);
/* Stops the current job (a delete begins): waiters answered, steps skipped, polls stopped. */
void res_job_cancel(api_resources_t *r);
/* Frees the job and the records of calls in flight (after the loop stopped). */
void res_job_dispose(api_resources_t *r);

/* resources.c: answers a create request once the lookups are back. */
void res_answer_create(res_reply_t *rp, const res_job_t *job);

#endif
