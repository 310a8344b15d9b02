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
/* Writes an already-built JSON object line (the access log). */
void log_json_line(const char *json, size_t len);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
