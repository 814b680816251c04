/*
 * minecast-sim — what one simulated node does (docs/protocol.md).
 *
 * Each node has its own libmosquitto client: client id and user name are
 * the node id; the will is an offline state on node/<id>/state (QoS 1,
 * retained); after CONNACK the birth (online state, retained) goes out and
 * the node subscribes to node/<id>/desired, node/<id>/cmd,
 * node/<id>/pop/ack and alert/#.  What arrives is checked with the same
 * common/ code the player uses (sign.h, codec.h), in the player's order.
 *
 * The connection is MQTT 3.1.1 with a persistent session (clean session
 * false): libmosquitto can open it without blocking only in that form
 * (mosquitto_connect_async takes no MQTT 5 properties, so an MQTT 5
 * session could not outlive the connection), and a blocking connect would
 * stall every other node when the broker's accept queue is full.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "sim.h"

#ifndef MC_VERSION
#define MC_VERSION "0"
#endif

/* The software string of states. */
#define SIM_SOFTWARE "minecast-sim " MC_VERSION

/* Records per proof-of-play batch (the player's default). */
#define POP_BATCH_MAX 200

/* At most one batch per node this often (the player's send loop). */
#define POP_SEND_MS 5000

/* Reconnect delays (ms), doubled per failure, jittered. */
#define BACKOFF_MIN 500
#define BACKOFF_MAX 10000

/* A failed download is tried again this often, then given up. */
#define FETCH_TRIES    4
#define FETCH_RETRY_MS 2000

/* Length of a simulated play (ms) in records. */
#define PLAY_MS 15000

/* ---- the shared manifest summaries (--share-manifests) ---- */

/* An asset a manifest lists. */
struct masset {
	char sha[65]; /* its sha256 */
	int64_t size; /* its bytes */
	char *url;    /* where to fetch it */
};

/* What a node keeps of a parsed manifest. */
struct msum {
	char sha[65];          /* the manifest's sha256 */
	char content[65];      /* content id its records name */
	char content_sha[65];  /* that content's sha256, "" for slogans */
	char entry[65];        /* entry of the records, "" for the fallback */
	struct masset *assets; /* image and audio files */
	size_t n_assets;       /* how many */
	struct msum *next;     /* the next cached summary */
};

/* Summaries by manifest sha256, kept for the run (with sharing only). */
static struct msum *sums;

static void msum_free(struct msum *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_assets; i++)
		free(m->assets[i].url);
	free(m->assets);
	free(m);
}

static struct msum *msum_find(const char *sha)
{
	for (struct msum *m = sums; m; m = m->next)
		if (strcmp(m->sha, sha) == 0)
			return m;
	return NULL;
}

/*
 * Summarise a parsed manifest: the first screen entry's first item is
 * what the node "plays" in its records; every image and audio item is an
 * asset to fetch.
 */
static struct msum *msum_make(const struct mc_manifest *mf, const char *sha)
{
	struct msum *m = calloc(1, sizeof(*m));
	size_t k = 0;

	if (!m)
		return NULL;
	snprintf(m->sha, sizeof(m->sha), "%s", sha);
	for (size_t i = 0; i < mf->n_entries && !m->content[0]; i++) {
		const struct mc_entry *e = &mf->entries[i];

		if (e->channel != MC_CH_SCREEN || !e->playlist ||
		    !e->playlist->n_items || !e->playlist->items[0].content)
			continue;
		snprintf(m->entry, sizeof(m->entry), "%s", e->id);
		snprintf(m->content, sizeof(m->content), "%s",
		         e->playlist->items[0].content->id);
		if (e->playlist->items[0].content->has_asset)
			snprintf(m->content_sha, sizeof(m->content_sha), "%s",
			         e->playlist->items[0].content->asset.sha256);
	}
	if (!m->content[0] && mf->fallback[MC_CH_SCREEN]) {
		const struct mc_content *c = mf->fallback[MC_CH_SCREEN];

		snprintf(m->content, sizeof(m->content), "%s", c->id);
		if (c->has_asset)
			snprintf(m->content_sha, sizeof(m->content_sha), "%s",
			         c->asset.sha256);
	}
	for (size_t i = 0; i < mf->n_content; i++)
		if (mf->content[i].has_asset && mf->content[i].asset.url)
			k++;
	if (k) {
		m->assets = calloc(k, sizeof(*m->assets));
		if (!m->assets) {
			free(m);
			return NULL;
		}
	}
	for (size_t i = 0; i < mf->n_content; i++) {
		const struct mc_asset *a = &mf->content[i].asset;
		struct masset *o;

		if (!mf->content[i].has_asset || !a->url)
			continue;
		o = &m->assets[m->n_assets];
		o->url = mc_strdup(a->url);
		if (!o->url) {
			msum_free(m);
			return NULL;
		}
		snprintf(o->sha, sizeof(o->sha), "%s", a->sha256);
		o->size = a->size;
		m->n_assets++;
	}
	return m;
}

/* ---- logging ---- */

void sim_log_reject(struct sim *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (s->log_budget <= 0) {
		s->log_suppressed++;
		return;
	}
	s->log_budget--;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	mc_log_warn("sim", "%s", line);
}

const char *sim_reject_name(enum sim_reject r)
{
	static const char *const names[SIM_REJ_COUNT] = {
	        "forged", "malformed", "node", "replay", "expired", "other"};

	return r < SIM_REJ_COUNT ? names[r] : "other";
}

enum sim_reject sim_reject_of(enum mc_err rc)
{
	switch (rc) {
	case MC_ERR_KEY:
	case MC_ERR_SIG: return SIM_REJ_FORGED;
	case MC_ERR_PARSE:
	case MC_ERR_UTF8:
	case MC_ERR_MISSING:
	case MC_ERR_TYPE:
	case MC_ERR_RANGE:
	case MC_ERR_PURPOSE: return SIM_REJ_MALFORMED;
	case MC_ERR_NODE: return SIM_REJ_NODE;
	case MC_ERR_REPLAY: return SIM_REJ_REPLAY;
	case MC_ERR_EXPIRED: return SIM_REJ_EXPIRED;
	default: return SIM_REJ_OTHER;
	}
}

