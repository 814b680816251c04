/*
 * minecast-controller — SQLite (db.h).
 *
 * Each thread owns one connection, kept in a pthread key whose destructor
 * closes it when the thread ends (libmicrohttpd's pool threads, the MQTT
 * thread, the tick thread).  A connection caches its prepared statements
 * by SQL text, so a handler pays for parsing a statement once per thread,
 * not once per request.  Connections are set up the same way everywhere:
 * WAL (readers never wait for the writer), foreign keys on, synchronous
 * NORMAL (durable at checkpoints; a power cut loses at most the last
 * transactions, never the file), busy timeout 5 s.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "db.h"
#include "db_internal.h"
#include "mcc.h"

/* Buckets of a connection's statement cache. */
#define CACHE_BUCKETS 64

/* Pages copied per backup step, and the pause between steps. */
#define BACKUP_PAGES    256
#define BACKUP_PAUSE_MS 5

/* A cached statement, chained in its bucket. */
struct cached {
	char *sql;           /* the text it was prepared from (owned) */
	sqlite3_stmt *st;    /* the statement */
	struct cached *next; /* next in the bucket */
};

/* One thread's connection. */
struct conn {
	sqlite3 *db;                         /* the connection */
	char *path;                          /* the file it has open */
	struct cached *cache[CACHE_BUCKETS]; /* statements by SQL text */
	struct conn *next;                   /* in the list of all */
};

static pthread_key_t conn_key;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;

/* Every open connection, so that mcc_db_prepare finds a db's cache. */
static pthread_mutex_t conns_lock = PTHREAD_MUTEX_INITIALIZER;
static struct conn *conns;

static void conn_close(struct conn *k)
{
	struct conn **pp;

	if (!k)
		return;
	pthread_mutex_lock(&conns_lock);
	for (pp = &conns; *pp; pp = &(*pp)->next) {
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	}
	pthread_mutex_unlock(&conns_lock);
	for (size_t i = 0; i < CACHE_BUCKETS; i++) {
		struct cached *e = k->cache[i], *next;

		for (; e; e = next) {
			next = e->next;
			sqlite3_finalize(e->st);
			free(e->sql);
			free(e);
		}
	}
	if (k->db)
		sqlite3_close_v2(k->db);
	free(k->path);
	free(k);
}

static void conn_destroy(void *p)
{
	conn_close(p);
}

static void make_key(void)
{
	pthread_key_create(&conn_key, conn_destroy);
}

/* Run one statement without results; logs and returns false on error. */
static bool exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return true;
	mc_log_error("db", "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return false;
}

