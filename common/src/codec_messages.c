/*
 * minecast — the MQTT message payloads as JSON (codec.h, messages.h).
 *
 * Each message is one JSON object whose keys are the struct field names,
 * plus "v": 1, the protocol version (docs/protocol.md).  Every parser goes
 * through parse_doc() for the size limit, the JSON syntax and the version,
 * then reads its fields with the typed readers of json_help.h.  On failure
 * the struct is cleared, so a caller may always call the clear function.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "json_help.h"
#include "minecast/codec.h"
#include "minecast/text.h"
#include "minecast/util.h"

#define TRY(x)                                                                 \
	do {                                                                   \
		rc = (x);                                                      \
		if (rc != MC_OK)                                               \
			goto fail;                                             \
	} while (0)

/* Latest accepted timestamp: 9999-12-31T23:59:59.999Z, in milliseconds. */
#define TIME_MAX 253402300799999LL

/* Proof-of-play limits: records in one batch, ids in one ack. */
#define POP_MAX_RECORDS   1000
#define POP_RECORD_ID_MAX 128

/* Health keeps this many recent error lines, each at most ERROR_LEN. */
#define HEALTH_MAX_ERRORS 16
#define HEALTH_ERROR_LEN  512

/* ---- enum names ---- */

static const char *const level_names[] = {"info", "warning", "danger",
                                          "evacuate"};
static const char *const action_names[] = {
        "resync", "identify",     "screenshot", "restart",
        "reboot", "screen_power", "volume"};

static int table_parse(const char *const *t, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(t[i], s) == 0)
			return (int)i;
	return -1;
}

const char *mc_alert_level_name(enum mc_alert_level level)
{
	return (size_t)level < MC_ARRAY_LEN(level_names) ? level_names[level]
	                                                 : "?";
}

int mc_alert_level_parse(const char *s)
{
	return table_parse(level_names, MC_ARRAY_LEN(level_names), s);
}

const char *mc_command_action_name(enum mc_command_action action)
{
	return (size_t)action < MC_ARRAY_LEN(action_names)
	               ? action_names[action]
	               : "?";
}

int mc_command_action_parse(const char *s)
{
	return table_parse(action_names, MC_ARRAY_LEN(action_names), s);
}

/* ---- string syntax checks ---- */

/* "<node>-<boot>-<seq>": the id charset, but room for the numbers. */
static bool record_id_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' ||
		      c == '-'))
			return false;
	}
	return n >= 1 && n <= POP_RECORD_ID_MAX;
}

static bool ack_status_valid(const char *s)
{
	return strcmp(s, "delivered") == 0 || strcmp(s, "started") == 0 ||
	       strcmp(s, "rejected") == 0;
}

static bool sync_valid(const char *s)
{
	return strcmp(s, "idle") == 0 || strcmp(s, "syncing") == 0 ||
	       strcmp(s, "error") == 0;
}

static bool nonempty(const char *s)
{
	return s[0] != '\0';
}

/* ---- shared pieces ---- */

/*
 * Size limit, JSON syntax, object root and the "v" rule, for every
 * message.  *root is released by the caller.
 */
static enum mc_err parse_doc(const char *buf, size_t len, size_t max,
                             const char *what, json_t **root,
                             struct mc_error *err)
{
	enum mc_err rc;

	mc_error_clear(err);
	rc = mc__json_parse(buf, len, max, what, root, err);
	if (rc == MC_OK)
		rc = mc__json_version(*root, err);
	return rc;
}

/* A required timestamp in milliseconds since the epoch. */
static enum mc_err get_time(json_t *o, const char *path, const char *key,
                            bool required, int64_t *out, struct mc_error *err)
{
	return mc__json_int(o, path, key, required, 0, TIME_MAX, 0, out, err);
}

/* issued_ms and expires_ms, the latter strictly after the former. */
static enum mc_err get_validity(json_t *o, int64_t *issued, int64_t *expires,
                                struct mc_error *err)
{
	enum mc_err rc;

	TRY(get_time(o, "", "issued_ms", MC__REQUIRED, issued, err));
	TRY(get_time(o, "", "expires_ms", MC__REQUIRED, expires, err));
	if (*expires <= *issued)
		rc = mc_error_set(err, MC_ERR_RANGE,
		                  "expires_ms: %" PRId64
		                  " is not after issued_ms %" PRId64,
		                  *expires, *issued);
fail:
	return rc;
}

