/*
 * config/dotenv - the `.env` parser (see dotenv.h for the accepted syntax).
 *
 * A small hand-written scanner over the whole text rather than a line reader,
 * because quoted values may span lines. Every error carries the line where the
 * offending entry starts. Allocation failure aborts, like buf_t.
 */
#include "config/dotenv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lakeapi/buf.h"

/* Files bigger than this are not a .env file anybody meant to write. */
#define DOTENV_MAX_BYTES (1024 * 1024)

typedef struct dotenv_scan {
    const char *s;
    size_t len;
    size_t i;
    int line;
    const char *source;
    char *err;
    size_t errlen;
} dotenv_scan_t;

void dotenv_init(dotenv_t *d)
{
    d->items = NULL;
    d->len = 0;
    d->cap = 0;
}

void dotenv_dispose(dotenv_t *d)
{
    for (size_t i = 0; i < d->len; i++) {
        free(d->items[i].name);
        free(d->items[i].value);
    }
    free(d->items);
    dotenv_init(d);
}

static void *dotenv_xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (!p) {
        fputs("lakeapi: out of memory\n", stderr);
        abort();
    }
    return p;
}

/* Takes ownership of name and value. */
static void dotenv_add(dotenv_t *d, char *name, char *value)
{
    if (d->len == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->items = dotenv_xrealloc(d->items, d->cap * sizeof *d->items);
    }
    d->items[d->len].name = name;
    d->items[d->len].value = value;
    d->len++;
}

const char *dotenv_get(const dotenv_t *d, const char *name)
{
    for (size_t i = d->len; i > 0; i--) {
        if (strcasecmp(d->items[i - 1].name, name) == 0) return d->items[i - 1].value;
    }
    return NULL;
}

