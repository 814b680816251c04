/*
 * minecast-player — desired state and sync: from a verified pointer to a
 * manifest whose every asset is in the cache.
 *
 * A pointer is verified (signature, node, version, expiry) and accepted:
 * its version becomes the replay guard at once.  The manifest is fetched
 * into the cache, checked (node, schedule compiles) and handed to the
 * timeline as pending, where it takes effect item by item as assets are
 * verified.  When the last asset is in, it becomes the applied
 * (last-known-good) manifest and the state says so.  Any failure leaves
 * the applied manifest playing.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sched.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "player.h"

/* How far ahead download priority looks (the "next 48 hours"). */
#define LOOKAHEAD_MS (48LL * 3600 * 1000)

/* Short form of a sha256 for log lines. */
static const char *short_sha(const char *sha, char buf[13])
{
	snprintf(buf, 13, "%.12s", sha);
	return buf;
}

static struct mc_who who_of(const struct mc_player *p)
{
	struct mc_who w = {p->cfg.node_id, p->cfg.site,
	                   (const char *const *)p->cfg.tags, p->cfg.n_tags};
	return w;
}

/* Load and check a cached manifest: node and schedule. */
static enum mc_err load_manifest(struct mc_player *p,
                                 const struct mc_manifest_ref *ref,
                                 struct mc_manifest **m, struct mc_sched **s,
                                 struct mc_error *err)
{
	char path[4096];
	enum mc_err rc;

	*m = NULL;
	*s = NULL;
	mc_cache_path(p->cache, ref->sha256, path, sizeof(path));
	rc = mc_manifest_load(path, MC_DOC_MANIFEST, m, err);
	if (rc != MC_OK)
		return rc;
	if ((*m)->node && strcmp((*m)->node, p->cfg.node_id) != 0) {
		rc = mc_error_set(err, MC_ERR_NODE,
		                  "node: manifest is for '%s', this node is "
		                  "'%s'",
		                  (*m)->node, p->cfg.node_id);
		goto fail;
	}
	*s = mc_sched_new(*m, err);
	if (!*s) {
		rc = err->code ? err->code : MC_ERR_NOMEM;
		goto fail;
	}
	return MC_OK;
fail:
	mc_manifest_free(*m);
	*m = NULL;
	return rc;
}

static void clear_assets(struct mc_player *p)
{
	for (size_t i = 0; i < p->sync.n_assets; i++)
		free(p->sync.assets[i]);
	MC_FREE(p->sync.assets);
	p->sync.n_assets = 0;
	p->sync.bytes_left = 0;
}

static void save_state(struct mc_player *p)
{
	struct mc_error err;

	if (mc_state_save(p->cfg.state_dir, &p->st, &err) != MC_OK)
		mc_player_error(p, "state", "cannot save: %s", err.msg);
	p->state_dirty = true;
}

void mc_sync_boot(struct mc_player *p)
{
	struct mc_manifest *m;
	struct mc_sched *s;
	struct mc_error err;
	char b[13];

	if (p->st.applied.sha256[0]) {
		if (load_manifest(p, &p->st.applied, &m, &s, &err) == MC_OK) {
			mc_timeline_set_applied(p->tl, m, s);
			mc_log_info("sync",
			            "playing version %" PRId64
			            " (manifest %s) from cache",
			            p->st.applied.version,
			            short_sha(p->st.applied.sha256, b));
		} else {
			mc_player_error(p, "sync",
			                "last-known-good manifest %s unusable: "
			                "%s; playing the built-in screen until "
			                "the controller sends one",
			                short_sha(p->st.applied.sha256, b),
			                err.msg);
		}
	} else {
		mc_log_info("sync", "no manifest yet: waiting for the "
		                    "controller's desired state");
	}
	if (p->st.pending.sha256[0] &&
	    mc_cache_has(p->cache, p->st.pending.sha256, p->st.pending.size) &&
	    load_manifest(p, &p->st.pending, &m, &s, &err) == MC_OK)
		mc_timeline_set_pending(p->tl, m, s);
}

