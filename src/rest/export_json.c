/*
 * rest/export_json - NDJSON rows encoded here, byte for byte as PostgreSQL's
 * row_to_json() writes them, from the plain text columns of a SELECT.
 *
 * Why: row_to_json() on the server costs it several times what the plain
 * SELECT does (a 1.5M-row export was four times slower than COPY); encoding
 * the text columns here puts that work on another core. Only types whose JSON
 * form is a known function of their text output take this path (the rules of
 * PostgreSQL's json_categorize_type/datum_to_json):
 *   bool                         true / false
 *   int2 int4 int8 float4 float8 numeric
 *                                the text if it is a JSON number, else a string
 *                                ("NaN", "Infinity")
 *   json jsonb                   the text itself (raw CR/LF, only ever
 *                                whitespace there, become blanks: one line per row)
 *   date                         a string: ISO text is already the XSD form
 *   timestamp                    a string, 'T' between date and time
 *   timestamptz                  a string, 'T', and the offset with minutes ("+00:00")
 *   text-like, uuid, inet, interval, time, bytea, money, ...
 *                                a string of the text output, JSON-escaped
 * Anything else (arrays, composites, domains, enums, types with a cast to
 * json) makes the whole export use row_to_json() instead: correct first.
 * Keys are the column names, escaped once per export.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lakeapi/json.h" /* json_escape_into for the keys */
#include "rest/export_json.h"

/* pg_type OIDs (catalog/pg_type_d.h; stable since they are fixed in the catalog). */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_CHAR = 18,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_JSON = 114,
    OID_XML = 142,
    OID_CIDR = 650,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_MONEY = 790,
    OID_MACADDR = 829,
    OID_INET = 869,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIME = 1083,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_INTERVAL = 1186,
    OID_TIMETZ = 1266,
    OID_BIT = 1560,
    OID_VARBIT = 1562,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
    OID_TSVECTOR = 3614,
    OID_JSONB = 3802,
};

static rest_ej_kind_t ej_kind_of(Oid t)
{
    switch (t) {
    case OID_BOOL:
        return REST_EJ_BOOL;
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC:
        return REST_EJ_NUMBER;
    case OID_JSON:
    case OID_JSONB:
        return REST_EJ_JSON;
    case OID_DATE:
        return REST_EJ_STRING;
    case OID_TIMESTAMP:
        return REST_EJ_TIMESTAMP;
    case OID_TIMESTAMPTZ:
        return REST_EJ_TIMESTAMPTZ;
    case OID_OID: /* not a number to to_json() */
    case OID_BYTEA:
    case OID_CHAR:
    case OID_NAME:
    case OID_TEXT:
    case OID_XML:
    case OID_CIDR:
    case OID_MONEY:
    case OID_MACADDR:
    case OID_INET:
    case OID_BPCHAR:
    case OID_VARCHAR:
    case OID_TIME:
    case OID_INTERVAL:
    case OID_TIMETZ:
    case OID_BIT:
    case OID_VARBIT:
    case OID_UUID:
    case OID_TSVECTOR:
        return REST_EJ_STRING;
    default:
        return REST_EJ_UNSUPPORTED;
    }
}

static Oid ej_oid_of_typname(const char *typname);

/* Room for n columns; the keys are added by ej_plan_add. */
static void ej_plan_alloc(rest_ej_plan_t *p, int n)
{
    memset(p, 0, sizeof *p);
    p->kinds = calloc((size_t)(n ? n : 1), sizeof *p->kinds);
    p->key_end = calloc((size_t)(n ? n : 1), sizeof *p->key_end);
    if (!p->kinds || !p->key_end) abort();
    buf_init(&p->keys);
}

/* Column j; false (and the plan freed) when its type needs PostgreSQL's own to_json. */
static bool ej_plan_add(rest_ej_plan_t *p, int j, const char *name, Oid type)
{
    p->kinds[j] = ej_kind_of(type);
    if (p->kinds[j] == REST_EJ_UNSUPPORTED) {
        rest_ej_plan_free(p);
        return false;
    }
    buf_append_str(&p->keys, j ? ",\"" : "{\"");
    json_escape_into(&p->keys, name, strlen(name));
    buf_append(&p->keys, "\":", 2);
    p->key_end[j] = p->keys.len;
    return true;
}

bool rest_ej_plan_init(rest_ej_plan_t *p, const PGresult *desc)
{
    int n = PQnfields(desc);
    ej_plan_alloc(p, n);
    for (int j = 0; j < n; j++)
        if (!ej_plan_add(p, j, PQfname(desc, j), PQftype(desc, j))) return false;
    p->n = n;
    p->ready = true;
    return true;
}

bool rest_ej_plan_init_columns(rest_ej_plan_t *p, int n, const char *const *names,
                               const char *const *typnames)
{
    ej_plan_alloc(p, n);
    for (int j = 0; j < n; j++)
        if (!ej_plan_add(p, j, names[j], ej_oid_of_typname(typnames[j]))) return false;
    p->n = n;
    p->ready = true;
    return true;
}

