/*
 * minecast-controller — /metrics and /healthz (metrics.h).
 *
 * Latency histograms and counters live in memory under one mutex: an
 * HTTP request adds to one histogram, which costs a lock and a few
 * additions.  Gauges that the database knows (nodes by status, rollout
 * lag) are read when Prometheus scrapes, from mcc_fleet_metrics().
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "db.h"
#include "fleet.h"
#include "http.h"
#include "mcc.h"
#include "metrics.h"
#include "mqtt.h"

/* Upper bounds of the latency buckets, seconds (+Inf is implied). */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

/* Longest counter name kept. */
#define NAME_MAX_BYTES 128

/* One histogram: a route pattern and a status class. */
struct hist {
	const char *pattern;       /* from a route table (static) */
	int cls;                   /* status / 100: 2 = 2xx */
	uint64_t bucket[N_BOUNDS]; /* requests at or below each bound */
	uint64_t count;            /* all requests */
	double sum;                /* seconds, summed */
};

/* One counter. */
struct counter {
	char name[NAME_MAX_BYTES]; /* metric name, maybe with {labels} */
	int64_t value;             /* its total */
};

struct mcc_metrics {
	pthread_mutex_t lock;      /* guards everything below */
	struct hist *hists;        /* n_hists histograms */
	size_t n_hists, cap_hists; /* used, allocated */
	struct counter *counters;  /* n_counters counters */
	size_t n_counters, cap_counters;
};

enum mc_err mcc_metrics_init(struct mcc *c)
{
	struct mcc_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		return MC_ERR_NOMEM;
	pthread_mutex_init(&m->lock, NULL);
	c->metrics = m;
	return MC_OK;
}

void mcc_metrics_free(struct mcc *c)
{
	struct mcc_metrics *m = c->metrics;

	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->hists);
	free(m->counters);
	free(m);
	c->metrics = NULL;
}

void mcc_metrics_request(struct mcc *c, const char *pattern, int status,
                         double seconds)
{
	struct mcc_metrics *m = c->metrics;
	struct hist *h = NULL;
	int cls = status / 100;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_hists; i++) {
		if (m->hists[i].cls == cls &&
		    (m->hists[i].pattern == pattern ||
		     strcmp(m->hists[i].pattern, pattern) == 0)) {
			h = &m->hists[i];
			break;
		}
	}
	if (!h) {
		if (m->n_hists == m->cap_hists) {
			size_t cap = m->cap_hists ? m->cap_hists * 2 : 32;
			struct hist *p = realloc(m->hists, cap * sizeof(*p));

			if (!p)
				goto out;
			m->hists = p;
			m->cap_hists = cap;
		}
		h = &m->hists[m->n_hists++];
		memset(h, 0, sizeof(*h));
		h->pattern = pattern;
		h->cls = cls;
	}
	for (size_t i = 0; i < N_BOUNDS; i++)
		if (seconds <= bounds[i])
			h->bucket[i]++;
	h->count++;
	h->sum += seconds;
out:
	pthread_mutex_unlock(&m->lock);
}

void mcc_metrics_count(struct mcc *c, const char *name, int64_t n)
{
	struct mcc_metrics *m = c->metrics;
	struct counter *k = NULL;

	if (!m || strlen(name) >= NAME_MAX_BYTES)
		return;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_counters; i++) {
		if (strcmp(m->counters[i].name, name) == 0) {
			k = &m->counters[i];
			break;
		}
	}
	if (!k) {
		if (m->n_counters == m->cap_counters) {
			size_t cap = m->cap_counters ? m->cap_counters * 2 : 16;
			struct counter *p =
			        realloc(m->counters, cap * sizeof(*p));

			if (!p)
				goto out;
			m->counters = p;
			m->cap_counters = cap;
		}
		k = &m->counters[m->n_counters++];
		memset(k, 0, sizeof(*k));
		snprintf(k->name, sizeof(k->name), "%s", name);
	}
	k->value += n;
out:
	pthread_mutex_unlock(&m->lock);
}

int64_t mcc_metrics_counter(struct mcc *c, const char *name)
{
	struct mcc_metrics *m = c->metrics;
	int64_t v = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_counters; i++)
		if (strcmp(m->counters[i].name, name) == 0)
			v = m->counters[i].value;
	pthread_mutex_unlock(&m->lock);
	return v;
}

/* A growing text buffer. */
struct buf {
	char *p;    /* text (owned) */
	size_t len; /* bytes used */
	size_t cap; /* bytes allocated */
	bool oom;   /* an append failed */
};

static void add(struct buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap ? b->cap * 2 : 8192;
		while (cap - b->len <= (size_t)n)
			cap *= 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

/* A label value with \ " and newline escaped, as the format wants. */
static void add_label(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			add(b, "\\%c", *v);
		else if (*v == '\n')
			add(b, "\\n");
		else
			add(b, "%c", *v);
	}
}

/* Letters, digits, '_' and ':', not starting with a digit. */
static bool metric_name_ok(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == ':'))
			return false;
	}
	return true;
}

/* A JSON number as text. */
static void add_number(struct buf *b, json_t *v)
{
	if (json_is_integer(v))
		add(b, "%lld", (long long)json_integer_value(v));
	else
		add(b, "%.17g", json_real_value(v));
}

/*
 * The gauges of mcc_fleet_metrics (metrics.h says the shape):
 *   "name": number                    name number
 *   "name{label}": {"v1": n, ...}     name{label="v1"} n
 */