/* A new message object carrying "v": 1. */
static json_t *msg_start(bool *ok)
{
	json_t *o = mc__jobject(ok);

	if (o)
		mc__jset_int(o, "v", 1, ok);
	return o;
}

/* ---- pointer ---- */

enum mc_err mc_pointer_parse(const char *buf, size_t len,
                             struct mc_pointer *out, struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_POINTER_BYTES, "pointer", &root, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_int(root, "", "version", MC__REQUIRED, 1, INT64_MAX, 0,
	                 &out->version, err));
	TRY(mc__json_sha256(root, "", "manifest_sha256", MC__REQUIRED,
	                    out->manifest_sha256, err));
	TRY(mc__json_int(root, "", "manifest_size", MC__REQUIRED, 1,
	                 MC_MAX_MANIFEST_BYTES, 0, &out->manifest_size, err));
	TRY(mc__json_string_check(root, "", "manifest_url", MC__REQUIRED,
	                          MC__URL_MAX, nonempty, "a non-empty URL",
	                          &out->manifest_url, err));
	TRY(get_validity(root, &out->issued_ms, &out->expires_ms, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_pointer_clear(out);
	return rc;
}

char *mc_pointer_dump(const struct mc_pointer *p)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "node", p->node, &ok);
	mc__jset_int(o, "version", p->version, &ok);
	mc__jset_str(o, "manifest_sha256", p->manifest_sha256, &ok);
	mc__jset_int(o, "manifest_size", p->manifest_size, &ok);
	mc__jset_str(o, "manifest_url", p->manifest_url, &ok);
	mc__jset_int(o, "issued_ms", p->issued_ms, &ok);
	mc__jset_int(o, "expires_ms", p->expires_ms, &ok);
	return mc__json_finish(o, ok);
}

void mc_pointer_clear(struct mc_pointer *p)
{
	if (!p)
		return;
	free(p->node);
	free(p->manifest_url);
	memset(p, 0, sizeof(*p));
}

/* ---- alert ---- */

enum mc_err mc_alert_parse(const char *buf, size_t len, struct mc_alert *out,
                           struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;
	int level = 0;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_ALERT_BYTES, "alert", &root, err));
	TRY(mc__json_id(root, "", "id", MC__REQUIRED, &out->id, err));
	TRY(mc__json_int(root, "", "seq", MC__REQUIRED, 1, INT64_MAX, 0,
	                 &out->seq, err));
	TRY(mc__json_bool(root, "", "clear", MC__OPTIONAL, false, &out->clear,
	                  err));
	/* A clear only has to name the alert; level and text may be left. */
	TRY(mc__json_enum(root, "", "level", !out->clear, mc_alert_level_parse,
	                  "info|warning|danger|evacuate", MC_ALERT_INFO, &level,
	                  err));
	out->level = (enum mc_alert_level)level;
	TRY(mc__json_string_check(root, "", "text", !out->clear, MC__TEXT_MAX,
	                          nonempty, "non-empty text", &out->text, err));
	TRY(mc__json_id(root, "", "tone", MC__OPTIONAL, &out->tone, err));
	TRY(mc__json_int32(root, "", "repeat", MC__OPTIONAL, 1, 10, 1,
	                   &out->repeat, err));
	TRY(get_time(root, "", "start_at_ms", MC__OPTIONAL, &out->start_at_ms,
	             err));
	TRY(get_validity(root, &out->issued_ms, &out->expires_ms, err));
	TRY(mc__json_targets(root, "", "targets", &out->targets, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_alert_clear(out);
	return rc;
}

char *mc_alert_dump(const struct mc_alert *a)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "id", a->id, &ok);
	mc__jset_int(o, "seq", a->seq, &ok);
	mc__jset_bool(o, "clear", a->clear, &ok);
	mc__jset_str(o, "level", mc_alert_level_name(a->level), &ok);
	mc__jset_str(o, "text", a->text, &ok);
	mc__jset_str(o, "tone", a->tone, &ok);
	mc__jset_int(o, "repeat", a->repeat, &ok);
	mc__jset_int(o, "start_at_ms", a->start_at_ms, &ok);
	mc__jset_int(o, "issued_ms", a->issued_ms, &ok);
	mc__jset_int(o, "expires_ms", a->expires_ms, &ok);
	mc__jset_targets(o, "targets", &a->targets, &ok);
	return mc__json_finish(o, ok);
}

