/*
 * minecast-player — bring-up, the main loop, health, proof-of-play
 * sending and the retained state.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "health.h"
#include "player.h"

/* Intervals of the periodic work, in milliseconds. */
#define CLOCK_CHECK_MS 5000
#define POP_SEND_MS    5000
#define GC_MS          (3600 * 1000)
/* The loop wakes at least this often, to notice clock steps. */
#define LOOP_MAX_WAIT_MS 1000
/* Proof-of-play batches sent per loop turn at most. */
#define POP_BATCHES_PER_TURN 10

/* ---- errors for health ---- */

void mc_player_error(struct mc_player *p, const char *module, const char *fmt,
                     ...)
{
	char msg[480], line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mc_log_error(module, "%s", msg);
	snprintf(line, sizeof(line), "%s: %s", module, msg);
	mc_errlist_add(&p->errors, line, mc_mono_ms());
}

/* ---- the retained state ---- */

static char *state_json(struct mc_player *p, bool online)
{
	struct mc_fetch_progress fp = {0};
	struct mc_state s = {0};

	if (p->fetch)
		mc_fetcher_progress(p->fetch, &fp);
	s.node = p->cfg.node_id;
	s.online = online;
	s.boot = p->st.boot;
	s.applied_version = p->st.applied.version;
	s.sync = (char *)mc_sync_status(p);
	s.items_outstanding =
	        (int64_t)p->sync.n_assets + (p->sync.manifest_wanted ? 1 : 0);
	s.bytes_outstanding = mc_sync_bytes_left(p);
	s.at_ms = mc_now_ms();
	s.software = "minecast-player " MC_VERSION;
	return mc_state_dump(&s);
}

void mc_player_publish_state(struct mc_player *p)
{
	char *on = state_json(p, true), *off = state_json(p, false);

	if (on && off && p->link) {
		mc_link_set_state(p->link, on, off);
		if (mc_link_publish(p->link, MC_TOPIC_STATE, on, strlen(on), 1,
		                    true) == MC_OK)
			p->state_dirty = false;
	}
	free(on);
	free(off);
}

/* ---- health ---- */

static void publish_health(struct mc_player *p)
{
	struct mc_health h = {0};
	struct mc_health_src src = {p->cfg.proc_root, p->cfg.sys_root,
	                            p->cfg.cache_dir};
	struct mc_fetch_progress fp = {0};
	char *json;

	h.throttled = -1;
	mc_health_collect(&src, &h);
	if (p->fetch)
		mc_fetcher_progress(p->fetch, &fp);
	h.node = p->cfg.node_id;
	h.at_ms = mc_now_ms();
	h.cache_bytes = mc_cache_usage(p->cache);
	h.clock_synced = p->clock_synced;
	h.clock_offset_ms = isnan(p->clock_offset_ms) ? 0 : p->clock_offset_ms;
	h.applied_version = p->st.applied.version;
	h.items_outstanding =
	        (int64_t)p->sync.n_assets + (p->sync.manifest_wanted ? 1 : 0);
	h.bytes_outstanding = mc_sync_bytes_left(p);
	mc_timeline_playing(p->tl, h.playing);
	mc_errlist_expire(&p->errors, mc_mono_ms(),
	                  (int64_t)p->cfg.health_errors_kept_s * 1000);
	h.errors = p->errors.msg;
	h.n_errors = p->errors.n;
	h.reconnects = p->link ? mc_link_reconnects(p->link) : 0;
	h.pop_summarised = p->outbox ? mc_outbox_summarised(p->outbox) : 0;
	json = mc_health_dump(&h);
	if (json && p->link)
		mc_link_publish(p->link, MC_TOPIC_HEALTH, json, strlen(json), 0,
		                false);
	free(json);
	/* The strings are borrowed from p, except what playing allocated. */
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		free(h.playing[ch].content);
		free(h.playing[ch].entry);
		free(h.playing[ch].reason);
	}
}

/* ---- proof of play ---- */

static void send_pop(struct mc_player *p, int64_t now)
{
	for (int i = 0; i < POP_BATCHES_PER_TURN; i++) {
		struct mc_pop_batch b = {0};
		struct mc_error err;
		char *json;
		int64_t n;

		if (mc_outbox_next_batch(p->outbox, p->cfg.pop_batch_max, now,
		                         (int64_t)p->cfg.pop_resend_s * 1000,
		                         &b, &err) != MC_OK) {
			mc_player_error(p, "pop", "cannot read outbox: %s",
			                err.msg);
			return;
		}
		n = (int64_t)b.n_records;
		json = n ? mc_pop_batch_dump(&b) : NULL;
		if (json)
			mc_link_publish(p->link, MC_TOPIC_POP, json,
			                strlen(json), 1, false);
		free(json);
		mc_pop_batch_clear(&b);
		if (n < p->cfg.pop_batch_max)
			return;
	}
}

