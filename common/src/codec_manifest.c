/*
 * minecast — campaign and manifest JSON (codec.h).
 *
 * Parsing runs in two passes.  The first reads every field of every
 * element with the typed readers of json_help.h, so that shape, type and
 * range errors name their field.  The second (resolve) checks what needs
 * the whole document: unique ids, references, and which content may play
 * on which channel.  Only then is the manifest handed out, so a caller
 * never sees a half-checked document.
 *
 * Error codes beyond the readers': a duplicate id, a wrong content type
 * for a channel and mutually exclusive fields are MC_ERR_RANGE; a
 * reference to a missing id is MC_ERR_REF; a "format" this build does not
 * know is MC_ERR_UNSUPPORTED.
 */
#include <inttypes.h>
#include <stdio.h>
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

#define FORMAT_CAMPAIGN "minecast-campaign/1"
#define FORMAT_MANIFEST "minecast-manifest/1"
#define DEFAULT_TZ      "Asia/Ho_Chi_Minh"

/* Element counts; the 4 MiB input limit bounds them too, these keep the
 * error readable and the quadratic-free checks below cheap. */
#define MAX_CONTENT   10000
#define MAX_PLAYLISTS 10000
#define MAX_ENTRIES   10000
#define MAX_ITEMS     1000
#define MAX_DATES     1000

#define MAX_DURATION_MS (24 * 3600 * 1000LL) /* natural length of audio */
#define MAX_ASSET_SIZE  (1LL << 40)          /* 1 TiB: any real file */

static const char dt_desc[] = "an RFC 5545 date \"YYYYMMDD\" or date-time "
                              "\"YYYYMMDDTHHMMSS\" with optional Z";

/* ---- string syntax checks ---- */

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

static int num(const char *s, size_t n)
{
	int v = 0;

	for (size_t i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

static bool leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
	                           31, 31, 30, 31, 30, 31};

	return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Years the schedule engine handles (docs/schedule.md §1). */
#define DATE_YEAR_MIN 1900
#define DATE_YEAR_MAX 2199

static bool date_ok(int y, int mo, int d)
{
	return y >= DATE_YEAR_MIN && y <= DATE_YEAR_MAX && mo >= 1 &&
	       mo <= 12 && d >= 1 && d <= days_in_month(y, mo);
}

static bool time_ok(int h, int mi, int s)
{
	/* No leap second: libical, like POSIX time, has none. */
	return h <= 23 && mi <= 59 && s <= 59;
}

/*
 * RFC 5545 DATE "YYYYMMDD" or DATE-TIME "YYYYMMDDTHHMMSS" with an optional
 * trailing Z.  Only the syntax and the calendar are checked here; sched.c
 * interprets the value in its zone.
 */
static bool datetime_valid(const char *s)
{
	size_t n = strlen(s);

	if (n < 8 || !all_digits(s, 8) ||
	    !date_ok(num(s, 4), num(s + 4, 2), num(s + 6, 2)))
		return false;
	if (n == 8)
		return true;
	if ((n != 15 && n != 16) || s[8] != 'T' || !all_digits(s + 9, 6))
		return false;
	if (n == 16 && s[15] != 'Z')
		return false;
	return time_ok(num(s + 9, 2), num(s + 11, 2), num(s + 13, 2));
}

/* An IANA zone name's characters ("Asia/Ho_Chi_Minh", "Etc/GMT+7"). */
static bool tz_name_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '/' || c == '_' ||
		      c == '+' || c == '-'))
			return false;
	}
	return n >= 1 && n <= 64 && s[0] != '/';
}

/*
 * An asset path relative to the campaign file.  Absolute paths and ".."
 * are refused so that importing a campaign can only read files beside it.
 */
static bool rel_path_valid(const char *s)
{
	const char *p = s;

	if (!s[0] || s[0] == '/' || strchr(s, '\\'))
		return false;
	while (*p) {
		size_t seg = strcspn(p, "/");

		if (seg == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += seg;
		if (*p == '/')
			p++;
	}
	return true;
}

static bool nonempty(const char *s)
{
	return s[0] != '\0';
}

/* ---- RFC 3339 "generated" ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

bool mc_rfc3339_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec, off = 0;
	int64_t ms = 0, t;
	size_t i = 19;

	if (strlen(s) < 20 || !all_digits(s, 4) || s[4] != '-' ||
	    !all_digits(s + 5, 2) || s[7] != '-' || !all_digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !all_digits(s + 11, 2) ||
	    s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' ||
	    !all_digits(s + 17, 2))
		return false;
	y = num(s, 4);
	mo = num(s + 5, 2);
	d = num(s + 8, 2);
	h = num(s + 11, 2);
	mi = num(s + 14, 2);
	sec = num(s + 17, 2);
	if (!date_ok(y, mo, d) || !time_ok(h, mi, sec))
		return false;
	if (s[i] == '.') {
		int digits = 0;

		for (i++; s[i] >= '0' && s[i] <= '9'; i++, digits++)
			if (digits < 3)
				ms = ms * 10 + (s[i] - '0');
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			ms *= 10;
	}
	if ((s[i] == 'Z' || s[i] == 'z') && s[i + 1] == '\0') {
		off = 0;
	} else if ((s[i] == '+' || s[i] == '-') && strlen(s + i) == 6 &&
	           all_digits(s + i + 1, 2) && s[i + 3] == ':' &&
	           all_digits(s + i + 4, 2)) {
		int oh = num(s + i + 1, 2), om = num(s + i + 4, 2);

		if (oh > 23 || om > 59)
			return false;
		off = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
	} else {
		return false;
	}
	t = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - off) * 60 + sec;
	t = t * 1000 + ms;
	if (t < 0)
		return false;
	*out = t;
	return true;
}

/* Milliseconds since the epoch as "YYYY-MM-DDTHH:MM:SS[.mmm]Z". */
static void rfc3339_format(int64_t ms, char *buf, size_t n)
{
	int64_t secs = ms / 1000, days = secs / 86400, rem = secs % 86400;
	int y, mo, d;

	civil_from_days(days, &y, &mo, &d);
	if (ms % 1000)
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo,
		         d, (int)(rem / 3600), (int)(rem / 60 % 60),
		         (int)(rem % 60), (int)(ms % 1000));
	else
		snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02dZ", y, mo, d,
		         (int)(rem / 3600), (int)(rem / 60 % 60),
		         (int)(rem % 60));
}

