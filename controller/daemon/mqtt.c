/*
 * minecast-controller — the MQTT client (libmosquitto).
 *
 * One handle, driven by one network thread of ours running
 * mosquitto_loop() (rather than mosquitto_loop_start's thread, whose
 * reconnect sleep cannot be interrupted and which gives up on some
 * errors): it reconnects with exponential backoff, notices a stop
 * within MQTT_LOOP_MS, says goodbye, and closes its SQLite connection
 * when it ends.  The handle is marked threaded, so other threads'
 * publishes only queue and wake the loop.  Callbacks run on that thread:
 * on every CONNACK the controller publishes its retained birth on
 * controller/state and subscribes again, since the session is clean.
 *
 * Incoming messages are checked here, in this order, and dropped with a
 * log line a technician can act on (rate-limited) and a count in
 * /metrics at the first failure:
 *   1. topic: minecast/v1/node/<id>/<suffix> with a suffix a node writes;
 *   2. size: the message's limit (docs/protocol.md §2.2), before parsing;
 *   3. body: the common codec (JSON, UTF-8, types, ranges, version);
 *   4. the body's "node" equals the topic's node ("claims to be another
 *      node": a node's ACL lets it write only its own topics, but a broker
 *      misconfiguration must not let one node speak for another);
 *   5. the node is registered in the nodes table.
 * Then the parsed message goes to fleet.c, commands.c or alerts.c.
 *
 * Subscriptions (MQTT 5): node/+/state, node/+/health, node/+/pop and
 * node/+/+/+ with "no local", which covers cmd/result and alert/ack and
 * also brings two-level suffixes no node should write, so that they are
 * seen and logged; our own pop/ack publishes are not echoed back.
 */
#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "alerts.h"
#include "commands.h"
#include "db.h"
#include "fleet.h"
#include "mcc.h"
#include "metrics.h"
#include "mqtt.h"

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

/* Keepalive towards the broker, seconds. */
#define MQTT_KEEPALIVE_S 30

/* Reconnect backoff: first delay and ceiling, seconds. */
#define MQTT_BACKOFF_MIN_S 1
#define MQTT_BACKOFF_MAX_S 30

/* Timeout of one mosquitto_loop() round: how fast a stop is noticed. */
#define MQTT_LOOP_MS 200

/* How long a clean stop waits for the offline state's PUBACK. */
#define MQTT_STOP_WAIT_MS 2000

/* Drop lines logged per window in all; the rest are counted and
 * summarised. */
#define DROP_LOG_WINDOW_MS 10000
#define DROP_LOG_MAX       50

/* Drop lines logged per topic and reason per window. */
#define DROP_KEY_WINDOW_MS 60000
#define DROP_KEY_MAX       5

/* Slots of the per-key limiter (a collision only shares a limit). */
#define DROP_SLOTS 256

/* One key's lines in its window. */
struct drop_slot {
	uint64_t key;       /* hash of topic and reason */
	int64_t window_ms;  /* start of its window (mono) */
	int lines;          /* lines logged in the window */
	int64_t suppressed; /* drops not logged in the window */
};

struct mcc_mqtt {
	struct mcc *c;           /* the daemon; outlives the client */
	struct mosquitto *m;     /* the handle; set before the loop starts */
	atomic_bool connected;   /* CONNACK accepted, no disconnect since */
	atomic_bool stopping;    /* mcc_mqtt_stop has begun */
	atomic_int stop_mid;     /* mid of the offline publish at stop */
	atomic_bool stop_acked;  /* that publish was acknowledged */
	atomic_bool lost_logged; /* on_disconnect said why: the loop's
	                            first retry line is debug only */
	pthread_t thread;        /* the network thread */
	bool thread_started;     /* thread must be joined */
	char *online_json;       /* birth on controller/state */
	char *offline_json;      /* will and clean-stop payload */
};

/* The drop log's limits, process-wide (intake may run without a client:
 * the fuzz harness). */
