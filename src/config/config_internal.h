/*
 * config/config_internal - the settings table shared by the loader (config.c)
 * and the printers (describe.c). One row per config_t field: its names in
 * lookup order, how its value is checked, and whether it is a secret.
 *
 * Layer config: may include log, json, util.
 */
#ifndef LAKEAPI_CONFIG_INTERNAL_H
#define LAKEAPI_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
    CONFIG_STR,       /* any non-empty text */
    CONFIG_URL,       /* DATABASE_URL: parsed by libpq, never echoed in errors */
    CONFIG_PORT,      /* int 1..65535 */
    CONFIG_PORT_STR,  /* string holding 1..65535 (libpq wants text) */
    CONFIG_POOL_SIZE, /* int 1..1000 */
    CONFIG_OVERFLOW,  /* int 0..10000 */
    CONFIG_ROWS,      /* int 0..1000000000 (0 = no cap) */
    CONFIG_SECONDS,   /* double > 0 */
    CONFIG_SECONDS0,  /* double >= 0 (0 = never) */
    CONFIG_BOOL,
    CONFIG_LOG_LEVEL,
    CONFIG_SSLMODE,
    CONFIG_TABLE,     /* [schema.]name of SQL identifiers */
    CONFIG_AUTH_TYPE, /* pat | oauth-m2m */
    CONFIG_DBX_HOST,  /* normalised to scheme://host without trailing slash */
    CONFIG_COUNT,     /* int 0..1000000 (0 = automatic or no limit) */
    CONFIG_HEADER,    /* a header value: 1..64 printable ASCII characters */
    CONFIG_NUMBER0,   /* double >= 0 */
    CONFIG_MS,        /* int milliseconds 0..3600000 */
    CONFIG_WORKERS,   /* int 0..256 (0 = one per core) */
} config_kind_t;

#define CONFIG_MAX_ALIASES 3

typedef struct config_setting {
    const char *names[CONFIG_MAX_ALIASES]; /* first is canonical; unused slots NULL */
    const char *flag;                      /* "--host", or NULL (only --set NAME=...) */
    config_kind_t kind;
    size_t offset; /* of the field in config_t */
    bool secret;
} config_setting_t;

extern const config_setting_t config_settings[];
extern const size_t config_settings_count;

#define CONFIG_DEFAULT_APPNAME "lakeapi"

#endif