/* ---- publishing ---- */

static int node_publish(struct sim_node *n, const char *suffix,
                        const char *json, int qos, bool retain, int *mid)
{
	char topic[MC_TOPIC_MAX];
	int rc;

	if (!json ||
	    mc_topic_node(topic, sizeof(topic), n->id, suffix) != MC_OK)
		return -1;
	rc = mosquitto_publish(n->m, mid, topic, (int)strlen(json), json, qos,
	                       retain);
	/* Outside a callback libmosquitto writes at once; what is left
	 * (or queued inside a callback) needs EPOLLOUT. */
	sim_node_sync_io(n);
	if (rc != MOSQ_ERR_SUCCESS) {
		mc_log_debug("sim", "node %s: publish on %s failed: %s", n->id,
		             suffix, mosquitto_strerror(rc));
		return -1;
	}
	return 0;
}

/* The node's state message; online false for the will and goodbye. */
static char *state_json(const struct sim_node *n, bool online)
{
	struct mc_state st = {0};

	st.node = (char *)n->id;
	st.online = online;
	st.boot = sim_g->boot;
	st.applied_version = n->applied_version;
	st.sync = (char *)(n->pending ? "syncing" : "idle");
	st.at_ms = mc_now_ms();
	st.software = (char *)SIM_SOFTWARE;
	return mc_state_dump(&st);
}

static void publish_state(struct sim_node *n)
{
	char *json = state_json(n, true);

	node_publish(n, MC_TOPIC_STATE, json, 1, true, NULL);
	free(json);
}

/* ---- connection ---- */

static void on_connect(struct mosquitto *m, void *obj, int rc);
static void on_disconnect(struct mosquitto *m, void *obj, int rc);
static void on_subscribe(struct mosquitto *m, void *obj, int mid, int n,
                         const int *granted);
static void on_publish(struct mosquitto *m, void *obj, int mid);
static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg);

int sim_node_init(struct sim *s, struct sim_node *n)
{
	int rc;

	n->fd = -1;
	n->first_connect_ms = -1;
	n->backoff_ms = BACKOFF_MIN;
	sim_refuse_socketpair = true;
	n->m = mosquitto_new(n->id, false, n);
	sim_refuse_socketpair = false;
	if (!n->m) {
		mc_log_error("sim", "node %s: cannot create its MQTT client",
		             n->id);
		return -1;
	}
	mosquitto_int_option(n->m, MOSQ_OPT_PROTOCOL_VERSION,
	                     MQTT_PROTOCOL_V311);
	mosquitto_connect_callback_set(n->m, on_connect);
	mosquitto_disconnect_callback_set(n->m, on_disconnect);
	mosquitto_subscribe_callback_set(n->m, on_subscribe);
	mosquitto_publish_callback_set(n->m, on_publish);
	mosquitto_message_callback_set(n->m, on_message);
	rc = mosquitto_username_pw_set(n->m, n->id, n->password);
	if (rc != MOSQ_ERR_SUCCESS) {
		mc_log_error("sim", "node %s: credentials: %s", n->id,
		             mosquitto_strerror(rc));
		return -1;
	}
	n->pop_next_seq = 1;
	/* Nodes that started together must not all play out their first
	 * record at the same instant: a random phase per node. */
	n->pop_credit = sim_rand();
	return 0;
}

static void vcache_free(void);

static void pending_free(struct sim_node *n)
{
	if (!n->pending)
		return;
	mc_pointer_clear(&n->pending->p);
	free(n->pending);
	n->pending = NULL;
}

void sim_node_free(struct sim_node *n)
{
	struct sim_pop *r = n->pop_head;

	if (n->m)
		mosquitto_destroy(n->m);
	n->m = NULL;
	pending_free(n);
	while (r) {
		struct sim_pop *next = r->next;

		free(r);
		r = next;
	}
	n->pop_head = n->pop_tail = NULL;
	free(n->applies);
	free(n->alerts);
	free(n->starts);
	free(n->password);
	n->applies = NULL;
	n->alerts = NULL;
	n->starts = NULL;
	n->password = NULL;
	if (n->idx == 0) {
		vcache_free();
		while (sums) {
			struct msum *next = sums->next;

			msum_free(sums);
			sums = next;
		}
	}
}

static void schedule_reconnect(struct sim_node *n)
{
	int64_t d = n->backoff_ms / 2 + (int64_t)(sim_rand() * n->backoff_ms);

	n->link = SIM_L_WAIT;
	n->backoff_ms = n->backoff_ms * 2 > BACKOFF_MAX ? BACKOFF_MAX
	                                                : n->backoff_ms * 2;
	sim_timer_set(n, SIM_T_CONNECT, mc_mono_ms() + d);
}

void sim_node_connect(struct sim_node *n)
{
	struct sim *s = sim_g;
	char topic[MC_TOPIC_MAX];
	char *will;
	int rc;

	if (s->stopping) {
		n->link = SIM_L_DONE;
		return;
	}
	will = state_json(n, false);
	if (!will ||
	    mc_topic_node(topic, sizeof(topic), n->id, MC_TOPIC_STATE) !=
	            MC_OK ||
	    mosquitto_will_set(n->m, topic, (int)strlen(will), will, 1, true) !=
	            MOSQ_ERR_SUCCESS) {
		free(will);
		mc_log_error("sim", "node %s: cannot set its will", n->id);
		schedule_reconnect(n);
		return;
	}
	free(will);
	n->connect_mono = mc_mono_ms();
	n->subscribed = false;
	sim_refuse_socketpair = true;
	rc = mosquitto_connect_async(n->m, s->o.broker_host, s->o.broker_port,
	                             s->o.keepalive_s);
	sim_refuse_socketpair = false;
	if (rc != MOSQ_ERR_SUCCESS) {
		n->c.connect_failures++;
		sim_log_reject(s, "node %s: cannot connect to %s:%d: %s", n->id,
		               s->o.broker_host, s->o.broker_port,
		               rc == MOSQ_ERR_ERRNO ? strerror(errno)
		                                    : mosquitto_strerror(rc));
		schedule_reconnect(n);
		return;
	}
	n->link = SIM_L_CONNECTING;
}

