/*
 * minecastctl content — the content library over the controller's API
 * (docs/api.md): list and show items, add slogans, upload
 * images and audio (with a progress bar), make spoken bulletins from
 * Vietnamese text, edit, delete, and fetch a preview as the screens draw
 * it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

static void help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl content COMMAND [OPTIONS]\n"
	        "\n"
	        "The content library: slogans, images, audio and speech.  New "
	        "and edited\n"
	        "items are drafts until an approver approves them (minecastctl "
	        "review).\n"
	        "\n"
	        "Commands:\n"
	        "  list [--type T] [--status S] [--search TEXT] [--limit N] "
	        "[--offset N]\n"
	        "  show ID\n"
	        "  add-slogan ID --text TEXT [--name TEXT] [style options] "
	        "[--submit]\n"
	        "  upload FILE --id ID [--name TEXT] [--type image|audio] "
	        "[--fit F]\n"
	        "         [--text TRANSCRIPT] [--replace] [--submit]\n"
	        "  speak --id ID --text TEXT [--name TEXT] [--submit]\n"
	        "         a spoken bulletin (audio) made from Vietnamese text "
	        "on the\n"
	        "         controller: dates, times, numbers and abbreviations "
	        "are read\n"
	        "         as words (12/11 → ngày mười hai tháng mười một)\n"
	        "  edit ID [--name TEXT] [--text TEXT] [style options] "
	        "[--fit F] [--submit]\n"
	        "  rm ID          (refused while a playlist uses it)\n"
	        "  preview ID --out FILE.png [--size WxH] [--approved]\n"
	        "\n"
	        "Options:\n"
	        "  --type T         slogan, image, audio or speech (list); "
	        "image or audio\n"
	        "                   (upload; default from the file name)\n"
	        "  --status S       draft, submitted, approved or rejected\n"
	        "  --search TEXT    in id, name and text\n"
	        "  --fit F          images: contain, cover or stretch\n"
	        "  --replace        upload: a new file for an existing item\n"
	        "  --submit         send to review at once\n"
	        "  --size WxH       preview size (default 960x540)\n"
	        "  --approved       preview the approved revision\n"
	        "  -h, --help       show this text\n"
	        "\n"
	        "Style options (slogans): --fg #RRGGBB, --bg #RRGGBB, --font "
	        "NAME,\n"
	        "  --align center|left|right, --effect none|outline|shadow,\n"
	        "  --bg-image ID, --ticker, --no-ticker\n"
	        "\n"
	        "Writing needs the editor role; reading any signed-in user.\n"
	        "\n" CTL_CONN_HELP);
}

/* The workflow status in Vietnamese and English. */
static const char *status_text(const char *s)
{
	static const char *const names[][2] = {
	        {"draft", "bản nháp (draft)"},
	        {"submitted", "chờ duyệt (submitted)"},
	        {"approved", "đã duyệt (approved)"},
	        {"rejected", "bị từ chối (rejected)"},
	};

	for (size_t i = 0; s && i < MC_ARRAY_LEN(names); i++)
		if (strcmp(s, names[i][0]) == 0)
			return names[i][1];
	return s ? s : "-";
}

/* A text on one line, cut to at most max bytes (never inside a UTF-8
 * sequence) with "…" when cut. */
