/*
 * minecast-player — the content-addressed cache.
 *
 * <dir>/blobs/<sha256> holds verified files only: a blob is renamed into
 * place after its bytes were hashed and fsynced, so anything under blobs/
 * may be played.  Downloads in progress live in <dir>/tmp/<sha256>.part
 * and survive a restart, so that they resume with a Range request.
 */
#ifndef MC_PLAYER_CACHE_H
#define MC_PLAYER_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"

struct mc_cache;

/*
 * Open (creating dir, blobs/ and tmp/ as needed).  quota is the byte
 * budget for blobs/; 0 = no quota.  Blobs whose size on disk is not a
 * plausible complete file are not trusted: see mc_cache_has().
 */
struct mc_cache *mc_cache_open(const char *dir, int64_t quota,
                               struct mc_error *err);
void mc_cache_close(struct mc_cache *c);

/* True if blobs/<sha256> exists (and has size bytes when size >= 0). */
bool mc_cache_has(const struct mc_cache *c, const char *sha256, int64_t size);

/* Write the blob's path into buf; returns buf. */
char *mc_cache_path(const struct mc_cache *c, const char *sha256, char *buf,
                    size_t len);

/* Write the partial download's path (tmp/<sha256>.part) into buf. */
char *mc_cache_part_path(const struct mc_cache *c, const char *sha256,
                         char *buf, size_t len);

/*
 * Verify tmp/<sha256>.part has size bytes and that sha256, fsync it and
 * rename it to blobs/<sha256>.  On a hash or size mismatch the part file
 * is deleted (MC_ERR_HASH; err says expected and actual).
 */
enum mc_err mc_cache_commit(struct mc_cache *c, const char *sha256,
                            int64_t size, struct mc_error *err);

/*
 * Store bytes already in memory as a blob (verified against sha256).
 */
enum mc_err mc_cache_put(struct mc_cache *c, const char *sha256,
                         const void *data, size_t len, struct mc_error *err);

/* Bytes under blobs/ and tmp/. */
int64_t mc_cache_usage(const struct mc_cache *c);
int64_t mc_cache_quota(const struct mc_cache *c);

/*
 * Delete blobs not named in keep (an array of n sha256 strings) while
 * usage is over the quota (or all of them when force is true), least
 * recently used first; also stale tmp/ parts not in keep.  *freed gets
 * the bytes removed.  Never touches a kept blob.
 */
enum mc_err mc_cache_gc(struct mc_cache *c, const char *const *keep, size_t n,
                        bool force, int64_t *freed, struct mc_error *err);

/* Mark a blob used now (for LRU), e.g. when an item starts. */
void mc_cache_touch(struct mc_cache *c, const char *sha256);

#endif