static void arm_pop(struct sim_node *n, int64_t at);
static void arm_starts(struct sim_node *n);

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
	struct sim_node *n = obj;
	struct sim *s = sim_g;
	char t_desired[MC_TOPIC_MAX], t_cmd[MC_TOPIC_MAX], t_ack[MC_TOPIC_MAX];
	char *subs[4] = {t_desired, t_cmd, t_ack, (char *)MC_TOPIC_ALERT_ALL};
	int64_t now = mc_mono_ms();
	double lat = (double)(now - n->connect_mono);

	if (n->link != SIM_L_CONNECTING)
		return; /* stopped meanwhile: the DISCONNECT is on its way */
	if (rc != 0) {
		n->c.connect_failures++;
		sim_log_reject(s,
		               "node %s: the broker refused the connection: "
		               "%s",
		               n->id, mosquitto_connack_string(rc));
		/* The broker closes it; on_disconnect schedules the retry
		 * at the longest delay, as a refusal will not pass soon. */
		n->backoff_ms = BACKOFF_MAX;
		return;
	}
	n->link = SIM_L_UP;
	n->c.connects++;
	s->connected++;
	n->backoff_ms = BACKOFF_MIN;
	if (n->first_connect_ms < 0) {
		n->first_connect_ms = lat;
		sim_samples_add(&s->connect_ms, lat);
	}
	publish_state(n);
	mc_topic_node(t_desired, sizeof(t_desired), n->id, MC_TOPIC_DESIRED);
	mc_topic_node(t_cmd, sizeof(t_cmd), n->id, MC_TOPIC_CMD);
	mc_topic_node(t_ack, sizeof(t_ack), n->id, MC_TOPIC_POP_ACK);
	rc = mosquitto_subscribe_multiple(m, &n->sub_mid, 4, subs, 1, 0, NULL);
	if (rc != MOSQ_ERR_SUCCESS)
		mc_log_warn("sim", "node %s: subscribe failed: %s", n->id,
		            mosquitto_strerror(rc));
	if (s->o.health_s > 0 && !s->stopping)
		sim_timer_set(
		        n, SIM_T_HEALTH,
		        now + (int64_t)(sim_rand() * s->o.health_s * 1000));
	/* Plays are counted from the first connection on (also while the
	 * node is away later, as a player records offline). */
	if (!n->pop_last_mono)
		n->pop_last_mono = now;
	/* Unacknowledged records go again after a reconnect. */
	for (struct sim_pop *r = n->pop_head; r; r = r->next)
		r->sent_mono = r->sent_mono ? 1 : 0;
	arm_pop(n, now + (n->pop_head ? 0 : 1000));
	if (n->n_starts)
		arm_starts(n); /* "started" acks held while away */
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
	struct sim_node *n = obj;
	struct sim *s = sim_g;

	(void)m;
	n->fd = -1; /* closed with the socket */
	n->events = 0;
	n->subscribed = false;
	if (n->link == SIM_L_UP)
		s->connected--;
	if (n->link == SIM_L_STOPPING || n->link == SIM_L_DONE ||
	    (s->stopping && s->drained)) {
		n->link = SIM_L_DONE;
		return;
	}
	if (n->link == SIM_L_UP) {
		n->c.disconnects++;
		sim_log_reject(s,
		               "node %s lost its broker connection (%s); "
		               "reconnecting",
		               n->id,
		               rc == 0 ? "closed" : mosquitto_strerror(rc));
	} else if (n->link == SIM_L_CONNECTING) {
		n->c.connect_failures++;
	}
	sim_timer_clear(n, SIM_T_HEALTH);
	sim_timer_clear(n, SIM_T_POP);
	schedule_reconnect(n);
}

static void on_subscribe(struct mosquitto *m, void *obj, int mid, int count,
                         const int *granted)
{
	struct sim_node *n = obj;
	struct sim *s = sim_g;

	(void)m;
	if (mid != n->sub_mid)
		return;
	for (int i = 0; i < count; i++)
		if (granted[i] > 2) {
			sim_log_reject(s,
			               "node %s: the broker refused a "
			               "subscription (ACL?)",
			               n->id);
			break;
		}
	n->subscribed = true;
	if (n->ever_subscribed)
		return;
	n->ever_subscribed = true;
	if (++s->subscribed == s->o.nodes) {
		s->ready_mono = mc_mono_ms();
		mc_log_info("sim",
		            "all %d nodes connected and subscribed in %.1f s",
		            s->o.nodes,
		            (double)(s->ready_mono - s->start_mono) / 1000.0);
		if (s->o.ready_file) {
			char *txt = mc_printf(
			        "{\"nodes\":%d,\"ready_ms\":%" PRId64
			        ",\"seconds\":%.3f}\n",
			        s->o.nodes, mc_now_ms(),
			        (double)(s->ready_mono - s->start_mono) /
			                1000.0);
			struct mc_error err;

			if (!txt || mc_write_file_atomic(s->o.ready_file, txt,
			                                 strlen(txt), 0644,
			                                 &err) != MC_OK)
				mc_log_error("sim", "cannot write %s",
				             s->o.ready_file);
			free(txt);
		}
	}
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct sim_node *n = obj;

	if (n->link == SIM_L_STOPPING && mid == n->stop_mid)
		mosquitto_disconnect(m);
}

void sim_node_read(struct sim_node *n)
{
	int rc = mosquitto_loop_read(n->m, 1);

	(void)rc; /* a failure ends in on_disconnect */
	if (mosquitto_socket(n->m) < 0 &&
	    (n->link == SIM_L_UP || n->link == SIM_L_CONNECTING))
		on_disconnect(n->m, n, MOSQ_ERR_CONN_LOST);
}

void sim_node_write(struct sim_node *n)
{
	mosquitto_loop_write(n->m, 1);
	if (mosquitto_socket(n->m) < 0 &&
	    (n->link == SIM_L_UP || n->link == SIM_L_CONNECTING))
		on_disconnect(n->m, n, MOSQ_ERR_CONN_LOST);
}

