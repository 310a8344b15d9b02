/*
 * log - leveled JSON-lines logging to stderr (see include/lakeapi/log.h).
 *
 * Without the writer thread (commands other than `serve`), each line is
 * written with a single write(2) so lines from several threads (generator
 * workers) never interleave mid-line.
 *
 * With it (log_async_start, `serve`), callers only copy their bytes into a
 * bounded buffer under a mutex, and one thread writes them to stderr. The
 * event loop must never wait for stderr: a terminal, a pipe whose reader is
 * descheduled, or a file under writeback throttling can block write(2) for
 * milliseconds, and the whole server with it. When the buffer is full the
 * lines are dropped and counted (log_async_stats, /metrics), never queued
 * without bound. The writer coalesces: it wakes when data arrives in an empty
 * buffer, gathers for up to LOG_COALESCE_MS (less once LOG_HIGH_WATER is
 * buffered), then writes everything in one write(2); so at any load there are
 * at most a few wake-ups and writes per LOG_COALESCE_MS.
 */
#include "lakeapi/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "lakeapi/buf.h"
#include "lakeapi/json.h"

static log_level_t log_threshold = LOG_INFO;

void log_set_level(log_level_t level)
{
    log_threshold = level;
}

log_level_t log_get_level(void)
{
    return log_threshold;
}

int log_parse_level(const char *s, log_level_t *out)
{
    static const struct {
        const char *name;
        log_level_t level;
    } names[] = {
        {"debug", LOG_DEBUG}, {"info", LOG_INFO},      {"warning", LOG_WARN}, {"warn", LOG_WARN},
        {"error", LOG_ERROR}, {"critical", LOG_ERROR}, {"off", LOG_OFF},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(log_level_t level)
{
    switch (level) {
    case LOG_DEBUG:
        return "debug";
    case LOG_INFO:
        return "info";
    case LOG_WARN:
        return "warning";
    case LOG_ERROR:
        return "error";
    default:
        return "off";
    }
}

static void log_write_all(const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, p, len);
        if (n <= 0) return; /* nowhere to report a failing stderr */
        p += n;
        len -= (size_t)n;
    }
}

/* ---- the writer thread ---- */

#define LOG_COALESCE_MS 20
#define LOG_HIGH_WATER  (256 * 1024)
#define LOG_STOP_WAIT_S 3

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running, stop;
    char *buf, *out; /* filled by callers / being written by the thread */
    size_t len, cap;
    size_t nlines; /* lines in buf */
    bool urgent;   /* buf holds a log_msg line: write it without gathering more */
    log_async_stats_t stats;
} la = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static size_t log_count_lines(const char *p, size_t len)
{
    size_t n = 0;
    const char *end = p + len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        n++;
        p++;
    }
    return n;
}

static void *log_writer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&la.mu);
    for (;;) {
        while (la.len == 0 && !la.stop)
            pthread_cond_wait(&la.cv, &la.mu);
        if (la.len == 0 && la.stop) break;
        if (!la.stop && !la.urgent && la.len < LOG_HIGH_WATER) {
            /* Gather more before writing: one write(2) for many loop turns. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LOG_COALESCE_MS * 1000000L;
            if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
            while (!la.stop && !la.urgent && la.len < LOG_HIGH_WATER &&
                   pthread_cond_timedwait(&la.cv, &la.mu, &until) != ETIMEDOUT) {
            }
        }
        char *out = la.buf;
        size_t n = la.len, lines = la.nlines;
        la.buf = la.out;
        la.out = out;
        la.len = la.nlines = 0;
        la.urgent = false;
        pthread_mutex_unlock(&la.mu);
        log_write_all(out, n);
        pthread_mutex_lock(&la.mu);
        la.stats.lines_written += lines;
        la.stats.bytes_written += n;
        la.stats.writes++;
    }
    pthread_mutex_unlock(&la.mu);
    return NULL;
}

int log_async_start(size_t capacity)
{
    if (la.running || la.buf) return 0;
    /* Two buffers; malloc'd pages are only touched as far as they are used. */
    la.buf = malloc(capacity);
    la.out = malloc(capacity);
    if (!la.buf || !la.out) {
        free(la.buf);
        free(la.out);
        la.buf = la.out = NULL;
        return -1;
    }
    la.cap = capacity;
    la.len = la.nlines = 0;
    la.stop = false;
    if (pthread_create(&la.thread, NULL, log_writer_main, NULL) != 0) {
        free(la.buf);
        free(la.out);
        la.buf = la.out = NULL;
        return -1;
    }
    la.running = true;
    return 0;
}

void log_async_stop(void)
{
    if (!la.running) return;
    pthread_mutex_lock(&la.mu);
    la.stop = true;
    la.running = false; /* callers write directly from now on */
    pthread_cond_signal(&la.cv);
    pthread_mutex_unlock(&la.mu);
    /*
     * It writes what is buffered first. A stderr that stays blocked (a
     * stopped reader) must not hang the exit: give up after a while, leaving
     * the thread and its buffers to the process's end.
     */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += LOG_STOP_WAIT_S;
    if (pthread_timedjoin_np(la.thread, NULL, &until) != 0) return;
    free(la.buf);
    free(la.out);
    la.buf = la.out = NULL;
}

void log_async_stats(log_async_stats_t *out)
{
    pthread_mutex_lock(&la.mu);
    *out = la.stats;
    out->buffered_bytes = la.len;
    out->capacity = la.cap;
    pthread_mutex_unlock(&la.mu);
}

/*
 * Whole chunks only: a chunk that does not fit is dropped, never split.
 * Access lines are gathered for up to LOG_COALESCE_MS; an urgent chunk (a
 * log_msg line: startup, warnings, job progress) is written at once, so
 * whoever reads the log right after an event finds it there.
 */
static bool log_async_put(const char *p, size_t len, bool urgent)
{
    size_t lines = log_count_lines(p, len);
    pthread_mutex_lock(&la.mu);
    if (!la.running) {
        pthread_mutex_unlock(&la.mu);
        return false;
    }
    if (la.len + len > la.cap) {
        la.stats.lines_dropped += lines;
        la.stats.bytes_dropped += len;
    } else {
        bool was_empty = la.len == 0;
        memcpy(la.buf + la.len, p, len);
        la.len += len;
        la.nlines += lines;
        /* Signal only the transitions the writer waits for (no syscall otherwise). */
        if (was_empty || (urgent && !la.urgent) ||
            (la.len >= LOG_HIGH_WATER && la.len - len < LOG_HIGH_WATER))
            pthread_cond_signal(&la.cv);
        if (urgent) la.urgent = true;
    }
    pthread_mutex_unlock(&la.mu);
    return true;
}

void log_json_line(const char *json, size_t len)
{
    if (!log_async_put(json, len, false)) log_write_all(json, len);
}

static void log_line_now(const char *line, size_t len)
{
    if (!log_async_put(line, len, true)) log_write_all(line, len);
}

void log_msg(log_level_t level, const char *fmt, ...)
{
    if (level < log_threshold || level >= LOG_OFF) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t n = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + n, sizeof when - n, ".%03ldZ", ts.tv_nsec / 1000000);

    buf_t b;
    buf_init(&b);
    buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", when, log_level_name(level));
    json_escape_into(&b, msg, strlen(msg));
    buf_append_str(&b, "\"}\n");
    log_line_now(b.data, b.len);
    buf_dispose(&b);
}
