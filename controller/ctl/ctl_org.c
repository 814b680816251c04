/*
 * minecastctl group, company, site, node — the organisation over the
 * controller's API (docs/api.md), and provisioning: `node add`
 * registers a node and writes its player's config bundle (player.conf
 * with its broker password, trusted.pub) into a directory; `node
 * provision` makes a new password and bundle.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

#define HELP_OPT "  -h, --help     show this text\n"

/* ---- the three upper levels ---------------------------------------- */

/* What differs between group, company and site. */
struct kind {
	const char *name;       /* "group": the subcommand family */
	const char *path;       /* "/v1/groups" */
	const char *what;       /* "a group of companies" (help) */
	const char *parent;     /* "group": --group, JSON key; NULL = none */
	const char *child_head; /* ">COMPANIES": the count column's header */
	const char *child_key;  /* "companies": its JSON key */
	bool timezone;          /* sites: --timezone, TIMEZONE column */
};

static const struct kind kinds[] = {
        {"group", "/v1/groups", "groups (tập đoàn) of companies", NULL,
         ">COMPANIES", "companies", false},
        {"company", "/v1/companies", "companies (công ty), each in a group",
         "group", ">SITES", "sites", false},
        {"site", "/v1/sites", "sites (công trường), each of a company",
         "company", ">NODES", "nodes", true},
};

static void kind_help(const struct kind *k, FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl %s COMMAND [OPTIONS]\n"
	        "\n"
	        "Manage %s.\n"
	        "The organisation is group → company → site → node; "
	        "schedule\n"
	        "entries and alerts may target any level.\n"
	        "\n"
	        "Commands:\n"
	        "  add ID [--name TEXT]%s%s\n"
	        "  list%s\n"
	        "  show ID\n"
	        "  edit ID [--name TEXT]%s%s%s\n"
	        "  rm ID          (refused while it still holds %s)\n"
	        "\n"
	        "ID: 1 to 64 of A-Z a-z 0-9 . _ -; TEXT: the name people read "
	        "(Vietnamese).\n"
	        "Writing needs the technician or admin role.\n"
	        "\n"
	        "Options:\n" HELP_OPT "\n" CTL_CONN_HELP,
	        k->name, k->what,
	        k->parent
	                ? (strcmp(k->parent, "group") == 0 ? " [--group ID]"
	                                                   : " [--company ID]")
	                : "",
	        k->timezone ? " [--timezone TZ]" : "",
	        k->parent ? (strcmp(k->parent, "group") == 0
	                             ? " [--group ID]"
	                             : " [--company ID] [--group ID]")
	                  : "",
	        k->parent ? (strcmp(k->parent, "group") == 0
	                             ? " [--group ID|--no-group]"
	                             : " [--company ID|--no-company]")
	                  : "",
	        k->timezone ? " [--timezone TZ]" : "", "", k->child_key);
}

