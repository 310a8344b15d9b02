/*
 * gen - deterministic demo-data generators.
 *
 * gen_tpch_orders_* reproduces TPC-H dbgen's ORDERS table byte for byte
 * (shared/tpch/ORDERS.md). Rows are numbered by their dbgen ordinal 1..N; any
 * row can be generated without the ones before it (streams are jumped; from
 * SF 30000 on, where dbgen uses a 64-bit generator, one stream is replayed
 * from a checkpoint: at most 2^26 rows, ~1 s, up to SF 100000's last row, and
 * from the last checkpoint beyond that). Rows are those of a dbgen run from
 * row 1 (`dbgen -s SF -T O`); chunked dbgen runs (-C/-S) differ from SF 30000.
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

/*
 * Number of ORDERS rows dbgen makes at scale factor sf (15000 at 0.01), or -1
 * for an sf gen_tpch_new rejects (<= 0, NaN, > 1e9).
 */
int64_t gen_tpch_orders_count(double sf);
/* The printed o_orderkey of ordinal i (sparse keys); -1 for ordinal < 1. */
int64_t gen_tpch_orderkey(int64_t ordinal);

typedef struct gen_tpch gen_tpch_t;
/*
 * Builds the generator for sf: the 300 MiB text pool is built here (about
 * half a second, on two threads) unless another live generator already holds
 * it (it is shared and freed with the last one). Returns NULL on OOM or a bad
 * sf (<= 0, NaN, > 1e9).
 * A generator is read-only after creation: threads may share it.
 */
gen_tpch_t *gen_tpch_new(double sf);
void gen_tpch_free(gen_tpch_t *g);
/*
 * Appends rows first..first+count-1 (1-based ordinals, clamped to the table)
 * in dbgen's format: fields separated and terminated by '|', LF line ends.
 * Calls sink with chunks of about 1 MiB of whole lines. Returns 0, the sink's
 * non-zero, or -1 on OOM / NULL arguments. With copy_format, writes COPY text
 * format instead (tab separated, no trailing separator, backslash-escaped) for
 * loading.
 */
int gen_tpch_orders(gen_tpch_t *g, int64_t first, int64_t count, bool copy_format, gen_sink_fn sink,
                    void *sink_data);

/* ---- users ---- */

/*
 * Appends users with ids first_id.. first_id+count-1 for the given seed,
 * deterministic per (seed, id) whatever the batch boundaries. Line format:
 * COPY text (id, first_name, last_name, email, address, ip_address) when
 * copy_format, else CSV (RFC 4180 quoting, LF line ends) with a header line
 * when first_id == 1. The address has two lines ("street\nCity, ST 12345").
 * Emails are not guaranteed unique. Returns 0, the sink's non-zero, or -1 on
 * OOM / bad arguments (first_id < 1, NULL sink, id overflow).
 */
int gen_users(uint64_t seed, int64_t first_id, int64_t count, bool copy_format, gen_sink_fn sink,
              void *sink_data);

#endif