static void short_text(const char *s, char *buf, size_t len, size_t max)
{
	size_t n, i;
	bool cut = false;

	if (!s) {
		snprintf(buf, len, "-");
		return;
	}
	n = strlen(s);
	if (max + 4 > len)
		max = len - 4;
	if (n > max) {
		n = max;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	for (i = 0; i < n; i++)
		buf[i] = s[i] == '\n' || s[i] == '\t' ? ' ' : s[i];
	buf[i] = '\0';
	if (cut)
		strcat(buf, "…");
}

static void print_list(json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *it;
	struct ctl_table *t = ctl_table_new(6, "ID", "TYPE", "NAME", "STATUS",
	                                    ">REV", "UPDATED");
	size_t i;

	json_array_foreach(items, i, it)
	{
		char id[80], type[16], name[300], rev[24], upd[32];
		const char *st =
		        json_string_value(json_object_get(it, "status"));

		ctl_cell(it, "id", id, sizeof(id));
		ctl_cell(it, "type", type, sizeof(type));
		short_text(json_string_value(json_object_get(it, "name")), name,
		           sizeof(name), 48);
		ctl_cell(it, "rev", rev, sizeof(rev));
		ctl_fmt_time(
		        json_integer_value(json_object_get(it, "updated_ms")),
		        upd, sizeof(upd));
		ctl_table_row(t, id, type, name[0] ? name : "-",
		              status_text(st), rev, upd);
	}
	if (ctl_table_rows(t) == 0)
		printf("(none)\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
	{
		json_int_t total =
		        json_integer_value(json_object_get(doc, "total"));

		if ((size_t)total > json_array_size(items))
			printf("%zu of %lld shown (--limit, --offset for "
			       "more)\n",
			       json_array_size(items), (long long)total);
	}
}

static void line(const char *key, const char *value)
{
	if (value && *value)
		printf("%-13s %s\n", key, value);
}

static void print_item(json_t *v)
{
	json_t *doc = json_object_get(v, "doc"),
	       *meta = json_object_get(v, "meta");
	json_t *style = json_object_get(doc, "style"), *h;
	char buf[1024], b2[64];
	size_t i;

	line("id", json_string_value(json_object_get(v, "id")));
	line("type", json_string_value(json_object_get(doc, "type")));
	line("name", json_string_value(json_object_get(doc, "name")));
	line("status",
	     status_text(json_string_value(json_object_get(v, "status"))));
	if (json_string_value(json_object_get(v, "reject_reason")))
		line("reason",
		     json_string_value(json_object_get(v, "reject_reason")));
	snprintf(buf, sizeof(buf), "%lld (approved: %s)",
	         (long long)json_integer_value(json_object_get(v, "rev")),
	         ctl_cell(v, "approved_rev", b2, sizeof(b2)));
	line("revision", buf);
	line("author", json_string_value(json_object_get(v, "author")));
	line("updated",
	     ctl_fmt_time(json_integer_value(json_object_get(v, "updated_ms")),
	                  buf, sizeof(buf)));
	line("text", json_string_value(json_object_get(doc, "text")));
	if (json_is_object(style)) {
		char *s = json_dumps(style, JSON_COMPACT | JSON_SORT_KEYS);

		line("style", s);
		free(s);
	}
	line("fit", json_string_value(json_object_get(doc, "fit")));
	if (json_object_get(doc, "sha256")) {
		char sz[32];

		snprintf(buf, sizeof(buf), "%s, %s, sha256 %s",
		         ctl_cell(doc, "mime", b2, sizeof(b2)),
		         ctl_fmt_bytes(json_integer_value(
		                               json_object_get(doc, "size")),
		                       sz, sizeof(sz)),
		         json_string_value(json_object_get(doc, "sha256")));
		line("file", buf);
	}
	if (json_object_get(meta, "width")) {
		snprintf(buf, sizeof(buf), "%lld x %lld px",
		         (long long)json_integer_value(
		                 json_object_get(meta, "width")),
		         (long long)json_integer_value(
		                 json_object_get(meta, "height")));
		line("image", buf);
	}
	if (json_object_get(doc, "duration_ms")) {
		snprintf(buf, sizeof(buf), "%.1f s",
		         json_integer_value(
		                 json_object_get(doc, "duration_ms")) /
		                 1000.0);
		line("duration", buf);
	}
	if (json_object_get(meta, "lufs")) {
		snprintf(buf, sizeof(buf), "%.1f LUFS, gain %+.1f dB%s",
		         json_number_value(json_object_get(meta, "lufs")),
		         json_number_value(json_object_get(doc, "gain_db")),
		         json_is_true(json_object_get(meta, "generated"))
		                 ? " (speech made by the controller)"
		                 : "");
		line("loudness", buf);
	}
	json_array_foreach(json_object_get(v, "history"), i, h)
	{
		char when[32];

		snprintf(buf, sizeof(buf), "%s  %s  %s",
		         ctl_fmt_time(json_integer_value(
		                              json_object_get(h, "at_ms")),
		                      when, sizeof(when)),
		         json_string_value(json_object_get(h, "action"))
		                 ? json_string_value(
		                           json_object_get(h, "action"))
		                 : "?",
		         json_string_value(json_object_get(h, "user"))
		                 ? json_string_value(json_object_get(h, "user"))
		                 : "-");
		line(i == 0 ? "history" : "", buf);
	}
}

/* "/v1/content/" + escaped id + tail (malloc'd). */
static char *item_path(const char *id, const char *tail)
{
	return ctl_id_path("/v1/content", id, tail);
}

/* image or audio from a file name's extension; NULL if unknown. */
static const char *type_of_file(const char *file)
{
	static const char *const img[] = {".png", ".jpg", ".jpeg", ".webp"};
	static const char *const aud[] = {".ogg", ".oga", ".opus",
	                                  ".mp3", ".wav", ".flac"};
	const char *dot = strrchr(file, '.');

	for (size_t i = 0; dot && i < MC_ARRAY_LEN(img); i++)
		if (strcasecmp(dot, img[i]) == 0)
			return "image";
	for (size_t i = 0; dot && i < MC_ARRAY_LEN(aud); i++)
		if (strcasecmp(dot, aud[i]) == 0)
			return "audio";
	return NULL;
}

enum {
	OPT_TYPE = 256,
	OPT_STATUS,
	OPT_SEARCH,
	OPT_LIMIT,
	OPT_OFFSET,
	OPT_ID,
	OPT_NAME,
	OPT_TEXT,
	OPT_FIT,
	OPT_REPLACE,
	OPT_SUBMIT,
	OPT_SIZE,
	OPT_APPROVED,
	OPT_OUT,
	OPT_FG,
	OPT_BG,
	OPT_FONT,
	OPT_ALIGN,
	OPT_EFFECT,
	OPT_BG_IMAGE,
	OPT_TICKER,
	OPT_NO_TICKER,
};

/* Everything the subcommands take; each checks what applies to it. */
struct opts {
	const char *type, *status, *search, *limit, *offset, *id, *name;
	const char *text, *fit, *size, *out;
	const char *fg, *bg, *font, *align, *effect, *bg_image;
	int ticker; /* -1 not given, 0 --no-ticker, 1 --ticker */
	bool replace, submit, approved;
	bool style; /* any style option given */
};

static int parse(struct ctl_conn *conn, int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"type", required_argument, NULL, OPT_TYPE},
	        {"status", required_argument, NULL, OPT_STATUS},
	        {"search", required_argument, NULL, OPT_SEARCH},
	        {"limit", required_argument, NULL, OPT_LIMIT},
	        {"offset", required_argument, NULL, OPT_OFFSET},
	        {"id", required_argument, NULL, OPT_ID},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"text", required_argument, NULL, OPT_TEXT},
	        {"fit", required_argument, NULL, OPT_FIT},
	        {"replace", no_argument, NULL, OPT_REPLACE},
	        {"submit", no_argument, NULL, OPT_SUBMIT},
	        {"size", required_argument, NULL, OPT_SIZE},
	        {"approved", no_argument, NULL, OPT_APPROVED},
	        {"out", required_argument, NULL, OPT_OUT},
	        {"fg", required_argument, NULL, OPT_FG},
	        {"bg", required_argument, NULL, OPT_BG},
	        {"font", required_argument, NULL, OPT_FONT},
	        {"align", required_argument, NULL, OPT_ALIGN},
	        {"effect", required_argument, NULL, OPT_EFFECT},
	        {"bg-image", required_argument, NULL, OPT_BG_IMAGE},
	        {"ticker", no_argument, NULL, OPT_TICKER},
	        {"no-ticker", no_argument, NULL, OPT_NO_TICKER},
	        {NULL, 0, NULL, 0}};
	int c;

	memset(o, 0, sizeof(*o));
	o->ticker = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
		switch (c) {
		case 'h': help(stdout); return -1;
		case OPT_TYPE: o->type = optarg; break;
		case OPT_STATUS: o->status = optarg; break;
		case OPT_SEARCH: o->search = optarg; break;
		case OPT_LIMIT: o->limit = optarg; break;
		case OPT_OFFSET: o->offset = optarg; break;
		case OPT_ID: o->id = optarg; break;
		case OPT_NAME: o->name = optarg; break;
		case OPT_TEXT: o->text = optarg; break;
		case OPT_FIT: o->fit = optarg; break;
		case OPT_REPLACE: o->replace = true; break;
		case OPT_SUBMIT: o->submit = true; break;
		case OPT_SIZE: o->size = optarg; break;
		case OPT_APPROVED: o->approved = true; break;
		case OPT_OUT: o->out = optarg; break;
		case OPT_FG: o->fg = optarg, o->style = true; break;
		case OPT_BG: o->bg = optarg, o->style = true; break;
		case OPT_FONT: o->font = optarg, o->style = true; break;
		case OPT_ALIGN: o->align = optarg, o->style = true; break;
		case OPT_EFFECT: o->effect = optarg, o->style = true; break;
		case OPT_BG_IMAGE: o->bg_image = optarg, o->style = true; break;
		case OPT_TICKER: o->ticker = 1, o->style = true; break;
		case OPT_NO_TICKER: o->ticker = 0, o->style = true; break;
		default: return ctl_bad_option(conn->what, argv, c);
		}
	}
	return MC_CTL_OK;
}

