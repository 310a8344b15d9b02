/*
 * http/limits - MAX_CONNECTIONS and MAX_CONNECTIONS_PER_IP for a whole
 * process: one count of open connections (atomic) and one table of open
 * connections per client address (under a mutex), shared by the servers of
 * every loop. The kernel spreads connections over the loops' sockets
 * (SO_REUSEPORT) unevenly, so a per-loop count could neither hold a total nor
 * stop one address from taking a slot on every loop.
 *
 * The lock covers a hash lookup and a counter; it is taken twice per
 * connection (accept and close), never per request.
 *
 * Ownership: reference counted. http_conn_limits_new's caller holds one
 * reference, every server given the object takes one (http_server_new) and
 * drops it in http_server_free; the last release frees the table.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

struct http_conn_limits {
    atomic_uint refs;
    unsigned max_connections, max_per_ip; /* 0 per ip: no cap */
    atomic_uint open;                     /* connections admitted and not yet released */
    pthread_mutex_t lock;                 /* the per-address table */
    http_ip_count_t *buckets[HTTP_IP_BUCKETS];
};

http_conn_limits_t *http_conn_limits_new(unsigned max_connections, unsigned max_per_ip)
{
    http_conn_limits_t *l = calloc(1, sizeof *l);
    if (!l) abort();
    atomic_init(&l->refs, 1);
    atomic_init(&l->open, 0);
    l->max_connections = max_connections;
    l->max_per_ip = max_per_ip;
    pthread_mutex_init(&l->lock, NULL);
    return l;
}

http_conn_limits_t *http_conn_limits_share(http_conn_limits_t *l)
{
    if (l) atomic_fetch_add(&l->refs, 1);
    return l;
}

void http_conn_limits_release(http_conn_limits_t *l)
{
    if (!l || atomic_fetch_sub(&l->refs, 1) != 1) return;
    for (int i = 0; i < HTTP_IP_BUCKETS; i++) {
        for (http_ip_count_t *e = l->buckets[i], *n; e; e = n) {
            n = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&l->lock);
    free(l);
}

unsigned http_conn_limits_open(const http_conn_limits_t *l)
{
    return atomic_load(&((http_conn_limits_t *)l)->open);
}

bool http_limits_admit_total(http_conn_limits_t *l)
{
    if (atomic_fetch_add(&l->open, 1) < l->max_connections) return true;
    atomic_fetch_sub(&l->open, 1);
    return false;
}

void http_limits_release_total(http_conn_limits_t *l)
{
    atomic_fetch_sub(&l->open, 1);
}

bool http_limits_per_ip(const http_conn_limits_t *l)
{
    return l->max_per_ip > 0;
}

static unsigned limits_hash(const unsigned char a[16])
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (int i = 0; i < 16; i++)
        h = (h ^ a[i]) * 16777619u;
    return h % HTTP_IP_BUCKETS;
}

http_ip_count_t *http_limits_admit_ip(http_conn_limits_t *l, const unsigned char addr[16])
{
    pthread_mutex_lock(&l->lock);
    http_ip_count_t **b = &l->buckets[limits_hash(addr)], *e = *b;
    while (e && memcmp(e->addr, addr, 16) != 0)
        e = e->next;
    if (e && e->n >= l->max_per_ip) {
        pthread_mutex_unlock(&l->lock);
        return NULL;
    }
    if (!e) {
        if (!(e = calloc(1, sizeof *e))) abort();
        memcpy(e->addr, addr, 16);
        e->next = *b;
        *b = e;
    }
    e->n++;
    pthread_mutex_unlock(&l->lock);
    return e;
}

void http_limits_release_ip(http_conn_limits_t *l, http_ip_count_t *e)
{
    pthread_mutex_lock(&l->lock);
    if (--e->n == 0) {
        http_ip_count_t **pp = &l->buckets[limits_hash(e->addr)];
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
        free(e);
    }
    pthread_mutex_unlock(&l->lock);
}
