/*
 * minecast-sim — many simulated nodes in one process (docs/sim.md).
 *
 * Module map:
 *   main.c    options, set-up, the run and the clean stop
 *   loop.c    the one epoll loop: node sockets, libcurl sockets, timers,
 *             signals
 *   node.c    what one node does: connect with will and birth, verify
 *             pointers, alerts and commands, health, proof of play
 *   fetch.c   manifest and asset downloads (libcurl multi, shared pool)
 *   api.c     --register and --provision through the controller's API
 *   report.c  counters, latencies and the JSON report
 *   fds.c     the file-descriptor budget (see there why libmosquitto's
 *             socket pairs are refused)
 *
 * Everything runs on one thread: no locks.  Times named *_ms are wall
 * clock (UTC epoch ms, comparable with the controller's issued_ms);
 * *_mono are CLOCK_MONOTONIC ms for timers.
 */
#ifndef MC_SIM_H
#define MC_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <mosquitto.h>

#include "minecast/messages.h"
#include "minecast/sign.h"

/* ---- options ---- */

/* A tag given with --tags: on every node, or on every every-th node. */
struct sim_tag {
	char *name; /* the tag (an id) */
	int every;  /* 1: every node; K: nodes whose index % K == 0 */
};

/* The command line, checked (main.c). */
struct sim_opts {
	int nodes;            /* --nodes: how many nodes */
	char *broker_host;    /* --broker HOST:PORT, host part */
	int broker_port;      /* port part */
	char *controller;     /* --controller: HTTP base, no trailing / */
	char *token;          /* --token: API bearer token, or NULL */
	char *trusted;        /* --trusted: the trusted keys file */
	char *prefix;         /* --prefix: node id prefix ("sim-") */
	int sites;            /* --sites: nodes spread over this many */
	struct sim_tag *tags; /* --tags */
	size_t n_tags;        /* entries of tags */
	bool reg;             /* --register */
	bool provision;       /* --provision */
	char *credentials;    /* --credentials FILE, or NULL */
	double health_s;      /* --health-s: seconds between healths */
	double pop_rate;      /* --pop-rate: records per node per minute */
	double pop_resend_s;  /* --pop-resend-s: resend after this */
	bool fetch_assets;    /* --fetch-assets */
	bool share_manifests; /* --share-manifests */
	bool share_verify;    /* --share-verify */
	int http_parallel;    /* --http-parallel: transfers at once */
	double connect_rate;  /* --connect-rate: connects per second */
	double duration_s;    /* --duration: 0 = until a signal */
	double drain_s;       /* --drain-s: wait for pop acks at stop */
	int keepalive_s;      /* --keepalive: MQTT keepalive */
	char *report;         /* --report FILE, or NULL */
	char *ready_file;     /* --ready-file FILE, or NULL */
	bool quiet;           /* --quiet: warnings and errors only */
	bool verbose;         /* --verbose: debug lines */
	double progress_s;    /* --progress-s: seconds between lines */
};

/* ---- statistics ---- */

/* A growing array of samples (ms) for percentiles. */
struct sim_samples {
	double *v;  /* the samples */
	size_t n;   /* used */
	size_t cap; /* allocated */
};

/* Add one sample (silently dropped when memory runs out). */
void sim_samples_add(struct sim_samples *s, double v);
void sim_samples_free(struct sim_samples *s);

/* Why a pointer, alert or command was refused, as counted. */
enum sim_reject {
	SIM_REJ_FORGED = 0, /* unknown key or bad signature */
	SIM_REJ_MALFORMED,  /* envelope or body does not parse, wrong purpose */
	SIM_REJ_NODE,       /* addressed to another node */
	SIM_REJ_REPLAY,     /* version or seq not newer */
	SIM_REJ_EXPIRED,    /* past its expiry */
	SIM_REJ_OTHER,      /* anything else (too large, unsupported) */
	SIM_REJ_COUNT
};

/* The report's name of a reason: "forged", "malformed", ... */
const char *sim_reject_name(enum sim_reject r);

/* Map a common/ error code to the reason counted. */
enum sim_reject sim_reject_of(enum mc_err rc);

/* One pointer applied by a node. */
struct sim_apply {
	int64_t version;     /* the pointer's version */
	int64_t issued_ms;   /* the pointer's issued_ms (controller clock) */
	int64_t received_ms; /* when the node got the pointer */
	int64_t applied_ms;  /* when it published the applied state */
};