/* The first instant in [now, now + LOOKAHEAD) at which entry i plays. */
struct first_use {
	int64_t at;
};

static bool first_occ(int64_t start, int64_t end, void *ud)
{
	struct first_use *f = ud;

	(void)end;
	f->at = start;
	return false;
}

static void need(const struct mc_content *c, int64_t at, const char **sha,
                 int64_t *when, size_t n)
{
	for (size_t i = 0; c && c->has_asset && i < n; i++)
		if (sha[i] && strcmp(sha[i], c->asset.sha256) == 0 &&
		    at < when[i])
			when[i] = at;
}

/*
 * Want every asset of the pending manifest that is not cached, those the
 * next 48 hours need first (by their first use), the rest after.
 */
static void want_assets(struct mc_player *p, const struct mc_manifest *m,
                        const struct mc_sched *s)
{
	int64_t now = mc_now_ms();
	struct mc_who who = who_of(p);
	const char **sha = calloc(m->n_content + 1, sizeof(*sha));
	int64_t *when = calloc(m->n_content + 1, sizeof(*when));
	size_t n = 0;

	clear_assets(p);
	if (!sha || !when) {
		mc_player_error(p, "sync", "out of memory planning downloads");
		goto out;
	}
	for (size_t i = 0; i < m->n_content; i++) {
		const struct mc_content *c = &m->content[i];

		if (!c->has_asset)
			continue;
		sha[n] = c->asset.sha256;
		when[n++] = now + LOOKAHEAD_MS;
	}
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		need(m->fallback[ch], now, sha, when, n);
	for (size_t i = 0; i < m->n_entries; i++) {
		const struct mc_entry *e = &m->entries[i];
		struct first_use f = {INT64_MAX};

		if (!mc_targets_match(&e->targets, &who))
			continue;
		mc_sched_occurrences(s, i, now, now + LOOKAHEAD_MS, first_occ,
		                     &f);
		if (f.at == INT64_MAX)
			continue;
		if (f.at < now)
			f.at = now;
		for (size_t k = 0; k < e->playlist->n_items; k++) {
			const struct mc_content *c =
			        e->playlist->items[k].content;

			need(c, f.at, sha, when, n);
			if (c->type == MC_CONTENT_SLOGAN && c->style.bg_image)
				need(mc_manifest_content(m, c->style.bg_image),
				     f.at, sha, when, n);
		}
	}
	for (size_t i = 0; i < m->n_content; i++) {
		const struct mc_content *c = &m->content[i];
		char url[128], **grown;
		int64_t by = now + LOOKAHEAD_MS;

		if (!c->has_asset ||
		    mc_cache_has(p->cache, c->asset.sha256, c->asset.size))
			continue;
		/* Two contents may share one file: want it once. */
		for (size_t k = 0; k < p->sync.n_assets; k++)
			if (strcmp(p->sync.assets[k], c->asset.sha256) == 0)
				goto next;
		for (size_t k = 0; k < n; k++)
			if (strcmp(sha[k], c->asset.sha256) == 0)
				by = when[k];
		grown = realloc(p->sync.assets,
		                (p->sync.n_assets + 1) * sizeof(*grown));
		if (!grown)
			break;
		p->sync.assets = grown;
		p->sync.assets[p->sync.n_assets] = strdup(c->asset.sha256);
		if (!p->sync.assets[p->sync.n_assets])
			break;
		p->sync.n_assets++;
		p->sync.bytes_left += c->asset.size;
		snprintf(url, sizeof(url), "/v1/content/%s", c->asset.sha256);
		mc_fetcher_want(p->fetch, c->asset.sha256, c->asset.size,
		                c->asset.url ? c->asset.url : url, by);
	next:;
	}
	{
		/* Forget downloads the new manifest no longer needs. */
		const char **keep = calloc(p->sync.n_assets + 1, sizeof(*keep));

		if (keep) {
			for (size_t k = 0; k < p->sync.n_assets; k++)
				keep[k] = p->sync.assets[k];
			keep[p->sync.n_assets] = p->st.pending.sha256;
			mc_fetcher_retain(p->fetch, keep, p->sync.n_assets + 1);
			free(keep);
		}
	}
out:
	free(sha);
	free(when);
}

