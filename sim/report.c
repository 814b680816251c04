/*
 * minecast-sim — counters, latencies and the JSON report (docs/sim.md,
 * "Report").  The format is what bench/ reads: change it only together
 * with docs/sim.md, and keep "format" in step.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "sim.h"

#define REPORT_FORMAT "minecast-sim-report/1"

void sim_samples_add(struct sim_samples *s, double v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		double *nv = realloc(s->v, cap * sizeof(*nv));

		if (!nv)
			return;
		s->v = nv;
		s->cap = cap;
	}
	s->v[s->n++] = v;
}

void sim_samples_free(struct sim_samples *s)
{
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double pct(const double *v, size_t n, double p)
{
	size_t k = (size_t)ceil(p / 100.0 * (double)n);

	return v[k ? k - 1 : 0];
}

/* {"n","min","p50","p90","p99","max","mean"} of the samples, or null. */
static json_t *dist(struct sim_samples *s)
{
	double sum = 0;

	if (!s->n)
		return json_null();
	qsort(s->v, s->n, sizeof(*s->v), cmp_double);
	for (size_t i = 0; i < s->n; i++)
		sum += s->v[i];
	return json_pack("{s:I, s:f, s:f, s:f, s:f, s:f, s:f}", "n",
	                 (json_int_t)s->n, "min", s->v[0], "p50",
	                 pct(s->v, s->n, 50), "p90", pct(s->v, s->n, 90), "p99",
	                 pct(s->v, s->n, 99), "max", s->v[s->n - 1], "mean",
	                 sum / (double)s->n);
}

static void counts_add(struct sim_counts *t, const struct sim_counts *c)
{
	const int64_t *src = (const int64_t *)c;
	int64_t *dst = (int64_t *)t;

	/* Every member is an int64_t (or an array of them). */
	for (size_t i = 0; i < sizeof(*c) / sizeof(int64_t); i++)
		dst[i] += src[i];
}

static json_t *rej_obj(const int64_t *r)
{
	json_t *o = json_object();

	for (int i = 0; i < SIM_REJ_COUNT; i++)
		json_object_set_new(o, sim_reject_name((enum sim_reject)i),
		                    json_integer(r[i]));
	return o;
}

static json_t *counts_json(const struct sim_counts *c)
{
	json_t *o = json_object();

	json_object_set_new(
	        o, "mqtt",
	        json_pack("{s:I, s:I, s:I}", "connects",
	                  (json_int_t)c->connects, "connect_failures",
	                  (json_int_t)c->connect_failures, "disconnects",
	                  (json_int_t)c->disconnects));
	json_object_set_new(o, "pointers",
	                    json_pack("{s:I, s:I, s:I, s:o}", "received",
	                              (json_int_t)c->pointers, "applied",
	                              (json_int_t)c->applied, "fetch_failed",
	                              (json_int_t)c->fetch_failed, "rejected",
	                              rej_obj(c->ptr_rej)));
	json_object_set_new(
	        o, "alerts",
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "received",
	                  (json_int_t)c->alerts, "not_for_me",
	                  (json_int_t)c->alerts_not_for_me, "again",
	                  (json_int_t)c->alerts_again, "delivered",
	                  (json_int_t)c->alert_delivered, "started",
	                  (json_int_t)c->alert_started, "rejected_acks",
	                  (json_int_t)c->alert_rejected, "rejected",
	                  rej_obj(c->alert_rej)));
	json_object_set_new(o, "commands",
	                    json_pack("{s:I, s:I, s:I, s:o}", "received",
	                              (json_int_t)c->commands, "ok",
	                              (json_int_t)c->cmd_ok, "not_simulated",
	                              (json_int_t)c->cmd_failed, "rejected",
	                              rej_obj(c->cmd_rej)));
	json_object_set_new(o, "health",
	                    json_pack("{s:I}", "sent", (json_int_t)c->health));
	json_object_set_new(
	        o, "pop",
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "records",
	                  (json_int_t)c->pop_records, "sent",
	                  (json_int_t)c->pop_sent, "resent",
	                  (json_int_t)c->pop_resent, "acked",
	                  (json_int_t)c->pop_acked, "outstanding",
	                  (json_int_t)(c->pop_records - c->pop_acked),
	                  "batches", (json_int_t)c->pop_batches, "acks",
	                  (json_int_t)c->pop_acks, "ack_repeats",
	                  (json_int_t)c->pop_ack_unknown));
	return o;
}

