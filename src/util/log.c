/*
 * log - leveled JSON-lines logging to stderr (see include/lakeapi/log.h).
 *
 * Each line is written with a single write(2) so lines from several threads
 * (generator workers, future per-core loops) never interleave mid-line.
 */
#include "lakeapi/log.h"

#include <stdarg.h>
#include <stdio.h>
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

void log_json_line(const char *json, size_t len)
{
    log_write_all(json, len);
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
    log_write_all(b.data, b.len);
    buf_dispose(&b);
}
