/*
 * minecast-player — the proof-of-play outbox on SQLite.
 *
 * Durability: WAL with synchronous=FULL, and every change is one
 * transaction, so a kill -9 or a power cut at any instant leaves either
 * the state before the call or the state after it, never half of it.
 *
 * Layout (schema version 1, kept in PRAGMA user_version):
 *   records  one row per play; end_ms NULL while the item still plays;
 *            sent_at_ms NULL until a batch carried it; count > 1 marks a
 *            summary of several plays.
 *   meta     named counters that must survive restarts: "summarised"
 *            (plays folded into summaries) and "batches" (the last batch
 *            number handed out).
 *
 * Summaries: when more than max records wait, the oldest closed records
 * that were never sent are folded per (content, sha256, entry, channel,
 * UTC day of start).  Only never-sent records are folded: a sent one may
 * already be stored by the controller, and folding it into a record with
 * a new id would count it twice.  Folding stops at a low-water mark below
 * max so that a full outbox does not fold again on every single start.
 * The day is the UTC day, not the node's local day: the summary only needs
 * a stable bucket, and UTC keeps the SQL free of time zone rules.
 */
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/model.h"
#include "minecast/util.h"
#include "outbox.h"

#define SCHEMA_VERSION 1

static const char schema_sql[] =
        "CREATE TABLE IF NOT EXISTS records ("
        " rowid INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT UNIQUE,"
        " content TEXT NOT NULL,"
        " sha256 TEXT NOT NULL DEFAULT '',"
        " entry TEXT,"
        " channel TEXT NOT NULL,"
        " start_ms INTEGER NOT NULL,"
        " end_ms INTEGER,"
        " completed INTEGER NOT NULL DEFAULT 0,"
        " count INTEGER NOT NULL DEFAULT 1,"
        " sent_at_ms INTEGER,"
        " batch TEXT);"
        "CREATE INDEX IF NOT EXISTS records_queue"
        " ON records(sent_at_ms, start_ms);"
        "CREATE TABLE IF NOT EXISTS meta ("
        " key TEXT PRIMARY KEY,"
        " value INTEGER NOT NULL);"
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('summarised', 0);"
        "INSERT OR IGNORE INTO meta(key, value) VALUES ('batches', 0);"
        "PRAGMA user_version = 1;";

/*
 * The group a record folds into.  The same expression appears in the
 * picking and in the folding statement, so they cannot disagree.
 */
#define GROUP_KEY                                                              \
	"content, sha256, IFNULL(entry, ''), channel, start_ms / 86400000"
/* Closed and never sent: the only records that may be folded. */
#define FOLDABLE "end_ms IS NOT NULL AND sent_at_ms IS NULL"

/* Every statement, prepared once at open. */
enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_INSERT,
	ST_SET_ID,
	ST_END,
	ST_RECOVER,
	ST_PICK_BATCH,
	ST_MARK_SENT,
	ST_ACK,
	ST_COUNT,
	ST_META_GET,
	ST_META_ADD,
	ST_FOLD_LIMIT,
	ST_FOLD_PICK,
	ST_FOLD_PLAYS,
	ST_FOLD_INSERT,
	ST_FOLD_IDS,
	ST_FOLD_DELETE,
	ST_FOLD_CLEAR,
	ST_COUNT_ALL
};

