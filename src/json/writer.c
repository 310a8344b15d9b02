/*
 * json/writer - the JSON writer (see include/lakeapi/json.h).
 *
 * Owns: string escaping and UTF-8 repair, number formatting, and the comma /
 * colon bookkeeping of json_writer_t. Everything is appended to the caller's
 * buf_t; the writer itself allocates nothing.
 *
 * Nesting deeper than JSON_MAX_DEPTH: the container that would be the
 * (JSON_MAX_DEPTH+1)-th level is written as `null`, and everything written
 * inside it (values, keys, further containers) is dropped until its matching
 * *_end call. The output stays valid JSON and first[] is never indexed out of
 * bounds. An *_end with nothing open is ignored.
 */
#include "lakeapi/json.h"
#include "json/json_internal.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Byte classes for the escaper: 0 = copy as is (printable ASCII and DEL),
 * 1 = needs a backslash escape, 2 = starts a multi-byte (or invalid) sequence.
 */
/* clang-format off */
static const unsigned char json_byte_class[256] = {
    /* 0x00-0x1f: control characters */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x20-0x7f: only '"' (0x22) and '\\' (0x5c) need escaping */
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x80-0xff */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
};
/* clang-format on */

static const char json_replacement[3] = {(char)0xEF, (char)0xBF, (char)0xBD}; /* U+FFFD */

/*
 * Examines the sequence starting at p (p[0] >= 0x80). Returns its length when
 * it is a well-formed UTF-8 character; otherwise returns 0 and sets *skip to
 * the length of the maximal invalid subpart (Unicode 3.9, "U+FFFD substitution
 * of maximal subparts"): the longest prefix that could have started a valid
 * sequence, or 1 byte. Each such subpart becomes one U+FFFD.
 */
static size_t json_utf8_seq(const unsigned char *p, size_t n, size_t *skip)
{
    unsigned char c = p[0];
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */

    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0; /* overlong */
        if (c == 0xED) hi = 0x9F; /* surrogates D800-DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90; /* overlong */
        if (c == 0xF4) hi = 0x8F; /* > U+10FFFF */
    } else {
        *skip = 1; /* stray continuation, C0/C1 overlong lead, F5-FF */
        return 0;
    }
    if (n < 2 || p[1] < lo || p[1] > hi) {
        *skip = 1;
        return 0;
    }
    for (size_t i = 2; i < need; i++) {
        if (i >= n || p[i] < 0x80 || p[i] > 0xBF) {
            *skip = i;
            return 0;
        }
    }
    return need;
}

size_t json_utf8_invalid_offset(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t skip;
        size_t n = json_utf8_seq(p + i, len - i, &skip);
        if (n == 0) return i;
        i += n;
    }
    return len;
}

bool json_utf8_valid(const char *s, size_t len)
{
    return json_utf8_invalid_offset(s, len) == len;
}

static void json_escape_control(buf_t *out, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t n = 2;
    switch (c) {
    case '"':
        esc[1] = '"';
        break;
    case '\\':
        esc[1] = '\\';
        break;
    case '\n':
        esc[1] = 'n';
        break;
    case '\r':
        esc[1] = 'r';
        break;
    case '\t':
        esc[1] = 't';
        break;
    case '\b':
        esc[1] = 'b';
        break;
    case '\f':
        esc[1] = 'f';
        break;
    default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 0xF];
        n = 6;
    }
    buf_append(out, esc, n);
}

/*
 * Eight bytes at a time (every text value of every row passes here): a word
 * is plain when no byte is below 0x20, at or above 0x80, '"' or '\\'. The
 * classic has-zero-byte test, exact for the first flagged byte and possibly
 * flagging later ones, so the byte loop takes over from the first such word.
 */
#define JSON_ONES  0x0101010101010101ull
#define JSON_HIGHS 0x8080808080808080ull

static inline uint64_t json_word_special(uint64_t v)
{
    uint64_t q = v ^ (JSON_ONES * '"'), b = v ^ (JSON_ONES * '\\');
    uint64_t ctl = (v - JSON_ONES * 0x20) & ~v;
    uint64_t quote = (q - JSON_ONES) & ~q;
    uint64_t bs = (b - JSON_ONES) & ~b;
    return (ctl | quote | bs | v) & JSON_HIGHS;
}

size_t json_plain_length(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (json_word_special(v)) break;
    }
    while (i < len && json_byte_class[p[i]] == 0)
        i++;
    return i;
}

void json_escape_into(buf_t *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    buf_reserve(out, len);
    while (i < len) {
        /* Fast path: copy the longest run that needs no attention in one go. */
        size_t start = i;
        i += json_plain_length(s + i, len - i);
        if (i > start) buf_append(out, s + start, i - start);
        if (i >= len) break;

        if (json_byte_class[p[i]] == 1) {
            json_escape_control(out, p[i]);
            i++;
            continue;
        }
        /* Multi-byte: copy valid runs whole, replace each invalid subpart. */
        start = i;
        size_t skip = 0;
        while (i < len && p[i] >= 0x80) {
            size_t n = json_utf8_seq(p + i, len - i, &skip);
            if (n == 0) break;
            i += n;
        }
        if (i > start) buf_append(out, s + start, i - start);
        if (i < len && p[i] >= 0x80) {
            buf_append(out, json_replacement, sizeof json_replacement);
            i += skip;
        }
    }
}