static void print_kind_table(const struct kind *k, json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *it;
	struct ctl_table *t;
	size_t i;

	if (k->timezone)
		t = ctl_table_new(6, "ID", "NAME", "COMPANY", "GROUP",
		                  "TIMEZONE", k->child_head);
	else if (k->parent)
		t = ctl_table_new(4, "ID", "NAME", "GROUP", k->child_head);
	else
		t = ctl_table_new(3, "ID", "NAME", k->child_head);
	json_array_foreach(items, i, it)
	{
		char a[128], b[512], c[128], d[128], e[128], f[32];

		ctl_cell(it, "id", a, sizeof(a));
		ctl_cell(it, "name", b, sizeof(b));
		ctl_cell(it, k->child_key, f, sizeof(f));
		if (k->timezone)
			ctl_table_row(
			        t, a, b, ctl_cell(it, "company", c, sizeof(c)),
			        ctl_cell(it, "group", d, sizeof(d)),
			        ctl_cell(it, "timezone", e, sizeof(e)), f);
		else if (k->parent)
			ctl_table_row(t, a, b,
			              ctl_cell(it, "group", c, sizeof(c)), f);
		else
			ctl_table_row(t, a, b, f);
	}
	if (ctl_table_rows(t) == 0)
		printf("(none)\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void print_groups(json_t *doc)
{
	print_kind_table(&kinds[0], doc);
}
static void print_companies(json_t *doc)
{
	print_kind_table(&kinds[1], doc);
}
static void print_sites(json_t *doc)
{
	print_kind_table(&kinds[2], doc);
}

/* One object as "key: value" lines, in the order of keys. */
static void print_fields(json_t *obj, const char *const *keys)
{
	for (size_t i = 0; keys[i]; i++) {
		char buf[1024];
		json_t *v = json_object_get(obj, keys[i]);

		if (!v)
			continue;
		if (json_is_integer(v) && strstr(keys[i], "_ms"))
			ctl_fmt_time(json_integer_value(v), buf, sizeof(buf));
		else
			ctl_cell(obj, keys[i], buf, sizeof(buf));
		printf("%-15s %s\n", keys[i], buf);
	}
}

static void print_object(json_t *doc)
{
	static const char *const keys[] = {
	        "id",    "name",     "site",           "company",
	        "group", "timezone", "tags",           "companies",
	        "sites", "nodes",    "provisioned_ms", "created_ms",
	        NULL};

	print_fields(doc, keys);
}

/* Options of add/edit/list of the upper levels. */
enum {
	OPT_NAME = 256,
	OPT_GROUP,
	OPT_COMPANY,
	OPT_NO_PARENT,
	OPT_TIMEZONE,
	OPT_SITE,
	OPT_TAGS,
	OPT_TAG,
	OPT_OUT,
	OPT_CACHE_DIR,
	OPT_STATE_DIR,
	OPT_SCREEN_OUTPUT,
	OPT_SPEAKER_OUTPUT,
	OPT_NO_SCREEN,
	OPT_NO_SPEAKER,
	OPT_NO_PROVISION,
	OPT_LIMIT,
};

static int kind_run(const struct kind *k, struct ctl_conn *conn,
                    const char *sub, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"group", required_argument, NULL, OPT_GROUP},
	        {"company", required_argument, NULL, OPT_COMPANY},
	        {"no-group", no_argument, NULL, OPT_NO_PARENT},
	        {"no-company", no_argument, NULL, OPT_NO_PARENT},
	        {"timezone", required_argument, NULL, OPT_TIMEZONE},
	        {NULL, 0, NULL, 0}};
	const char *name = NULL, *group = NULL, *company = NULL, *tz = NULL;
	bool no_parent = false, add = false, edit = false, list = false;
	bool show = false, rm = false;
	json_t *body = NULL, *doc = NULL;
	char *path = NULL;
	const char *id = NULL;
	char label[32];
	int c, rc = MC_CTL_OK;

	if (strcmp(sub, "add") == 0)
		add = true;
	else if (strcmp(sub, "edit") == 0)
		edit = true;
	else if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		list = true;
	else if (strcmp(sub, "show") == 0)
		show = true;
	else if (strcmp(sub, "rm") == 0 || strcmp(sub, "delete") == 0)
		rm = true;
	else {
		fprintf(stderr, "minecastctl: %s: unknown command '%s'\n\n",
		        k->name, sub);
		kind_help(k, stderr);
		return MC_CTL_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': kind_help(k, stdout); return MC_CTL_OK;
		case OPT_NAME: name = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_COMPANY: company = optarg; break;
		case OPT_NO_PARENT: no_parent = true; break;
		case OPT_TIMEZONE: tz = optarg; break;
		default: return ctl_bad_option(conn->what, argv, c);
		}
	}
	/* Which options make sense where. */
	if ((name || no_parent || tz) && !(add || edit))
		return ctl_usage(conn->what,
		                 "--name, --timezone and --no-%s "
		                 "are for add and edit",
		                 k->parent ? k->parent : "group");
	if (group && !(k->parent && (strcmp(k->parent, "group") == 0 ||
	                             (list && k->timezone))))
		return ctl_usage(conn->what, "--group does not apply here");
	if (company && !(k->parent && strcmp(k->parent, "company") == 0))
		return ctl_usage(conn->what, "--company does not apply here");
	if (no_parent && (!k->parent || !edit))
		return ctl_usage(conn->what, "--no-%s is for edit",
		                 k->parent ? k->parent : "group");
	if (tz && !k->timezone)
		return ctl_usage(conn->what, "--timezone is for sites");
	snprintf(label, sizeof(label), "%s's ID", k->name);
	rc = list ? ctl_no_arg(conn->what, argc, argv)
	          : ctl_one_arg(conn->what, argc, argv, label, &id);
	if (rc != MC_CTL_OK)
		return rc;

	if (list) {
		path = strdup(k->path);
		if (!path || !ctl_add_query(&path, "group", group) ||
		    !ctl_add_query(&path, "company", company))
			goto nomem;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc,
			               k == &kinds[0]   ? print_groups
			               : k == &kinds[1] ? print_companies
			                                : print_sites);
		goto out;
	}
	path = add ? strdup(k->path) : ctl_id_path(k->path, id, NULL);
	if (!path)
		goto nomem;
	if (show) {
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_object);
		goto out;
	}
	if (rm) {
		rc = ctl_call(conn, "DELETE", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK) {
			if (conn->json)
				ctl_print_json(doc);
			else
				printf("%s %s deleted\n", k->name, id);
		}
		goto out;
	}
	body = json_object();
	if (!body)
		goto nomem;
	if (add)
		json_object_set_new(body, "id", json_string(id));
	if (name)
		json_object_set_new(body, "name", json_string(name));
	if (k->parent) {
		const char *p =
		        strcmp(k->parent, "group") == 0 ? group : company;

		if (p)
			json_object_set_new(body, k->parent, json_string(p));
		else if (no_parent)
			json_object_set_new(body, k->parent, json_null());
	}
	if (tz)
		json_object_set_new(body, "timezone", json_string(tz));
	if (edit && json_object_size(body) == 0) {
		rc = ctl_usage(conn->what, "nothing to change: give --name%s%s",
		               k->parent
		                       ? (strcmp(k->parent, "group") == 0
		                                  ? ", --group, --no-group"
		                                  : ", --company, --no-company")
		                       : "",
		               k->timezone ? ", --timezone" : "");
		goto out;
	}
	rc = ctl_call(conn, add ? "POST" : "PATCH", path, body, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_object);
	goto out;