/* One alert (id, seq) a node accepted. */
struct sim_alert_rec {
	char id[MC_ID_MAX + 1]; /* alert id */
	int64_t seq;            /* its seq */
	bool clear;             /* a clear message */
	int64_t issued_ms;      /* the alert's issued_ms */
	int64_t start_at_ms;    /* the alert's start_at_ms */
	int64_t delivered_ms;   /* when "delivered" was published */
	int64_t started_ms;     /* when "started" was published; 0 = not yet */
	int64_t start_ms;       /* start_ms carried by "started" */
	char status;            /* 'd' delivered, 's' started, 'r' rejected */
};

/* Per-node counters (also summed for the report). */
struct sim_counts {
	int64_t connects;         /* CONNACKs with success */
	int64_t connect_failures; /* refused or failed attempts */
	int64_t disconnects;      /* unexpected losses */
	int64_t pointers;         /* pointer messages received (non-empty) */
	int64_t applied;          /* pointers applied */
	int64_t fetch_failed;     /* manifest/asset downloads failed */
	int64_t ptr_rej[SIM_REJ_COUNT]; /* pointers refused, by reason */
	int64_t alerts;            /* alert messages received (non-empty) */
	int64_t alerts_not_for_me; /* verified, targets do not select us */
	int64_t alerts_again;      /* (id, seq) already handled */
	int64_t alert_delivered;   /* "delivered" acks sent */
	int64_t alert_started;     /* "started" acks sent */
	int64_t alert_rejected;    /* "rejected" acks sent */
	int64_t alert_rej[SIM_REJ_COUNT]; /* alerts refused, by reason */
	int64_t commands;                 /* command messages received */
	int64_t cmd_ok;                   /* results ok true */
	int64_t cmd_failed;             /* results ok false ("not simulated") */
	int64_t cmd_rej[SIM_REJ_COUNT]; /* commands refused, by reason */
	int64_t health;                 /* health messages sent */
	int64_t pop_records;            /* records made */
	int64_t pop_sent;               /* records sent at least once */
	int64_t pop_resent;      /* records sent again (no ack in time) */
	int64_t pop_acked;       /* records acknowledged */
	int64_t pop_batches;     /* batches sent */
	int64_t pop_acks;        /* ack messages received */
	int64_t pop_ack_unknown; /* acked ids we did not hold (repeats) */
	int64_t bad_messages;    /* pop acks that do not parse, etc. */
};

/* ---- nodes ---- */

/* Where a node's MQTT connection stands. */
enum sim_link {
	SIM_L_IDLE = 0,   /* not started yet */
	SIM_L_CONNECTING, /* socket open, no CONNACK yet */
	SIM_L_UP,         /* CONNACK received */
	SIM_L_WAIT,       /* waiting to reconnect */
	SIM_L_STOPPING,   /* offline state sent, waiting for its PUBACK */
	SIM_L_DONE        /* disconnected at the stop */
};

/* Timers a node keeps (one due time each, see loop.c). */
enum sim_timer {
	SIM_T_CONNECT = 0, /* (re)connect now */
	SIM_T_HEALTH,      /* send health */
	SIM_T_POP,         /* make records, send or resend a batch */
	SIM_T_ALERT,       /* send due "started" acks */
	SIM_T_RETRY,       /* download the pending manifest again */
	SIM_T_COUNT
};

/* A proof-of-play record held until the controller acknowledges it. */
struct sim_pop {
	int64_t seq;          /* record number: id is <node>-<boot>-<seq> */
	int64_t start_ms;     /* when the simulated item started */
	int64_t end_ms;       /* when it ended */
	int64_t sent_mono;    /* last time it was sent; 0 = never */
	struct sim_pop *next; /* the next record, oldest first */
};

/* A pointer being applied (verified, manifest or assets downloading). */
struct sim_pending {
	struct mc_pointer p; /* the verified pointer (owned) */
	int64_t received_ms; /* when it arrived */
	int waiting;         /* downloads still running */
	bool failed;         /* a download failed: not applied */
	int tries;           /* attempts that failed so far */
};

/* A "started" ack waiting for the alert's start_at_ms. */
struct sim_start {
	char id[MC_ID_MAX + 1]; /* alert id */
	int64_t seq;            /* alert seq */
	int64_t at_ms;          /* when to send (start_at_ms) */
	size_t rec;             /* index in the node's alert records */
};