/* Open path with the controller's settings. */
static sqlite3 *open_db(const char *path)
{
	sqlite3 *db = NULL;
	int rc;

	rc = sqlite3_open_v2(path, &db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		mc_log_error("db", "cannot open %s: %s", path,
		             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_extended_result_codes(db, 1);
	if (!exec(db, "PRAGMA journal_mode=WAL") ||
	    !exec(db, "PRAGMA foreign_keys=ON") ||
	    !exec(db, "PRAGMA synchronous=NORMAL"))
		goto fail;
	return db;
fail:
	sqlite3_close_v2(db);
	return NULL;
}

sqlite3 *mcc_db(struct mcc *c)
{
	struct conn *k;

	pthread_once(&conn_once, make_key);
	k = pthread_getspecific(conn_key);
	if (k && c->db_path && strcmp(k->path, c->db_path) == 0)
		return k->db;
	/* Another database (a test's next context): start afresh. */
	if (k) {
		pthread_setspecific(conn_key, NULL);
		conn_close(k);
	}
	if (!c->db_path)
		return NULL;
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->path = strdup(c->db_path);
	k->db = k->path ? open_db(c->db_path) : NULL;
	if (!k->db) {
		free(k->path);
		free(k);
		return NULL;
	}
	pthread_mutex_lock(&conns_lock);
	k->next = conns;
	conns = k;
	pthread_mutex_unlock(&conns_lock);
	pthread_setspecific(conn_key, k);
	return k->db;
}

void mcc_db_thread_end(void)
{
	struct conn *k;

	pthread_once(&conn_once, make_key);
	k = pthread_getspecific(conn_key);
	if (!k)
		return;
	pthread_setspecific(conn_key, NULL);
	conn_close(k);
}

/* The connection record of db: this thread's, else any registered. */
static struct conn *conn_of(sqlite3 *db)
{
	struct conn *k;

	pthread_once(&conn_once, make_key);
	k = pthread_getspecific(conn_key);
	if (k && k->db == db)
		return k;
	pthread_mutex_lock(&conns_lock);
	for (k = conns; k && k->db != db; k = k->next)
		;
	pthread_mutex_unlock(&conns_lock);
	return k;
}

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

sqlite3_stmt *mcc_db_prepare(sqlite3 *db, const char *sql)
{
	struct conn *k = conn_of(db);
	struct cached *e;
	sqlite3_stmt *st = NULL;
	unsigned b = hash(sql) % CACHE_BUCKETS;

	if (!k) {
		mc_log_error("db", "mcc_db_prepare: not a connection of "
		                   "mcc_db(); statement not cached");
		return NULL;
	}
	for (e = k->cache[b]; e; e = e->next)
		if (strcmp(e->sql, sql) == 0)
			return e->st;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
	                       NULL) != SQLITE_OK) {
		mc_log_error("db", "cannot prepare \"%s\": %s", sql,
		             sqlite3_errmsg(db));
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e || !(e->sql = strdup(sql))) {
		free(e);
		sqlite3_finalize(st);
		return NULL;
	}
	e->st = st;
	e->next = k->cache[b];
	k->cache[b] = e;
	return st;
}

sqlite3_stmt *mcc_db_prepare_texts(sqlite3 *db, const char *sql,
                                   const char *const *vals, int n)
{
	sqlite3_stmt *st = mcc_db_prepare(db, sql);

	if (!st)
		return NULL;
	for (int i = 0; i < n; i++)
		if (vals[i])
			sqlite3_bind_text(st, i + 1, vals[i], -1,
			                  SQLITE_TRANSIENT);
	return st;
}