/* Comma and colon bookkeeping before any value. Returns false to drop it. */
static bool json_before_value(json_writer_t *w)
{
    if (w->depth > JSON_MAX_DEPTH) return false;
    if (w->after_key) {
        w->after_key = false;
        return true;
    }
    if (w->depth > 0) {
        if (!w->first[w->depth - 1]) buf_append_char(w->out, ',');
        w->first[w->depth - 1] = false;
    }
    return true;
}

void jw_init(json_writer_t *w, buf_t *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void json_container_begin(json_writer_t *w, char open)
{
    if (w->depth >= JSON_MAX_DEPTH) {
        /* Too deep: this container becomes null and its contents are dropped. */
        if (w->depth == JSON_MAX_DEPTH && json_before_value(w)) buf_append(w->out, "null", 4);
        if (w->depth < INT_MAX) w->depth++;
        return;
    }
    if (!json_before_value(w)) return;
    buf_append_char(w->out, open);
    w->first[w->depth] = true;
    w->depth++;
}

static void json_container_end(json_writer_t *w, char close)
{
    if (w->depth <= 0) return;
    w->depth--;
    w->after_key = false;
    if (w->depth >= JSON_MAX_DEPTH) return; /* closing a dropped container */
    buf_append_char(w->out, close);
}

void jw_object_begin(json_writer_t *w)
{
    json_container_begin(w, '{');
}

void jw_object_end(json_writer_t *w)
{
    json_container_end(w, '}');
}

void jw_array_begin(json_writer_t *w)
{
    json_container_begin(w, '[');
}

void jw_array_end(json_writer_t *w)
{
    json_container_end(w, ']');
}

void jw_key_len(json_writer_t *w, const char *key, size_t len)
{
    if (!json_before_value(w)) return;
    buf_append_char(w->out, '"');
    json_escape_into(w->out, key, len);
    buf_append(w->out, "\":", 2);
    w->after_key = true;
}

void jw_key(json_writer_t *w, const char *key)
{
    if (!key) key = "";
    jw_key_len(w, key, strlen(key));
}

void jw_string(json_writer_t *w, const char *s, size_t len)
{
    if (!json_before_value(w)) return;
    buf_append_char(w->out, '"');
    json_escape_into(w->out, s, len);
    buf_append_char(w->out, '"');
}

void jw_cstring(json_writer_t *w, const char *s)
{
    if (!s) {
        jw_null(w); /* a missing C string is JSON null, not "" */
        return;
    }
    jw_string(w, s, strlen(s));
}

void jw_int(json_writer_t *w, int64_t v)
{
    if (!json_before_value(w)) return;
    buf_append_i64(w->out, v);
}

/* %g honours LC_NUMERIC; JSON always wants '.' as the decimal point. */
static void json_fix_decimal_point(char *s)
{
    for (; *s; s++) {
        if (*s == ',') *s = '.';
    }
}

void jw_double(json_writer_t *w, double v)
{
    if (!isfinite(v)) {
        jw_null(w);
        return;
    }
    if (!json_before_value(w)) return;
    char tmp[32];
    /* 15 significant digits are enough for most values and avoid the noise
     * of 17 (0.1 -> 0.10000000000000001); fall back when they do not
     * reproduce the same double. */
    int n = snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
    json_fix_decimal_point(tmp);
    /* Keep it recognisably a float, as Python's json does: 3.0, not 3. */
    if (strspn(tmp, "-0123456789") == (size_t)n)
        n += snprintf(tmp + n, sizeof tmp - (size_t)n, ".0");
    buf_append(w->out, tmp, (size_t)n);
}

void jw_bool(json_writer_t *w, bool v)
{
    if (!json_before_value(w)) return;
    if (v)
        buf_append(w->out, "true", 4);
    else
        buf_append(w->out, "false", 5);
}

void jw_null(json_writer_t *w)
{
    if (!json_before_value(w)) return;
    buf_append(w->out, "null", 4);
}

/* RFC 8259: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_is_number(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && s[i] == '-') i++;
    if (i >= len) return false;
    if (s[i] == '0') {
        i++;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
    } else {
        return false;
    }
    if (i < len && s[i] == '.') {
        size_t d = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-')) i++;
        size_t d = i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d) return false;
    }
    return i == len;
}

bool jw_raw_number(json_writer_t *w, const char *s, size_t len)
{
    if (!s || !json_is_number(s, len)) {
        /* NaN, Infinity, garbage: still a value, as a string (or null). */
        if (s)
            jw_string(w, s, len);
        else
            jw_null(w);
        return false;
    }
    if (json_before_value(w)) buf_append(w->out, s, len);
    return true;
}

bool jw_value_begin(json_writer_t *w)
{
    return json_before_value(w);
}

void jw_raw(json_writer_t *w, const char *json, size_t len)
{
    if (!json_before_value(w)) return;
    buf_append(w->out, json, len);
}

void jw_kv_string(json_writer_t *w, const char *key, const char *s)
{
    jw_key(w, key);
    jw_cstring(w, s);
}

void jw_kv_int(json_writer_t *w, const char *key, int64_t v)
{
    jw_key(w, key);
    jw_int(w, v);
}

void jw_kv_bool(json_writer_t *w, const char *key, bool v)
{
    jw_key(w, key);
    jw_bool(w, v);
}
