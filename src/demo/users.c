/*
 * users.c - deterministic fake users for the `users` demo table.
 *
 * Each user is a pure function of (seed, id): its own splitmix64 stream is
 * seeded from both, so any batch split produces the same bytes. Values look
 * like Faker's en_US output: weighted real first and last names, emails
 * derived from the name, two-line street addresses with a real city, state
 * and ZIP prefix, and public-looking IPv4 addresses. The word lists live in
 * users_names.c.
 */
#include <stdlib.h>
#include <string.h>

#include "lakeapi/gen.h"
#include "demo/put.h"
#include "demo/users_internal.h"

#define USERS_CHUNK   (1 << 20)
#define USERS_ROW_MAX 1024 /* one escaped row always fits */
#define USERS_FIELD   256  /* scratch size of one built field */

/* A word list compiled for weighted picks: cum[i] = sum of weights 0..i. */
typedef struct {
    const users_word_t *words;
    uint32_t *cum;
    size_t n;
    uint32_t total;
} users_dist_t;

typedef struct {
    users_dist_t first, last, street, suffix, domain, city;
    uint32_t *cum_block; /* owns every cum array */
} users_ctx_t;

/* ---- randomness ---- */

static uint64_t users_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* splitmix64: small, fast and good enough for fake data. */
static uint64_t users_next(uint64_t *s)
{
    *s += 0x9e3779b97f4a7c15ULL;
    return users_mix(*s);
}

/* Uniform in [0, n) by multiply-shift; the bias (n / 2^32) is irrelevant here. */
static uint32_t users_below(uint64_t *s, uint32_t n)
{
    return (uint32_t)(((users_next(s) >> 32) * n) >> 32);
}

static uint32_t users_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
    return lo + users_below(s, hi - lo + 1);
}

