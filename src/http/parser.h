/*
 * http/parser - internal interface of the HTTP/1.x request-head parser and of
 * the percent-decoding and query-string helpers (pure code: no libuv, no I/O).
 *
 * The parser is incremental in the picohttpparser style: the caller keeps the
 * bytes of the current request contiguous (they may move between calls, e.g.
 * when the read buffer is compacted) and calls http_parser_execute() with all
 * of them each time more arrive. The parser remembers how far it has scanned,
 * so a head trickling in one byte at a time costs O(n) overall, and it fails
 * as early as the bytes allow (a TLS handshake or an over-long line is
 * rejected without waiting for the end of the head). Once the blank line is
 * seen, the head is parsed in one pass into slices of the caller's buffer.
 *
 * Policy decisions (documented here because they are visible to clients):
 * - Line ends: CRLF, or a bare LF (tolerated like nginx). A CR not followed by
 *   LF is a control character -> 400. Empty lines before the request line are
 *   skipped (RFC 9112 section 2.2).
 * - obs-fold, whitespace before ':', non-token header names, control bytes,
 *   NUL anywhere -> 400.
 * - Content-Length: 1*DIGIT only; duplicated (even with equal values) -> 400;
 *   above max_body -> 413.
 * - Transfer-Encoding: any value (chunked, identity, ...) -> 501, since we do
 *   not accept chunked request bodies; together with Content-Length -> 400
 *   (request smuggling shape).
 * - Version: HTTP/1.0 and HTTP/1.1 are served; any other well-formed
 *   HTTP/x.y (the HTTP/2 preface included) -> 505; anything else -> 400.
 * - Methods: GET HEAD POST PUT DELETE PATCH OPTIONS; another valid token
 *   (TRACE, CONNECT, BREW) -> 501.
 * - Target: origin-form "/path?query", absolute-form "http://host/path" (the
 *   path is taken, "/" if empty) or "*" for OPTIONS only. '#' and bytes below
 *   0x21 or 0x7F -> 400. Malformed percent escapes or %00 anywhere in the
 *   path or the query -> 400 (the query is validated up front so lookups can
 *   never fail later).
 * - A duplicated Host header is a 400, and so is a missing one in HTTP/1.1
 *   when limits.require_host is set (the server sets it; RFC 9112 3.2).
 * - Percent-decoded path and query must be strict UTF-8, else 400.
 */
#ifndef LAKEAPI_HTTP_PARSER_H
#define LAKEAPI_HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lakeapi/arena.h"
#include "lakeapi/http.h"

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading/trailing blanks trimmed */
    size_t value_len;
} http_header_t;

typedef struct http_parser_limits {
    size_t max_request_line; /* request line bytes, CRLF excluded: more -> 414 */
    size_t max_header_bytes; /* header bytes after the request line: more -> 431 */
    size_t max_headers;      /* header fields: more -> 431 */
    uint64_t max_body;       /* Content-Length above this -> 413 */
    bool require_host;       /* HTTP/1.1 without Host -> 400 (RFC 9112 section 3.2) */
} http_parser_limits_t;

typedef enum {
    HTTP_PARSE_MORE = 0,  /* need more bytes */
    HTTP_PARSE_DONE = 1,  /* complete head: see http_request_head_t */
    HTTP_PARSE_ERROR = -1 /* see parser.status / parser.detail */
} http_parse_result_t;

typedef struct http_request_head {
    http_method_t method;
    const char *method_name;
    size_t method_len;
    const char *target; /* raw request target as received */
    size_t target_len;
    const char *path; /* raw (encoded) path, absolute-form scheme/authority removed */
    size_t path_len;
    const char *query; /* raw query without '?', length 0 when none */
    size_t query_len;
    int version_minor; /* 0 or 1 (HTTP/1.x) */
    http_header_t *headers;
    size_t nheaders;
    bool has_content_length;
    uint64_t content_length;
    bool keep_alive;
    bool expect_continue;
    size_t head_len; /* bytes of the head, blank line included: the body starts here */
} http_request_head_t;

typedef struct http_parser {
    http_parser_limits_t limits;
    /* incremental scan state, relative to the start of the request's bytes */
    size_t scanned;   /* bytes already checked */
    size_t start;     /* first byte of the request line (after skipped blank lines) */
    size_t line_end;  /* offset just past the request line's LF, 0 = not seen */
    size_t line_from; /* start of the line being scanned */
    size_t nlines;    /* header lines seen */
    bool method_done; /* the space after the method was seen */
    /* result of an error */
    int status;
    const char *detail;
} http_parser_t;

void http_parser_init(http_parser_t *p, const http_parser_limits_t *limits);
/* Forgets the scan state, for the next request on the connection. */
void http_parser_reset(http_parser_t *p);
/*
 * buf/len: every byte received for this request so far (from its first byte).
 * hdrs/hdrs_cap: storage for the header slices, used only on DONE (cap should
 * be limits.max_headers). On DONE, head's slices point into buf.
 */
http_parse_result_t http_parser_execute(http_parser_t *p, const char *buf, size_t len,
                                        http_request_head_t *head, http_header_t *hdrs,
                                        size_t hdrs_cap);

/* Method token for a method bit ("GET"...), "" for 0 or an unknown bit. */
const char *http_method_str(http_method_t m);

/* ---- percent-decoding and the query string (query.c) ---- */

/*
 * true when every '%' in s starts a %XX escape of two hex digits and no escape
 * decodes to NUL.
 */
bool http_pct_valid(const char *s, size_t len);
/*
 * http_pct_valid, and the decoded bytes are strict UTF-8 (no overlong forms,
 * surrogates or code points above U+10FFFF). 0, -1 for a bad escape, -2 for
 * bytes that are not UTF-8.
 */
int http_pct_check(const char *s, size_t len);
/*
 * Decodes s into dst (room for len bytes; dst may equal s for in-place
 * decoding). plus_space turns '+' into ' ' (query strings only). Returns the
 * decoded length, or -1 for a malformed escape or %00 (dst is then garbage).
 */
ssize_t http_pct_decode(char *dst, const char *s, size_t len, bool plus_space);
/*
 * Looks up the first parameter called name in a raw query string (names are
 * compared after decoding). "a" and "a=" both give "". Returns the decoded,
 * NUL-terminated value (allocated in arena, or a static "" for empty values)
 * and its length in *len (len may be NULL), or NULL when absent or when the
 * value cannot be decoded.
 */
const char *http_query_get(const char *query, size_t qlen, const char *name, arena_t *arena,
                           size_t *len);

#endif