void mc_alert_clear(struct mc_alert *a)
{
	if (!a)
		return;
	free(a->id);
	free(a->text);
	free(a->tone);
	mc__targets_clear(&a->targets);
	memset(a, 0, sizeof(*a));
}

/* ---- alert_ack ---- */

enum mc_err mc_alert_ack_parse(const char *buf, size_t len,
                               struct mc_alert_ack *out, struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_ALERT_ACK_BYTES, "alert_ack", &root,
	              err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_id(root, "", "alert", MC__REQUIRED, &out->alert, err));
	TRY(mc__json_int(root, "", "seq", MC__REQUIRED, 1, INT64_MAX, 0,
	                 &out->seq, err));
	TRY(mc__json_string_check(
	        root, "", "status", MC__REQUIRED, 16, ack_status_valid,
	        "one of delivered|started|rejected", &out->status, err));
	TRY(get_time(root, "", "start_ms", MC__OPTIONAL, &out->start_ms, err));
	TRY(mc__json_string(root, "", "reason", MC__OPTIONAL, MC__NAME_MAX,
	                    &out->reason, err));
	TRY(get_time(root, "", "at_ms", MC__REQUIRED, &out->at_ms, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_alert_ack_clear(out);
	return rc;
}

char *mc_alert_ack_dump(const struct mc_alert_ack *a)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "node", a->node, &ok);
	mc__jset_str(o, "alert", a->alert, &ok);
	mc__jset_int(o, "seq", a->seq, &ok);
	mc__jset_str(o, "status", a->status, &ok);
	if (a->start_ms)
		mc__jset_int(o, "start_ms", a->start_ms, &ok);
	mc__jset_str(o, "reason", a->reason, &ok);
	mc__jset_int(o, "at_ms", a->at_ms, &ok);
	return mc__json_finish(o, ok);
}

void mc_alert_ack_clear(struct mc_alert_ack *a)
{
	if (!a)
		return;
	free(a->node);
	free(a->alert);
	free(a->status);
	free(a->reason);
	memset(a, 0, sizeof(*a));
}

/* ---- state ---- */

enum mc_err mc_state_parse(const char *buf, size_t len, struct mc_state *out,
                           struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_STATE_BYTES, "state", &root, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_bool(root, "", "online", MC__REQUIRED, false, &out->online,
	                  err));
	TRY(mc__json_int(root, "", "boot", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &out->boot, err));
	TRY(mc__json_int(root, "", "applied_version", MC__OPTIONAL, 0,
	                 INT64_MAX, 0, &out->applied_version, err));
	TRY(mc__json_string_check(root, "", "sync", MC__OPTIONAL, 16,
	                          sync_valid, "one of idle|syncing|error",
	                          &out->sync, err));
	TRY(mc__json_int(root, "", "items_outstanding", MC__OPTIONAL, 0,
	                 INT64_MAX, 0, &out->items_outstanding, err));
	TRY(mc__json_int(root, "", "bytes_outstanding", MC__OPTIONAL, 0,
	                 INT64_MAX, 0, &out->bytes_outstanding, err));
	TRY(get_time(root, "", "at_ms", MC__REQUIRED, &out->at_ms, err));
	TRY(mc__json_string(root, "", "software", MC__OPTIONAL, MC__NAME_MAX,
	                    &out->software, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_state_clear(out);
	return rc;
}

char *mc_state_dump(const struct mc_state *s)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "node", s->node, &ok);
	mc__jset_bool(o, "online", s->online, &ok);
	mc__jset_int(o, "boot", s->boot, &ok);
	mc__jset_int(o, "applied_version", s->applied_version, &ok);
	mc__jset_str(o, "sync", s->sync, &ok);
	mc__jset_int(o, "items_outstanding", s->items_outstanding, &ok);
	mc__jset_int(o, "bytes_outstanding", s->bytes_outstanding, &ok);
	mc__jset_int(o, "at_ms", s->at_ms, &ok);
	mc__jset_str(o, "software", s->software, &ok);
	return mc__json_finish(o, ok);
}