void sim_node_misc(struct sim_node *n)
{
	mosquitto_loop_misc(n->m);
	if (mosquitto_socket(n->m) < 0 &&
	    (n->link == SIM_L_UP || n->link == SIM_L_CONNECTING))
		on_disconnect(n->m, n, MOSQ_ERR_KEEPALIVE);
}

/* ---- verification ---- */

/* A verification outcome kept for --share-verify. */
struct vcache {
	unsigned char key[32]; /* sha256 of purpose and envelope bytes */
	bool used;             /* slot holds an outcome */
	enum mc_err rc;        /* the outcome */
	struct mc_error err;   /* its message */
	struct mc_signed sg;   /* the verified envelope (on MC_OK) */
};

/* The last few envelopes verified; alerts reach every node alike. */
#define VCACHE_SLOTS 16
static struct vcache vcache[VCACHE_SLOTS];
static unsigned vcache_next;

/*
 * mc_envelope_verify, or with --share-verify its outcome for the same
 * bytes verified before by another node: one ed25519 check per alert
 * for the whole process, as a fleet checks it in parallel on its boards
 * instead of one node after another.
 */
static enum mc_err verify(struct sim *s, const char *payload, size_t len,
                          enum mc_purpose purpose, struct mc_signed *sg,
                          struct mc_error *err)
{
	crypto_hash_sha256_state st;
	unsigned char key[32], p = (unsigned char)purpose;
	struct vcache *v;
	enum mc_err rc;

	if (!s->o.share_verify)
		return mc_envelope_verify(&s->keys, payload, len, purpose, sg,
		                          err);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &p, 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)payload, len);
	crypto_hash_sha256_final(&st, key);
	for (unsigned i = 0; i < VCACHE_SLOTS; i++) {
		v = &vcache[i];
		if (!v->used || memcmp(v->key, key, sizeof(key)) != 0)
			continue;
		s->verify_shared++;
		*err = v->err;
		if (v->rc != MC_OK)
			return v->rc;
		*sg = v->sg;
		sg->body = malloc(v->sg.body_len + 1);
		if (!sg->body) {
			memset(sg, 0, sizeof(*sg));
			return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		}
		memcpy(sg->body, v->sg.body, v->sg.body_len + 1);
		return MC_OK;
	}
	rc = mc_envelope_verify(&s->keys, payload, len, purpose, sg, err);
	v = &vcache[vcache_next++ % VCACHE_SLOTS];
	mc_signed_clear(&v->sg);
	memset(v, 0, sizeof(*v));
	memcpy(v->key, key, sizeof(key));
	v->rc = rc;
	v->err = *err;
	if (rc == MC_OK) {
		v->sg = *sg;
		v->sg.body = malloc(sg->body_len + 1);
		if (!v->sg.body) {
			memset(v, 0, sizeof(*v));
			return rc;
		}
		memcpy(v->sg.body, sg->body, sg->body_len + 1);
	}
	v->used = true;
	return rc;
}

static void vcache_free(void)
{
	for (unsigned i = 0; i < VCACHE_SLOTS; i++)
		mc_signed_clear(&vcache[i].sg);
	memset(vcache, 0, sizeof(vcache));
}

/* ---- desired state ---- */

static void apply(struct sim_node *n)
{
	struct sim_pending *pd = n->pending;
	struct sim_apply *a;
	int64_t now = mc_now_ms();

	a = realloc(n->applies, (n->n_applies + 1) * sizeof(*a));
	if (a) {
		n->applies = a;
		a = &n->applies[n->n_applies++];
		a->version = pd->p.version;
		a->issued_ms = pd->p.issued_ms;
		a->received_ms = pd->received_ms;
		a->applied_ms = now;
	}
	n->applied_version = pd->p.version;
	snprintf(n->applied_sha, sizeof(n->applied_sha), "%s",
	         pd->p.manifest_sha256);
	n->c.applied++;
	pending_free(n);
	publish_state(n);
	mc_log_debug("sim", "node %s applied version %" PRId64, n->id,
	             n->applied_version);
}

static void on_pointer(struct sim_node *n, const char *payload, size_t len)
{
	struct sim *s = sim_g;
	struct mc_signed sg = {0};
	struct mc_pointer p = {0};
	struct mc_error err = {0};
	struct sim_pending *pd;
	enum mc_err rc;

	if (len == 0)
		return; /* a deleted retained message is not a message */
	n->c.pointers++;
	/* mc_pointer_open's steps one by one, to tell a retained pointer
	 * already applied (delivered again at reconnect) from a replay. */
	rc = verify(s, payload, len, MC_PURPOSE_POINTER, &sg, &err);
	if (rc == MC_OK)
		rc = mc_pointer_parse(sg.body, sg.body_len, &p, &err);
	if (rc == MC_OK && p.node && strcmp(p.node, n->id) == 0 &&
	    ((p.version == n->applied_version &&
	      strcmp(p.manifest_sha256, n->applied_sha) == 0) ||
	     (n->pending && p.version == n->pending->p.version &&
	      strcmp(p.manifest_sha256, n->pending->p.manifest_sha256) == 0))) {
		/* The same pointer again (retained, at a reconnect). */
		goto out;
	}
	if (rc == MC_OK)
		rc = mc_pointer_check(&p, n->id, n->applied_version,
		                      mc_now_ms(), &err);
	if (rc == MC_OK && n->pending && p.version < n->pending->p.version)
		/* Older than the one being applied: never go back. */
		rc = mc_error_set(&err, MC_ERR_REPLAY,
		                  "version: %" PRId64 " is older than version "
		                  "%" PRId64 " being applied",
		                  p.version, n->pending->p.version);
	if (rc != MC_OK) {
		enum sim_reject r = sim_reject_of(rc);

		n->c.ptr_rej[r]++;
		sim_log_reject(s, "node %s: pointer refused (%s): %s", n->id,
		               sim_reject_name(r), err.msg);
		goto out;
	}
	if (p.version > n->max_version_seen)
		n->max_version_seen = p.version;
	pending_free(n); /* a newer pointer replaces one in progress */
	pd = calloc(1, sizeof(*pd));
	if (!pd) {
		mc_log_error("sim", "node %s: out of memory", n->id);
		goto out;
	}
	pd->p = p;
	memset(&p, 0, sizeof(p));
	pd->received_ms = mc_now_ms();
	n->pending = pd;
	sim_fetch_manifest(s, n);
out:
	mc_pointer_clear(&p);
	mc_signed_clear(&sg);
}