static void promote(struct mc_player *p)
{
	char b[13];

	mc_timeline_promote(p->tl);
	mc_manifest_ref_set(&p->st.applied, p->st.pending.version,
	                    p->st.pending.sha256, p->st.pending.size,
	                    p->st.pending.url);
	mc_manifest_ref_set(&p->st.pending, 0, NULL, 0, NULL);
	p->sync.failed = false;
	save_state(p);
	mc_log_info("sync",
	            "version %" PRId64 " applied (manifest %s): every "
	            "asset verified",
	            p->st.applied.version, short_sha(p->st.applied.sha256, b));
	mc_sync_gc(p, false);
}

/* The pending manifest file is in the cache: check it and plan assets. */
static void manifest_ready(struct mc_player *p)
{
	struct mc_manifest *m;
	struct mc_sched *s;
	struct mc_error err;
	char b[13];

	if (load_manifest(p, &p->st.pending, &m, &s, &err) != MC_OK) {
		mc_player_error(p, "sync",
		                "manifest %s of version %" PRId64
		                " refused: %s; still playing version %" PRId64,
		                short_sha(p->st.pending.sha256, b),
		                p->st.pending.version, err.msg,
		                p->st.applied.version);
		mc_manifest_ref_set(&p->st.pending, 0, NULL, 0, NULL);
		p->sync.failed = true;
		save_state(p);
		return;
	}
	want_assets(p, m, s);
	mc_timeline_set_pending(p->tl, m, s);
	mc_log_info("sync",
	            "version %" PRId64 ": %zu of %zu assets to fetch "
	            "(%" PRId64 " bytes)",
	            p->st.pending.version, p->sync.n_assets, m->n_content,
	            p->sync.bytes_left);
	p->state_dirty = true;
	if (p->sync.n_assets == 0)
		promote(p);
}

void mc_sync_resume(struct mc_player *p)
{
	const struct mc_manifest *m = mc_timeline_pending(p->tl);
	char url[128];

	if (!p->st.pending.sha256[0])
		return;
	if (!m) {
		p->sync.manifest_wanted = true;
		snprintf(url, sizeof(url), "/v1/manifests/%s",
		         p->st.pending.sha256);
		mc_fetcher_want(p->fetch, p->st.pending.sha256,
		                p->st.pending.size,
		                p->st.pending.url ? p->st.pending.url : url, 0);
		return;
	}
	/* The pending manifest was already checked at boot. */
	manifest_ready(p);
}