void mc_state_clear(struct mc_state *s)
{
	if (!s)
		return;
	free(s->node);
	free(s->sync);
	free(s->software);
	memset(s, 0, sizeof(*s));
}

/* ---- health ---- */

static enum mc_err parse_playing(json_t *root, struct mc_playing *playing,
                                 struct mc_error *err)
{
	json_t *o, *ch_obj;
	enum mc_err rc;

	TRY(mc__json_object(root, "", "playing", MC__OPTIONAL, &o, err));
	for (int ch = 0; o && ch < MC_CH_COUNT; ch++) {
		struct mc_playing *p = &playing[ch];
		char path[MC__PATH_MAX];

		mc__json_path(path, sizeof(path), "playing",
		              mc_channel_name(ch));
		TRY(mc__json_object(o, "playing", mc_channel_name(ch),
		                    MC__OPTIONAL, &ch_obj, err));
		if (!ch_obj)
			continue;
		TRY(mc__json_id(ch_obj, path, "content", MC__OPTIONAL,
		                &p->content, err));
		TRY(mc__json_id(ch_obj, path, "entry", MC__OPTIONAL, &p->entry,
		                err));
		TRY(mc__json_string(ch_obj, path, "reason", MC__OPTIONAL, 64,
		                    &p->reason, err));
	}
fail:
	return rc;
}

/* Resources and counters: all optional, a node reports what it has. */
static enum mc_err parse_health_numbers(json_t *r, struct mc_health *h,
                                        struct mc_error *err)
{
	enum mc_err rc;

	TRY(mc__json_int(r, "", "uptime_s", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->uptime_s, err));
	TRY(mc__json_double(r, "", "load1", MC__OPTIONAL, 0, 1e6, 0, &h->load1,
	                    err));
	TRY(mc__json_int(r, "", "mem_total_kb", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->mem_total_kb, err));
	TRY(mc__json_int(r, "", "mem_avail_kb", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->mem_avail_kb, err));
	TRY(mc__json_int(r, "", "disk_total_bytes", MC__OPTIONAL, 0, INT64_MAX,
	                 0, &h->disk_total_bytes, err));
	TRY(mc__json_int(r, "", "disk_free_bytes", MC__OPTIONAL, 0, INT64_MAX,
	                 0, &h->disk_free_bytes, err));
	TRY(mc__json_int(r, "", "cache_bytes", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->cache_bytes, err));
	/* A board without a thermal zone leaves the key out. */
	h->has_temp = mc__json_member(r, "cpu_temp_c") != NULL;
	TRY(mc__json_double(r, "", "cpu_temp_c", MC__OPTIONAL, -100, 200, 0,
	                    &h->cpu_temp_c, err));
	TRY(mc__json_int(r, "", "throttled", MC__OPTIONAL, -1, INT64_MAX, -1,
	                 &h->throttled, err));
	TRY(mc__json_bool(r, "", "clock_synced", MC__OPTIONAL, false,
	                  &h->clock_synced, err));
	TRY(mc__json_double(r, "", "clock_offset_ms", MC__OPTIONAL, -1e12, 1e12,
	                    0, &h->clock_offset_ms, err));
	TRY(mc__json_int(r, "", "applied_version", MC__OPTIONAL, 0, INT64_MAX,
	                 0, &h->applied_version, err));
	TRY(mc__json_int(r, "", "items_outstanding", MC__OPTIONAL, 0, INT64_MAX,
	                 0, &h->items_outstanding, err));
	TRY(mc__json_int(r, "", "bytes_outstanding", MC__OPTIONAL, 0, INT64_MAX,
	                 0, &h->bytes_outstanding, err));
	TRY(mc__json_int(r, "", "reconnects", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->reconnects, err));
	TRY(mc__json_int(r, "", "pop_summarised", MC__OPTIONAL, 0, INT64_MAX, 0,
	                 &h->pop_summarised, err));
fail:
	return rc;
}