/* Refuse options that sub does not take; allowed is a list of names. */
static int only(struct ctl_conn *conn, const struct opts *o,
                const char *allowed)
{
	const struct {
		const char *name;
		bool given;
	} given[] = {
	        {"type", o->type != NULL},     {"status", o->status != NULL},
	        {"search", o->search != NULL}, {"limit", o->limit != NULL},
	        {"offset", o->offset != NULL}, {"id", o->id != NULL},
	        {"name", o->name != NULL},     {"text", o->text != NULL},
	        {"fit", o->fit != NULL},       {"replace", o->replace},
	        {"submit", o->submit},         {"size", o->size != NULL},
	        {"approved", o->approved},     {"out", o->out != NULL},
	        {"style", o->style},
	};

	for (size_t i = 0; i < MC_ARRAY_LEN(given); i++) {
		char word[24];

		snprintf(word, sizeof(word), " %s ", given[i].name);
		if (given[i].given && !strstr(allowed, word))
			return ctl_usage(conn->what,
			                 strcmp(given[i].name, "style") == 0
			                         ? "style options do not apply "
			                           "here"
			                         : "--%s does not apply here",
			                 given[i].name);
	}
	return MC_CTL_OK;
}

/* The style object of the style options (merged into old, if any). */
static json_t *style_of(const struct opts *o, json_t *old)
{
	json_t *s = json_is_object(old) ? json_deep_copy(old) : json_object();

	if (!s)
		return NULL;
	if (o->fg)
		json_object_set_new(s, "fg", json_string(o->fg));
	if (o->bg)
		json_object_set_new(s, "bg", json_string(o->bg));
	if (o->font)
		json_object_set_new(s, "font", json_string(o->font));
	if (o->align)
		json_object_set_new(s, "align", json_string(o->align));
	if (o->effect)
		json_object_set_new(s, "effect", json_string(o->effect));
	if (o->bg_image)
		json_object_set_new(s, "bg_image", json_string(o->bg_image));
	if (o->ticker >= 0)
		json_object_set_new(s, "ticker", json_boolean(o->ticker));
	return s;
}