static void on_pop_ack(struct mc_player *p, const char *payload, size_t len)
{
	struct mc_pop_ack ack = {0};
	struct mc_error err;
	int64_t n = 0;

	if (mc_pop_ack_parse(payload, len, &ack, &err) != MC_OK) {
		mc_player_error(p, "pop", "acknowledgement rejected: %s",
		                err.msg);
		return;
	}
	if (strcmp(ack.node, p->cfg.node_id) != 0)
		mc_player_error(p, "pop",
		                "acknowledgement for node '%s' ignored",
		                ack.node);
	else if (mc_outbox_ack(p->outbox, &ack, &n, &err) != MC_OK)
		mc_player_error(p, "pop", "cannot apply acknowledgement: %s",
		                err.msg);
	else
		mc_log_debug("pop",
		             "batch %s: %" PRId64 " records stored, "
		             "%" PRId64 " still waiting",
		             ack.batch, n, mc_outbox_pending(p->outbox));
	mc_pop_ack_clear(&ack);
}

/* ---- events ---- */

static void on_message(struct mc_player *p, const struct mc_event *ev)
{
	char id[65];
	const char *suffix;

	if (mc_topic_parse_node(ev->topic, id, &suffix) == MC_OK) {
		if (strcmp(id, p->cfg.node_id) != 0) {
			mc_log_warn("mqtt",
			            "message for node '%s' on %s "
			            "dropped",
			            id, ev->topic);
		} else if (strcmp(suffix, MC_TOPIC_DESIRED) == 0) {
			mc_sync_pointer(p, ev->payload, ev->len);
		} else if (strcmp(suffix, MC_TOPIC_CMD) == 0) {
			mc_control_command(p, ev->payload, ev->len);
		} else if (strcmp(suffix, MC_TOPIC_POP_ACK) == 0) {
			on_pop_ack(p, ev->payload, ev->len);
		} else {
			mc_log_warn("mqtt", "unexpected topic %s dropped",
			            ev->topic);
		}
		return;
	}
	if (mc_topic_parse_alert(ev->topic, id) == MC_OK) {
		mc_control_alert(p, id, ev->payload, ev->len);
		return;
	}
	mc_log_warn("mqtt", "unexpected topic %s dropped", ev->topic);
}

static void handle_events(struct mc_player *p)
{
	struct mc_event *ev = mc_evq_take(p->q);

	while (ev) {
		struct mc_event *next = ev->next;

		switch (ev->type) {
		case MC_EV_LINK_UP:
			mc_log_info("mqtt", "connected%s%s",
			            ev->text ? ": " : "",
			            ev->text ? ev->text : "");
			p->state_dirty = true;
			p->next_pop_ms = 0; /* drain the outbox now */
			break;
		case MC_EV_LINK_DOWN:
			mc_log_warn("mqtt",
			            "disconnected%s%s; playing on "
			            "from cache",
			            ev->text ? ": " : "",
			            ev->text ? ev->text : "");
			break;
		case MC_EV_MESSAGE: on_message(p, ev); break;
		case MC_EV_FETCH_DONE: mc_sync_fetched(p, ev); break;
		case MC_EV_UPLOAD_DONE:
		case MC_EV_HOOK_DONE: mc_control_done(p, ev); break;
		}
		mc_event_free(ev);
		ev = next;
	}
}

/* The timeline's errors (a file that would not play) go into health. */
static void timeline_error(void *ud, const char *module, const char *msg)
{
	mc_player_error(ud, module, "%s", msg);
}

/* ---- bring-up ---- */

static enum mc_err make_dir(const char *path, struct mc_error *err)
{
	char *copy = mc_strdup(path);

	if (!copy)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	/* mkdir -p: every prefix, then the whole path. */
	for (char *s = copy + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(copy, 0755);
		*s = '/';
	}
	free(copy);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                    strerror(errno));
	return MC_OK;
}

static void outputs_init(struct mc_player *p)
{
	const char *names[MC_CH_COUNT] = {p->cfg.screen_output,
	                                  p->cfg.speaker_output};
	bool want[MC_CH_COUNT] = {p->cfg.screen, p->cfg.speaker};

	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		const struct mc_output_ops *ops;
		struct mc_error err = {0};
		size_t k;

		if (!want[ch])
			continue;
		ops = mc_output_find(names[ch]);
		if (!ops || !(ops->channels & (1u << ch))) {
			mc_player_error(p, "output",
			                "%s: backend '%s' cannot serve it",
			                mc_channel_name((enum mc_channel)ch),
			                names[ch] ? names[ch] : "(none)");
			continue;
		}
		/* One instance per backend, shared by the channels. */
		for (k = 0; k < p->n_outputs; k++)
			if (p->outputs[k].ops == ops)
				break;
		if (k == p->n_outputs) {
			p->outputs[k].ops = ops;
			if (ops->init(&p->outputs[k], &p->cfg, &err) != MC_OK) {
				mc_player_error(
				        p, "output",
				        "%s: %s backend failed: %s",
				        mc_channel_name((enum mc_channel)ch),
				        ops->name, err.msg);
				p->outputs[k].ops = NULL;
				continue;
			}
			p->n_outputs++;
		}
		p->out[ch] = &p->outputs[k];
	}
}

