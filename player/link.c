/*
 * minecast-player — the MQTT link: one thread, one libmosquitto handle.
 *
 * The link thread runs libmosquitto's loop itself (mosquitto_loop) rather
 * than mosquitto_loop_start(), so that it also owns the reconnect policy:
 * brokers tried in turn, exponential backoff with full jitter, the will
 * refreshed before every attempt.  The handle is marked threaded
 * (mosquitto_threaded_set), so that mc_link_publish() from the main thread
 * only queues the packet and wakes the loop; callbacks run on the link
 * thread only.
 *
 * Two locks, so that no lock order can cycle through libmosquitto's own
 * mutexes (its callbacks run with some of them held):
 * - handle_lock guards the handle pointer.  mc_link_publish() holds it
 *   across mosquitto_publish so that the handle cannot be replaced under
 *   it; the link thread takes it only to replace the handle (when a broker
 *   needs the other transport, TLS or not), never inside a callback.
 * - lock guards the state payloads, the connected flag and the counters.
 *   It is a leaf: nothing is called while holding it, so callbacks may
 *   take it.
 * Everything else belongs to the link thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "minecast/log.h"
#include "minecast/topics.h"
#include "minecast/util.h"

/* Largest payload passed on; the codecs check each message's own limit. */
#define LINK_MAX_PAYLOAD (256 * 1024)

/* A session the broker keeps for a week while the node is away. */
#define LINK_SESSION_EXPIRY_S 604800

/* A connection that lasted this long resets the backoff. */
#define LINK_STABLE_MS 60000

/* How long a clean stop waits for the offline state to be acknowledged. */
#define LINK_STOP_WAIT_MS 2000

/* Timeout of one mosquitto_loop() round: how fast a stop is noticed. */
#define LINK_LOOP_MS 200

/* How long a broker has to accept the TCP connection (at most keepalive). */
#define LINK_CONNECT_MS 10000

struct mc_link {
	/* Set at start, read-only afterwards. */
	const struct mc_player_config
	        *cfg;                     /* borrowed: must outlive the link */
	struct mc_evq *q;                 /* where events go */
	char state_topic[MC_TOPIC_MAX];   /* node/<id>/state */
	char sub_topics[4][MC_TOPIC_MAX]; /* the four subscriptions */
	pthread_t thread;                 /* the link thread */
	bool thread_started;              /* thread must be joined */

	/* Guarded by handle_lock for readers on other threads; the link
	 * thread reads it freely, since only it writes it. */
	pthread_mutex_t handle_lock; /* guards m */
	struct mosquitto *m;         /* the handle */

	/* Guarded by lock. */
	pthread_mutex_t lock; /* guards the fields below; a leaf lock */
	pthread_cond_t wake;  /* signalled by mc_link_stop */
	char *online_json;    /* birth payload */
	char *offline_json;   /* will and clean-stop payload */
	bool connected;       /* CONNACK accepted, not yet disconnected */
	bool stopping;        /* mc_link_stop was called */
	int64_t connections;  /* accepted CONNACKs since start */

