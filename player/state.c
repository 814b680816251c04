/* minecast-player — the persisted node state (state.json). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "state.h"

#define STATE_FILE      "state.json"
#define STATE_MAX_BYTES (256 * 1024)

static void ref_clear(struct mc_manifest_ref *r)
{
	free(r->url);
	memset(r, 0, sizeof(*r));
}

enum mc_err mc_manifest_ref_set(struct mc_manifest_ref *r, int64_t version,
                                const char *sha256, int64_t size,
                                const char *url)
{
	char *u = NULL;

	if (url && !(u = strdup(url)))
		return MC_ERR_NOMEM;
	ref_clear(r);
	if (!sha256) {
		free(u);
		return MC_OK;
	}
	r->version = version;
	snprintf(r->sha256, sizeof(r->sha256), "%s", sha256);
	r->size = size;
	r->url = u;
	return MC_OK;
}

void mc_state_free(struct mc_player_state *st)
{
	ref_clear(&st->applied);
	ref_clear(&st->pending);
	for (size_t i = 0; i < st->n_fired; i++)
		free(st->fired[i].entry);
	free(st->fired);
	for (size_t i = 0; i < st->n_alerts; i++)
		free(st->alerts[i].id);
	free(st->alerts);
	memset(st, 0, sizeof(*st));
}

static json_t *ref_dump(const struct mc_manifest_ref *r)
{
	return json_pack("{sI ss sI ss?}", "version", (json_int_t)r->version,
	                 "sha256", r->sha256, "size", (json_int_t)r->size,
	                 "url", r->url);
}

static void ref_load(json_t *j, struct mc_manifest_ref *r)
{
	json_t *sha = json_object_get(j, "sha256");
	json_t *url = json_object_get(j, "url");

	if (!json_is_string(sha) || json_string_length(sha) != 64)
		return;
	mc_manifest_ref_set(
	        r, json_integer_value(json_object_get(j, "version")),
	        json_string_value(sha),
	        json_integer_value(json_object_get(j, "size")),
	        json_is_string(url) ? json_string_value(url) : NULL);
}

enum mc_err mc_state_save(const char *dir, const struct mc_player_state *st,
                          struct mc_error *err)
{
	json_t *root, *fired, *alerts;
	char *text = NULL, *path = NULL;
	enum mc_err rc = MC_ERR_NOMEM;

	fired = json_array();
	alerts = json_object();
	root = json_pack("{sI sI so so si so so}", "boot", (json_int_t)st->boot,
	                 "accepted_version", (json_int_t)st->accepted_version,
	                 "applied", ref_dump(&st->applied), "pending",
	                 ref_dump(&st->pending), "volume", st->volume, "fired",
	                 fired, "alerts", alerts);
	if (!root) {
		mc_error_set(err, rc, "state: out of memory");
		return rc;
	}
	for (size_t i = 0; i < st->n_fired; i++)
		json_array_append_new(
		        fired,
		        json_pack("{ss sI}", "entry", st->fired[i].entry, "at",
		                  (json_int_t)st->fired[i].occ_ms));
	for (size_t i = 0; i < st->n_alerts; i++)
		json_object_set_new(alerts, st->alerts[i].id,
		                    json_integer(st->alerts[i].seq));
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	path = mc_printf("%s/%s", dir, STATE_FILE);
	if (text && path)
		rc = mc_write_file_atomic(path, text, strlen(text), 0600, err);
	else
		mc_error_set(err, rc, "state: out of memory");
	free(text);
	free(path);
	json_decref(root);
	return rc;
}

static enum mc_err state_from_json(json_t *root, struct mc_player_state *st)
{
	json_t *fired = json_object_get(root, "fired");
	json_t *alerts = json_object_get(root, "alerts");
	json_t *v;
	const char *key;
	size_t i;

	if (!json_is_object(root) ||
	    !json_is_integer(json_object_get(root, "boot")) ||
	    !json_is_integer(json_object_get(root, "accepted_version")))
		return MC_ERR_PARSE;
	st->boot = json_integer_value(json_object_get(root, "boot"));
	st->accepted_version =
	        json_integer_value(json_object_get(root, "accepted_version"));
	v = json_object_get(root, "volume");
	st->volume = json_is_integer(v) ? (int)json_integer_value(v) : -1;
	ref_load(json_object_get(root, "applied"), &st->applied);
	ref_load(json_object_get(root, "pending"), &st->pending);
	json_array_foreach(fired, i, v)
	{
		json_int_t at;
		const char *entry;

		if (json_unpack(v, "{ss sI}", "entry", &entry, "at", &at) == 0)
			mc_state_add_fired(st, entry, at, INT64_MIN);
	}
	json_object_foreach(alerts, key, v)
	{
		if (json_is_integer(v))
			mc_state_set_alert_seq(st, key, json_integer_value(v));
	}
	return MC_OK;
}

enum mc_err mc_state_load(const char *dir, struct mc_player_state *st,
                          struct mc_error *err)
{
	char *path = mc_printf("%s/%s", dir, STATE_FILE);
	char *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *root = NULL;
	enum mc_err rc;

	memset(st, 0, sizeof(*st));
	st->volume = -1;
	if (!path)
		return mc_error_set(err, MC_ERR_NOMEM, "state: out of memory");
	rc = mc_read_file(path, STATE_MAX_BYTES, &text, &len, err);
	if (rc == MC_ERR_IO && errno == ENOENT) {
		rc = MC_OK; /* first start */
		goto out;
	}
	if (rc != MC_OK)
		goto out;
	root = json_loadb(text, len, 0, &jerr);
	if (!root || state_from_json(root, st) != MC_OK) {
		char *bad = mc_printf("%s.corrupt", path);

		mc_state_free(st);
		st->volume = -1;
		if (bad)
			rename(path, bad);
		rc = mc_error_set(err, MC_ERR_PARSE,
		                  "%s: unreadable (%s); kept as %s.corrupt, "
		                  "starting with a fresh state",
		                  path, root ? "bad fields" : jerr.text, path);
		free(bad);
	}
