/*
 * SQLite for the controller: one database file, WAL, foreign keys on,
 * versioned migrations (migrations/NNN-name.sql, applied in order, each in
 * its own transaction, recorded in schema_version).
 *
 * Every thread gets its own connection (mcc_db() opens it on first use in
 * that thread), so HTTP threads read concurrently; writers take the WAL
 * write lock with BEGIN IMMEDIATE and wait up to 5 s for it.
 */
#ifndef MCC_DB_H
#define MCC_DB_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "minecast/error.h"

struct mcc;

/* Open (creating) c->db_path and apply pending migrations. */
enum mc_err mcc_db_init(struct mcc *c, struct mc_error *err);

/* This thread's connection; NULL only when the database cannot be opened
 * (logged).  Owned by the thread; closed by mcc_db_thread_end(). */
sqlite3 *mcc_db(struct mcc *c);

/* Close this thread's connection (threads call it before they exit). */
void mcc_db_thread_end(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK; errors are logged and returned as
 * MC_ERR_IO.  Rollback is safe to call when no transaction is open. */
enum mc_err mcc_db_begin(sqlite3 *db);
enum mc_err mcc_db_commit(sqlite3 *db);
void mcc_db_rollback(sqlite3 *db);

/*
 * Prepare sql (cached per connection: statements are reset, not
 * finalised, between uses).  NULL on error, with the message logged.
 * The statement belongs to the cache; call sqlite3_reset() when done
 * (mcc_db_done() does, and clears the bindings).
 */
sqlite3_stmt *mcc_db_prepare(sqlite3 *db, const char *sql);
void mcc_db_done(sqlite3_stmt *st);
/*
 * mcc_db_prepare(sql) with vals[0..n-1] bound as text to ?1..?n (a NULL
 * one stays SQL NULL): the filters of a list.  NULL on error.
 */
sqlite3_stmt *mcc_db_prepare_texts(sqlite3 *db, const char *sql,
                                   const char *const *vals, int n);

/*
 * Run one statement whose rows become a JSON array of objects, column
 * names as keys (INTEGER → integer, REAL → real, TEXT → string, NULL →
 * null, BLOB → skipped).  Columns whose name ends in "_json" are parsed
 * and embedded as JSON under the name without the suffix.  New
 * reference, NULL on error.
 */
json_t *mcc_db_rows(sqlite3_stmt *st);

/*
 * One page of a filtered list.  count_sql and page_sql both take
 * vals[0..n-1] as ?1..?n (as mcc_db_prepare_texts binds them), page_sql
 * also limit as ?n+1 and offset as ?n+2.  Returns page_sql's rows
 * (mcc_db_rows; new reference) with *total from count_sql (0 when it
 * gives no row); NULL when a statement does not prepare or the rows
 * cannot be read.
 */
json_t *mcc_db_page(sqlite3 *db, const char *count_sql, const char *page_sql,
                    const char *const *vals, int n, int64_t limit,
                    int64_t offset, int64_t *total);

/* Current schema version (the highest migration applied). */
int mcc_db_version(sqlite3 *db);

/*
 * Online backup of the live database to dest (written to dest.tmp, then
 * renamed), in steps so that writers are not held up.  progress (may be
 * NULL) is called with pages done and total.
 */
enum mc_err mcc_db_backup(struct mcc *c, const char *dest,
                          void (*progress)(int done, int total, void *arg),
                          void *arg, struct mc_error *err);

#endif
