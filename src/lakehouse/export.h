/*
 * lakehouse/export.h - a large read as CSV through EXTERNAL_LINKS, streamed
 * on to the client with back-pressure (export.c).
 */
#ifndef LAKEAPI_LAKEHOUSE_EXPORT_H
#define LAKEAPI_LAKEHOUSE_EXPORT_H

#include "lakehouse/internal.h"
#include "lakeapi/http.h"

/* Runs sql and answers ex with its CSV (params copied). Takes over ex. */
void lh_export_csv(lakehouse_t *lh, http_exchange_t *ex, const char *sql, const lh_param_t *params,
                   int nparams);

#endif
