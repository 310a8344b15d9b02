/*
 * auth/lru - a bounded table of 32-byte keys (SHA-256 digests) with
 * least-recently-used eviction: the verified-token cache and the rate-limit
 * buckets both live in one, so a flood of distinct tokens or identities costs
 * at most `capacity` entries, never unbounded memory.
 *
 * Open hashing with chains over a power-of-two bucket array (the key is
 * already a uniform hash, so its first 8 bytes index it) plus a doubly linked
 * recency list. Values are owned by the table and freed with free_value.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "auth/internal.h"

typedef struct lru_entry {
    unsigned char key[32];
    void *value;
    struct lru_entry *chain;       /* next in the bucket */
    struct lru_entry *prev, *next; /* recency: head is the most recent */
} lru_entry_t;

struct auth_lru {
    lru_entry_t **buckets;
    size_t nbuckets, size, capacity;
    lru_entry_t *head, *tail;
    auth_lru_free_fn free_value;
};

void auth_digest(const void *s, size_t len, unsigned char out[32])
{
    unsigned int n = 32;
    EVP_Digest(s, len, out, &n, EVP_sha256(), NULL);
}

auth_lru_t *auth_lru_new(size_t capacity, auth_lru_free_fn free_value)
{
    auth_lru_t *l = calloc(1, sizeof *l);
    if (!l) abort();
    l->capacity = capacity ? capacity : 1;
    l->nbuckets = 16;
    while (l->nbuckets < l->capacity)
        l->nbuckets *= 2;
    l->buckets = calloc(l->nbuckets, sizeof *l->buckets);
    if (!l->buckets) abort();
    l->free_value = free_value;
    return l;
}

static size_t lru_index(const auth_lru_t *l, const unsigned char key[32])
{
    uint64_t h;
    memcpy(&h, key, sizeof h);
    return (size_t)(h & (l->nbuckets - 1));
}

static lru_entry_t **lru_find(auth_lru_t *l, const unsigned char key[32])
{
    lru_entry_t **pp = &l->buckets[lru_index(l, key)];
    while (*pp && memcmp((*pp)->key, key, 32) != 0)
        pp = &(*pp)->chain;
    return pp;
}

static void lru_unlink(auth_lru_t *l, lru_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(auth_lru_t *l, lru_entry_t *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head) l->head->prev = e;
    l->head = e;
    if (!l->tail) l->tail = e;
}

void *auth_lru_get(auth_lru_t *l, const unsigned char key[32])
{
    lru_entry_t *e = *lru_find(l, key);
    if (!e) return NULL;
    if (l->head != e) {
        lru_unlink(l, e);
        lru_push_front(l, e);
    }
    return e->value;
}

static void lru_drop(auth_lru_t *l, lru_entry_t **pp)
{
    lru_entry_t *e = *pp;
    *pp = e->chain;
    lru_unlink(l, e);
    if (l->free_value) l->free_value(e->value);
    free(e);
    l->size--;
}

void auth_lru_remove(auth_lru_t *l, const unsigned char key[32])
{
    lru_entry_t **pp = lru_find(l, key);
    if (*pp) lru_drop(l, pp);
}

bool auth_lru_put(auth_lru_t *l, const unsigned char key[32], void *value)
{
    lru_entry_t **pp = lru_find(l, key);
    if (*pp) {
        if (l->free_value && (*pp)->value != value) l->free_value((*pp)->value);
        (*pp)->value = value;
        auth_lru_get(l, key);
        return false;
    }
    bool evicted = false;
    if (l->size >= l->capacity) {
        lru_drop(l, lru_find(l, l->tail->key));
        evicted = true;
    }
    lru_entry_t *e = calloc(1, sizeof *e);
    if (!e) abort();
    memcpy(e->key, key, 32);
    e->value = value;
    pp = lru_find(l, key); /* the drop may have changed this bucket's chain */
    *pp = e;
    lru_push_front(l, e);
    l->size++;
    return evicted;
}

size_t auth_lru_size(const auth_lru_t *l)
{
    return l->size;
}

void auth_lru_free(auth_lru_t *l)
{
    if (!l) return;
    for (lru_entry_t *e = l->head, *n; e; e = n) {
        n = e->next;
        if (l->free_value) l->free_value(e->value);
        free(e);
    }
    free(l->buckets);
    free(l);
}