nomem:
	rc = ctl_fail(conn->what, "out of memory");
out:
	json_decref(body);
	json_decref(doc);
	free(path);
	return rc;
}

static void group_help(FILE *out)
{
	kind_help(&kinds[0], out);
}
static void company_help(FILE *out)
{
	kind_help(&kinds[1], out);
}
static void site_help(FILE *out)
{
	kind_help(&kinds[2], out);
}
static int group_pick(struct ctl_conn *conn, const char *sub, int argc,
                      char **argv)
{
	return kind_run(&kinds[0], conn, sub, argc, argv);
}
static int company_pick(struct ctl_conn *conn, const char *sub, int argc,
                        char **argv)
{
	return kind_run(&kinds[1], conn, sub, argc, argv);
}
static int site_pick(struct ctl_conn *conn, const char *sub, int argc,
                     char **argv)
{
	return kind_run(&kinds[2], conn, sub, argc, argv);
}

int mc_ctl_group(int argc, char **argv)
{
	return ctl_family("group", argc, argv, group_help, group_pick);
}

int mc_ctl_company(int argc, char **argv)
{
	return ctl_family("company", argc, argv, company_help, company_pick);
}

int mc_ctl_site(int argc, char **argv)
{
	return ctl_family("site", argc, argv, site_help, site_pick);
}

/* ---- nodes ---------------------------------------------------------- */

