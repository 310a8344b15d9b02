/*
 * log - leveled logging to stderr, one JSON object per line.
 *
 * Library layers return errors; only the top of the program (main, the server
 * loop, the access log) writes log lines. LOG_LEVEL picks the threshold.
 */
#ifndef LAKEAPI_LOG_H
#define LAKEAPI_LOG_H

#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_OFF } log_level_t;

void log_set_level(log_level_t level);
log_level_t log_get_level(void);
/* Parses "debug", "info", "warning"/"warn", "error", "critical", "off" (any case). */
int log_parse_level(const char *s, log_level_t *out);
/* The canonical name of a level: "debug", "info", "warning", "error" or "off". */
const char *log_level_name(log_level_t level);
/* msg is a printf format; the result is JSON-escaped into {"time","level","msg"}. */
void log_msg(log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes already-built JSON object lines (the access log): whole lines, one or more. */
void log_json_line(const char *json, size_t len);

/*
 * The writer thread (util/log.c): from log_async_start() on, log lines are
 * copied into a bounded buffer of `capacity` bytes (twice: one being filled,
 * one being written) and written by a thread of their own, so no caller ever
 * waits for stderr; lines that do not fit are dropped and counted.
 * log_async_stop() writes what is buffered and joins the thread.
 */
typedef struct log_async_stats {
    unsigned long long lines_written, bytes_written, writes;
    unsigned long long lines_dropped, bytes_dropped;
    size_t buffered_bytes, capacity;
} log_async_stats_t;

int log_async_start(size_t capacity);
void log_async_stop(void);
/* All zero when the writer thread never ran. */
void log_async_stats(log_async_stats_t *out);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
