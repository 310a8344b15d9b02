/*
 * cluster - the private PostgreSQL cluster behind `lakeapi demo`.
 *
 * With no database configured, `demo` runs a cluster of its own from Debian's
 * server binaries (/usr/lib/postgresql/<highest version>/bin, else PATH): data
 * in <base>/pgdata, a unix socket only in <base>/run (mode 0700, no TCP), trust
 * auth, superuser role "postgres". A second `demo` reuses the data, and the
 * running postmaster if there is one.
 *
 * PostgreSQL refuses to run as root, so as root every PostgreSQL program runs
 * as the `postgres` system user (fork + setgid/initgroups/setuid + exec) and
 * <base> belongs to that user. When that user cannot reach <base> (say the
 * working directory is under a mode 0700 /root), the cluster moves to
 * /var/tmp/lakeapi-demo-<uid>-<hash of the wanted base>, and cluster_notice()
 * says so. As a normal user everything runs as that user.
 *
 * Blocking calls (waitpid, libpq): for the CLI, before any event loop runs.
 * Functions return 0 / -1 with a message in err; nothing is printed.
 */
#ifndef LAKEAPI_CLUSTER_H
#define LAKEAPI_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct cluster cluster_t;

typedef struct cluster_options {
    const char *base_dir; /* NULL: "./.demo" (relative to the working directory) */
    int port;             /* 0: 5433; only names the socket file, no TCP listener */
} cluster_options_t;

/*
 * Initializes the cluster if needed (initdb), then starts it, or reuses it when
 * a live postmaster already answers on its socket. Waits until it accepts
 * connections. On success *out is a handle the caller frees with
 * cluster_free(); on failure -1 and err holds the reason (with the tail of the
 * server log when the server failed to start).
 */
int cluster_start(const cluster_options_t *opt, cluster_t **out, char *err, size_t errlen);

/* The socket directory: a libpq host (PGHOST). Owned by the handle. */
const char *cluster_host(const cluster_t *c);
int cluster_port(const cluster_t *c);
const char *cluster_user(const cluster_t *c);   /* the superuser role: "postgres" */
const char *cluster_dbname(const cluster_t *c); /* "postgres" */
const char *cluster_data_dir(const cluster_t *c);
const char *cluster_log_path(const cluster_t *c); /* the server log (pg_ctl -l) */
/* true when cluster_start() found the postmaster already running. */
bool cluster_was_running(const cluster_t *c);
/* true when cluster_start() ran initdb (a brand-new, empty cluster). */
bool cluster_created(const cluster_t *c);
/* A sentence for the log when the base directory was moved (else NULL). */
const char *cluster_notice(const cluster_t *c);

/*
 * Stops the postmaster (pg_ctl stop -m fast -w), also when it was already
 * running at cluster_start(): Ctrl-C of demo stops the private cluster.
 * Stopping a stopped cluster is not an error.
 */
int cluster_stop(cluster_t *c, char *err, size_t errlen);
void cluster_free(cluster_t *c);

#endif
