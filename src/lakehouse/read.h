/*
 * lakehouse/read.h - GET /lakehouse/v1/{table}: the Data API's read grammar
 * translated to Databricks SQL over a discovered table (read.c).
 */
#ifndef LAKEAPI_LAKEHOUSE_READ_H
#define LAKEAPI_LAKEHOUSE_READ_H

#include "lakehouse/internal.h"
#include "lakeapi/router.h"

int lh_read_register(lakehouse_t *lh, router_t *r);

#endif