static const char *const stmt_sql[ST_COUNT_ALL] = {
        [ST_BEGIN] = "BEGIN IMMEDIATE",
        [ST_COMMIT] = "COMMIT",
        [ST_ROLLBACK] = "ROLLBACK",
        [ST_INSERT] = "INSERT INTO records(content, sha256, entry, channel,"
                      " start_ms, completed, count) VALUES (?1, ?2, ?3, ?4, ?5,"
                      " 0, 1)",
        /* ?1 is "<node>-<boot>-": the rowid makes the id unique forever,
         * since AUTOINCREMENT never hands out a rowid twice. */
        [ST_SET_ID] = "UPDATE records SET id = ?1 || rowid WHERE rowid = ?2",
        /* A clock stepped back must not produce end < start, which the
         * controller's parser refuses. */
        [ST_END] = "UPDATE records SET end_ms = MAX(?2, start_ms),"
                   " completed = ?3 WHERE id = ?1 AND end_ms IS NULL",
        [ST_RECOVER] = "UPDATE records SET end_ms = MAX(?1, start_ms),"
                       " completed = 0 WHERE end_ms IS NULL",
        /* sent_at_ms > now: the clock went back since; resend rather than
         * wait for the clock to catch up. */
        [ST_PICK_BATCH] = "SELECT rowid, id, content, sha256, entry, channel,"
                          " start_ms, end_ms, completed, count FROM records"
                          " WHERE end_ms IS NOT NULL AND (sent_at_ms IS NULL"
                          " OR sent_at_ms < ?1 - ?2 OR sent_at_ms > ?1)"
                          " ORDER BY start_ms, rowid LIMIT ?3",
        [ST_MARK_SENT] = "UPDATE records SET sent_at_ms = ?2, batch = ?3"
                         " WHERE rowid = ?1",
        /* Only what was sent can have been stored by the controller. */
        [ST_ACK] = "DELETE FROM records WHERE id = ?1 AND sent_at_ms IS NOT"
                   " NULL",
        [ST_COUNT] = "SELECT COUNT(*) FROM records",
        [ST_META_GET] = "SELECT value FROM meta WHERE key = ?1",
        [ST_META_ADD] = "UPDATE meta SET value = value + ?2 WHERE key = ?1",
        /*
         * How many of the oldest foldable records (k) must be taken so that
         * folding them removes at least ?1 rows: folding n records that fall
         * into g groups removes n - g.  NULL when even all of them are not
         * enough; the caller then takes all.
         */
        [ST_FOLD_LIMIT] =
                "WITH c AS (SELECT ROW_NUMBER() OVER (ORDER BY start_ms, rowid)"
                " AS n, ROW_NUMBER() OVER (PARTITION BY " GROUP_KEY
                " ORDER BY start_ms, rowid) AS gi FROM records WHERE " FOLDABLE
                "), d AS (SELECT n, n - SUM(gi = 1) OVER (ORDER BY n) AS saved"
                " FROM c) SELECT MIN(n) FROM d WHERE saved >= ?1",
        /* The k oldest foldable records, without groups of one: a
         * "summary" of a single play would only change its id. */
        [ST_FOLD_PICK] =
                "INSERT INTO temp.fold(r) SELECT r FROM (SELECT r, COUNT(*)"
                " OVER (PARTITION BY " GROUP_KEY
                ") AS g FROM (SELECT rowid AS r,"
                " * FROM records WHERE " FOLDABLE " ORDER BY start_ms, rowid"
                " LIMIT ?1)) WHERE g > 1",
        /* Plays that were single records until now (count 1); plays inside
         * an older summary were counted when it was made. */
        [ST_FOLD_PLAYS] = "SELECT COUNT(*) FROM records"
                          " WHERE rowid IN (SELECT r FROM temp.fold) AND"
                          " count = 1",
        [ST_FOLD_INSERT] =
                "INSERT INTO records(content, sha256, entry, channel, start_ms,"
                " end_ms, completed, count) SELECT content, sha256, entry,"
                " channel, MIN(start_ms), MAX(end_ms), MIN(completed),"
                " SUM(count) FROM records WHERE rowid IN (SELECT r FROM"
                " temp.fold) GROUP BY " GROUP_KEY " ORDER BY MIN(start_ms)",
        [ST_FOLD_IDS] = "UPDATE records SET id = ?1 || rowid WHERE id IS NULL",
        [ST_FOLD_DELETE] =
                "DELETE FROM records WHERE rowid IN (SELECT r FROM temp.fold)",
        [ST_FOLD_CLEAR] = "DELETE FROM temp.fold",
};

struct mc_outbox {
	sqlite3 *db;                    /* the open database */
	sqlite3_stmt *st[ST_COUNT_ALL]; /* prepared statements, by stmt_id */
	char *path;                     /* for log and error messages */
	char *node;                     /* this node's id, in batches */
	char *prefix;                   /* "<node>-<boot>-", record ids */
	int64_t boot;                   /* boot counter, in batch ids */
	int64_t max;                    /* records kept before summarising */
	int64_t pending;                /* rows in records, kept in step
	                                 * with every commit */
	int64_t summarised;             /* meta "summarised", cached */
	bool over;                      /* over max since the last time it
	                                 * was not: log the first fold loudly,
	                                 * the following ones quietly */
};