static const char *link_name(enum sim_link l)
{
	switch (l) {
	case SIM_L_IDLE: return "idle";
	case SIM_L_CONNECTING: return "connecting";
	case SIM_L_UP: return "online";
	case SIM_L_WAIT: return "reconnecting";
	case SIM_L_STOPPING: return "stopping";
	case SIM_L_DONE: return "stopped";
	}
	return "?";
}

static json_t *node_json(struct sim *s, const struct sim_node *n)
{
	json_t *o = json_object(), *tags = json_array(), *ap = json_array(),
	       *al = json_array();

	for (size_t i = 0; i < n->n_tags; i++)
		json_array_append_new(tags, json_string(n->tags[i]));
	for (size_t i = 0; i < n->n_applies; i++) {
		const struct sim_apply *a = &n->applies[i];

		json_array_append_new(
		        ap, json_pack("{s:I, s:I, s:I, s:I}", "version",
		                      (json_int_t)a->version, "issued_ms",
		                      (json_int_t)a->issued_ms, "received_ms",
		                      (json_int_t)a->received_ms, "applied_ms",
		                      (json_int_t)a->applied_ms));
	}
	for (size_t i = 0; i < n->n_alerts; i++) {
		const struct sim_alert_rec *a = &n->alerts[i];

		json_array_append_new(
		        al,
		        json_pack("{s:s, s:I, s:b, s:s, s:I, s:I, s:I, s:I, "
		                  "s:I}",
		                  "id", a->id, "seq", (json_int_t)a->seq,
		                  "clear", a->clear, "status",
		                  a->status == 's'   ? "started"
		                  : a->status == 'd' ? "delivered"
		                                     : "rejected",
		                  "issued_ms", (json_int_t)a->issued_ms,
		                  "start_at_ms", (json_int_t)a->start_at_ms,
		                  "delivered_ms", (json_int_t)a->delivered_ms,
		                  "started_ms", (json_int_t)a->started_ms,
		                  "start_ms", (json_int_t)a->start_ms));
	}
	json_object_set_new(o, "id", json_string(n->id));
	json_object_set_new(o, "site", json_string(n->site));
	json_object_set_new(o, "tags", tags);
	json_object_set_new(o, "link", json_string(link_name(n->link)));
	json_object_set_new(o, "connect_ms",
	                    n->first_connect_ms >= 0
	                            ? json_real(n->first_connect_ms)
	                            : json_null());
	json_object_set_new(o, "applied_version",
	                    json_integer(n->applied_version));
	json_object_set_new(o, "applies", ap);
	json_object_set_new(o, "alerts", al);
	json_object_set_new(o, "counts", counts_json(&n->c));
	(void)s;
	return o;
}

/* Latency summaries of one pointer version, built while walking nodes. */
struct vstat {
	int64_t version;        /* the version */
	int64_t nodes;          /* nodes that applied it */
	int64_t issued_min;     /* earliest issued_ms */
	int64_t issued_max;     /* latest issued_ms */
	int64_t first_applied;  /* earliest applied_ms */
	int64_t last_applied;   /* latest applied_ms */
	struct sim_samples lat; /* issued -> applied */
};

/* One (alert id, seq), likewise. */
struct astat {
	char id[MC_ID_MAX + 1];    /* alert id */
	int64_t seq;               /* seq */
	bool clear;                /* a clear */
	int64_t issued_ms;         /* its issued_ms */
	int64_t delivered;         /* nodes that acked delivered */
	int64_t started;           /* nodes that acked started */
	int64_t rejected;          /* nodes that rejected it */
	int64_t last_delivered_ms; /* latest delivered ack */
	int64_t last_started_ms;   /* latest started ack */
	struct sim_samples del;    /* issued -> delivered */
	struct sim_samples sta;    /* issued -> started ack */
	struct sim_samples skew;   /* start_ms - start_at_ms */
};

