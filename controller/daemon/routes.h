/*
 * The route tables of every module, NULL-terminated; each table ends with
 * an entry whose method is NULL.
 */
#ifndef MCC_ROUTES_H
#define MCC_ROUTES_H

#include "http.h"

extern const struct mcc_route *const mcc_route_tables[];

#endif