/* Fill err from the database's last error. */
static enum mc_err db_fail(struct mc_outbox *ob, struct mc_error *err,
                           const char *what)
{
	return mc_error_set(err, MC_ERR_IO, "outbox %s: %s: %s", ob->path, what,
	                    sqlite3_errmsg(ob->db));
}

/* Run a statement that returns no rows and reset it. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static enum mc_err begin(struct mc_outbox *ob, struct mc_error *err)
{
	if (step_done(ob->st[ST_BEGIN]) != SQLITE_OK)
		return db_fail(ob, err, "cannot begin a transaction");
	return MC_OK;
}

static enum mc_err commit(struct mc_outbox *ob, struct mc_error *err)
{
	if (step_done(ob->st[ST_COMMIT]) != SQLITE_OK) {
		enum mc_err rc = db_fail(ob, err, "cannot commit");

		step_done(ob->st[ST_ROLLBACK]);
		return rc;
	}
	return MC_OK;
}

/* Undo the open transaction, if any; the caller already has its error. */
static void rollback(struct mc_outbox *ob)
{
	if (!sqlite3_get_autocommit(ob->db))
		step_done(ob->st[ST_ROLLBACK]);
}

static bool meta_get(struct mc_outbox *ob, const char *key, int64_t *v)
{
	sqlite3_stmt *st = ob->st[ST_META_GET];
	bool ok = false;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*v = sqlite3_column_int64(st, 0);
		ok = true;
	}
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return ok;
}

static int meta_add(struct mc_outbox *ob, const char *key, int64_t delta)
{
	sqlite3_stmt *st = ob->st[ST_META_ADD];

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, delta);
	return step_done(st);
}

static int64_t count_rows(struct mc_outbox *ob)
{
	sqlite3_stmt *st = ob->st[ST_COUNT];
	int64_t n = -1;

	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return n;
}

/* Apply the schema to a new file, refuse one from a newer player. */
static enum mc_err setup_schema(struct mc_outbox *ob, struct mc_error *err)
{
	sqlite3_stmt *st = NULL;
	int version = -1, rc;
	char *msg = NULL;
	enum mc_err ret = MC_OK;

	/* The first read of the file: a file that is not SQLite fails here
	 * with "file is not a database". */
	rc = sqlite3_prepare_v2(ob->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	/* Done with it: a statement left running keeps a read transaction
	 * open, and the journal mode cannot change inside one. */
	sqlite3_reset(st);
	if (version < 0) {
		ret = mc_error_set(err, MC_ERR_IO,
		                   "outbox %s: cannot read: %s (not a minecast"
		                   " outbox? move it aside to start a new one)",
		                   ob->path, sqlite3_errmsg(ob->db));
		goto out;
	}
	if (version > SCHEMA_VERSION) {
		ret = mc_error_set(err, MC_ERR_UNSUPPORTED,
		                   "outbox %s: schema version %d is newer than"
		                   " this player's %d",
		                   ob->path, version, SCHEMA_VERSION);
		goto out;
	}
	if (sqlite3_exec(ob->db, "PRAGMA journal_mode = WAL", NULL, NULL,
	                 &msg) != SQLITE_OK ||
	    sqlite3_exec(ob->db, "PRAGMA synchronous = FULL", NULL, NULL,
	                 &msg) != SQLITE_OK) {
		ret = mc_error_set(err, MC_ERR_IO, "outbox %s: %s", ob->path,
		                   msg ? msg : sqlite3_errmsg(ob->db));
		goto out;
	}
	if (version < SCHEMA_VERSION) {
		/* One transaction: a crash during creation leaves version 0
		 * and the next start simply creates it again. */
		if (sqlite3_exec(ob->db, "BEGIN IMMEDIATE", NULL, NULL, &msg) !=
		            SQLITE_OK ||
		    sqlite3_exec(ob->db, schema_sql, NULL, NULL, &msg) !=
		            SQLITE_OK ||
		    sqlite3_exec(ob->db, "COMMIT", NULL, NULL, &msg) !=
		            SQLITE_OK) {
			ret = mc_error_set(err, MC_ERR_IO,
			                   "outbox %s: cannot create the"
			                   " schema: %s",
			                   ob->path,
			                   msg ? msg : sqlite3_errmsg(ob->db));
			if (!sqlite3_get_autocommit(ob->db))
				sqlite3_exec(ob->db, "ROLLBACK", NULL, NULL,
				             NULL);
			goto out;
		}
	}
	/* Scratch list of the rows being folded; per connection, never on
	 * disk in a way that matters. */
	if (sqlite3_exec(ob->db,
	                 "CREATE TEMP TABLE IF NOT EXISTS fold"
	                 " (r INTEGER PRIMARY KEY)",
	                 NULL, NULL, &msg) != SQLITE_OK) {
		ret = mc_error_set(err, MC_ERR_IO, "outbox %s: %s", ob->path,
		                   msg ? msg : sqlite3_errmsg(ob->db));
		goto out;
	}
out:
	sqlite3_free(msg);
	sqlite3_finalize(st);
	return ret;
}

struct mc_outbox *mc_outbox_open(const char *path, const char *node,
                                 int64_t boot, int64_t max,
                                 struct mc_error *err)
{
	struct mc_outbox *ob;
	int rc;

