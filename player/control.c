/*
 * minecast-player — commands and alerts (player.h, "control.c").
 *
 * A command arrives signed on node/<id>/cmd.  It is verified, parsed and
 * checked (node, expiry), run, and answered with exactly one result on
 * node/<id>/cmd/result once its outcome is known: at once for resync,
 * identify, restart and volume; when the upload or the hook finishes for
 * screenshot and screen_power.  Reboot is the one exception: its result
 * "rebooting" goes out before the hook runs, because a hook that works
 * takes the machine down before it can report; a hook that fails sends a
 * second result with ok false.
 *
 * An alert arrives signed and retained on alert/<alert-id>.  It is
 * verified, parsed, checked (topic id, targets, expiry, seq), acknowledged
 * "delivered", started on every output at its start_at_ms (at once when
 * the clock is not synchronised: a safety message is never held) and
 * acknowledged "started"; it ends at its expiry or when a clear of the
 * same id arrives.  One alert is active at a time: the newest accepted
 * replaces the one showing, unless that one is of another id and more
 * urgent (then the newcomer is acknowledged "rejected", "outranked").
 *
 * Retained alerts come again after every reconnect.  So that a
 * redelivery is neither acted on twice nor reported as an error every
 * time, each (id, seq) is handled once per run; after a restart an alert
 * whose seq equals the persisted one and which is still valid is shown
 * again (the node went down in the middle of it).
 *
 * Everything here runs on the main thread.  The small tables below
 * (commands waiting for a worker, ids already handled) are file-scope,
 * bound to one player at a time (tables_for), so that struct mc_player
 * needs no field for them.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/text.h"
#include "minecast/topics.h"
#include "minecast/util.h"

#include "hooks.h"
#include "player.h"

/* Longest result message and ack reason (docs/protocol.md §6.3, §6.9). */
#define RESULT_MSG_MAX 4000
#define ACK_REASON_MAX 256

/*
 * An alert is handed to the outputs this long before its start_at_ms,
 * with that instant, so that they start it on time and the speakers of a
 * site sound in step (output.h: alert starts "at a->start_ms").
 */
#define ALERT_LEAD_MS 200

/* Commands whose result waits for an upload or a hook. */
#define PENDING_MAX 8

/* Command ids remembered so that a redelivery is not run twice. */
#define RECENT_CMDS 32

/* Alert (id, seq) pairs handled in this run. */
#define SEEN_ALERTS 64

/* A command waiting for MC_EV_UPLOAD_DONE or MC_EV_HOOK_DONE. */
struct pending {
	char id[MC_ID_MAX + 1]; /* correlation id = the worker's tag; "" free */
	enum mc_command_action action; /* for the wording of the result */
	bool power_on;                 /* screen_power: which way */
	size_t bytes;                  /* screenshot: bytes uploaded */
	uint64_t order;                /* age, to evict the oldest when full */
};

/* An alert (id, seq) already handled, whatever the outcome. */
struct seen_alert {
	char id[MC_ID_MAX + 1]; /* "" = free slot */
	int64_t seq;
};

static struct pending pending[PENDING_MAX];
static uint64_t pending_order;
static char recent_cmds[RECENT_CMDS][MC_ID_MAX + 1];
static size_t recent_next;
static struct seen_alert seen_alerts[SEEN_ALERTS];
static size_t seen_next;

/* The player the tables above belong to. */
static const struct mc_player *owner;
static int64_t owner_started;

/*
 * Start the tables afresh for a player they were not filled for (a test
 * that runs several players in one process one after the other).
 */
static void tables_for(const struct mc_player *p)
{
	if (owner == p && owner_started == p->started_mono)
		return;
	memset(pending, 0, sizeof(pending));
	memset(recent_cmds, 0, sizeof(recent_cmds));
	memset(seen_alerts, 0, sizeof(seen_alerts));
	pending_order = recent_next = seen_next = 0;
	owner = p;
	owner_started = p->started_mono;
}

/* ---- small helpers ---- */

/*
 * The instant expiry is judged against.  A node whose clock is not
 * synchronised cannot judge expiry (its clock may be years off, either
 * way), so it judges with 0: nothing is expired yet.  Alerts are judged
 * again by mc_control_tick once the clock is known (docs/protocol.md
 * §5.4).
 */
static int64_t judge_now(const struct mc_player *p, int64_t now)
{
	return p->clock_synced ? now : 0;
}

/* "10:42:03" today, "2023-11-12 10:42:03" another day; local time. */
static const char *fmt_when(int64_t ms, char buf[32])
{
	time_t t = (time_t)(ms / 1000), today = time(NULL);
	struct tm tm, now_tm;

	if (!localtime_r(&t, &tm) || !localtime_r(&today, &now_tm)) {
		snprintf(buf, 32, "%" PRId64 " ms", ms);
		return buf;
	}
	if (tm.tm_year == now_tm.tm_year && tm.tm_yday == now_tm.tm_yday)
		strftime(buf, 32, "%H:%M:%S", &tm);
	else
		strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
	return buf;
}