static void node_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl node COMMAND [OPTIONS]\n"
	        "\n"
	        "Register, list and provision nodes (a screen, a loudspeaker "
	        "or both on\n"
	        "one board).  A node's ID is also its MQTT user name and "
	        "client id.\n"
	        "\n"
	        "Commands:\n"
	        "  add ID --site SITE [--name TEXT] [--tags A,B] [--out DIR] "
	        "[BUNDLE]\n"
	        "        register the node and provision it: its broker "
	        "password is made,\n"
	        "        and its config bundle written to DIR (default "
	        "./ID/):\n"
	        "        player.conf (mode 0600: it holds the password) and "
	        "trusted.pub.\n"
	        "        --no-provision registers only.\n"
	        "  provision ID [--out DIR] [BUNDLE]\n"
	        "        a new password (the old one stops working) and a "
	        "new bundle\n"
	        "  list [--site SITE] [--tag TAG] [--company ID] [--group "
	        "ID]\n"
	        "  show ID\n"
	        "  edit ID [--name TEXT] [--site SITE] [--tags A,B]\n"
	        "        --tags replaces every tag (--tags '' clears them); a "
	        "node moved\n"
	        "        or retagged needs its player.conf updated too "
	        "(node provision)\n"
	        "  rm ID  delete the node and its broker login\n"
	        "  status ID  its status, flags, versions and last health\n"
	        "\n"
	        "BUNDLE options (what player.conf says; default: both "
	        "channels, the\n"
	        "player's default outputs and directories):\n"
	        "  --cache-dir DIR --state-dir DIR\n"
	        "  --screen-output NAME --speaker-output NAME   (sdl, "
	        "gstreamer, vlc, log)\n"
	        "  --no-screen | --no-speaker\n"
	        "\n"
	        "Writing needs the technician or admin role.\n"
	        "\n"
	        "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void print_nodes(json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *it;
	struct ctl_table *t;
	size_t i;

	t = ctl_table_new(6, "ID", "NAME", "SITE", "COMPANY", "TAGS",
	                  "PROVISIONED");
	json_array_foreach(items, i, it)
	{
		char a[128], b[512], c[128], d[128], e[2048], f[64];
		json_t *p = json_object_get(it, "provisioned_ms");

		if (json_is_integer(p))
			ctl_fmt_time(json_integer_value(p), f, sizeof(f));
		else
			snprintf(f, sizeof(f), "no");
		ctl_table_row(t, ctl_cell(it, "id", a, sizeof(a)),
		              ctl_cell(it, "name", b, sizeof(b)),
		              ctl_cell(it, "site", c, sizeof(c)),
		              ctl_cell(it, "company", d, sizeof(d)),
		              ctl_cell(it, "tags", e, sizeof(e)), f);
	}
	if (ctl_table_rows(t) == 0)
		printf("(no nodes)\n");
	else
		ctl_table_print(t, stdout);
	ctl_table_free(t);
}

/* "a, b,c" → ["a","b","c"] (blanks trimmed, empty parts skipped). */
static json_t *tags_array(const char *list)
{
	json_t *a = json_array();
	char *copy = strdup(list), *save = NULL, *tok;

	if (!a || !copy) {
		json_decref(a);
		free(copy);
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		char *end;

		while (*tok == ' ' || *tok == '\t')
			tok++;
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*tok)
			json_array_append_new(a, json_string(tok));
	}
	free(copy);
	return a;
}

/* mkdir -p dir (mode 0755 for what it creates). */
static int make_dirs(const char *dir)
{
	char *p = strdup(dir);
	int rc = 0;

	if (!p)
		return -1;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST)
			rc = -1;
		*s = '/';
		if (rc)
			break;
	}
	if (rc == 0 && mkdir(p, 0755) != 0 && errno != EEXIST)
		rc = -1;
	free(p);
	return rc;
}

/* Write text to dir/name with mode, atomically (temp file, rename). */
static int write_bundle_file(const char *what, const char *dir,
                             const char *name, const char *text, mode_t mode)
{
	char *path = mc_printf("%s/%s", dir, name);
	char *tmp = mc_printf("%s/.%s.tmp", dir, name);
	size_t len = strlen(text), done = 0;
	int fd = -1, rc = MC_CTL_FAIL;

	if (!path || !tmp)
		goto out;
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		ctl_fail(what, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			ctl_fail(what, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		done += (size_t)w;
	}
	/* The umask may have narrowed it; the mode is what we say. */
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		ctl_fail(what, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0) {
		ctl_fail(what, "%s: %s", path, strerror(errno));
		goto out;
	}
	rc = MC_CTL_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != MC_CTL_OK && tmp)
		unlink(tmp);
	free(path);
	free(tmp);
	return rc;
}

