/*
 * minecastctl playlist, entry, review, submit, approve, reject, import,
 * export, preview — the calendar and the editorial workflow over the
 * controller's API (docs/api.md).
 *
 * `import campaign FILE` reads a campaign file as it is kept in
 * playlists/ (assets named by `src`, relative to the file), uploads each
 * asset once to POST /v1/blobs (with a progress bar on a terminal),
 * rewrites the item to name its upload by sha256, size and MIME type, and
 * posts the whole campaign, which the controller writes in one
 * transaction.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/compile.h"
#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

#define CAMPAIGN_MAX_BYTES (4u * 1024u * 1024u)

/* ---- small helpers --------------------------------------------------- */

/* Match "--name VALUE" or "--name=VALUE" at argv[*i]; 1 matched, 0 not,
 * -1 value missing (printed). */
static int opt_value(const char *what, int argc, char **argv, int *i,
                     const char *name, const char **out)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*out = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		ctl_usage(what, "%s needs a value", name);
		return -1;
	}
	*out = argv[++*i];
	return 1;
}

/* Read a JSON object from a file ("-" = stdin). */
static json_t *load_json(const char *what, const char *file)
{
	json_error_t je;
	json_t *doc;

	if (strcmp(file, "-") == 0)
		doc = json_loadf(stdin, JSON_REJECT_DUPLICATES, &je);
	else
		doc = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		ctl_fail(what, "%s: line %d column %d: %s", file, je.line,
		         je.column, je.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		ctl_fail(what, "%s: must hold a JSON object", file);
		return NULL;
	}
	return doc;
}

/* Parse a non-negative integer option. */
static bool int_arg(const char *what, const char *opt, const char *s,
                    long long max, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(s, &end, 10);
	if (!*s || *end || errno || *out < 0 || *out > max) {
		ctl_usage(what, "%s: '%s' is not a number 0..%lld", opt, s,
		          max);
		return false;
	}
	return true;
}

/* "content" | "playlist" | "entry" → the URL segment. */
static const char *kind_segment(const char *kind)
{
	if (strcmp(kind, "content") == 0)
		return "content";
	if (strcmp(kind, "playlist") == 0 || strcmp(kind, "playlists") == 0)
		return "playlists";
	if (strcmp(kind, "entry") == 0 || strcmp(kind, "entries") == 0)
		return "entries";
	return NULL;
}

static const char *status_of(json_t *o)
{
	const char *s = json_string_value(json_object_get(o, "status"));

	return s ? s : "-";
}

/* ---- playlist and entry ---------------------------------------------- */

/* What differs between the two families. */
struct family {
	const char *name; /* "playlist" */
	const char *path; /* "/v1/playlists" */
};

static const struct family playlists = {"playlist", "/v1/playlists"};
static const struct family entries = {"entry", "/v1/entries"};

static void playlist_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl playlist COMMAND [OPTIONS]\n"
	        "\n"
	        "Playlists: content shown or played in turn (docs/manifest.md "
	        "§6).\n"
	        "\n"
	        "Commands:\n"
	        "  list [--status S]        draft|submitted|approved|rejected\n"
	        "  show ID\n"
	        "  add FILE [--submit]      a playlist in manifest form (JSON; "
	        "- = stdin)\n"
	        "  add ID --item CONTENT[:SECONDS[:crossfade]]... [--name "
	        "TEXT] [--submit]\n"
	        "  edit ID FILE [--submit]  replace the playlist\n"
	        "  edit ID [--name TEXT] [--item ...]... [--submit]\n"
	        "                           change the name, or replace the "
	        "items\n"
	        "  rm ID                    refused while an entry plays it\n"
	        "\n"
	        "A new or edited playlist is a draft until submitted (--submit "
	        "or\n"
	        "'minecastctl submit playlist ID'); editing an approved one "
	        "sends it\n"
	        "back to review while the fleet keeps the approved revision.\n"
	        "\n" CTL_CONN_HELP);
}

static void entry_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl entry COMMAND [OPTIONS]\n"
	        "\n"
	        "Schedule entries: a playlist on a channel at the times of an "
	        "RFC 5545\n"
	        "event (docs/manifest.md §7, docs/schedule.md).\n"
	        "\n"
	        "Commands:\n"
	        "  list [--status S] [--channel screen|speaker]\n"
	        "  show ID\n"
	        "  add FILE [--submit]      an entry in manifest form (JSON; - "
	        "= stdin)\n"
	        "  add ID --playlist P --channel C [FIELDS] [--submit]\n"
	        "  edit ID FILE [--submit]  replace the entry\n"
	        "  edit ID [FIELDS] [--submit]   change the fields given\n"
	        "  rm ID\n"
	        "\n"
	        "Fields:\n"
	        "  --name TEXT  --playlist ID  --channel screen|speaker\n"
	        "  --priority 0..100  --layer fill|interrupt  --mode "
	        "loop|once\n"
	        "  --dtstart YYYYMMDD[THHMMSS[Z]]  --dtend DATETIME | "
	        "--duration P1D\n"
	        "  --tzid ZONE  --rrule RULE  --rdate DATETIME...  --exdate "
	        "DATETIME...\n"
	        "  --founded YEAR  (for {years} and {since})\n"
	        "  --site ID... --tag T... --node ID... --group ID... "
	        "--company "
	        "ID...\n"
	        "                (targets; none = every node)\n"
	        "\n"
	        "Example: a yearly anniversary on 12/11 all day:\n"
	        "  minecastctl entry add e-12-11 --playlist pl-12-11 --channel "
	        "screen \\\n"
	        "    --priority 60 --layer interrupt --dtstart 20231112 "
	        "--duration P1D \\\n"
	        "    --rrule 'FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12' --founded "
	        "1936\n"
	        "\n" CTL_CONN_HELP);
}