static void fetch_failed(struct sim_node *n, const char *what, const char *why)
{
	struct sim *s = sim_g;
	struct sim_pending *pd = n->pending;

	pd->failed = true;
	n->c.fetch_failed++;
	sim_log_reject(s, "node %s: version %" PRId64 ": %s: %s", n->id,
	               pd->p.version, what, why);
}

void sim_node_fetched(struct sim_node *n, int64_t version, bool manifest,
                      bool ok, const char *data, size_t len, const char *err)
{
	struct sim *s = sim_g;
	struct sim_pending *pd = n->pending;
	struct msum *sum = NULL;
	bool owned = false;

	if (!pd || pd->p.version != version)
		return; /* replaced by a newer pointer meanwhile */
	if (!manifest) {
		if (!ok)
			fetch_failed(n, "asset download", err);
		if (--pd->waiting > 0)
			return;
		goto done;
	}
	if (!ok) {
		fetch_failed(n, "manifest download", err);
		goto done;
	}
	if (s->o.share_manifests)
		sum = msum_find(pd->p.manifest_sha256);
	if (!sum) {
		struct mc_manifest *mf = NULL;
		struct mc_error perr = {0};

		if (mc_manifest_parse(data, len, MC_DOC_MANIFEST, &mf, &perr) !=
		    MC_OK) {
			fetch_failed(n, "manifest refused", perr.msg);
			goto done;
		}
		if (mf->node && strcmp(mf->node, n->id) != 0) {
			fetch_failed(n, "manifest refused",
			             "it names another node");
			mc_manifest_free(mf);
			goto done;
		}
		sum = msum_make(mf, pd->p.manifest_sha256);
		mc_manifest_free(mf);
		if (!sum) {
			fetch_failed(n, "manifest", "out of memory");
			goto done;
		}
		if (s->o.share_manifests) {
			sum->next = sums;
			sums = sum;
		} else {
			owned = true;
		}
	}
	snprintf(n->content, sizeof(n->content), "%s", sum->content);
	snprintf(n->content_sha, sizeof(n->content_sha), "%s",
	         sum->content_sha);
	snprintf(n->entry, sizeof(n->entry), "%s", sum->entry);
	if (s->o.fetch_assets && sum->n_assets) {
		pd->waiting = (int)sum->n_assets;
		for (size_t i = 0; i < sum->n_assets; i++)
			sim_fetch_asset(s, n, version, sum->assets[i].url,
			                sum->assets[i].sha,
			                sum->assets[i].size);
		if (owned)
			msum_free(sum);
		return; /* applied when the last asset is in */
	}
	if (owned)
		msum_free(sum);
done:
	if (!n->pending)
		return;
	if (n->pending->failed) {
		/* Like the player: keep the old version, try again later. */
		n->pending->failed = false;
		if (++n->pending->tries < FETCH_TRIES) {
			sim_timer_set(n, SIM_T_RETRY,
			              mc_mono_ms() + FETCH_RETRY_MS *
			                                     n->pending->tries);
			return;
		}
		sim_log_reject(s,
		               "node %s: version %" PRId64 " given up after "
		               "%d tries",
		               n->id, n->pending->p.version, FETCH_TRIES);
		pending_free(n);
		return;
	}
	apply(n);
}

/* ---- alerts ---- */

static void publish_ack(struct sim_node *n, const char *alert, int64_t seq,
                        const char *status, int64_t start_ms,
                        const char *reason)
{
	struct mc_alert_ack ack = {0};
	char *json;

	ack.node = n->id;
	ack.alert = (char *)alert;
	ack.seq = seq;
	ack.status = (char *)status;
	ack.start_ms = start_ms;
	ack.reason = (char *)reason;
	ack.at_ms = mc_now_ms();
	json = mc_alert_ack_dump(&ack);
	node_publish(n, MC_TOPIC_ALERT_ACK, json, 1, false, NULL);
	free(json);
}

static struct sim_alert_rec *alert_rec_add(struct sim_node *n,
                                           const struct mc_alert *a)
{
	struct sim_alert_rec *r;

	r = realloc(n->alerts, (n->n_alerts + 1) * sizeof(*r));
	if (!r)
		return NULL;
	n->alerts = r;
	r = &n->alerts[n->n_alerts++];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s", a->id);
	r->seq = a->seq;
	r->clear = a->clear;
	r->issued_ms = a->issued_ms;
	r->start_at_ms = a->start_at_ms;
	return r;
}

/* Highest seq handled for alert id; INT64_MIN when none. */
static int64_t alert_last_seq(const struct sim_node *n, const char *id)
{
	int64_t last = INT64_MIN;

	for (size_t i = 0; i < n->n_alerts; i++)
		if (strcmp(n->alerts[i].id, id) == 0 && n->alerts[i].seq > last)
			last = n->alerts[i].seq;
	return last;
}

static void arm_starts(struct sim_node *n)
{
	int64_t first = INT64_MAX, now_ms = mc_now_ms();

	for (size_t i = 0; i < n->n_starts; i++)
		if (n->starts[i].at_ms < first)
			first = n->starts[i].at_ms;
	if (first == INT64_MAX) {
		sim_timer_clear(n, SIM_T_ALERT);
		return;
	}
	sim_timer_set(n, SIM_T_ALERT,
	              mc_mono_ms() + (first > now_ms ? first - now_ms : 0));
}

