/*
 * cli - the subcommands behind src/main.c: serve, demo, gen, load,
 * check-config. Each returns the process exit code.
 *
 * Layer cli: the top; may include every other layer.
 */
#ifndef LAKEAPI_CLI_H
#define LAKEAPI_CLI_H

#include "lakeapi/cluster.h"
#include "lakeapi/config.h"
#include "lakeapi/db.h"
#include "lakeapi/http.h"

/* Runs the server on cfg until SIGINT/SIGTERM; stops cluster (may be NULL) afterwards. */
int cli_serve_run(config_t *cfg, cluster_t *cluster);

/*
 * replicas.c: the read/write split the settings ask for (PGHOST_READ,
 * DATABASE_READ_URL): a route in front of primary with one pool per replica,
 * or NULL when none is configured (or on error, with err set; *out NULL).
 * *out holds the replicas' settings: free it with cli_replicas_free() after
 * db_route_free().
 */
typedef struct cli_replicas cli_replicas_t;
db_route_t *cli_replicas_build(cli_replicas_t **out, const config_t *cfg, uv_loop_t *loop,
                               const db_pool_config_t *base, db_pool_t *primary, char *err,
                               size_t errlen);
void cli_replicas_free(cli_replicas_t *rs);

/*
 * workers.c: WORKERS > 1, N loops in N threads (see the file's top comment).
 * cli_workers_run() starts fn on n threads and returns the worst exit code;
 * each thread's loop joins its mailbox once its metrics exist, leaves it when
 * its pool has closed, answers /metrics through cli_workers_gather (data: its
 * cli_worker_ref_t) and takes its credentials from cli_workers_credentials()
 * (NULL: build its own, the static provider).
 */
typedef struct cli_workers cli_workers_t;
struct web_metrics;
typedef struct cli_worker_ref {
    cli_workers_t *group;
    int index, n; /* this loop's number, of n */
} cli_worker_ref_t;
typedef int (*cli_worker_fn)(const config_t *cfg, const cli_worker_ref_t *ref);
int cli_workers_count(const config_t *cfg); /* WORKERS, 0 = the number of cores */
/*
 * Before any thread starts (the log writer's too): SIGINT/SIGTERM blocked, so
 * a signal sent while no loop has its handlers stays pending. A loop calls
 * cli_workers_ready() once its signal handlers are started: it unblocks them
 * on its thread and returns false when another loop already failed to start
 * (then it stops itself: the signal that loop sent may have gone before).
 */
void cli_workers_block_signals(void);
bool cli_workers_ready(cli_workers_t *g);
/* max_connections: MAX_CONNECTIONS for the whole process (cli_workers_conn_limits). */
int cli_workers_run(const config_t *cfg, int n, unsigned max_connections, cli_worker_fn fn);
void cli_workers_join(cli_workers_t *g, int i, uv_loop_t *loop, struct web_metrics *metrics);
void cli_workers_leave(cli_workers_t *g, int i);
void cli_workers_gather(http_exchange_t *ex, void *data);
db_credentials_t *cli_workers_credentials(cli_workers_t *g, uv_loop_t *loop);
/* The process-wide rate limiter every loop's auth_t shares (NULL: no rate limit). */
struct auth_ratelimit *cli_workers_ratelimit(cli_workers_t *g);
/* MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP of the process; borrowed (each server takes a
 * reference). */
struct http_conn_limits *cli_workers_conn_limits(cli_workers_t *g);
/* The SQL warehouse backends' shared state (NULL without a warehouse); borrowed. */
struct lakehouse_shared *cli_workers_lakehouse(cli_workers_t *g);
/* The JWKS keys and refreshes of the process (NULL without JWKS); borrowed. */
struct auth_jwks_shared *cli_workers_jwks(cli_workers_t *g);
/* Where loop 0 runs the Lakebase resource job for every loop; borrowed. */
struct api_resources_home *cli_workers_resources_home(cli_workers_t *g);
/* Loop i's inbox (after cli_workers_join, on that loop); borrowed. */
struct inbox *cli_workers_inbox(cli_workers_t *g, int i);
/* Loop i's Data API: loop 0's is started and publishes; the others adopt (never started). */
struct rest_app;
void cli_workers_rest(cli_workers_t *g, int i, struct rest_app *rest);

int cli_serve(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_gen(int argc, char **argv);
int cli_load(int argc, char **argv);
int cli_check_config(int argc, char **argv);

/*
 * Loads settings for a subcommand: argv[0] is the subcommand, the options it
 * consumed itself have been removed. Prints the error naming the setting.
 */
int cli_load_config(config_t *cfg, int argc, char **argv);

/*
 * Takes "--name V" or "--name=V" out of argv (shifting the rest down) and
 * returns V, or NULL when absent. *argc is updated.
 */
const char *cli_take_option(int *argc, char **argv, const char *name);

#endif
