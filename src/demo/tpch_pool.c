/*
 * tpch_pool.c - dbgen's 300 MiB text pool and the stream jump-ahead.
 *
 * Every TPC-H comment is a substring of one pool of random sentences built
 * from the dists.dss word lists on stream 5 (shared/tpch/ORDERS.md 6.6). The
 * pool does not depend on the scale factor, so one copy is shared by every
 * generator in the process and reference counted.
 *
 * Building it means ~50 million weighted picks, so each word list is compiled
 * first: draw -> entry is a table lookup and each entry is a fixed-size slot
 * holding the word plus its trailing blank, copied with one fixed-size memcpy.
 * Two threads build one half each (pool_build).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "demo/tpch_internal.h"

/* A list from dists.dss: entries in file order with their weights. */
typedef struct {
    const char *text;
    int weight;
} pool_entry_t;

/*
 * Pattern lists are written in a compact token form: N noun phrase, V verb
 * phrase, P preposition + " the " + noun phrase, T terminator; inside phrases
 * J adjective, j adjective followed by a comma, D adverb, N noun, V verb,
 * X auxiliary.
 */
/* clang-format off */
static const pool_entry_t grammar_list[] = {
    {"NVT", 3}, {"NVPT", 3}, {"NVNT", 3}, {"NPVNT", 1}, {"NPVPT", 1},
};
static const pool_entry_t np_list[] = {{"N", 10}, {"JN", 20}, {"jJN", 10}, {"DJN", 50}};
static const pool_entry_t vp_list[] = {{"V", 30}, {"XV", 1}, {"VD", 40}, {"XVD", 1}};

static const pool_entry_t nouns_list[] = {
    {"packages", 40}, {"requests", 40}, {"accounts", 40}, {"deposits", 40}, {"foxes", 20},
    {"ideas", 20}, {"theodolites", 20}, {"pinto beans", 20}, {"instructions", 20},
    {"dependencies", 10}, {"excuses", 10}, {"platelets", 10}, {"asymptotes", 10}, {"courts", 5},
    {"dolphins", 5}, {"multipliers", 1}, {"sauternes", 1}, {"warthogs", 1}, {"frets", 1},
    {"dinos", 1}, {"attainments", 1}, {"somas", 1}, {"Tiresias", 1}, {"patterns", 1}, {"forges", 1},
    {"braids", 1}, {"frays", 1}, {"warhorses", 1}, {"dugouts", 1}, {"notornis", 1}, {"epitaphs", 1},
    {"pearls", 1}, {"tithes", 1}, {"waters", 1}, {"orbits", 1}, {"gifts", 1}, {"sheaves", 1},
    {"depths", 1}, {"sentiments", 1}, {"decoys", 1}, {"realms", 1}, {"pains", 1}, {"grouches", 1},
    {"escapades", 1}, {"hockey players", 1},
};
static const pool_entry_t verbs_list[] = {
    {"sleep", 20}, {"wake", 20}, {"are", 20}, {"cajole", 20}, {"haggle", 20}, {"nag", 10},
    {"use", 10}, {"boost", 10}, {"affix", 5}, {"detect", 5}, {"integrate", 5}, {"maintain", 1},
    {"nod", 1}, {"was", 1}, {"lose", 1}, {"sublate", 1}, {"solve", 1}, {"thrash", 1},
    {"promise", 1}, {"engage", 1}, {"hinder", 1}, {"print", 1}, {"x-ray", 1}, {"breach", 1},
    {"eat", 1}, {"grow", 1}, {"impress", 1}, {"mold", 1}, {"poach", 1}, {"serve", 1}, {"run", 1},
    {"dazzle", 1}, {"snooze", 1}, {"doze", 1}, {"unwind", 1}, {"kindle", 1}, {"play", 1},
    {"hang", 1}, {"believe", 1}, {"doubt", 1},
};
static const pool_entry_t adjectives_list[] = {
    {"special", 20}, {"pending", 20}, {"unusual", 20}, {"express", 20}, {"furious", 1}, {"sly", 1},
    {"careful", 1}, {"blithe", 1}, {"quick", 1}, {"fluffy", 1}, {"slow", 1}, {"quiet", 1},
    {"ruthless", 1}, {"thin", 1}, {"close", 1}, {"dogged", 1}, {"daring", 1}, {"brave", 1},
    {"stealthy", 1}, {"permanent", 1}, {"enticing", 1}, {"idle", 1}, {"busy", 1}, {"regular", 50},
    {"final", 40}, {"ironic", 40}, {"even", 30}, {"bold", 20}, {"silent", 10},
};
static const pool_entry_t adverbs_list[] = {
    {"sometimes", 1}, {"always", 1}, {"never", 1}, {"furiously", 50}, {"slyly", 50},
    {"carefully", 50}, {"blithely", 40}, {"quickly", 30}, {"fluffily", 20}, {"slowly", 1},
    {"quietly", 1}, {"ruthlessly", 1}, {"thinly", 1}, {"closely", 1}, {"doggedly", 1},
    {"daringly", 1}, {"bravely", 1}, {"stealthily", 1}, {"permanently", 1}, {"enticingly", 1},
    {"idly", 1}, {"busily", 1}, {"regularly", 1}, {"finally", 1}, {"ironically", 1}, {"evenly", 1},
    {"boldly", 1}, {"silently", 1},
};
/* "whithout" is dbgen's spelling; " the " is appended when compiled. */
static const pool_entry_t prepositions_list[] = {
    {"about", 50}, {"above", 50}, {"according to", 50}, {"across", 50}, {"after", 50},
    {"against", 40}, {"along", 40}, {"alongside of", 30}, {"among", 30}, {"around", 20}, {"at", 10},
    {"atop", 1}, {"before", 1}, {"behind", 1}, {"beneath", 1}, {"beside", 1}, {"besides", 1},
    {"between", 1}, {"beyond", 1}, {"by", 1}, {"despite", 1}, {"during", 1}, {"except", 1},
    {"for", 1}, {"from", 1}, {"in place of", 1}, {"inside", 1}, {"instead of", 1}, {"into", 1},
    {"near", 1}, {"of", 1}, {"on", 1}, {"outside", 1}, {"over", 1}, {"past", 1}, {"since", 1},
    {"through", 1}, {"throughout", 1}, {"to", 1}, {"toward", 1}, {"under", 1}, {"until", 1},
    {"up", 1}, {"upon", 1}, {"whithout", 1}, {"with", 1}, {"within", 1},
};
static const pool_entry_t auxiliaries_list[] = {
    {"do", 1}, {"may", 1}, {"might", 1}, {"shall", 1}, {"will", 1}, {"would", 1}, {"can", 1},
    {"could", 1}, {"should", 1}, {"ought to", 1}, {"must", 1}, {"will have to", 1},
    {"shall have to", 1}, {"could have to", 1}, {"should have to", 1}, {"must have to", 1},
    {"need to", 1}, {"try to", 1},
};
static const pool_entry_t terminators_list[] = {
    {".", 50}, {";", 1}, {":", 1}, {"?", 1}, {"!", 1}, {"--", 1},
};
/* clang-format on */