/* Bytes of the valid UTF-8 sequence at s (n bytes left), or 0; *cp. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t min, c = s[0];

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, min = 0x800, c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/*
 * A copy of in fit for a message field: invalid UTF-8 and control
 * characters (other than tab and newline) become '?', the text is cut at
 * a character boundary to at most max bytes and NFC-normalised, since
 * the receiver refuses anything else (a hook's output is arbitrary
 * bytes).  Caller frees; NULL on allocation failure.
 */
static char *clean_text(const char *in, size_t max)
{
	const unsigned char *s = (const unsigned char *)(in ? in : "");
	size_t n = strlen((const char *)s), at = 0, o = 0;
	char *out = malloc((n < max ? n : max) + 1), *nfc = NULL;
	struct mc_error err;

	if (!out)
		return NULL;
	while (at < n) {
		uint32_t cp = 0;
		size_t k = utf8_seq(s + at, n - at, &cp);
		bool bad = k == 0 || (cp < 0x20 && cp != '\t' && cp != '\n') ||
		           (cp >= 0x7f && cp <= 0x9f);
		size_t w = bad ? 1 : k;

		if (o + w > max)
			break;
		if (bad)
			out[o] = '?';
		else
			memcpy(out + o, s + at, k);
		o += w;
		at += k ? k : 1;
	}
	out[o] = '\0';
	if (mc_text_normalize(out, o, max, "message", &nfc, &err) != MC_OK)
		return out; /* NFC grew past max: send the clean form */
	free(out);
	return nfc;
}

/* text on one log line: each newline becomes "; " (cut to fit). */
static void one_line(const char *text, char *out, size_t len)
{
	const char *c = text;
	size_t o = 0;

	for (; *c && o + 3 < len; c++) {
		if (*c == '\n') {
			out[o++] = ';';
			out[o++] = ' ';
		} else {
			out[o++] = *c;
		}
	}
	/* Cut short: do not end inside a UTF-8 sequence. */
	while (*c && o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
		o--;
	if (*c && o > 0 && (unsigned char)out[o - 1] >= 0xc0)
		o--;
	out[o] = '\0';
}

/* Who this node is, for alert targets. */
static struct mc_who node_who(const struct mc_player *p)
{
	struct mc_who who = {
	        .node = p->cfg.node_id,
	        .site = p->cfg.site,
	        .tags = (const char *const *)p->cfg.tags,
	        .n_tags = p->cfg.n_tags,
	};

	return who;
}

/* ---- command results ---- */

/* Publish the one result of command id (QoS 1, not retained). */
static void publish_result(struct mc_player *p, const char *id, bool ok,
                           const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));

static void publish_result(struct mc_player *p, const char *id, bool ok,
                           const char *fmt, ...)
{
	struct mc_command_result r = {0};
	char buf[RESULT_MSG_MAX + 1], line[RESULT_MSG_MAX + 1];
	char *json = NULL;
	enum mc_err rc = MC_ERR_IO;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	r.id = (char *)id;
	r.node = p->cfg.node_id;
	r.ok = ok;
	r.message = clean_text(buf, RESULT_MSG_MAX);
	r.at_ms = mc_now_ms();
	json = r.message ? mc_command_result_dump(&r) : NULL;
	if (json && p->link)
		rc = mc_link_publish(p->link, MC_TOPIC_CMD_RESULT, json,
		                     strlen(json), 1, false);
	one_line(r.message ? r.message : buf, line, sizeof(line));
	if (rc == MC_OK)
		mc_log_info("cmd", "%s: result %s: %s", id,
		            ok ? "ok" : "failed", line);
	else
		mc_log_warn("cmd", "%s: result %s not sent (%s): %s", id,
		            ok ? "ok" : "failed",
		            json ? "not connected" : "out of memory", line);
	free(json);
	free(r.message);
}

static struct pending *pending_find(const char *id)
{
	for (size_t i = 0; i < PENDING_MAX; i++)
		if (pending[i].id[0] && strcmp(pending[i].id, id) == 0)
			return &pending[i];
	return NULL;
}

/*
 * Remember a command until its worker reports.  When the table is full
 * the oldest is forgotten: its result is still published from the tag,
 * only in plainer words.
 */
static void pending_add(const struct mc_command *c, size_t bytes)
{
	struct pending *slot = pending_find(c->id);

	for (size_t i = 0; !slot && i < PENDING_MAX; i++)
		if (!pending[i].id[0])
			slot = &pending[i];
	if (!slot) {
		slot = &pending[0];
		for (size_t i = 1; i < PENDING_MAX; i++)
			if (pending[i].order < slot->order)
				slot = &pending[i];
		mc_log_warn("cmd",
		            "%s: too many commands waiting; its "
		            "result will be worded plainly",
		            slot->id);
	}
	snprintf(slot->id, sizeof(slot->id), "%s", c->id);
	slot->action = c->action;
	slot->power_on = c->power_on;
	slot->bytes = bytes;
	slot->order = ++pending_order;
}

