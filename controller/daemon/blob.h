/*
 * The content-addressed blob store: <data_dir>/blobs/ab/abcdef...  Every
 * uploaded asset and every compiled manifest is stored once under its
 * SHA-256, written to a temp file, fsynced and renamed into place, so that
 * a reader never sees half a file and the same bytes are never stored
 * twice.  The blobs table records size and MIME type.
 */
#ifndef MCC_BLOB_H
#define MCC_BLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "minecast/error.h"

#include "route.h"

struct mcc;

/* Path of a blob (whether or not it exists). */
void mcc_blob_path(const struct mcc *c, const char *sha256, char *buf,
                   size_t len);

/* Store bytes; sha256 out (65 bytes).  Records the blobs row in db (no
 * transaction of its own: INSERT OR IGNORE). */
enum mc_err mcc_blob_put(struct mcc *c, sqlite3 *db, const void *data,
                         size_t len, const char *mime, char sha256[65],
                         struct mc_error *err);

/* Store a file (an upload spool): hashed, then linked or copied into the
 * store.  The source is left in place. */
enum mc_err mcc_blob_put_file(struct mcc *c, sqlite3 *db, const char *path,
                              const char *mime, char sha256[65], int64_t *size,
                              struct mc_error *err);

bool mcc_blob_exists(const struct mcc *c, const char *sha256);

/* Is s exactly 64 lower-case hex digits? */
bool mcc_sha256_valid(const char *s);

/* Routes: GET /v1/content/{sha256}, GET /v1/manifests/{sha256}: public,
 * immutable, ETag = the hash, Range. */
extern const struct mcc_route mcc_blob_routes[];

#endif
