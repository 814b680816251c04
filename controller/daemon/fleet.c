/*
 * minecast-controller — the fleet: ingest of what nodes say about
 * themselves, proof-of-play storage and acknowledgement, node status.
 *
 * State and health are small and come at most every few seconds per node:
 * the MQTT thread writes them at once (one upsert each).  Proof of play
 * is the bulk: the MQTT thread hands each parsed batch to the writer
 * thread through a bounded queue; the writer stores several batches per
 * transaction and only after COMMIT publishes each batch's pop/ack naming
 * every record id of the batch (those it held already too: a node that
 * missed an ack sends the batch again, docs/protocol.md §6.7).  A batch
 * that cannot be queued or stored is not acknowledged, so its node keeps
 * it and sends it again; nothing is lost, nothing is counted twice.
 *
 * The writer and the transition log are process-wide (one daemon per
 * process); without a writer (unit tests) batches are stored at once.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "commands.h"
#include "db.h"
#include "fleet.h"
#include "http.h"
#include "mcc.h"
#include "metrics.h"
#include "mqtt.h"

/* Batches waiting for the writer: at most 1000 records each. */
#define QUEUE_CAP 256

/* Batches stored per transaction at most. */
#define BATCHES_PER_TX 32

/* How long the MQTT thread waits for room before dropping a batch. */
#define QUEUE_WAIT_MS 2000

/* An ack carrying more id bytes than this is split (limit 64 KiB). */
#define ACK_ID_BYTES 60000

/* Seconds of per-second counts kept for the ingest rate. */
#define RATE_WINDOW 60

/* How often the tick re-evaluates every node, ms. */
#define TICK_SCAN_MS 5000

/* Old proof of play: pruned hourly, in chunks of rows. */
#define PRUNE_EVERY_MS (3600 * 1000)
#define PRUNE_CHUNK    10000
#define PRUNE_CHUNKS   50

static const char *const flag_names[MCC_FLAG_COUNT] = {
        "stale", "clock", "behind", "disk_low", "hot", "throttled",
};

const char *mcc_fleet_flag_name(unsigned i)
{
	return i < MCC_FLAG_COUNT ? flag_names[i] : NULL;
}

const char *mcc_fleet_status_name(enum mcc_node_status s)
{
	switch (s) {
	case MCC_NODE_ONLINE: return "online";
	case MCC_NODE_OFFLINE: return "offline";
	default: return "never";
	}
}

/* Flag bit of a name, 0 if unknown. */
static unsigned flag_parse(const char *s)
{
	for (unsigned i = 0; i < MCC_FLAG_COUNT; i++)
		if (!strcmp(s, flag_names[i]))
			return 1u << i;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Status */

unsigned mcc_fleet_eval(const struct mcc_config *cfg,
                        const struct mcc_node_facts *f, int64_t now_ms,
                        enum mcc_node_status *status)
{
	unsigned flags = 0;
	int64_t last;

	if (!f->seen)
		*status = MCC_NODE_NEVER;
	else
		*status = f->online ? MCC_NODE_ONLINE : MCC_NODE_OFFLINE;

	if (f->desired_version > f->applied_version &&
	    now_ms - f->desired_ms > cfg->sync_behind_s * 1000)
		flags |= MCC_FLAG_BEHIND;
	if (*status != MCC_NODE_ONLINE)
		return flags;

	/* A node that came online and never sent health is stale too, once
	 * the same time has passed. */
	last = f->health_ms > f->online_ms ? f->health_ms : f->online_ms;
	if (now_ms - last > cfg->stale_s * 1000)
		flags |= MCC_FLAG_STALE;
	if (!f->has_health)
		return flags;
	if (!f->clock_synced || fabs(f->clock_offset_ms) > cfg->clock_offset_ms)
		flags |= MCC_FLAG_CLOCK;
	if (f->disk_total_bytes > 0 &&
	    (double)f->disk_free_bytes * 100.0 <
	            cfg->disk_low_pct * (double)f->disk_total_bytes)
		flags |= MCC_FLAG_DISK_LOW;
	if (f->has_temp && f->cpu_temp_c >= cfg->hot_c)
		flags |= MCC_FLAG_HOT;
	/* Bits 0..3 are "now": under-voltage, frequency capped, throttled,
	 * soft temperature limit; bits 16..19 only say it happened once. */
	if (f->throttled > 0 && (f->throttled & 0xf))
		flags |= MCC_FLAG_THROTTLED;
	return flags;
}

/* Names of the Raspberry Pi get_throttled bits that are set. */
static json_t *throttled_names(int64_t bits)
{
	static const char *const names[] = {
	        [0] = "under_voltage",
	        [1] = "freq_capped",
	        [2] = "throttled",
	        [3] = "soft_temp_limit",
	        [16] = "under_voltage_occurred",
	        [17] = "freq_capped_occurred",
	        [18] = "throttled_occurred",
	        [19] = "soft_temp_limit_occurred",
	};
	json_t *a = json_array();

	if (!a || bits < 0)
		return a;
	for (unsigned i = 0; i < MC_ARRAY_LEN(names); i++)
		if (names[i] && (bits & ((int64_t)1 << i)))
			json_array_append_new(a, json_string(names[i]));
	return a;
}

static json_t *flags_json(unsigned flags)
{
	json_t *a = json_array();

	for (unsigned i = 0; a && i < MCC_FLAG_COUNT; i++)
		if (flags & (1u << i))
			json_array_append_new(a, json_string(flag_names[i]));
	return a;
}

/*
 * Registered nodes with what their status needs, in the columns read by
 * row_facts() and row_item(): every node (?1 = site or NULL), or one
 * (?1 = node id, through its primary key).
 */
#define FLEET_SELECT                                                           \
	"SELECT n.id, n.name, n.site_id, l.node_id IS NOT NULL, l.online,"     \
	" l.online_ms, l.offline_ms, l.health_ms, l.cpu_temp_c,"               \
	" l.disk_free_bytes, l.disk_total_bytes, l.throttled,"                 \
	" l.clock_synced, l.clock_offset_ms, l.applied_version, d.version,"    \
	" d.issued_ms, l.software, l.sync, l.health_json IS NOT NULL,"         \
	" l.state_ms"                                                          \
	" FROM nodes n LEFT JOIN node_live l ON l.node_id = n.id"              \
	" LEFT JOIN node_desired d ON d.node_id = n.id"

static const char fleet_sql[] =
        FLEET_SELECT " WHERE (?1 IS NULL OR n.site_id = ?1) ORDER BY n.id";
static const char node_sql[] = FLEET_SELECT " WHERE n.id = ?1";

static int64_t col_i64(sqlite3_stmt *st, int i, int64_t dflt)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL
	               ? dflt
	               : sqlite3_column_int64(st, i);
}