/* One simulated node. */
struct sim_node {
	int idx;                      /* 0-based index */
	char id[MC_ID_MAX + 1];       /* node id = client id = user name */
	char site[MC_ID_MAX + 1];     /* its site */
	const char **tags;            /* its tags (borrowed from the options) */
	size_t n_tags;                /* how many */
	char *password;               /* MQTT/HTTP password, NULL = none */
	struct mosquitto *m;          /* the node's own MQTT client */
	int fd;                       /* socket registered with epoll, -1 */
	uint32_t events;              /* events registered for fd */
	enum sim_link link;           /* connection state */
	bool subscribed;              /* SUBACK received since the connect */
	bool ever_subscribed;         /* counted once for readiness */
	int sub_mid;                  /* message id of the SUBSCRIBE */
	int stop_mid;                 /* message id of the offline state */
	int64_t connect_mono;         /* when the attempt started */
	double first_connect_ms;      /* first connect latency; <0 none yet */
	int backoff_ms;               /* next reconnect delay */
	int64_t due[SIM_T_COUNT];     /* timers; 0 = not armed */
	int64_t applied_version;      /* highest version applied */
	char applied_sha[65];         /* its manifest's sha256 */
	int64_t max_version_seen;     /* highest verified version seen */
	struct sim_pending *pending;  /* a pointer being applied, or NULL */
	struct sim_apply *applies;    /* pointers applied, in order */
	size_t n_applies;             /* how many */
	struct sim_alert_rec *alerts; /* alerts handled, in order */
	size_t n_alerts;              /* how many */
	struct sim_start *starts;     /* "started" acks due */
	size_t n_starts;              /* how many */
	char content[MC_ID_MAX + 1];  /* content its pop records name */
	char content_sha[65];         /* that content's sha256, "" none */
	char entry[MC_ID_MAX + 1];    /* entry id of the records, "" none */
	struct sim_pop *pop_head;     /* records not yet acknowledged */
	struct sim_pop *pop_tail;     /* the newest of them */
	int64_t pop_next_seq;         /* next record number */
	int64_t pop_batch_no;         /* batches made so far */
	int64_t pop_sent_mono;   /* when the last batch went; 0 = send now */
	double pop_credit;       /* records owed (fractional) */
	int64_t pop_last_mono;   /* when pop_credit was last topped up */
	int64_t pop_outstanding; /* records in the list */
	int64_t health_seq;      /* healths sent (uptime base) */
	struct sim_counts c;     /* what happened to this node */
};

/* ---- the whole simulator ---- */

struct sim_fetch; /* fetch.c */

struct sim {
	struct sim_opts o;          /* options */
	struct mc_keyring keys;     /* the trusted keys */
	struct sim_node *nodes;     /* o.nodes nodes */
	char **site_ids;            /* o.sites site ids */
	int64_t boot;               /* boot number of every node (record ids) */
	int64_t start_ms;           /* wall clock at start */
	int64_t start_mono;         /* monotonic at start */
	int epfd;                   /* the epoll instance */
	int sigfd;                  /* signalfd: INT, TERM, USR1 */
	struct sim_fetch *fetch;    /* downloads */
	bool stopping;              /* the stop has begun */
	int64_t stop_mono;          /* when the stop began */
	bool drained;               /* pop drain over, nodes going offline */
	int next_stop;              /* next node to say goodbye (paced) */
	int64_t goodbye_mono;       /* when the last goodbye was started */
	bool done;                  /* leave the loop */
	int exit_code;              /* 0 clean, 1 trouble */
	int connected;              /* nodes with link UP */
	int subscribed;             /* nodes subscribed at least once */
	int64_t ready_mono;         /* when every node was subscribed; 0 */
	int64_t last_progress_mono; /* when the last progress line went out */
	int64_t next_connect_mono;  /* next node's first connect (ramp) */
	int next_connect;           /* index of the next node to start */
	struct sim_samples connect_ms; /* first connect latencies */
	int64_t log_budget;            /* rejection lines left before summary */
	int64_t log_suppressed;        /* rejection lines held back */
	int64_t http_requests;         /* HTTP downloads started */
	int64_t http_bytes;            /* bytes downloaded */
	int64_t http_errors;           /* downloads failed */
	int64_t manifest_fetches;      /* manifest downloads */
	int64_t manifest_shared; /* manifests taken from the shared cache */
	int64_t asset_fetches;   /* asset downloads */
	int64_t asset_shared;    /* assets already verified (shared) */
	int64_t verify_shared;   /* signature checks taken from the cache */
	int64_t loop_turns;      /* epoll_wait returns */
	double busy_ms;          /* time spent handling events */
};

/* The one simulator (main.c). */
extern struct sim *sim_g;

/* ---- loop.c ---- */