out:
	json_decref(root);
	free(text);
	free(path);
	return rc;
}

bool mc_state_fired(const struct mc_player_state *st, const char *entry,
                    int64_t occ_ms)
{
	for (size_t i = 0; i < st->n_fired; i++)
		if (st->fired[i].occ_ms == occ_ms &&
		    strcmp(st->fired[i].entry, entry) == 0)
			return true;
	return false;
}

enum mc_err mc_state_add_fired(struct mc_player_state *st, const char *entry,
                               int64_t occ_ms, int64_t now_ms)
{
	struct mc_fired *grown;
	size_t keep = 0;

	/* Forget what is too old to come back even after a clock step. */
	for (size_t i = 0; i < st->n_fired; i++) {
		if (now_ms != INT64_MIN &&
		    st->fired[i].occ_ms < now_ms - MC_STATE_FIRED_KEEP_MS) {
			free(st->fired[i].entry);
			continue;
		}
		st->fired[keep++] = st->fired[i];
	}
	st->n_fired = keep;
	if (mc_state_fired(st, entry, occ_ms))
		return MC_OK;
	grown = realloc(st->fired, (st->n_fired + 1) * sizeof(*grown));
	if (!grown)
		return MC_ERR_NOMEM;
	st->fired = grown;
	st->fired[st->n_fired].entry = strdup(entry);
	if (!st->fired[st->n_fired].entry)
		return MC_ERR_NOMEM;
	st->fired[st->n_fired++].occ_ms = occ_ms;
	return MC_OK;
}

int64_t mc_state_alert_seq(const struct mc_player_state *st, const char *id)
{
	for (size_t i = 0; i < st->n_alerts; i++)
		if (strcmp(st->alerts[i].id, id) == 0)
			return st->alerts[i].seq;
	return INT64_MIN;
}

enum mc_err mc_state_set_alert_seq(struct mc_player_state *st, const char *id,
                                   int64_t seq)
{
	struct mc_alert_seen *grown;

	for (size_t i = 0; i < st->n_alerts; i++)
		if (strcmp(st->alerts[i].id, id) == 0) {
			st->alerts[i].seq = seq;
			return MC_OK;
		}
	if (st->n_alerts == MC_STATE_ALERTS_MAX) {
		/* Forget the oldest id: alerts expire within hours. */
		free(st->alerts[0].id);
		memmove(st->alerts, st->alerts + 1,
		        (st->n_alerts - 1) * sizeof(*st->alerts));
		st->n_alerts--;
	}
	grown = realloc(st->alerts, (st->n_alerts + 1) * sizeof(*grown));
	if (!grown)
		return MC_ERR_NOMEM;
	st->alerts = grown;
	st->alerts[st->n_alerts].id = strdup(id);
	if (!st->alerts[st->n_alerts].id)
		return MC_ERR_NOMEM;
	st->alerts[st->n_alerts++].seq = seq;
	return MC_OK;
}