/*
 * Same column count, names and encodings. A name is compared with its key
 * as written (`{"name":`), so a name that needed escaping never fits: the
 * caller then builds a plan of its own, correct and only slower.
 */
bool rest_ej_plan_fits(const rest_ej_plan_t *p, const PGresult *res)
{
    if (!p->ready || PQnfields(res) != p->n) return false;
    size_t start = 0;
    for (int j = 0; j < p->n; j++) {
        if (ej_kind_of(PQftype(res, j)) != p->kinds[j]) return false;
        const char *name = PQfname(res, j);
        size_t len = strlen(name), key = p->key_end[j] - start - 4; /* less `,"` and `":` */
        if (len != key || memcmp(p->keys.data + start + 2, name, len) != 0) return false;
        start = p->key_end[j];
    }
    return true;
}

void rest_ej_plan_free(rest_ej_plan_t *p)
{
    free(p->kinds);
    free(p->key_end);
    buf_dispose(&p->keys);
    memset(p, 0, sizeof *p);
}

/* PostgreSQL's IsValidJsonNumber: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
bool rest_ej_is_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-') i++;
    if (i >= n) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < n && s[i] == '.') {
        size_t d = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    return i == n;
}

/*
 * The row is written through a raw pointer into space reserved once per row
 * (6 bytes per input byte is the worst case of escaping): no bounds check per
 * piece. Escaping is PostgreSQL's escape_json: ", \\, and the control bytes;
 * every other byte is copied as it is, as the server would.
 */
static char *ej_escape_byte(char *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c != '"' && c != '\\') {
        *w++ = (char)c;
        return w;
    }
    *w++ = '\\';
    switch (c) {
    case '"':
    case '\\':
        *w++ = (char)c;
        break;
    case '\n':
        *w++ = 'n';
        break;
    case '\r':
        *w++ = 'r';
        break;
    case '\t':
        *w++ = 't';
        break;
    case '\b':
        *w++ = 'b';
        break;
    case '\f':
        *w++ = 'f';
        break;
    default:
        memcpy(w, "u00", 3);
        w[3] = hex[c >> 4];
        w[4] = hex[c & 15];
        w += 5;
    }
    return w;
}

/*
 * Eight bytes at a time while none of them needs escaping (a byte < 0x20, '"' or '\\',
 * found with the usual has-less/has-zero bit tricks), byte by byte around the others.
 */
static char *ej_escape(char *w, const char *v, size_t n)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    size_t i = 0;
    while (i + 8 <= n) {
        uint64_t x;
        memcpy(&x, v + i, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        uint64_t hit = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);
        if ((hit & highs) == 0) {
            memcpy(w, v + i, 8);
            w += 8;
            i += 8;
            continue;
        }
        for (size_t end = i + 8; i < end; i++)
            w = ej_escape_byte(w, (unsigned char)v[i]);
    }
    for (; i < n; i++)
        w = ej_escape_byte(w, (unsigned char)v[i]);
    return w;
}

static char *ej_put(char *w, const char *v, size_t n)
{
    memcpy(w, v, n);
    return w + n;
}

static char *ej_string(char *w, const char *v, size_t n)
{
    *w++ = '"';
    w = ej_escape(w, v, n);
    *w++ = '"';
    return w;
}

/*
 * ISO "YYYY-MM-DD HH:MM:SS[.f][+HH[:MM[:SS]]][ BC]" to XSD "...T...[+HH:MM[:SS]][ BC]";
 * "infinity" and "-infinity" stay as they are. Timestamps need no escaping.
 */
static char *ej_timestamp(char *w, const char *v, size_t n, bool tz)
{
    const char *sp = n > 0 && v[0] >= '0' && v[0] <= '9' ? memchr(v, ' ', n) : NULL;
    if (!sp) return ej_string(w, v, n);
    *w++ = '"';
    w = ej_put(w, v, (size_t)(sp - v));
    *w++ = 'T';
    const char *rest = sp + 1, *end = v + n;
    const char *bc = end - rest >= 3 && memcmp(end - 3, " BC", 3) == 0 ? end - 3 : end;
    if (tz) {
        /* The offset starts at the first sign after HH:MM:SS. */
        const char *sign = rest + (bc - rest > 8 ? 8 : bc - rest);
        while (sign < bc && *sign != '+' && *sign != '-')
            sign++;
        w = ej_put(w, rest, (size_t)(bc - rest));
        if (bc - sign == 3) w = ej_put(w, ":00", 3);
        w = ej_put(w, bc, (size_t)(end - bc));
    } else {
        w = ej_put(w, rest, (size_t)(end - rest));
    }
    *w++ = '"';
    return w;
}

/* json/jsonb as they are; a raw CR/LF (only ever whitespace there) becomes a blank. */
static char *ej_json(char *w, const char *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *w++ = (v[i] == '\n' || v[i] == '\r') ? ' ' : v[i];
    return w;
}

