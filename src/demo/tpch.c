/*
 * tpch.c - TPC-H ORDERS rows, byte for byte as dbgen prints them.
 *
 * Owns scale-factor handling, the per-column random streams and the row
 * formatter (shared/tpch/ORDERS.md sections 3-8). Every stream advances by a
 * fixed budget per row whatever the row used, so the state at row i is
 * seed * 16807^((i-1)*budget): a run starting mid-table jumps there in
 * O(log i) and then steps row by row with one multiply per stream.
 *
 * From SF 30000 on, dbgen draws custkey and partkey from a 64-bit generator
 * (ORDERS.md 7, tpch_wide.c); rows then are those of a run from row 1, and a
 * start mid-table replays the partkey stream from its nearest checkpoint.
 */
#include <stdlib.h>
#include <string.h>

#include "lakeapi/gen.h"
#include "demo/put.h"
#include "demo/tpch_internal.h"

#define TPCH_DATE_COUNT  2406 /* orderdate offsets 0..2405 from 1992-01-01 */
#define TPCH_CURRENT_OFF 1263 /* 1995-06-17: lines shipped by then are "F" */
#define TPCH_CMNT_MIN    19   /* (int)(O_CMNT_LEN 49 * 0.4) */
#define TPCH_CMNT_MAX    78   /* (int)(49 * 1.6) */
#define TPCH_MAX_SF      1e9  /* keys, clerks and prices stay far inside int64 */
#define TPCH_CHUNK       (1 << 20)
#define TPCH_ROW_MAX     512 /* a formatted row, escaped comment included, fits */
#define TPCH_BATCH       32  /* rows drawn (and their comments prefetched) per formatting pass */

/* The streams ORDERS output depends on (ORDERS.md 5.4), with their budgets. */
enum {
    S_CKEY,
    S_ODATE,
    S_PRIO,
    S_CLRK,
    S_CMNT,
    S_LCNT,
    S_QTY,
    S_DCNT,
    S_TAX,
    S_PKEY,
    S_SDTE,
    S_COUNT
};

static const struct {
    int64_t seed;
    int64_t budget;
} tpch_streams[S_COUNT] = {
    [S_CKEY] = {TPCH_SEED_CKEY, 1}, [S_ODATE] = {1066728069, 1}, [S_PRIO] = {591449447, 1},
    [S_CLRK] = {1171034773, 1},     [S_CMNT] = {276090261, 2},   [S_LCNT] = {TPCH_SEED_LCNT, 1},
    [S_QTY] = {209208115, 7},       [S_DCNT] = {554590007, 7},   [S_TAX] = {721958466, 7},
    [S_PKEY] = {TPCH_SEED_PKEY, 7}, [S_SDTE] = {1769349045, 7},
};

static const struct {
    const char *text;
    size_t len;
} tpch_priorities[5] = {
    {"1-URGENT", 8}, {"2-HIGH", 6}, {"3-MEDIUM", 8}, {"4-NOT SPECIFIED", 15}, {"5-LOW", 5},
};

struct gen_tpch {
    const char *pool; /* shared; released by gen_tpch_free */
    int64_t n_ord, n_cust, n_part, n_clerk;
    bool wide; /* scale >= 30000: custkey and partkey use the 64-bit streams */
    char dates[TPCH_DATE_COUNT][10]; /* "YYYY-MM-DD", no NUL */
};

/* One row's values before formatting, and where the 64-bit streams go next. */
typedef struct {
    int64_t ordinal, custkey, cents, clerk, cmnt_off;
    int64_t ckey_next, pkey_next;
    int date_off, prio, cmnt_len;
    char status;
} tpch_row_t;

typedef struct {
    int64_t n_ord, n_cust, n_part, n_clerk;
    bool wide;
} tpch_sizes_t;

/* dbgen's scale handling (ORDERS.md 4); -1 for an sf we do not generate. */
static int tpch_sizes(double sf, tpch_sizes_t *z)
{
    if (!(sf > 0) || sf > TPCH_MAX_SF) return -1;
    if (sf >= 1) {
        int64_t scale = (int64_t)sf; /* truncates: SF 1.5 is SF 1 */
        z->n_cust = 150000 * scale;
        z->n_part = 200000 * scale;
        z->n_ord = 1500000 * scale;
        z->n_clerk = 1000 * scale;
        z->wide = scale >= TPCH_WIDE_SCALE;
        return 0;
    }
    z->wide = false;
    int64_t k = (int)(1000.0 * sf);
    z->n_cust = k * 150000 / 1000;
    z->n_part = k * 200000 / 1000;
    z->n_ord = k * 1500000 / 1000;
    z->n_cust = z->n_cust < 1 ? 1 : z->n_cust;
    z->n_part = z->n_part < 1 ? 1 : z->n_part;
    z->n_ord = z->n_ord < 1 ? 1 : z->n_ord;
    z->n_clerk = 1000;
    return 0;
}

