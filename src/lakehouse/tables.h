/*
 * lakehouse/tables.h - the tables a catalog has, discovered from its
 * information_schema.columns (tables.c); shared by the users store and the
 * /lakehouse/v1 routes. Identifiers in our SQL come from here only.
 */
#ifndef LAKEAPI_LAKEHOUSE_TABLES_H
#define LAKEAPI_LAKEHOUSE_TABLES_H

#include "lakehouse/internal.h"

typedef struct lh_tcol {
    char *name;
    char *data_type; /* information_schema's data_type: LONG, STRING, DECIMAL, ... */
    lh_type_t type;
} lh_tcol_t;

typedef struct lh_table {
    char *catalog, *schema, *name;
    char *qualified; /* `catalog`.`schema`.`name` */
    char *key;       /* "catalog.schema.name": the cache's invalidation key */
    lh_tcol_t *cols;
    int ncols;
} lh_table_t;

typedef struct lh_catalog lh_catalog_t;

lh_catalog_t *lh_tables_new(lakehouse_t *lh, double reload_s);
void lh_tables_start(lh_catalog_t *c); /* loads the configured catalog, then on the timer */
void lh_tables_close(lh_catalog_t *c);
void lh_tables_free(lh_catalog_t *c);

/* status 0 when the catalog's tables are loaded, else an HTTP status and detail. */
typedef void (*lh_tables_cb)(int status, const char *detail, void *data);
/* (Re)loads catalog's tables; every caller while it runs shares the one statement. */
void lh_tables_load(lh_catalog_t *c, const char *catalog, lh_tables_cb cb, void *data);
bool lh_tables_loaded(const lh_catalog_t *c, const char *catalog);
/* The table, or NULL. Valid until the next load of its catalog ends. */
const lh_table_t *lh_tables_find(const lh_catalog_t *c, const char *catalog, const char *schema,
                                 const char *name);
const lh_tcol_t *lh_table_column(const lh_table_t *t, const char *name);
/* Appends the names of the loaded tables as a JSON array of "catalog.schema.name". */
void lh_tables_list(const lh_catalog_t *c, json_writer_t *w);

#endif