static json_t *build(struct sim *s)
{
	json_t *root = json_object(), *nodes = json_array(),
	       *vers = json_array(), *alerts = json_array(), *sum;
	struct sim_counts tot = {0};
	struct sim_samples i2a = {0}, r2a = {0};
	struct vstat *vs = NULL;
	struct astat *as = NULL;
	size_t n_vs = 0, n_as = 0;
	int64_t vmin = INT64_MAX, vmax = 0, at_max = 0, online = 0;

	for (int i = 0; i < s->o.nodes; i++) {
		const struct sim_node *n = &s->nodes[i];

		counts_add(&tot, &n->c);
		if (n->applied_version < vmin)
			vmin = n->applied_version;
		if (n->applied_version > vmax)
			vmax = n->applied_version;
		if (n->link == SIM_L_UP)
			online++;
		for (size_t k = 0; k < n->n_applies; k++) {
			const struct sim_apply *a = &n->applies[k];
			struct vstat *v = NULL;

			sim_samples_add(&i2a,
			                (double)(a->applied_ms - a->issued_ms));
			sim_samples_add(
			        &r2a, (double)(a->applied_ms - a->received_ms));
			for (size_t j = 0; j < n_vs; j++)
				if (vs[j].version == a->version)
					v = &vs[j];
			if (!v) {
				struct vstat *nv =
				        realloc(vs, (n_vs + 1) * sizeof(*vs));

				if (!nv)
					continue;
				vs = nv;
				v = &vs[n_vs++];
				memset(v, 0, sizeof(*v));
				v->version = a->version;
				v->issued_min = v->first_applied = INT64_MAX;
			}
			v->nodes++;
			if (a->issued_ms < v->issued_min)
				v->issued_min = a->issued_ms;
			if (a->issued_ms > v->issued_max)
				v->issued_max = a->issued_ms;
			if (a->applied_ms < v->first_applied)
				v->first_applied = a->applied_ms;
			if (a->applied_ms > v->last_applied)
				v->last_applied = a->applied_ms;
			sim_samples_add(&v->lat,
			                (double)(a->applied_ms - a->issued_ms));
		}
		for (size_t k = 0; k < n->n_alerts; k++) {
			const struct sim_alert_rec *a = &n->alerts[k];
			struct astat *x = NULL;

			for (size_t j = 0; j < n_as; j++)
				if (as[j].seq == a->seq &&
				    strcmp(as[j].id, a->id) == 0)
					x = &as[j];
			if (!x) {
				struct astat *na =
				        realloc(as, (n_as + 1) * sizeof(*as));

				if (!na)
					continue;
				as = na;
				x = &as[n_as++];
				memset(x, 0, sizeof(*x));
				snprintf(x->id, sizeof(x->id), "%s", a->id);
				x->seq = a->seq;
				x->clear = a->clear;
				x->issued_ms = a->issued_ms;
			}
			if (a->status == 'r') {
				x->rejected++;
				continue;
			}
			x->delivered++;
			if (a->delivered_ms > x->last_delivered_ms)
				x->last_delivered_ms = a->delivered_ms;
			sim_samples_add(&x->del, (double)(a->delivered_ms -
			                                  a->issued_ms));
			if (a->status == 's') {
				x->started++;
				if (a->started_ms > x->last_started_ms)
					x->last_started_ms = a->started_ms;
				sim_samples_add(
				        &x->sta,
				        (double)(a->started_ms - a->issued_ms));
				if (a->start_at_ms)
					sim_samples_add(
					        &x->skew,
					        (double)(a->start_ms -
					                 a->start_at_ms));
			}
		}
		json_array_append_new(nodes, node_json(s, n));
	}
	for (int i = 0; i < s->o.nodes; i++)
		if (s->nodes[i].applied_version == vmax)
			at_max++;
	for (size_t j = 0; j < n_vs; j++) {
		struct vstat *v = &vs[j];

		json_array_append_new(
		        vers,
		        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
		                  "version", (json_int_t)v->version, "nodes",
		                  (json_int_t)v->nodes, "issued_ms_min",
		                  (json_int_t)v->issued_min, "issued_ms_max",
		                  (json_int_t)v->issued_max, "first_applied_ms",
		                  (json_int_t)v->first_applied,
		                  "last_applied_ms",
		                  (json_int_t)v->last_applied,
		                  "issued_to_applied_ms", dist(&v->lat)));
		sim_samples_free(&v->lat);
	}
	for (size_t j = 0; j < n_as; j++) {
		struct astat *x = &as[j];

		json_array_append_new(
		        alerts,
		        json_pack(
		                "{s:s, s:I, s:b, s:I, s:I, s:I, s:I, s:I, s:I, "
		                "s:o, s:o, s:o}",
		                "id", x->id, "seq", (json_int_t)x->seq, "clear",
		                x->clear, "issued_ms", (json_int_t)x->issued_ms,
		                "delivered", (json_int_t)x->delivered,
		                "started", (json_int_t)x->started, "rejected",
		                (json_int_t)x->rejected, "last_delivered_ms",
		                (json_int_t)x->last_delivered_ms,
		                "last_started_ms",
		                (json_int_t)x->last_started_ms,
		                "issued_to_delivered_ms", dist(&x->del),
		                "issued_to_started_ms", dist(&x->sta),
		                "start_minus_start_at_ms", dist(&x->skew)));
		sim_samples_free(&x->del);
		sim_samples_free(&x->sta);
		sim_samples_free(&x->skew);
	}
	free(vs);
	free(as);
	if (vmin == INT64_MAX)
		vmin = 0;

	sum = counts_json(&tot);
	json_object_set_new(sum, "nodes", json_integer(s->o.nodes));
	json_object_set_new(sum, "online", json_integer(online));
	json_object_set_new(sum, "subscribed", json_integer(s->subscribed));
	json_object_set_new(sum, "ready_s",
	                    s->ready_mono ? json_real((double)(s->ready_mono -
	                                                       s->start_mono) /
	                                              1000.0)
	                                  : json_null());
	json_object_set_new(sum, "connect_ms", dist(&s->connect_ms));
	json_object_set_new(sum, "applied_version",
	                    json_pack("{s:I, s:I, s:I}", "min",
	                              (json_int_t)vmin, "max", (json_int_t)vmax,
	                              "nodes_at_max", (json_int_t)at_max));
	json_object_set_new(sum, "issued_to_applied_ms", dist(&i2a));
	json_object_set_new(sum, "received_to_applied_ms", dist(&r2a));
	json_object_set_new(
	        sum, "pop_lost",
	        json_integer(s->stopping && s->drained
	                             ? tot.pop_records - tot.pop_acked
	                             : 0));
	json_object_set_new(
	        sum, "http",
	        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "requests",
	                  (json_int_t)s->http_requests, "bytes",
	                  (json_int_t)s->http_bytes, "errors",
	                  (json_int_t)s->http_errors, "manifest_fetches",
	                  (json_int_t)s->manifest_fetches, "manifest_shared",
	                  (json_int_t)s->manifest_shared, "asset_fetches",
	                  (json_int_t)s->asset_fetches, "asset_shared",
	                  (json_int_t)s->asset_shared));
	json_object_set_new(sum, "verify_shared",
	                    json_integer(s->verify_shared));
	json_object_set_new(
	        sum, "loop",
	        json_pack("{s:I, s:f, s:f}", "turns", (json_int_t)s->loop_turns,
	                  "busy_s", s->busy_ms / 1000.0, "wall_s",
	                  (double)(mc_mono_ms() - s->start_mono) / 1000.0));
	sim_samples_free(&i2a);
	sim_samples_free(&r2a);

	json_object_set_new(root, "format", json_string(REPORT_FORMAT));
	json_object_set_new(root, "started_ms", json_integer(s->start_ms));
	json_object_set_new(root, "written_ms", json_integer(mc_now_ms()));
	json_object_set_new(root, "final",
	                    json_boolean(s->stopping && s->drained));
	json_object_set_new(root, "boot", json_integer(s->boot));
	json_object_set_new(
	        root, "options",
	        json_pack("{s:i, s:s, s:i, s:s, s:s, s:i, s:f, s:f, s:f, s:b, "
	                  "s:b, s:b, s:i, s:f, s:f}",
	                  "nodes", s->o.nodes, "broker_host", s->o.broker_host,
	                  "broker_port", s->o.broker_port, "controller",
	                  s->o.controller, "prefix", s->o.prefix, "sites",
	                  s->o.sites, "health_s", s->o.health_s, "pop_rate",
	                  s->o.pop_rate, "pop_resend_s", s->o.pop_resend_s,
	                  "fetch_assets", s->o.fetch_assets, "share_manifests",
	                  s->o.share_manifests, "share_verify",
	                  s->o.share_verify, "http_parallel",
	                  s->o.http_parallel, "connect_rate", s->o.connect_rate,
	                  "duration_s", s->o.duration_s));
	json_object_set_new(root, "summary", sum);
	json_object_set_new(root, "versions", vers);
	json_object_set_new(root, "alerts", alerts);
	json_object_set_new(root, "nodes", nodes);
	return root;
}