/* True if command id was already run in this run; remembers it if not. */
static bool command_seen(const char *id)
{
	for (size_t i = 0; i < RECENT_CMDS; i++)
		if (strcmp(recent_cmds[i], id) == 0)
			return true;
	snprintf(recent_cmds[recent_next], sizeof(recent_cmds[0]), "%s", id);
	recent_next = (recent_next + 1) % RECENT_CMDS;
	return false;
}

/*
 * The correlation id of a verified body that did not parse (an action
 * this build does not know, a missing argument), so the controller gets
 * an answer; only when the body names this node and the id is valid.
 */
static bool body_id(const struct mc_signed *s, const char *node,
                    char id[MC_ID_MAX + 1])
{
	json_t *root = json_loadb(s->body, s->body_len, 0, NULL);
	const char *v = json_string_value(json_object_get(root, "id"));
	const char *n = json_string_value(json_object_get(root, "node"));
	bool ok = v && n && mc_id_valid(v) && strcmp(n, node) == 0;

	if (ok)
		snprintf(id, MC_ID_MAX + 1, "%s", v);
	json_decref(root);
	return ok;
}

/* ---- command actions ---- */

/* "pi-01\nsite cua-lo\neth0 192.168.1.23, eth0 2001:db8::5". */
static char *identify_text(const struct mc_player *p)
{
	struct ifaddrs *ifs = NULL;
	char addrs[512] = "";
	size_t used = 0;

	if (getifaddrs(&ifs) == 0) {
		for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
			char a[INET6_ADDRSTRLEN];
			const void *src;
			int fam, n;

			if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK) ||
			    !(i->ifa_flags & IFF_UP))
				continue;
			fam = i->ifa_addr->sa_family;
			if (fam == AF_INET) {
				src = &((struct sockaddr_in *)(void *)
				                i->ifa_addr)
				               ->sin_addr;
			} else if (fam == AF_INET6) {
				const struct in6_addr *a6 =
				        &((struct sockaddr_in6 *)(void *)
				                  i->ifa_addr)
				                 ->sin6_addr;

				/* fe80:: cannot be reached without the
				 * interface; it would only crowd the
				 * screen. */
				if (IN6_IS_ADDR_LINKLOCAL(a6))
					continue;
				src = a6;
			} else {
				continue;
			}
			if (!inet_ntop(fam, src, a, sizeof(a)))
				continue;
			n = snprintf(addrs + used, sizeof(addrs) - used,
			             "%s%s %s", used ? ", " : "", i->ifa_name,
			             a);
			if (n < 0 || (size_t)n >= sizeof(addrs) - used) {
				addrs[used] = '\0';
				break;
			}
			used += (size_t)n;
		}
		freeifaddrs(ifs);
	}
	return mc_printf("%s\nsite %s\n%s", p->cfg.node_id,
	                 p->cfg.site ? p->cfg.site : "(none)",
	                 used ? addrs : "no network address");
}

static void cmd_resync(struct mc_player *p, const struct mc_command *c)
{
	size_t n = mc_sync_resync(p);

	if (n == 0)
		publish_result(p, c->id, true, "resync: cache complete");
	else
		publish_result(p, c->id, true, "resync: %zu %s to fetch", n,
		               n == 1 ? "file" : "files");
}

static void cmd_identify(struct mc_player *p, const struct mc_command *c,
                         int64_t now)
{
	char *text = identify_text(p);
	size_t shown = 0;

	if (!text) {
		publish_result(p, c->id, false, "identify: out of memory");
		return;
	}
	for (size_t k = 0; k < p->n_outputs; k++) {
		struct mc_output *o = &p->outputs[k];

		if (o->ops && o->ops->identify) {
			o->ops->identify(o, text, now + MC_IDENTIFY_MS);
			shown++;
		}
	}
	if (shown) {
		p->identify_until = now + MC_IDENTIFY_MS;
		publish_result(p, c->id, true, "%s", text);
	} else {
		publish_result(p, c->id, false,
		               "this node has no screen to identify on: %s",
		               text);
	}
	free(text);
}

static void cmd_screenshot(struct mc_player *p, const struct mc_command *c)
{
	struct mc_output *o = p->out[MC_CH_SCREEN];
	struct mc_error err = {0};
	unsigned char *png = NULL;
	size_t len = 0;
	char *url = NULL;

	if (!o || !o->ops || !o->ops->screenshot) {
		publish_result(p, c->id, false, "this node has no screen");
		return;
	}
	if (o->ops->screenshot(o, &png, &len, &err) != MC_OK) {
		mc_player_error(p, "cmd", "screenshot %s: %s output failed: %s",
		                c->id, o->ops->name, err.msg);
		publish_result(p, c->id, false, "screenshot failed: %s",
		               err.msg);
		goto out;
	}
	url = mc_printf("/v1/nodes/%s/screenshots?command=%s", p->cfg.node_id,
	                c->id);
	if (!url || !p->fetch) {
		publish_result(p, c->id, false, "screenshot failed: %s",
		               url ? "no uploader" : "out of memory");
		goto out;
	}
	pending_add(c, len);
	mc_fetcher_upload(p->fetch, url, png, len, "image/png", c->id);
	mc_log_info("cmd", "screenshot %s: uploading %zu bytes to %s", c->id,
	            len, url);
out:
	free(png);
	free(url);
}