/* Epoll data tags: which kind of fd an event is for. */
#define SIM_EV_NODE   0x1ULL
#define SIM_EV_CURL   0x2ULL
#define SIM_EV_SIGNAL 0x3ULL
#define SIM_EV_SHIFT  56

/* Arm timer t of node at monotonic due (replaces an armed one). */
void sim_timer_set(struct sim_node *n, enum sim_timer t, int64_t due);

/* Disarm it. */
void sim_timer_clear(struct sim_node *n, enum sim_timer t);

/*
 * Bring node's epoll registration in line with its MQTT socket and
 * whether libmosquitto has bytes to write.  Call after every call into
 * libmosquitto for that node.
 */
void sim_node_sync_io(struct sim_node *n);

/* Run until s->done.  Returns 0, or -1 if epoll fails. */
int sim_loop_run(struct sim *s);

/* Set up epoll, signals and timers; -1 with a log line on failure. */
int sim_loop_init(struct sim *s);
void sim_loop_free(struct sim *s);

/* ---- node.c ---- */

/* Create the node's MQTT client (no connection yet). */
int sim_node_init(struct sim *s, struct sim_node *n);
void sim_node_free(struct sim_node *n);

/* Start a connection attempt (timer SIM_T_CONNECT). */
void sim_node_connect(struct sim_node *n);

/* Socket readable / writable / a second passed (keepalive). */
void sim_node_read(struct sim_node *n);
void sim_node_write(struct sim_node *n);
void sim_node_misc(struct sim_node *n);

/* A node timer fired. */
void sim_node_timer(struct sim_node *n, enum sim_timer t, int64_t now_mono);

/* Stop generating records, send what is owed at once. */
void sim_node_drain(struct sim_node *n);

/* Publish the offline state and disconnect (the clean stop). */
void sim_node_stop(struct sim_node *n);

/*
 * A download for node n finished.  ok false: err says why.  For a
 * manifest, data/len are its verified bytes.
 */
void sim_node_fetched(struct sim_node *n, int64_t version, bool manifest,
                      bool ok, const char *data, size_t len, const char *err);

/* Count and (rate-limited) log one refusal. */
void sim_log_reject(struct sim *s, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* ---- fetch.c ---- */

/* Set up the shared download pool; -1 on failure. */
int sim_fetch_init(struct sim *s);
void sim_fetch_free(struct sim *s);

/*
 * Fetch the manifest of node n's pending pointer (url absolute or
 * relative to --controller), check size and sha256; then (with
 * --fetch-assets) its assets.  The outcome comes back through
 * sim_node_fetched.
 */
void sim_fetch_manifest(struct sim *s, struct sim_node *n);

/*
 * Fetch one asset of node n's pending pointer (version) and check its
 * size and sha256; the outcome comes back through sim_node_fetched.
 * With --share-manifests an asset verified once is not fetched again.
 */
void sim_fetch_asset(struct sim *s, struct sim_node *n, int64_t version,
                     const char *url, const char *sha, int64_t size);

/* Downloads queued or running. */
int sim_fetch_busy(struct sim *s);

/* libcurl socket activity on fd (events EPOLLIN/OUT/ERR). */
void sim_fetch_socket(struct sim *s, int fd, uint32_t events);

/* libcurl's timer: ms until it wants a call, -1 none. */
long sim_fetch_timeout(struct sim *s);

/* Call libcurl for its timer when due. */
void sim_fetch_tick(struct sim *s);

/* ---- api.c ---- */

/* --register: sites and nodes through the API.  -1 on failure. */
int sim_api_register(struct sim *s);

/* --provision: one password per node.  -1 on failure. */
int sim_api_provision(struct sim *s);

/* ---- report.c ---- */

/* Write the report to o.report (if set); -1 on failure (logged). */
int sim_report_write(struct sim *s);

/* One progress line. */
void sim_report_progress(struct sim *s);

/* The summary lines printed at exit. */
void sim_report_final(struct sim *s);

/* ---- fds.c ---- */

/*
 * While true, socketpair() fails for the caller (libmosquitto's private
 * wake-up pair); see fds.c.
 */
extern bool sim_refuse_socketpair;

/*
 * Raise RLIMIT_NOFILE to the hard limit; measure the descriptors one
 * node costs with node 0 created; fail with a message when n nodes
 * do not fit.  Returns 0 or -1.
 */
int sim_fds_raise(void);
int sim_fds_check(struct sim *s, int fds_before_node0);

/* Open file descriptors of this process (from /proc/self/fd). */
int sim_fds_open(void);

/* ---- misc ---- */

/* Uniform random double in [0, 1) (not for secrets). */
double sim_rand(void);

#endif