enum mc_err mc_player_init(struct mc_player *p, const char *config_path,
                           struct mc_error *err)
{
	struct mc_timeline_deps deps = {0};
	char *path = NULL, *on = NULL, *off = NULL;
	enum mc_err rc;
	int64_t n = 0;

	memset(p, 0, sizeof(*p));
	p->clock_offset_ms = NAN;
	p->started_mono = mc_mono_ms();
	rc = mc_config_load(config_path, &p->cfg, err);
	if (rc != MC_OK)
		return rc;
	mc_log_set_level((enum mc_log_level)p->cfg.log_level);
	if ((rc = make_dir(p->cfg.state_dir, err)) != MC_OK ||
	    (rc = make_dir(p->cfg.cache_dir, err)) != MC_OK)
		return rc;

	rc = mc_state_load(p->cfg.state_dir, &p->st, err);
	if (rc == MC_ERR_PARSE)
		mc_player_error(p, "state", "%s", err->msg);
	else if (rc != MC_OK)
		return rc;
	p->st.boot++;
	if ((rc = mc_state_save(p->cfg.state_dir, &p->st, err)) != MC_OK)
		return rc;
	p->volume = p->st.volume >= 0 ? p->st.volume : p->cfg.volume;

	p->q = mc_evq_new();
	if (!p->q)
		return mc_error_set(err, MC_ERR_NOMEM, "event queue: %s",
		                    strerror(errno));
	p->cache =
	        mc_cache_open(p->cfg.cache_dir, p->cfg.cache_quota_bytes, err);
	if (!p->cache)
		return err->code ? err->code : MC_ERR_IO;

	path = mc_printf("%s/outbox.db", p->cfg.state_dir);
	p->outbox = path ? mc_outbox_open(path, p->cfg.node_id, p->st.boot,
	                                  p->cfg.pop_outbox_max, err)
	                 : NULL;
	free(path);
	if (!p->outbox)
		return err->code ? err->code : MC_ERR_IO;
	if (mc_outbox_recover(p->outbox, mc_now_ms(), &n, err) != MC_OK)
		return err->code;
	if (n)
		mc_log_warn("pop",
		            "%" PRId64 " plays were cut short by the "
		            "last stop; recorded as interrupted",
		            n);

	outputs_init(p);
	deps.cfg = &p->cfg;
	deps.state = &p->st;
	deps.cache = p->cache;
	deps.outbox = p->outbox;
	deps.volume = p->volume;
	deps.error = timeline_error;
	deps.error_ud = p;
	memcpy(deps.out, p->out, sizeof(deps.out));
	p->tl = mc_timeline_new(&deps);
	if (!p->tl)
		return mc_error_set(err, MC_ERR_NOMEM, "timeline: no memory");
	mc_timeline_set_volume(p->tl, p->volume);

	/* Play from cache before touching the network. */
	p->clock_synced =
	        mc_clock_synced(p->cfg.clock_sync, &p->clock_offset_ms);
	mc_sync_boot(p);
	mc_timeline_tick(p->tl, mc_now_ms(), p->clock_synced);

	p->fetch = mc_fetcher_start(&p->cfg, p->cache, p->q, err);
	if (!p->fetch)
		return err->code ? err->code : MC_ERR_IO;
	mc_sync_resume(p);

	on = state_json(p, true);
	off = state_json(p, false);
	p->link = on && off ? mc_link_start(&p->cfg, p->q, on, off, err) : NULL;
	free(on);
	free(off);
	if (!p->link)
		return err->code ? err->code : MC_ERR_NOMEM;
	mc_log_info("player",
	            "node %s started (boot %" PRId64
	            ", applied version %" PRId64 ", clock %s)",
	            p->cfg.node_id, p->st.boot, p->st.applied.version,
	            p->clock_synced ? "synchronised" : "not synchronised");
	return MC_OK;
}

/* ---- the main loop ---- */

static struct mc_player *signal_target;

static void on_signal(int sig)
{
	(void)sig;
	if (signal_target)
		signal_target->stop = 1;
}