static void cmd_restart(struct mc_player *p, const struct mc_command *c)
{
	/* systemd starts the player again (Restart=always in the unit). */
	publish_result(p, c->id, true, "restarting");
	mc_log_warn("cmd",
	            "restart %s: leaving now; systemd starts the "
	            "player again",
	            c->id);
	p->exit_code = 0;
	p->stop = 1;
}

static void cmd_reboot(struct mc_player *p, const struct mc_command *c,
                       const char *kid)
{
	if (!p->cfg.hook_reboot) {
		publish_result(p, c->id, false,
		               "no reboot hook configured ([hooks] reboot)");
		return;
	}
	/*
	 * The result goes first: a hook that works takes the machine down
	 * before it could report.  A failing hook sends a second result.
	 */
	mc_log_warn("cmd", "reboot %s from key %s accepted; running hook '%s'",
	            c->id, kid, p->cfg.hook_reboot);
	publish_result(p, c->id, true, "rebooting");
	pending_add(c, 0);
	mc_hook_run(p->q, p->cfg.hook_reboot, NULL, p->cfg.hook_timeout_s,
	            c->id);
}

static void cmd_screen_power(struct mc_player *p, const struct mc_command *c)
{
	const char *arg = c->power_on ? "on" : "off";
	const char *const args[] = {arg, NULL};

	if (!p->cfg.hook_screen_power) {
		publish_result(p, c->id, false,
		               "no screen power hook configured ([hooks] "
		               "screen_power)");
		return;
	}
	mc_log_info("cmd", "screen_power %s: running hook '%s %s'", c->id,
	            p->cfg.hook_screen_power, arg);
	pending_add(c, 0);
	mc_hook_run(p->q, p->cfg.hook_screen_power, args, p->cfg.hook_timeout_s,
	            c->id);
}

static void cmd_volume(struct mc_player *p, const struct mc_command *c)
{
	struct mc_error err = {0};
	int v = c->volume;

	mc_timeline_set_volume(p->tl, v);
	p->volume = v;
	p->st.volume = v;
	if (mc_state_save(p->cfg.state_dir, &p->st, &err) != MC_OK) {
		mc_player_error(p, "cmd", "volume %d %% set but not saved: %s",
		                v, err.msg);
		publish_result(p, c->id, true,
		               "volume %d %% (not saved across restarts: %s)",
		               v, err.msg);
		return;
	}
	publish_result(p, c->id, true, "volume %d %%", v);
}

/* ---- commands ---- */

/* Why a verified, parsed command failed its checks, for log and result. */
static void check_reason(const struct mc_command *c, enum mc_err rc,
                         const struct mc_error *err, int64_t now, char *buf,
                         size_t len)
{
	char w[32];

	if (rc == MC_ERR_EXPIRED)
		snprintf(buf, len,
		         "expired at %s (expires_ms %" PRId64
		         ", node clock %" PRId64 ")",
		         fmt_when(c->expires_ms, w), c->expires_ms, now);
	else if (rc == MC_ERR_NODE)
		snprintf(buf, len, "addressed to node '%s'",
		         c->node ? c->node : "");
	else
		snprintf(buf, len, "%s", err->msg);
}