	if (!path || !node || max < 1) {
		mc_error_set(err, MC_ERR_INVAL,
		             "outbox: path, node and max >= 1 are required");
		return NULL;
	}
	ob = calloc(1, sizeof(*ob));
	if (!ob)
		goto nomem;
	ob->path = strdup(path);
	ob->node = strdup(node);
	ob->prefix = mc_printf("%s-%" PRId64 "-", node, boot);
	if (!ob->path || !ob->node || !ob->prefix)
		goto nomem;
	ob->boot = boot;
	ob->max = max;
	rc = sqlite3_open_v2(path, &ob->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		mc_error_set(err, MC_ERR_IO, "outbox %s: cannot open: %s", path,
		             ob->db ? sqlite3_errmsg(ob->db)
		                    : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(ob->db, 1);
	sqlite3_busy_timeout(ob->db, 5000);
	if (setup_schema(ob, err) != MC_OK)
		goto fail;
	for (int i = 0; i < ST_COUNT_ALL; i++) {
		rc = sqlite3_prepare_v3(ob->db, stmt_sql[i], -1,
		                        SQLITE_PREPARE_PERSISTENT, &ob->st[i],
		                        NULL);
		if (rc != SQLITE_OK) {
			mc_error_set(err, MC_ERR_IO,
			             "outbox %s: cannot prepare statement %d:"
			             " %s",
			             path, i, sqlite3_errmsg(ob->db));
			goto fail;
		}
	}
	ob->pending = count_rows(ob);
	if (ob->pending < 0 || !meta_get(ob, "summarised", &ob->summarised)) {
		db_fail(ob, err, "cannot read the counters");
		goto fail;
	}
	mc_log_debug("pop", "outbox %s open: %" PRId64 " records waiting", path,
	             ob->pending);
	return ob;
nomem:
	mc_error_set(err, MC_ERR_NOMEM, "outbox %s: out of memory", path);
fail:
	mc_outbox_close(ob);
	return NULL;
}

void mc_outbox_close(struct mc_outbox *ob)
{
	if (!ob)
		return;
	for (int i = 0; i < ST_COUNT_ALL; i++)
		sqlite3_finalize(ob->st[i]);
	/* sqlite3_close_v2 checkpoints the WAL when it is the last
	 * connection; a failure here loses nothing, the WAL stays. */
	if (ob->db && sqlite3_close_v2(ob->db) != SQLITE_OK)
		mc_log_warn("pop", "outbox %s: close: %s", ob->path,
		            sqlite3_errmsg(ob->db));
	free(ob->path);
	free(ob->node);
	free(ob->prefix);
	free(ob);
}

/*
 * Fold the oldest never-sent records until at most a low-water mark wait,
 * in one transaction.  Called when pending > max.
 */
static enum mc_err summarise(struct mc_outbox *ob, struct mc_error *err)
{
	sqlite3_stmt *st;
	int64_t low = ob->max - ob->max / 10, need, k = INT64_MAX;
	int64_t before, after, plays = 0;
	enum mc_err rc;

	if (ob->pending <= ob->max) {
		ob->over = false;
		return MC_OK;
	}
	need = ob->pending - low;
	if ((rc = begin(ob, err)) != MC_OK)
		return rc;
	st = ob->st[ST_FOLD_LIMIT];
	sqlite3_bind_int64(st, 1, need);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_type(st, 0) != SQLITE_NULL)
		k = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);