static void print_list(json_t *doc, bool entry)
{
	json_t *items = json_object_get(doc, "items"), *it;
	struct ctl_table *t;
	size_t i;

	if (entry)
		t = ctl_table_new(8, "ID", "NAME", "CHANNEL", ">PRIO", "WHEN",
		                  "PLAYLIST", "STATUS", ">REV");
	else
		t = ctl_table_new(6, "ID", "NAME", ">ITEMS", "STATUS", ">REV",
		                  "AUTHOR");
	json_array_foreach(items, i, it)
	{
		json_t *d = json_object_get(it, "doc");
		char a[128], b[512], c[32], e[32], f[32], g[128];

		ctl_cell(it, "id", a, sizeof(a));
		ctl_cell(it, "name", b, sizeof(b));
		ctl_cell(it, "rev", f, sizeof(f));
		if (entry) {
			char when[160], pl[128];
			const char *ds = json_string_value(
			        json_object_get(d, "dtstart"));
			const char *rr =
			        json_string_value(json_object_get(d, "rrule"));

			snprintf(when, sizeof(when), "%s%s%s",
			         ds ? ds : "standing", rr ? " " : "",
			         rr ? rr : "");
			ctl_table_row(
			        t, a, b, ctl_cell(it, "channel", c, sizeof(c)),
			        ctl_cell(it, "priority", e, sizeof(e)), when,
			        ctl_cell(d, "playlist", pl, sizeof(pl)),
			        status_of(it), f);
		} else {
			snprintf(c, sizeof(c), "%zu",
			         json_array_size(json_object_get(d, "items")));
			ctl_table_row(t, a, b, c, status_of(it), f,
			              ctl_cell(it, "author", g, sizeof(g)));
		}
	}
	if (ctl_table_rows(t) == 0)
		printf("(none)\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void print_playlists(json_t *doc)
{
	print_list(doc, false);
}

static void print_entries(json_t *doc)
{
	print_list(doc, true);
}

/* The workflow lines every object's "show" starts with. */
static void print_state(json_t *o)
{
	char a[64], b[64], t[32];

	printf("status:     %s (revision %s, approved %s)\n", status_of(o),
	       ctl_cell(o, "rev", a, sizeof(a)),
	       ctl_cell(o, "approved_rev", b, sizeof(b)));
	printf("author:     %s\n", ctl_cell(o, "author", a, sizeof(a)));
	if (json_is_string(json_object_get(o, "submitted_by_name")))
		printf("submitted:  %s by %s\n",
		       ctl_fmt_time(json_integer_value(
		                            json_object_get(o, "submitted_ms")),
		                    t, sizeof(t)),
		       json_string_value(
		               json_object_get(o, "submitted_by_name")));
	if (json_is_string(json_object_get(o, "reviewed_by_name")))
		printf("reviewed:   %s by %s\n",
		       ctl_fmt_time(json_integer_value(
		                            json_object_get(o, "reviewed_ms")),
		                    t, sizeof(t)),
		       json_string_value(
		               json_object_get(o, "reviewed_by_name")));
	if (json_is_string(json_object_get(o, "reject_reason")))
		printf("rejected:   %s\n",
		       json_string_value(json_object_get(o, "reject_reason")));
}

static void print_playlist(json_t *o)
{
	json_t *d = json_object_get(o, "doc"), *it;
	struct ctl_table *t = ctl_table_new(5, ">#", "CONTENT", ">SECONDS",
	                                    "TRANSITION", ">VOLUME");
	size_t i;
	char a[128];

	printf("playlist:   %s\n", ctl_cell(o, "id", a, sizeof(a)));
	printf("name:       %s\n", ctl_cell(d, "name", a, sizeof(a)));
	print_state(o);
	printf("\n");
	json_array_foreach(json_object_get(d, "items"), i, it)
	{
		char n[24], c[128], s[32], tr[32], v[32];

		snprintf(n, sizeof(n), "%zu", i + 1);
		ctl_table_row(t, n, ctl_cell(it, "content", c, sizeof(c)),
		              ctl_cell(it, "duration_s", s, sizeof(s)),
		              ctl_cell(it, "transition", tr, sizeof(tr)),
		              ctl_cell(it, "volume", v, sizeof(v)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void print_entry(json_t *o)
{
	static const char *const fields[] = {
	        "name",  "playlist", "channel", "priority", "layer",
	        "mode",  "dtstart",  "dtend",   "duration", "tzid",
	        "rrule", "rdate",    "exdate",  "founded"};
	json_t *d = json_object_get(o, "doc"), *tg;
	char a[512];

	printf("entry:      %s\n", ctl_cell(o, "id", a, sizeof(a)));
	for (size_t i = 0; i < MC_ARRAY_LEN(fields); i++)
		if (json_object_get(d, fields[i]))
			printf("%-11s %s\n", fields[i],
			       ctl_cell(d, fields[i], a, sizeof(a)));
	if (!json_object_get(d, "dtstart"))
		printf("%-11s %s\n", "dtstart", "(standing: always on)");
	tg = json_object_get(d, "targets");
	{
		static const char *const tk[] = {"groups", "companies", "sites",
		                                 "tags", "nodes"};
		bool any = false;

		for (size_t i = 0; i < MC_ARRAY_LEN(tk); i++)
			if (json_array_size(json_object_get(tg, tk[i]))) {
				printf("%-11s %s: %s\n", any ? "" : "targets",
				       tk[i],
				       ctl_cell(tg, tk[i], a, sizeof(a)));
				any = true;
			}
		if (!any)
			printf("targets:    every node\n");
	}
	print_state(o);
}

/* Append value to the array member key of obj (created). */
static void append_str(json_t *obj, const char *key, const char *value)
{
	json_t *a = json_object_get(obj, key);

	if (!json_is_array(a)) {
		a = json_array();
		json_object_set_new(obj, key, a);
	}
	json_array_append_new(a, json_string(value));
}

/* "CONTENT[:SECONDS[:crossfade|cut]]" → an item object. */
static json_t *item_arg(const char *what, const char *s)
{
	char *copy = mc_strdup(s), *c1, *c2;
	json_t *it = NULL;
	long long secs;

	if (!copy)
		return NULL;
	c1 = strchr(copy, ':');
	c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (c1)
		*c1++ = '\0';
	if (c2)
		*c2++ = '\0';
	if (!*copy) {
		ctl_usage(what, "--item: '%s' names no content", s);
		goto out;
	}
	it = json_pack("{s:s}", "content", copy);
	if (c1 && *c1) {
		if (!int_arg(what, "--item", c1, 86400, &secs)) {
			json_decref(it);
			it = NULL;
			goto out;
		}
		json_object_set_new(it, "duration_s", json_integer(secs));
	}
	if (c2 && *c2)
		json_object_set_new(it, "transition", json_string(c2));
out:
	free(copy);
	return it;
}

/* The add/edit flags of a family applied to doc; false on a usage error
 * (printed).  *file gets a positional FILE argument. */
static int apply_flags(const struct family *f, int argc, char **argv, int first,
                       json_t *doc, bool *submit, const char **file)
{
	const char *what = f->name;
	bool entry = f == &entries;
	json_t *items = NULL;

	for (int i = first; i < argc; i++) {
		const char *v = NULL;
		int r;

		if (strcmp(argv[i], "--submit") == 0) {
			*submit = true;
			continue;
		}
		if ((r = opt_value(what, argc, argv, &i, "--name", &v))) {
			if (r < 0)
				goto usage;
			json_object_set_new(doc, "name", json_string(v));
			continue;
		}
		if (!entry &&
		    (r = opt_value(what, argc, argv, &i, "--item", &v))) {
			json_t *it;

			if (r < 0 || !(it = item_arg(what, v)))
				goto usage;
			if (!items)
				items = json_array();
			json_array_append_new(items, it);
			continue;
		}
		if (entry) {
			static const char *const strs[] = {
			        "playlist", "channel", "layer",
			        "mode",     "dtstart", "dtend",
			        "duration", "tzid",    "rrule"};
			static const char *const lists[][2] = {
			        {"rdate", "rdate"},      {"exdate", "exdate"},
			        {"site", "sites"},       {"tag", "tags"},
			        {"node", "nodes"},       {"group", "groups"},
			        {"company", "companies"}};
			bool done = false;

			for (size_t k = 0; !done && k < MC_ARRAY_LEN(strs);
			     k++) {
				char opt[32];

				snprintf(opt, sizeof(opt), "--%s", strs[k]);
				r = opt_value(what, argc, argv, &i, opt, &v);
				if (r < 0)
					goto usage;
				if (r) {
					json_object_set_new(doc, strs[k],
					                    json_string(v));
					done = true;
				}
			}
			for (size_t k = 0; !done && k < MC_ARRAY_LEN(lists);
			     k++) {
				char opt[32];

				snprintf(opt, sizeof(opt), "--%s", lists[k][0]);
				r = opt_value(what, argc, argv, &i, opt, &v);
				if (r < 0)
					goto usage;
				if (!r)
					continue;
				if (k < 2) {
					append_str(doc, lists[k][1], v);
				} else {
					json_t *t =
					        json_object_get(doc, "targets");

					if (!json_is_object(t)) {
						t = json_object();
						json_object_set_new(
						        doc, "targets", t);
					}
					append_str(t, lists[k][1], v);
				}
				done = true;
			}
			if (!done) {
				long long n;

				if ((r = opt_value(what, argc, argv, &i,
				                   "--priority", &v))) {
					if (r < 0 ||
					    !int_arg(what, "--priority", v, 100,
					             &n))
						goto usage;
					json_object_set_new(doc, "priority",
					                    json_integer(n));
					done = true;
				} else if ((r = opt_value(what, argc, argv, &i,
				                          "--founded", &v))) {
					if (r < 0 || !int_arg(what, "--founded",
					                      v, 9999, &n))
						goto usage;
					json_object_set_new(doc, "founded",
					                    json_integer(n));
					done = true;
				}
			}
			if (done)
				continue;
		}
		if (argv[i][0] == '-' || *file) {
			ctl_usage(what, "unknown argument '%s'", argv[i]);
			goto usage;
		}
		*file = argv[i];
	}
	if (items)
		json_object_set_new(doc, "items", items);
	return MC_CTL_OK;
usage:
	json_decref(items);
	return MC_CTL_USAGE;
}

static int family_run(const struct family *f, struct ctl_conn *conn, int argc,
                      char **argv)
{
	const char *sub = argv[0];
	bool entry = f == &entries;
	json_t *doc = NULL, *body = NULL;
	char *path = NULL, *esc = NULL;
	int rc = MC_CTL_FAIL;

	if (strcmp(sub, "list") == 0) {
		const char *status = NULL, *channel = NULL;

		for (int i = 1; i < argc; i++) {
			int r;

			if ((r = opt_value(f->name, argc, argv, &i, "--status",
			                   &status)) ||
			    (entry && (r = opt_value(f->name, argc, argv, &i,
			                             "--channel", &channel)))) {
				if (r < 0)
					return MC_CTL_USAGE;
				continue;
			}
			return ctl_usage(f->name, "unknown argument '%s'",
			                 argv[i]);
		}
		{
			char *s = status ? ctl_escape(status) : NULL;
			char *c = channel ? ctl_escape(channel) : NULL;

			path = mc_printf("%s?limit=1000%s%s%s%s", f->path,
			                 s ? "&status=" : "", s ? s : "",
			                 c ? "&channel=" : "", c ? c : "");
			free(s);
			free(c);
		}
		if (!path)
			goto nomem;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc,
			               entry ? print_entries : print_playlists);
		goto out;
	}
	if (strcmp(sub, "show") == 0 || strcmp(sub, "rm") == 0) {
		if (argc != 2)
			return ctl_usage(f->name, "%s needs exactly one ID",
			                 sub);
		esc = ctl_escape(argv[1]);
		path = esc ? mc_printf("%s/%s", f->path, esc) : NULL;
		if (!path)
			goto nomem;
		if (strcmp(sub, "show") == 0) {
			rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
			if (rc == MC_CTL_OK)
				rc = ctl_print(conn, doc,
				               entry ? print_entry
				                     : print_playlist);
		} else {
			rc = ctl_call(conn, "DELETE", path, NULL, &doc, NULL);
			if (rc == MC_CTL_OK && !conn->json)
				printf("deleted %s '%s'\n", f->name, argv[1]);
			else if (rc == MC_CTL_OK)
				ctl_print_json(doc);
		}
		goto out;
	}
	if (strcmp(sub, "add") == 0 || strcmp(sub, "edit") == 0) {
		bool add = strcmp(sub, "add") == 0, submit = false;
		const char *file = NULL, *id = NULL;
		int first = 1;

		if (argc < 2)
			return ctl_usage(f->name, "%s needs an ID or a FILE",
			                 sub);
		body = json_object();
		/* "edit ID ..."; "add ID --field ..." when a field is given,
		 * else "add FILE [--submit]". */
		for (int i = 2; add && !id && i < argc; i++)
			if (strncmp(argv[i], "--", 2) == 0 &&
			    strcmp(argv[i], "--submit") != 0)
				id = argv[1];
		if (!add)
			id = argv[1];
		if (id)
			first = 2;
		rc = apply_flags(f, argc, argv, first, body, &submit, &file);
		if (rc != MC_CTL_OK)
			goto out;
		if (add && !id && !file)
			file = argv[1];
		if (file) {
			json_t *fdoc = load_json(f->name, file);

			if (!fdoc) {
				rc = MC_CTL_FAIL;
				goto out;
			}
			/* Flags given with a file change it. */
			json_object_update(fdoc, body);
			json_decref(body);
			body = fdoc;
		} else if (!add) {
			/* Change the given fields of the current revision. */
			json_t *cur = NULL, *d;

			esc = ctl_escape(id);
			path = esc ? mc_printf("%s/%s", f->path, esc) : NULL;
			if (!path)
				goto nomem;
			rc = ctl_call(conn, "GET", path, NULL, &cur, NULL);
			if (rc != MC_CTL_OK)
				goto out;
			d = json_deep_copy(json_object_get(cur, "doc"));
			json_decref(cur);
			if (!d)
				goto nomem;
			if (json_object_get(body, "targets"))
				json_object_del(d, "targets");
			json_object_update(d, body);
			json_decref(body);
			body = d;
			MC_FREE(path);
			MC_FREE(esc);
		}
		if (id)
			json_object_set_new(body, "id", json_string(id));
		if (submit)
			json_object_set_new(body, "submit", json_true());
		if (add) {
			rc = ctl_call(conn, "POST", f->path, body, &doc, NULL);
		} else {
			const char *bid =
			        json_string_value(json_object_get(body, "id"));

			esc = ctl_escape(id ? id : bid ? bid : "");
			path = esc ? mc_printf("%s/%s", f->path, esc) : NULL;
			if (!path)
				goto nomem;
			rc = ctl_call(conn, "PUT", path, body, &doc, NULL);
		}
		if (rc == MC_CTL_OK) {
			if (conn->json)
				ctl_print_json(doc);
			else
				printf("%s %s '%s': %s, revision %lld\n",
				       add ? "added" : "saved", f->name,
				       json_string_value(
				               json_object_get(doc, "id")),
				       status_of(doc),
				       (long long)json_integer_value(
				               json_object_get(doc, "rev")));
		}
		goto out;
	}
	fprintf(stderr, "minecastctl: %s: unknown command '%s'\n\n", f->name,
	        sub);
	if (entry)
		entry_help(stderr);
	else
		playlist_help(stderr);
	return MC_CTL_USAGE;
nomem:
	rc = ctl_fail(f->name, "out of memory");
out:
	json_decref(doc);
	json_decref(body);
	free(path);
	free(esc);
	return rc;
}

/* A help request anywhere after the subcommand prints the family's help. */
static int family_pick(const struct family *f, void (*help)(FILE *),
                       struct ctl_conn *conn, int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (ctl_is_help(argv[i])) {
			help(stdout);
			return MC_CTL_OK;
		}
	return family_run(f, conn, argc, argv);
}

static int playlist_pick(struct ctl_conn *conn, const char *sub, int argc,
                         char **argv)
{
	(void)sub;
	return family_pick(&playlists, playlist_help, conn, argc, argv);
}

static int entry_pick(struct ctl_conn *conn, const char *sub, int argc,
                      char **argv)
{
	(void)sub;
	return family_pick(&entries, entry_help, conn, argc, argv);
}

int mc_ctl_playlist(int argc, char **argv)
{
	return ctl_family(playlists.name, argc, argv, playlist_help,
	                  playlist_pick);
}

int mc_ctl_entry(int argc, char **argv)
{
	return ctl_family(entries.name, argc, argv, entry_help, entry_pick);
}

/* ---- the workflow ---------------------------------------------------- */

static const char review_help[] =
        "Usage: minecastctl review [list] [--kind content|playlist|entry]\n"
        "       minecastctl submit KIND ID\n"
        "       minecastctl approve KIND ID\n"
        "       minecastctl approve --all\n"
        "       minecastctl reject KIND ID --reason TEXT\n"
        "\n"
        "The editorial workflow: draft → submitted → approved | rejected.\n"
        "KIND is content, playlist or entry.  'review' lists what awaits\n"
        "approval, who wrote it, when it was submitted and which fields\n"
        "changed since the approved revision.  Nobody approves (or "
        "rejects)\n"
        "a revision they wrote or submitted.  'approve --all' approves "
        "every\n"
        "object in the queue the caller may approve, content first, so "
        "that\n"
        "playlists and entries find their references approved.\n"
        "Submitting needs the editor role, approving and rejecting the\n"
        "approver role.\n"
        "\n" CTL_CONN_HELP;

static void print_review(json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *it;
	struct ctl_table *t =
	        ctl_table_new(8, "KIND", "ID", "NAME", ">REV", "AUTHOR",
	                      "SUBMITTED", "CHANGED", "YOU");
	size_t i;

	json_array_foreach(items, i, it)
	{
		char a[32], b[128], c[512], d[32], e[128], tm[32], ch[256];
		json_t *changed = json_object_get(it, "changed");

		if (json_is_array(changed))
			ctl_cell(it, "changed", ch, sizeof(ch));
		else
			snprintf(ch, sizeof(ch), "(new)");
		ctl_table_row(t, ctl_cell(it, "kind", a, sizeof(a)),
		              ctl_cell(it, "id", b, sizeof(b)),
		              ctl_cell(it, "name", c, sizeof(c)),
		              ctl_cell(it, "rev", d, sizeof(d)),
		              ctl_cell(it, "author", e, sizeof(e)),
		              ctl_fmt_time(json_integer_value(json_object_get(
		                                   it, "submitted_ms")),
		                           tm, sizeof(tm)),
		              ch,
		              json_is_true(json_object_get(it, "may_approve"))
		                      ? "may approve"
		                      : "-");
	}
	if (ctl_table_rows(t) == 0)
		printf("(nothing awaits approval)\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
}

/* Shared start of the workflow commands: conn and help. */
static int wf_begin(struct ctl_conn *conn, const char *what, int *argc,
                    char **argv)
{
	int rc = ctl_conn_init(conn, what, argc, argv);

	if (rc != MC_CTL_OK)
		return rc;
	for (int i = 1; i < *argc; i++)
		if (ctl_is_help(argv[i]) &&
		    !(i > 1 && strcmp(argv[i - 1], "--reason") == 0)) {
			fputs(review_help, stdout);
			return -1;
		}
	return MC_CTL_OK;
}

int mc_ctl_review(int argc, char **argv)
{
	struct ctl_conn conn;
	const char *kind = NULL;
	char *path = NULL;
	json_t *doc = NULL;
	int rc = wf_begin(&conn, "review", &argc, argv);

	if (rc != MC_CTL_OK)
		goto out;
	for (int i = 1; i < argc; i++) {
		int r;

		if (i == 1 && strcmp(argv[i], "list") == 0)
			continue;
		if ((r = opt_value("review", argc, argv, &i, "--kind",
		                   &kind))) {
			if (r < 0) {
				rc = MC_CTL_USAGE;
				goto out;
			}
			continue;
		}
		rc = ctl_usage("review", "unknown argument '%s'", argv[i]);
		goto out;
	}
	if (kind) {
		char *k = ctl_escape(kind);

		path = k ? mc_printf("/v1/review?kind=%s", k) : NULL;
		free(k);
	} else {
		path = mc_strdup("/v1/review");
	}
	if (!path) {
		rc = ctl_fail("review", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_review);
out:
	json_decref(doc);
	free(path);
	ctl_conn_free(&conn);
	return rc < 0 ? MC_CTL_OK : rc;
}

/* POST /v1/<kind>/<id>/<action> with body; prints the new status. */
static int transition(struct ctl_conn *conn, const char *kind, const char *id,
                      const char *action, json_t *body, unsigned flags)
{
	const char *seg = kind_segment(kind);
	char *esc = ctl_escape(id), *path = NULL;
	json_t *doc = NULL;
	int rc;

	if (!seg) {
		free(esc);
		return ctl_usage(conn->what,
		                 "KIND '%s' is not content, playlist or entry",
		                 kind);
	}
	path = esc ? mc_printf("/v1/%s/%s/%s", seg, esc, action) : NULL;
	if (!path) {
		free(esc);
		return ctl_fail(conn->what, "out of memory");
	}
	rc = ctl_call_ex(conn, "POST", path, body, &doc, NULL, flags);
	if (rc == MC_CTL_OK) {
		if (conn->json)
			ctl_print_json(doc);
		else
			printf("%s '%s': %s\n", kind, id, status_of(doc));
	}
	json_decref(doc);
	free(path);
	free(esc);
	return rc;
}

int mc_ctl_submit(int argc, char **argv)
{
	struct ctl_conn conn;
	int rc = wf_begin(&conn, "submit", &argc, argv);

	if (rc == MC_CTL_OK) {
		if (argc != 3)
			rc = ctl_usage("submit", "usage: submit KIND ID");
		else
			rc = transition(&conn, argv[1], argv[2], "submit", NULL,
			                0);
	}
	ctl_conn_free(&conn);
	return rc < 0 ? MC_CTL_OK : rc;
}

int mc_ctl_reject(int argc, char **argv)
{
	struct ctl_conn conn;
	const char *reason = NULL, *pos[2] = {NULL, NULL};
	size_t n = 0;
	json_t *body = NULL;
	int rc = wf_begin(&conn, "reject", &argc, argv);

	if (rc != MC_CTL_OK)
		goto out;
	for (int i = 1; i < argc; i++) {
		int r;

		if ((r = opt_value("reject", argc, argv, &i, "--reason",
		                   &reason))) {
			if (r < 0) {
				rc = MC_CTL_USAGE;
				goto out;
			}
			continue;
		}
		if (argv[i][0] == '-' || n == 2) {
			rc = ctl_usage("reject", "unknown argument '%s'",
			               argv[i]);
			goto out;
		}
		pos[n++] = argv[i];
	}
	if (n != 2 || !reason || !*reason) {
		rc = ctl_usage("reject", "usage: reject KIND ID --reason TEXT "
		                         "(a reason is required)");
		goto out;
	}
	body = json_pack("{s:s}", "reason", reason);
	rc = body ? transition(&conn, pos[0], pos[1], "reject", body, 0)
	          : ctl_fail("reject", "out of memory");
out:
	json_decref(body);
	ctl_conn_free(&conn);
	return rc < 0 ? MC_CTL_OK : rc;
}

/*
 * approve --all: passes over the queue until a pass approves nothing.  An
 * object refused with 409 (a reference not approved yet) is tried again
 * in the next pass; other refusals are printed once and given up.
 */
static int approve_all(struct ctl_conn *conn)
{
	json_t *gave_up = json_object(), *doc = NULL, *it;
	int approved = 0, left = 0;
	bool progress = true;
	size_t i;

	if (!gave_up)
		return ctl_fail(conn->what, "out of memory");
	while (progress) {
		progress = false;
		json_decref(doc);
		doc = NULL;
		if (ctl_call(conn, "GET", "/v1/review", NULL, &doc, NULL) !=
		    MC_CTL_OK) {
			json_decref(gave_up);
			return MC_CTL_FAIL;
		}
		json_array_foreach(json_object_get(doc, "items"), i, it)
		{
			const char *kind =
			        json_string_value(json_object_get(it, "kind"));
			const char *id =
			        json_string_value(json_object_get(it, "id"));
			char *key, *esc, *path;
			json_t *err = NULL;
			long st = 0;

			if (!kind || !id || !kind_segment(kind) ||
			    !json_is_true(json_object_get(it, "may_approve")))
				continue;
			key = mc_printf("%s/%s", kind, id);
			if (!key || json_object_get(gave_up, key)) {
				free(key);
				continue;
			}
			esc = ctl_escape(id);
			path = esc ? mc_printf("/v1/%s/%s/approve",
			                       kind_segment(kind), esc)
			           : NULL;
			if (path && ctl_call_ex(conn, "POST", path, NULL, &err,
			                        &st, CTL_QUIET) == MC_CTL_OK) {
				if (!conn->json)
					printf("approved %s '%s'\n", kind, id);
				approved++;
				progress = true;
			} else if (st != 409) {
				const char *m =
				        json_string_value(json_object_get(
				                json_object_get(err, "error"),
				                "message"));

				fprintf(stderr,
				        "minecastctl: approve: %s '%s': %s\n",
				        kind, id, m ? m : "failed");
				json_object_set_new(gave_up, key, json_true());
			}
			json_decref(err);
			free(path);
			free(esc);
			free(key);
		}
	}
	/* What is still waiting on a reference: say why, once. */
	json_array_foreach(json_object_get(doc, "items"), i, it)
	{
		const char *kind =
		        json_string_value(json_object_get(it, "kind"));
		const char *id = json_string_value(json_object_get(it, "id"));
		char *key = kind && id ? mc_printf("%s/%s", kind, id) : NULL;

		if (key && kind_segment(kind) &&
		    json_is_true(json_object_get(it, "may_approve")) &&
		    !json_object_get(gave_up, key))
			(void)transition(conn, kind, id, "approve", NULL, 0);
		free(key);
	}
	left = (int)json_object_size(gave_up);
	json_decref(doc);
	json_decref(gave_up);
	doc = NULL;
	/* Anything the caller may approve still there is a failure. */
	if (ctl_call(conn, "GET", "/v1/review", NULL, &doc, NULL) == MC_CTL_OK)
		json_array_foreach(json_object_get(doc, "items"), i, it)
		{
			if (json_is_true(json_object_get(it, "may_approve")))
				left++;
		}
	json_decref(doc);
	if (!conn->json)
		printf("%d approved%s\n", approved,
		       left ? "; some could not be (see above)" : "");
	return left ? MC_CTL_FAIL : MC_CTL_OK;
}

int mc_ctl_approve(int argc, char **argv)
{
	struct ctl_conn conn;
	int rc = wf_begin(&conn, "approve", &argc, argv);

	if (rc == MC_CTL_OK) {
		if (argc == 2 && strcmp(argv[1], "--all") == 0)
			rc = approve_all(&conn);
		else if (argc != 3)
			rc = ctl_usage(
			        "approve",
			        "usage: approve KIND ID | approve --all");
		else
			rc = transition(&conn, argv[1], argv[2], "approve",
			                NULL, 0);
	}
	ctl_conn_free(&conn);
	return rc < 0 ? MC_CTL_OK : rc;
}

/* ---- import and export ----------------------------------------------- */

static const char import_help[] =
        "Usage: minecastctl import campaign FILE [--submit]\n"
        "       minecastctl import ics FILE [--playlist ID] [--channel "
        "screen|speaker]\n"
        "                                   [--submit]\n"
        "\n"
        "campaign: a minecast-campaign/1 file (playlists/README.md).  Each "
        "asset\n"
        "  (src, relative to FILE) is uploaded once, with a progress bar "
        "on a\n"
        "  terminal; then every content item, playlist and entry is "
        "created or\n"
        "  updated in one transaction (unchanged ones are left alone, so "
        "importing\n"
        "  twice changes nothing).  The campaign's timezone and fallback "
        "become\n"
        "  the schedule settings.\n"
        "ics: an iCalendar file from any calendar tool.  Each VEVENT "
        "becomes an\n"
        "  entry (UID → id, SUMMARY → name, DTSTART/DTEND/DURATION/RRULE/"
        "RDATE/\n"
        "  EXDATE with their zone).  Events play --playlist, or their "
        "own\n"
        "  X-MINECAST-PLAYLIST; without either an event shows its SUMMARY "
        "and\n"
        "  DESCRIPTION as a slogan (spoken on the speaker channel).\n"
        "\n"
        "--submit sends everything new or changed for approval at once.\n"
        "\n" CTL_CONN_HELP;

static const char export_help[] =
        "Usage: minecastctl export campaign|ics [--out FILE] [--drafts]\n"
        "\n"
        "The approved schedule (--drafts: the current revisions) as a "
        "campaign\n"
        "(JSON; assets named by sha256, importable again) or as an "
        "iCalendar\n"
        "file a calendar tool opens and 'import ics' reads back.  Without "
        "--out\n"
        "it is written to stdout.\n"
        "\n" CTL_CONN_HELP;

/* Is src a path inside the campaign's folder (docs/manifest.md §3.2)? */
static bool src_ok(const char *src)
{
	const char *p = src;

	if (!*src || src[0] == '/' || strchr(src, '\\'))
		return false;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return false;
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static void print_import(json_t *doc)
{
	static const char *const keys[] = {"content", "playlists", "entries"};

	for (size_t i = 0; i < MC_ARRAY_LEN(keys); i++) {
		json_t *c = json_object_get(doc, keys[i]);

		printf("%-10s %lld created, %lld updated, %lld unchanged\n",
		       keys[i],
		       (long long)json_integer_value(
		               json_object_get(c, "created")),
		       (long long)json_integer_value(
		               json_object_get(c, "updated")),
		       (long long)json_integer_value(
		               json_object_get(c, "unchanged")));
	}
	printf("%s\n", json_is_true(json_object_get(doc, "submitted"))
	                       ? "submitted for approval"
	                       : "drafts: submit them for approval "
	                         "('minecastctl submit', or --submit)");
}

static int import_campaign(struct ctl_conn *conn, const char *file, bool submit)
{
	json_t *camp = NULL, *uploaded = json_object(), *body = NULL;
	json_t *doc = NULL, *content, *c;
	char *dir_copy = mc_strdup(file), *dir;
	size_t i, n_assets = 0, k = 0;
	struct stat sb;
	int rc = MC_CTL_FAIL;

	if (!dir_copy || !uploaded) {
		rc = ctl_fail(conn->what, "out of memory");
		goto out;
	}
	if (stat(file, &sb) == 0 && sb.st_size > (off_t)CAMPAIGN_MAX_BYTES) {
		rc = ctl_fail(conn->what, "%s: larger than %u bytes", file,
		              CAMPAIGN_MAX_BYTES);
		goto out;
	}
	camp = load_json(conn->what, file);
	if (!camp)
		goto out;
	dir = dirname(dir_copy);
	content = json_object_get(camp, "content");
	json_array_foreach(content, i, c)
	{
		if (json_is_string(json_object_get(c, "src")))
			n_assets++;
	}
	json_array_foreach(content, i, c)
	{
		const char *src = json_string_value(json_object_get(c, "src"));
		const char *type =
		        json_string_value(json_object_get(c, "type"));
		json_t *up, *got = NULL;
		char *path, *path_up;
		const char *mime;

		if (!src)
			continue;
		if (!type)
			type = "image";
		k++;
		if (!src_ok(src)) {
			rc = ctl_fail(conn->what,
			              "%s: content[%zu].src: \"%s\" must be a "
			              "path relative to the campaign file, "
			              "without \"..\"",
			              file, i, src);
			goto out;
		}
		up = json_object_get(uploaded, src);
		if (!up) {
			path = mc_printf("%s/%s", dir, src);
			if (!path) {
				rc = ctl_fail(conn->what, "out of memory");
				goto out;
			}
			mime = mc_mime_of(src);
			fprintf(stderr, "[%zu/%zu] %s\n", k, n_assets, src);
			path_up = mc_printf(
			        "/v1/blobs?type=%s",
			        strcmp(type, "audio") == 0 ? "audio" : "image");
			rc = path_up ? ctl_upload(conn, "POST", path_up, path,
			                          mime ? mime
			                               : "application/"
			                                 "octet-stream",
			                          &got, NULL)
			             : ctl_fail(conn->what, "out of memory");
			free(path);
			free(path_up);
			if (rc != MC_CTL_OK) {
				fprintf(stderr,
				        "minecastctl: import campaign: "
				        "content[%zu] (%s) was not uploaded; "
				        "nothing was imported\n",
				        i, src);
				json_decref(got);
				goto out;
			}
			json_object_set_new(uploaded, src, got);
			up = got;
		}
		json_object_del(c, "src");
		json_object_set(c, "sha256", json_object_get(up, "sha256"));
		json_object_set(c, "size", json_object_get(up, "size"));
		if (json_is_string(json_object_get(up, "mime")))
			json_object_set(c, "mime", json_object_get(up, "mime"));
		/* What the controller measured, where the campaign is
		 * silent. */
		if (strcmp(type, "audio") == 0) {
			static const char *const measured[] = {"duration_ms",
			                                       "gain_db"};

			for (size_t m = 0; m < MC_ARRAY_LEN(measured); m++)
				if (!json_object_get(c, measured[m]) &&
				    json_object_get(up, measured[m]))
					json_object_set(
					        c, measured[m],
					        json_object_get(up,
					                        measured[m]));
		}
	}
	body = json_pack("{s:O,s:b}", "campaign", camp, "submit", submit);
	if (!body) {
		rc = ctl_fail(conn->what, "out of memory");
		goto out;
	}
	rc = ctl_call(conn, "POST", "/v1/import/campaign", body, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_import);
out:
	json_decref(doc);
	json_decref(body);
	json_decref(camp);
	json_decref(uploaded);
	free(dir_copy);
	return rc;
}

static void print_import_ics(json_t *doc)
{
	json_t *ids = json_object_get(doc, "ids");

	print_import(doc);
	printf("%zu entries from the calendar\n", json_array_size(ids));
}

static int import_ics(struct ctl_conn *conn, const char *file,
                      const char *playlist, const char *channel, bool submit)
{
	char *pl = playlist ? ctl_escape(playlist) : NULL;
	char *ch = channel ? ctl_escape(channel) : NULL;
	char *path =
	        mc_printf("/v1/import/ics?submit=%d%s%s%s%s", submit ? 1 : 0,
	                  pl ? "&playlist=" : "", pl ? pl : "",
	                  ch ? "&channel=" : "", ch ? ch : "");
	json_t *doc = NULL;
	int rc;

	if (!path)
		rc = ctl_fail(conn->what, "out of memory");
	else
		rc = ctl_upload(conn, "POST", path, file, "text/calendar", &doc,
		                NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_import_ics);
	json_decref(doc);
	free(path);
	free(pl);
	free(ch);
	return rc;
}

int mc_ctl_import(int argc, char **argv)
{
	struct ctl_conn conn;
	const char *file = NULL, *playlist = NULL, *channel = NULL;
	bool submit = false;
	int rc = ctl_conn_init(&conn, "import", &argc, argv);

	if (rc != MC_CTL_OK)
		goto out;
	for (int i = 1; i < argc; i++)
		if (ctl_is_help(argv[i])) {
			fputs(import_help, stdout);
			goto out;
		}
	if (argc < 3 ||
	    (strcmp(argv[1], "campaign") != 0 && strcmp(argv[1], "ics") != 0)) {
		rc = ctl_usage("import", "usage: import campaign|ics FILE");
		goto out;
	}
	conn.what =
	        strcmp(argv[1], "ics") == 0 ? "import ics" : "import campaign";
	for (int i = 2; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "--submit") == 0) {
			submit = true;
			continue;
		}
		if (strcmp(argv[1], "ics") == 0 &&
		    ((r = opt_value(conn.what, argc, argv, &i, "--playlist",
		                    &playlist)) ||
		     (r = opt_value(conn.what, argc, argv, &i, "--channel",
		                    &channel)))) {
			if (r < 0) {
				rc = MC_CTL_USAGE;
				goto out;
			}
			continue;
		}
		if ((argv[i][0] == '-' && argv[i][1]) || file) {
			rc = ctl_usage(conn.what, "unknown argument '%s'",
			               argv[i]);
			goto out;
		}
		file = argv[i];
	}
	if (!file) {
		rc = ctl_usage(conn.what, "FILE is required");
		goto out;
	}
	if (strcmp(argv[1], "ics") == 0)
		rc = import_ics(&conn, file, playlist, channel, submit);
	else
		rc = import_campaign(&conn, file, submit);
out:
	ctl_conn_free(&conn);
	return rc;
}

int mc_ctl_export(int argc, char **argv)
{
	struct ctl_conn conn;
	const char *out_file = "-";
	bool drafts = false;
	char *path = NULL;
	int64_t bytes = 0;
	int rc = ctl_conn_init(&conn, "export", &argc, argv);

	if (rc != MC_CTL_OK)
		goto out;
	for (int i = 1; i < argc; i++)
		if (ctl_is_help(argv[i])) {
			fputs(export_help, stdout);
			goto out;
		}
	if (argc < 2 ||
	    (strcmp(argv[1], "campaign") != 0 && strcmp(argv[1], "ics") != 0)) {
		rc = ctl_usage("export", "usage: export campaign|ics [--out "
		                         "FILE]");
		goto out;
	}
	for (int i = 2; i < argc; i++) {
		int r;

		if (strcmp(argv[i], "--drafts") == 0) {
			drafts = true;
			continue;
		}
		if ((r = opt_value("export", argc, argv, &i, "--out",
		                   &out_file))) {
			if (r < 0) {
				rc = MC_CTL_USAGE;
				goto out;
			}
			continue;
		}
		rc = ctl_usage("export", "unknown argument '%s'", argv[i]);
		goto out;
	}
	path = mc_printf("/v1/export/%s%s", argv[1], drafts ? "?drafts=1" : "");
	if (!path) {
		rc = ctl_fail("export", "out of memory");
		goto out;
	}
	rc = ctl_download(&conn, path, out_file, &bytes, NULL);
	if (rc == MC_CTL_OK && strcmp(out_file, "-") != 0)
		fprintf(stderr, "%s: %s export, %lld bytes\n", out_file,
		        argv[1], (long long)bytes);
out:
	free(path);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- preview --------------------------------------------------------- */

static const char preview_help[] =
        "Usage: minecastctl preview --node ID|--site ID --date YYYY-MM-DD "
        "[--drafts]\n"
        "\n"
        "What a node (or any node of a site) plays on one day, per "
        "channel, as\n"
        "the controller compiles its manifest and the players' own "
        "schedule\n"
        "engine runs it: each segment of the day with the entries that "
        "win it\n"
        "(layer/priority, id, name, mode) and their items with durations "
        "and\n"
        "texts, {years} and {date} resolved for that day.  --drafts shows "
        "the\n"
        "current revisions instead of the approved ones.\n"
        "\n" CTL_CONN_HELP;

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

static void print_preview(json_t *doc)
{
	json_t *chans = json_object_get(doc, "channels");
	static const char *const names[] = {"screen", "speaker"};

	if (json_is_string(json_object_get(doc, "node")))
		printf("Node: %s (site %s)\n", str(doc, "node"),
		       str(doc, "site"));
	else
		printf("Site: %s\n", str(doc, "site"));
	printf("Day: %s (%s), %s revisions\n", str(doc, "date"),
	       str(doc, "timezone"),
	       json_is_true(json_object_get(doc, "drafts")) ? "current"
	                                                    : "approved");
	for (size_t c = 0; c < MC_ARRAY_LEN(names); c++) {
		json_t *seg;
		size_t i;

		printf("\n[%s]\n", names[c]);
		json_array_foreach(json_object_get(chans, names[c]), i, seg)
		{
			const char *kind = str(seg, "kind");
			json_t *e, *it;
			size_t j;

			printf("  %s–%s  ", str(seg, "from"), str(seg, "to"));
			if (strcmp(kind, "scheduled") != 0) {
				const char *why =
				        strcmp(str(seg, "reason"), "clock") == 0
				                ? "clock not synchronised"
				                : "nothing scheduled";
				json_t *fb = json_array_get(
				        json_object_get(seg, "items"), 0);

				if (fb) {
					printf("fallback: %s (%s) — %s\n",
					       *str(fb, "name")
					               ? str(fb, "name")
					               : str(fb, "content"),
					       str(fb, "content"), why);
					if (*str(fb, "text")) {
						fputs("      ", stdout);
						ctl_put_oneline(
						        str(fb, "text"));
						putchar('\n');
					}
				} else {
					printf("idle — %s\n", why);
				}
				continue;
			}
			json_array_foreach(json_object_get(seg, "entries"), j,
			                   e)
			{
				json_t *f = json_object_get(e, "founded");

				printf("%s%s/%lld  %s%s%s%s  %s",
				       j ? "\n                     + " : "",
				       str(e, "layer"),
				       (long long)json_integer_value(
				               json_object_get(e, "priority")),
				       str(e, "id"),
				       *str(e, "name") ? " \"" : "",
				       str(e, "name"),
				       *str(e, "name") ? "\"" : "",
				       str(e, "mode"));
				if (json_is_integer(f))
					printf(", founded %lld",
					       (long long)json_integer_value(
					               f));
			}
			putchar('\n');
			json_array_foreach(json_object_get(seg, "items"), j, it)
			{
				char dur[32], lead[24];

				ctl_fmt_duration(
				        json_integer_value(json_object_get(
				                it, "duration_ms")),
				        dur, sizeof(dur));
				if (json_is_string(json_object_get(it, "at")))
					snprintf(lead, sizeof(lead), "%s",
					         str(it, "at"));
				else
					snprintf(lead, sizeof(lead), "%zu.",
					         j + 1);
				printf("      %s %s (%s, %s)", lead,
				       *str(it, "name") ? str(it, "name")
				                        : str(it, "content"),
				       str(it, "content"), dur);
				if (*str(it, "text")) {
					fputs(": ", stdout);
					ctl_put_oneline(str(it, "text"));
				}
				putchar('\n');
			}
		}
	}
}

int mc_ctl_preview(int argc, char **argv)
{
	struct ctl_conn conn;
	const char *node = NULL, *site = NULL, *date = NULL;
	bool drafts = false;
	char *path = NULL, *a = NULL, *d = NULL;
	json_t *doc = NULL;
	int rc = ctl_conn_init(&conn, "preview", &argc, argv);

	if (rc != MC_CTL_OK)
		goto out;
	for (int i = 1; i < argc; i++) {
		int r;

		if (ctl_is_help(argv[i])) {
			fputs(preview_help, stdout);
			goto out;
		}
		if (strcmp(argv[i], "--drafts") == 0) {
			drafts = true;
			continue;
		}
		if ((r = opt_value("preview", argc, argv, &i, "--node",
		                   &node)) ||
		    (r = opt_value("preview", argc, argv, &i, "--site",
		                   &site)) ||
		    (r = opt_value("preview", argc, argv, &i, "--date",
		                   &date))) {
			if (r < 0) {
				rc = MC_CTL_USAGE;
				goto out;
			}
			continue;
		}
		rc = ctl_usage("preview", "unknown argument '%s'", argv[i]);
		goto out;
	}
	if ((!node == !site) || !date) {
		rc = ctl_usage("preview", "give --node ID or --site ID, and "
		                          "--date YYYY-MM-DD");
		goto out;
	}
	a = ctl_escape(node ? node : site);
	d = ctl_escape(date);
	path = a && d ? mc_printf("/v1/preview?%s=%s&date=%s%s",
	                          node ? "node" : "site", a, d,
	                          drafts ? "&drafts=1" : "")
	              : NULL;
	if (!path) {
		rc = ctl_fail("preview", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_preview);
out:
	json_decref(doc);
	free(path);
	free(a);
	free(d);
	ctl_conn_free(&conn);
	return rc;
}