static void row_facts(sqlite3_stmt *st, struct mcc_node_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->seen = sqlite3_column_int(st, 3) != 0;
	f->online = sqlite3_column_int(st, 4) != 0;
	f->online_ms = col_i64(st, 5, 0);
	f->health_ms = col_i64(st, 7, 0);
	f->has_health = sqlite3_column_int(st, 19) != 0;
	f->has_temp = sqlite3_column_type(st, 8) != SQLITE_NULL;
	f->cpu_temp_c = sqlite3_column_double(st, 8);
	f->disk_free_bytes = col_i64(st, 9, 0);
	f->disk_total_bytes = col_i64(st, 10, 0);
	f->throttled = col_i64(st, 11, -1);
	f->clock_synced = sqlite3_column_int(st, 12) != 0;
	f->clock_offset_ms = sqlite3_column_double(st, 13);
	f->applied_version = col_i64(st, 14, 0);
	f->desired_version = col_i64(st, 15, 0);
	f->desired_ms = col_i64(st, 16, 0);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
	return (const char *)sqlite3_column_text(st, i);
}

static void set_i64_or_null(json_t *o, const char *key, sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		json_object_set_new(o, key, json_null());
	else
		json_object_set_new(o, key,
		                    json_integer(sqlite3_column_int64(st, i)));
}

/* The list item of one row. */
static json_t *row_item(sqlite3_stmt *st, const struct mcc_node_facts *f,
                        enum mcc_node_status status, unsigned flags)
{
	json_t *o = json_object();
	const char *sw = col_text(st, 17), *sync = col_text(st, 18);

	if (!o)
		return NULL;
	json_object_set_new(o, "id", json_string(col_text(st, 0)));
	json_object_set_new(o, "name", json_string(col_text(st, 1)));
	json_object_set_new(o, "site", json_string(col_text(st, 2)));
	json_object_set_new(o, "status",
	                    json_string(mcc_fleet_status_name(status)));
	if (status == MCC_NODE_ONLINE)
		set_i64_or_null(o, "since_ms", st, 5);
	else if (status == MCC_NODE_OFFLINE)
		set_i64_or_null(o, "since_ms", st, 6);
	else
		json_object_set_new(o, "since_ms", json_null());
	json_object_set_new(o, "flags", flags_json(flags));
	json_object_set_new(o, "applied_version",
	                    json_integer(f->applied_version));
	if (f->desired_version)
		json_object_set_new(o, "desired_version",
		                    json_integer(f->desired_version));
	else
		json_object_set_new(o, "desired_version", json_null());
	json_object_set_new(o, "cpu_temp_c",
	                    f->has_temp ? json_real(f->cpu_temp_c)
	                                : json_null());
	set_i64_or_null(o, "disk_free_bytes", st, 9);
	set_i64_or_null(o, "disk_total_bytes", st, 10);
	set_i64_or_null(o, "health_ms", st, 7);
	set_i64_or_null(o, "state_ms", st, 20);
	json_object_set_new(o, "software", sw ? json_string(sw) : json_null());
	json_object_set_new(o, "sync", sync ? json_string(sync) : json_null());
	return o;
}

/* ------------------------------------------------------------------ */
/* State and health */

