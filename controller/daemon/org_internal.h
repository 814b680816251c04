/*
 * Helpers shared by org.c and provision.c (not part of the module's
 * public interface).
 */
#ifndef MCC_ORG_INTERNAL_H
#define MCC_ORG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <sqlite3.h>

#include "minecast/error.h"

/* A growable array of owned strings; zero-initialise. */
struct mcc__strv {
	char **s;   /* n strings, each malloc'd */
	size_t n;   /* strings held */
	size_t cap; /* room in s */
};

void mcc__strv_free(struct mcc__strv *v);
/* Append a copy of s; MC_ERR_NOMEM on failure. */
enum mc_err mcc__strv_push(struct mcc__strv *v, const char *s);
/* Sort (strcmp order) and drop duplicates. */
void mcc__strv_sort_unique(struct mcc__strv *v);

/* Does a row with this id exist in table ("groups", "sites", ...)?
 * 1 yes, 0 no, -1 database error (logged by the caller). */
int mcc__org_exists(sqlite3 *db, const char *table, const char *id);

#endif