enum mc_err mc_health_parse(const char *buf, size_t len, struct mc_health *out,
                            struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_HEALTH_BYTES, "health", &root, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(get_time(root, "", "at_ms", MC__REQUIRED, &out->at_ms, err));
	TRY(parse_health_numbers(root, out, err));
	TRY(parse_playing(root, out->playing, err));
	TRY(mc__json_strv(root, "", "errors", HEALTH_MAX_ERRORS,
	                  HEALTH_ERROR_LEN, NULL, NULL, &out->errors,
	                  &out->n_errors, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_health_clear(out);
	return rc;
}

char *mc_health_dump(const struct mc_health *h)
{
	bool ok = true;
	json_t *o = msg_start(&ok), *playing;

	if (!o)
		return NULL;
	mc__jset_str(o, "node", h->node, &ok);
	mc__jset_int(o, "at_ms", h->at_ms, &ok);
	mc__jset_int(o, "uptime_s", h->uptime_s, &ok);
	mc__jset_real(o, "load1", h->load1, &ok);
	mc__jset_int(o, "mem_total_kb", h->mem_total_kb, &ok);
	mc__jset_int(o, "mem_avail_kb", h->mem_avail_kb, &ok);
	mc__jset_int(o, "disk_total_bytes", h->disk_total_bytes, &ok);
	mc__jset_int(o, "disk_free_bytes", h->disk_free_bytes, &ok);
	mc__jset_int(o, "cache_bytes", h->cache_bytes, &ok);
	if (h->has_temp)
		mc__jset_real(o, "cpu_temp_c", h->cpu_temp_c, &ok);
	mc__jset_int(o, "throttled", h->throttled, &ok);
	mc__jset_bool(o, "clock_synced", h->clock_synced, &ok);
	mc__jset_real(o, "clock_offset_ms", h->clock_offset_ms, &ok);
	mc__jset_int(o, "applied_version", h->applied_version, &ok);
	mc__jset_int(o, "items_outstanding", h->items_outstanding, &ok);
	mc__jset_int(o, "bytes_outstanding", h->bytes_outstanding, &ok);
	mc__jset_int(o, "reconnects", h->reconnects, &ok);
	mc__jset_int(o, "pop_summarised", h->pop_summarised, &ok);
	playing = mc__jobject(&ok);
	for (int ch = 0; playing && ch < MC_CH_COUNT; ch++) {
		const struct mc_playing *p = &h->playing[ch];
		json_t *po = mc__jobject(&ok);

		if (!po)
			break;
		mc__jset_str(po, "content", p->content, &ok);
		mc__jset_str(po, "entry", p->entry, &ok);
		mc__jset_str(po, "reason", p->reason, &ok);
		mc__jset(playing, mc_channel_name(ch), po, &ok);
	}
	mc__jset(o, "playing", playing, &ok);
	mc__jset_strv(o, "errors", h->errors, h->n_errors, &ok);
	return mc__json_finish(o, ok);
}

void mc_health_clear(struct mc_health *h)
{
	if (!h)
		return;
	free(h->node);
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		free(h->playing[ch].content);
		free(h->playing[ch].entry);
		free(h->playing[ch].reason);
	}
	mc__strv_free(h->errors, h->n_errors);
	memset(h, 0, sizeof(*h));
}

/* ---- proof of play ---- */

static enum mc_err parse_pop_record(json_t *o, const char *path,
                                    struct mc_pop_record *r,
                                    struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	int ch = 0;

	if (!json_is_object(o))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    path);
	TRY(mc__json_string_check(
	        o, path, "id", MC__REQUIRED, POP_RECORD_ID_MAX, record_id_valid,
	        "a record id of 1..128 characters [A-Za-z0-9._-]", &r->id,
	        err));
	TRY(mc__json_id(o, path, "content", MC__REQUIRED, &r->content, err));
	TRY(mc__json_sha256(o, path, "sha256", MC__OPTIONAL, r->sha256, err));
	TRY(mc__json_id(o, path, "entry", MC__OPTIONAL, &r->entry, err));
	TRY(mc__json_enum(o, path, "channel", MC__REQUIRED, mc_channel_parse,
	                  "screen|speaker", 0, &ch, err));
	r->channel = (enum mc_channel)ch;
	TRY(get_time(o, path, "start_ms", MC__REQUIRED, &r->start_ms, err));
	TRY(get_time(o, path, "end_ms", MC__REQUIRED, &r->end_ms, err));
	if (r->end_ms < r->start_ms) {
		mc__json_path(field, sizeof(field), path, "end_ms");
		rc = mc_error_set(err, MC_ERR_RANGE,
		                  "%s: %" PRId64 " is before start_ms %" PRId64,
		                  field, r->end_ms, r->start_ms);
		goto fail;
	}
	TRY(mc__json_bool(o, path, "completed", MC__OPTIONAL, true,
	                  &r->completed, err));
	TRY(mc__json_int(o, path, "count", MC__OPTIONAL, 1, INT32_MAX, 1,
	                 &r->count, err));
fail:
	return rc;
}