__attribute__((format(printf, 3, 4))) static int dotenv_fail(dotenv_scan_t *sc, int line,
                                                             const char *fmt, ...)
{
    char what[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (sc->err && sc->errlen) snprintf(sc->err, sc->errlen, "%s:%d: %s", sc->source, line, what);
    return -1;
}

static bool dotenv_at_end(const dotenv_scan_t *sc)
{
    return sc->i >= sc->len;
}

static char dotenv_peek(const dotenv_scan_t *sc)
{
    return sc->i < sc->len ? sc->s[sc->i] : '\0';
}

/* Skips spaces and tabs, and a '\r' that ends the line (CRLF). */
static void dotenv_skip_blanks(dotenv_scan_t *sc)
{
    while (sc->i < sc->len) {
        char c = sc->s[sc->i];
        if (c == ' ' || c == '\t') {
            sc->i++;
        } else if (c == '\r' && (sc->i + 1 == sc->len || sc->s[sc->i + 1] == '\n')) {
            sc->i++;
        } else {
            break;
        }
    }
}

/* Moves past the rest of the line, including its '\n'. */
static void dotenv_skip_line(dotenv_scan_t *sc)
{
    while (sc->i < sc->len && sc->s[sc->i] != '\n')
        sc->i++;
    if (sc->i < sc->len) {
        sc->i++;
        sc->line++;
    }
}

static bool dotenv_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool dotenv_name_char(char c)
{
    return dotenv_name_start(c) || (c >= '0' && c <= '9');
}

/* After a closing quote only blanks and a comment may follow on the line. */
static int dotenv_after_quote(dotenv_scan_t *sc, int line)
{
    dotenv_skip_blanks(sc);
    char c = dotenv_peek(sc);
    if (dotenv_at_end(sc) || c == '\n' || c == '#') {
        dotenv_skip_line(sc);
        return 0;
    }
    return dotenv_fail(sc, line, "unexpected text after the closing quote");
}

static int dotenv_single_quoted(dotenv_scan_t *sc, int line, buf_t *v)
{
    sc->i++; /* the opening quote */
    while (sc->i < sc->len && sc->s[sc->i] != '\'') {
        char c = sc->s[sc->i++];
        if (c == '\r' && dotenv_peek(sc) == '\n') continue; /* CRLF inside: keep LF */
        if (c == '\n') sc->line++;
        buf_append_char(v, c);
    }
    if (dotenv_at_end(sc)) return dotenv_fail(sc, line, "unterminated single-quoted value");
    sc->i++;
    return dotenv_after_quote(sc, line);
}

static int dotenv_double_quoted(dotenv_scan_t *sc, int line, buf_t *v)
{
    sc->i++;
    while (sc->i < sc->len && sc->s[sc->i] != '"') {
        char c = sc->s[sc->i++];
        if (c == '\\' && sc->i < sc->len) {
            char e = sc->s[sc->i++];
            switch (e) {
            case 'n':
                buf_append_char(v, '\n');
                break;
            case 'r':
                buf_append_char(v, '\r');
                break;
            case 't':
                buf_append_char(v, '\t');
                break;
            case '"':
            case '\\':
                buf_append_char(v, e);
                break;
            default: /* unknown escapes stay as written */
                buf_append_char(v, '\\');
                buf_append_char(v, e);
                if (e == '\n') sc->line++;
            }
            continue;
        }
        if (c == '\r' && dotenv_peek(sc) == '\n') continue;
        if (c == '\n') sc->line++;
        buf_append_char(v, c);
    }
    if (dotenv_at_end(sc)) return dotenv_fail(sc, line, "unterminated double-quoted value");
    sc->i++;
    return dotenv_after_quote(sc, line);
}

/* Up to the end of the line; " #" starts a comment; trailing blanks dropped. */
static void dotenv_unquoted(dotenv_scan_t *sc, buf_t *v)
{
    size_t start = sc->i, end = sc->i;
    while (end < sc->len && sc->s[end] != '\n') {
        if (sc->s[end] == '#' && end > start && (sc->s[end - 1] == ' ' || sc->s[end - 1] == '\t'))
            break;
        end++;
    }
    size_t stop = end;
    while (stop > start &&
           (sc->s[stop - 1] == ' ' || sc->s[stop - 1] == '\t' || sc->s[stop - 1] == '\r'))
        stop--;
    buf_append(v, sc->s + start, stop - start);
    sc->i = end;
    dotenv_skip_line(sc);
}

/* One `[export] NAME=value` entry; sc is at its first non-blank character. */
static int dotenv_entry(dotenv_scan_t *sc, dotenv_t *d)
{
    int line = sc->line;
    if (sc->len - sc->i > 7 && memcmp(sc->s + sc->i, "export", 6) == 0 &&
        (sc->s[sc->i + 6] == ' ' || sc->s[sc->i + 6] == '\t')) {
        sc->i += 6;
        dotenv_skip_blanks(sc);
    }
    size_t name_start = sc->i;
    if (!dotenv_name_start(dotenv_peek(sc))) return dotenv_fail(sc, line, "expected NAME=value");
    while (sc->i < sc->len && dotenv_name_char(sc->s[sc->i]))
        sc->i++;
    size_t name_end = sc->i;
    dotenv_skip_blanks(sc);
    if (dotenv_peek(sc) != '=')
        return dotenv_fail(sc, line, "expected '=' after %.*s", (int)(name_end - name_start),
                           sc->s + name_start);
    sc->i++;
    while (dotenv_peek(sc) == ' ' || dotenv_peek(sc) == '\t')
        sc->i++;

    buf_t v;
    buf_init(&v);
    int rc = 0;
    char c = dotenv_peek(sc);
    if (!dotenv_at_end(sc) && c == '\'')
        rc = dotenv_single_quoted(sc, line, &v);
    else if (!dotenv_at_end(sc) && c == '"')
        rc = dotenv_double_quoted(sc, line, &v);
    else
        dotenv_unquoted(sc, &v);
    if (rc != 0) {
        buf_dispose(&v);
        return rc;
    }
    buf_t name;
    buf_init(&name);
    buf_append(&name, sc->s + name_start, name_end - name_start);
    dotenv_add(d, buf_steal(&name), buf_steal(&v));
    return 0;
}

int dotenv_parse(dotenv_t *d, const char *text, size_t len, const char *source, char *err,
                 size_t errlen)
{
    dotenv_scan_t sc = {text, len, 0, 1, source ? source : ".env", err, errlen};
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *p = text; p < nul; p++)
            line += *p == '\n';
        return dotenv_fail(&sc, line, "NUL byte in file");
    }
    /* A UTF-8 byte order mark is tolerated (editors on Windows add one). */
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) sc.i = 3;

    while (!dotenv_at_end(&sc)) {
        dotenv_skip_blanks(&sc);
        char c = dotenv_peek(&sc);
        if (dotenv_at_end(&sc)) break;
        if (c == '\n' || c == '#') {
            dotenv_skip_line(&sc);
            continue;
        }
        if (dotenv_entry(&sc, d) != 0) return -1;
    }
    return 0;
}

int dotenv_load_file(dotenv_t *d, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    buf_t text;
    buf_init(&text);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        buf_append(&text, chunk, n);
        if (text.len > DOTENV_MAX_BYTES) break;
    }
    int read_error = ferror(f);
    fclose(f);
    int rc;
    if (read_error) {
        snprintf(err, errlen, "%s: read error", path);
        rc = -1;
    } else if (text.len > DOTENV_MAX_BYTES) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, DOTENV_MAX_BYTES);
        rc = -1;
    } else {
        rc = dotenv_parse(d, text.data ? text.data : "", text.len, path, err, errlen);
    }
    buf_dispose(&text);
    return rc;
}