static void on_alert(struct sim_node *n, const char *alert_id,
                     const char *payload, size_t len)
{
	struct sim *s = sim_g;
	struct mc_signed sg = {0};
	struct mc_alert a = {0};
	struct mc_error err = {0};
	struct mc_who who = {n->id, n->site, n->tags, n->n_tags};
	struct sim_alert_rec *rec;
	int64_t now = mc_now_ms(), last;
	char reason[MC_ERROR_MSG_MAX + 32];
	enum mc_err rc;

	if (len == 0)
		return; /* an unsigned deletion never stops an alert */
	n->c.alerts++;
	/* The player's order (player/control.c): verify, parse, the id
	 * against the topic, targets, seen, then expiry and replay. */
	rc = verify(s, payload, len, MC_PURPOSE_ALERT, &sg, &err);
	if (rc == MC_OK)
		rc = mc_alert_parse(sg.body, sg.body_len, &a, &err);
	if (rc != MC_OK) {
		enum sim_reject r = sim_reject_of(rc);

		n->c.alert_rej[r]++;
		sim_log_reject(s, "node %s: alert/%s refused (%s): %s", n->id,
		               alert_id, sim_reject_name(r), err.msg);
		goto out;
	}
	if (strcmp(a.id, alert_id) != 0) {
		n->c.alert_rej[SIM_REJ_MALFORMED]++;
		snprintf(reason, sizeof(reason),
		         "relabelled: the signed body names alert '%s'", a.id);
		publish_ack(n, alert_id, a.seq, "rejected", 0, reason);
		n->c.alert_rejected++;
		goto out;
	}
	if (!mc_targets_match(&a.targets, &who)) {
		n->c.alerts_not_for_me++;
		goto out;
	}
	last = alert_last_seq(n, a.id);
	if (a.seq == last) {
		n->c.alerts_again++; /* retained, delivered again */
		goto out;
	}
	rc = mc_alert_check(&a, NULL, last, now, &err);
	if (rc != MC_OK) {
		enum sim_reject r = sim_reject_of(rc);

		n->c.alert_rej[r]++;
		snprintf(reason, sizeof(reason), "%s: %s",
		         r == SIM_REJ_EXPIRED  ? "expired"
		         : r == SIM_REJ_REPLAY ? "replay"
		                               : mc_strerror(rc),
		         err.msg);
		publish_ack(n, a.id, a.seq, "rejected", 0, reason);
		n->c.alert_rejected++;
		rec = alert_rec_add(n, &a);
		if (rec) {
			rec->status = 'r';
			rec->delivered_ms = 0;
		}
		goto out;
	}
	rec = alert_rec_add(n, &a);
	publish_ack(n, a.id, a.seq, "delivered", 0, NULL);
	n->c.alert_delivered++;
	if (rec) {
		rec->delivered_ms = mc_now_ms();
		rec->status = 'd';
	}
	if (!a.clear && rec) {
		struct sim_start *st;

		st = realloc(n->starts, (n->n_starts + 1) * sizeof(*st));
		if (st) {
			n->starts = st;
			st = &n->starts[n->n_starts++];
			snprintf(st->id, sizeof(st->id), "%s", a.id);
			st->seq = a.seq;
			st->at_ms = a.start_at_ms > now ? a.start_at_ms : now;
			st->rec = n->n_alerts - 1;
			arm_starts(n);
		}
	}
out:
	mc_alert_clear(&a);
	mc_signed_clear(&sg);
}

/* Send every "started" ack that is due. */
static void send_starts(struct sim_node *n)
{
	int64_t now = mc_now_ms();
	size_t k = 0;

	for (size_t i = 0; i < n->n_starts; i++) {
		struct sim_start *st = &n->starts[i];

		if (st->at_ms > now) {
			n->starts[k++] = *st;
			continue;
		}
		if (n->link != SIM_L_UP) {
			n->starts[k++] = *st; /* sent when back */
			continue;
		}
		publish_ack(n, st->id, st->seq, "started", st->at_ms, NULL);
		n->c.alert_started++;
		if (st->rec < n->n_alerts) {
			n->alerts[st->rec].started_ms = mc_now_ms();
			n->alerts[st->rec].start_ms = st->at_ms;
			n->alerts[st->rec].status = 's';
		}
	}
	n->n_starts = k;
	if (k && n->link == SIM_L_UP)
		arm_starts(n);
}

/* ---- commands ---- */

static void on_command(struct sim_node *n, const char *payload, size_t len)
{
	struct sim *s = sim_g;
	struct mc_signed sg = {0};
	struct mc_command c = {0};
	struct mc_command_result r = {0};
	struct mc_error err = {0};
	enum mc_err rc;
	char msg[MC_ERROR_MSG_MAX + 64];
	char *json;

	if (len == 0)
		return;
	n->c.commands++;
	rc = verify(s, payload, len, MC_PURPOSE_COMMAND, &sg, &err);
	if (rc == MC_OK)
		rc = mc_command_parse(sg.body, sg.body_len, &c, &err);
	if (rc == MC_OK)
		rc = mc_command_check(&c, n->id, mc_now_ms(), &err);
	if (rc != MC_OK) {
		enum sim_reject r2 = sim_reject_of(rc);

		n->c.cmd_rej[r2]++;
		sim_log_reject(s, "node %s: command refused (%s): %s", n->id,
		               sim_reject_name(r2), err.msg);
		/* A verified command of ours that came too late is
		 * answered, as the player does; forged ones are not. */
		if (rc != MC_ERR_EXPIRED)
			goto out;
		snprintf(msg, sizeof(msg), "refused: %s", err.msg);
		r.ok = false;
	} else if (c.action == MC_CMD_IDENTIFY || c.action == MC_CMD_VOLUME ||
	           c.action == MC_CMD_RESYNC) {
		snprintf(msg, sizeof(msg), "simulated: %s done",
		         mc_command_action_name(c.action));
		r.ok = true;
		n->c.cmd_ok++;
	} else {
		snprintf(msg, sizeof(msg), "not simulated: %s",
		         mc_command_action_name(c.action));
		r.ok = false;
		n->c.cmd_failed++;
	}
	r.id = c.id;
	r.node = n->id;
	r.message = msg;
	r.at_ms = mc_now_ms();
	json = mc_command_result_dump(&r);
	node_publish(n, MC_TOPIC_CMD_RESULT, json, 1, false, NULL);
	free(json);
out:
	mc_command_clear(&c);
	mc_signed_clear(&sg);
}

/* ---- proof of play ---- */