/* ---- enum adapters for mc__json_enum ---- */

static const char *const align_names[] = {"center", "left", "right"};
static const char *const effect_names[] = {"none", "outline", "shadow"};

static int table_parse(const char *const *t, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(t[i], s) == 0)
			return (int)i;
	return -1;
}

static int align_parse(const char *s)
{
	return table_parse(align_names, MC_ARRAY_LEN(align_names), s);
}

static int effect_parse(const char *s)
{
	return table_parse(effect_names, MC_ARRAY_LEN(effect_names), s);
}

/* ---- first pass: one element at a time ---- */

static enum mc_err parse_header(json_t *root, enum mc_doc_kind expect,
                                struct mc_manifest *m, struct mc_error *err)
{
	const char *want =
	        expect == MC_DOC_MANIFEST ? FORMAT_MANIFEST : FORMAT_CAMPAIGN;
	char *format = NULL, *generated = NULL;
	enum mc_err rc;

	m->kind = expect;
	TRY(mc__json_string(root, "", "format", MC__REQUIRED, MC__NAME_MAX,
	                    &format, err));
	if (strcmp(format, want) != 0) {
		bool known = strcmp(format, FORMAT_CAMPAIGN) == 0 ||
		             strcmp(format, FORMAT_MANIFEST) == 0;

		rc = mc_error_set(err,
		                  known ? MC_ERR_RANGE : MC_ERR_UNSUPPORTED,
		                  "format: \"%.40s\" where \"%s\" is expected",
		                  format, want);
		goto fail;
	}
	TRY(mc__json_string(root, "", "name", MC__OPTIONAL, MC__NAME_MAX,
	                    &m->name, err));
	TRY(mc__json_string_check(root, "", "timezone", MC__OPTIONAL,
	                          MC__NAME_MAX, tz_name_valid,
	                          "a time zone name such as Asia/Ho_Chi_Minh",
	                          &m->timezone, err));
	if (!m->timezone && !(m->timezone = strdup(DEFAULT_TZ))) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "timezone: out of memory");
		goto fail;
	}
	if (expect == MC_DOC_MANIFEST) {
		/* Optional: the controller compiles one manifest for every
		 * node its entries select alike; the signed pointer names the
		 * node. */
		TRY(mc__json_id(root, "", "node", MC__OPTIONAL, &m->node, err));
		TRY(mc__json_string(root, "", "generated", MC__OPTIONAL,
		                    MC__NAME_MAX, &generated, err));
		if (generated &&
		    !mc_rfc3339_parse(generated, &m->generated_ms)) {
			rc = mc_error_set(err, MC_ERR_PARSE,
			                  "generated: \"%.40s\" is not an RFC "
			                  "3339 time after 1970",
			                  generated);
			goto fail;
		}
	}
	rc = MC_OK;
fail:
	free(format);
	free(generated);
	return rc;
}

static enum mc_err parse_style(json_t *obj, const char *path,
                               struct mc_style *st, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	json_t *o;
	int v = 0;
	enum mc_err rc;

	/* A slogan without style is white on black, centred. */
	st->fg = 0xFFFFFF;
	st->bg = 0x000000;
	TRY(mc__json_object(obj, path, "style", MC__OPTIONAL, &o, err));
	if (!o)
		return MC_OK;
	mc__json_path(field, sizeof(field), path, "style");
	TRY(mc__json_string(o, field, "font", MC__OPTIONAL, MC__NAME_MAX,
	                    &st->font, err));
	TRY(mc__json_colour(o, field, "fg", 0xFFFFFF, &st->fg, err));
	TRY(mc__json_colour(o, field, "bg", 0x000000, &st->bg, err));
	TRY(mc__json_id(o, field, "bg_image", MC__OPTIONAL, &st->bg_image,
	                err));
	TRY(mc__json_enum(o, field, "align", MC__OPTIONAL, align_parse,
	                  "center|left|right", MC_ALIGN_CENTER, &v, err));
	st->align = (enum mc_align)v;
	TRY(mc__json_enum(o, field, "effect", MC__OPTIONAL, effect_parse,
	                  "none|outline|shadow", MC_EFFECT_NONE, &v, err));
	st->effect = (enum mc_effect)v;
	TRY(mc__json_bool(o, field, "ticker", MC__OPTIONAL, false, &st->ticker,
	                  err));
fail:
	return rc;
}