	sqlite3_bind_int64(ob->st[ST_FOLD_PICK], 1, k);
	if (step_done(ob->st[ST_FOLD_CLEAR]) != SQLITE_OK ||
	    step_done(ob->st[ST_FOLD_PICK]) != SQLITE_OK)
		goto db_fail;
	if (sqlite3_changes64(ob->db) == 0) {
		/* Every waiting record is sent, open or alone in its group:
		 * nothing can be folded without counting twice. */
		rollback(ob);
		if (!ob->over)
			mc_log_warn("pop",
			            "outbox %s: %" PRId64
			            " records wait (limit %" PRId64
			            ") and none can be summarised; waiting"
			            " for the controller's acknowledgements",
			            ob->path, ob->pending, ob->max);
		ob->over = true;
		return MC_OK;
	}
	st = ob->st[ST_FOLD_PLAYS];
	if (sqlite3_step(st) == SQLITE_ROW)
		plays = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	before = count_rows(ob);
	sqlite3_bind_text(ob->st[ST_FOLD_IDS], 1, ob->prefix, -1,
	                  SQLITE_STATIC);
	if (step_done(ob->st[ST_FOLD_INSERT]) != SQLITE_OK ||
	    step_done(ob->st[ST_FOLD_IDS]) != SQLITE_OK ||
	    step_done(ob->st[ST_FOLD_DELETE]) != SQLITE_OK ||
	    step_done(ob->st[ST_FOLD_CLEAR]) != SQLITE_OK ||
	    meta_add(ob, "summarised", plays) != SQLITE_OK)
		goto db_fail;
	after = count_rows(ob);
	if (before < 0 || after < 0)
		goto db_fail;
	if ((rc = commit(ob, err)) != MC_OK)
		return rc;
	ob->pending = after;
	ob->summarised += plays;
	if (ob->over)
		mc_log_debug("pop",
		             "outbox %s: folded %" PRId64 " plays; %" PRId64
		             " records wait",
		             ob->path, plays, ob->pending);
	else
		mc_log_warn("pop",
		            "outbox %s: over its limit of %" PRId64
		            " records; folded %" PRId64
		            " plays into summaries, %" PRId64
		            " records now wait (%" PRId64 " plays summarised"
		            " so far)",
		            ob->path, ob->max, plays, ob->pending,
		            ob->summarised);
	ob->over = ob->pending > ob->max;
	return MC_OK;
db_fail:
	rc = db_fail(ob, err, "cannot summarise");
	step_done(ob->st[ST_FOLD_CLEAR]);
	rollback(ob);
	return rc;
}

/*
 * Summarise after a committed change.  A failed summary leaves the outbox
 * as it was, only fuller, and the change itself stands: log, don't fail.
 */
static void summarise_logged(struct mc_outbox *ob)
{
	struct mc_error e = {0};

	if (summarise(ob, &e) != MC_OK)
		mc_log_error("pop", "%s; the records stay as they are", e.msg);
}

enum mc_err mc_outbox_recover(struct mc_outbox *ob, int64_t end_ms, int64_t *n,
                              struct mc_error *err)
{
	enum mc_err rc;
	int64_t changed;