/*
 * How long an unacknowledged record waits before it is sent again; at
 * the stop, at most 5 s, so that a batch the controller did not take is
 * sent again within the drain.
 */
static int64_t resend_ms(const struct sim *s)
{
	int64_t r = (int64_t)(s->o.pop_resend_s * 1000);

	return s->stopping && r > 5000 ? 5000 : r;
}

/* Arm the pop timer at `at`, or at the next record or resend if sooner. */
static void arm_pop(struct sim_node *n, int64_t at)
{
	struct sim *s = sim_g;
	int64_t now = mc_mono_ms(), due = at;
	int64_t resend = resend_ms(s);

	if (n->link != SIM_L_UP)
		return;
	if (s->o.pop_rate > 0 && !s->stopping) {
		double per_ms = s->o.pop_rate / 60000.0;
		int64_t next =
		        now + (int64_t)((1.0 - n->pop_credit) / per_ms) + 1;

		if (due <= 0 || next < due)
			due = next;
	}
	for (struct sim_pop *r = n->pop_head; r; r = r->next) {
		int64_t d = r->sent_mono ? r->sent_mono + resend : now;

		if (due <= 0 || d < due)
			due = d;
		if (!r->sent_mono)
			break;
	}
	/* Like the player, one batch per POP_SEND_MS: records made
	 * meanwhile travel together (not while draining, nor after a full
	 * batch). */
	if (due > 0 && !s->stopping && n->pop_sent_mono &&
	    due < n->pop_sent_mono + POP_SEND_MS)
		due = n->pop_sent_mono + POP_SEND_MS;
	if (due > 0)
		sim_timer_set(n, SIM_T_POP, due < now ? now : due);
	else
		sim_timer_clear(n, SIM_T_POP);
}

static void make_records(struct sim_node *n, int64_t now_mono)
{
	struct sim *s = sim_g;
	int64_t now_ms = mc_now_ms();
	double per_ms, elapsed, c0;

	if (s->o.pop_rate <= 0 || s->stopping) {
		n->pop_last_mono = now_mono;
		return;
	}
	per_ms = s->o.pop_rate / 60000.0;
	elapsed = (double)(now_mono - n->pop_last_mono);
	c0 = n->pop_credit;
	n->pop_credit += elapsed * per_ms;
	n->pop_last_mono = now_mono;
	for (int k = 1; n->pop_credit >= 1.0; k++) {
		struct sim_pop *r = calloc(1, sizeof(*r));
		/* When this play ended: where the credit crossed k. */
		double at = ((double)k - c0) / per_ms;

		n->pop_credit -= 1.0;
		if (!r)
			break;
		r->seq = n->pop_next_seq++;
		r->end_ms = now_ms -
		            (int64_t)(elapsed - (at < elapsed ? at : elapsed));
		r->start_ms = r->end_ms - PLAY_MS;
		if (n->pop_tail)
			n->pop_tail->next = r;
		else
			n->pop_head = r;
		n->pop_tail = r;
		n->pop_outstanding++;
		n->c.pop_records++;
	}
}

static void send_batch(struct sim_node *n, int64_t now)
{
	struct sim *s = sim_g;
	struct mc_pop_record recs[POP_BATCH_MAX];
	char ids[POP_BATCH_MAX][128];
	struct sim_pop *picked[POP_BATCH_MAX];
	struct mc_pop_batch b = {0};
	int64_t resend = resend_ms(s);
	size_t k = 0;
	char *json;
	char batch[MC_ID_MAX + 64];

	for (struct sim_pop *r = n->pop_head; r && k < POP_BATCH_MAX;
	     r = r->next) {
		struct mc_pop_record *pr = &recs[k];

		if (r->sent_mono > 1 && now - r->sent_mono < resend)
			continue;
		snprintf(ids[k], sizeof(ids[k]), "%s-%" PRId64 "-%" PRId64,
		         n->id, s->boot, r->seq);
		memset(pr, 0, sizeof(*pr));
		pr->id = ids[k];
		pr->content = n->content[0] ? n->content : (char *)"sim-slogan";
		snprintf(pr->sha256, sizeof(pr->sha256), "%s", n->content_sha);
		pr->entry = n->entry[0] ? n->entry : NULL;
		pr->channel = MC_CH_SCREEN;
		pr->start_ms = r->start_ms;
		pr->end_ms = r->end_ms;
		pr->completed = true;
		pr->count = 1;
		picked[k++] = r;
	}
	if (!k)
		return;
	n->pop_batch_no++;
	snprintf(batch, sizeof(batch), "%s-%" PRId64 "-b%" PRId64, n->id,
	         s->boot, n->pop_batch_no);
	/* A batch id is an id (at most 64): long node ids drop out of it,
	 * as in the player's outbox. */
	if (strlen(batch) > MC_ID_MAX)
		snprintf(batch, sizeof(batch), "%" PRId64 "-b%" PRId64, s->boot,
		         n->pop_batch_no);
	b.node = n->id;
	b.batch = batch;
	b.records = recs;
	b.n_records = k;
	json = mc_pop_batch_dump(&b);
	if (node_publish(n, MC_TOPIC_POP, json, 1, false, NULL) == 0) {
		n->c.pop_batches++;
		/* A full batch may be followed at once, as in the player. */
		n->pop_sent_mono = k == POP_BATCH_MAX ? 0 : now;
		for (size_t i = 0; i < k; i++) {
			if (picked[i]->sent_mono == 0)
				n->c.pop_sent++;
			else
				n->c.pop_resent++;
			picked[i]->sent_mono = now;
		}
	}
	free(json);
}