	/* Link thread only (callbacks run on it too). */
	bool m_tls;                     /* m was set up for TLS */
	const struct mc_broker *broker; /* broker of the current attempt */
	bool down;                      /* the current connection ended */
	bool refused;                   /* the broker refused the CONNACK */
	char reason[160];               /* why the connection ended */
	int sub_mid;                    /* mid of our SUBSCRIBE */
	int stop_mid;        /* mid of the clean-stop offline publish */
	bool stop_acked;     /* that publish was acknowledged */
	int64_t up_since_ms; /* monotonic time of the last CONNACK */
	uint64_t rng;        /* xorshift state for the jitter */
	int keepalive_s;     /* cfg's, within what libmosquitto takes */
	int min_ms;          /* cfg's first backoff delay, made sane */
	int max_ms;          /* cfg's backoff ceiling, made sane */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;

/* libmosquitto is initialised once and never cleaned up: several links
 * may exist (tests) and cleanup would pull the rug from under them. */
static void lib_init(void)
{
	lib_rc = mosquitto_lib_init();
}

static uint64_t rng_next(struct mc_link *l)
{
	uint64_t x = l->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	l->rng = x;
	return x;
}

/* A delay in [d/2, d]: full jitter, so that a fleet that lost the same
 * broker does not come back in one wave. */
static int jitter(struct mc_link *l, int d)
{
	int half = d / 2;

	if (d <= 1)
		return d;
	return half + (int)(rng_next(l) % (uint64_t)(d - half + 1));
}

/* "broker 10.0.0.5:8883 (TLS)" for log lines. */
static const char *broker_name(const struct mc_broker *b, char *buf, size_t len)
{
	if (strchr(b->host, ':'))
		snprintf(buf, len, "[%s]:%d%s", b->host, b->port,
		         b->tls ? " (TLS)" : "");
	else
		snprintf(buf, len, "%s:%d%s", b->host, b->port,
		         b->tls ? " (TLS)" : "");
	return buf;
}

/*
 * A readable reason for a disconnect.  libmosquitto passes either its own
 * MOSQ_ERR_* code (connection lost, keepalive) or, when the broker sent a
 * DISCONNECT, an MQTT v5 reason code; the latter are all >= 0x80.
 */
static void disconnect_reason(int rc, char *buf, size_t len)
{
	size_t n;

	if (rc == 0)
		snprintf(buf, len, "disconnected on request");
	else if (rc >= 0x80)
		snprintf(buf, len, "broker disconnected us: %s",
		         mosquitto_reason_string(rc));
	else if (rc == MOSQ_ERR_TLS)
		snprintf(buf, len,
		         "TLS handshake failed (check [mqtt] ca_file, the "
		         "client certificate, and that the broker's "
		         "certificate names the host in the broker URL)");
	else
		snprintf(buf, len, "%s", mosquitto_strerror(rc));
	/* libmosquitto's strings end with a full stop; ours go mid-line. */
	n = strlen(buf);
	if (n && buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

static bool is_stopping(struct mc_link *l)
{
	bool s;

	pthread_mutex_lock(&l->lock);
	s = l->stopping;
	pthread_mutex_unlock(&l->lock);
	return s;
}

static void push_simple(struct mc_link *l, enum mc_event_type type,
                        const char *text)
{
	struct mc_event *ev = mc_event_new(type);

	if (!ev) {
		mc_log_error("mqtt", "out of memory: link event lost");
		return;
	}
	ev->text = mc_strdup(text);
	mc_evq_push(l->q, ev);
}

/* libmosquitto's own log lines, for debugging a broker setup. */
static void on_log(struct mosquitto *m, void *obj, int level, const char *str)
{
	(void)m;
	(void)obj;
	if (level & (MOSQ_LOG_ERR | MOSQ_LOG_WARNING))
		mc_log_debug("mqtt", "libmosquitto: %s", str);
}

static void on_connect(struct mosquitto *m, void *obj, int rc, int flags,
                       const mosquitto_property *props)
{
	struct mc_link *l = obj;
	char *subs[4];
	char name[128];
	char *online = NULL;
	int i, prc;

	(void)props;
	broker_name(l->broker, name, sizeof(name));
	if (rc != 0) {
		/* Bad credentials or ACL: retrying at once would only
		 * hammer the broker; the thread backs off. */
		l->refused = true;
		snprintf(l->reason, sizeof(l->reason), "%s (MQTT reason %d)",
		         mosquitto_reason_string(rc), rc);
		return;
	}

	pthread_mutex_lock(&l->lock);
	l->connected = true;
	l->connections++;
	online = mc_strdup(l->online_json);
	pthread_mutex_unlock(&l->lock);
	l->up_since_ms = mc_mono_ms();

	mc_log_info("mqtt", "connected to broker %s as %s (%s)", name,
	            l->cfg->node_id,
	            (flags & 1) ? "session resumed" : "new session");

	/* Birth first, so that the retained "online" replaces the will's
	 * "offline" before anything else the controller might read. */
	if (!online)
		mc_log_error("mqtt", "out of memory: birth not published");
	else if ((prc = mosquitto_publish_v5(m, NULL, l->state_topic,
	                                     (int)strlen(online), online, 1,
	                                     true, NULL)) != MOSQ_ERR_SUCCESS)
		mc_log_warn("mqtt", "birth on %s not queued: %s",
		            l->state_topic, mosquitto_strerror(prc));
	free(online);

	for (i = 0; i < 4; i++)
		subs[i] = l->sub_topics[i];
	prc = mosquitto_subscribe_multiple(m, &l->sub_mid, 4, subs, 1, 0, NULL);
	if (prc != MOSQ_ERR_SUCCESS) {
		mc_log_error("mqtt", "cannot subscribe: %s; reconnecting",
		             mosquitto_strerror(prc));
		mosquitto_disconnect_v5(m, MQTT_RC_UNSPECIFIED, NULL);
	}
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int qos_count,
                         const int *granted, const mosquitto_property *props)
{
	struct mc_link *l = obj;
	char name[128];
	int i;

	(void)m;
	(void)props;
	if (mid != l->sub_mid)
		return;
	for (i = 0; i < qos_count && i < 4; i++)
		if (granted[i] >= 0x80)
			mc_log_error("mqtt",
			             "broker refused the subscription to %s: "
			             "%s; check the broker's ACL for user %s",
			             l->sub_topics[i],
			             mosquitto_reason_string(granted[i]),
			             l->cfg->username ? l->cfg->username
			                              : l->cfg->node_id);
	push_simple(l, MC_EV_LINK_UP,
	            broker_name(l->broker, name, sizeof(name)));
}

/* The connection ended: clear the flag and tell the main loop once. */
static void mark_down(struct mc_link *l)
{
	bool was;

	pthread_mutex_lock(&l->lock);
	was = l->connected;
	l->connected = false;
	pthread_mutex_unlock(&l->lock);
	l->down = true;
	if (was)
		push_simple(l, MC_EV_LINK_DOWN, l->reason);
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc,
                          const mosquitto_property *props)
{
	struct mc_link *l = obj;

	(void)m;
	(void)props;
	/* A refusal already wrote its own reason. */
	if (!l->refused)
		disconnect_reason(rc, l->reason, sizeof(l->reason));
	mark_down(l);
}

static void on_publish(struct mosquitto *m, void *obj, int mid, int rc,
                       const mosquitto_property *props)
{
	struct mc_link *l = obj;

	(void)m;
	(void)props;
	if (mid == l->stop_mid && l->stop_mid != 0) {
		l->stop_acked = true;
		/* Codes below 0x80 ("no matching subscribers") are success. */
		if (rc >= 0x80)
			mc_log_warn("mqtt",
			            "broker did not take the offline "
			            "state: %s",
			            mosquitto_reason_string(rc));
	}
}

/* Only our own control topics and alerts are passed on, even if a stale
 * subscription in the persistent session delivers something else. */
static bool topic_wanted(struct mc_link *l, const char *topic)
{
	char id[65];
	const char *suffix = NULL;

	if (mc_topic_parse_alert(topic, id) == MC_OK)
		return true;
	if (mc_topic_parse_node(topic, id, &suffix) != MC_OK)
		return false;
	if (strcmp(id, l->cfg->node_id) != 0)
		return false;
	return !strcmp(suffix, MC_TOPIC_DESIRED) ||
	       !strcmp(suffix, MC_TOPIC_CMD) ||
	       !strcmp(suffix, MC_TOPIC_POP_ACK);
}

static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg,
                       const mosquitto_property *props)
{
	struct mc_link *l = obj;
	struct mc_event *ev = NULL;
	size_t len;

	(void)m;
	(void)props;
	if (!msg->topic || msg->payloadlen < 0)
		return;
	len = (size_t)msg->payloadlen;
	if (len > LINK_MAX_PAYLOAD) {
		mc_log_warn("mqtt",
		            "message on %s dropped: %zu bytes, over the "
		            "%d-byte limit of any minecast message",
		            msg->topic, len, LINK_MAX_PAYLOAD);
		return;
	}
	if (!topic_wanted(l, msg->topic)) {
		mc_log_warn("mqtt",
		            "message on %s ignored: not a topic this "
		            "node reads",
		            msg->topic);
		return;
	}
	ev = mc_event_new(MC_EV_MESSAGE);
	if (!ev)
		goto fail;
	ev->topic = strdup(msg->topic);
	ev->payload = malloc(len + 1);
	if (!ev->topic || !ev->payload)
		goto fail;
	if (len)
		memcpy(ev->payload, msg->payload, len);
	ev->payload[len] = '\0';
	ev->len = len;
	mc_evq_push(l->q, ev);
	return;
fail:
	mc_event_free(ev);
	mc_log_error("mqtt", "out of memory: message on %s lost", msg->topic);
}

/*
 * A new handle set up for broker b: MQTT v5, persistent session under the
 * node id, credentials and TLS.  The will is set per attempt.
 */
static struct mosquitto *
handle_new(struct mc_link *l, const struct mc_broker *b, struct mc_error *err)
{
	const struct mc_player_config *cfg = l->cfg;
	struct mosquitto *m;
	const char *user = cfg->username ? cfg->username : cfg->node_id;
	int rc;

	m = mosquitto_new(cfg->node_id, false, l);
	if (!m) {
		mc_error_set(err, errno == ENOMEM ? MC_ERR_NOMEM : MC_ERR_INVAL,
		             "mqtt: cannot create a client for %s: %s",
		             cfg->node_id, strerror(errno));
		return NULL;
	}
	mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_threaded_set(m, true);
	mosquitto_connect_v5_callback_set(m, on_connect);
	mosquitto_disconnect_v5_callback_set(m, on_disconnect);
	mosquitto_subscribe_v5_callback_set(m, on_subscribe);
	mosquitto_publish_v5_callback_set(m, on_publish);
	mosquitto_message_v5_callback_set(m, on_message);
	mosquitto_log_callback_set(m, on_log);
	rc = mosquitto_username_pw_set(m, user, cfg->password);
	if (rc != MOSQ_ERR_SUCCESS) {
		mc_error_set(err, MC_ERR_INVAL, "mqtt: user name %s: %s", user,
		             mosquitto_strerror(rc));
		goto fail;
	}
	if (b->tls) {
		if (!cfg->ca_file)
			mosquitto_int_option(m, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
		/* libmosquitto wants a CA file or directory even when the
		 * system store is used; the store's directory serves. */
		rc = mosquitto_tls_set(m, cfg->ca_file,
		                       cfg->ca_file ? NULL : "/etc/ssl/certs",
		                       cfg->cert_file, cfg->key_file, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			mc_error_set(err, MC_ERR_INVAL,
			             "mqtt: TLS files (ca %s, cert %s, key "
			             "%s): %s",
			             cfg->ca_file ? cfg->ca_file : "system",
			             cfg->cert_file ? cfg->cert_file : "none",
			             cfg->key_file ? cfg->key_file : "none",
			             rc == MOSQ_ERR_INVAL
			                     ? "missing, unreadable or "
			                       "incomplete (a certificate "
			                       "needs its key)"
			                     : mosquitto_strerror(rc));
			goto fail;
		}
		/* TLS 1.2 and later; the peer is always verified. */
		rc = mosquitto_tls_opts_set(m, 1, "tlsv1.2", NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			mc_error_set(err, MC_ERR_INVAL, "mqtt: TLS options: %s",
			             mosquitto_strerror(rc));
			goto fail;
		}
	}
	return m;
fail:
	mosquitto_destroy(m);
	return NULL;
}

/* Make l->m fit broker b, replacing it only if the transport differs.
 * The client id stays the node id, so the broker's session survives. */
static enum mc_err handle_for(struct mc_link *l, const struct mc_broker *b)
{
	struct mc_error err = {0};
	struct mosquitto *m, *old;

	if (l->m && l->m_tls == b->tls)
		return MC_OK;
	m = handle_new(l, b, &err);
	if (!m) {
		mc_log_error("mqtt", "%s", err.msg);
		return err.code;
	}
	pthread_mutex_lock(&l->handle_lock);
	old = l->m;
	l->m = m;
	pthread_mutex_unlock(&l->handle_lock);
	l->m_tls = b->tls;
	mosquitto_destroy(old);
	return MC_OK;
}

/* Wait ms or until mc_link_stop; returns true when stopping. */
static bool sleep_unless_stopped(struct mc_link *l, int ms)
{
	struct timespec ts;
	bool s;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->lock);
	while (!l->stopping &&
	       pthread_cond_timedwait(&l->wake, &l->lock, &ts) != ETIMEDOUT)
		;
	s = l->stopping;
	pthread_mutex_unlock(&l->lock);
	return s;
}

/*
 * Orderly end of a live connection: the retained "offline" state (a
 * broker does not send the will after a clean DISCONNECT), bounded wait
 * for its PUBACK, then DISCONNECT.
 */
static void say_goodbye(struct mc_link *l)
{
	char *offline;
	int64_t deadline;
	int rc;

	pthread_mutex_lock(&l->lock);
	offline = mc_strdup(l->offline_json);
	pthread_mutex_unlock(&l->lock);
	l->stop_acked = false;
	l->stop_mid = 0;
	if (offline) {
		rc = mosquitto_publish_v5(l->m, &l->stop_mid, l->state_topic,
		                          (int)strlen(offline), offline, 1,
		                          true, NULL);
		if (rc != MOSQ_ERR_SUCCESS)
			mc_log_warn("mqtt", "offline state not sent: %s",
			            mosquitto_strerror(rc));
		else {
			deadline = mc_mono_ms() + LINK_STOP_WAIT_MS;
			while (!l->stop_acked && !l->down &&
			       mc_mono_ms() < deadline)
				if (mosquitto_loop(l->m, 100, 1) !=
				    MOSQ_ERR_SUCCESS)
					break;
			if (!l->stop_acked)
				mc_log_warn("mqtt",
				            "offline state not acknowledged "
				            "within %d ms; the broker may "
				            "still show the node online",
				            LINK_STOP_WAIT_MS);
		}
		free(offline);
	}
	if (l->down)
		return;
	if (mosquitto_disconnect_v5(l->m, MQTT_RC_NORMAL_DISCONNECTION, NULL) !=
	    MOSQ_ERR_SUCCESS)
		return;
	/* The DISCONNECT goes out from the loop's write step. */
	deadline = mc_mono_ms() + 500;
	while (!l->down && mc_mono_ms() < deadline)
		if (mosquitto_loop(l->m, 50, 1) != MOSQ_ERR_SUCCESS)
			break;
}

/*
 * Does b accept a TCP connection?  libmosquitto's connect (the one that
 * carries MQTT v5 properties) blocks in connect(2) for as long as the
 * kernel repeats its SYN: about two minutes toward a broker whose packets
 * are dropped (a cut fibre, a dead radio link).  The other brokers would
 * wait that long, and so would a stop.  So the connection is first made
 * here without blocking, to each address of the name in turn (a broken
 * IPv6 route must not use up the IPv4 address's time), within
 * LINK_CONNECT_MS (or keepalive) in all, and the stop flag is watched as
 * it goes.  The name lookup itself still blocks, within the resolver's
 * own timeouts.  On true, addr holds the address that answered, numeric;
 * on false, l->reason says why.
 */
static bool reachable(struct mc_link *l, const struct mc_broker *b, char *addr,
                      size_t cap)
{
	struct addrinfo hints = {0}, *ai = NULL;
	char port[8];
	int64_t limit = LINK_CONNECT_MS, slice;
	int rc, soerr = 0, n = 0;
	bool ok = false, timed_out = false;

	if ((int64_t)l->keepalive_s * 1000 < limit)
		limit = (int64_t)l->keepalive_s * 1000;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_ADDRCONFIG;
	snprintf(port, sizeof(port), "%d", b->port);
	rc = getaddrinfo(b->host, port, &hints, &ai);
	if (rc != 0) {
		snprintf(l->reason, sizeof(l->reason), "%s",
		         rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return false;
	}
	for (struct addrinfo *a = ai; a; a = a->ai_next)
		n++;
	slice = limit / (n > 0 ? n : 1);
	for (struct addrinfo *a = ai; a && !ok; a = a->ai_next) {
		struct pollfd p = {.events = POLLOUT};
		socklen_t len = sizeof(soerr);
		int64_t deadline = mc_mono_ms() + slice;

		p.fd = socket(a->ai_family,
		              a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		              a->ai_protocol);
		if (p.fd < 0) {
			soerr = errno;
			continue;
		}
		if (connect(p.fd, a->ai_addr, a->ai_addrlen) == 0) {
			ok = true;
		} else if (errno != EINPROGRESS) {
			soerr = errno;
		} else {
			for (;;) {
				int64_t left = deadline - mc_mono_ms();

				if (left <= 0) {
					timed_out = true;
					break;
				}
				if (is_stopping(l))
					break;
				rc = poll(&p, 1,
				          left < LINK_LOOP_MS ? (int)left
				                              : LINK_LOOP_MS);
				if (rc > 0)
					break;
				if (rc < 0 && errno != EINTR) {
					soerr = errno;
					break;
				}
			}
			if (p.revents &&
			    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &soerr,
			               &len) == 0 &&
			    soerr == 0)
				ok = true;
		}
		close(p.fd);
		if (ok &&
		    getnameinfo(a->ai_addr, a->ai_addrlen, addr, (socklen_t)cap,
		                NULL, 0, NI_NUMERICHOST) != 0)
			snprintf(addr, cap, "%s", b->host);
		if (is_stopping(l))
			break;
	}
	freeaddrinfo(ai);
	if (ok)
		return true;
	if (timed_out)
		snprintf(l->reason, sizeof(l->reason),
		         "no answer within %" PRId64
		         " s (packets dropped on the way?)",
		         limit / 1000);
	else if (soerr)
		snprintf(l->reason, sizeof(l->reason), "%s", strerror(soerr));
	else
		snprintf(l->reason, sizeof(l->reason), "stopped");
	return false;
}

/*
 * One connection attempt to b, run until it ends or the link stops.
 * Returns how long the connection was up in ms, or -1 if it never was.
 */
static int64_t attempt(struct mc_link *l, const struct mc_broker *b)
{
	mosquitto_property *props = NULL;
	char *offline = NULL;
	char name[128], addr[NI_MAXHOST];
	int64_t up = -1;
	int rc;

	broker_name(b, name, sizeof(name));
	l->broker = b;
	l->down = false;
	l->refused = false;
	l->reason[0] = '\0';
	if (handle_for(l, b) != MC_OK) {
		snprintf(l->reason, sizeof(l->reason), "client setup failed");
		return -1;
	}

	pthread_mutex_lock(&l->lock);
	offline = mc_strdup(l->offline_json);
	pthread_mutex_unlock(&l->lock);
	if (!offline) {
		snprintf(l->reason, sizeof(l->reason), "out of memory");
		return -1;
	}
	rc = mosquitto_will_set_v5(l->m, l->state_topic, (int)strlen(offline),
	                           offline, 1, true, NULL);
	free(offline);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(l->reason, sizeof(l->reason), "will not set: %s",
		         mosquitto_strerror(rc));
		return -1;
	}
	rc = mosquitto_property_add_int32(&props,
	                                  MQTT_PROP_SESSION_EXPIRY_INTERVAL,
	                                  LINK_SESSION_EXPIRY_S);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(l->reason, sizeof(l->reason), "%s",
		         mosquitto_strerror(rc));
		return -1;
	}

