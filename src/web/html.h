/*
 * html.h - what the one HTML page (the landing page) needs: content
 * negotiation and escaping. Pure functions, unit-tested alone.
 */
#ifndef LAKEAPI_WEB_HTML_H
#define LAKEAPI_WEB_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "lakeapi/buf.h"

/*
 * true when an Accept header value ranks text/html above application/json
 * (RFC 9110 section 12.5.1: the most specific matching range gives each type
 * its q; q=0 means not acceptable). A tie - "*" "/" "*" alone, no header
 * (NULL), or neither acceptable - means JSON: API clients keep their JSON.
 */
bool web_accept_prefers_html(const char *accept);

/* Appends s[0..len) with & < > " ' escaped, safe in element text and quoted attributes. */
void web_html_escape(buf_t *b, const char *s, size_t len);

#endif