void mcc_fleet_on_state(struct mcc *c, const struct mc_state *s)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	int64_t now = mc_now_ms();
	int rc;

	if (!db)
		return;
	/*
	 * online_ms / offline_ms change only on a transition, so that a
	 * retained state re-delivered on every reconnect of the controller
	 * keeps "since".  applied_ms changes with the version.
	 */
	st = mcc_db_prepare(
	        db,
	        "INSERT INTO node_live(node_id, online, online_ms, offline_ms,"
	        " boot, applied_version, applied_ms, sync, items_outstanding,"
	        " bytes_outstanding, software, state_ms, state_at_ms)"
	        " VALUES (?1, ?2, CASE WHEN ?2 THEN ?3 END,"
	        " CASE WHEN NOT ?2 THEN ?3 END, ?4, ?5, ?3, ?6, ?7, ?8, ?9,"
	        " ?3, ?10)"
	        " ON CONFLICT(node_id) DO UPDATE SET online = excluded.online,"
	        " online_ms = CASE WHEN excluded.online AND NOT online"
	        "  THEN ?3 ELSE online_ms END,"
	        " offline_ms = CASE WHEN NOT excluded.online AND"
	        "  (online OR offline_ms IS NULL) THEN ?3 ELSE offline_ms END,"
	        " boot = excluded.boot,"
	        " applied_ms = CASE WHEN applied_version IS NOT"
	        "  excluded.applied_version THEN ?3 ELSE applied_ms END,"
	        " applied_version = excluded.applied_version,"
	        " sync = excluded.sync,"
	        " items_outstanding = excluded.items_outstanding,"
	        " bytes_outstanding = excluded.bytes_outstanding,"
	        " software = excluded.software, state_ms = ?3,"
	        " state_at_ms = excluded.state_at_ms");
	if (!st)
		return;
	sqlite3_bind_text(st, 1, s->node, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, s->online ? 1 : 0);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_int64(st, 4, s->boot);
	sqlite3_bind_int64(st, 5, s->applied_version);
	if (s->sync)
		sqlite3_bind_text(st, 6, s->sync, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, s->items_outstanding);
	sqlite3_bind_int64(st, 8, s->bytes_outstanding);
	if (s->software)
		sqlite3_bind_text(st, 9, s->software, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 10, s->at_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		mc_log_error("fleet", "state of node %s not stored: %s",
		             s->node, sqlite3_errmsg(db));
	mcc_db_done(st);
}

void mcc_fleet_on_health(struct mcc *c, const struct mc_health *h)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	char *doc = NULL;
	int64_t now = mc_now_ms();
	int rc;

	if (!db)
		return;
	doc = mc_health_dump(h);
	if (!doc) {
		mc_log_error("fleet", "out of memory: health of %s lost",
		             h->node);
		return;
	}
	/* A node that sends health is connected: a missed birth (or a row
	 * that does not exist yet) is mended here. */
	st = mcc_db_prepare(
	        db,
	        "INSERT INTO node_live(node_id, online, online_ms, health_json,"
	        " health_ms, cpu_temp_c, disk_free_bytes, disk_total_bytes,"
	        " throttled, clock_synced, clock_offset_ms)"
	        " VALUES (?1, 1, ?2, ?3, ?2, ?4, ?5, ?6, ?7, ?8, ?9)"
	        " ON CONFLICT(node_id) DO UPDATE SET"
	        " online_ms = CASE WHEN NOT online THEN ?2 ELSE online_ms END,"
	        " online = 1, health_json = ?3, health_ms = ?2,"
	        " cpu_temp_c = ?4, disk_free_bytes = ?5, disk_total_bytes = ?6,"
	        " throttled = ?7, clock_synced = ?8, clock_offset_ms = ?9");
	if (!st)
		goto done;
	sqlite3_bind_text(st, 1, h->node, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, doc, -1, SQLITE_STATIC);
	if (h->has_temp)
		sqlite3_bind_double(st, 4, h->cpu_temp_c);
	sqlite3_bind_int64(st, 5, h->disk_free_bytes);
	sqlite3_bind_int64(st, 6, h->disk_total_bytes);
	sqlite3_bind_int64(st, 7, h->throttled);
	sqlite3_bind_int(st, 8, h->clock_synced ? 1 : 0);
	sqlite3_bind_double(st, 9, h->clock_offset_ms);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		mc_log_error("fleet", "health of node %s not stored: %s",
		             h->node, sqlite3_errmsg(db));
	mcc_db_done(st);
done:
	free(doc);
}

/* ------------------------------------------------------------------ */
/* Proof of play: storage */

enum mc_err mcc_fleet_pop_store(sqlite3 *db, struct mc_pop_batch *const *b,
                                size_t n, bool *ok, int64_t now_ms,
                                int64_t *inserted)
{
	sqlite3_stmt *site_st, *ins;
	char site[MC_ID_MAX + 1];
	int64_t added = 0;
	int rc;

	*inserted = 0;
	for (size_t i = 0; i < n; i++)
		ok[i] = false;
	if (mcc_db_begin(db) != MC_OK)
		return MC_ERR_IO;
	site_st = mcc_db_prepare(db, "SELECT site_id FROM nodes WHERE id = ?1");
	ins = mcc_db_prepare(
	        db,
	        "INSERT OR IGNORE INTO pop(node_id, id, site_id, content_id,"
	        " sha256, entry_id, channel, start_ms, end_ms, completed,"
	        " count, received_ms)"
	        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)");
	if (!site_st || !ins)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		const struct mc_pop_batch *pb = b[i];

		sqlite3_bind_text(site_st, 1, pb->node, -1, SQLITE_STATIC);
		rc = sqlite3_step(site_st);
		if (rc == SQLITE_ROW)
			snprintf(site, sizeof(site), "%s",
			         (const char *)sqlite3_column_text(site_st, 0));
		mcc_db_done(site_st);
		if (rc == SQLITE_DONE) {
			mc_log_warn("fleet",
			            "proof of play of node %s not stored: the "
			            "node was removed",
			            pb->node);
			continue;
		}
		if (rc != SQLITE_ROW)
			goto fail;
		for (size_t j = 0; j < pb->n_records; j++) {
			const struct mc_pop_record *r = &pb->records[j];

			sqlite3_bind_text(ins, 1, pb->node, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 2, r->id, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 3, site, -1, SQLITE_STATIC);
			sqlite3_bind_text(ins, 4, r->content, -1,
			                  SQLITE_STATIC);
			if (r->sha256[0])
				sqlite3_bind_text(ins, 5, r->sha256, -1,
				                  SQLITE_STATIC);
			else
				sqlite3_bind_null(ins, 5);
			if (r->entry)
				sqlite3_bind_text(ins, 6, r->entry, -1,
				                  SQLITE_STATIC);
			else
				sqlite3_bind_null(ins, 6);
			sqlite3_bind_text(ins, 7, mc_channel_name(r->channel),
			                  -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 8, r->start_ms);
			sqlite3_bind_int64(ins, 9, r->end_ms);
			sqlite3_bind_int(ins, 10, r->completed ? 1 : 0);
			sqlite3_bind_int64(ins, 11, r->count);
			sqlite3_bind_int64(ins, 12, now_ms);
			rc = sqlite3_step(ins);
			if (rc == SQLITE_DONE)
				added += sqlite3_changes(db);
			sqlite3_reset(ins);
			if (rc != SQLITE_DONE)
				goto fail;
		}
		ok[i] = true;
	}
	mcc_db_done(ins);
	if (mcc_db_commit(db) != MC_OK) {
		ins = NULL;
		goto fail;
	}
	*inserted = added;
	return MC_OK;
