/*
 * minecast-player render: draw one frame to a PNG, with no display.
 *
 * The controller uses it for previews and the tests for golden images;
 * it draws with the same code as the screen and the screenshots
 * (render.c), and picks what the screen shows with the same schedule
 * engine as the player (mc_sched_now on the screen channel, templates
 * resolved for the day).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/sched.h"
#include "minecast/util.h"

#include "render.h"

#define DEFAULT_FONT "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"
#define MAX_TAGS     32

static const char usage[] =
        "usage: minecast-player render --manifest FILE [--at TIME | --item "
        "ID]\n"
        "                              --out FILE.png [options]\n"
        "       minecast-player render --alert TEXT [--level LEVEL] --out "
        "FILE.png [options]\n"
        "\n"
        "Draw one frame of what a screen shows, without a display, to a PNG\n"
        "file.  The frame is drawn by the same code as the screen itself.\n"
        "\n"
        "  --manifest FILE   a campaign (minecast-campaign/1) or a node's\n"
        "                    manifest (minecast-manifest/1)\n"
        "  --at TIME         what the screen shows at TIME, by the schedule:\n"
        "                    RFC 3339 (2023-11-12T08:00:00+07:00, or without\n"
        "                    an offset: local time of the document's zone) or\n"
        "                    YYYYMMDDTHHMMSS[Z]; default now.  Nothing\n"
        "                    scheduled and no fallback: the built-in screen\n"
        "  --item ID         that content item instead (its templates are\n"
        "                    resolved for --at, by the first entry that plays\n"
        "                    it)\n"
        "  --alert TEXT      the urgent-alert takeover with this text\n"
        "  --level LEVEL     info, warning, danger or evacuate (default\n"
        "                    warning)\n"
        "  --size WxH        frame size in pixels (default 1920x1080; a\n"
        "                    portrait screen is 1080x1920)\n"
        "  --out FILE.png    where to write the PNG (required)\n"
        "  --node ID         the node: its targets select entries, and the\n"
        "                    built-in screen shows it\n"
        "  --site ID         the node's site, for targets\n"
        "  --tags A,B        the node's tags, for targets (without --node,\n"
        "                    --site and --tags every entry applies)\n"
        "  --assets DIR      where a campaign's files are (src is tried as\n"
        "                    DIR/src, then DIR/<file name>); default: src\n"
        "                    relative to the campaign file\n"
        "  --cache DIR       a player cache: a manifest's files are\n"
        "                    DIR/blobs/<sha256>\n"
        "  --font FILE       default font (default " DEFAULT_FONT ")\n"
        "  --help            this text\n"
        "\n"
        "Exit status: 0 written, 1 failed (bad file, undecodable image,\n"
        "missing font), 2 wrong usage.\n";

/* The command line. */
struct args {
	const char *manifest, *at, *item, *alert, *level, *size, *out;
	const char *node, *site, *tags, *assets, *cache, *font;
	int w, h;
};

static int usage_error(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* Print a usage error (fmt names the option) and return 2. */
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "minecast-player: render: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(minecast-player render --help shows usage)\n");
	return 2;
}