void mcc_db_done(sqlite3_stmt *st)
{
	if (!st)
		return;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

enum mc_err mcc_db_begin(sqlite3 *db)
{
	return exec(db, "BEGIN IMMEDIATE") ? MC_OK : MC_ERR_IO;
}

enum mc_err mcc_db_commit(sqlite3 *db)
{
	if (exec(db, "COMMIT"))
		return MC_OK;
	mcc_db_rollback(db);
	return MC_ERR_IO;
}

void mcc_db_rollback(sqlite3 *db)
{
	if (db && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

json_t *mcc_db_rows(sqlite3_stmt *st)
{
	json_t *rows = json_array();
	int rc, n = sqlite3_column_count(st);

	if (!rows)
		return NULL;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *row = json_object();

		if (!row)
			goto fail;
		for (int i = 0; i < n; i++) {
			const char *name = sqlite3_column_name(st, i);
			size_t nl = strlen(name);
			json_t *v = NULL;

			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				v = json_integer(sqlite3_column_int64(st, i));
				break;
			case SQLITE_FLOAT:
				v = json_real(sqlite3_column_double(st, i));
				break;
			case SQLITE_NULL: v = json_null(); break;
			case SQLITE_TEXT: {
				const char *t =
				        (const char *)sqlite3_column_text(st,
				                                          i);
				size_t len =
				        (size_t)sqlite3_column_bytes(st, i);

				if (nl > 5 &&
				    strcmp(name + nl - 5, "_json") == 0) {
					v = json_loadb(t, len, JSON_DECODE_ANY,
					               NULL);
					if (!v) {
						mc_log_warn("db",
						            "column %s holds "
						            "bad JSON; shown "
						            "as null",
						            name);
						v = json_null();
					}
				} else {
					v = json_stringn(t, len);
				}
				break;
			}
			default: continue; /* BLOB */
			}
			if (!v) {
				json_decref(row);
				goto fail;
			}
			if (nl > 5 && strcmp(name + nl - 5, "_json") == 0) {
				char key[128];

				snprintf(key, sizeof(key), "%.*s",
				         (int)(nl - 5), name);
				json_object_set_new(row, key, v);
			} else {
				json_object_set_new(row, name, v);
			}
		}
		json_array_append_new(rows, row);
	}
	if (rc != SQLITE_DONE) {
		mc_log_error("db", "reading rows: %s",
		             sqlite3_errmsg(sqlite3_db_handle(st)));
		goto fail;
	}
	return rows;
fail:
	json_decref(rows);
	return NULL;
}

json_t *mcc_db_page(sqlite3 *db, const char *count_sql, const char *page_sql,
                    const char *const *vals, int n, int64_t limit,
                    int64_t offset, int64_t *total)
{
	sqlite3_stmt *st = mcc_db_prepare_texts(db, count_sql, vals, n);
	json_t *rows;

	*total = 0;
	if (!st)
		return NULL;
	if (sqlite3_step(st) == SQLITE_ROW)
		*total = sqlite3_column_int64(st, 0);
	mcc_db_done(st);
	st = mcc_db_prepare_texts(db, page_sql, vals, n);
	if (!st)
		return NULL;
	sqlite3_bind_int64(st, n + 1, limit);
	sqlite3_bind_int64(st, n + 2, offset);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	return rows;
}

int mcc_db_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = 0;

	if (sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version",
	                       -1, &st, NULL) != SQLITE_OK)
		return 0; /* no table: nothing applied */
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The highest migration compiled in; -1 when the list is out of order. */
static int compiled_version(void)
{
	int last = 0;

	for (const struct mcc_migration *m = mcc_migrations; m->name; m++) {
		if (m->version <= last)
			return -1;
		last = m->version;
	}
	return last;
}

enum mc_err mcc_db_init(struct mcc *c, struct mc_error *err)
{
	sqlite3 *db;
	int have, built = compiled_version();
	enum mc_err rc;

	if (!c->db_path && (rc = mcc_paths_init(c, err)) != MC_OK)
		return rc;
	if (built < 0)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "migrations are not numbered in order; "
		                    "this build is broken");
	db = mcc_db(c);
	if (!db)
		return mc_error_set(err, MC_ERR_IO,
		                    "%s: cannot open the database (see the log "
		                    "line above)",
		                    c->db_path);
	chmod(c->db_path, 0600);
	if (!exec(db, "CREATE TABLE IF NOT EXISTS schema_version ("
	              "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
	              "applied_ms INTEGER NOT NULL)"))
		return mc_error_set(err, MC_ERR_IO,
		                    "%s: cannot create schema_version: %s",
		                    c->db_path, sqlite3_errmsg(db));
	have = mcc_db_version(db);
	if (have > built)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "%s: database schema version %d is newer "
		                    "than this build knows (%d); run the newer "
		                    "minecast-controller, or restore a backup "
		                    "made by this version",
		                    c->db_path, have, built);
	for (const struct mcc_migration *m = mcc_migrations; m->name; m++) {
		sqlite3_stmt *st = NULL;
		char *msg = NULL;

		if (m->version <= have)
			continue;
		if (mcc_db_begin(db) != MC_OK)
			return mc_error_set(err, MC_ERR_IO,
			                    "%s: cannot start migration %s",
			                    c->db_path, m->name);
		if (sqlite3_exec(db, m->sql, NULL, NULL, &msg) != SQLITE_OK) {
			mc_error_set(err, MC_ERR_IO, "migration %s failed: %s",
			             m->name, msg ? msg : sqlite3_errmsg(db));
			sqlite3_free(msg);
			mcc_db_rollback(db);
			return MC_ERR_IO;
		}
		if (sqlite3_prepare_v2(db,
		                       "INSERT INTO schema_version (version, "
		                       "name, applied_ms) VALUES (?, ?, ?)",
		                       -1, &st, NULL) != SQLITE_OK ||
		    sqlite3_bind_int(st, 1, m->version) != SQLITE_OK ||
		    sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC) !=
		            SQLITE_OK ||
		    sqlite3_bind_int64(st, 3, mc_now_ms()) != SQLITE_OK ||
		    sqlite3_step(st) != SQLITE_DONE) {
			mc_error_set(err, MC_ERR_IO,
			             "migration %s: cannot record it: %s",
			             m->name, sqlite3_errmsg(db));
			sqlite3_finalize(st);
			mcc_db_rollback(db);
			return MC_ERR_IO;
		}
		sqlite3_finalize(st);
		if (mcc_db_commit(db) != MC_OK)
			return mc_error_set(err, MC_ERR_IO,
			                    "migration %s: commit failed",
			                    m->name);
		mc_log_info("db", "applied migration %s", m->name);
	}
	return MC_OK;
}