fail:
	mc_log_error("fleet",
	             "proof of play not stored: %s; the nodes keep their "
	             "records and send them again",
	             sqlite3_errmsg(db));
	if (ins)
		mcc_db_done(ins);
	mcc_db_rollback(db);
	for (size_t i = 0; i < n; i++)
		ok[i] = false;
	return MC_ERR_IO;
}

/* ------------------------------------------------------------------ */
/* Proof of play: the writer */

struct ingest {
	pthread_mutex_t lock;    /* guards everything below but counters */
	pthread_cond_t nonempty; /* a batch was queued, or stop */
	pthread_cond_t nonfull;  /* room was made */
	struct mc_pop_batch q[QUEUE_CAP]; /* ring of queued batches */
	size_t head;                      /* index of the oldest */
	size_t n;                         /* queued */
	bool running;                     /* the writer thread exists */
	bool stop;                        /* mcc_fleet_stop: drain and end */
	pthread_t thread;                 /* the writer */
	struct mcc *c;                    /* the daemon it serves */
	int64_t rate_sec[RATE_WINDOW];    /* second of each bucket */
	int64_t rate_n[RATE_WINDOW];      /* records stored in that second */
	int64_t started_ms;               /* writer start, for a short window */
};

static struct ingest ing = {
        .lock = PTHREAD_MUTEX_INITIALIZER,
        .nonempty = PTHREAD_COND_INITIALIZER,
        .nonfull = PTHREAD_COND_INITIALIZER,
};

static atomic_llong pop_dropped; /* batches not stored, for the log */

/* Count n stored records in this second's bucket.  Caller holds lock. */
static void rate_add(int64_t n)
{
	int64_t sec = mc_mono_ms() / 1000;
	size_t i = (size_t)(sec % RATE_WINDOW);

	if (ing.rate_sec[i] != sec) {
		ing.rate_sec[i] = sec;
		ing.rate_n[i] = 0;
	}
	ing.rate_n[i] += n;
}

static double rate_get(void)
{
	int64_t sec = mc_mono_ms() / 1000, sum = 0, span;

	pthread_mutex_lock(&ing.lock);
	for (size_t i = 0; i < RATE_WINDOW; i++)
		if (ing.rate_sec[i] > sec - RATE_WINDOW &&
		    ing.rate_sec[i] <= sec)
			sum += ing.rate_n[i];
	span = ing.started_ms ? (mc_mono_ms() - ing.started_ms) / 1000 : 0;
	pthread_mutex_unlock(&ing.lock);
	if (span > RATE_WINDOW || span <= 0)
		span = RATE_WINDOW;
	return (double)sum / (double)span;
}

/*
 * Publish the ack of a stored batch: every record id, split into several
 * acks when the ids would pass the ack's 64 KiB limit.
 */
static void send_ack(struct mcc *c, const struct mc_pop_batch *b)
{
	char topic[MC_TOPIC_MAX];
	struct mc_pop_ack a = {0};
	char **ids = NULL;
	size_t i = 0, start, bytes;
	char *doc;

	if (mc_topic_node(topic, sizeof(topic), b->node, MC_TOPIC_POP_ACK) !=
	    MC_OK)
		return;
	ids = malloc((b->n_records ? b->n_records : 1) * sizeof(*ids));
	if (!ids)
		goto nomem;
	for (size_t j = 0; j < b->n_records; j++)
		ids[j] = b->records[j].id;
	a.node = b->node;
	a.batch = b->batch;
	do {
		start = i;
		bytes = 0;
		while (i < b->n_records &&
		       (i == start ||
		        bytes + strlen(ids[i]) + 3 <= ACK_ID_BYTES)) {
			bytes += strlen(ids[i]) + 3;
			i++;
		}
		a.ids = ids + start;
		a.n_ids = i - start;
		doc = mc_pop_ack_dump(&a);
		if (!doc)
			goto nomem;
		if (mcc_mqtt_publish(c, topic, doc, strlen(doc), 1, false) !=
		    MC_OK)
			mc_log_debug("fleet",
			             "ack of batch %s of node %s not sent (no "
			             "broker); the node sends it again",
			             b->batch, b->node);
		free(doc);
	} while (i < b->n_records);
	free(ids);
	return;
nomem:
	free(ids);
	mc_log_error("fleet", "out of memory: ack of batch %s of %s not sent",
	             b->batch, b->node);
}