	mc_log_debug("mqtt", "connecting to broker %s", name);
	if (!reachable(l, b, addr, sizeof(addr))) {
		mosquitto_property_free_all(&props);
		return -1;
	}
	errno = 0;
	/* Without TLS straight to the address that answered (libmosquitto
	 * would try the name's addresses in order again, blocking on a dead
	 * one); with TLS by name, which the certificate is checked against. */
	rc = mosquitto_connect_bind_v5(l->m, b->tls ? b->host : addr, b->port,
	                               l->keepalive_s, NULL, props);
	mosquitto_property_free_all(&props);
	if (rc == MOSQ_ERR_ERRNO)
		snprintf(l->reason, sizeof(l->reason), "%s", strerror(errno));
	else if (rc != MOSQ_ERR_SUCCESS)
		disconnect_reason(rc, l->reason, sizeof(l->reason));
	if (rc != MOSQ_ERR_SUCCESS)
		return -1;

	while (!l->down) {
		if (is_stopping(l)) {
			bool was;

			pthread_mutex_lock(&l->lock);
			was = l->connected;
			pthread_mutex_unlock(&l->lock);
			if (was)
				say_goodbye(l);
			break;
		}
		rc = mosquitto_loop(l->m, LINK_LOOP_MS, 1);
		if (rc != MOSQ_ERR_SUCCESS && !l->down) {
			/* The loop failed without a disconnect callback
			 * (e.g. a TLS handshake error): end it here. */
			if (rc == MOSQ_ERR_ERRNO)
				snprintf(l->reason, sizeof(l->reason), "%s",
				         strerror(errno));
			else
				disconnect_reason(rc, l->reason,
				                  sizeof(l->reason));
			mark_down(l);
			break;
		}
	}
	if (l->up_since_ms && !l->refused)
		up = mc_mono_ms() - l->up_since_ms;
	/* Drop any half-open socket; a later connect starts afresh. */
	pthread_mutex_lock(&l->lock);
	l->connected = false;
	pthread_mutex_unlock(&l->lock);
	return up;
}