enum mc_err mcc_db_backup(struct mcc *c, const char *dest,
                          void (*progress)(int done, int total, void *arg),
                          void *arg, struct mc_error *err)
{
	sqlite3 *src = mcc_db(c), *dst = NULL;
	sqlite3_backup *bk = NULL;
	char *tmp = mc_printf("%s.tmp", dest);
	enum mc_err rc = MC_ERR_IO;
	int step, fd;

	if (!tmp) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!src) {
		mc_error_set(err, MC_ERR_IO, "the database cannot be opened");
		goto out;
	}
	unlink(tmp);
	/* Create it 0600 before SQLite does: a backup holds every hash. */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", tmp,
		             dst ? sqlite3_errmsg(dst) : "cannot open");
		goto out;
	}
	/*
	 * A read transaction on the source pins one snapshot (WAL), so the
	 * steps copy one consistent state however much is written meanwhile,
	 * and writers are never held up.
	 */
	if (!exec(src, "BEGIN") ||
	    !exec(src, "SELECT count(*) FROM sqlite_master")) {
		mc_error_set(err, MC_ERR_IO, "cannot start reading: %s",
		             sqlite3_errmsg(src));
		goto out;
	}
	bk = sqlite3_backup_init(dst, "main", src, "main");
	if (!bk) {
		mc_error_set(err, MC_ERR_IO, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	do {
		step = sqlite3_backup_step(bk, BACKUP_PAGES);
		if (progress)
			progress(sqlite3_backup_pagecount(bk) -
			                 sqlite3_backup_remaining(bk),
			         sqlite3_backup_pagecount(bk), arg);
		if (step == SQLITE_OK || step == SQLITE_BUSY ||
		    step == SQLITE_LOCKED)
			sqlite3_sleep(BACKUP_PAUSE_MS);
	} while (step == SQLITE_OK || step == SQLITE_BUSY ||
	         step == SQLITE_LOCKED);
	step = sqlite3_backup_finish(bk);
	bk = NULL;
	if (step != SQLITE_OK) {
		mc_error_set(err, MC_ERR_IO, "backup: %s",
		             sqlite3_errstr(step));
		goto out;
	}
	/* The copy must not depend on a -wal file beside it. */
	if (!exec(dst, "PRAGMA journal_mode=DELETE")) {
		mc_error_set(err, MC_ERR_IO, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	sqlite3_close_v2(dst);
	dst = NULL;
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto out;
	}
	close(fd);
	if (rename(tmp, dest) != 0) {
		mc_error_set(err, MC_ERR_IO, "%s: %s", dest, strerror(errno));
		goto out;
	}
	rc = MC_OK;
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (src)
		mcc_db_rollback(src);
	if (dst)
		sqlite3_close_v2(dst);
	if (rc != MC_OK && tmp)
		unlink(tmp);
	free(tmp);
	return rc;
}
