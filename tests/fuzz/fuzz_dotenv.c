/*
 * fuzz_dotenv - arbitrary .env content: the parser must not crash, every name
 * it returns must be a valid variable name, and a failure must say where. The
 * bytes also go through config_mask_url, which must not crash either.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config/dotenv.h"
#include "lakeapi/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_name(const char *n)
{
    if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || *n == '_')) return 0;
    for (n++; *n; n++) {
        if (!((*n >= 'A' && *n <= 'Z') || (*n >= 'a' && *n <= 'z') || (*n >= '0' && *n <= '9') ||
              *n == '_'))
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dotenv_t d;
    dotenv_init(&d);
    char err[256] = "";
    int rc = dotenv_parse(&d, (const char *)data, size, "fuzz.env", err, sizeof err);
    if (rc != 0 && strncmp(err, "fuzz.env:", 9) != 0) abort();
    for (size_t i = 0; i < d.len; i++) {
        if (!valid_name(d.items[i].name) || !d.items[i].value) abort();
        if (dotenv_get(&d, d.items[i].name) == NULL) abort();
    }
    dotenv_dispose(&d);

    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    free(config_mask_url(text));
    free(text);
    return 0;
}