static size_t users_pick_index(const users_dist_t *d, uint64_t *s)
{
    uint32_t r = users_below(s, d->total);
    size_t lo = 0, hi = d->n - 1;
    while (lo < hi) { /* first i with cum[i] > r */
        size_t mid = (lo + hi) / 2;
        if (d->cum[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static const char *users_pick(const users_dist_t *d, uint64_t *s)
{
    return d->words[users_pick_index(d, s)].text;
}

/* ---- setup ---- */

static uint32_t *users_compile(users_dist_t *d, const users_word_t *words, size_t n, uint32_t *cum)
{
    uint32_t total = 0;
    d->words = words;
    d->n = n;
    d->cum = cum;
    for (size_t i = 0; i < n; i++) {
        total += words[i].weight;
        cum[i] = total;
    }
    d->total = total;
    return cum + n;
}

static int users_ctx_init(users_ctx_t *c)
{
    /* A weighted pick (a search for the first cum[i] > r) needs a word in every list. */
    if (users_first_names_count == 0 || users_last_names_count == 0 ||
        users_street_names_count == 0 || users_street_suffixes_count == 0 ||
        users_email_domains_count == 0 || users_cities_count == 0)
        return -1;
    size_t total = users_first_names_count + users_last_names_count + users_street_names_count +
                   users_street_suffixes_count + users_email_domains_count + users_cities_count;
    uint32_t *p = malloc(total * sizeof(uint32_t));
    if (!p) return -1;
    c->cum_block = p;
    p = users_compile(&c->first, users_first_names, users_first_names_count, p);
    p = users_compile(&c->last, users_last_names, users_last_names_count, p);
    p = users_compile(&c->street, users_street_names, users_street_names_count, p);
    p = users_compile(&c->suffix, users_street_suffixes, users_street_suffixes_count, p);
    p = users_compile(&c->domain, users_email_domains, users_email_domains_count, p);
    /* Cities keep their weight in a different struct; only the index is picked. */
    uint32_t sum = 0;
    c->city.words = NULL;
    c->city.n = users_cities_count;
    c->city.cum = p;
    for (size_t i = 0; i < users_cities_count; i++) {
        sum += users_cities[i].weight;
        p[i] = sum;
    }
    c->city.total = sum;
    return 0;
}

/* ---- fields ---- */

/* Appends the letters of s in lower case (O'Brien -> obrien): emails are plain ASCII. */
static char *users_put_lower(char *p, const char *s)
{
    for (; *s; s++) {
        char ch = *s;
        if (ch >= 'A' && ch <= 'Z')
            *p++ = (char)(ch - 'A' + 'a');
        else if (ch >= 'a' && ch <= 'z')
            *p++ = ch;
    }
    return p;
}

/*
 * Email local-part patterns, Faker-like: F first name, L last name, f and l
 * their initials, N a number (1-99 or a birth year); other bytes are literal.
 */
static const users_word_t users_email_patterns[] = {
    {"F.L", 20}, {"F.LN", 12}, {"fL", 14}, {"fLN", 8}, {"FL", 10}, {"F_L", 5}, {"FN", 8},
    {"F.l", 3},  {"LF", 3},    {"L.F", 4}, {"FLN", 6}, {"LN", 4},  {"FlN", 3},
};
/* Company-style domains like Faker's "sanchez-zimmerman.com": A and B are surnames. */
static const char *const users_company_domains[] = {
    "A.com", "A-B.com", "AB.com", "A.net", "A-B.net", "A.org", "A.biz", "A.info",
};

static char *users_email_local(uint64_t *s, const char *first, const char *last, char *p)
{
    uint32_t r = users_below(s, 100), acc = 0;
    const char *pat = users_email_patterns[0].text;
    for (size_t i = 0; i < sizeof(users_email_patterns) / sizeof(users_email_patterns[0]); i++) {
        acc += users_email_patterns[i].weight;
        if (r < acc) {
            pat = users_email_patterns[i].text;
            break;
        }
    }
    uint32_t num = users_below(s, 10) < 3 ? users_range(s, 1950, 2005) : users_range(s, 1, 99);
    char one[2] = {0, 0};
    for (; *pat; pat++) {
        switch (*pat) {
        case 'F':
            p = users_put_lower(p, first);
            break;
        case 'L':
            p = users_put_lower(p, last);
            break;
        case 'f':
        case 'l':
            one[0] = *pat == 'f' ? first[0] : last[0];
            p = users_put_lower(p, one);
            break;
        case 'N':
            p = gen_put_u64(p, num);
            break;
        default:
            *p++ = *pat;
        }
    }
    return p;
}

/* Writes a NUL-terminated email into out (USERS_FIELD bytes). */
static void users_email(const users_ctx_t *c, uint64_t *s, const char *first, const char *last,
                        char *out)
{
    char *p = users_email_local(s, first, last, out);
    *p++ = '@';
    if (users_below(s, 100) < 88) {
        p = gen_put_str(p, users_pick(&c->domain, s));
    } else {
        size_t n = sizeof(users_company_domains) / sizeof(users_company_domains[0]);
        const char *pat = users_company_domains[users_below(s, (uint32_t)n)];
        const char *a = users_pick(&c->last, s), *b = users_pick(&c->last, s);
        for (; *pat; pat++) {
            if (*pat == 'A' || *pat == 'B')
                p = users_put_lower(p, *pat == 'A' ? a : b);
            else
                *p++ = *pat;
        }
    }
    *p = '\0';
}

/* "1234 Oak Street Apt. 5\nSpringfield, IL 62704", NUL-terminated, into out. */
static void users_address(const users_ctx_t *c, uint64_t *s, char *out)
{
    static const uint32_t lo[] = {1, 10, 100, 1000, 10000}, hi[] = {9, 99, 999, 9999, 99999};
    static const uint32_t digit_cum[] = {5, 20, 55, 90, 100}; /* % with 1..5 digits */
    uint32_t r = users_below(s, 100), d = 0;
    while (r >= digit_cum[d])
        d++;
    char *p = gen_put_u64(out, users_range(s, lo[d], hi[d]));
    *p++ = ' ';
    r = users_below(s, 100);
    const users_dist_t *names = r < 70 ? &c->street : r < 90 ? &c->last : &c->first;
    p = gen_put_str(p, users_pick(names, s));
    *p++ = ' ';
    p = gen_put_str(p, users_pick(&c->suffix, s));
    if (users_below(s, 100) < 25) {
        r = users_below(s, 10);
        if (r < 6) {
            p = gen_put_u64(gen_put_str(p, " Apt. "), users_range(s, 1, 999));
        } else if (r < 9) {
            p = gen_put_u64(gen_put_str(p, " Suite "), users_range(s, 100, 999));
        } else {
            p = gen_put_u64(gen_put_str(p, " Unit "), users_range(s, 1, 30));
            *p++ = (char)('A' + users_below(s, 6));
        }
    }
    *p++ = '\n';
    const users_city_t *city = &users_cities[users_pick_index(&c->city, s)];
    p = gen_put_str(p, city->city);
    *p++ = ',';
    *p++ = ' ';
    p = gen_put_str(p, city->state);
    *p++ = ' ';
    uint32_t zip = city->zip3 * 100u + users_range(s, 1, 99);
    for (int k = 4; k >= 0; k--) {
        p[k] = (char)('0' + zip % 10);
        zip /= 10;
    }
    p[5] = '\0';
}

/* A public-looking IPv4: no 0/8, 10/8, 100/8, 127/8, 169/8, 172/8, 192/8, 198/8, multicast. */
static void users_ip(uint64_t *s, char *out)
{
    uint32_t a;
    do {
        a = users_range(s, 1, 223);
    } while (a == 10 || a == 100 || a == 127 || a == 169 || a == 172 || a == 192 || a == 198);
    char *p = gen_put_u64(out, a);
    *p++ = '.';
    p = gen_put_u64(p, users_below(s, 256));
    *p++ = '.';
    p = gen_put_u64(p, users_below(s, 256));
    *p++ = '.';
    p = gen_put_u64(p, users_range(s, 1, 254));
    *p = '\0';
}

/* ---- output ---- */

/* One field: COPY text escaping, or RFC 4180 quoting when the value needs it. */
static char *users_put_field(char *p, const char *v, bool copy)
{
    if (copy) {
        for (; *v; v++) {
            char ch = *v;
            char esc = ch == '\\'   ? '\\'
                       : ch == '\t' ? 't'
                       : ch == '\n' ? 'n'
                       : ch == '\r' ? 'r'
                                    : 0;
            if (esc) {
                *p++ = '\\';
                *p++ = esc;
            } else {
                *p++ = ch;
            }
        }
        return p;
    }
    if (!v[strcspn(v, ",\"\r\n")]) return gen_put_str(p, v);
    *p++ = '"';
    for (; *v; v++) {
        if (*v == '"') *p++ = '"';
        *p++ = *v;
    }
    *p++ = '"';
    return p;
}

static char *users_row(const users_ctx_t *c, uint64_t seed, int64_t id, bool copy, char *p)
{
    uint64_t s = users_mix(seed + 0x632be59bd9b4e019ULL) ^ users_mix((uint64_t)id);
    const char *first = users_pick(&c->first, &s);
    const char *last = users_pick(&c->last, &s);
    char email[USERS_FIELD], address[USERS_FIELD], ip[16];
    users_email(c, &s, first, last, email);
    users_address(c, &s, address);
    users_ip(&s, ip);

    char sep = copy ? '\t' : ',';
    p = gen_put_u64(p, (uint64_t)id);
    const char *fields[] = {first, last, email, address, ip};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        *p++ = sep;
        p = users_put_field(p, fields[i], copy);
    }
    *p++ = '\n';
    return p;
}

int gen_users(uint64_t seed, int64_t first_id, int64_t count, bool copy_format, gen_sink_fn sink,
              void *sink_data)
{
    int64_t end;
    if (!sink || first_id < 1 || __builtin_add_overflow(first_id, count, &end)) return -1;
    if (count <= 0) return 0;
    users_ctx_t c;
    char *buf = malloc(USERS_CHUNK + USERS_ROW_MAX);
    if (!buf || users_ctx_init(&c) != 0) {
        free(buf);
        return -1;
    }
    size_t len = 0;
    if (!copy_format && first_id == 1)
        len =
            (size_t)(gen_put_str(buf, "id,first_name,last_name,email,address,ip_address\n") - buf);
    int rc = 0;
    for (int64_t id = first_id; id < end && rc == 0; id++) {
        len = (size_t)(users_row(&c, seed, id, copy_format, buf + len) - buf);
        if (len >= USERS_CHUNK) {
            rc = sink(buf, len, sink_data);
            len = 0;
        }
    }
    if (rc == 0 && len > 0) rc = sink(buf, len, sink_data);
    free(c.cum_block);
    free(buf);
    return rc;
}