int64_t gen_tpch_orders_count(double sf)
{
    tpch_sizes_t z;
    return tpch_sizes(sf, &z) == 0 ? z.n_ord : -1;
}

int64_t gen_tpch_orderkey(int64_t ordinal)
{
    if (ordinal < 1) return -1; /* no such row; also keeps the shifts defined */
    return ((ordinal >> 3) << 5) | (ordinal & 7);
}

static void tpch_fill_dates(gen_tpch_t *g)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = 1992, m = 0, d = 1;
    for (int off = 0; off < TPCH_DATE_COUNT; off++) {
        char *s = g->dates[off];
        s[0] = (char)('0' + y / 1000);
        s[1] = (char)('0' + y / 100 % 10);
        s[2] = (char)('0' + y / 10 % 10);
        s[3] = (char)('0' + y % 10);
        s[4] = '-';
        s[5] = (char)('0' + (m + 1) / 10);
        s[6] = (char)('0' + (m + 1) % 10);
        s[7] = '-';
        s[8] = (char)('0' + d / 10);
        s[9] = (char)('0' + d % 10);
        int len = mdays[m] + (m == 1 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
        if (++d > len) {
            d = 1;
            if (++m == 12) {
                m = 0;
                y++;
            }
        }
    }
}

gen_tpch_t *gen_tpch_new(double sf)
{
    tpch_sizes_t z;
    if (tpch_sizes(sf, &z) != 0) return NULL;
    gen_tpch_t *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->pool = tpch_pool_acquire();
    if (!g->pool) {
        free(g);
        return NULL;
    }
    g->n_ord = z.n_ord;
    g->n_cust = z.n_cust;
    g->n_part = z.n_part;
    g->n_clerk = z.n_clerk;
    g->wide = z.wide;
    tpch_fill_dates(g);
    return g;
}

void gen_tpch_free(gen_tpch_t *g)
{
    if (!g) return;
    tpch_pool_release();
    free(g);
}

/* Draws the order's lineitems (ORDERS.md 6.5) into r->cents and r->status. */
static void tpch_lines(const gen_tpch_t *g, const int64_t st[S_COUNT], tpch_row_t *r)
{
    int64_t s_lcnt = st[S_LCNT];
    int lines = (int)tpch_unif(&s_lcnt, 1, 7);
    int64_t sq = st[S_QTY], sdc = st[S_DCNT], stx = st[S_TAX], spk = st[S_PKEY], ssd = st[S_SDTE];
    int64_t total = 0;
    int shipped = 0;
    for (int k = 0; k < lines; k++) {
        int64_t qty = tpch_unif(&sq, 1, 50);
        int64_t disc = tpch_unif(&sdc, 0, 10);
        int64_t tax = tpch_unif(&stx, 0, 8);
        int64_t pk = g->wide ? tpch64_unif(&spk, 1, g->n_part) : tpch_unif(&spk, 1, g->n_part);
        int64_t sd = tpch_unif(&ssd, 1, 121);
        int64_t rp = 90000 + (pk / 10) % 20001 + (pk % 1000) * 100;
        int64_t ep = rp * qty;
        total += ep * (100 - disc) / 100 * (100 + tax) / 100;
        shipped += (r->date_off + sd <= TPCH_CURRENT_OFF);
    }
    if (g->wide) r->pkey_next = tpch64_pad(spk, 7 - lines);
    r->cents = total;
    r->status = shipped == lines ? 'F' : shipped == 0 ? 'O' : 'P';
}

/* Computes row r->ordinal from the streams' states at the row's start. */
static void tpch_row(const gen_tpch_t *g, const int64_t st[S_COUNT], tpch_row_t *r)
{
    int64_t s = st[S_CKEY];
    int64_t c = g->wide ? tpch64_unif(&s, 1, g->n_cust) : tpch_unif(&s, 1, g->n_cust);
    r->ckey_next = s; /* budget 1: nothing to pad */
    if (c % 3 == 0)   /* every third customer places no orders */
        c = c == g->n_cust ? c - 1 : c + 1;
    r->custkey = c;
    s = st[S_ODATE];
    r->date_off = (int)(tpch_unif(&s, 92001, 94406) - 92001);
    s = st[S_PRIO];
    r->prio = (int)tpch_unif(&s, 1, 5) - 1;
    s = st[S_CLRK];
    r->clerk = tpch_unif(&s, 1, g->n_clerk);
    s = st[S_CMNT];
    r->cmnt_off = tpch_unif(&s, 0, TPCH_POOL_SIZE - TPCH_CMNT_MAX);
    r->cmnt_len = (int)tpch_unif(&s, TPCH_CMNT_MIN, TPCH_CMNT_MAX);
    tpch_lines(g, st, r);
}