static void on_pop_ack(struct sim_node *n, const char *payload, size_t len)
{
	struct sim *s = sim_g;
	struct mc_pop_ack ack = {0};
	struct mc_error err = {0};
	char prefix[MC_ID_MAX + 32];
	size_t plen;

	n->c.pop_acks++;
	if (mc_pop_ack_parse(payload, len, &ack, &err) != MC_OK ||
	    strcmp(ack.node, n->id) != 0) {
		n->c.bad_messages++;
		sim_log_reject(s, "node %s: pop ack refused: %s", n->id,
		               err.msg[0] ? err.msg : "names another node");
		goto out;
	}
	plen = (size_t)snprintf(prefix, sizeof(prefix), "%s-%" PRId64 "-",
	                        n->id, s->boot);
	for (size_t i = 0; i < ack.n_ids; i++) {
		struct sim_pop *r = n->pop_head, *prev = NULL;
		char *end;
		int64_t seq;

		if (strncmp(ack.ids[i], prefix, plen) != 0) {
			n->c.pop_ack_unknown++;
			continue;
		}
		seq = strtoll(ack.ids[i] + plen, &end, 10);
		while (r && r->seq != seq) {
			prev = r;
			r = r->next;
		}
		if (!r || *end) {
			n->c.pop_ack_unknown++; /* acked before */
			continue;
		}
		if (prev)
			prev->next = r->next;
		else
			n->pop_head = r->next;
		if (n->pop_tail == r)
			n->pop_tail = prev;
		free(r);
		n->pop_outstanding--;
		n->c.pop_acked++;
	}
out:
	mc_pop_ack_clear(&ack);
}

/* ---- health ---- */

static void send_health(struct sim_node *n)
{
	struct sim *s = sim_g;
	struct mc_health h = {0};
	char *json;

	h.node = n->id;
	h.at_ms = mc_now_ms();
	h.uptime_s = 86400 + (h.at_ms - s->start_ms) / 1000;
	h.load1 = 0.2 + sim_rand() * 0.3;
	h.mem_total_kb = 1000000;
	h.mem_avail_kb = 600000 + (int64_t)(sim_rand() * 10000);
	h.disk_total_bytes = 31000000000LL;
	h.disk_free_bytes = 20000000000LL;
	h.cache_bytes = 500000000LL;
	h.has_temp = true;
	h.cpu_temp_c = 48.0 + sim_rand() * 8.0;
	h.throttled = 0;
	h.clock_synced = true;
	h.clock_offset_ms = sim_rand() - 0.5;
	h.applied_version = n->applied_version;
	h.playing[MC_CH_SCREEN].content = n->content[0] ? n->content : NULL;
	h.playing[MC_CH_SCREEN].entry = n->entry[0] ? n->entry : NULL;
	h.playing[MC_CH_SCREEN].reason =
	        (char *)(n->applied_version ? "scheduled" : "no manifest");
	h.playing[MC_CH_SPEAKER].reason = (char *)"not present";
	h.reconnects = n->c.connects > 0 ? n->c.connects - 1 : 0;
	json = mc_health_dump(&h);
	if (node_publish(n, MC_TOPIC_HEALTH, json, 0, false, NULL) == 0)
		n->c.health++;
	free(json);
}

/* ---- timers, drain, stop ---- */

void sim_node_timer(struct sim_node *n, enum sim_timer t, int64_t now)
{
	struct sim *s = sim_g;

	switch (t) {
	case SIM_T_CONNECT:
		if (n->link == SIM_L_WAIT || n->link == SIM_L_IDLE)
			sim_node_connect(n);
		break;
	case SIM_T_HEALTH:
		if (n->link != SIM_L_UP || s->stopping)
			break;
		send_health(n);
		sim_timer_set(n, SIM_T_HEALTH,
		              now + (int64_t)(s->o.health_s * 1000 *
		                              (0.9 + 0.2 * sim_rand())));
		break;
	case SIM_T_POP:
		make_records(n, now);
		if (n->link != SIM_L_UP)
			break;
		send_batch(n, now);
		arm_pop(n, 0);
		break;
	case SIM_T_ALERT: send_starts(n); break;
	case SIM_T_RETRY:
		if (n->pending)
			sim_fetch_manifest(s, n);
		break;
	default: break;
	}
}

void sim_node_drain(struct sim_node *n)
{
	sim_timer_clear(n, SIM_T_HEALTH);
	if (n->link == SIM_L_UP && n->pop_head)
		sim_timer_set(n, SIM_T_POP, mc_mono_ms());
	if (n->link == SIM_L_IDLE || n->link == SIM_L_WAIT) {
		sim_timer_clear(n, SIM_T_CONNECT);
		n->link = SIM_L_DONE;
	}
}

void sim_node_stop(struct sim_node *n)
{
	char *json;

	for (int t = 0; t < SIM_T_COUNT; t++)
		sim_timer_clear(n, (enum sim_timer)t);
	switch (n->link) {
	case SIM_L_UP:
		/* A broker sends no will after a clean disconnect: say
		 * offline first (protocol §3.1), then disconnect on its
		 * PUBACK (on_publish). */
		json = state_json(n, false);
		if (node_publish(n, MC_TOPIC_STATE, json, 1, true,
		                 &n->stop_mid) == 0) {
			n->link = SIM_L_STOPPING;
			sim_g->connected--;
		} else {
			mosquitto_disconnect(n->m);
			n->link = SIM_L_DONE;
			sim_g->connected--;
		}
		free(json);
		break;
	case SIM_L_CONNECTING:
		mosquitto_disconnect(n->m);
		n->link = SIM_L_DONE;
		break;
	default: n->link = SIM_L_DONE; break;
	}
	sim_node_sync_io(n);
}

/* ---- messages ---- */

static void on_message(struct mosquitto *m, void *obj,
                       const struct mosquitto_message *msg)
{
	struct sim_node *n = obj;
	const char *payload = msg->payload ? msg->payload : "";
	size_t len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
	const char *suffix = NULL;
	char id[65];

	(void)m;
	if (mc_topic_parse_node(msg->topic, id, &suffix) == MC_OK) {
		if (strcmp(id, n->id) != 0)
			return;
		if (strcmp(suffix, MC_TOPIC_DESIRED) == 0)
			on_pointer(n, payload, len);
		else if (strcmp(suffix, MC_TOPIC_CMD) == 0)
			on_command(n, payload, len);
		else if (strcmp(suffix, MC_TOPIC_POP_ACK) == 0)
			on_pop_ack(n, payload, len);
		return;
	}
	if (mc_topic_parse_alert(msg->topic, id) == MC_OK)
		on_alert(n, id, payload, len);
}
