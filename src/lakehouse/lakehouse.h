/*
 * lakehouse - Delta tables through a Databricks SQL warehouse, on the loop.
 *
 * Owns: the warehouse settings (DATABRICKS_WAREHOUSE_ID or DATABRICKS_HTTP_PATH,
 * LAKEHOUSE_CATALOG/SCHEMA, LAKEHOUSE_CACHE_*), the SQL Statement Execution
 * client (submit, poll, chunks, EXTERNAL_LINKS, cancel) over the workspace
 * layer's libcurl multi client and auth, the warehouse state probe (/readyz,
 * 503 + Retry-After), the result cache with coalescing and stale-while-
 * revalidate, table discovery from information_schema, the read routes under
 * /lakehouse/v1 and the users store over the warehouse (USERS_BACKEND=lakehouse).
 *
 * May include: web (the handling framework), workspace, json, config, util,
 * and rest's grammar. Never api (the resources) or db.
 */
#ifndef LAKEAPI_LAKEHOUSE_H
#define LAKEAPI_LAKEHOUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "lakeapi/buf.h"
#include "lakeapi/config.h"
#include "lakeapi/router.h"
#include "lakeapi/workspace.h"
#include "web/web.h"

typedef struct lakehouse lakehouse_t;

/* true when a warehouse is configured (DATABRICKS_WAREHOUSE_ID or DATABRICKS_HTTP_PATH). */
bool lakehouse_configured(const config_t *cfg);
/*
 * 0 when the warehouse settings are usable: a warehouse id (given, or taken
 * from /sql/1.0/warehouses/<id>), a catalog and schema of plain names, the
 * workspace settings. -1 with err naming the setting.
 */
int lakehouse_check_config(const config_t *cfg, char *err, size_t errlen);

/*
 * check-config: asks the warehouse for its state once (a loop of its own).
 * 0 with line "answers, state RUNNING"; -1 with line saying why not.
 */
int lakehouse_check_once(const config_t *cfg, char *line, size_t n);

/*
 * What the backends of all WORKERS loops share (shared.c: the result cache and
 * coalescing, the warehouse state, catalog loads). Reference counted: new
 * returns one reference, every backend given it takes its own; the last
 * release frees it.
 */
typedef struct lakehouse_shared lakehouse_shared_t;
lakehouse_shared_t *lakehouse_shared_new(const config_t *cfg);
void lakehouse_shared_release(lakehouse_shared_t *sh);

/*
 * The backend on loop over ws (borrowed; it must outlive the backend), part of
 * sh (NULL: a shared state of its own). NULL with err.
 */
lakehouse_t *lakehouse_new(uv_loop_t *loop, const config_t *cfg, workspace_t *ws,
                           lakehouse_shared_t *sh, char *err, size_t errlen);
/* Adds the /lakehouse/v1 routes to r (before the app builds its OpenAPI document). */
int lakehouse_register(lakehouse_t *lh, router_t *r);
/* Access control (borrowed): when configured, POST /lakehouse/v1/_reload needs an admin. */
struct auth;
void lakehouse_set_auth(lakehouse_t *lh, struct auth *a);
/* Starts the warehouse state probe and table discovery (after the loop exists). */
void lakehouse_start(lakehouse_t *lh);
/* Leaves the shared state and closes the handles (before the loop's last run; NULL ok). */
void lakehouse_close(lakehouse_t *lh);
void lakehouse_free(lakehouse_t *lh);

/* /readyz: true when the warehouse is RUNNING; line says "warehouse <id>: STATE". */
bool lakehouse_ready(const lakehouse_t *lh, char *line, size_t n);
/* Prometheus lines: cache hits/misses, statements, latency, bytes. */
void lakehouse_metrics(const lakehouse_t *lh, buf_t *out);
/*
 * A keyed row store over the Delta table `table` of LAKEHOUSE_CATALOG.SCHEMA
 * with desc's columns (key first) and writable columns wcols (both borrowed;
 * they must outlive the backend). Owned by the backend. NULL with err.
 */
web_store_t *lakehouse_store_new(lakehouse_t *lh, const char *table, const web_table_t *desc,
                                 const char *const *wcols, int nw, char *err, size_t errlen);

/* The warehouse id the settings name ("" when none). */
void lakehouse_warehouse_id(const config_t *cfg, char *id, size_t n);

#endif
