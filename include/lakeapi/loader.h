/*
 * loader - the demo schema and the bulk loads of `lakeapi load` / `lakeapi demo`.
 *
 * A load replaces a table atomically: the rows are COPYed (text format, fed
 * straight from the generators of gen.h, generation overlapping the COPY in a
 * second thread) into a fresh staging table `<name>__load` created in the same
 * transaction (COPY FREEZE), the primary key is built after the data, the table
 * is ANALYZEd, and then one short transaction drops the old table and renames
 * the staging table, its key and its sequence into place. Readers never see a
 * half-loaded table: they wait on the lock for that last transaction and then
 * see the new one. What a table holds is recorded in public.lakeapi_meta in
 * that same transaction, so `demo` loads only once (loader_loaded). The old
 * table's grants carry over; anything else hung on it (extra indexes,
 * triggers, policies) does not, and a view depending on it makes the load
 * fail, changing nothing.
 *
 * Blocking libpq calls: for the CLI, before any event loop runs. The PGconn is
 * the caller's (a plain connection, not in a transaction). Table names are
 * "[schema.]name" identifiers (unqualified: the current schema); every part is
 * quoted. Functions return 0 / -1 with a message in err; nothing is printed.
 */
#ifndef LAKEAPI_LOADER_H
#define LAKEAPI_LOADER_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

/* The longest table name part: "<name>__load_id_seq" must fit in 63 bytes. */
#define LOADER_MAX_NAME 50

typedef struct loader_tables {
    const char *orders; /* NULL: "public.orders_synced" */
    const char *users;  /* NULL: "public.users" */
} loader_tables_t;

/*
 * Called on the caller's thread about every 1% of the rows sent and once when
 * all are (done == total), before the key build. what is "orders" or "users".
 */
typedef void (*loader_progress_fn)(const char *what, int64_t done, int64_t total, void *data);

/* Creates what is missing: the orders and users tables, public.notes, public.lakeapi_meta. */
int loader_schema(PGconn *c, const loader_tables_t *t, char *err, size_t errlen);

/* Replaces table with the TPC-H ORDERS rows of scale factor sf; records "sf=<sf>". */
int loader_load_orders(PGconn *c, const char *table, double sf, loader_progress_fn progress,
                       void *data, char *err, size_t errlen);

/*
 * Replaces table with users 1..rows of seed; the identity then continues at
 * rows+1. Records "rows=<rows> seed=<seed>".
 */
int loader_load_users(PGconn *c, const char *table, int64_t rows, uint64_t seed,
                      loader_progress_fn progress, void *data, char *err, size_t errlen);

/* Inserts the three sample notes of the tutorial into public.notes when it is empty. */
int loader_load_notes(PGconn *c, char *err, size_t errlen);

/*
 * What a table holds: 1 with the recorded value ("sf=1", "rows=1000000
 * seed=42", "rows=3") copied into value_out, 0 when nothing is recorded or the
 * table was since dropped or replaced by other means, -1 on a bad name or a
 * database error (then PQerrorMessage tells). table is "[schema.]name" as
 * given to a load ("public.notes" for the notes), or a kind ("orders",
 * "users", "notes") when no such table was loaded: then the latest load of
 * that kind, whatever its table. Pass the configured table name to be exact.
 */
int loader_loaded(PGconn *c, const char *table, char *value_out, size_t n);

#endif