/* Write every file of a provision answer into dir. */
static int write_bundle(const char *what, const char *dir, json_t *answer)
{
	json_t *files = json_object_get(answer, "files"), *v;
	const char *name;

	if (!json_is_object(files) ||
	    !json_is_string(json_object_get(files, "player.conf")))
		return ctl_fail(what, "the controller's answer holds no "
		                      "player.conf");
	if (make_dirs(dir) != 0)
		return ctl_fail(what, "%s: %s", dir, strerror(errno));
	json_object_foreach(files, name, v)
	{
		bool secret = strcmp(name, "player.conf") == 0;
		int rc;

		if (!json_is_string(v) || !*name || strchr(name, '/') ||
		    name[0] == '.')
			return ctl_fail(what,
			                "the controller's answer names a "
			                "bad file '%s'",
			                name);
		rc = write_bundle_file(what, dir, name, json_string_value(v),
		                       secret ? 0600 : 0644);
		if (rc != MC_CTL_OK)
			return rc;
	}
	return MC_CTL_OK;
}

/* The bundle options of add and provision. */
struct bundle_args {
	const char *out;
	const char *cache_dir, *state_dir;
	const char *screen_output, *speaker_output;
	bool no_screen, no_speaker;
};

static json_t *bundle_body(const struct bundle_args *b)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	if (b->cache_dir)
		json_object_set_new(o, "cache_dir", json_string(b->cache_dir));
	if (b->state_dir)
		json_object_set_new(o, "state_dir", json_string(b->state_dir));
	if (b->screen_output)
		json_object_set_new(o, "screen_output",
		                    json_string(b->screen_output));
	if (b->speaker_output)
		json_object_set_new(o, "speaker_output",
		                    json_string(b->speaker_output));
	if (b->no_screen)
		json_object_set_new(o, "screen", json_false());
	if (b->no_speaker)
		json_object_set_new(o, "speaker", json_false());
	return o;
}

/*
 * POST /v1/nodes/ID/provision and write the bundle.  *answer (may be
 * NULL) gets the answer without its files (they hold the password).
 */
static int provision_to(struct ctl_conn *conn, const char *id,
                        const struct bundle_args *b, json_t **answer)
{
	char *path = ctl_id_path("/v1/nodes", id, "/provision");
	char *dir = NULL;
	json_t *body = bundle_body(b), *doc = NULL;
	int rc;

	if (answer)
		*answer = NULL;
	if (!path || !body) {
		rc = ctl_fail(conn->what, "out of memory");
		goto out;
	}
	dir = b->out ? strdup(b->out) : mc_printf("./%s", id);
	if (!dir) {
		rc = ctl_fail(conn->what, "out of memory");
		goto out;
	}
	rc = ctl_call(conn, "POST", path, body, &doc, NULL);
	if (rc != MC_CTL_OK)
		goto out;
	rc = write_bundle(conn->what, dir, doc);
	if (rc != MC_CTL_OK)
		goto out;
	json_object_set_new(
	        doc, "ca",
	        json_boolean(json_object_get(json_object_get(doc, "files"),
	                                     "ca.pem") != NULL));
	json_object_del(doc, "files");
	json_object_set_new(doc, "dir", json_string(dir));
	if (answer) {
		*answer = doc;
		doc = NULL;
	}
out:
	if (doc) {
		json_object_clear(doc);
		json_decref(doc);
	}
	json_decref(body);
	free(path);
	free(dir);
	return rc;
}

static void say_bundle(json_t *answer)
{
	json_t *broker = json_object_get(answer, "broker");
	const char *reload =
	        json_string_value(json_object_get(broker, "reload"));

	bool ca = json_is_true(json_object_get(answer, "ca"));

	printf("bundle written to %s/: player.conf (0600, holds the broker "
	       "password), trusted.pub%s\n",
	       json_string_value(json_object_get(answer, "dir")),
	       ca ? ", ca.pem (the CA of the broker's TLS certificate)" : "");
	if (json_is_true(json_object_get(answer, "rotated")))
		printf("the node's previous password no longer works%s\n",
		       reload && strcmp(reload, "ok") == 0
		               ? ""
		               : " once the broker rereads its files");
	if (reload && strcmp(reload, "failed") == 0)
		printf("warning: the broker reload command failed; see the "
		       "controller's log\n");
	printf("install: copy %s to /etc/minecast/ on the node, then\n"
	       "  minecast-player --check-config /etc/minecast/player.conf\n",
	       ca ? "the three files" : "both files");
}