	*n = 0;
	if ((rc = begin(ob, err)) != MC_OK)
		return rc;
	sqlite3_bind_int64(ob->st[ST_RECOVER], 1, end_ms);
	if (step_done(ob->st[ST_RECOVER]) != SQLITE_OK) {
		rc = db_fail(ob, err, "cannot close interrupted records");
		rollback(ob);
		return rc;
	}
	changed = sqlite3_changes64(ob->db);
	if ((rc = commit(ob, err)) != MC_OK)
		return rc;
	*n = changed;
	if (changed)
		mc_log_info("pop",
		            "outbox %s: %" PRId64 " plays were cut short by"
		            " the last stop; recorded as interrupted",
		            ob->path, changed);
	/* The closed records may now be foldable.  The recovery itself is
	 * committed, so a failed summary is only logged. */
	summarise_logged(ob);
	return MC_OK;
}

enum mc_err mc_outbox_start(struct mc_outbox *ob,
                            const struct mc_pop_record *rec, char *id_out,
                            size_t id_len, struct mc_error *err)
{
	sqlite3_stmt *ins = ob->st[ST_INSERT], *setid = ob->st[ST_SET_ID];
	const char *ch = mc_channel_name(rec->channel);
	int64_t rowid;
	enum mc_err rc;

	if (!rec->content || !ch || !id_out || id_len < 2)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "outbox: a record needs content, a channel"
		                    " and room for its id");
	if ((rc = begin(ob, err)) != MC_OK)
		return rc;
	sqlite3_bind_text(ins, 1, rec->content, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, rec->sha256, -1, SQLITE_STATIC);
	if (rec->entry)
		sqlite3_bind_text(ins, 3, rec->entry, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(ins, 3);
	sqlite3_bind_text(ins, 4, ch, -1, SQLITE_STATIC);
	sqlite3_bind_int64(ins, 5, rec->start_ms);
	if (step_done(ins) != SQLITE_OK) {
		rc = db_fail(ob, err, "cannot record a start");
		goto fail;
	}
	rowid = sqlite3_last_insert_rowid(ob->db);
	sqlite3_bind_text(setid, 1, ob->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(setid, 2, rowid);
	if (step_done(setid) != SQLITE_OK) {
		rc = db_fail(ob, err, "cannot record a start");
		goto fail;
	}
	if ((size_t)snprintf(id_out, id_len, "%s%" PRId64, ob->prefix, rowid) >=
	    id_len) {
		rc = mc_error_set(err, MC_ERR_INVAL,
		                  "outbox: id buffer of %zu bytes is too"
		                  " small",
		                  id_len);
		goto fail;
	}
	if ((rc = commit(ob, err)) != MC_OK)
		return rc;
	ob->pending++;
	summarise_logged(ob);
	return MC_OK;
fail:
	rollback(ob);
	return rc;
}

enum mc_err mc_outbox_end(struct mc_outbox *ob, const char *id, int64_t end_ms,
                          bool completed, struct mc_error *err)
{
	sqlite3_stmt *st = ob->st[ST_END];

	if (!id)
		return mc_error_set(err, MC_ERR_INVAL, "outbox: no record id");
	/* One statement is one transaction in autocommit mode. */
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, end_ms);
	sqlite3_bind_int(st, 3, completed ? 1 : 0);
	if (step_done(st) != SQLITE_OK)
		return db_fail(ob, err, "cannot record an end");
	if (sqlite3_changes64(ob->db) == 0)
		return mc_error_set(err, MC_ERR_NOTFOUND,
		                    "outbox: record %s is not open (unknown,"
		                    " or already closed)",
		                    id);
	return MC_OK;
}

static char *column_dup(sqlite3_stmt *st, int col, bool *ok)
{
	const unsigned char *s = sqlite3_column_text(st, col);
	char *copy;

	if (!s)
		return NULL;
	copy = strdup((const char *)s);
	if (!copy)
		*ok = false;
	return copy;
}

enum mc_err mc_outbox_next_batch(struct mc_outbox *ob, int max, int64_t now_ms,
                                 int64_t resend_ms, struct mc_pop_batch *out,
                                 struct mc_error *err)
{
	sqlite3_stmt *pick = ob->st[ST_PICK_BATCH], *mark;
	int64_t *rowids = NULL, batch_no = 0;
	bool ok = true;
	enum mc_err rc;
	size_t n = 0;
	int step;