static void pop_record_free(struct mc_pop_record *r)
{
	free(r->id);
	free(r->content);
	free(r->entry);
}

enum mc_err mc_pop_batch_parse(const char *buf, size_t len,
                               struct mc_pop_batch *out, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	json_t *root = NULL, *arr;
	enum mc_err rc;
	size_t n;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_POP_BYTES, "pop", &root, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_id(root, "", "batch", MC__REQUIRED, &out->batch, err));
	TRY(mc__json_array(root, "", "records", MC__REQUIRED, POP_MAX_RECORDS,
	                   &arr, err));
	n = json_array_size(arr);
	if (n && !(out->records = calloc(n, sizeof(*out->records)))) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "records: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		mc__json_path_index(field, sizeof(field), "", "records", i);
		/* Counted first, so that a failing record is freed too. */
		out->n_records = i + 1;
		TRY(parse_pop_record(json_array_get(arr, i), field,
		                     &out->records[i], err));
	}
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_pop_batch_clear(out);
	return rc;
}

char *mc_pop_batch_dump(const struct mc_pop_batch *b)
{
	bool ok = true;
	json_t *o = msg_start(&ok), *arr = json_array();

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	mc__jset_str(o, "node", b->node, &ok);
	mc__jset_str(o, "batch", b->batch, &ok);
	for (size_t i = 0; i < b->n_records; i++) {
		const struct mc_pop_record *r = &b->records[i];
		json_t *ro = mc__jobject(&ok);

		if (!ro)
			break;
		mc__jset_str(ro, "id", r->id, &ok);
		mc__jset_str(ro, "content", r->content, &ok);
		if (r->sha256[0])
			mc__jset_str(ro, "sha256", r->sha256, &ok);
		mc__jset_str(ro, "entry", r->entry, &ok);
		mc__jset_str(ro, "channel", mc_channel_name(r->channel), &ok);
		mc__jset_int(ro, "start_ms", r->start_ms, &ok);
		mc__jset_int(ro, "end_ms", r->end_ms, &ok);
		mc__jset_bool(ro, "completed", r->completed, &ok);
		mc__jset_int(ro, "count", r->count, &ok);
		if (json_array_append_new(arr, ro) != 0)
			ok = false;
	}
	mc__jset(o, "records", arr, &ok);
	return mc__json_finish(o, ok);
}

void mc_pop_batch_clear(struct mc_pop_batch *b)
{
	if (!b)
		return;
	free(b->node);
	free(b->batch);
	for (size_t i = 0; b->records && i < b->n_records; i++)
		pop_record_free(&b->records[i]);
	free(b->records);
	memset(b, 0, sizeof(*b));
}

enum mc_err mc_pop_ack_parse(const char *buf, size_t len,
                             struct mc_pop_ack *out, struct mc_error *err)
{
	json_t *root = NULL, *arr;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_POP_ACK_BYTES, "pop_ack", &root, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_id(root, "", "batch", MC__REQUIRED, &out->batch, err));
	/* Present even when empty: an ack that names nothing is a bug. */
	TRY(mc__json_array(root, "", "ids", MC__REQUIRED, POP_MAX_RECORDS, &arr,
	                   err));
	TRY(mc__json_strv(root, "", "ids", POP_MAX_RECORDS, POP_RECORD_ID_MAX,
	                  record_id_valid,
	                  "a record id of 1..128 characters [A-Za-z0-9._-]",
	                  &out->ids, &out->n_ids, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_pop_ack_clear(out);
	return rc;
}

char *mc_pop_ack_dump(const struct mc_pop_ack *a)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "node", a->node, &ok);
	mc__jset_str(o, "batch", a->batch, &ok);
	mc__jset_strv(o, "ids", a->ids, a->n_ids, &ok);
	return mc__json_finish(o, ok);
}