void mc_control_command(struct mc_player *p, const char *payload, size_t len)
{
	struct mc_signed s = {0};
	struct mc_command c = {0};
	struct mc_error err = {0};
	int64_t now = mc_now_ms();
	const char *name;
	char id[MC_ID_MAX + 1], why[MC_ERROR_MSG_MAX + 96];
	enum mc_err rc;

	tables_for(p);
	rc = mc_envelope_verify(&p->cfg.keyring, payload, len,
	                        MC_PURPOSE_COMMAND, &s, &err);
	if (rc != MC_OK) {
		/* Unverified: nothing in it is believed, nothing answered. */
		mc_player_error(p, "cmd", "command rejected (%s): %s; not run",
		                mc_strerror(rc), err.msg);
		goto out;
	}
	rc = mc_command_parse(s.body, s.body_len, &c, &err);
	if (rc != MC_OK) {
		bool known = body_id(&s, p->cfg.node_id, id);

		mc_player_error(p, "cmd",
		                "command %s from key %s rejected: body: %s; "
		                "not run",
		                known ? id : "(no id)", s.kid, err.msg);
		if (known)
			publish_result(p, id, false, "rejected: body: %s",
			               err.msg);
		goto out;
	}
	name = mc_command_action_name(c.action);
	rc = mc_command_check(&c, p->cfg.node_id, judge_now(p, now), &err);
	if (rc != MC_OK) {
		check_reason(&c, rc, &err, now, why, sizeof(why));
		mc_player_error(p, "cmd",
		                "%s %s from key %s rejected: %s; not run", name,
		                c.id, s.kid, why);
		publish_result(p, c.id, false, "rejected: %s", why);
		goto out;
	}
	if (command_seen(c.id)) {
		/* MQTT delivers at least once; a command runs at most once. */
		mc_log_info("cmd",
		            "%s %s delivered again; already handled, "
		            "ignored",
		            name, c.id);
		goto out;
	}
	if (c.action != MC_CMD_REBOOT) /* cmd_reboot says more */
		mc_log_info("cmd", "%s %s from key %s accepted%s", name, c.id,
		            s.kid,
		            p->clock_synced
		                    ? ""
		                    : " (clock not synchronised: expiry "
		                      "not judged)");
	switch (c.action) {
	case MC_CMD_RESYNC: cmd_resync(p, &c); break;
	case MC_CMD_IDENTIFY: cmd_identify(p, &c, now); break;
	case MC_CMD_SCREENSHOT: cmd_screenshot(p, &c); break;
	case MC_CMD_RESTART: cmd_restart(p, &c); break;
	case MC_CMD_REBOOT: cmd_reboot(p, &c, s.kid); break;
	case MC_CMD_SCREEN_POWER: cmd_screen_power(p, &c); break;
	case MC_CMD_VOLUME: cmd_volume(p, &c); break;
	default: publish_result(p, c.id, false, "unknown action"); break;
	}
out:
	mc_command_clear(&c);
	mc_signed_clear(&s);
}

void mc_control_done(struct mc_player *p, const struct mc_event *ev)
{
	const char *tag = ev->tag ? ev->tag : "";
	const char *text = ev->text ? ev->text : "";
	bool upload = ev->type == MC_EV_UPLOAD_DONE;
	struct pending *pd;

	tables_for(p);
	if (ev->type != MC_EV_UPLOAD_DONE && ev->type != MC_EV_HOOK_DONE)
		return;
	if (!upload && strncmp(tag, "amp:", 4) == 0) {
		if (ev->rc != MC_OK)
			mc_player_error(
			        p, "hooks",
			        "amplifier %s: hook '%s' failed: %s", tag + 4,
			        p->cfg.hook_amplifier ? p->cfg.hook_amplifier
			                              : "",
			        text);
		else
			mc_log_debug("hooks", "amplifier %s: done", tag + 4);
		return;
	}
	if (!mc_id_valid(tag)) {
		mc_log_warn("cmd", "%s finished with unknown tag '%s'; ignored",
		            upload ? "upload" : "hook", tag);
		return;
	}
	pd = pending_find(tag);
	if (!pd) {
		/* Forgotten (table full): the tag is still the id. */
		if (ev->rc != MC_OK)
			mc_player_error(p, "cmd", "%s %s failed: %s",
			                upload ? "upload" : "hook", tag, text);
		publish_result(p, tag, ev->rc == MC_OK, "%s %s%s%s",
		               upload ? "upload" : "hook",
		               ev->rc == MC_OK ? "done" : "failed",
		               *text ? ": " : "", text);
		return;
	}
	switch (pd->action) {
	case MC_CMD_SCREENSHOT:
		if (ev->rc == MC_OK) {
			publish_result(p, tag, true, "uploaded %zu bytes",
			               pd->bytes);
		} else {
			mc_player_error(p, "cmd",
			                "screenshot %s: upload failed: %s", tag,
			                text);
			publish_result(p, tag, false, "upload failed: %s",
			               text);
		}
		break;
	case MC_CMD_REBOOT:
		/* "rebooting" was sent before the hook ran. */
		if (ev->rc == MC_OK) {
			mc_log_info("cmd",
			            "reboot %s: hook '%s' finished; "
			            "the system is going down",
			            tag, p->cfg.hook_reboot);
		} else {
			mc_player_error(p, "cmd",
			                "reboot %s: hook '%s' failed: %s; "
			                "still running",
			                tag, p->cfg.hook_reboot, text);
			publish_result(p, tag, false, "reboot hook failed: %s",
			               text);
		}
		break;
	case MC_CMD_SCREEN_POWER:
		if (ev->rc == MC_OK) {
			publish_result(p, tag, true, "screen power %s",
			               pd->power_on ? "on" : "off");
		} else {
			mc_player_error(p, "cmd",
			                "screen_power %s: hook '%s %s' "
			                "failed: %s",
			                tag, p->cfg.hook_screen_power,
			                pd->power_on ? "on" : "off", text);
			publish_result(p, tag, false,
			               "screen power %s failed: %s",
			               pd->power_on ? "on" : "off", text);
		}
		break;
	default:
		publish_result(p, tag, ev->rc == MC_OK, "%s%s%s",
		               ev->rc == MC_OK ? "done" : "failed",
		               *text ? ": " : "", text);
		break;
	}
	memset(pd, 0, sizeof(*pd));
}