static void *link_thread(void *arg)
{
	struct mc_link *l = arg;
	const struct mc_player_config *cfg = l->cfg;
	size_t next = 0;
	int delay = l->min_ms;
	int wait;
	int64_t up;
	char name[128], other[128], nextname[160];

	while (!is_stopping(l)) {
		const struct mc_broker *b = &cfg->brokers[next];

		next = (next + 1) % cfg->n_brokers;
		l->up_since_ms = 0;
		up = attempt(l, b);
		if (is_stopping(l))
			break;
		if (up > LINK_STABLE_MS)
			delay = l->min_ms;
		wait = jitter(l, delay);
		broker_name(b, name, sizeof(name));
		if (cfg->n_brokers > 1)
			snprintf(nextname, sizeof(nextname), "trying %s",
			         broker_name(&cfg->brokers[next], other,
			                     sizeof(other)));
		else
			snprintf(nextname, sizeof(nextname), "retrying");
		if (up >= 0)
			mc_log_warn("mqtt",
			            "lost broker %s after %" PRId64 " s: %s; "
			            "playback continues from cache; %s in "
			            "%.1f s",
			            name, up / 1000, l->reason, nextname,
			            wait / 1000.0);
		else if (l->refused)
			mc_log_error("mqtt",
			             "broker %s refused node %s: %s; check "
			             "[mqtt] username and password (or the TLS "
			             "client certificate) in %s against the "
			             "broker's password file and ACL; %s in "
			             "%.1f s",
			             name, cfg->node_id, l->reason,
			             cfg->path ? cfg->path : "the config",
			             nextname, wait / 1000.0);
		else
			mc_log_warn("mqtt",
			            "cannot reach broker %s: %s; %s in "
			            "%.1f s",
			            name, l->reason, nextname, wait / 1000.0);
		if (sleep_unless_stopped(l, wait))
			break;
		if (delay < l->max_ms)
			delay = delay > l->max_ms / 2 ? l->max_ms : delay * 2;
	}
	return NULL;
}

