/*
 * lakehouse/export - CSV exports of any size through EXTERNAL_LINKS.
 *
 * The statement runs with disposition EXTERNAL_LINKS and format CSV; each
 * chunk is a presigned URL, fetched without the workspace token
 * (workspace_download) and its bytes passed on to the client as they arrive
 * (http_stream_*). Nothing holds the result: when the client's socket is
 * congested the download is paused (curl keeps its bytes until resumed) and
 * resumed on the stream's drain, so memory is one curl buffer plus the
 * stream's high-water mark, whatever the size of the result. Chunks go out
 * in order: the next chunk's links are asked for (next_chunk_internal_link)
 * only when the current chunk is done. The CSV is the warehouse's (a header
 * row, then the rows).
 *
 * A client that leaves cancels the statement while it runs, or stops the
 * download once streaming; a failure after the first byte aborts the
 * stream (the client sees an incomplete body, not a short one that looks whole).
 *
 * Ownership: the export (malloc'ed) owns its links and lives until the
 * stream ended and no call of its own is in flight.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/export.h"
#include "lakehouse/respond.h"
#include "lakeapi/log.h"

#define LH_EXPORT_TIMEOUT_S 3600.0

typedef struct lh_export {
    lakehouse_t *lh;
    http_exchange_t *ex;
    char *links[LH_MAX_LINKS];
    int nlinks, at;
    char *next_link;
    workspace_download_t *dl;
    bool streaming, paused, ended, gone, busy;
} lh_export_t;

static void lh_export_free_links(lh_export_t *x)
{
    for (int i = 0; i < x->nlinks; i++)
        free(x->links[i]);
    x->nlinks = x->at = 0;
}

static void lh_export_maybe_free(lh_export_t *x)
{
    if (!x->ended || x->busy || x->dl) return;
    lh_export_free_links(x);
    free(x->next_link);
    free(x);
}

static void lh_export_end(lh_export_t *x, bool ok)
{
    if (x->ended) return;
    x->ended = true;
    if (!x->streaming) {
        lh_send_error(x->ex, 502, "SQL warehouse export failed before any row", 0, NULL);
    } else if (ok || x->gone) {
        http_stream_end(x->ex);
    } else {
        http_stream_abort(x->ex);
    }
}

static void lh_export_next(lh_export_t *x);

static int lh_export_data(const char *data, size_t len, void *arg)
{
    lh_export_t *x = arg;
    if (x->gone || x->ended) return -1;
    if (http_stream_congested(x->ex)) {
        x->paused = true;
        return 1; /* curl hands the same bytes again on resume */
    }
    x->lh->m.external_bytes += len;
    http_stream_write(x->ex, data, len);
    return 0;
}

static void lh_export_downloaded(const workspace_response_t *res, void *data)
{
    lh_export_t *x = data;
    x->dl = NULL;
    if (res->error && !x->gone) {
        log_warn("lakehouse export: chunk download failed: %s", res->error);
        lh_export_end(x, false);
    } else if (!x->ended) {
        lh_export_next(x);
    }
    lh_export_maybe_free(x);
}

static void lh_export_chunk(const workspace_response_t *res, void *data)
{
    lh_export_t *x = data;
    x->busy = false;
    if (x->ended) {
        lh_export_maybe_free(x);
        return;
    }
    lh_reply_t p;
    char err[200];
    if (res->error || lh_parse_reply(res->body, res->len, true, NULL, &p, err, sizeof err) != 0) {
        log_warn("lakehouse export: next chunk: %s", res->error ? res->error : err);
        lh_export_end(x, false);
        lh_export_maybe_free(x);
        return;
    }
    x->lh->m.chunks++;
    x->lh->m.bytes += res->len;
    lh_export_free_links(x);
    memcpy(x->links, p.links, sizeof(char *) * (size_t)p.nlinks);
    x->nlinks = p.nlinks;
    p.nlinks = 0;
    free(x->next_link);
    x->next_link = p.next_link;
    p.next_link = NULL;
    lh_reply_dispose(&p);
    lh_export_next(x);
    lh_export_maybe_free(x);
}

/* The next link of this chunk, else the next chunk's links, else the end. */
static void lh_export_next(lh_export_t *x)
{
    if (x->at < x->nlinks) {
        const char *url = x->links[x->at++];
        x->dl = workspace_download(x->lh->ws, url, LH_EXPORT_TIMEOUT_S, lh_export_data,
                                   lh_export_downloaded, x);
        if (!x->dl) lh_export_end(x, false);
        return;
    }
    if (!x->next_link) {
        lh_export_end(x, true);
        return;
    }
    char *path = x->next_link;
    x->next_link = NULL;
    if (workspace_call(x->lh->ws, WORKSPACE_GET, path, NULL, 30.0, lh_export_chunk, x) == 0)
        x->busy = true;
    else
        lh_export_end(x, false);
    free(path);
}

static void lh_export_drain(http_exchange_t *ex, void *data)
{
    (void)ex;
    lh_export_t *x = data;
    if (x->paused && x->dl) {
        x->paused = false;
        workspace_download_resume(x->dl);
    }
}

static void lh_export_gone(http_exchange_t *ex, void *data)
{
    (void)ex;
    lh_export_t *x = data;
    x->gone = true;
    if (x->dl) {
        workspace_download_abort(x->dl);
        x->dl = NULL;
    }
    lh_export_end(x, false);
    lh_export_maybe_free(x);
}

static const http_stream_ops_t lh_export_ops = {lh_export_drain, lh_export_gone};

static void lh_export_ready(const lh_outcome_t *o, void *data)
{
    lh_export_t *x = data;
    if (o->status) {
        x->ended = true;
        lh_send_outcome(x->ex, o, NULL);
        lh_export_maybe_free(x);
        return;
    }
    for (int i = 0; i < o->nlinks; i++) {
        x->links[i] = strdup(o->links[i]);
        if (!x->links[i]) abort();
    }
    x->nlinks = o->nlinks;
    if (o->next_link && !(x->next_link = strdup(o->next_link))) abort();
    x->streaming = true;
    http_stream_begin(x->ex, 200, "text/csv; charset=utf-8", &lh_export_ops, x);
    lh_export_next(x);
    lh_export_maybe_free(x);
}

static bool lh_export_wanted(void *data)
{
    lh_export_t *x = data;
    return !http_exchange_client_gone(x->ex);
}

void lh_export_csv(lakehouse_t *lh, http_exchange_t *ex, const char *sql, const lh_param_t *params,
                   int nparams)
{
    int retry_after = 0;
    if (!lh_warehouse_usable(lh, &retry_after)) {
        char detail[200], st[24];
        lh_wh_get(lh, st, NULL, 0);
        snprintf(detail, sizeof detail, "SQL warehouse %s is %s", lh->warehouse_id, st);
        lh_send_error(ex, 503, detail, retry_after, st);
        return;
    }
    lh_export_t *x = calloc(1, sizeof *x);
    if (!x) abort();
    x->lh = lh;
    x->ex = ex;
    lh_stmt_run_ext(lh, sql, params, nparams, LH_STMT_EXTERNAL_CSV, lh_export_ready,
                    lh_export_wanted, x);
}