/* Store batches and acknowledge the stored ones; clears them. */
static void store_and_ack(struct mcc *c, sqlite3 *db, struct mc_pop_batch *b,
                          size_t n)
{
	struct mc_pop_batch *ptrs[BATCHES_PER_TX];
	bool ok[BATCHES_PER_TX];
	int64_t inserted = 0;
	size_t records = 0;

	for (size_t i = 0; i < n; i++) {
		ptrs[i] = &b[i];
		records += b[i].n_records;
	}
	if (db && mcc_fleet_pop_store(db, ptrs, n, ok, mc_now_ms(),
	                              &inserted) == MC_OK) {
		pthread_mutex_lock(&ing.lock);
		rate_add(inserted);
		pthread_mutex_unlock(&ing.lock);
		mcc_metrics_count(c, "minecast_pop_records_total", inserted);
		for (size_t i = 0; i < n; i++) {
			if (ok[i])
				send_ack(c, &b[i]);
			mcc_metrics_count(
			        c,
			        ok[i] ? "minecast_pop_batches_total{result="
			                "\"acked\"}"
			              : "minecast_pop_batches_total{result="
			                "\"dropped\"}",
			        1);
		}
		mc_log_debug("fleet",
		             "stored %zu proof-of-play records of %zu "
		             "batches (%" PRId64 " new)",
		             records, n, inserted);
	} else {
		mcc_metrics_count(
		        c, "minecast_pop_batches_total{result=\"dropped\"}",
		        (int64_t)n);
	}
	for (size_t i = 0; i < n; i++)
		mc_pop_batch_clear(&b[i]);
}

static void *writer_thread(void *arg)
{
	struct mcc *c = arg;
	struct mc_pop_batch take[BATCHES_PER_TX];
	size_t n;

	for (;;) {
		pthread_mutex_lock(&ing.lock);
		while (!ing.n && !ing.stop)
			pthread_cond_wait(&ing.nonempty, &ing.lock);
		if (!ing.n && ing.stop) {
			pthread_mutex_unlock(&ing.lock);
			break;
		}
		for (n = 0; n < BATCHES_PER_TX && ing.n; n++) {
			take[n] = ing.q[ing.head];
			memset(&ing.q[ing.head], 0, sizeof(ing.q[0]));
			ing.head = (ing.head + 1) % QUEUE_CAP;
			ing.n--;
		}
		pthread_cond_broadcast(&ing.nonfull);
		pthread_mutex_unlock(&ing.lock);
		store_and_ack(c, mcc_db(c), take, n);
	}
	mcc_db_thread_end();
	return NULL;
}

enum mc_err mcc_fleet_start(struct mcc *c, struct mc_error *err)
{
	int rc;

	pthread_mutex_lock(&ing.lock);
	if (ing.running) {
		pthread_mutex_unlock(&ing.lock);
		return mc_error_set(err, MC_ERR_CONFLICT,
		                    "fleet: the writer runs already");
	}
	ing.c = c;
	ing.stop = false;
	ing.head = ing.n = 0;
	ing.started_ms = mc_mono_ms();
	/* Labelled counters print together when made in a fixed order. */
	mcc_metrics_count(c, "minecast_pop_records_total", 0);
	mcc_metrics_count(c, "minecast_pop_batches_total{result=\"acked\"}", 0);
	mcc_metrics_count(c, "minecast_pop_batches_total{result=\"dropped\"}",
	                  0);
	rc = pthread_create(&ing.thread, NULL, writer_thread, c);
	if (rc == 0)
		ing.running = true;
	pthread_mutex_unlock(&ing.lock);
	if (rc != 0)
		return mc_error_set(err, MC_ERR_IO,
		                    "fleet: cannot start the writer: %s",
		                    strerror(rc));
	return MC_OK;
}

void mcc_fleet_stop(struct mcc *c)
{
	pthread_t t;

	pthread_mutex_lock(&ing.lock);
	if (!ing.running || ing.c != c) {
		pthread_mutex_unlock(&ing.lock);
		return;
	}
	ing.stop = true;
	t = ing.thread;
	pthread_cond_broadcast(&ing.nonempty);
	pthread_cond_broadcast(&ing.nonfull);
	pthread_mutex_unlock(&ing.lock);
	pthread_join(t, NULL);
	pthread_mutex_lock(&ing.lock);
	ing.running = false;
	ing.c = NULL;
	pthread_mutex_unlock(&ing.lock);
}

void mcc_fleet_on_pop(struct mcc *c, struct mc_pop_batch *b)
{
	struct timespec until;
	int64_t deadline;
	bool queued = false, direct = false;

	pthread_mutex_lock(&ing.lock);
	if (!ing.running || ing.c != c || ing.stop) {
		direct = true;
	} else {
		clock_gettime(CLOCK_REALTIME, &until);
		deadline = (int64_t)until.tv_sec * 1000 +
		           until.tv_nsec / 1000000 + QUEUE_WAIT_MS;
		until.tv_sec = deadline / 1000;
		until.tv_nsec = (deadline % 1000) * 1000000L;
		while (ing.n == QUEUE_CAP && !ing.stop)
			if (pthread_cond_timedwait(&ing.nonfull, &ing.lock,
			                           &until) != 0)
				break;
		if (ing.n < QUEUE_CAP && !ing.stop) {
			ing.q[(ing.head + ing.n) % QUEUE_CAP] = *b;
			memset(b, 0, sizeof(*b));
			ing.n++;
			queued = true;
			pthread_cond_signal(&ing.nonempty);
		}
	}
	pthread_mutex_unlock(&ing.lock);
	if (direct) {
		struct mc_pop_batch one = *b;

		memset(b, 0, sizeof(*b));
		store_and_ack(c, mcc_db(c), &one, 1);
		return;
	}
	if (!queued) {
		long long d = atomic_fetch_add(&pop_dropped, 1) + 1;

		mcc_metrics_count(
		        c, "minecast_pop_batches_total{result=\"dropped\"}", 1);

		if (d == 1 || d % 100 == 0)
			mc_log_warn("fleet",
			            "proof-of-play writer is behind: batch %s "
			            "of node %s not taken (%lld so far); the "
			            "node sends it again",
			            b->batch, b->node, d);
		mc_pop_batch_clear(b);
	}
}