/* ---- alerts ---- */

/* Publish an alert ack (QoS 1, not retained). */
static void publish_ack(struct mc_player *p, const char *alert, int64_t seq,
                        const char *status, int64_t start_ms,
                        const char *reason)
{
	struct mc_alert_ack ack = {0};
	char *json = NULL;
	enum mc_err rc = MC_ERR_IO;

	ack.node = p->cfg.node_id;
	ack.alert = (char *)alert;
	ack.seq = seq;
	ack.status = (char *)status;
	ack.start_ms = start_ms;
	ack.reason = reason ? clean_text(reason, ACK_REASON_MAX) : NULL;
	ack.at_ms = mc_now_ms();
	if (!reason || ack.reason)
		json = mc_alert_ack_dump(&ack);
	if (json && p->link)
		rc = mc_link_publish(p->link, MC_TOPIC_ALERT_ACK, json,
		                     strlen(json), 1, false);
	if (rc != MC_OK)
		mc_log_warn("alert",
		            "%s seq %" PRId64 ": ack '%s' not sent "
		            "(%s)",
		            alert, seq, status,
		            json ? "not connected" : "out of memory");
	free(json);
	free(ack.reason);
}

/* True if (id, seq) was handled in this run; remembers it if not. */
static bool alert_seen(const char *id, int64_t seq)
{
	for (size_t i = 0; i < SEEN_ALERTS; i++)
		if (seen_alerts[i].seq == seq &&
		    strcmp(seen_alerts[i].id, id) == 0)
			return true;
	snprintf(seen_alerts[seen_next].id, sizeof(seen_alerts[0].id), "%s",
	         id);
	seen_alerts[seen_next].seq = seq;
	seen_next = (seen_next + 1) % SEEN_ALERTS;
	return false;
}

/* Remember the seq of alert id across restarts. */
static void alert_persist_seq(struct mc_player *p, const char *id, int64_t seq)
{
	struct mc_error err = {0};
	enum mc_err rc = mc_state_set_alert_seq(&p->st, id, seq);

	if (rc != MC_OK)
		mc_error_set(&err, rc, "out of memory");
	else
		rc = mc_state_save(p->cfg.state_dir, &p->st, &err);
	if (rc != MC_OK)
		mc_player_error(p, "alert",
		                "%s seq %" PRId64 ": cannot save its seq: %s",
		                id, seq, err.msg);
}

/* Call alert(a) (NULL: clear) on every output that can show alerts. */
static size_t outputs_alert(struct mc_player *p, const struct mc_alert *a,
                            const char *id, int64_t seq)
{
	size_t shown = 0;

	for (size_t k = 0; k < p->n_outputs; k++) {
		struct mc_output *o = &p->outputs[k];
		struct mc_error err = {0};

		if (!o->ops || !o->ops->alert)
			continue;
		if (o->ops->alert(o, a, &err) == MC_OK)
			shown++;
		else
			mc_player_error(p, "alert",
			                "%s seq %" PRId64 ": %s output could "
			                "not %s it: %s",
			                id, seq, o->ops->name,
			                a ? "start" : "stop", err.msg);
	}
	return shown;
}

/* Stop the active alert (outputs too if started) and forget it. */
static void alert_end(struct mc_player *p, const char *why)
{
	struct mc_active_alert *aa = &p->alert;

	if (aa->started)
		outputs_alert(p, NULL, aa->a.id, aa->a.seq);
	mc_timeline_alert(p->tl, NULL, 0); /* the schedule resumes */
	mc_log_info("alert", "%s seq %" PRId64 " ended: %s", aa->a.id,
	            aa->a.seq, why);
	mc_alert_clear(&aa->a);
	aa->on = false;
	aa->started = false;
}

/* Start the active alert on the outputs now; ack "started". */
static void alert_start(struct mc_player *p, int64_t now)
{
	struct mc_active_alert *aa = &p->alert;
	struct mc_alert shown = aa->a; /* shallow: borrowed for the calls */
	int64_t start = now;
	char reason[128];
	size_t n;

	/* Outputs start at start_at_ms (up to ALERT_LEAD_MS ahead);
	 * unsynchronised, that means now. */
	if (p->clock_synced && aa->a.start_at_ms > now)
		start = aa->a.start_at_ms;
	shown.start_at_ms = start;
	n = outputs_alert(p, &shown, aa->a.id, aa->a.seq);
	if (n) {
		aa->started = true;
		mc_timeline_alert(p->tl, aa->a.id, start);
		mc_log_info("alert",
		            "%s seq %" PRId64 " (%s) started on %zu "
		            "output%s: %s",
		            aa->a.id, aa->a.seq,
		            mc_alert_level_name(aa->a.level), n,
		            n == 1 ? "" : "s", aa->a.text ? aa->a.text : "");
		publish_ack(p, aa->a.id, aa->a.seq, "started", start, NULL);
		return;
	}
	/* Nothing shows it: say so, and clear whatever an output kept. */
	snprintf(reason, sizeof(reason), "no output could start it");
	mc_player_error(p, "alert", "%s seq %" PRId64 " not shown: %s",
	                aa->a.id, aa->a.seq, reason);
	publish_ack(p, aa->a.id, aa->a.seq, "rejected", 0, reason);
	outputs_alert(p, NULL, aa->a.id, aa->a.seq);
	mc_alert_clear(&aa->a);
	aa->on = false;
	aa->started = false;
}