static int parse_args(int argc, char **argv, struct args *a, bool *help)
{
	static const char *const names[] = {
	        "--manifest", "--at",    "--item", "--alert", "--level",
	        "--size",     "--out",   "--node", "--site",  "--tags",
	        "--assets",   "--cache", "--font"};
	const char **slots[] = {&a->manifest, &a->at,   &a->item,   &a->alert,
	                        &a->level,    &a->size, &a->out,    &a->node,
	                        &a->site,     &a->tags, &a->assets, &a->cache,
	                        &a->font};

	*help = false;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		size_t n, k;

		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			*help = true;
			return 0;
		}
		eq = strchr(arg, '=');
		n = eq && strncmp(arg, "--", 2) == 0 ? (size_t)(eq - arg)
		                                     : strlen(arg);
		for (k = 0; k < MC_ARRAY_LEN(names); k++)
			if (strlen(names[k]) == n &&
			    strncmp(arg, names[k], n) == 0)
				break;
		if (k == MC_ARRAY_LEN(names))
			return usage_error("%s: unknown option", arg);
		if (eq && n < strlen(arg)) {
			val = eq + 1;
		} else {
			if (i + 1 >= argc)
				return usage_error("%s: needs a value",
				                   names[k]);
			val = argv[++i];
		}
		if (*slots[k])
			return usage_error("%s: given twice", names[k]);
		*slots[k] = val;
	}
	if (!a->out)
		return usage_error("--out: required");
	if (!a->manifest && !a->alert)
		return usage_error("--manifest: required (or --alert)");
	if (a->item && a->alert)
		return usage_error("--item: not with --alert");
	if (a->level && !a->alert)
		return usage_error("--level: only with --alert");
	if (a->level && mc_alert_level_parse(a->level) < 0)
		return usage_error("--level: '%s' is not a level: expected "
		                   "info, warning, danger or evacuate",
		                   a->level);
	a->w = 1920;
	a->h = 1080;
	if (a->size) {
		char x, extra;

		if (sscanf(a->size, "%d%c%d%c", &a->w, &x, &a->h, &extra) !=
		            3 ||
		    (x != 'x' && x != 'X') || a->w < 16 || a->h < 16 ||
		    a->w > 16384 || a->h > 16384)
			return usage_error("--size: '%s' is not a size: "
			                   "expected WxH, 16..16384 a side "
			                   "(1920x1080)",
			                   a->size);
	}
	if (!a->font)
		a->font = DEFAULT_FONT;
	return 0;
}

/* ---- times --------------------------------------------------------- */

static bool first_start(int64_t start_ms, const char *start, void *ud)
{
	(void)start;
	*(int64_t *)ud = start_ms;
	return false;
}

/*
 * Parse --at: RFC 3339 with an offset or Z, or a local time (RFC 3339
 * without an offset, or YYYYMMDDTHHMMSS) in zone tz, converted by the
 * schedule engine's own zone code; or YYYYMMDDTHHMMSSZ.
 */
static bool parse_at(const char *s, const char *tz, int64_t *out)
{
	int y, mo, d, hh, mi, ss, n = 0;
	char basic[64];
	const char *p;
	struct mc_error err = {0};
	int64_t t = INT64_MIN;

	if (sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &hh, &mi,
	           &ss, &n) == 6 &&
	    n == 19) {
		p = s + n;
		if (*p == '.' || *p == ',')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
		if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 ||
		    mi > 59 || ss > 60)
			return false;
		if (*p == 'Z' || *p == 'z' || *p == '+' || *p == '-')
			return mc_rfc3339_parse(s, out);
		if (*p != '\0')
			return false;
		snprintf(basic, sizeof(basic), "%04d%02d%02dT%02d%02d%02d", y,
		         mo, d, hh, mi, ss);
		s = basic;
	}
	if (mc_sched_expand(s, tz, "FREQ=DAILY;COUNT=1", 1, first_start, &t,
	                    &err) != MC_OK ||
	    t == INT64_MIN)
		return false;
	*out = t;
	return true;
}

/* ---- the document -------------------------------------------------- */

static struct mc_manifest *load_doc(const char *file)
{
	struct mc_manifest *m = NULL;
	struct mc_error err = {0}, err2 = {0};

	if (mc_manifest_load(file, MC_DOC_CAMPAIGN, &m, &err) == MC_OK)
		return m;
	if (mc_manifest_load(file, MC_DOC_MANIFEST, &m, &err2) == MC_OK)
		return m;
	/* When the file says it is a manifest, its own errors count. */
	fprintf(stderr, "minecast-player: render: --manifest: %s\n",
	        strstr(err.msg, ": format: ") ? err2.msg : err.msg);
	return NULL;
}

/*
 * The file of content c's asset: a campaign's src (beside the campaign
 * or under --assets), a manifest's blob in --cache.  NULL with a message
 * when it cannot be named; the file may still be missing.
 */
static char *asset_path(const struct args *a, const struct mc_manifest *m,
                        const struct mc_content *c)
{
	char *p = NULL;

	if (!c || !c->has_asset)
		return NULL;
	if (m->kind == MC_DOC_MANIFEST || !c->asset.src) {
		if (!a->cache) {
			fprintf(stderr,
			        "minecast-player: render: --cache: needed to "
			        "find the file of %s (sha256 %s)\n",
			        c->id, c->asset.sha256);
			return NULL;
		}
		return mc_printf("%s/blobs/%s", a->cache, c->asset.sha256);
	}
	if (c->asset.src[0] == '/')
		return mc_strdup(c->asset.src);
	if (a->assets) {
		const char *base = strrchr(c->asset.src, '/');

		p = mc_printf("%s/%s", a->assets, c->asset.src);
		if (p && access(p, F_OK) == 0)
			return p;
		free(p);
		return mc_printf("%s/%s", a->assets,
		                 base ? base + 1 : c->asset.src);
	} else {
		const char *slash = strrchr(a->manifest, '/');

		if (!slash)
			return mc_strdup(c->asset.src);
		return mc_printf("%.*s/%s", (int)(slash - a->manifest),
		                 a->manifest, c->asset.src);
	}
}