/*
 * The file behind an image or audio item: a campaign names it by a path
 * beside the campaign, a manifest by sha256 and size (and usually a URL).
 */
static enum mc_err parse_asset(json_t *obj, const char *path,
                               enum mc_doc_kind kind, struct mc_asset *a,
                               struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;

	TRY(mc__json_string_check(
	        obj, path, "src", kind == MC_DOC_CAMPAIGN, MC__URL_MAX,
	        rel_path_valid,
	        "a path relative to the campaign file, without \"..\"", &a->src,
	        err));
	TRY(mc__json_sha256(obj, path, "sha256", kind == MC_DOC_MANIFEST,
	                    a->sha256, err));
	TRY(mc__json_int(obj, path, "size", kind == MC_DOC_MANIFEST, 1,
	                 MAX_ASSET_SIZE, 0, &a->size, err));
	TRY(mc__json_string_check(obj, path, "url", MC__OPTIONAL, MC__URL_MAX,
	                          nonempty, "a non-empty URL", &a->url, err));
	TRY(mc__json_string_check(obj, path, "mime", MC__OPTIONAL, MC__NAME_MAX,
	                          nonempty, "a non-empty media type", &a->mime,
	                          err));
	/* A size without its hash could never be verified. */
	if (a->size && !a->sha256[0]) {
		mc__json_path(field, sizeof(field), path, "size");
		rc = mc_error_set(err, MC_ERR_MISSING,
		                  "%s: given without sha256", field);
	}
fail:
	return rc;
}

static enum mc_err parse_content(json_t *obj, const char *path,
                                 enum mc_doc_kind kind, struct mc_content *c,
                                 struct mc_error *err)
{
	bool text_required;
	enum mc_err rc;
	int v = 0;

	if (!json_is_object(obj))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    path);
	TRY(mc__json_id(obj, path, "id", MC__REQUIRED, &c->id, err));
	TRY(mc__json_enum(obj, path, "type", MC__REQUIRED,
	                  mc_content_type_parse, "slogan|image|audio|speech", 0,
	                  &v, err));
	c->type = (enum mc_content_type)v;
	TRY(mc__json_string(obj, path, "name", MC__OPTIONAL, MC__NAME_MAX,
	                    &c->name, err));
	/* Images carry no text; audio text is an optional transcript. */
	text_required =
	        c->type == MC_CONTENT_SLOGAN || c->type == MC_CONTENT_SPEECH;
	if (c->type != MC_CONTENT_IMAGE)
		TRY(mc__json_string_check(obj, path, "text", text_required,
		                          MC__TEXT_MAX, nonempty,
		                          "non-empty text", &c->text, err));
	switch (c->type) {
	case MC_CONTENT_SLOGAN:
		TRY(parse_style(obj, path, &c->style, err));
		break;
	case MC_CONTENT_IMAGE:
		c->has_asset = true;
		TRY(parse_asset(obj, path, kind, &c->asset, err));
		TRY(mc__json_enum(obj, path, "fit", MC__OPTIONAL, mc_fit_parse,
		                  "contain|cover|stretch", MC_FIT_CONTAIN, &v,
		                  err));
		c->fit = (enum mc_fit)v;
		break;
	case MC_CONTENT_AUDIO:
		c->has_asset = true;
		TRY(parse_asset(obj, path, kind, &c->asset, err));
		TRY(mc__json_int(obj, path, "duration_ms", MC__REQUIRED, 1,
		                 MAX_DURATION_MS, 0, &c->duration_ms, err));
		TRY(mc__json_double(obj, path, "gain_db", MC__OPTIONAL, -60.0,
		                    60.0, 0.0, &c->gain_db, err));
		break;
	case MC_CONTENT_SPEECH:
		/* Optional: the node measures what its voice produces. */
		TRY(mc__json_int(obj, path, "duration_ms", MC__OPTIONAL, 1,
		                 MAX_DURATION_MS, 0, &c->duration_ms, err));
		break;
	}
fail:
	return rc;
}

static enum mc_err parse_item(json_t *obj, const char *path, struct mc_item *it,
                              struct mc_error *err)
{
	enum mc_err rc;
	int64_t secs = 10;
	int v = 0;

	if (!json_is_object(obj))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    path);
	TRY(mc__json_id(obj, path, "content", MC__REQUIRED, &it->content_id,
	                err));
	/* Audio and speech items take the content's length in resolve(). */
	TRY(mc__json_int(obj, path, "duration_s", MC__OPTIONAL, 1, 86400, 10,
	                 &secs, err));
	it->duration_ms = secs * 1000;
	TRY(mc__json_enum(obj, path, "transition", MC__OPTIONAL,
	                  mc_transition_parse, "cut|crossfade",
	                  MC_TRANSITION_CUT, &v, err));
	it->transition = (enum mc_transition)v;
	TRY(mc__json_int32(obj, path, "volume", MC__OPTIONAL, 0, 100, -1,
	                   &it->volume, err));