	memset(out, 0, sizeof(*out));
	if (max < 1)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "outbox: batch size must be >= 1");
	out->node = strdup(ob->node);
	out->records = calloc((size_t)max, sizeof(*out->records));
	rowids = calloc((size_t)max, sizeof(*rowids));
	if (!out->node || !out->records || !rowids) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "outbox: out of memory");
		goto fail;
	}
	if ((rc = begin(ob, err)) != MC_OK)
		goto fail;
	sqlite3_bind_int64(pick, 1, now_ms);
	sqlite3_bind_int64(pick, 2, resend_ms);
	sqlite3_bind_int(pick, 3, max);
	while (n < (size_t)max && (step = sqlite3_step(pick)) == SQLITE_ROW) {
		struct mc_pop_record *r = &out->records[n];
		const unsigned char *sha = sqlite3_column_text(pick, 3);
		const unsigned char *ch = sqlite3_column_text(pick, 5);
		int c = ch ? mc_channel_parse((const char *)ch) : -1;

		out->n_records = ++n;
		rowids[n - 1] = sqlite3_column_int64(pick, 0);
		r->id = column_dup(pick, 1, &ok);
		r->content = column_dup(pick, 2, &ok);
		if (sha)
			snprintf(r->sha256, sizeof(r->sha256), "%s",
			         (const char *)sha);
		r->entry = column_dup(pick, 4, &ok);
		r->channel = c < 0 ? MC_CH_SCREEN : (enum mc_channel)c;
		r->start_ms = sqlite3_column_int64(pick, 6);
		r->end_ms = sqlite3_column_int64(pick, 7);
		r->completed = sqlite3_column_int(pick, 8) != 0;
		r->count = sqlite3_column_int64(pick, 9);
	}
	step = n < (size_t)max ? step : SQLITE_DONE;
	sqlite3_reset(pick);
	sqlite3_clear_bindings(pick);
	if (step != SQLITE_DONE) {
		rc = db_fail(ob, err, "cannot read records");
		goto fail_tx;
	}
	if (!ok) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "outbox: out of memory");
		goto fail_tx;
	}
	if (n == 0) {
		rollback(ob);
		goto done;
	}
	if (meta_add(ob, "batches", 1) != SQLITE_OK ||
	    !meta_get(ob, "batches", &batch_no)) {
		rc = db_fail(ob, err, "cannot number the batch");
		goto fail_tx;
	}
	out->batch = mc_printf("%s-%" PRId64 "-b%" PRId64, ob->node, ob->boot,
	                       batch_no);
	/* A batch id is an id of at most MC_ID_MAX characters on the wire;
	 * a long node name leaves it out (the topic names the node). */
	if (out->batch && strlen(out->batch) > MC_ID_MAX) {
		free(out->batch);
		out->batch =
		        mc_printf("%" PRId64 "-b%" PRId64, ob->boot, batch_no);
	}
	if (!out->batch) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "outbox: out of memory");
		goto fail_tx;
	}
	mark = ob->st[ST_MARK_SENT];
	for (size_t i = 0; i < n; i++) {
		sqlite3_bind_int64(mark, 1, rowids[i]);
		sqlite3_bind_int64(mark, 2, now_ms);
		sqlite3_bind_text(mark, 3, out->batch, -1, SQLITE_STATIC);
		if (step_done(mark) != SQLITE_OK) {
			rc = db_fail(ob, err, "cannot mark records sent");
			goto fail_tx;
		}
	}
	if ((rc = commit(ob, err)) != MC_OK)
		goto fail;
done:
	free(rowids);
	if (n == 0)
		MC_FREE(out->records);
	return MC_OK;
fail_tx:
	rollback(ob);
fail:
	free(rowids);
	mc_pop_batch_clear(out);
	return rc;
}

enum mc_err mc_outbox_ack(struct mc_outbox *ob, const struct mc_pop_ack *ack,
                          int64_t *n, struct mc_error *err)
{
	sqlite3_stmt *st = ob->st[ST_ACK];
	int64_t deleted = 0;
	enum mc_err rc;

	*n = 0;
	if (ack->n_ids == 0)
		return MC_OK;
	if ((rc = begin(ob, err)) != MC_OK)
		return rc;
	for (size_t i = 0; i < ack->n_ids; i++) {
		if (!ack->ids[i])
			continue;
		sqlite3_bind_text(st, 1, ack->ids[i], -1, SQLITE_STATIC);
		if (step_done(st) != SQLITE_OK) {
			rc = db_fail(ob, err,
			             "cannot delete acknowledged"
			             " records");
			rollback(ob);
			return rc;
		}
		deleted += sqlite3_changes64(ob->db);
	}
	if ((rc = commit(ob, err)) != MC_OK)
		return rc;
	ob->pending -= deleted;
	*n = deleted;
	if ((size_t)deleted < ack->n_ids)
		mc_log_debug("pop",
		             "ack %s: %zu ids named, %" PRId64
		             " deleted (the rest were already gone)",
		             ack->batch ? ack->batch : "?", ack->n_ids,
		             deleted);
	return MC_OK;
}

int64_t mc_outbox_pending(struct mc_outbox *ob)
{
	return ob->pending;
}

int64_t mc_outbox_summarised(struct mc_outbox *ob)
{
	return ob->summarised;
}