static int node_run(struct ctl_conn *conn, const char *sub, int argc,
                    char **argv)
{
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"name", required_argument, NULL, OPT_NAME},
	        {"site", required_argument, NULL, OPT_SITE},
	        {"tags", required_argument, NULL, OPT_TAGS},
	        {"tag", required_argument, NULL, OPT_TAG},
	        {"company", required_argument, NULL, OPT_COMPANY},
	        {"group", required_argument, NULL, OPT_GROUP},
	        {"out", required_argument, NULL, OPT_OUT},
	        {"cache-dir", required_argument, NULL, OPT_CACHE_DIR},
	        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
	        {"screen-output", required_argument, NULL, OPT_SCREEN_OUTPUT},
	        {"speaker-output", required_argument, NULL, OPT_SPEAKER_OUTPUT},
	        {"no-screen", no_argument, NULL, OPT_NO_SCREEN},
	        {"no-speaker", no_argument, NULL, OPT_NO_SPEAKER},
	        {"no-provision", no_argument, NULL, OPT_NO_PROVISION},
	        {NULL, 0, NULL, 0}};
	const char *name = NULL, *site = NULL, *tags = NULL, *tag = NULL;
	const char *company = NULL, *group = NULL, *id = NULL;
	struct bundle_args b = {0};
	bool add = false, edit = false, list = false, show = false, rm = false,
	     prov = false, no_prov = false, bundle_opt = false;
	json_t *body = NULL, *doc = NULL, *answer = NULL;
	char *path = NULL;
	int c, rc = MC_CTL_OK;

	if (strcmp(sub, "status") == 0) /* ctl_fleet.c */
		return mc_ctl_node_status_run(conn, argc, argv);
	if (strcmp(sub, "add") == 0)
		add = true;
	else if (strcmp(sub, "edit") == 0)
		edit = true;
	else if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		list = true;
	else if (strcmp(sub, "show") == 0)
		show = true;
	else if (strcmp(sub, "rm") == 0 || strcmp(sub, "delete") == 0)
		rm = true;
	else if (strcmp(sub, "provision") == 0)
		prov = true;
	else {
		fprintf(stderr, "minecastctl: node: unknown command '%s'\n\n",
		        sub);
		node_help(stderr);
		return MC_CTL_USAGE;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': node_help(stdout); return MC_CTL_OK;
		case OPT_NAME: name = optarg; break;
		case OPT_SITE: site = optarg; break;
		case OPT_TAGS: tags = optarg; break;
		case OPT_TAG: tag = optarg; break;
		case OPT_COMPANY: company = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_OUT: b.out = optarg, bundle_opt = true; break;
		case OPT_CACHE_DIR:
			b.cache_dir = optarg, bundle_opt = true;
			break;
		case OPT_STATE_DIR:
			b.state_dir = optarg, bundle_opt = true;
			break;
		case OPT_SCREEN_OUTPUT:
			b.screen_output = optarg, bundle_opt = true;
			break;
		case OPT_SPEAKER_OUTPUT:
			b.speaker_output = optarg, bundle_opt = true;
			break;
		case OPT_NO_SCREEN:
			b.no_screen = true, bundle_opt = true;
			break;
		case OPT_NO_SPEAKER:
			b.no_speaker = true, bundle_opt = true;
			break;
		case OPT_NO_PROVISION: no_prov = true; break;
		default: return ctl_bad_option(conn->what, argv, c);
		}
	}
	if ((name || tags) && !(add || edit))
		return ctl_usage(conn->what,
		                 "--name and --tags are for add and "
		                 "edit");
	if (site && !(add || edit || list))
		return ctl_usage(conn->what,
		                 "--site is for add, edit and list");
	if ((tag || company || group) && !list)
		return ctl_usage(conn->what, "--tag, --company and --group are "
		                             "for list");
	if (bundle_opt && !(add || prov))
		return ctl_usage(conn->what, "bundle options are for add and "
		                             "provision");
	if (no_prov && (!add || bundle_opt))
		return ctl_usage(conn->what, "--no-provision is for add, "
		                             "without bundle options");
	if (b.no_screen && b.no_speaker)
		return ctl_usage(conn->what, "a node drives a screen, a "
		                             "loudspeaker or both");
	if (add && !site)
		return ctl_usage(conn->what, "--site is required");
	rc = list ? ctl_no_arg(conn->what, argc, argv)
	          : ctl_one_arg(conn->what, argc, argv, "node's ID", &id);
	if (rc != MC_CTL_OK)
		return rc;
	/* ./. or ./.. is not a bundle directory. */
	if ((add || prov) && !no_prov && !b.out &&
	    (strcmp(id, ".") == 0 || strcmp(id, "..") == 0))
		return ctl_usage(conn->what,
		                 "give --out DIR for a node named "
		                 "'%s'",
		                 id);

	if (list) {
		path = strdup("/v1/nodes");
		if (!path || !ctl_add_query(&path, "site", site) ||
		    !ctl_add_query(&path, "tag", tag) ||
		    !ctl_add_query(&path, "company", company) ||
		    !ctl_add_query(&path, "group", group))
			goto nomem;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_nodes);
		goto out;
	}
	if (prov) {
		rc = provision_to(conn, id, &b, &answer);
		if (rc != MC_CTL_OK)
			goto out;
		if (conn->json) {
			ctl_print_json(answer);
		} else {
			printf("node %s provisioned\n", id);
			say_bundle(answer);
		}
		goto out;
	}
	path = add ? strdup("/v1/nodes") : ctl_id_path("/v1/nodes", id, NULL);
	if (!path)
		goto nomem;
	if (show) {
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(conn, doc, print_object);
		goto out;
	}
	if (rm) {
		rc = ctl_call(conn, "DELETE", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK) {
			if (conn->json)
				ctl_print_json(doc);
			else
				printf("node %s deleted (its broker login "
				       "too)\n",
				       id);
		}
		goto out;
	}
	body = json_object();
	if (!body)
		goto nomem;
	if (add)
		json_object_set_new(body, "id", json_string(id));
	if (name)
		json_object_set_new(body, "name", json_string(name));
	if (site)
		json_object_set_new(body, "site", json_string(site));
	if (tags) {
		json_t *a = tags_array(tags);

		if (!a)
			goto nomem;
		json_object_set_new(body, "tags", a);
	}
	if (edit && json_object_size(body) == 0) {
		rc = ctl_usage(conn->what, "nothing to change: give --name, "
		                           "--site or --tags");
		goto out;
	}
	rc = ctl_call(conn, add ? "POST" : "PATCH", path, body, &doc, NULL);
	if (rc != MC_CTL_OK)
		goto out;
	if (add && !no_prov) {
		rc = provision_to(conn, id, &b, &answer);
		if (rc != MC_CTL_OK) {
			fprintf(stderr,
			        "minecastctl: %s: node %s is registered but "
			        "not "
			        "provisioned; run 'minecastctl node provision "
			        "%s'\n",
			        conn->what, id, id);
			goto out;
		}
	}
	if (conn->json) {
		if (answer) {
			json_t *both = json_pack("{s:O, s:O}", "node", doc,
			                         "provision", answer);

			ctl_print_json(both);
			json_decref(both);
		} else {
			ctl_print_json(doc);
		}
		goto out;
	}
	print_object(doc);
	if (answer) {
		printf("\n");
		say_bundle(answer);
	}
	goto out;
nomem:
	rc = ctl_fail(conn->what, "out of memory");
out:
	json_decref(body);
	json_decref(doc);
	json_decref(answer);
	free(path);
	return rc;
}

int mc_ctl_node(int argc, char **argv)
{
	return ctl_family("node", argc, argv, node_help, node_run);
}