fail:
	return rc;
}

static enum mc_err parse_playlist(json_t *obj, const char *path,
                                  struct mc_playlist *p, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	json_t *items = NULL;
	enum mc_err rc;

	if (!json_is_object(obj))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    path);
	TRY(mc__json_id(obj, path, "id", MC__REQUIRED, &p->id, err));
	TRY(mc__json_string(obj, path, "name", MC__OPTIONAL, MC__NAME_MAX,
	                    &p->name, err));
	TRY(mc__json_array(obj, path, "items", MC__REQUIRED, MAX_ITEMS, &items,
	                   err));
	/* An empty playlist would leave a channel looping over nothing. */
	if (json_array_size(items) == 0) {
		mc__json_path(field, sizeof(field), path, "items");
		return mc_error_set(err, MC_ERR_RANGE,
		                    "%s: must hold at least one item", field);
	}
	p->items = calloc(json_array_size(items), sizeof(*p->items));
	if (!p->items)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    path);
	for (; p->n_items < json_array_size(items); p->n_items++) {
		mc__json_path_index(field, sizeof(field), path, "items",
		                    p->n_items);
		TRY(parse_item(json_array_get(items, p->n_items), field,
		               &p->items[p->n_items], err));
	}
fail:
	/* The item being read is counted so that the free sees its strings. */
	if (rc != MC_OK && p->items && p->n_items < json_array_size(items))
		p->n_items++;
	return rc;
}

/*
 * A date-time field.  A value that is not RFC 5545 syntax is malformed
 * input (MC_ERR_PARSE), not a value out of range.
 */
static enum mc_err get_datetime(json_t *obj, const char *path, const char *key,
                                char **out, struct mc_error *err)
{
	enum mc_err rc;

	rc = mc__json_string_check(obj, path, key, MC__OPTIONAL, MC__NAME_MAX,
	                           datetime_valid, dt_desc, out, err);
	if (rc == MC_ERR_RANGE && err)
		err->code = MC_ERR_PARSE;
	return rc == MC_ERR_RANGE ? MC_ERR_PARSE : rc;
}

/* The same for a list of them (rdate, exdate). */
static enum mc_err get_datetimes(json_t *obj, const char *path, const char *key,
                                 char ***out, size_t *n, struct mc_error *err)
{
	enum mc_err rc;

	rc = mc__json_strv(obj, path, key, MAX_DATES, MC__NAME_MAX,
	                   datetime_valid, dt_desc, out, n, err);
	if (rc == MC_ERR_RANGE && err)
		err->code = MC_ERR_PARSE;
	return rc == MC_ERR_RANGE ? MC_ERR_PARSE : rc;
}

/* dtstart, dtend, duration, tzid, rrule, rdate, exdate. */
static enum mc_err parse_entry_times(json_t *obj, const char *path,
                                     struct mc_entry *e, struct mc_error *err)
{
	char field[MC__PATH_MAX];
	const char *orphan = NULL;
	enum mc_err rc;

	TRY(get_datetime(obj, path, "dtstart", &e->dtstart, err));
	TRY(get_datetime(obj, path, "dtend", &e->dtend, err));
	TRY(mc__json_string_check(
	        obj, path, "duration", MC__OPTIONAL, MC__RULE_MAX, nonempty,
	        "a non-empty RFC 5545 duration", &e->duration, err));
	TRY(mc__json_string_check(
	        obj, path, "tzid", MC__OPTIONAL, MC__NAME_MAX, tz_name_valid,
	        "a time zone name such as Asia/Ho_Chi_Minh", &e->tzid, err));
	TRY(mc__json_string_check(
	        obj, path, "rrule", MC__OPTIONAL, MC__RULE_MAX, nonempty,
	        "a non-empty RFC 5545 RRULE", &e->rrule, err));
	TRY(get_datetimes(obj, path, "rdate", &e->rdates, &e->n_rdates, err));
	TRY(get_datetimes(obj, path, "exdate", &e->exdates, &e->n_exdates,
	                  err));
	if (e->dtend && e->duration) {
		mc__json_path(field, sizeof(field), path, "dtend");
		return mc_error_set(
		        err, MC_ERR_RANGE,
		        "%s: dtend and duration are mutually exclusive", field);
	}
	/* Without dtstart an entry is standing: times would mean nothing. */
	if (!e->dtstart) {
		if (e->dtend)
			orphan = "dtend";
		else if (e->duration)
			orphan = "duration";
		else if (e->rrule)
			orphan = "rrule";
		else if (e->n_rdates)
			orphan = "rdate";
		else if (e->n_exdates)
			orphan = "exdate";
	}
	if (orphan) {
		mc__json_path(field, sizeof(field), path, orphan);
		return mc_error_set(err, MC_ERR_MISSING,
		                    "%s: needs dtstart (an entry without "
		                    "dtstart is standing)",
		                    field);
	}
fail:
	return rc;
}