#define POOL_SLOT     32   /* bytes per compiled word, >= longest word + suffix */
#define POOL_SLACK    4096 /* room past the pool end for the last sentence */
#define POOL_MAX_PICK 512  /* >= the largest total weight (456) */

/* A compiled list: draw index (0-based) -> entry, entry -> padded text. */
typedef struct {
    double total;
    uint8_t pick[POOL_MAX_PICK];
    char text[48][POOL_SLOT];
    int len[48];
} pool_dist_t;

typedef struct {
    pool_dist_t grammar, np, vp, nouns, verbs, adjectives, adverbs, preps, aux, terms;
} pool_dists_t;

static void pool_compile(pool_dist_t *d, const pool_entry_t *list, size_t n, const char *suffix)
{
    int cum = 0;
    memset(d, 0, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        for (int w = 0; w < list[i].weight; w++)
            d->pick[cum + w] = (uint8_t)i;
        cum += list[i].weight;
        size_t tl = strlen(list[i].text), sl = strlen(suffix);
        memcpy(d->text[i], list[i].text, tl);
        memcpy(d->text[i] + tl, suffix, sl);
        d->len[i] = (int)(tl + sl);
    }
    d->total = (double)cum;
}

#define POOL_COMPILE(d, list, suffix)                                                              \
    pool_compile((d), (list), sizeof(list) / sizeof((list)[0]), (suffix))

static void pool_compile_all(pool_dists_t *d)
{
    POOL_COMPILE(&d->grammar, grammar_list, "");
    POOL_COMPILE(&d->np, np_list, "");
    POOL_COMPILE(&d->vp, vp_list, "");
    POOL_COMPILE(&d->nouns, nouns_list, " ");
    POOL_COMPILE(&d->verbs, verbs_list, " ");
    POOL_COMPILE(&d->adjectives, adjectives_list, " ");
    POOL_COMPILE(&d->adverbs, adverbs_list, " ");
    POOL_COMPILE(&d->preps, prepositions_list, " the ");
    POOL_COMPILE(&d->aux, auxiliaries_list, " ");
    POOL_COMPILE(&d->terms, terminators_list, "");
}

/* A weighted pick (ORDERS.md 5.3): one draw of uniform(1, total), as an index. */
static inline int pool_pick(const pool_dist_t *d, int64_t *s)
{
    *s = tpch_next(*s);
    int64_t j = (int64_t)((double)*s / (double)TPCH_RNG_M * d->total);
    return d->pick[j];
}

/* Writes a picked word with its suffix at p; returns the end. */
static inline char *pool_word(const pool_dist_t *d, int64_t *s, char *p)
{
    int i = pool_pick(d, s);
    memcpy(p, d->text[i], POOL_SLOT);
    return p + d->len[i];
}

