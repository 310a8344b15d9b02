/*
 * static - Swagger UI at /docs, served by lakeapi itself (no CDN, works
 * offline).
 *
 * The files come from npm's swagger-ui-dist, installed into the build tree
 * by scripts/swagger.sh (never committed). The directory is SWAGGER_UI_DIR,
 * else <dir of the executable>/web/node_modules/swagger-ui-dist, else
 * /usr/share/lakeapi/swagger-ui. A fixed list of files is read into memory
 * at startup; /docs/{file} only ever answers from that list, so no path
 * from a request reaches the file system. The page and its initializer are
 * ours: they point Swagger UI at /openapi.json.
 *
 * Without the files the server still runs, and /docs answers 503 with a
 * JSON detail saying so.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "web/web.h"
#include "lakeapi/log.h"

#define DOCS_MAX_FILE   (16 * 1024 * 1024)
#define DOCS_SYSTEM_DIR "/usr/share/lakeapi/swagger-ui"
#define DOCS_UNAVAILABLE                                                                           \
    "Swagger UI is not installed on this server (swagger-ui-dist; see SWAGGER_UI_DIR); "           \
    "the API description is at /openapi.json"

typedef struct docs_file {
    const char *name;
    const char *content_type;
    bool required; /* the page is useless without it */
} docs_file_t;

static const docs_file_t docs_files[] = {
    {"swagger-ui.css", "text/css; charset=utf-8", true},
    {"swagger-ui-bundle.js", "application/javascript; charset=utf-8", true},
    {"favicon-32x32.png", "image/png", false},
    {"favicon-16x16.png", "image/png", false},
};
#define DOCS_NFILES (sizeof docs_files / sizeof docs_files[0])

static const char docs_page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <meta charset=\"utf-8\">\n"
    "  <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "  <title>lakeapi - Swagger UI</title>\n"
    "  <link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
    "  <link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\" sizes=\"32x32\">\n"
    "</head>\n"
    "<body>\n"
    "  <div id=\"swagger-ui\"></div>\n"
    "  <script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "  <script src=\"/docs/swagger-initializer.js\"></script>\n"
    "</body>\n"
    "</html>\n";

static const char docs_initializer[] = "window.onload = function () {\n"
                                       "  window.ui = SwaggerUIBundle({\n"
                                       "    url: \"/openapi.json\",\n"
                                       "    dom_id: \"#swagger-ui\",\n"
                                       "    deepLinking: true,\n"
                                       "    presets: [SwaggerUIBundle.presets.apis],\n"
                                       "    layout: \"BaseLayout\"\n"
                                       "  });\n"
                                       "};\n";

struct web_docs {
    bool ready; /* every required file was read */
    char *dir;  /* where they were found (for the log) */
    char *data[DOCS_NFILES];
    size_t len[DOCS_NFILES];
};

/* Reads path whole into *out (malloc'd); -1 if it cannot be read or is too big. */
static int docs_read(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    buf_t b;
    buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len <= DOCS_MAX_FILE)
        buf_append(&b, chunk, n);
    bool bad = ferror(f) || b.len > DOCS_MAX_FILE;
    fclose(f);
    if (bad) {
        buf_dispose(&b);
        return -1;
    }
    *len = b.len;
    *out = b.len ? buf_steal(&b) : calloc(1, 1);
    return 0;
}

static bool docs_try_dir(web_docs_t *d, const char *dir)
{
    char path[PATH_MAX];
    for (size_t i = 0; i < DOCS_NFILES; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, docs_files[i].name);
        if (docs_read(path, &d->data[i], &d->len[i]) != 0 && docs_files[i].required) {
            for (size_t k = 0; k <= i; k++) {
                free(d->data[k]);
                d->data[k] = NULL;
                d->len[k] = 0;
            }
            return false;
        }
    }
    d->dir = strdup(dir);
    d->ready = true;
    return true;
}

/* <dir of /proc/self/exe>/web/node_modules/swagger-ui-dist, or "" when unknown. */
static void docs_exe_dir(char *out, size_t n)
{
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    out[0] = '\0';
    if (k <= 0) return;
    exe[k] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = '\0';
    /* A path too long to hold the suffix is no directory of ours: leave out empty. */
    if (snprintf(out, n, "%s/web/node_modules/swagger-ui-dist", exe) >= (int)n) out[0] = '\0';
}

web_docs_t *web_docs_load(const char *dir)
{
    web_docs_t *d = calloc(1, sizeof *d);
    if (!d) abort();
    if (dir && dir[0]) {
        if (!docs_try_dir(d, dir))
            log_warn("SWAGGER_UI_DIR=%s has no swagger-ui-dist files: /docs answers 503", dir);
        return d;
    }
    char near_exe[PATH_MAX];
    docs_exe_dir(near_exe, sizeof near_exe);
    if ((near_exe[0] && docs_try_dir(d, near_exe)) || docs_try_dir(d, DOCS_SYSTEM_DIR)) {
        log_debug("Swagger UI files from %s", d->dir);
        return d;
    }
    log_warn("Swagger UI files not found (%s, %s; run scripts/swagger.sh or set SWAGGER_UI_DIR): "
             "/docs answers 503",
             near_exe[0] ? near_exe : "<executable dir>", DOCS_SYSTEM_DIR);
    return d;
}

void web_docs_free(web_docs_t *d)
{
    if (!d) return;
    for (size_t i = 0; i < DOCS_NFILES; i++)
        free(d->data[i]);
    free(d->dir);
    free(d);
}

bool web_docs_ready(const web_docs_t *d)
{
    return d && d->ready;
}

static void docs_send(http_exchange_t *ex, const char *data, size_t len, const char *type)
{
    buf_t *b = http_exchange_body_buf(ex);
    buf_reset(b);
    buf_append(b, data, len);
    http_exchange_add_header(ex, "Cache-Control", "public, max-age=3600");
    http_exchange_add_header(ex, "X-Content-Type-Options", "nosniff");
    http_exchange_send(ex, 200, type);
}

void web_docs_page_handler(http_exchange_t *ex, void *data)
{
    const web_docs_t *docs = data;
    if (!web_docs_ready(docs)) {
        web_send_detail(ex, 503, DOCS_UNAVAILABLE);
        return;
    }
    docs_send(ex, docs_page, sizeof docs_page - 1, "text/html; charset=utf-8");
}

void web_docs_file_handler(http_exchange_t *ex, void *data)
{
    const web_docs_t *docs = data;
    const char *name = http_exchange_param(ex, 0);
    if (name && strcmp(name, "swagger-initializer.js") == 0) {
        docs_send(ex, docs_initializer, sizeof docs_initializer - 1,
                  "application/javascript; charset=utf-8");
        return;
    }
    for (size_t i = 0; name && i < DOCS_NFILES; i++) {
        if (strcmp(name, docs_files[i].name) != 0) continue;
        if (!web_docs_ready(docs)) {
            web_send_detail(ex, 503, DOCS_UNAVAILABLE);
        } else if (!docs->data[i]) {
            web_send_detail(ex, 404, "Not Found");
        } else {
            docs_send(ex, docs->data[i], docs->len[i], docs_files[i].content_type);
        }
        return;
    }
    web_send_detail(ex, 404, "Not Found");
}