static enum mc_err parse_entry(json_t *obj, const char *path,
                               struct mc_entry *e, struct mc_error *err)
{
	enum mc_err rc;
	int v = 0;

	if (!json_is_object(obj))
		return mc_error_set(err, MC_ERR_TYPE, "%s: must be an object",
		                    path);
	TRY(mc__json_id(obj, path, "id", MC__REQUIRED, &e->id, err));
	TRY(mc__json_string(obj, path, "name", MC__OPTIONAL, MC__NAME_MAX,
	                    &e->name, err));
	TRY(mc__json_id(obj, path, "playlist", MC__REQUIRED, &e->playlist_id,
	                err));
	TRY(mc__json_enum(obj, path, "channel", MC__REQUIRED, mc_channel_parse,
	                  "screen|speaker", 0, &v, err));
	e->channel = (enum mc_channel)v;
	TRY(mc__json_int32(obj, path, "priority", MC__OPTIONAL, 0, 100, 50,
	                   &e->priority, err));
	TRY(mc__json_enum(obj, path, "mode", MC__OPTIONAL, mc_mode_parse,
	                  "loop|once", MC_MODE_LOOP, &v, err));
	e->mode = (enum mc_mode)v;
	/* A one-shot bulletin is meant to cut in, so once defaults to it. */
	TRY(mc__json_enum(obj, path, "layer", MC__OPTIONAL, mc_layer_parse,
	                  "fill|interrupt",
	                  e->mode == MC_MODE_ONCE ? MC_LAYER_INTERRUPT
	                                          : MC_LAYER_FILL,
	                  &v, err));
	e->layer = (enum mc_layer)v;
	TRY(parse_entry_times(obj, path, e, err));
	TRY(mc__json_int32(obj, path, "founded", MC__OPTIONAL, 1000, 9999, 0,
	                   &e->founded, err));
	TRY(mc__json_targets(obj, path, "targets", &e->targets, err));
fail:
	return rc;
}

/*
 * Read the array key of root into a calloc()ed array of n elements of
 * size bytes, calling parse on each.  *count is how many elements hold
 * data to free, also on failure.
 */
typedef enum mc_err (*elem_parse_fn)(json_t *obj, const char *path, void *elem,
                                     enum mc_doc_kind kind,
                                     struct mc_error *err);

static enum mc_err parse_array(json_t *root, const char *key, size_t max,
                               size_t size, elem_parse_fn parse,
                               enum mc_doc_kind kind, void **out, size_t *count,
                               struct mc_error *err)
{
	char field[MC__PATH_MAX];
	enum mc_err rc;
	json_t *arr;
	char *elems;

	*out = NULL;
	*count = 0;
	rc = mc__json_array(root, "", key, MC__OPTIONAL, max, &arr, err);
	if (rc != MC_OK || !arr || json_array_size(arr) == 0)
		return rc;
	elems = calloc(json_array_size(arr), size);
	if (!elems)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: out of memory",
		                    key);
	*out = elems;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		mc__json_path_index(field, sizeof(field), "", key, i);
		*count = i + 1;
		rc = parse(json_array_get(arr, i), field, elems + i * size,
		           kind, err);
		if (rc != MC_OK)
			return rc;
	}
	return MC_OK;
}

static enum mc_err content_elem(json_t *obj, const char *path, void *elem,
                                enum mc_doc_kind kind, struct mc_error *err)
{
	return parse_content(obj, path, kind, elem, err);
}

static enum mc_err playlist_elem(json_t *obj, const char *path, void *elem,
                                 enum mc_doc_kind kind, struct mc_error *err)
{
	return parse_playlist(obj, path, elem, err);
}

static enum mc_err entry_elem(json_t *obj, const char *path, void *elem,
                              enum mc_doc_kind kind, struct mc_error *err)
{
	return parse_entry(obj, path, elem, err);
}

static enum mc_err parse_fallback(json_t *root, struct mc_manifest *m,
                                  struct mc_error *err)
{
	enum mc_err rc;
	json_t *o;

	TRY(mc__json_object(root, "", "fallback", MC__OPTIONAL, &o, err));
	if (!o)
		return MC_OK;
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		TRY(mc__json_id(o, "fallback", mc_channel_name(ch),
		                MC__OPTIONAL, &m->fallback_id[ch], err));
fail:
	return rc;
}

/* ---- second pass: ids, references, channels ---- */

/* An id and the index of its element, sorted by id for bsearch. */
struct id_ref {
	const char *id; /* borrowed from the element */
	size_t index;   /* position in the document's array */
};

static int id_ref_cmp(const void *a, const void *b)
{
	const struct id_ref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	/* Ties by position, so the later duplicate is the one reported. */
	if (c == 0)
		c = x->index < y->index ? -1 : x->index > y->index;
	return c;
}

/*
 * Sort refs[0..n) and refuse a repeated id, naming the later element
 * ("playlists[4].id").  kind is the JSON array name.
 */