static int run(struct ctl_conn *conn, const char *sub, int argc, char **argv)
{
	struct opts o;
	json_t *body = NULL, *doc = NULL;
	char *path = NULL;
	const char *arg = NULL;
	int rc;

	rc = parse(conn, argc, argv, &o);
	if (rc != MC_CTL_OK)
		return rc < 0 ? MC_CTL_OK : rc;
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0) {
		if ((rc = only(conn, &o,
		               " type status search limit offset ")) ||
		    (rc = ctl_no_arg(conn->what, argc, argv)))
			return rc;
		path = strdup("/v1/content");
		if (!path || !ctl_add_query(&path, "type", o.type) ||
		    !ctl_add_query(&path, "status", o.status) ||
		    !ctl_add_query(&path, "q", o.search) ||
		    !ctl_add_query(&path, "limit", o.limit) ||
		    !ctl_add_query(&path, "offset", o.offset))
			goto nomem;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_list);
	} else if (strcmp(sub, "show") == 0) {
		if ((rc = only(conn, &o, " ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "content ID",
		                      &arg)))
			return rc;
		path = item_path(arg, NULL);
		if (!path)
			goto nomem;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_item);
	} else if (strcmp(sub, "add-slogan") == 0) {
		if ((rc = only(conn, &o, " name text submit style ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "content ID",
		                      &arg)))
			return rc;
		if (!o.text)
			return ctl_usage(conn->what, "--text is required");
		body = json_pack("{s:s, s:s, s:s, s:b}", "id", arg, "type",
		                 "slogan", "text", o.text, "submit", o.submit);
		if (!body)
			goto nomem;
		if (o.name)
			json_object_set_new(body, "name", json_string(o.name));
		if (o.style)
			json_object_set_new(body, "style", style_of(&o, NULL));
		rc = ctl_call(conn, "POST", "/v1/content", body, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_item);
	} else if (strcmp(sub, "speak") == 0) {
		if ((rc = only(conn, &o, " id name text submit ")) ||
		    (rc = ctl_no_arg(conn->what, argc, argv)))
			return rc;
		if (!o.id || !o.text)
			return ctl_usage(conn->what,
			                 "--id and --text are required");
		body = json_pack("{s:s, s:s, s:b, s:s, s:b}", "id", o.id,
		                 "type", "audio", "generate", 1, "text", o.text,
		                 "submit", o.submit);
		if (!body)
			goto nomem;
		if (o.name)
			json_object_set_new(body, "name", json_string(o.name));
		rc = ctl_call(conn, "POST", "/v1/content", body, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_item);
	} else if (strcmp(sub, "upload") == 0) {
		const char *type;

		if ((rc = only(conn, &o,
		               " id name type fit text replace submit ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "FILE", &arg)))
			return rc;
		if (!o.id)
			return ctl_usage(conn->what, "--id is required");
		type = o.type ? o.type : type_of_file(arg);
		if (!type && !o.replace)
			return ctl_usage(conn->what,
			                 "cannot tell image from audio by the "
			                 "name '%s': give --type image|audio",
			                 arg);
		path = strdup("/v1/content/upload");
		if (!path || !ctl_add_query(&path, "id", o.id) ||
		    !ctl_add_query(&path, "type",
		                   o.type ? o.type
		                          : (o.replace ? NULL : type)) ||
		    !ctl_add_query(&path, "name", o.name) ||
		    !ctl_add_query(&path, "fit", o.fit) ||
		    !ctl_add_query(&path, "text", o.text) ||
		    !ctl_add_query(&path, "replace", o.replace ? "1" : NULL) ||
		    !ctl_add_query(&path, "submit", o.submit ? "1" : NULL))
			goto nomem;
		rc = ctl_upload(conn, "POST", path, arg,
		                "application/octet-stream", &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_item);
	} else if (strcmp(sub, "edit") == 0) {
		if ((rc = only(conn, &o, " name text fit submit style ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "content ID",
		                      &arg)))
			return rc;
		path = item_path(arg, NULL);
		if (!path)
			goto nomem;
		body = json_object();
		if (!body)
			goto nomem;
		if (o.style) {
			/* Style options change only what they name. */
			json_t *cur = NULL;

			rc = ctl_call(conn, "GET", path, NULL, &cur, NULL);
			if (rc != MC_CTL_OK)
				goto out;
			json_object_set_new(
			        body, "style",
			        style_of(&o,
			                 json_object_get(
			                         json_object_get(cur, "doc"),
			                         "style")));
			json_decref(cur);
		}
		if (o.name)
			json_object_set_new(body, "name", json_string(o.name));
		if (o.text)
			json_object_set_new(body, "text", json_string(o.text));
		if (o.fit)
			json_object_set_new(body, "fit", json_string(o.fit));
		if (o.submit)
			json_object_set_new(body, "submit", json_true());
		if (json_object_size(body) == 0) {
			rc = ctl_usage(
			        conn->what,
			        "nothing to change: give --name, --text, "
			        "--fit, style options or --submit");
			goto out;
		}
		rc = ctl_call(conn, "PUT", path, body, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_item);
	} else if (strcmp(sub, "rm") == 0 || strcmp(sub, "delete") == 0) {
		if ((rc = only(conn, &o, " ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "content ID",
		                      &arg)))
			return rc;
		path = item_path(arg, NULL);
		if (!path)
			goto nomem;
		rc = ctl_call(conn, "DELETE", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK) {
			if (conn->json)
				ctl_print_json(doc);
			else
				printf("content %s deleted\n", arg);
		}
	} else if (strcmp(sub, "preview") == 0) {
		int64_t bytes = 0;

		if ((rc = only(conn, &o, " size approved out ")) ||
		    (rc = ctl_one_arg(conn->what, argc, argv, "content ID",
		                      &arg)))
			return rc;
		if (!o.out)
			return ctl_usage(conn->what,
			                 "--out FILE.png is required");
		path = item_path(arg, "/preview.png");
		if (!path || !ctl_add_query(&path, "size", o.size) ||
		    !ctl_add_query(&path, "approved", o.approved ? "1" : NULL))
			goto nomem;
		rc = ctl_download(conn, path, o.out, &bytes, NULL);
		if (rc == MC_CTL_OK && strcmp(o.out, "-") != 0)
			fprintf(conn->json ? stderr : stdout,
			        "%s: preview of %s (%lld bytes)\n", o.out, arg,
			        (long long)bytes);
	} else {
		fprintf(stderr,
		        "minecastctl: content: unknown command '%s'\n\n", sub);
		help(stderr);
		return MC_CTL_USAGE;
	}
	goto out;
nomem:
	rc = ctl_fail(conn->what, "out of memory");
out:
	json_decref(body);
	json_decref(doc);
	free(path);
	return rc;
}

int mc_ctl_content(int argc, char **argv)
{
	return ctl_family("content", argc, argv, help, run);
}
