/*
 * gen - deterministic demo-data generators.
 *
 * gen_tpch_orders_* reproduces TPC-H dbgen's ORDERS table byte for byte
 * (shared/tpch/ORDERS.md). Rows are numbered by their dbgen ordinal 1..N; any
 * row can be generated without the ones before it (streams are jumped).
 * gen_users_* produces realistic, deterministic fake users for a seed.
 *
 * Both emit rows into a caller-supplied sink so the same code feeds stdout
 * (`lakeapi gen`) and COPY (`lakeapi load`).
 */
#ifndef LAKEAPI_GEN_H
#define LAKEAPI_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lakeapi/buf.h"

/* Receives a batch of complete lines; returns 0 to go on, non-zero to stop. */
typedef int (*gen_sink_fn)(const char *data, size_t len, void *sink_data);

/* ---- TPC-H ORDERS ---- */

/* Number of ORDERS rows dbgen makes at scale factor sf (15000 at 0.01). */
int64_t gen_tpch_orders_count(double sf);
/* The printed o_orderkey of ordinal i (sparse keys). */
int64_t gen_tpch_orderkey(int64_t ordinal);

typedef struct gen_tpch gen_tpch_t;
/*
 * Builds the generator for sf: the 300 MiB text pool is built once here
 * (about a second). Returns NULL on OOM or a bad sf (<= 0).
 */
gen_tpch_t *gen_tpch_new(double sf);
void gen_tpch_free(gen_tpch_t *g);
/*
 * Appends rows first..first+count-1 (1-based ordinals, clamped to the table)
 * in dbgen's format: fields separated and terminated by '|', LF line ends.
 * Calls sink with chunks of about 1 MiB. Returns 0, or the sink's non-zero.
 * With text_format_copy, writes COPY text format instead (tab separated, no
 * trailing separator, backslash-escaped) for loading.
 */
int gen_tpch_orders(gen_tpch_t *g, int64_t first, int64_t count, bool copy_format,
                    gen_sink_fn sink, void *sink_data);

/* ---- users ---- */

/*
 * Appends users with ids first_id.. first_id+count-1 for the given seed,
 * deterministic per (seed, id) whatever the batch boundaries. Line format:
 * COPY text (id, first_name, last_name, email, address, ip_address) when
 * copy_format, else CSV with a header line when first_id == 1.
 */
int gen_users(uint64_t seed, int64_t first_id, int64_t count, bool copy_format, gen_sink_fn sink,
              void *sink_data);

#endif