static enum mc_err check_unique(struct id_ref *refs, size_t n, const char *kind,
                                struct mc_error *err)
{
	if (n > 1)
		qsort(refs, n, sizeof(*refs), id_ref_cmp);
	for (size_t i = 1; i < n; i++)
		if (strcmp(refs[i - 1].id, refs[i].id) == 0)
			return mc_error_set(err, MC_ERR_RANGE,
			                    "%s[%zu].id: \"%s\" is already the "
			                    "id of %s[%zu]",
			                    kind, refs[i].index, refs[i].id,
			                    kind, refs[i - 1].index);
	return MC_OK;
}

/* Index of id in sorted refs, or -1. */
static long find_ref(const struct id_ref *refs, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(refs[mid].id, id);

		if (c == 0) {
			/* Ids are unique by now; any match is the one. */
			return (long)refs[mid].index;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static bool type_fits(enum mc_channel ch, enum mc_content_type t)
{
	if (ch == MC_CH_SCREEN)
		return t == MC_CONTENT_SLOGAN || t == MC_CONTENT_IMAGE;
	return t == MC_CONTENT_AUDIO || t == MC_CONTENT_SPEECH;
}

/* Content references of slogans (bg_image) and playlist items. */
static enum mc_err resolve_content_refs(struct mc_manifest *m,
                                        const struct id_ref *cref,
                                        struct mc_error *err)
{
	for (size_t i = 0; i < m->n_content; i++) {
		const char *bg = m->content[i].style.bg_image;
		long k;

		if (!bg)
			continue;
		k = find_ref(cref, m->n_content, bg);
		if (k < 0)
			return mc_error_set(err, MC_ERR_REF,
			                    "content[%zu].style.bg_image: no "
			                    "content \"%s\"",
			                    i, bg);
		if (m->content[k].type != MC_CONTENT_IMAGE)
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "content[%zu].style.bg_image: \"%s\" is %s "
			        "content, not an image",
			        i, bg,
			        mc_content_type_name(m->content[k].type));
	}
	for (size_t p = 0; p < m->n_playlists; p++) {
		struct mc_playlist *pl = &m->playlists[p];

		for (size_t i = 0; i < pl->n_items; i++) {
			struct mc_item *it = &pl->items[i];
			long k = find_ref(cref, m->n_content, it->content_id);

			if (k < 0)
				return mc_error_set(
				        err, MC_ERR_REF,
				        "playlists[%zu].items[%zu].content: no "
				        "content \"%s\"",
				        p, i, it->content_id);
			it->content = &m->content[k];
			/* Sound plays for its own length, not a slide time. */
			if (it->content->duration_ms > 0)
				it->duration_ms = it->content->duration_ms;
		}
	}
	return MC_OK;
}

/* Entries' playlists, and that every item fits the entry's channel. */
static enum mc_err resolve_entries(struct mc_manifest *m,
                                   const struct id_ref *pref,
                                   struct mc_error *err)
{
	for (size_t i = 0; i < m->n_entries; i++) {
		struct mc_entry *e = &m->entries[i];
		long k = find_ref(pref, m->n_playlists, e->playlist_id);

		if (k < 0)
			return mc_error_set(
			        err, MC_ERR_REF,
			        "entries[%zu].playlist: no playlist \"%s\"", i,
			        e->playlist_id);
		e->playlist = &m->playlists[k];
		for (size_t j = 0; j < e->playlist->n_items; j++) {
			const struct mc_content *c =
			        e->playlist->items[j].content;

			if (!type_fits(e->channel, c->type))
				return mc_error_set(
				        err, MC_ERR_RANGE,
				        "entries[%zu].playlist: \"%s\" holds "
				        "%s content \"%s\", which cannot play "
				        "on the %s channel",
				        i, e->playlist_id,
				        mc_content_type_name(c->type), c->id,
				        mc_channel_name(e->channel));
		}
	}
	return MC_OK;
}

static enum mc_err resolve_fallback(struct mc_manifest *m,
                                    const struct id_ref *cref,
                                    struct mc_error *err)
{
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		const char *id = m->fallback_id[ch];
		long k;

		if (!id)
			continue;
		k = find_ref(cref, m->n_content, id);
		if (k < 0)
			return mc_error_set(err, MC_ERR_REF,
			                    "fallback.%s: no content \"%s\"",
			                    mc_channel_name(ch), id);
		if (!type_fits(ch, m->content[k].type))
			return mc_error_set(
			        err, MC_ERR_RANGE,
			        "fallback.%s: \"%s\" is %s content, which "
			        "cannot play on the %s channel",
			        mc_channel_name(ch), id,
			        mc_content_type_name(m->content[k].type),
			        mc_channel_name(ch));
		m->fallback[ch] = &m->content[k];
	}
	return MC_OK;
}

static enum mc_err resolve(struct mc_manifest *m, struct mc_error *err)
{
	struct id_ref *cref = NULL, *pref = NULL, *eref = NULL;
	enum mc_err rc = MC_ERR_NOMEM;