/* ------------------------------------------------------------------ */
/* Status: one node, the list, the metrics */

/* The desired pointer of a node as JSON, or null. */
static json_t *desired_json(sqlite3 *db, const char *node)
{
	sqlite3_stmt *st;
	json_t *rows, *out = NULL;

	st = mcc_db_prepare(db, "SELECT version, manifest_sha256, issued_ms,"
	                        " expires_ms, published, published_ms"
	                        " FROM node_desired WHERE node_id = ?1");
	if (!st)
		return json_null();
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rows = mcc_db_rows(st);
	mcc_db_done(st);
	if (rows && json_array_size(rows) == 1)
		out = json_incref(json_array_get(rows, 0));
	json_decref(rows);
	return out ? out : json_null();
}

json_t *mcc_fleet_status(struct mcc *c, sqlite3 *db, const char *node)
{
	sqlite3_stmt *st;
	struct mcc_node_facts f;
	enum mcc_node_status status;
	unsigned flags = 0;
	json_t *o = NULL, *live = NULL, *rows;
	int rc;

	st = mcc_db_prepare(db, node_sql);
	if (!st)
		return NULL;
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		row_facts(st, &f);
		flags = mcc_fleet_eval(&c->cfg, &f, mc_now_ms(), &status);
		o = row_item(st, &f, status, flags);
	}
	mcc_db_done(st);
	if (!o)
		return NULL;

	st = mcc_db_prepare(
	        db, "SELECT online, online_ms, offline_ms, boot,"
	            " applied_version, applied_ms, sync, items_outstanding,"
	            " bytes_outstanding, software, state_ms, state_at_ms,"
	            " health_json, health_ms, throttled"
	            " FROM node_live WHERE node_id = ?1");
	if (st) {
		sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
		rows = mcc_db_rows(st);
		mcc_db_done(st);
		if (rows && json_array_size(rows) == 1)
			live = json_incref(json_array_get(rows, 0));
		json_decref(rows);
	}
	if (live) {
		json_t *health = json_object_get(live, "health");
		json_t *th = json_object_get(live, "throttled");

		json_object_set(o, "health", health ? health : json_null());
		json_object_del(live, "health");
		json_object_del(live, "health_ms");
		json_object_set_new(
		        o, "throttled_bits",
		        throttled_names(json_is_integer(th)
		                                ? json_integer_value(th)
		                                : -1));
		json_object_del(live, "throttled");
		if (json_is_integer(json_object_get(live, "online")))
			json_object_set_new(
			        live, "online",
			        json_boolean(json_integer_value(
			                json_object_get(live, "online"))));
		json_object_set_new(o, "state", live);
	} else {
		json_object_set_new(o, "health", json_null());
		json_object_set_new(o, "state", json_null());
		json_object_set_new(o, "throttled_bits", json_array());
	}
	json_object_set_new(o, "desired", desired_json(db, node));
	json_object_set_new(o, "behind", json_boolean(flags & MCC_FLAG_BEHIND));
	return o;
}

void mcc_fleet_metrics(struct mcc *c, sqlite3 *db, json_t *out)
{
	sqlite3_stmt *st;
	int64_t by_status[3] = {0}, by_flag[MCC_FLAG_COUNT] = {0}, lag = 0;
	int64_t now = mc_now_ms();
	size_t queued;
	json_t *s, *fl;

	st = db ? mcc_db_prepare(db, fleet_sql) : NULL;
	if (st) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			struct mcc_node_facts f;
			enum mcc_node_status status;
			unsigned flags;

			row_facts(st, &f);
			flags = mcc_fleet_eval(&c->cfg, &f, now, &status);
			by_status[status]++;
			for (unsigned i = 0; i < MCC_FLAG_COUNT; i++)
				if (flags & (1u << i))
					by_flag[i]++;
			if (f.desired_version > f.applied_version)
				lag++;
		}
		mcc_db_done(st);
	}
	s = json_object();
	fl = json_object();
	for (int i = 0; i < 3; i++)
		json_object_set_new(
		        s, mcc_fleet_status_name((enum mcc_node_status)i),
		        json_integer(by_status[i]));
	for (unsigned i = 0; i < MCC_FLAG_COUNT; i++)
		json_object_set_new(fl, flag_names[i],
		                    json_integer(by_flag[i]));
	pthread_mutex_lock(&ing.lock);
	queued = ing.n;
	pthread_mutex_unlock(&ing.lock);
	json_object_set_new(out, "minecast_nodes{status}", s);
	json_object_set_new(out, "minecast_nodes_flagged{flag}", fl);
	json_object_set_new(out, "minecast_rollout_lag_nodes",
	                    json_integer(lag));
	json_object_set_new(out, "minecast_pop_records_per_second",
	                    json_real(rate_get()));
	json_object_set_new(out, "minecast_pop_queue_batches",
	                    json_integer((json_int_t)queued));
}