static char *ej_value(char *w, rest_ej_kind_t kind, const char *v, size_t n, bool one_line)
{
    switch (kind) {
    case REST_EJ_BOOL:
        return v[0] == 't' ? ej_put(w, "true", 4) : ej_put(w, "false", 5);
    case REST_EJ_NUMBER:
        return rest_ej_is_number(v, n) ? ej_put(w, v, n) : ej_string(w, v, n);
    case REST_EJ_JSON:
        return one_line ? ej_json(w, v, n) : ej_put(w, v, n);
    case REST_EJ_TIMESTAMP:
        return ej_timestamp(w, v, n, false);
    case REST_EJ_TIMESTAMPTZ:
        return ej_timestamp(w, v, n, true);
    default:
        return ej_string(w, v, n);
    }
}

/*
 * One row's object, then `term` when it is not NUL; one_line: NDJSON's rule for json values.
 * Columns go in chunks of EJ_CHUNK: their lengths are looked up once into a local array
 * (the plan is read-only, shared by every loop) and bound the space reserved for the
 * chunk. A NULL is an empty value, so only those ask PQgetisnull.
 */
#define EJ_CHUNK 32
static void ej_row(const rest_ej_plan_t *p, const PGresult *res, int row, buf_t *out, char term,
                   bool one_line)
{
    int lens[EJ_CHUNK];
    size_t prev = 0;
    if (p->n == 0) buf_append_char(out, '{');
    for (int c0 = 0; c0 < p->n; c0 += EJ_CHUNK) {
        int c1 = p->n - c0 > EJ_CHUNK ? c0 + EJ_CHUNK : p->n;
        size_t need = p->key_end[c1 - 1] - prev;
        for (int j = c0; j < c1; j++) {
            lens[j - c0] = PQgetlength(res, row, j);
            need += 6 * (size_t)lens[j - c0] + 8;
        }
        buf_reserve(out, need);
        char *w = out->data + out->len;
        for (int j = c0; j < c1; j++) {
            w = ej_put(w, p->keys.data + prev, p->key_end[j] - prev);
            prev = p->key_end[j];
            size_t len = (size_t)lens[j - c0];
            if (len == 0 && PQgetisnull(res, row, j))
                w = ej_put(w, "null", 4);
            else
                w = ej_value(w, p->kinds[j], PQgetvalue(res, row, j), len, one_line);
        }
        out->len = (size_t)(w - out->data);
    }
    buf_reserve(out, 2);
    char *w = out->data + out->len;
    *w++ = '}';
    if (term) *w++ = term;
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
}

void rest_ej_row(const rest_ej_plan_t *p, const PGresult *res, int row, buf_t *out)
{
    ej_row(p, res, row, out, '\n', true);
}

void rest_ej_array(const rest_ej_plan_t *p, const PGresult *res, buf_t *out)
{
    int n = PQntuples(res);
    buf_append_char(out, '[');
    for (int i = 0; i < n; i++) {
        if (i) buf_append(out, ", \n ", 4); /* json_agg's separator between composites */
        ej_row(p, res, i, out, 0, false);
    }
    buf_append_char(out, ']');
}

/* The names format_type()/pg_type give the types ej_kind_of knows, by their OIDs. */
static const struct {
    const char *name;
    Oid oid;
} ej_type_names[] = {
    {"bool", OID_BOOL},
    {"bytea", OID_BYTEA},
    {"char", OID_CHAR},
    {"name", OID_NAME},
    {"int8", OID_INT8},
    {"int2", OID_INT2},
    {"int4", OID_INT4},
    {"text", OID_TEXT},
    {"oid", OID_OID},
    {"json", OID_JSON},
    {"xml", OID_XML},
    {"cidr", OID_CIDR},
    {"float4", OID_FLOAT4},
    {"float8", OID_FLOAT8},
    {"money", OID_MONEY},
    {"macaddr", OID_MACADDR},
    {"inet", OID_INET},
    {"bpchar", OID_BPCHAR},
    {"varchar", OID_VARCHAR},
    {"date", OID_DATE},
    {"time", OID_TIME},
    {"timestamp", OID_TIMESTAMP},
    {"timestamptz", OID_TIMESTAMPTZ},
    {"interval", OID_INTERVAL},
    {"timetz", OID_TIMETZ},
    {"bit", OID_BIT},
    {"varbit", OID_VARBIT},
    {"numeric", OID_NUMERIC},
    {"uuid", OID_UUID},
    {"tsvector", OID_TSVECTOR},
    {"jsonb", OID_JSONB},
};

/* 0 (no type) for a name not in the table. */
static Oid ej_oid_of_typname(const char *typname)
{
    for (size_t i = 0; i < sizeof ej_type_names / sizeof ej_type_names[0]; i++)
        if (strcmp(ej_type_names[i].name, typname) == 0) return ej_type_names[i].oid;
    return 0;
}

bool rest_ej_typname_ok(const char *typname)
{
    return ej_kind_of(ej_oid_of_typname(typname)) != REST_EJ_UNSUPPORTED;
}