/* Split --tags a,b into tags[] (pointers into buf). */
static size_t split_tags(char *buf, const char **tags)
{
	size_t n = 0;

	for (char *t = strtok(buf, ","); t && n < MAX_TAGS;
	     t = strtok(NULL, ","))
		if (*t)
			tags[n++] = t;
	return n;
}

/* The first entry whose playlist holds content c; SIZE_MAX if none. */
static size_t entry_of(const struct mc_manifest *m, const struct mc_content *c)
{
	for (size_t e = 0; e < m->n_entries; e++) {
		const struct mc_playlist *pl = m->entries[e].playlist;

		for (size_t i = 0; pl && i < pl->n_items; i++)
			if (pl->items[i].content == c)
				return e;
	}
	return SIZE_MAX;
}

static bool latest_start(int64_t start_ms, int64_t end_ms, void *ud)
{
	int64_t *at = ud;

	(void)end_ms;
	if (start_ms <= at[0])
		at[1] = start_ms;
	return start_ms <= at[0];
}

/* ---- the command --------------------------------------------------- */

/* What to draw, picked from the document. */
struct pick {
	const struct mc_content *content; /* NULL = built-in screen */
	char *text;                       /* resolved text, owned */
	const char *entry;                /* entry id, or NULL */
	const char *reason;               /* for the built-in screen */
};

static int pick_content(const struct args *a, const struct mc_manifest *m,
                        const struct mc_sched *s, int64_t t, struct pick *pk)
{
	const char *tags[MAX_TAGS];
	char *tagbuf = mc_strdup(a->tags);
	struct mc_who who = {a->node, a->site, tags, 0};
	struct mc_now now = {0};
	int rc = 1;

	if (tagbuf)
		who.n_tags = split_tags(tagbuf, tags);
	if (a->item) {
		size_t e;
		int64_t at[2] = {t, t};

		pk->content = mc_manifest_content(m, a->item);
		if (!pk->content) {
			fprintf(stderr,
			        "minecast-player: render: --item: no content "
			        "'%s' in %s\n",
			        a->item, a->manifest);
			goto out;
		}
		e = entry_of(m, pk->content);
		if (e != SIZE_MAX) {
			mc_sched_occurrences(s, e, t, t + 1, latest_start, at);
			pk->entry = m->entries[e].id;
		}
		if (mc_sched_text(s, e, pk->content, at[1], &pk->text) != MC_OK)
			goto out;
		rc = 0;
		goto out;
	}
	if (mc_sched_now(s, a->node || a->site || a->tags ? &who : NULL,
	                 MC_CH_SCREEN, t, NULL, &now) != MC_OK) {
		fprintf(stderr, "minecast-player: render: schedule failed\n");
		goto out;
	}
	pk->content = now.content;
	pk->text = now.text;
	now.text = NULL;
	pk->entry = now.entry ? now.entry->id : NULL;
	pk->reason = now.kind == MC_NOW_SCHEDULED    ? "scheduled"
	             : now.reason == MC_REASON_CLOCK ? "clock"
	             : now.kind == MC_NOW_FALLBACK   ? "fallback"
	                                             : "idle";
	rc = 0;
out:
	mc_now_clear(&now);
	free(tagbuf);
	return rc;
}

/* Draw from the document; NULL after printing why. */
static SDL_Surface *draw_doc(const struct args *a, struct mc_render **r,
                             struct mc_render_opts *ro, bool *bad_usage)
{
	struct mc_manifest *m = load_doc(a->manifest);
	struct mc_sched *s = NULL;
	struct mc_error err = {0};
	struct pick pk = {0};
	struct mc_play p = {0};
	char *path = NULL, *bg_path = NULL;
	SDL_Surface *f = NULL;
	int64_t t = mc_now_ms();