static enum mc_err build_topics(struct mc_link *l, struct mc_error *err)
{
	const char *node = l->cfg->node_id;
	static const char *const suffixes[3] = {MC_TOPIC_DESIRED, MC_TOPIC_CMD,
	                                        MC_TOPIC_POP_ACK};
	int i;

	if (mc_topic_node(l->state_topic, sizeof(l->state_topic), node,
	                  MC_TOPIC_STATE) != MC_OK)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "mqtt: node id '%s' cannot form a topic",
		                    node);
	for (i = 0; i < 3; i++)
		if (mc_topic_node(l->sub_topics[i], sizeof(l->sub_topics[i]),
		                  node, suffixes[i]) != MC_OK)
			return mc_error_set(err, MC_ERR_INVAL,
			                    "mqtt: node id '%s' cannot form "
			                    "a topic",
			                    node);
	snprintf(l->sub_topics[3], sizeof(l->sub_topics[3]), "%s",
	         MC_TOPIC_ALERT_ALL);
	return MC_OK;
}

struct mc_link *mc_link_start(const struct mc_player_config *cfg,
                              struct mc_evq *q, const char *online_json,
                              const char *offline_json, struct mc_error *err)
{
	struct mc_link *l = NULL;
	pthread_condattr_t ca;
	struct mosquitto *probe;
	uint64_t seed = 0;
	size_t i;

	pthread_once(&lib_once, lib_init);
	if (lib_rc != MOSQ_ERR_SUCCESS) {
		mc_error_set(err, MC_ERR_IO, "mqtt: libmosquitto init: %s",
		             mosquitto_strerror(lib_rc));
		return NULL;
	}
	if (!cfg || !q || !online_json || !offline_json || !cfg->node_id) {
		mc_error_set(err, MC_ERR_INVAL,
		             "mqtt: link started without "
		             "a node id or state");
		return NULL;
	}
	if (cfg->n_brokers == 0) {
		mc_error_set(err, MC_ERR_INVAL,
		             "mqtt: no broker configured ([mqtt] broker)");
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		mc_error_set(err, MC_ERR_NOMEM, "mqtt: out of memory");
		return NULL;
	}
	l->cfg = cfg;
	l->q = q;
	pthread_mutex_init(&l->handle_lock, NULL);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)mc_now_ms() ^ ((uint64_t)getpid() << 32);
	l->rng = seed | 1;
	/* The config checks these; stay safe if a caller did not:
	 * libmosquitto refuses a keepalive under 5 s, and a zero delay
	 * would spin. */
	l->keepalive_s = cfg->keepalive_s < 5       ? 5
	                 : cfg->keepalive_s > 65535 ? 65535
	                                            : cfg->keepalive_s;
	l->min_ms = cfg->reconnect_min_ms < 50 ? 50 : cfg->reconnect_min_ms;
	l->max_ms = cfg->reconnect_max_ms < l->min_ms ? l->min_ms
	                                              : cfg->reconnect_max_ms;
	if (build_topics(l, err) != MC_OK)
		goto fail;
	l->online_json = strdup(online_json);
	l->offline_json = strdup(offline_json);
	if (!l->online_json || !l->offline_json) {
		mc_error_set(err, MC_ERR_NOMEM, "mqtt: out of memory");
		goto fail;
	}
	/* Set up now what can be wrong in the config (TLS files), so that
	 * the caller hears of it at start rather than in a retry loop. */
	l->m = handle_new(l, &cfg->brokers[0], err);
	if (!l->m)
		goto fail;
	l->m_tls = cfg->brokers[0].tls;
	for (i = 1; i < cfg->n_brokers; i++) {
		if (cfg->brokers[i].tls == l->m_tls)
			continue;
		probe = handle_new(l, &cfg->brokers[i], err);
		if (!probe)
			goto fail;
		mosquitto_destroy(probe);
		break;
	}
	if (pthread_create(&l->thread, NULL, link_thread, l) != 0) {
		mc_error_set(err, MC_ERR_IO,
		             "mqtt: cannot start the link "
		             "thread");
		goto fail;
	}
	l->thread_started = true;
	return l;