static void check_clock(struct mc_player *p)
{
	bool was = p->clock_synced;

	p->clock_synced =
	        mc_clock_synced(p->cfg.clock_sync, &p->clock_offset_ms);
	if (p->clock_synced == was)
		return;
	p->state_dirty = true;
	if (p->clock_synced) {
		mc_log_info("clock", "wall clock is synchronised: dated items "
		                     "play from now on");
		mc_sync_clock_synced(p);
	} else {
		mc_log_warn("clock", "wall clock lost synchronisation: only "
		                     "standing and fallback content plays");
	}
}

static bool outputs_alive(struct mc_player *p)
{
	for (size_t k = 0; k < p->n_outputs; k++)
		if (p->outputs[k].ops->alive &&
		    !p->outputs[k].ops->alive(&p->outputs[k]))
			return false;
	return true;
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int mc_player_run(struct mc_player *p)
{
	struct sigaction sa = {0};
	uint64_t wd_usec = 0;
	int64_t wd_every = 0, next_wd = 0;
	/* The schedule is evaluated when it asked to be, after events, and
	 * at least every LOOP_MAX_WAIT_MS (to notice clock steps) — not on
	 * every turn an animating output asks for. */
	int64_t sched_due = 0;
	bool events = true;

	signal_target = p;
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (sd_watchdog_enabled(0, &wd_usec) > 0)
		wd_every = (int64_t)(wd_usec / 2000);
	sd_notify(0, "READY=1");

	while (!p->stop) {
		int64_t now = mc_now_ms(), mono = mc_mono_ms();
		int64_t wake = mono + LOOP_MAX_WAIT_MS, t;
		struct pollfd pfd = {mc_evq_fd(p->q), POLLIN, 0};

		if (mono >= p->next_clock_ms) {
			check_clock(p);
			p->next_clock_ms = mono + CLOCK_CHECK_MS;
		}
		if (events || mono >= sched_due) {
			sched_due = mono + LOOP_MAX_WAIT_MS;
			/* Alerts first: one starting now holds the channels
			 * before the timeline decides what they play. */
			t = mc_control_tick(p, now);
			if (t != INT64_MAX)
				sched_due = min64(sched_due, mono + (t - now));
			t = mc_timeline_tick(p->tl, now, p->clock_synced);
			sched_due = min64(sched_due, mono + (t - now));
			events = false;
		}
		wake = min64(wake, sched_due);
		/* Outputs with a render loop or a bus: their turn, and how
		 * soon they want the next (-1: no wish). */
		for (size_t k = 0; k < p->n_outputs; k++) {
			struct mc_output *o = &p->outputs[k];

			if (o->ops && o->ops->tick &&
			    (t = o->ops->tick(o, now)) >= 0)
				wake = min64(wake, mc_mono_ms() + t);
		}
		if (mono >= p->next_health_ms) {
			publish_health(p);
			p->next_health_ms =
			        mono + (int64_t)p->cfg.health_interval_s * 1000;
		}
		if (mono >= p->next_pop_ms && mc_link_connected(p->link)) {
			send_pop(p, now);
			p->next_pop_ms = mono + POP_SEND_MS;
		}
		if (p->state_dirty && mc_link_connected(p->link))
			mc_player_publish_state(p);
		if (mono >= p->next_gc_ms) {
			mc_sync_gc(p, false);
			p->next_gc_ms = mono + GC_MS;
		}
		/* Fed only while the loop and every output are alive. */
		if (wd_every && mono >= next_wd && outputs_alive(p)) {
			sd_notify(0, "WATCHDOG=1");
			next_wd = mono + wd_every;
		}
		if (wd_every)
			wake = min64(wake, next_wd);
		wake = min64(wake, p->next_health_ms);
		t = wake - mc_mono_ms();
		if (poll(&pfd, 1, t < 0 ? 0 : (int)t) > 0) {
			handle_events(p);
			events = true;
		}
	}
	sd_notify(0, "STOPPING=1");
	mc_log_info("player", "stopping");
	return p->exit_code;
}

void mc_player_fini(struct mc_player *p)
{
	/* In reverse order of mc_player_init, which may have stopped half
	 * way: every step checks that its module was brought up. */
	if (p->link)
		mc_link_stop(p->link);
	if (p->fetch)
		mc_fetcher_stop(p->fetch);
	mc_timeline_free(p->tl);
	for (size_t k = 0; k < p->n_outputs; k++)
		if (p->outputs[k].ops && p->outputs[k].ops->uninit)
			p->outputs[k].ops->uninit(&p->outputs[k]);
	if (p->outbox)
		mc_outbox_close(p->outbox);
	if (p->cache)
		mc_cache_close(p->cache);
	mc_evq_free(p->q);
	mc_alert_clear(&p->alert.a);
	free(p->sync.held_pointer);
	for (size_t i = 0; i < p->sync.n_assets; i++)
		free(p->sync.assets[i]);
	free(p->sync.assets);
	mc_errlist_free(&p->errors);
	mc_state_free(&p->st);
	mc_config_free(&p->cfg);
	signal_target = NULL;
}