void mc_sync_pointer(struct mc_player *p, const char *payload, size_t len)
{
	struct mc_pointer ptr = {0};
	struct mc_error err = {0};
	int64_t guard = p->st.accepted_version;
	enum mc_err rc;
	char b[13];

	if (len == 0)
		return; /* a deleted retained message: nothing desired */
	if (!p->clock_synced) {
		/* Expiry cannot be judged on an unknown clock: hold it. */
		free(p->sync.held_pointer);
		p->sync.held_pointer = malloc(len + 1);
		if (p->sync.held_pointer) {
			memcpy(p->sync.held_pointer, payload, len);
			p->sync.held_pointer[len] = '\0';
			p->sync.held_len = len;
		}
		mc_log_warn("sync", "desired state held until the clock is "
		                    "synchronised (its expiry cannot be "
		                    "judged yet)");
		return;
	}
	/* The retained pointer comes back at every reconnect: the one we
	 * hold already is not a replay, just a repeat. */
	rc = mc_pointer_open(&p->cfg.keyring, payload, len, p->cfg.node_id,
	                     guard > 0 ? guard - 1 : guard, mc_now_ms(), &ptr,
	                     &err);
	if (rc == MC_OK && ptr.version == guard && guard > 0) {
		const char *known = p->st.pending.sha256[0]
		                            ? p->st.pending.sha256
		                            : p->st.applied.sha256;

		if (strcmp(ptr.manifest_sha256, known) == 0) {
			mc_log_debug("sync",
			             "desired state version %" PRId64
			             " repeated",
			             ptr.version);
			goto out;
		}
		rc = mc_error_set(&err, MC_ERR_REPLAY,
		                  "version: %" PRId64 " was already accepted "
		                  "for another manifest",
		                  ptr.version);
	}
	if (rc != MC_OK) {
		mc_player_error(p, "sync",
		                "desired state rejected: %s; still playing "
		                "version %" PRId64,
		                err.msg, p->st.applied.version);
		goto out;
	}
	mc_log_info("sync",
	            "desired state version %" PRId64 " accepted: "
	            "manifest %s (%" PRId64 " bytes)",
	            ptr.version, short_sha(ptr.manifest_sha256, b),
	            ptr.manifest_size);
	p->st.accepted_version = ptr.version;
	p->sync.failed = false;
	clear_assets(p);
	p->sync.manifest_wanted = false;
	if (strcmp(ptr.manifest_sha256, p->st.applied.sha256) == 0) {
		/* Same manifest, new version: nothing to fetch. */
		p->st.applied.version = ptr.version;
		mc_manifest_ref_set(&p->st.pending, 0, NULL, 0, NULL);
		mc_timeline_set_pending(p->tl, NULL, NULL);
		save_state(p);
		goto out;
	}
	mc_manifest_ref_set(&p->st.pending, ptr.version, ptr.manifest_sha256,
	                    ptr.manifest_size, ptr.manifest_url);
	mc_timeline_set_pending(p->tl, NULL, NULL);
	save_state(p);
	{
		/* Downloads for a manifest no longer wanted stop now, and
		 * their part files go: a full disk must not stay full. */
		const char *keep[] = {p->st.pending.sha256};

		mc_fetcher_retain(p->fetch, keep, 1);
		mc_sync_gc(p, false);
	}
	if (mc_cache_has(p->cache, ptr.manifest_sha256, ptr.manifest_size))
		manifest_ready(p);
	else
		mc_sync_resume(p);
out:
	mc_pointer_clear(&ptr);
}

void mc_sync_fetched(struct mc_player *p, const struct mc_event *ev)
{
	char b[13];

	if (ev->rc != MC_OK) {
		mc_player_error(p, "fetch", "%s: %s", short_sha(ev->sha256, b),
		                ev->text ? ev->text : mc_strerror(ev->rc));
		/* Out of space: drop every file no manifest of ours needs,
		 * whatever the quota says, before the next attempt. */
		if (ev->text && strstr(ev->text, "disk full"))
			mc_sync_gc(p, true);
		p->sync.failed = true;
		p->state_dirty = true;
		return;
	}
	if (p->sync.manifest_wanted &&
	    strcmp(ev->sha256, p->st.pending.sha256) == 0) {
		p->sync.manifest_wanted = false;
		manifest_ready(p);
		return;
	}
	for (size_t i = 0; i < p->sync.n_assets; i++) {
		if (strcmp(p->sync.assets[i], ev->sha256) != 0)
			continue;
		free(p->sync.assets[i]);
		p->sync.assets[i] = p->sync.assets[--p->sync.n_assets];
		p->sync.failed = false;
		p->state_dirty = true;
		break;
	}
	/* Recount the bytes from the manifest rather than trust sums. */
	p->sync.bytes_left = 0;
	if (mc_timeline_pending(p->tl)) {
		const struct mc_manifest *m = mc_timeline_pending(p->tl);

		for (size_t i = 0; i < p->sync.n_assets; i++)
			for (size_t k = 0; k < m->n_content; k++)
				if (m->content[k].has_asset &&
				    strcmp(m->content[k].asset.sha256,
				           p->sync.assets[i]) == 0) {
					p->sync.bytes_left +=
					        m->content[k].asset.size;
					break;
				}
		if (p->sync.n_assets == 0)
			promote(p);
	}
}