/* Act on a verified, checked alert (owned by the caller; moved out). */
static void alert_accept(struct mc_player *p, struct mc_alert *a, bool resumed,
                         int64_t now)
{
	struct mc_active_alert *aa = &p->alert;
	char when[48], w[32];

	alert_persist_seq(p, a->id, a->seq);
	publish_ack(p, a->id, a->seq, "delivered", 0, NULL);
	if (a->clear) {
		if (aa->on && strcmp(aa->a.id, a->id) == 0) {
			char why[64];

			snprintf(why, sizeof(why), "cleared by seq %" PRId64,
			         a->seq);
			alert_end(p, why);
		} else {
			mc_log_info("alert",
			            "%s cleared by seq %" PRId64
			            "; it was not showing here",
			            a->id, a->seq);
		}
		return;
	}
	if (aa->on && strcmp(aa->a.id, a->id) != 0 && aa->a.level > a->level) {
		/*
		 * A less urgent alert never takes the outputs from a more
		 * urgent one: an "info" notice must not silence an
		 * evacuation.  Updates of the same id always apply.
		 */
		char reason[ACK_REASON_MAX];

		snprintf(reason, sizeof(reason),
		         "outranked: alert '%s' (%s) is active", aa->a.id,
		         mc_alert_level_name(aa->a.level));
		mc_log_warn("alert",
		            "%s seq %" PRId64 " (%s) not shown: alert %s "
		            "seq %" PRId64 " (%s) is active and more urgent",
		            a->id, a->seq, mc_alert_level_name(a->level),
		            aa->a.id, aa->a.seq,
		            mc_alert_level_name(aa->a.level));
		publish_ack(p, a->id, a->seq, "rejected", 0, reason);
		return;
	}
	if (!p->clock_synced)
		snprintf(when, sizeof(when),
		         "at once (clock not synchronised)");
	else if (a->start_at_ms <= now)
		snprintf(when, sizeof(when), "at once");
	else
		snprintf(when, sizeof(when), "at %s",
		         fmt_when(a->start_at_ms, w));
	mc_log_info("alert", "%s seq %" PRId64 " (%s) accepted%s; starts %s",
	            a->id, a->seq, mc_alert_level_name(a->level),
	            resumed ? " again after a restart" : "", when);
	if (aa->on) {
		/*
		 * One alert at a time.  A replacement starting now takes the
		 * outputs over directly (no gap); one starting later must not
		 * leave the old text up until then.
		 */
		bool later = p->clock_synced && a->start_at_ms > now;

		mc_log_info("alert",
		            "%s seq %" PRId64 " replaces %s seq %" PRId64,
		            a->id, a->seq, aa->a.id, aa->a.seq);
		if (aa->started && later) {
			outputs_alert(p, NULL, aa->a.id, aa->a.seq);
			mc_timeline_alert(p->tl, NULL, 0);
		}
		mc_alert_clear(&aa->a);
	}
	aa->a = *a;
	memset(a, 0, sizeof(*a));
	aa->on = true;
	aa->started = false;
}

/* The ack reason of a check failure: class word, then the details. */
static void alert_reason(const char *word, const struct mc_error *err,
                         char *buf, size_t len)
{
	snprintf(buf, len, "%s: %s", word, err->msg);
}