/* ---- formatting ---- */

/* COPY text escaping; the pool has none of these bytes, but a comment is data. */
static char *tpch_put_escaped(char *p, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\':
            *p++ = '\\';
            *p++ = '\\';
            break;
        case '\t':
            *p++ = '\\';
            *p++ = 't';
            break;
        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;
        case '\r':
            *p++ = '\\';
            *p++ = 'r';
            break;
        default:
            *p++ = c;
        }
    }
    return p;
}

/* Writes one line; sep is '|' (dbgen: after every field) or '\t' (COPY: between fields). */
static char *tpch_format(const gen_tpch_t *g, const tpch_row_t *r, bool copy, char *p)
{
    char sep = copy ? '\t' : '|';
    p = gen_put_u64(p, (uint64_t)gen_tpch_orderkey(r->ordinal));
    *p++ = sep;
    p = gen_put_u64(p, (uint64_t)r->custkey);
    *p++ = sep;
    *p++ = r->status;
    *p++ = sep;
    p = gen_put_u64(p, (uint64_t)(r->cents / 100));
    *p++ = '.';
    *p++ = (char)('0' + r->cents % 100 / 10);
    *p++ = (char)('0' + r->cents % 10);
    *p++ = sep;
    p = gen_put(p, g->dates[r->date_off], 10);
    *p++ = sep;
    p = gen_put(p, tpch_priorities[r->prio].text, tpch_priorities[r->prio].len);
    *p++ = sep;
    p = gen_put(p, "Clerk#", 6);
    int64_t clerk = r->clerk; /* %09 in dbgen: 9 digits or more */
    if (clerk >= 1000000000) {
        p = gen_put_u64(p, (uint64_t)clerk);
    } else {
        for (int k = 8; k >= 0; k--) {
            p[k] = (char)('0' + clerk % 10);
            clerk /= 10;
        }
        p += 9;
    }
    *p++ = sep;
    *p++ = '0';
    *p++ = sep;
    const char *cmnt = g->pool + r->cmnt_off;
    if (copy) {
        p = tpch_put_escaped(p, cmnt, (size_t)r->cmnt_len);
    } else {
        p = gen_put(p, cmnt, (size_t)r->cmnt_len);
        *p++ = '|';
    }
    *p++ = '\n';
    return p;
}

int gen_tpch_orders(gen_tpch_t *g, int64_t first, int64_t count, bool copy_format, gen_sink_fn sink,
                    void *sink_data)
{
    if (!g || !sink) return -1;
    int64_t last;
    if (count <= 0) return 0;
    if (__builtin_add_overflow(first, count - 1, &last) || last > g->n_ord) last = g->n_ord;
    if (first < 1) first = 1;
    if (first > last) return 0;

    char *buf = malloc(TPCH_CHUNK + TPCH_ROW_MAX);
    if (!buf) return -1;
    int64_t st[S_COUNT], step[S_COUNT];
    for (int k = 0; k < S_COUNT; k++) {
        st[k] = tpch_rng_skip(tpch_streams[k].seed, (first - 1) * tpch_streams[k].budget);
        step[k] = tpch_rng_pow(tpch_streams[k].budget);
    }
    if (g->wide) {
        st[S_CKEY] = tpch64_skip(TPCH_SEED_CKEY, first - 1);
        st[S_PKEY] = tpch64_pkey_state(first);
    }

    int rc = 0;
    size_t len = 0;
    tpch_row_t rows[TPCH_BATCH] = {0};
    for (int64_t i = first; i <= last && rc == 0;) {
        /*
         * Draw a batch of rows before formatting any: each comment lies at a
         * random spot of the 300 MiB pool, and copying it at once would wait
         * for memory on every row; prefetched a batch ahead, it is in cache.
         */
        int n = 0;
        for (; n < TPCH_BATCH && i <= last; n++, i++) {
            tpch_row_t *r = &rows[n];
            r->ordinal = i;
            tpch_row(g, st, r);
            __builtin_prefetch(g->pool + r->cmnt_off);
            __builtin_prefetch(g->pool + r->cmnt_off + r->cmnt_len - 1);
            for (int k = 0; k < S_COUNT; k++)
                st[k] = tpch_mulmod(st[k], step[k]);
            if (g->wide) {
                st[S_CKEY] = r->ckey_next;
                st[S_PKEY] = r->pkey_next;
            }
        }
        for (int k = 0; k < n && rc == 0; k++) {
            len = (size_t)(tpch_format(g, &rows[k], copy_format, buf + len) - buf);
            if (len >= TPCH_CHUNK) {
                rc = sink(buf, len, sink_data);
                len = 0;
            }
        }
    }
    if (rc == 0 && len > 0) rc = sink(buf, len, sink_data);
    free(buf);
    return rc;
}