	if (!m)
		return NULL;
	s = mc_sched_new(m, &err);
	if (!s) {
		fprintf(stderr, "minecast-player: render: %s: %s\n",
		        a->manifest, err.msg);
		goto out;
	}
	if (a->at &&
	    !parse_at(a->at, m->timezone ? m->timezone : MC_SCHED_DEFAULT_TZ,
	              &t)) {
		fprintf(stderr,
		        "minecast-player: render: --at: '%s' is not a time: "
		        "expected RFC 3339 (2023-11-12T08:00:00+07:00) or "
		        "YYYYMMDDTHHMMSS[Z]\n",
		        a->at);
		*bad_usage = true;
		goto out;
	}
	if (pick_content(a, m, s, t, &pk) != 0)
		goto out;
	/* The built-in screen names the node: --node, else the manifest's. */
	if (!a->node && m->node) {
		mc_render_free(*r);
		ro->node = m->node;
		*r = mc_render_new(ro, &err);
		if (!*r) {
			fprintf(stderr, "minecast-player: render: %s\n",
			        err.msg);
			goto out;
		}
	}
	if (!pk.content) {
		f = mc_render_idle(*r, pk.reason);
		printf("%s: built-in screen (%s)\n", a->out, pk.reason);
		goto out;
	}
	p.channel = MC_CH_SCREEN;
	p.content = pk.content;
	p.text = pk.text;
	p.entry_id = pk.entry;
	p.reason = pk.reason;
	p.fallback = pk.reason && strcmp(pk.reason, "fallback") == 0;
	if (pk.content->has_asset) {
		path = asset_path(a, m, pk.content);
		if (!path)
			goto out;
		p.path = path;
	}
	if (pk.content->type == MC_CONTENT_SLOGAN &&
	    pk.content->style.bg_image) {
		const struct mc_content *bg =
		        mc_manifest_content(m, pk.content->style.bg_image);

		bg_path = asset_path(a, m, bg);
		p.bg_path = bg_path;
	}
	f = mc_render_play(*r, &p, &err);
	if (!f)
		fprintf(stderr, "minecast-player: render: %s\n", err.msg);
	else
		printf("%s: %s%s%s%s%s\n", a->out, pk.content->id,
		       pk.entry ? " (entry " : "", pk.entry ? pk.entry : "",
		       pk.entry ? ")" : "", p.fallback ? " (fallback)" : "");
out:
	free(path);
	free(bg_path);
	free(pk.text);
	mc_sched_free(s);
	mc_manifest_free(m);
	return f;
}

int mc_render_main(int argc, char **argv)
{
	struct args a = {0};
	struct mc_render_opts ro = {0};
	struct mc_render *r = NULL;
	struct mc_error err = {0};
	SDL_Surface *f = NULL;
	unsigned char *png = NULL;
	size_t len = 0;
	bool help, bad_usage = false;
	int rc;

	rc = parse_args(argc, argv, &a, &help);
	if (rc)
		return rc;
	if (help) {
		fputs(usage, stdout);
		return 0;
	}
	rc = 1;
	ro.width = a.w;
	ro.height = a.h;
	ro.font = a.font;
	ro.node = a.node;
	r = mc_render_new(&ro, &err);
	if (!r) {
		fprintf(stderr, "minecast-player: render: --font: %s\n",
		        err.msg);
		goto out;
	}
	if (a.alert) {
		struct mc_alert al = {0};

		al.level = a.level ? mc_alert_level_parse(a.level)
		                   : MC_ALERT_WARNING;
		al.text = (char *)a.alert;
		f = mc_render_alert(r, &al);
		if (f)
			printf("%s: alert (%s)\n", a.out,
			       mc_alert_level_name(al.level));
	} else {
		f = draw_doc(&a, &r, &ro, &bad_usage);
	}
	if (!f) {
		if (bad_usage)
			rc = 2;
		goto out;
	}
	if (mc_render_png(f, &png, &len, &err) != MC_OK ||
	    mc_write_file_atomic(a.out, png, len, 0644, &err) != MC_OK) {
		fprintf(stderr, "minecast-player: render: --out: %s: %s\n",
		        a.out, err.msg);
		goto out;
	}
	rc = 0;
out:
	free(png);
	SDL_FreeSurface(f);
	mc_render_free(r);
	return rc;
}