static char *pool_noun_phrase(const pool_dists_t *d, int64_t *s, char *p)
{
    for (const char *t = d->np.text[pool_pick(&d->np, s)]; *t; t++) {
        switch (*t) {
        case 'j': /* "J," : the comma goes before the word's blank */
            p = pool_word(&d->adjectives, s, p);
            p[-1] = ',';
            *p++ = ' ';
            break;
        case 'J':
            p = pool_word(&d->adjectives, s, p);
            break;
        case 'D':
            p = pool_word(&d->adverbs, s, p);
            break;
        default:
            p = pool_word(&d->nouns, s, p);
            break;
        }
    }
    return p;
}

static char *pool_verb_phrase(const pool_dists_t *d, int64_t *s, char *p)
{
    for (const char *t = d->vp.text[pool_pick(&d->vp, s)]; *t; t++) {
        if (*t == 'X')
            p = pool_word(&d->aux, s, p);
        else if (*t == 'D')
            p = pool_word(&d->adverbs, s, p);
        else
            p = pool_word(&d->verbs, s, p);
    }
    return p;
}

/* Writes one sentence at p (no trailing blank); returns its end. */
static char *pool_sentence(const pool_dists_t *d, int64_t *s, char *p)
{
    for (const char *t = d->grammar.text[pool_pick(&d->grammar, s)]; *t; t++) {
        switch (*t) {
        case 'N':
            p = pool_noun_phrase(d, s, p);
            break;
        case 'V':
            p = pool_verb_phrase(d, s, p);
            break;
        case 'P':
            p = pool_word(&d->preps, s, p);
            p = pool_noun_phrase(d, s, p);
            break;
        default: /* 'T': the terminator replaces the last blank */
            p = pool_word(&d->terms, s, p - 1);
            break;
        }
    }
    return p;
}

/*
 * The pool is built in two halves at once. The second starts at the first
 * sentence boundary past 150 MiB, with stream 5's state there; both were read
 * off a sequential build (test_gen_tpch checks the whole pool's hash).
 */
#define POOL_MID_OFFSET 157286442LL
#define POOL_MID_SEED   400078567LL
#define POOL_SENTENCE   1024 /* > the longest sentence, with a word slot's overrun */

typedef struct {
    const pool_dists_t *d;
    int64_t seed;
    char *from, *stop, *end; /* fill [from, stop); sentences are cut only at end */
} pool_part_t;

/*
 * Writes sentences from part->from until stop. Words are copied in fixed-size
 * slots that may overrun their end, so near stop a sentence is first written
 * to scratch: the other half's bytes are never touched.
 */
static void *pool_fill(void *arg)
{
    const pool_part_t *part = arg;
    int64_t s = part->seed;
    char *p = part->from, scratch[POOL_SENTENCE];
    while (p < part->stop) {
        bool near = part->stop - p < POOL_SENTENCE && part->stop != part->end;
        char *at = near ? scratch : p;
        size_t n = (size_t)(pool_sentence(part->d, &s, at) - at);
        if (part->end - p < (ptrdiff_t)n + 1) { /* the sentence is cut at the pool's end */
            p = part->end;
            break;
        }
        if (near) memcpy(p, scratch, n);
        p[n] = ' ';
        p += n + 1;
    }
    return NULL;
}

/* Fills pool[0 .. TPCH_POOL_SIZE) exactly as dbgen does; pool has POOL_SLACK spare bytes. */
static void pool_build(char *pool)
{
    pool_dists_t dists; /* ~23 KiB */
    pool_compile_all(&dists);
    char *mid = pool + POOL_MID_OFFSET, *end = pool + TPCH_POOL_SIZE;
    pool_part_t first = {&dists, TPCH_POOL_SEED, pool, mid, end};
    pool_part_t second = {&dists, POOL_MID_SEED, mid, end, end};
    pthread_t t;
    bool threaded = pthread_create(&t, NULL, pool_fill, &second) == 0;
    pool_fill(&first);
    if (threaded)
        pthread_join(t, NULL);
    else
        pool_fill(&second);
}

/* ---- shared instance ---- */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static char *pool_data;
static int pool_refs;

const char *tpch_pool_acquire(void)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_refs == 0) {
        pool_data = malloc((size_t)TPCH_POOL_SIZE + POOL_SLACK);
        if (pool_data) pool_build(pool_data);
    }
    const char *p = pool_data;
    if (p) pool_refs++;
    pthread_mutex_unlock(&pool_lock);
    return p;
}

void tpch_pool_release(void)
{
    pthread_mutex_lock(&pool_lock);
    if (pool_refs > 0 && --pool_refs == 0) {
        free(pool_data);
        pool_data = NULL;
    }
    pthread_mutex_unlock(&pool_lock);
}

/* ---- stream jumps ---- */

int64_t tpch_rng_pow(int64_t n)
{
    int64_t result = 1, base = TPCH_RNG_A;
    while (n > 0) {
        if (n & 1) result = tpch_mulmod(result, base);
        base = tpch_mulmod(base, base);
        n >>= 1;
    }
    return result;
}

int64_t tpch_rng_skip(int64_t seed0, int64_t n)
{
    return tpch_mulmod(seed0, tpch_rng_pow(n));
}