void mc_control_alert(struct mc_player *p, const char *alert_id,
                      const char *payload, size_t len)
{
	struct mc_signed s = {0};
	struct mc_alert a = {0};
	struct mc_error err = {0};
	struct mc_who who = node_who(p);
	int64_t now = mc_now_ms(), last, check_last;
	char reason[MC_ERROR_MSG_MAX + 32], w[32];
	bool dup;
	enum mc_err rc;

	tables_for(p);
	if (len == 0) {
		/* An unsigned deletion must never stop an alert. */
		mc_log_debug("alert",
		             "alert/%s: retained message deleted; "
		             "nothing changes",
		             alert_id);
		return;
	}
	rc = mc_envelope_verify(&p->cfg.keyring, payload, len, MC_PURPOSE_ALERT,
	                        &s, &err);
	if (rc != MC_OK) {
		mc_player_error(p, "alert",
		                "alert/%s rejected (%s): %s; "
		                "ignored",
		                alert_id, mc_strerror(rc), err.msg);
		goto out;
	}
	rc = mc_alert_parse(s.body, s.body_len, &a, &err);
	if (rc != MC_OK) {
		mc_player_error(p, "alert",
		                "alert/%s from key %s rejected: "
		                "body: %s; ignored",
		                alert_id, s.kid, err.msg);
		goto out;
	}
	if (strcmp(a.id, alert_id) != 0) {
		/* Signed for one id, published under another: the topic is
		 * not signed, so the body decides and this copy is refused. */
		mc_player_error(p, "alert",
		                "alert/%s seq %" PRId64 " rejected: the signed "
		                "body names alert '%s'; ignored",
		                alert_id, a.seq, a.id);
		snprintf(reason, sizeof(reason),
		         "relabelled: the signed body names alert '%s'", a.id);
		publish_ack(p, alert_id, a.seq, "rejected", 0, reason);
		goto out;
	}
	if (!mc_targets_match(&a.targets, &who)) {
		mc_log_debug("alert",
		             "%s seq %" PRId64 " is not for this node "
		             "(targets); ignored",
		             a.id, a.seq);
		goto out;
	}
	if (alert_seen(a.id, a.seq)) {
		mc_log_debug("alert",
		             "%s seq %" PRId64 " delivered again; "
		             "already handled",
		             a.id, a.seq);
		goto out;
	}
	/*
	 * The persisted seq equals this one only after a restart (within a
	 * run alert_seen caught it): an alert still valid is shown again,
	 * a clear or an expired one is history.
	 */
	last = mc_state_alert_seq(&p->st, a.id);
	dup = a.seq == last;
	if (dup && a.clear) {
		mc_log_debug("alert",
		             "%s seq %" PRId64 ": clear already "
		             "applied before the restart",
		             a.id, a.seq);
		goto out;
	}
	check_last = dup ? last - 1 : last;
	rc = mc_alert_check(&a, NULL, check_last, judge_now(p, now), &err);
	if (rc == MC_ERR_EXPIRED && dup) {
		mc_log_debug("alert",
		             "%s seq %" PRId64 ": expired at %s, "
		             "already handled before the restart",
		             a.id, a.seq, fmt_when(a.expires_ms, w));
		goto out;
	}
	if (rc == MC_ERR_EXPIRED) {
		mc_player_error(p, "alert",
		                "%s seq %" PRId64 " rejected: expired at %s",
		                a.id, a.seq, fmt_when(a.expires_ms, w));
		alert_reason("expired", &err, reason, sizeof(reason));
		publish_ack(p, a.id, a.seq, "rejected", 0, reason);
		/* Verified, and can never become valid: remembering its
		 * seq keeps a redelivery after a restart quiet. */
		if (a.seq > last)
			alert_persist_seq(p, a.id, a.seq);
		goto out;
	}
	if (rc != MC_OK) {
		/* Targets were matched above: only a replay is left. */
		mc_player_error(p, "alert",
		                "%s seq %" PRId64 " rejected: not newer than "
		                "seq %" PRId64 " already accepted (replay)",
		                a.id, a.seq, last);
		alert_reason(rc == MC_ERR_REPLAY ? "replay" : mc_strerror(rc),
		             &err, reason, sizeof(reason));
		publish_ack(p, a.id, a.seq, "rejected", 0, reason);
		goto out;
	}
	alert_accept(p, &a, dup, now);
out:
	mc_alert_clear(&a);
	mc_signed_clear(&s);
}

int64_t mc_control_tick(struct mc_player *p, int64_t now_ms)
{
	struct mc_active_alert *aa = &p->alert;
	int64_t next = INT64_MAX;
	char w[32], why[64];

	/* Expiry is judged only on a synchronised clock (§5.4). */
	if (aa->on && p->clock_synced && now_ms >= aa->a.expires_ms) {
		snprintf(why, sizeof(why), "%s at %s",
		         aa->started ? "expired" : "expired before its start",
		         fmt_when(aa->a.expires_ms, w));
		alert_end(p, why);
	}
	if (aa->on && !aa->started &&
	    (!p->clock_synced || now_ms >= aa->a.start_at_ms - ALERT_LEAD_MS))
		alert_start(p, now_ms);
	if (aa->on && !aa->started)
		next = aa->a.start_at_ms - ALERT_LEAD_MS;
	else if (aa->on && p->clock_synced && aa->a.expires_ms < next)
		next = aa->a.expires_ms;

	/* A clock stepped back must not keep identify up for hours. */
	if (p->identify_until &&
	    (now_ms >= p->identify_until ||
	     p->identify_until - now_ms > MC_IDENTIFY_MS)) {
		for (size_t k = 0; k < p->n_outputs; k++) {
			struct mc_output *o = &p->outputs[k];

			if (o->ops && o->ops->identify)
				o->ops->identify(o, NULL, 0);
		}
		p->identify_until = 0;
		mc_log_debug("cmd", "identify ended");
	}
	if (p->identify_until && p->identify_until < next)
		next = p->identify_until;
	return next;
}