void mc_pop_ack_clear(struct mc_pop_ack *a)
{
	if (!a)
		return;
	free(a->node);
	free(a->batch);
	mc__strv_free(a->ids, a->n_ids);
	memset(a, 0, sizeof(*a));
}

/* ---- commands ---- */

enum mc_err mc_command_parse(const char *buf, size_t len,
                             struct mc_command *out, struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;
	int action = 0;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_COMMAND_BYTES, "command", &root, err));
	TRY(mc__json_id(root, "", "id", MC__REQUIRED, &out->id, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_enum(
	        root, "", "action", MC__REQUIRED, mc_command_action_parse,
	        "resync|identify|screenshot|restart|reboot|screen_power|volume",
	        0, &action, err));
	out->action = (enum mc_command_action)action;
	/* Arguments belong to one action each; others ignore them. */
	if (out->action == MC_CMD_VOLUME)
		TRY(mc__json_int32(root, "", "volume", MC__REQUIRED, 0, 100, 0,
		                   &out->volume, err));
	if (out->action == MC_CMD_SCREEN_POWER)
		TRY(mc__json_bool(root, "", "power_on", MC__REQUIRED, false,
		                  &out->power_on, err));
	TRY(get_validity(root, &out->issued_ms, &out->expires_ms, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_command_clear(out);
	return rc;
}

char *mc_command_dump(const struct mc_command *c)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "id", c->id, &ok);
	mc__jset_str(o, "node", c->node, &ok);
	mc__jset_str(o, "action", mc_command_action_name(c->action), &ok);
	if (c->action == MC_CMD_VOLUME)
		mc__jset_int(o, "volume", c->volume, &ok);
	if (c->action == MC_CMD_SCREEN_POWER)
		mc__jset_bool(o, "power_on", c->power_on, &ok);
	mc__jset_int(o, "issued_ms", c->issued_ms, &ok);
	mc__jset_int(o, "expires_ms", c->expires_ms, &ok);
	return mc__json_finish(o, ok);
}

void mc_command_clear(struct mc_command *c)
{
	if (!c)
		return;
	free(c->id);
	free(c->node);
	memset(c, 0, sizeof(*c));
}

enum mc_err mc_command_result_parse(const char *buf, size_t len,
                                    struct mc_command_result *out,
                                    struct mc_error *err)
{
	json_t *root = NULL;
	enum mc_err rc;

	memset(out, 0, sizeof(*out));
	TRY(parse_doc(buf, len, MC_MAX_RESULT_BYTES, "command_result", &root,
	              err));
	TRY(mc__json_id(root, "", "id", MC__REQUIRED, &out->id, err));
	TRY(mc__json_id(root, "", "node", MC__REQUIRED, &out->node, err));
	TRY(mc__json_bool(root, "", "ok", MC__REQUIRED, false, &out->ok, err));
	TRY(mc__json_string(root, "", "message", MC__OPTIONAL, MC__TEXT_MAX,
	                    &out->message, err));
	TRY(get_time(root, "", "at_ms", MC__REQUIRED, &out->at_ms, err));
fail:
	json_decref(root);
	if (rc != MC_OK)
		mc_command_result_clear(out);
	return rc;
}

char *mc_command_result_dump(const struct mc_command_result *r)
{
	bool ok = true;
	json_t *o = msg_start(&ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "id", r->id, &ok);
	mc__jset_str(o, "node", r->node, &ok);
	mc__jset_bool(o, "ok", r->ok, &ok);
	mc__jset_str(o, "message", r->message, &ok);
	mc__jset_int(o, "at_ms", r->at_ms, &ok);
	return mc__json_finish(o, ok);
}

void mc_command_result_clear(struct mc_command_result *r)
{
	if (!r)
		return;
	free(r->id);
	free(r->node);
	free(r->message);
	memset(r, 0, sizeof(*r));
}
