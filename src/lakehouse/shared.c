/*
 * lakehouse/shared - what the backends of every event loop (WORKERS) share in
 * one process, so a process reads like one backend:
 *
 *   - the result cache with its coalescing (cache.c, locked inside): a
 *     thousand identical reads are one warehouse statement whatever loops
 *     their connections landed on, and a write invalidates for every loop;
 *   - the warehouse state (probe results, the last start request): one probe
 *     per interval for the process, and /readyz reads the same on every loop;
 *   - table discovery: a catalog load runs once and its result is handed to
 *     every loop, which builds its own tables from it (tables.c); a loop that
 *     starts after the first load adopts that result instead of asking again.
 *
 * Work for another loop goes through that loop's inbox (util/inbox.c). A
 * backend joins in lakehouse_new and leaves in lakehouse_close (posting to it
 * then fails; what was queued runs first).
 *
 * Ownership: reference counted. lakehouse_shared_new's caller holds one
 * reference (cli/workers.c, or lakehouse_new for a lone loop), every backend
 * takes one and drops it in lakehouse_free; the last release frees the cache
 * and the kept catalog results.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lakehouse/internal.h"
#include "lakeapi/inbox.h"
#include "lakeapi/log.h"

#define LH_MAX_MEMBERS 256
#define LH_MAX_KEPT    16 /* catalogs whose last load is kept for late joiners */

typedef struct lh_member {
    lakehouse_t *lh; /* NULL: left (or never joined) */
    inbox_t *inbox;  /* runs closures on lh's loop */
} lh_member_t;

typedef struct lh_kept {
    char name[129];
    bool loading;        /* a loop's load of it is out: the others wait for its result */
    lh_result_t *result; /* the last successful load (a reference), or NULL */
} lh_kept_t;

struct lakehouse_shared {
    atomic_int refs;
    pthread_mutex_t lock; /* members, warehouse state, kept catalogs */
    lh_member_t members[LH_MAX_MEMBERS];
    int nmembers;
    char wh_state[24], wh_error[256];
    double wh_probed_at, start_asked_at;
    bool probing;
    lh_kept_t kept[LH_MAX_KEPT];
    int nkept;
    lh_cache_t *cache;
};

lakehouse_shared_t *lakehouse_shared_new(const config_t *cfg)
{
    lakehouse_shared_t *sh = calloc(1, sizeof *sh);
    if (!sh) abort();
    atomic_init(&sh->refs, 1);
    pthread_mutex_init(&sh->lock, NULL);
    sh->cache =
        lh_cache_new(sh, cfg->lakehouse_cache_ttl_s, (size_t)cfg->lakehouse_cache_mb * 1024 * 1024);
    return sh;
}

lakehouse_shared_t *lh_shared_ref(lakehouse_shared_t *sh)
{
    atomic_fetch_add(&sh->refs, 1);
    return sh;
}