fail:
	mc_link_stop(l);
	return NULL;
}

void mc_link_set_state(struct mc_link *l, const char *online_json,
                       const char *offline_json)
{
	char *on = mc_strdup(online_json), *off = mc_strdup(offline_json);

	if (!on || !off) {
		mc_log_error("mqtt", "out of memory: state payloads not "
		                     "updated");
		free(on);
		free(off);
		return;
	}
	pthread_mutex_lock(&l->lock);
	free(l->online_json);
	free(l->offline_json);
	l->online_json = on;
	l->offline_json = off;
	pthread_mutex_unlock(&l->lock);
}

enum mc_err mc_link_publish(struct mc_link *l, const char *suffix,
                            const void *payload, size_t len, int qos,
                            bool retain)
{
	char topic[MC_TOPIC_MAX];
	enum mc_err ret = MC_OK;
	int rc;

	if (mc_topic_node(topic, sizeof(topic), l->cfg->node_id, suffix) !=
	    MC_OK)
		return MC_ERR_INVAL;
	if (len > INT_MAX || qos < 0 || qos > 2)
		return MC_ERR_INVAL;
	if (!mc_link_connected(l))
		return MC_ERR_IO;
	/* Connected a moment ago: if the link dropped since, libmosquitto
	 * keeps a QoS 1 message for the next connection or refuses it; both
	 * are fine for callers, who never rely on a PUBACK. */
	pthread_mutex_lock(&l->handle_lock);
	rc = mosquitto_publish_v5(l->m, NULL, topic, (int)len, payload, qos,
	                          retain, NULL);
	pthread_mutex_unlock(&l->handle_lock);
	if (rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_PAYLOAD_SIZE) {
		mc_log_warn("mqtt",
		            "%s: %zu bytes is more than the broker accepts",
		            topic, len);
		ret = MC_ERR_TOO_LARGE;
	} else if (rc == MOSQ_ERR_NO_CONN) {
		ret = MC_ERR_IO;
	} else if (rc != MOSQ_ERR_SUCCESS) {
		mc_log_warn("mqtt", "%s: not published: %s", topic,
		            mosquitto_strerror(rc));
		ret = MC_ERR_IO;
	}
	return ret;
}

bool mc_link_connected(const struct mc_link *l)
{
	struct mc_link *ml = (struct mc_link *)l;
	bool c;

	pthread_mutex_lock(&ml->lock);
	c = ml->connected;
	pthread_mutex_unlock(&ml->lock);
	return c;
}

int64_t mc_link_reconnects(const struct mc_link *l)
{
	struct mc_link *ml = (struct mc_link *)l;
	int64_t n;

	pthread_mutex_lock(&ml->lock);
	n = ml->connections > 1 ? ml->connections - 1 : 0;
	pthread_mutex_unlock(&ml->lock);
	return n;
}

void mc_link_stop(struct mc_link *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_broadcast(&l->wake);
	pthread_mutex_unlock(&l->lock);
	if (l->thread_started)
		pthread_join(l->thread, NULL);
	mosquitto_destroy(l->m);
	free(l->online_json);
	free(l->offline_json);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->handle_lock);
	free(l);
}