void mc_sync_clock_synced(struct mc_player *p)
{
	char *held = p->sync.held_pointer;
	size_t len = p->sync.held_len;

	if (!held)
		return;
	p->sync.held_pointer = NULL;
	p->sync.held_len = 0;
	mc_sync_pointer(p, held, len);
	free(held);
}

/* Re-check one manifest's files; returns how many are wanted again. */
static size_t recheck(struct mc_player *p, const struct mc_manifest *m)
{
	size_t n = 0;

	for (size_t i = 0; m && i < m->n_content; i++) {
		const struct mc_content *c = &m->content[i];
		char path[4096], got[65], url[128];
		struct mc_error err;
		int64_t size = 0;

		if (!c->has_asset)
			continue;
		mc_cache_path(p->cache, c->asset.sha256, path, sizeof(path));
		if (mc_cache_has(p->cache, c->asset.sha256, c->asset.size)) {
			if (mc_sha256_file(path, got, &size, &err) == MC_OK &&
			    strcmp(got, c->asset.sha256) == 0)
				continue;
			mc_player_error(p, "sync",
			                "cached %s is damaged; fetching it "
			                "again",
			                c->id);
			unlink(path);
		}
		snprintf(url, sizeof(url), "/v1/content/%s", c->asset.sha256);
		mc_fetcher_want(p->fetch, c->asset.sha256, c->asset.size,
		                c->asset.url ? c->asset.url : url, 0);
		n++;
	}
	return n;
}

size_t mc_sync_resync(struct mc_player *p)
{
	return recheck(p, mc_timeline_applied(p->tl)) +
	       recheck(p, mc_timeline_pending(p->tl));
}

static void keep_of(const struct mc_manifest *m, const char **keep, size_t *n)
{
	for (size_t i = 0; m && i < m->n_content; i++)
		if (m->content[i].has_asset)
			keep[(*n)++] = m->content[i].asset.sha256;
}

void mc_sync_gc(struct mc_player *p, bool force)
{
	const struct mc_manifest *a = mc_timeline_applied(p->tl);
	const struct mc_manifest *q = mc_timeline_pending(p->tl);
	size_t cap = 2 + (a ? a->n_content : 0) + (q ? q->n_content : 0);
	const char **keep = calloc(cap, sizeof(*keep));
	struct mc_error err;
	int64_t freed = 0;
	size_t n = 0;

	if (!keep)
		return;
	if (p->st.applied.sha256[0])
		keep[n++] = p->st.applied.sha256;
	if (p->st.pending.sha256[0])
		keep[n++] = p->st.pending.sha256;
	keep_of(a, keep, &n);
	keep_of(q, keep, &n);
	if (mc_cache_gc(p->cache, keep, n, force, &freed, &err) != MC_OK)
		mc_player_error(p, "cache", "collection failed: %s", err.msg);
	else if (freed)
		mc_log_info("cache",
		            "freed %" PRId64 " bytes of files no "
		            "manifest needs",
		            freed);
	free(keep);
}

int64_t mc_sync_bytes_left(const struct mc_player *p)
{
	return p->sync.bytes_left +
	       (p->sync.manifest_wanted ? p->st.pending.size : 0);
}

const char *mc_sync_status(const struct mc_player *p)
{
	if (p->sync.failed)
		return "error";
	if (p->sync.manifest_wanted || p->sync.n_assets)
		return "syncing";
	return "idle";
}