/* ------------------------------------------------------------------ */
/* The tick: transitions logged once */

struct seen_node {
	char id[MC_ID_MAX + 1]; /* node id */
	uint8_t status;         /* enum mcc_node_status at the last scan */
	unsigned flags;         /* flags at the last scan */
};

static struct {
	pthread_mutex_t lock;    /* one scan at a time */
	struct seen_node *nodes; /* sorted by id: the last scan */
	size_t n;                /* entries in nodes */
	bool primed;             /* a first scan set the baseline */
	int64_t last_ms;         /* monotonic time of the last scan */
	int64_t pruned_ms;       /* monotonic time of the last prune */
} tick = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int cmp_seen(const void *a, const void *b)
{
	return strcmp(((const struct seen_node *)a)->id,
	              ((const struct seen_node *)b)->id);
}

/* Log what changed for one node since the last scan. */
static void log_transition(const struct mcc_config *cfg,
                           const struct seen_node *was,
                           const struct seen_node *now, sqlite3_stmt *st)
{
	const char *site = col_text(st, 2);
	unsigned added;

	if (was->status == MCC_NODE_ONLINE && now->status == MCC_NODE_OFFLINE)
		mc_log_warn("fleet",
		            "node %s (site %s) went offline; its screen and "
		            "speaker keep playing from cache if powered",
		            now->id, site);
	else if (was->status != MCC_NODE_ONLINE &&
	         now->status == MCC_NODE_ONLINE)
		mc_log_info("fleet", "node %s (site %s) is online", now->id,
		            site);
	added = now->flags & ~was->flags;
	if (added & MCC_FLAG_STALE)
		mc_log_warn("fleet",
		            "node %s (site %s): no health for over %" PRId64
		            " s although it is connected",
		            now->id, site, cfg->stale_s);
	if (added & MCC_FLAG_HOT)
		mc_log_warn("fleet",
		            "node %s (site %s) is hot: CPU at %.1f °C (limit "
		            "%.1f °C); check its ventilation",
		            now->id, site, sqlite3_column_double(st, 8),
		            cfg->hot_c);
	if (added & MCC_FLAG_DISK_LOW)
		mc_log_warn("fleet", "node %s (site %s): disk almost full",
		            now->id, site);
	if (added & MCC_FLAG_CLOCK)
		mc_log_warn("fleet",
		            "node %s (site %s): clock not synchronised; dated "
		            "items wait",
		            now->id, site);
	if (added & MCC_FLAG_THROTTLED)
		mc_log_warn("fleet",
		            "node %s (site %s) is throttled or under-powered; "
		            "check its power supply",
		            now->id, site);
	if (added & MCC_FLAG_BEHIND)
		mc_log_warn("fleet",
		            "node %s (site %s) has not applied its desired "
		            "version for over %" PRId64 " s",
		            now->id, site, cfg->sync_behind_s);
}

/*
 * Delete proof of play older than [fleet] pop_retention_days, a chunk at
 * a time so that ingest never waits long for the write lock.
 */
static void prune_pop(struct mcc *c, sqlite3 *db, int64_t now)
{
	sqlite3_stmt *st;
	int64_t cutoff, total = 0;
	int rc, changed;

	if (c->cfg.pop_retention_days <= 0)
		return;
	cutoff = now - c->cfg.pop_retention_days * 86400000;
	for (int i = 0; i < PRUNE_CHUNKS; i++) {
		st = mcc_db_prepare(
		        db,
		        "DELETE FROM pop WHERE (node_id, id) IN (SELECT"
		        " node_id, id FROM pop WHERE start_ms < ?1 LIMIT ?2)");
		if (!st)
			return;
		sqlite3_bind_int64(st, 1, cutoff);
		sqlite3_bind_int(st, 2, PRUNE_CHUNK);
		rc = sqlite3_step(st);
		changed = rc == SQLITE_DONE ? sqlite3_changes(db) : 0;
		mcc_db_done(st);
		if (rc != SQLITE_DONE) {
			mc_log_warn("fleet",
			            "old proof of play not deleted: %s",
			            sqlite3_errmsg(db));
			break;
		}
		total += changed;
		if (changed < PRUNE_CHUNK)
			break;
	}
	if (total)
		mc_log_info("fleet",
		            "deleted %" PRId64 " proof-of-play records older "
		            "than %" PRId64 " days",
		            total, c->cfg.pop_retention_days);
}