static struct {
	pthread_mutex_t lock;               /* guards the fields below */
	int64_t window_ms;                  /* start of the window (mono) */
	int lines;                          /* lines logged in the window */
	int64_t suppressed;                 /* drops not logged in it */
	struct drop_slot slots[DROP_SLOTS]; /* per-key limits */
} dlog = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

/* libmosquitto is initialised once and never cleaned up. */
static void lib_init(void)
{
	lib_rc = mosquitto_lib_init();
}

/* The controller's presence document on controller/state. */
static char *presence_json(bool online, int64_t at_ms)
{
	return mc_printf("{\"at_ms\":%" PRId64 ",\"online\":%s,\"software\":"
	                 "\"minecast-controller %s\",\"v\":1}",
	                 at_ms, online ? "true" : "false", MC_VERSION);
}

/* Why a message was dropped: the label of its /metrics counter. */
enum drop_reason {
	DROP_MALFORMED = 0, /* the codec refused it (or empty) */
	DROP_OVERSIZED,     /* over its size limit */
	DROP_UNKNOWN,       /* not a topic nodes write */
	DROP_FORGED,        /* its body names another node */
	DROP_UNREGISTERED,  /* no such node in the nodes table */
	DROP_ERROR,         /* the database could not be read */
	DROP_COUNT
};

static const char *const drop_counters[DROP_COUNT] = {
        "minecast_mqtt_dropped_total{reason=\"malformed\"}",
        "minecast_mqtt_dropped_total{reason=\"oversized\"}",
        "minecast_mqtt_dropped_total{reason=\"unknown_topic\"}",
        "minecast_mqtt_dropped_total{reason=\"forged\"}",
        "minecast_mqtt_dropped_total{reason=\"unregistered\"}",
        "minecast_mqtt_dropped_total{reason=\"error\"}",
};