void lakehouse_shared_release(lakehouse_shared_t *sh)
{
    if (!sh || atomic_fetch_sub(&sh->refs, 1) != 1) return;
    lh_cache_free(sh->cache);
    for (int i = 0; i < sh->nkept; i++)
        lh_result_free(sh->kept[i].result);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

lh_cache_t *lh_shared_cache(lakehouse_shared_t *sh)
{
    return sh->cache;
}

/* ---- mailboxes ---- */

int lh_shared_join(lakehouse_shared_t *sh, lakehouse_t *lh)
{
    inbox_t *inbox = inbox_new(lh->loop);
    pthread_mutex_lock(&sh->lock);
    int i = sh->nmembers < LH_MAX_MEMBERS ? sh->nmembers++ : -1;
    if (i >= 0) {
        sh->members[i].lh = lh;
        sh->members[i].inbox = inbox;
    }
    pthread_mutex_unlock(&sh->lock);
    if (i < 0) abort(); /* WORKERS is at most 256 */
    return i;
}

void lh_shared_leave(lakehouse_shared_t *sh, lakehouse_t *lh)
{
    pthread_mutex_lock(&sh->lock);
    lh_member_t *m = &sh->members[lh->member];
    inbox_t *inbox = m->inbox;
    m->lh = NULL;
    m->inbox = NULL;
    pthread_mutex_unlock(&sh->lock);
    inbox_close(inbox); /* runs what was posted already; nobody can post any more */
}

/* Under the lock: posters hold it, so a member's inbox cannot close under them. */
static bool lh_post_locked(lakehouse_shared_t *sh, int member, inbox_fn fn, void *arg)
{
    lh_member_t *m = &sh->members[member];
    return m->inbox && inbox_post(m->inbox, fn, arg);
}

bool lh_post(lakehouse_shared_t *sh, int member, void (*fn)(void *arg), void *arg)
{
    pthread_mutex_lock(&sh->lock);
    bool ok = lh_post_locked(sh, member, fn, arg);
    pthread_mutex_unlock(&sh->lock);
    return ok;
}

/* ---- the warehouse state ---- */

void lh_wh_get(const lakehouse_t *lh, char state[24], char *error, size_t errlen)
{
    lakehouse_shared_t *sh = lh->sh;
    pthread_mutex_lock(&sh->lock);
    memcpy(state, sh->wh_state, sizeof sh->wh_state);
    if (error) snprintf(error, errlen, "%s", sh->wh_error);
    pthread_mutex_unlock(&sh->lock);
}

bool lh_wh_probe_begin(lakehouse_t *lh, double max_age_s)
{
    lakehouse_shared_t *sh = lh->sh;
    pthread_mutex_lock(&sh->lock);
    bool go = !sh->probing && !(sh->wh_probed_at > 0 && lh_now() - sh->wh_probed_at < max_age_s);
    if (go) sh->probing = true;
    pthread_mutex_unlock(&sh->lock);
    return go;
}

void lh_wh_probe_end(lakehouse_t *lh, const char *state, const char *error)
{
    lakehouse_shared_t *sh = lh->sh;
    pthread_mutex_lock(&sh->lock);
    sh->probing = false;
    if (state || error) { /* an answer (else the call could not even start) */
        sh->wh_probed_at = lh_now();
        snprintf(sh->wh_error, sizeof sh->wh_error, "%s", error ? error : "");
    }
    if (state) {
        if (strcmp(state, sh->wh_state) != 0)
            log_info("SQL warehouse %s is %s", lh->warehouse_id, state[0] ? state : "(unknown)");
        snprintf(sh->wh_state, sizeof sh->wh_state, "%s", state);
    }
    pthread_mutex_unlock(&sh->lock);
}

bool lh_wh_start_due(lakehouse_t *lh, double every_s)
{
    lakehouse_shared_t *sh = lh->sh;
    pthread_mutex_lock(&sh->lock);
    bool due = lh_now() - sh->start_asked_at > every_s;
    if (due) sh->start_asked_at = lh_now();
    pthread_mutex_unlock(&sh->lock);
    return due;
}

/* ---- table discovery ---- */

/* Under the lock: the catalog's record (made when missing; NULL when there is no room). */
static lh_kept_t *lh_kept(lakehouse_shared_t *sh, const char *catalog)
{
    for (int i = 0; i < sh->nkept; i++)
        if (strcmp(sh->kept[i].name, catalog) == 0) return &sh->kept[i];
    if (sh->nkept == LH_MAX_KEPT) return NULL;
    lh_kept_t *k = &sh->kept[sh->nkept++];
    memset(k, 0, sizeof *k);
    snprintf(k->name, sizeof k->name, "%s", catalog);
    return k;
}

bool lh_shared_load_claim(lakehouse_shared_t *sh, const char *catalog)
{
    pthread_mutex_lock(&sh->lock);
    lh_kept_t *k = lh_kept(sh, catalog);
    bool mine = !k || !k->loading;
    if (k) k->loading = true;
    pthread_mutex_unlock(&sh->lock);
    return mine;
}

lh_result_t *lh_shared_load_kept(lakehouse_shared_t *sh, const char *catalog)
{
    pthread_mutex_lock(&sh->lock);
    lh_result_t *r = NULL;
    for (int i = 0; i < sh->nkept && !r; i++)
        if (strcmp(sh->kept[i].name, catalog) == 0) r = lh_result_share(sh->kept[i].result);
    pthread_mutex_unlock(&sh->lock);
    return r;
}

typedef struct lh_loaded_mail {
    lakehouse_t *lh; /* the loop it is for */
    char catalog[129];
    int status;
    char *detail;
    lh_result_t *result;
} lh_loaded_mail_t;

static void lh_loaded_mail_free(lh_loaded_mail_t *m)
{
    free(m->detail);
    lh_result_free(m->result);
    free(m);
}

static void lh_loaded_mail_run(void *arg)
{
    lh_loaded_mail_t *m = arg;
    lh_tables_adopt(m->lh, m->catalog, m->status, m->detail, m->result);
    lh_loaded_mail_free(m);
}

void lh_shared_load_done(lakehouse_t *lh, const char *catalog, int status, const char *detail,
                         lh_result_t *result)
{
    lakehouse_shared_t *sh = lh->sh;
    pthread_mutex_lock(&sh->lock);
    lh_kept_t *k = lh_kept(sh, catalog);
    if (k) {
        k->loading = false;
        if (status == 0) {
            lh_result_free(k->result);
            k->result = lh_result_share(result);
        }
    }
    for (int i = 0; i < sh->nmembers; i++) {
        if (i == lh->member || !sh->members[i].lh) continue;
        lh_loaded_mail_t *m = calloc(1, sizeof *m);
        if (!m) abort();
        m->lh = sh->members[i].lh;
        snprintf(m->catalog, sizeof m->catalog, "%s", catalog);
        m->status = status;
        if (detail && !(m->detail = strdup(detail))) abort();
        m->result = status == 0 ? lh_result_share(result) : NULL;
        if (!lh_post_locked(sh, i, lh_loaded_mail_run, m)) lh_loaded_mail_free(m);
    }
    pthread_mutex_unlock(&sh->lock);
}