void mcc_fleet_tick(struct mcc *c)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	struct seen_node *cur = NULL, *grown;
	size_t n = 0, cap = 0;
	int64_t now = mc_now_ms(), mono = mc_mono_ms();
	int64_t counts[3] = {0};

	mcc_commands_tick(c);
	pthread_mutex_lock(&tick.lock);
	if (tick.primed && mono - tick.last_ms < TICK_SCAN_MS)
		goto out;
	tick.last_ms = mono;
	db = mcc_db(c);
	if (db &&
	    (!tick.pruned_ms || mono - tick.pruned_ms >= PRUNE_EVERY_MS)) {
		tick.pruned_ms = mono;
		prune_pop(c, db, now);
	}
	st = db ? mcc_db_prepare(db, fleet_sql) : NULL;
	if (!st)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct mcc_node_facts f;
		enum mcc_node_status status;
		struct seen_node *was;

		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(cur, cap * sizeof(*cur));
			if (!grown)
				break;
			cur = grown;
		}
		snprintf(cur[n].id, sizeof(cur[n].id), "%s", col_text(st, 0));
		row_facts(st, &f);
		cur[n].flags = mcc_fleet_eval(&c->cfg, &f, now, &status);
		cur[n].status = (uint8_t)status;
		counts[status]++;
		if (tick.primed) {
			/* A node registered since the last scan starts from
			 * "never seen, no flags". */
			static const struct seen_node fresh = {
			        .status = MCC_NODE_NEVER};

			was = tick.nodes ? bsearch(&cur[n], tick.nodes, tick.n,
			                           sizeof(*cur), cmp_seen)
			                 : NULL;
			log_transition(&c->cfg, was ? was : &fresh, &cur[n],
			               st);
		}
		n++;
	}
	mcc_db_done(st);
	if (!tick.primed)
		mc_log_info("fleet",
		            "%zu nodes: %" PRId64 " online, %" PRId64
		            " offline, %" PRId64 " never seen",
		            n, counts[MCC_NODE_ONLINE],
		            counts[MCC_NODE_OFFLINE], counts[MCC_NODE_NEVER]);
	/* Rows come sorted by id (ORDER BY n.id): bsearch works with
	 * strcmp as long as SQLite's BINARY collation is byte order. */
	free(tick.nodes);
	tick.nodes = cur;
	tick.n = n;
	cur = NULL;
	tick.primed = true;
out:
	pthread_mutex_unlock(&tick.lock);
	free(cur);
}

/* ------------------------------------------------------------------ */
/* HTTP */

/* GET /v1/fleet?site=&status=&flag= */
static void h_fleet(struct mcc_req *rq, struct mcc_resp *rs)
{
	sqlite3 *db = mcc_db(rq->c);
	const char *site = mcc_req_query(rq, "site");
	const char *sq = mcc_req_query(rq, "status");
	const char *fq = mcc_req_query(rq, "flag");
	unsigned want_flag = 0;
	int want_status = -1;
	int64_t counts[3] = {0}, now = mc_now_ms();
	sqlite3_stmt *st;
	json_t *items, *cj;
	int rc;

	if (site && !mc_id_valid(site)) {
		mcc_resp_error(
		        rs, 400, "site",
		        "site: mã công trường không hợp lệ / not a valid "
		        "site id");
		return;
	}
	if (sq) {
		for (int i = 0; i < 3; i++)
			if (!strcmp(sq, mcc_fleet_status_name(
			                        (enum mcc_node_status)i)))
				want_status = i;
		if (want_status < 0) {
			mcc_resp_error(rs, 400, "status",
			               "status: phải là online, offline hoặc "
			               "never / must be online, offline or "
			               "never");
			return;
		}
	}
	if (fq && !(want_flag = flag_parse(fq))) {
		mcc_resp_error(rs, 400, "flag",
		               "flag: phải là stale, clock, behind, disk_low, "
		               "hot hoặc throttled / must be stale, clock, "
		               "behind, disk_low, hot or throttled");
		return;
	}
	if (!db)
		goto fail;
	if (site) {
		st = mcc_db_prepare(db, "SELECT 1 FROM sites WHERE id = ?1");
		if (!st)
			goto fail;
		sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		mcc_db_done(st);
		if (rc == SQLITE_DONE) {
			mcc_resp_error(rs, 404, "site",
			               "site: không có công trường '%s' / no "
			               "site '%s'",
			               site, site);
			return;
		}
	}
	st = mcc_db_prepare(db, fleet_sql);
	if (!st)
		goto fail;
	if (site)
		sqlite3_bind_text(st, 1, site, -1, SQLITE_STATIC);
	items = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct mcc_node_facts f;
		enum mcc_node_status status;
		unsigned flags;

		row_facts(st, &f);
		flags = mcc_fleet_eval(&rq->c->cfg, &f, now, &status);
		counts[status]++;
		if (want_status >= 0 && (int)status != want_status)
			continue;
		if (want_flag && !(flags & want_flag))
			continue;
		json_array_append_new(items, row_item(st, &f, status, flags));
	}
	mcc_db_done(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		goto fail;
	}
	cj = json_object();
	for (int i = 0; i < 3; i++)
		json_object_set_new(
		        cj, mcc_fleet_status_name((enum mcc_node_status)i),
		        json_integer(counts[i]));
	mcc_resp_json(rs, 200,
	              json_pack("{s:o, s:o, s:I}", "items", items, "counts", cj,
	                        "total", (json_int_t)json_array_size(items)));
	return;
fail:
	mcc_resp_error(rs, 500, NULL, "lỗi cơ sở dữ liệu / database error");
}

/* GET /v1/nodes/{id}/status */
static void h_node_status(struct mcc_req *rq, struct mcc_resp *rs)
{
	const char *id = rq->params[0];
	sqlite3 *db = mcc_db(rq->c);
	json_t *o;

	if (!mc_id_valid(id)) {
		mcc_resp_error(
		        rs, 400, "id",
		        "id: mã thiết bị không hợp lệ / not a valid node "
		        "id");
		return;
	}
	o = db ? mcc_fleet_status(rq->c, db, id) : NULL;
	if (!o) {
		mcc_resp_error(rs, 404, "id",
		               "id: không có thiết bị '%s' / no node '%s'", id,
		               id);
		return;
	}
	mcc_resp_json(rs, 200, o);
}

const struct mcc_route mcc_fleet_routes[] = {
        {"GET", "/v1/fleet", MCC_ROLE_ANY_USER, 0, 0, h_fleet},
        {"GET", "/v1/nodes/{}/status", MCC_ROLE_ANY_USER, 0, 0, h_node_status},
        {NULL, NULL, 0, 0, 0, NULL},
};