static void add_fleet(struct buf *b, json_t *obj)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		const char *brace = strchr(key, '{');
		size_t nl = brace ? (size_t)(brace - key) : strlen(key);
		char label[64];
		const char *k2;
		json_t *v2;

		if (!metric_name_ok(key, nl))
			continue;
		if (json_is_number(v) && !brace) {
			add(b, "# TYPE %s gauge\n%s ", key, key);
			add_number(b, v);
			add(b, "\n");
			continue;
		}
		if (!brace || !json_is_object(v))
			continue;
		if (snprintf(label, sizeof(label), "%s", brace + 1) >=
		            (int)sizeof(label) ||
		    strlen(label) < 2 || label[strlen(label) - 1] != '}')
			continue;
		label[strlen(label) - 1] = '\0';
		if (!metric_name_ok(label, strlen(label)))
			continue;
		add(b, "# TYPE %.*s gauge\n", (int)nl, key);
		json_object_foreach(v, k2, v2)
		{
			if (!json_is_number(v2))
				continue;
			add(b, "%.*s{%s=\"", (int)nl, key, label);
			add_label(b, k2);
			add(b, "\"} ");
			add_number(b, v2);
			add(b, "\n");
		}
	}
}

static void h_metrics(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	struct mcc_metrics *m = c->metrics;
	struct buf b = {0};
	sqlite3 *db = mcc_db(c);
	json_t *fleet = json_object();
	const char *last = NULL;

	add(&b, "# HELP minecast_http_request_duration_seconds HTTP request "
	        "latency by route pattern and status class.\n"
	        "# TYPE minecast_http_request_duration_seconds histogram\n");
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->n_hists; i++) {
		struct hist *h = &m->hists[i];

		for (size_t j = 0; j < N_BOUNDS; j++) {
			add(&b, "minecast_http_request_duration_seconds_bucket{"
			        "route=\"");
			add_label(&b, h->pattern);
			add(&b, "\",code=\"%dxx\",le=\"%g\"} %llu\n", h->cls,
			    bounds[j], (unsigned long long)h->bucket[j]);
		}
		add(&b,
		    "minecast_http_request_duration_seconds_bucket{route=\"");
		add_label(&b, h->pattern);
		add(&b, "\",code=\"%dxx\",le=\"+Inf\"} %llu\n", h->cls,
		    (unsigned long long)h->count);
		add(&b, "minecast_http_request_duration_seconds_sum{route=\"");
		add_label(&b, h->pattern);
		add(&b, "\",code=\"%dxx\"} %.6f\n", h->cls, h->sum);
		add(&b,
		    "minecast_http_request_duration_seconds_count{route=\"");
		add_label(&b, h->pattern);
		add(&b, "\",code=\"%dxx\"} %llu\n", h->cls,
		    (unsigned long long)h->count);
	}
	for (size_t i = 0; i < m->n_counters; i++) {
		const char *name = m->counters[i].name;
		size_t nl = strcspn(name, "{");

		if (!last || strncmp(last, name, nl) != 0 ||
		    strcspn(last, "{") != nl)
			add(&b, "# TYPE %.*s counter\n", (int)nl, name);
		last = name;
		add(&b, "%s %lld\n", name, (long long)m->counters[i].value);
	}
	pthread_mutex_unlock(&m->lock);
	add(&b,
	    "# TYPE minecast_mqtt_connected gauge\nminecast_mqtt_connected "
	    "%d\n",
	    mcc_mqtt_connected(c) ? 1 : 0);
	add(&b,
	    "# TYPE minecast_start_time_seconds gauge\n"
	    "minecast_start_time_seconds %.3f\n",
	    (double)c->started_ms / 1000.0);
	add(&b,
	    "# TYPE minecast_signing_key_loaded gauge\n"
	    "minecast_signing_key_loaded %d\n",
	    c->have_key ? 1 : 0);
	if (db && fleet) {
		mcc_fleet_metrics(c, db, fleet);
		add_fleet(&b, fleet);
	}
	json_decref(fleet);
	if (b.oom) {
		free(b.p);
		mcc_resp_error(rs, 500, NULL, "out of memory");
		return;
	}
	mcc_resp_bytes(rs, 200, "text/plain; version=0.0.4; charset=utf-8", b.p,
	               b.len);
}

static void h_healthz(struct mcc_req *rq, struct mcc_resp *rs)
{
	struct mcc *c = rq->c;
	sqlite3 *db = mcc_db(c);
	sqlite3_stmt *st = db ? mcc_db_prepare(db, "SELECT 1") : NULL;
	bool db_ok = st && sqlite3_step(st) == SQLITE_ROW;

	mcc_db_done(st);
	mcc_resp_json(
	        rs, db_ok ? 200 : 503,
	        json_pack("{s:b, s:b, s:b, s:b, s:s, s:I}", "ok", db_ok, "db",
	                  db_ok, "mqtt", mcc_mqtt_connected(c), "signing_key",
	                  c->have_key, "version", MC_VERSION, "uptime_s",
	                  (json_int_t)((mc_now_ms() - c->started_ms) / 1000)));
}

const struct mcc_route mcc_metrics_routes[] = {
        {"GET", "/metrics", 0, 0, 0, h_metrics},
        {"GET", "/healthz", 0, 0, 0, h_healthz},
        {NULL, NULL, 0, 0, 0, NULL},
};