	/* calloc(0) may return NULL; ask for one element at least. */
	cref = calloc(m->n_content + 1, sizeof(*cref));
	pref = calloc(m->n_playlists + 1, sizeof(*pref));
	eref = calloc(m->n_entries + 1, sizeof(*eref));
	if (!cref || !pref || !eref) {
		mc_error_set(err, rc, "manifest: out of memory");
		goto fail;
	}
	for (size_t i = 0; i < m->n_content; i++)
		cref[i] = (struct id_ref){m->content[i].id, i};
	for (size_t i = 0; i < m->n_playlists; i++)
		pref[i] = (struct id_ref){m->playlists[i].id, i};
	for (size_t i = 0; i < m->n_entries; i++)
		eref[i] = (struct id_ref){m->entries[i].id, i};
	TRY(check_unique(cref, m->n_content, "content", err));
	TRY(check_unique(pref, m->n_playlists, "playlists", err));
	TRY(check_unique(eref, m->n_entries, "entries", err));
	TRY(resolve_content_refs(m, cref, err));
	TRY(resolve_entries(m, pref, err));
	TRY(resolve_fallback(m, cref, err));
fail:
	free(cref);
	free(pref);
	free(eref);
	return rc;
}

/* ---- public parse and load ---- */

enum mc_err mc_manifest_parse(const char *buf, size_t len,
                              enum mc_doc_kind expect, struct mc_manifest **out,
                              struct mc_error *err)
{
	struct mc_manifest *m = NULL;
	json_t *root = NULL;
	void *arr;
	enum mc_err rc;

	*out = NULL;
	mc_error_clear(err);
	if (expect != MC_DOC_CAMPAIGN && expect != MC_DOC_MANIFEST)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "manifest: unknown document kind");
	TRY(mc__json_parse(buf, len, MC_MAX_MANIFEST_BYTES,
	                   expect == MC_DOC_MANIFEST ? "manifest" : "campaign",
	                   &root, err));
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "manifest: out of memory");
		goto fail;
	}
	TRY(parse_header(root, expect, m, err));
	rc = parse_array(root, "content", MAX_CONTENT, sizeof(*m->content),
	                 content_elem, expect, &arr, &m->n_content, err);
	m->content = arr;
	if (rc != MC_OK)
		goto fail;
	rc = parse_array(root, "playlists", MAX_PLAYLISTS,
	                 sizeof(*m->playlists), playlist_elem, expect, &arr,
	                 &m->n_playlists, err);
	m->playlists = arr;
	if (rc != MC_OK)
		goto fail;
	rc = parse_array(root, "entries", MAX_ENTRIES, sizeof(*m->entries),
	                 entry_elem, expect, &arr, &m->n_entries, err);
	m->entries = arr;
	if (rc != MC_OK)
		goto fail;
	TRY(parse_fallback(root, m, err));
	TRY(resolve(m, err));
	json_decref(root);
	*out = m;
	return MC_OK;

fail:
	json_decref(root);
	mc_manifest_free(m);
	return rc;
}