int sim_report_write(struct sim *s)
{
	json_t *root;
	char *text;
	struct mc_error err = {0};
	int ret = -1;

	if (!s->o.report)
		return 0;
	root = build(s);
	text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!text) {
		mc_log_error("sim", "cannot build the report (out of memory)");
		return -1;
	}
	if (mc_write_file_atomic(s->o.report, text, strlen(text), 0644, &err) !=
	    MC_OK)
		mc_log_error("sim", "cannot write the report: %s", err.msg);
	else
		ret = 0;
	free(text);
	return ret;
}

void sim_report_progress(struct sim *s)
{
	struct sim_counts t = {0};
	int64_t vmax = 0, at_max = 0, rej = 0;

	for (int i = 0; i < s->o.nodes; i++) {
		counts_add(&t, &s->nodes[i].c);
		if (s->nodes[i].applied_version > vmax)
			vmax = s->nodes[i].applied_version;
	}
	for (int i = 0; i < s->o.nodes; i++)
		if (s->nodes[i].applied_version == vmax)
			at_max++;
	for (int i = 0; i < SIM_REJ_COUNT; i++)
		rej += t.ptr_rej[i] + t.alert_rej[i] + t.cmd_rej[i];
	if (!vmax)
		at_max = 0; /* "version 0 applied on N" reads wrong */
	mc_log_info("sim",
	            "%d/%d online; version %" PRId64 " applied on %" PRId64
	            "; alerts %" PRId64 " delivered %" PRId64
	            " started; pop %" PRId64 " sent %" PRId64
	            " acked; health %" PRId64 "; refused %" PRId64
	            "; downloads %d waiting",
	            s->connected, s->o.nodes, vmax, at_max, t.alert_delivered,
	            t.alert_started, t.pop_sent, t.pop_acked, t.health, rej,
	            sim_fetch_busy(s));
	if (s->log_suppressed)
		mc_log_warn("sim", "%" PRId64 " more problem lines not shown",
		            s->log_suppressed);
	s->log_suppressed = 0;
	s->log_budget = 20;
}

void sim_report_final(struct sim *s)
{
	struct sim_counts t = {0};

	for (int i = 0; i < s->o.nodes; i++)
		counts_add(&t, &s->nodes[i].c);
	sim_report_progress(s);
	mc_log_info("sim",
	            "done: %" PRId64 " connects (%" PRId64 " failed, %" PRId64
	            " lost); %" PRId64 " pointers applied, %" PRId64
	            " downloads failed; proof of play %" PRId64
	            " made, %" PRId64 " acked, %" PRId64 " lost",
	            t.connects, t.connect_failures, t.disconnects, t.applied,
	            t.fetch_failed, t.pop_records, t.pop_acked,
	            t.pop_records - t.pop_acked);
}
