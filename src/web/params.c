/*
 * params - query and path parameters validated the way FastAPI (pydantic v2)
 * validates them, with its 422 error items, so clients written against the
 * Python service see the same answers.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "web/web.h"

void web_errors_init(web_errors_t *e)
{
    buf_init(&e->buf);
    e->count = 0;
}

void web_errors_dispose(web_errors_t *e)
{
    buf_dispose(&e->buf);
    e->count = 0;
}

void web_errors_add_raw(web_errors_t *e, const char *type, const char *loc_json, const char *msg,
                        const char *input_json, const char *ctx_json)
{
    if (e->count++ > 0) buf_append_char(&e->buf, ',');
    json_writer_t *w = &e->w;
    jw_init(w, &e->buf);
    jw_object_begin(w);
    jw_kv_string(w, "type", type);
    jw_key(w, "loc");
    jw_raw(w, loc_json, strlen(loc_json));
    jw_kv_string(w, "msg", msg);
    jw_key(w, "input");
    jw_raw(w, input_json ? input_json : "null", input_json ? strlen(input_json) : 4);
    if (ctx_json) {
        jw_key(w, "ctx");
        jw_raw(w, ctx_json, strlen(ctx_json));
    }
    jw_object_end(w);
}

void web_errors_add(web_errors_t *e, const char *type, const char *where, const char *name,
                    const char *msg, const char *input, const char *ctx_json)
{
    buf_t loc, in;
    buf_init(&loc);
    buf_init(&in);
    json_writer_t w;
    jw_init(&w, &loc);
    jw_array_begin(&w);
    jw_cstring(&w, where);
    if (name) jw_cstring(&w, name);
    jw_array_end(&w);
    if (input) {
        jw_init(&w, &in);
        jw_cstring(&w, input);
    }
    web_errors_add_raw(e, type, loc.data, msg, input ? in.data : NULL, ctx_json);
    buf_dispose(&loc);
    buf_dispose(&in);
}

bool web_parse_int(const char *s, int64_t *out)
{
    while (isspace((unsigned char)*s))
        s++;
    bool neg = false;
    if (*s == '+' || *s == '-') neg = (*s++ == '-');
    if (!isdigit((unsigned char)*s)) return false;
    uint64_t v = 0;
    bool saturated = false;
    for (; isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) saturated = true;
        if (!saturated) v = v * 10 + d;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s) return false;
    /* Python ints are unbounded; beyond int64 we keep the sign and saturate. */
    if (saturated) v = (uint64_t)INT64_MAX;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

bool web_parse_bool(const char *s, bool *out)
{
    static const char *yes[] = {"true", "1", "yes", "on", "t", "y"};
    static const char *no[] = {"false", "0", "no", "off", "f", "n"};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(s, yes[i]) == 0) return *out = true, true;
        if (strcasecmp(s, no[i]) == 0) return *out = false, true;
    }
    return false;
}

static bool web_check_int(const char *where, const char *name, const char *raw,
                          const web_int_rule_t *rule, int64_t v, web_errors_t *e)
{
    char msg[96], ctx[64];
    if (rule->has_min && v < rule->min) {
        snprintf(msg, sizeof msg, "Input should be greater than or equal to %lld",
                 (long long)rule->min);
        snprintf(ctx, sizeof ctx, "{\"ge\":%lld}", (long long)rule->min);
        web_errors_add(e, "greater_than_equal", where, name, msg, raw, ctx);
        return false;
    }
    if (rule->has_max && v > rule->max) {
        snprintf(msg, sizeof msg, "Input should be less than or equal to %lld",
                 (long long)rule->max);
        snprintf(ctx, sizeof ctx, "{\"le\":%lld}", (long long)rule->max);
        web_errors_add(e, "less_than_equal", where, name, msg, raw, ctx);
        return false;
    }
    return true;
}

static void web_int_parsing_error(web_errors_t *e, const char *where, const char *name,
                                  const char *raw)
{
    web_errors_add(e, "int_parsing", where, name,
                   "Input should be a valid integer, unable to parse string as an integer", raw,
                   NULL);
}

bool web_query_present(http_exchange_t *ex, const web_param_t *p, web_errors_t *e)
{
    if (http_exchange_query(ex, p->name, NULL)) return true;
    web_errors_add(e, "missing", "query", p->name, "Field required", NULL, NULL);
    return false;
}

bool web_query_int(http_exchange_t *ex, const web_param_t *p, int64_t *out, web_errors_t *e)
{
    const char *name = p->name;
    const web_int_rule_t *rule = &p->rule;
    const char *raw = http_exchange_query(ex, name, NULL);
    if (!raw) {
        *out = rule->def;
        return true;
    }
    int64_t v;
    if (!web_parse_int(raw, &v)) {
        web_int_parsing_error(e, "query", name, raw);
        return false;
    }
    if (!web_check_int("query", name, raw, rule, v, e)) return false;
    *out = v;
    return true;
}

bool web_query_bool(http_exchange_t *ex, const web_param_t *p, bool *out, web_errors_t *e)
{
    const char *name = p->name;
    const char *raw = http_exchange_query(ex, name, NULL);
    if (!raw) {
        *out = p->bool_default;
        return true;
    }
    if (!web_parse_bool(raw, out)) {
        web_errors_add(e, "bool_parsing", "query", name,
                       "Input should be a valid boolean, unable to interpret input", raw, NULL);
        return false;
    }
    return true;
}

bool web_path_int(http_exchange_t *ex, int i, const char *name, int64_t *out, web_errors_t *e)
{
    const char *raw = http_exchange_param(ex, i);
    if (!raw || !web_parse_int(raw, out)) {
        web_int_parsing_error(e, "path", name, raw ? raw : "");
        return false;
    }
    return true;
}
