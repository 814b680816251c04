/*
 * minecast-controller — the content-addressed blob store (blob.h).
 *
 * <blob_dir>/<first two hex digits>/<sha256>.  Files appear by rename
 * after fsync, so a reader (an HTTP download, a node) sees a whole file or
 * none; the same bytes are stored once.  Files are never changed in place,
 * which is why their URLs are served as immutable.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "blob.h"
#include "db.h"
#include "http.h"
#include "mcc.h"

/* Bytes copied at a time when a spool cannot be linked. */
#define COPY_CHUNK (256 * 1024)

/* 64 lower-case hex digits? */
bool mcc_sha256_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

void mcc_blob_path(const struct mcc *c, const char *sha256, char *buf,
                   size_t len)
{
	snprintf(buf, len, "%s/%.2s/%s", c->blob_dir, sha256, sha256);
}

bool mcc_blob_exists(const struct mcc *c, const char *sha256)
{
	char path[4096];
	struct stat st;

	if (!mcc_sha256_valid(sha256))
		return false;
	mcc_blob_path(c, sha256, path, sizeof(path));
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* The shard directory of sha256 (created, mode 0700). */
static enum mc_err shard(const struct mcc *c, const char *sha256,
                         struct mc_error *err)
{
	char dir[4096];

	snprintf(dir, sizeof(dir), "%s/%.2s", c->blob_dir, sha256);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return mc_error_set(err, MC_ERR_IO, "%s: %s", dir,
		                    strerror(errno));
	return MC_OK;
}

/* Record the blobs row (INSERT OR IGNORE: the bytes decide, not us). */
static enum mc_err record(sqlite3 *db, const char *sha256, int64_t size,
                          const char *mime, struct mc_error *err)
{
	sqlite3_stmt *st = mcc_db_prepare(
	        db, "INSERT OR IGNORE INTO blobs (sha256, size, mime, "
	            "created_ms) VALUES (?, ?, ?, ?)");
	int step;

	if (!st)
		return mc_error_set(err, MC_ERR_IO, "blobs: database error");
	sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, size);
	sqlite3_bind_text(st, 3, mime ? mime : "application/octet-stream", -1,
	                  SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 4, mc_now_ms());
	step = sqlite3_step(st);
	mcc_db_done(st);
	if (step != SQLITE_DONE)
		return mc_error_set(err, MC_ERR_IO, "blobs: %s",
		                    sqlite3_errmsg(db));
	return MC_OK;
}

enum mc_err mcc_blob_put(struct mcc *c, sqlite3 *db, const void *data,
                         size_t len, const char *mime, char sha256[65],
                         struct mc_error *err)
{
	char path[4096];
	enum mc_err rc;

	mc_sha256_hex(data, len, sha256);
	if (!mcc_blob_exists(c, sha256)) {
		if ((rc = shard(c, sha256, err)) != MC_OK)
			return rc;
		mcc_blob_path(c, sha256, path, sizeof(path));
		rc = mc_write_file_atomic(path, data, len, 0600, err);
		if (rc != MC_OK)
			return rc;
	}
	return record(db, sha256, (int64_t)len, mime, err);
}

/* fsync a directory so that a rename in it survives a power cut. */
static void sync_dir(const char *path)
{
	char dir[4096];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Copy src into a temp file beside dest, fsync, rename. */
static enum mc_err copy_in(const char *src, const char *dest,
                           struct mc_error *err)
{
	char *tmp = mc_printf("%s.tmp-XXXXXX", dest), *buf = NULL;
	int in = -1, out = -1;
	enum mc_err rc = MC_ERR_IO;
	ssize_t n;

	if (!tmp || !(buf = malloc(COPY_CHUNK))) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	in = open(src, O_RDONLY | O_CLOEXEC);
	out = mkostemp(tmp, O_CLOEXEC);
	if (in < 0 || out < 0) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", in < 0 ? src : tmp,
		             strerror(errno));
		if (out >= 0)
			unlink(tmp);
		goto out;
	}
	while ((n = read(in, buf, COPY_CHUNK)) > 0) {
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				mc_error_set(err, MC_ERR_IO, "%s: %s", tmp,
				             strerror(errno));
				unlink(tmp);
				goto out;
			}
			off += w;
		}
	}
	if (n < 0 || fsync(out) != 0 || rename(tmp, dest) != 0) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", dest, strerror(errno));
		unlink(tmp);
		goto out;
	}
	sync_dir(dest);
	rc = MC_OK;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	free(buf);
	free(tmp);
	return rc;
}

enum mc_err mcc_blob_put_file(struct mcc *c, sqlite3 *db, const char *path,
                              const char *mime, char sha256[65], int64_t *size,
                              struct mc_error *err)
{
	char dest[4096];
	int64_t n = 0;
	enum mc_err rc;

	rc = mc_sha256_file(path, sha256, &n, err);
	if (rc != MC_OK)
		return rc;
	if (size)
		*size = n;
	if (!mcc_blob_exists(c, sha256)) {
		int fd;

		if ((rc = shard(c, sha256, err)) != MC_OK)
			return rc;
		mcc_blob_path(c, sha256, dest, sizeof(dest));
		/* The spool was fsynced; a hard link makes it the blob
		 * without copying (same file system, the usual case). */
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
		if (link(path, dest) == 0) {
			chmod(dest, 0600);
			sync_dir(dest);
		} else if (errno != EEXIST) {
			rc = copy_in(path, dest, err);
			if (rc != MC_OK)
				return rc;
		}
	}
	return record(db, sha256, n, mime, err);
}

/* GET of a blob by hash; mime from the blobs table. */
static void serve(struct mcc_req *rq, struct mcc_resp *rs,
                  const char *fallback_mime)
{
	const char *sha = rq->params[0];
	char path[4096], mime[128] = "";
	sqlite3 *db = mcc_db(rq->c);
	sqlite3_stmt *st;

	if (!mcc_sha256_valid(sha)) {
		mcc_resp_error(
		        rs, 400, "sha256",
		        "sha256: phải là 64 chữ số hex thường / must be 64 "
		        "lower-case hex digits");
		return;
	}
	if (db && (st = mcc_db_prepare(db, "SELECT mime FROM blobs WHERE "
	                                   "sha256 = ?"))) {
		sqlite3_bind_text(st, 1, sha, -1, SQLITE_STATIC);
		if (sqlite3_step(st) == SQLITE_ROW)
			snprintf(mime, sizeof(mime), "%s",
			         (const char *)sqlite3_column_text(st, 0));
		mcc_db_done(st);
	}
	mcc_blob_path(rq->c, sha, path, sizeof(path));
	if (access(path, F_OK) != 0) {
		mcc_resp_error(rs, 404, "sha256",
		               "sha256: không có nội dung này / no such blob");
		return;
	}
	mcc_resp_file(rs, path, mime[0] ? mime : fallback_mime, sha, true);
}

static void h_content(struct mcc_req *rq, struct mcc_resp *rs)
{
	serve(rq, rs, "application/octet-stream");
}

static void h_manifest(struct mcc_req *rq, struct mcc_resp *rs)
{
	serve(rq, rs, "application/json");
}

const struct mcc_route mcc_blob_routes[] = {
        /* Other ids under /v1/content/ are content.c's. */
        {"GET", "/v1/content/{}", 0, 0, MCC_HEX64, h_content},
        {"GET", "/v1/manifests/{}", 0, 0, 0, h_manifest},
        {NULL, NULL, 0, 0, 0, NULL},
};
