/* The compiled-in migrations (generated migrations.c). */
#ifndef MCC_DB_INTERNAL_H
#define MCC_DB_INTERNAL_H

struct mcc_migration {
	int version;      /* the number the file name starts with */
	const char *name; /* "001-core.sql" */
	const char *sql;  /* its statements */
};

/* Ends with an entry whose name is NULL. */
extern const struct mcc_migration mcc_migrations[];

#endif