enum mc_err mc_manifest_load(const char *path, enum mc_doc_kind expect,
                             struct mc_manifest **out, struct mc_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	enum mc_err rc;

	*out = NULL;
	rc = mc_read_file(path, MC_MAX_MANIFEST_BYTES, &buf, &len, err);
	if (rc != MC_OK)
		return rc;
	rc = mc_manifest_parse(buf, len, expect, out, err);
	if (rc != MC_OK && err) {
		/* Name the file too: "november.json: entries[2].rrule: ...". */
		char msg[MC_ERROR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		mc_error_set(err, rc, "%s: %s", path, msg);
	}
	free(buf);
	return rc;
}

/* ---- dump ---- */

static json_t *dump_style(const struct mc_style *st, bool *ok)
{
	json_t *o = mc__jobject(ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "font", st->font, ok);
	mc__jset_colour(o, "fg", st->fg, ok);
	mc__jset_colour(o, "bg", st->bg, ok);
	mc__jset_str(o, "bg_image", st->bg_image, ok);
	mc__jset_str(o, "align",
	             (size_t)st->align < MC_ARRAY_LEN(align_names)
	                     ? align_names[st->align]
	                     : "center",
	             ok);
	mc__jset_str(o, "effect",
	             (size_t)st->effect < MC_ARRAY_LEN(effect_names)
	                     ? effect_names[st->effect]
	                     : "none",
	             ok);
	mc__jset_bool(o, "ticker", st->ticker, ok);
	return o;
}

static json_t *dump_content(const struct mc_content *c, bool *ok)
{
	json_t *o = mc__jobject(ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "id", c->id, ok);
	mc__jset_str(o, "type", mc_content_type_name(c->type), ok);
	mc__jset_str(o, "name", c->name, ok);
	mc__jset_str(o, "text", c->text, ok);
	if (c->type == MC_CONTENT_SLOGAN)
		mc__jset(o, "style", dump_style(&c->style, ok), ok);
	if (c->type == MC_CONTENT_IMAGE)
		mc__jset_str(o, "fit", mc_fit_name(c->fit), ok);
	if (c->has_asset) {
		mc__jset_str(o, "src", c->asset.src, ok);
		if (c->asset.sha256[0])
			mc__jset_str(o, "sha256", c->asset.sha256, ok);
		if (c->asset.size > 0)
			mc__jset_int(o, "size", c->asset.size, ok);
		mc__jset_str(o, "url", c->asset.url, ok);
		mc__jset_str(o, "mime", c->asset.mime, ok);
	}
	if (c->duration_ms > 0)
		mc__jset_int(o, "duration_ms", c->duration_ms, ok);
	if (c->type == MC_CONTENT_AUDIO)
		mc__jset_real(o, "gain_db", c->gain_db, ok);
	return o;
}

static json_t *dump_playlist(const struct mc_playlist *p, bool *ok)
{
	json_t *o = mc__jobject(ok), *items = json_array();

	if (!items)
		*ok = false;
	for (size_t i = 0; items && i < p->n_items; i++) {
		const struct mc_item *it = &p->items[i];
		json_t *io = mc__jobject(ok);

		if (!io)
			break;
		mc__jset_str(io, "content", it->content_id, ok);
		/* Items of sound take their length from the content. */
		if (!it->content || it->content->duration_ms == 0)
			mc__jset_int(io, "duration_s", it->duration_ms / 1000,
			             ok);
		mc__jset_str(io, "transition",
		             mc_transition_name(it->transition), ok);
		if (it->volume >= 0)
			mc__jset_int(io, "volume", it->volume, ok);
		if (json_array_append_new(items, io) != 0)
			*ok = false;
	}
	if (!o) {
		json_decref(items);
		return NULL;
	}
	mc__jset_str(o, "id", p->id, ok);
	mc__jset_str(o, "name", p->name, ok);
	mc__jset(o, "items", items, ok);
	return o;
}

static json_t *dump_entry(const struct mc_entry *e, bool *ok)
{
	json_t *o = mc__jobject(ok);

	if (!o)
		return NULL;
	mc__jset_str(o, "id", e->id, ok);
	mc__jset_str(o, "name", e->name, ok);
	mc__jset_str(o, "playlist", e->playlist_id, ok);
	mc__jset_str(o, "channel", mc_channel_name(e->channel), ok);
	mc__jset_int(o, "priority", e->priority, ok);
	mc__jset_str(o, "layer", mc_layer_name(e->layer), ok);
	mc__jset_str(o, "mode", mc_mode_name(e->mode), ok);
	mc__jset_str(o, "dtstart", e->dtstart, ok);
	mc__jset_str(o, "dtend", e->dtend, ok);
	mc__jset_str(o, "duration", e->duration, ok);
	mc__jset_str(o, "tzid", e->tzid, ok);
	mc__jset_str(o, "rrule", e->rrule, ok);
	if (e->n_rdates)
		mc__jset_strv(o, "rdate", e->rdates, e->n_rdates, ok);
	if (e->n_exdates)
		mc__jset_strv(o, "exdate", e->exdates, e->n_exdates, ok);
	if (e->founded)
		mc__jset_int(o, "founded", e->founded, ok);
	mc__jset_targets(o, "targets", &e->targets, ok);
	return o;
}

/* Append dump(elem) for every element; dump may return NULL on failure. */
static json_t *dump_array(const void *elems, size_t n, size_t size,
                          json_t *(*dump)(const void *elem, bool *ok), bool *ok)
{
	json_t *arr = json_array();

	if (!arr) {
		*ok = false;
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(
		            arr, dump((const char *)elems + i * size, ok)) != 0)
			*ok = false;
	return arr;
}

static json_t *content_dump_elem(const void *e, bool *ok)
{
	return dump_content(e, ok);
}

static json_t *playlist_dump_elem(const void *e, bool *ok)
{
	return dump_playlist(e, ok);
}

static json_t *entry_dump_elem(const void *e, bool *ok)
{
	return dump_entry(e, ok);
}

char *mc_manifest_dump(const struct mc_manifest *m)
{
	bool ok = true;
	json_t *root, *fb;
	char when[40];

	if (!m)
		return NULL;
	root = mc__jobject(&ok);
	if (!root)
		return NULL;
	mc__jset_str(root, "format",
	             m->kind == MC_DOC_MANIFEST ? FORMAT_MANIFEST
	                                        : FORMAT_CAMPAIGN,
	             &ok);
	mc__jset_str(root, "name", m->name, &ok);
	mc__jset_str(root, "timezone", m->timezone, &ok);
	if (m->kind == MC_DOC_MANIFEST) {
		mc__jset_str(root, "node", m->node, &ok);
		if (m->generated_ms > 0) {
			rfc3339_format(m->generated_ms, when, sizeof(when));
			mc__jset_str(root, "generated", when, &ok);
		}
	}
	mc__jset(root, "content",
	         dump_array(m->content, m->n_content, sizeof(*m->content),
	                    content_dump_elem, &ok),
	         &ok);
	mc__jset(root, "playlists",
	         dump_array(m->playlists, m->n_playlists, sizeof(*m->playlists),
	                    playlist_dump_elem, &ok),
	         &ok);
	mc__jset(root, "entries",
	         dump_array(m->entries, m->n_entries, sizeof(*m->entries),
	                    entry_dump_elem, &ok),
	         &ok);
	fb = mc__jobject(&ok);
	for (int ch = 0; fb && ch < MC_CH_COUNT; ch++)
		mc__jset(fb, mc_channel_name(ch),
		         m->fallback_id[ch] ? json_string(m->fallback_id[ch])
		                            : json_null(),
		         &ok);
	mc__jset(root, "fallback", fb, &ok);
	return mc__json_finish(root, ok);
}