/* FNV-1a of a string, continuing from h. */
static uint64_t fnv(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

/*
 * Log one dropped message and count it.  Lines are rate-limited per
 * topic and reason (DROP_KEY_MAX per DROP_KEY_WINDOW_MS: one node that
 * floods does not hide another's problem) and in all (DROP_LOG_MAX per
 * DROP_LOG_WINDOW_MS); what is held back is summarised in a later line
 * and always counted in /metrics.
 */
static void drop(struct mcc *c, enum drop_reason reason, const char *topic,
                 const char *node, const char *why, ...)
        __attribute__((format(printf, 5, 6)));

static void drop(struct mcc *c, enum drop_reason reason, const char *topic,
                 const char *node, const char *why, ...)
{
	char text[512];
	va_list ap;
	int64_t now = mc_mono_ms(), suppressed = 0, key_suppressed = 0;
	uint64_t key = fnv(14695981039346656037ull + (uint64_t)reason, topic);
	struct drop_slot *slot = &dlog.slots[key % DROP_SLOTS];
	bool log_it = false;

	va_start(ap, why);
	vsnprintf(text, sizeof(text), why, ap);
	va_end(ap);

	mcc_metrics_count(c, drop_counters[reason], 1);
	pthread_mutex_lock(&dlog.lock);
	if (!dlog.window_ms || now - dlog.window_ms >= DROP_LOG_WINDOW_MS) {
		suppressed = dlog.suppressed;
		dlog.suppressed = 0;
		dlog.lines = 0;
		dlog.window_ms = now;
	}
	if (slot->key != key || now - slot->window_ms >= DROP_KEY_WINDOW_MS) {
		/* A slot taken over by another key forgets its count: the
		 * metrics still have it. */
		if (slot->key == key)
			key_suppressed = slot->suppressed;
		slot->key = key;
		slot->window_ms = now;
		slot->lines = 0;
		slot->suppressed = 0;
	}
	if (slot->lines < DROP_KEY_MAX && dlog.lines < DROP_LOG_MAX) {
		slot->lines++;
		dlog.lines++;
		log_it = true;
	} else if (slot->lines >= DROP_KEY_MAX) {
		slot->suppressed++;
	} else {
		dlog.suppressed++;
	}
	pthread_mutex_unlock(&dlog.lock);

	if (suppressed)
		mc_log_warn("mqtt",
		            "%" PRId64 " more dropped messages were not "
		            "logged in the last %d s (see "
		            "minecast_mqtt_dropped_total in /metrics)",
		            suppressed, DROP_LOG_WINDOW_MS / 1000);
	if (log_it)
		mc_log_warn("mqtt",
		            "dropped a message from node %s on %s: %s%s",
		            node && *node ? node : "?", topic, text,
		            key_suppressed ? " (and more like it, not logged)"
		                           : "");
}

/* The registered node's row exists; on a database error the message is
 * dropped too (the node re-sends what matters). */
static bool node_registered(struct mcc *c, const char *node, bool *db_error)
{
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st;
	bool found = false;
	int rc;

	*db_error = false;
	if (!db) {
		*db_error = true;
		return false;
	}
	st = mcc_db_prepare(db, "SELECT 1 FROM nodes WHERE id = ?1");
	if (!st) {
		*db_error = true;
		return false;
	}
	sqlite3_bind_text(st, 1, node, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		found = true;
	else if (rc != SQLITE_DONE)
		*db_error = true;
	mcc_db_done(st);
	return found;
}

/* The body named a node: is it the topic's? */
static bool same_node(struct mcc *c, const char *topic, const char *topic_node,
                      const char *body_node)
{
	if (body_node && !strcmp(body_node, topic_node))
		return true;
	drop(c, DROP_FORGED, topic, topic_node,
	     "its body claims to be another node (\"node\": \"%s\"); a node "
	     "may only report for itself: check the broker's ACL",
	     body_node ? body_node : "");
	return false;
}

/* Limit of a node → controller message, 0 for a suffix nodes don't send. */
static size_t suffix_limit(const char *suffix)
{
	if (!strcmp(suffix, MC_TOPIC_STATE))
		return MC_MAX_STATE_BYTES;
	if (!strcmp(suffix, MC_TOPIC_HEALTH))
		return MC_MAX_HEALTH_BYTES;
	if (!strcmp(suffix, MC_TOPIC_POP))
		return MC_MAX_POP_BYTES;
	if (!strcmp(suffix, MC_TOPIC_CMD_RESULT))
		return MC_MAX_RESULT_BYTES;
	if (!strcmp(suffix, MC_TOPIC_ALERT_ACK))
		return MC_MAX_ALERT_ACK_BYTES;
	return 0;
}

/* The node id of a topic "minecast/v1/node/<id>/..." that is not one of
 * ours, for the log line; "" when there is no valid id. */
static void topic_node(const char *topic, char out[65])
{
	const char *p = strstr(topic, "/node/");
	size_t n;

	out[0] = '\0';
	if (!p)
		return;
	p += 6;
	n = strcspn(p, "/");
	if (n == 0 || n > 64)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!mc_id_valid(out))
		out[0] = '\0';
}

/* The last path segments of an unknown node topic, for the log line. */
static const char *unknown_part(const char *topic)
{
	const char *p = strstr(topic, "/node/");
	const char *s;

	if (!p)
		return topic;
	s = strchr(p + 6, '/');
	return s ? s + 1 : topic;
}

/*
 * Parse, check and dispatch one message of a known suffix.  Returns
 * nothing: every failure is a drop, logged by drop().
 */
static void handle(struct mcc *c, const char *topic, const char *node,
                   const char *suffix, const char *buf, size_t len)
{
	struct mc_error err = {0};
	bool dbe = false;
	enum mc_err rc;

	/* Registered before the body is parsed: a stranger's bytes are not
	 * worth parsing, and its drop line says what to do. */
	if (!node_registered(c, node, &dbe)) {
		if (dbe)
			drop(c, DROP_ERROR, topic, node,
			     "the database could not be read; the node "
			     "will send it again");
		else
			drop(c, DROP_UNREGISTERED, topic, node,
			     "no node \"%s\" is registered (minecastctl "
			     "node add %s --site SITE)",
			     node, node);
		return;
	}

	if (!strcmp(suffix, MC_TOPIC_STATE)) {
		struct mc_state s = {0};

		rc = mc_state_parse(buf, len, &s, &err);
		if (rc != MC_OK)
			drop(c, DROP_MALFORMED, topic, node, "state: %s",
			     err.msg);
		else if (same_node(c, topic, node, s.node))
			mcc_fleet_on_state(c, &s);
		mc_state_clear(&s);
	} else if (!strcmp(suffix, MC_TOPIC_HEALTH)) {
		struct mc_health h = {0};

		rc = mc_health_parse(buf, len, &h, &err);
		if (rc != MC_OK)
			drop(c, DROP_MALFORMED, topic, node, "health: %s",
			     err.msg);
		else if (same_node(c, topic, node, h.node))
			mcc_fleet_on_health(c, &h);
		mc_health_clear(&h);
	} else if (!strcmp(suffix, MC_TOPIC_POP)) {
		struct mc_pop_batch b = {0};

		rc = mc_pop_batch_parse(buf, len, &b, &err);
		if (rc != MC_OK) {
			drop(c, DROP_MALFORMED, topic, node,
			     "proof-of-play batch: %s", err.msg);
			mc_pop_batch_clear(&b);
		} else if (same_node(c, topic, node, b.node)) {
			/* fleet.c takes the batch over (and clears it). */
			mcc_fleet_on_pop(c, &b);
		} else {
			mc_pop_batch_clear(&b);
		}
	} else if (!strcmp(suffix, MC_TOPIC_CMD_RESULT)) {
		struct mc_command_result r = {0};

		rc = mc_command_result_parse(buf, len, &r, &err);
		if (rc != MC_OK)
			drop(c, DROP_MALFORMED, topic, node,
			     "command result: %s", err.msg);
		else if (same_node(c, topic, node, r.node))
			mcc_commands_on_result(c, &r);
		mc_command_result_clear(&r);
	} else if (!strcmp(suffix, MC_TOPIC_ALERT_ACK)) {
		struct mc_alert_ack a = {0};

		rc = mc_alert_ack_parse(buf, len, &a, &err);
		if (rc != MC_OK)
			drop(c, DROP_MALFORMED, topic, node,
			     "alert acknowledgement: %s", err.msg);
		else if (same_node(c, topic, node, a.node))
			mcc_alerts_on_ack(c, &a);
		mc_alert_ack_clear(&a);
	}
}

void mcc_mqtt_intake(struct mcc *c, const char *topic, const void *payload,
                     size_t len, bool retain)
{
	char node[65];
	const char *suffix = NULL;
	size_t limit;

	mcc_metrics_count(c, "minecast_mqtt_messages_total", 1);
	if (mc_topic_parse_node(topic, node, &suffix) != MC_OK) {
		topic_node(topic, node);
		drop(c, DROP_UNKNOWN, topic, node,
		     "\"%s\" is not a topic of the minecast protocol "
		     "(docs/protocol.md §3)",
		     unknown_part(topic));
		return;
	}
	/* Our own publishes (pop/ack, cmd, desired) are not for us; with
	 * "no local" they come only from another client using them. */
	limit = suffix_limit(suffix);
	if (!limit) {
		drop(c, DROP_UNKNOWN, topic, node,
		     "\"%s\" is written by the controller, not by nodes; "
		     "another client is publishing it",
		     suffix);
		return;
	}
	if (len == 0) {
		/* An empty retained state is the deletion of a retained
		 * message (node removed), not a message. */
		if (retain || !strcmp(suffix, MC_TOPIC_STATE))
			mc_log_debug("mqtt", "empty retained message on %s",
			             topic);
		else
			drop(c, DROP_MALFORMED, topic, node, "empty payload");
		return;
	}
	if (len > limit) {
		drop(c, DROP_OVERSIZED, topic, node,
		     "%zu bytes, over the %zu-byte limit of a %s message", len,
		     limit, suffix);
		return;
	}
	handle(c, topic, node, suffix, payload, len);
}

static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct mcc_mqtt *q = obj;

	(void)m;
	(void)props;
	if (!msg->topic || msg->payloadlen < 0)
		return;
	mcc_mqtt_intake(q->c, msg->topic, msg->payload, (size_t)msg->payloadlen,
	                msg->retain);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
	struct mcc_mqtt *q = obj;
	static char *const direct[] = {
	        MC_TOPIC_ROOT "node/+/" MC_TOPIC_STATE,
	        MC_TOPIC_ROOT "node/+/" MC_TOPIC_HEALTH,
	        MC_TOPIC_ROOT "node/+/" MC_TOPIC_POP,
	};
	static char *const deep[] = {MC_TOPIC_ROOT "node/+/+/+"};
	const char *host =
	        q->c->cfg.mqtt_host ? q->c->cfg.mqtt_host : "127.0.0.1";
	int prc;

	(void)flags;
	(void)props;
	if (rc != 0) {
		mc_log_error("mqtt",
		             "broker %s:%d refused the controller (user %s): "
		             "%s; check [mqtt] user and password against the "
		             "broker's password file",
		             host, q->c->cfg.mqtt_port,
		             q->c->cfg.mqtt_user ? q->c->cfg.mqtt_user
		                                 : "anonymous",
		             mosquitto_reason_string(rc));
		return;
	}
	atomic_store(&q->connected, true);
	mc_log_info("mqtt", "connected to broker %s:%d as %s", host,
	            q->c->cfg.mqtt_port, q->c->cfg.mqtt_client_id);

	prc = mosquitto_publish_v5(m, NULL, MC_TOPIC_CONTROLLER_STATE,
	                           (int)strlen(q->online_json), q->online_json,
	                           1, true, NULL);
	if (prc != MOSQ_ERR_SUCCESS)
		mc_log_warn("mqtt", "presence on %s not queued: %s",
		            MC_TOPIC_CONTROLLER_STATE, mosquitto_strerror(prc));
	prc = mosquitto_subscribe_multiple(m, NULL, 3, direct, 1, 0, NULL);
	if (prc == MOSQ_ERR_SUCCESS)
		prc = mosquitto_subscribe_multiple(m, NULL, 1, deep, 1,
		                                   MQTT_SUB_OPT_NO_LOCAL, NULL);
	if (prc != MOSQ_ERR_SUCCESS) {
		mc_log_error("mqtt", "cannot subscribe: %s; reconnecting",
		             mosquitto_strerror(prc));
		mosquitto_disconnect_v5(m, MQTT_RC_UNSPECIFIED, NULL);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
                         const int *granted, const mosquitto_property *props)
{
	struct mcc_mqtt *q = obj;
	int i;

	(void)m;
	(void)mid;
	(void)props;
	for (i = 0; i < qos_count; i++)
		if (granted[i] >= 0x80)
			mc_log_error(
			        "mqtt",
			        "broker refused a subscription: %s; the "
			        "controller's user %s needs read access to "
			        "minecast/v1/node/+/# in the broker's ACL",
			        mosquitto_reason_string(granted[i]),
			        q->c->cfg.mqtt_user ? q->c->cfg.mqtt_user
			                            : "(anonymous)");
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc,
                          const mosquitto_property *props)
{
	struct mcc_mqtt *q = obj;
	bool was = atomic_exchange(&q->connected, false);

	(void)m;
	(void)props;
	if (atomic_load(&q->stopping))
		return;
	if (was) {
		char why[160];
		size_t n;

		snprintf(why, sizeof(why), "%s",
		         rc >= 0x80 ? mosquitto_reason_string(rc)
		                    : mosquitto_strerror(rc));
		n = strlen(why);
		if (n && why[n - 1] == '.')
			why[n - 1] = '\0';
		mc_log_warn("mqtt",
		            "lost the broker (%s); node reports wait in the "
		            "broker or on the nodes; reconnecting",
		            why);
		atomic_store(&q->lost_logged, true);
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc,
                       const mosquitto_property *props)
{
	struct mcc_mqtt *q = obj;

	(void)m;
	(void)rc;
	(void)props;
	if (mid != 0 && mid == atomic_load(&q->stop_mid))
		atomic_store(&q->stop_acked, true);
}

static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	(void)m;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		mc_log_debug("mqtt", "libmosquitto: %s", str);
}

/* Sleep up to ms, waking early when stopping. */
static void nap(struct mcc_mqtt *q, int ms)
{
	struct timespec ts = {0, 50 * 1000000L};

	while (ms > 0 && !atomic_load(&q->stopping)) {
		nanosleep(&ts, NULL);
		ms -= 50;
	}
}

/*
 * Orderly end of a live connection, on the network thread: the retained
 * "offline" presence (a broker does not send the will after a clean
 * DISCONNECT), a bounded wait for its PUBACK, then DISCONNECT.
 */
static void goodbye(struct mcc_mqtt *q)
{
	int64_t deadline;
	int mid = 0;

	if (mosquitto_publish_v5(q->m, &mid, MC_TOPIC_CONTROLLER_STATE,
	                         (int)strlen(q->offline_json), q->offline_json,
	                         1, true, NULL) == MOSQ_ERR_SUCCESS) {
		atomic_store(&q->stop_mid, mid);
		deadline = mc_mono_ms() + MQTT_STOP_WAIT_MS;
		while (!atomic_load(&q->stop_acked) &&
		       atomic_load(&q->connected) && mc_mono_ms() < deadline)
			if (mosquitto_loop(q->m, 50, 1) != MOSQ_ERR_SUCCESS)
				break;
		if (!atomic_load(&q->stop_acked))
			mc_log_warn("mqtt",
			            "the broker did not acknowledge the "
			            "offline presence in time");
	}
	atomic_store(&q->connected, false);
	if (mosquitto_disconnect_v5(q->m, MQTT_RC_NORMAL_DISCONNECTION, NULL) !=
	    MOSQ_ERR_SUCCESS)
		return;
	/* The DISCONNECT goes out from the loop's write step. */
	deadline = mc_mono_ms() + 500;
	while (mc_mono_ms() < deadline)
		if (mosquitto_loop(q->m, 50, 1) != MOSQ_ERR_SUCCESS)
			break;
}

/*
 * The network thread: libmosquitto's loop, and the reconnect policy
 * (exponential backoff, reset by a successful CONNACK), with every wait
 * short enough that a stop is noticed at once.
 */
static void *net_thread(void *arg)
{
	struct mcc_mqtt *q = arg;
	const char *host =
	        q->c->cfg.mqtt_host ? q->c->cfg.mqtt_host : "127.0.0.1";
	int delay_s = MQTT_BACKOFF_MIN_S;
	char why[160];
	size_t n;
	int rc;

	while (!atomic_load(&q->stopping)) {
		rc = mosquitto_loop(q->m, MQTT_LOOP_MS, 1);
		if (rc == MOSQ_ERR_SUCCESS) {
			if (atomic_load(&q->connected))
				delay_s = MQTT_BACKOFF_MIN_S;
			continue;
		}
		if (atomic_load(&q->stopping))
			break;
		snprintf(why, sizeof(why), "%s",
		         rc == MOSQ_ERR_ERRNO ? strerror(errno)
		                              : mosquitto_strerror(rc));
		n = strlen(why);
		if (n && why[n - 1] == '.')
			why[n - 1] = '\0';
		mc_log(atomic_exchange(&q->lost_logged, false) ? MC_LOG_DEBUG
		                                               : MC_LOG_WARN,
		       "mqtt",
		       "no connection to broker %s:%d (%s); retrying in %d s",
		       host, q->c->cfg.mqtt_port, why, delay_s);
		nap(q, delay_s * 1000);
		if (delay_s < MQTT_BACKOFF_MAX_S)
			delay_s = delay_s * 2 > MQTT_BACKOFF_MAX_S
			                  ? MQTT_BACKOFF_MAX_S
			                  : delay_s * 2;
		if (!atomic_load(&q->stopping))
			mosquitto_reconnect_async(q->m);
	}
	if (atomic_load(&q->connected))
		goodbye(q);
	mcc_db_thread_end();
	return NULL;
}

static void mqtt_free(struct mcc_mqtt *q)
{
	if (!q)
		return;
	if (q->m)
		mosquitto_destroy(q->m);
	free(q->online_json);
	free(q->offline_json);
	free(q);
}

enum mc_err mcc_mqtt_start(struct mcc *c, struct mc_error *err)
{
	const struct mcc_config *cfg = &c->cfg;
	const char *host = cfg->mqtt_host ? cfg->mqtt_host : "127.0.0.1";
	const char *id = cfg->mqtt_client_id ? cfg->mqtt_client_id
	                                     : "minecast-controller";
	struct mcc_mqtt *q;
	int64_t now = mc_now_ms();
	enum mc_err erc;
	int rc;

	pthread_once(&lib_once, lib_init);
	if (lib_rc != MOSQ_ERR_SUCCESS)
		return mc_error_set(err, MC_ERR_IO, "mqtt: libmosquitto: %s",
		                    mosquitto_strerror(lib_rc));
	q = calloc(1, sizeof(*q));
	if (!q)
		return mc_error_set(err, MC_ERR_NOMEM, "mqtt: out of memory");
	q->c = c;
	/* Labelled counters print together when made in a fixed order. */
	mcc_metrics_count(c, "minecast_mqtt_messages_total", 0);
	for (int i = 0; i < DROP_COUNT; i++)
		mcc_metrics_count(c, drop_counters[i], 0);
	q->online_json = presence_json(true, now);
	q->offline_json = presence_json(false, now);
	if (!q->online_json || !q->offline_json) {
		erc = mc_error_set(err, MC_ERR_NOMEM, "mqtt: out of memory");
		goto fail;
	}

	/* Clean session: node states are retained, proof of play is sent
	 * again until acknowledged, and a late command has expired. */
	q->m = mosquitto_new(id, true, q);
	if (!q->m) {
		erc = mc_error_set(err, MC_ERR_INVAL,
		                   "mqtt: cannot create a client \"%s\"", id);
		goto fail;
	}
	mosquitto_int_option(q->m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_threaded_set(q->m, true);
	mosquitto_connect_v5_callback_set(q->m, on_connect);
	mosquitto_disconnect_v5_callback_set(q->m, on_disconnect);
	mosquitto_subscribe_v5_callback_set(q->m, on_subscribe);
	mosquitto_publish_v5_callback_set(q->m, on_publish);
	mosquitto_message_v5_callback_set(q->m, on_message);
	mosquitto_log_callback_set(q->m, on_log);
	/* Acks and commands are many small QoS 1 messages: let more be in
	 * flight than the default 20. */
	mosquitto_int_option(q->m, MOSQ_OPT_SEND_MAXIMUM, 1000);
	mosquitto_int_option(q->m, MOSQ_OPT_RECEIVE_MAXIMUM, 1000);
	mosquitto_max_inflight_messages_set(q->m, 1000);
	if (cfg->mqtt_user) {
		rc = mosquitto_username_pw_set(q->m, cfg->mqtt_user,
		                               cfg->mqtt_password);
		if (rc != MOSQ_ERR_SUCCESS) {
			erc = mc_error_set(err, MC_ERR_INVAL, "mqtt.user: %s",
			                   mosquitto_strerror(rc));
			goto fail;
		}
	}
	if (cfg->mqtt_cafile) {
		rc = mosquitto_tls_set(q->m, cfg->mqtt_cafile, NULL, NULL, NULL,
		                       NULL);
		if (rc == MOSQ_ERR_SUCCESS)
			rc = mosquitto_tls_opts_set(q->m, 1, "tlsv1.2", NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			erc = mc_error_set(
			        err, MC_ERR_INVAL, "mqtt.cafile: %s: %s",
			        cfg->mqtt_cafile,
			        rc == MOSQ_ERR_INVAL ? "missing or unreadable"
			                             : mosquitto_strerror(rc));
			goto fail;
		}
	}
	rc = mosquitto_will_set_v5(q->m, MC_TOPIC_CONTROLLER_STATE,
	                           (int)strlen(q->offline_json),
	                           q->offline_json, 1, true, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		erc = mc_error_set(err, MC_ERR_INVAL, "mqtt: will: %s",
		                   mosquitto_strerror(rc));
		goto fail;
	}

	/* The writer of proof of play runs before any message can come. */
	erc = mcc_fleet_start(c, err);
	if (erc != MC_OK)
		goto fail;
	c->mqtt = q;

	/* A broker that is down now is not fatal: the loop thread keeps
	 * trying, and publishing waits (callers retry from the tick). */
	rc = mosquitto_connect_async(q->m, host, cfg->mqtt_port,
	                             MQTT_KEEPALIVE_S);
	if (rc != MOSQ_ERR_SUCCESS)
		mc_log_warn("mqtt",
		            "cannot reach broker %s:%d yet: %s; retrying in "
		            "the background",
		            host, cfg->mqtt_port,
		            rc == MOSQ_ERR_ERRNO ? strerror(errno)
		                                 : mosquitto_strerror(rc));
	rc = pthread_create(&q->thread, NULL, net_thread, q);
	if (rc != 0) {
		c->mqtt = NULL;
		mcc_fleet_stop(c);
		erc = mc_error_set(err, MC_ERR_IO,
		                   "mqtt: cannot start the network thread: %s",
		                   strerror(rc));
		goto fail;
	}
	q->thread_started = true;
	return MC_OK;
fail:
	mqtt_free(q);
	return erc;
}

void mcc_mqtt_stop(struct mcc *c)
{
	struct mcc_mqtt *q = c->mqtt;

	if (!q)
		return;
	/* The writer drains first, while acks can still go out; batches
	 * that arrive meanwhile are stored and acknowledged at once. */
	mcc_fleet_stop(c);
	atomic_store(&q->stopping, true);
	if (q->thread_started)
		pthread_join(q->thread, NULL);
	c->mqtt = NULL;
	mqtt_free(q);
}

bool mcc_mqtt_connected(const struct mcc *c)
{
	return c->mqtt && atomic_load(&c->mqtt->connected);
}

enum mc_err mcc_mqtt_publish(struct mcc *c, const char *topic,
                             const void *payload, size_t len, int qos,
                             bool retain)
{
	struct mcc_mqtt *q = c->mqtt;
	int rc;

	if (!q || !atomic_load(&q->connected))
		return MC_ERR_IO;
	if (len > (size_t)INT32_MAX)
		return MC_ERR_TOO_LARGE;
	rc = mosquitto_publish_v5(q->m, NULL, topic, (int)len, payload, qos,
	                          retain, NULL);
	if (rc != MOSQ_ERR_SUCCESS) {
		mc_log_warn("mqtt", "publish on %s failed: %s", topic,
		            mosquitto_strerror(rc));
		return MC_ERR_IO;
	}
	return MC_OK;
}
