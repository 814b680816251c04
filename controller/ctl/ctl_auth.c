/*
 * minecastctl login, logout, whoami, user, token, backup — people and
 * credentials over the controller's API (docs/api.md), and
 * the database backup, online through the API or offline from the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

/* Longest password read (the server caps it too). */
#define PASSWORD_MAX 1024

/* Pages copied per step of an offline backup (4 KiB pages: 1 MiB). */
#define BACKUP_PAGES 256

/* Pause when the live database is busy during an offline backup. */
#define BACKUP_BUSY_MS 50

/* Give up an offline backup after this many busy pauses in a row. */
#define BACKUP_BUSY_TRIES 200

/* Options every subcommand here takes besides its own. */
#define HELP_OPT "  -h, --help     show this text\n"

/* ---- helpers ----------------------------------------------------------- */

/*
 * The usual start: connection options out of argv, then the caller's
 * getopt loop.  Returns MC_CTL_OK or a usage code.
 */
static int start(struct ctl_conn *conn, const char *what, int *argc,
                 char **argv)
{
	int rc = ctl_conn_init(conn, what, argc, argv);

	opterr = 0;
	optind = 1;
	return rc;
}

/* "editor,approver" from a roles member (array of names, or a string). */
static const char *roles_text(const json_t *user, char *buf, size_t len)
{
	return ctl_cell(user, "roles", buf, len);
}

/* The user object of an answer that may wrap it ({"user": {...}}). */
static json_t *user_of(json_t *doc)
{
	json_t *u = json_object_get(doc, "user");

	return json_is_object(u) ? u : doc;
}

/* Is s a positive decimal id? */
static bool is_id(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "NAME@HOST": the default name of a token made by login. */
static char *token_label(const char *user)
{
	char host[256];

	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	return mc_printf("minecastctl %s@%s", user, host);
}

/* mkdir -p of the token file's directory, mode 0700. */
static int make_parent(const char *what, const char *path)
{
	char *dir = strdup(path);
	int rc = MC_CTL_OK;

	if (!dir)
		return ctl_fail(what, "out of memory");
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			rc = ctl_fail(what, "%s: %s", dir, strerror(errno));
			break;
		}
		*p = '/';
	}
	free(dir);
	return rc;
}

/* ---- login, logout, whoami --------------------------------------------- */

static void login_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl login USER [--password-stdin] [--name "
	        "LABEL]\n"
	        "\n"
	        "Log in to the controller as USER: asks for the password "
	        "(without\n"
	        "echo), creates an API token for this machine and stores it "
	        "in\n"
	        "~/.config/minecast/token (mode 0600), which later commands "
	        "use when\n"
	        "neither --token nor $MINECAST_TOKEN is given.\n"
	        "\n"
	        "Options:\n"
	        "  --password-stdin  read the password from the first line of "
	        "stdin\n"
	        "  --name LABEL      the token's name in 'token list' "
	        "(default\n"
	        "                    \"minecastctl USER@HOST\")\n" HELP_OPT
	        "\n" CTL_CONN_HELP);
}

int mc_ctl_login(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"password-stdin", no_argument, NULL, 'p'},
	        {"name", required_argument, NULL, 'n'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	char password[PASSWORD_MAX + 2];
	const char *user = NULL, *label_opt = NULL;
	char *label = NULL, *path = NULL, *text = NULL;
	json_t *me = NULL, *tok = NULL, *body = NULL;
	bool from_stdin = false;
	char roles[256];
	int c, rc;

	memset(password, 0, sizeof(password));
	rc = start(&conn, "login", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': from_stdin = true; break;
		case 'n': label_opt = optarg; break;
		case 'h': login_help(stdout); goto out;
		default: rc = ctl_bad_option("login", argv, c); goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = ctl_usage("login", optind < argc ? "give exactly one USER"
		                                      : "USER is required");
		goto out;
	}
	user = argv[optind];
	path = ctl_token_path();
	if (!path) {
		rc = ctl_fail("login", "HOME is not set: nowhere to keep "
		                       "the token");
		goto out;
	}
	rc = ctl_read_password("login", "Password: ", from_stdin, password,
	                       sizeof(password));
	if (rc != MC_CTL_OK)
		goto out;
	rc = ctl_login_session(&conn, user, password, &me);
	memset(password, 0, sizeof(password));
	if (rc != MC_CTL_OK)
		goto out;
	label = label_opt ? strdup(label_opt) : token_label(user);
	body = label ? json_pack("{s:s}", "name", label) : NULL;
	if (!body) {
		rc = ctl_fail("login", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "POST", "/v1/tokens", body, &tok, NULL);
	if (rc != MC_CTL_OK)
		goto out;
	if (!json_is_string(json_object_get(tok, "token"))) {
		rc = ctl_fail("login", "the controller's answer has no token");
		goto out;
	}
	/* The browser-style session is not needed any more. */
	ctl_call_ex(&conn, "POST", "/v1/auth/logout", NULL, NULL, NULL,
	            CTL_QUIET);
	text = mc_printf("%s\n",
	                 json_string_value(json_object_get(tok, "token")));
	if (!text) {
		rc = ctl_fail("login", "out of memory");
		goto out;
	}
	rc = make_parent("login", path);
	if (rc == MC_CTL_OK) {
		struct mc_error err;

		mc_error_clear(&err);
		if (mc_write_file_atomic(path, text, strlen(text), 0600,
		                         &err) != MC_OK)
			rc = ctl_fail("login", "%s", err.msg);
	}
	memset(text, 0, strlen(text));
	if (rc != MC_CTL_OK)
		goto out;
	printf("Logged in to %s as %s (%s); token saved in %s\n", conn.url,
	       user, roles_text(user_of(me), roles, sizeof(roles)), path);
out:
	json_decref(me);
	json_decref(tok);
	json_decref(body);
	free(text);
	free(label);
	free(path);
	ctl_conn_free(&conn);
	return rc;
}

static void logout_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl logout\n"
	             "\n"
	             "Revoke the API token in use on the controller, and "
	             "remove it from\n"
	             "~/.config/minecast/token when it came from there.\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

/* The token file's first line, or NULL. */
static char *token_in_file(const char *path)
{
	char *data = NULL, *nl;
	size_t len;
	struct mc_error err;

	if (!path || mc_read_file(path, 4096, &data, &len, &err) != MC_OK)
		return NULL;
	nl = strpbrk(data, "\r\n");
	if (nl)
		*nl = '\0';
	return data;
}

int mc_ctl_logout(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	json_t *list = NULL, *t;
	char *path = NULL, *in_file = NULL, *p = NULL;
	json_int_t id = 0;
	size_t i;
	long st = 0;
	int c, rc;

	rc = start(&conn, "logout", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			logout_help(stdout);
			goto out;
		}
		rc = ctl_bad_option("logout", argv, c);
		goto out;
	}
	if (optind < argc) {
		rc = ctl_usage("logout", "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	path = ctl_token_path();
	in_file = token_in_file(path);
	if (!conn.token) {
		rc = ctl_fail("logout", "not logged in (no token)");
		goto out;
	}
	/* Find the token's id by its prefix, then revoke it. */
	rc = ctl_call_ex(&conn, "GET", "/v1/tokens", NULL, &list, &st,
	                 CTL_QUIET);
	if (rc == MC_CTL_OK) {
		json_array_foreach(json_object_get(list, "items"), i, t)
		{
			const char *pre =
			        json_string_value(json_object_get(t, "prefix"));

			if (pre && strlen(pre) >= 8 &&
			    strncmp(conn.token, pre, strlen(pre)) == 0)
				id = json_integer_value(
				        json_object_get(t, "id"));
		}
		if (id > 0) {
			p = mc_printf("/v1/tokens/%" JSON_INTEGER_FORMAT, id);
			rc = p ? ctl_call(&conn, "DELETE", p, NULL, NULL, NULL)
			       : ctl_fail("logout", "out of memory");
		} else {
			rc = ctl_fail("logout", "the token in use is not in "
			                        "the controller's list");
		}
	} else if (st == 401) {
		/* Already revoked or expired: only the file is left. */
		rc = MC_CTL_OK;
	} else {
		rc = ctl_call(&conn, "GET", "/v1/tokens", NULL, NULL, NULL);
	}
	if (in_file && strcmp(in_file, conn.token) == 0) {
		if (unlink(path) != 0 && errno != ENOENT)
			rc = ctl_fail("logout", "%s: %s", path,
			              strerror(errno));
		else if (rc == MC_CTL_OK)
			printf("Logged out; %s removed\n", path);
	} else if (rc == MC_CTL_OK) {
		printf("Logged out (token revoked)\n");
	}
out:
	json_decref(list);
	free(p);
	if (in_file)
		memset(in_file, 0, strlen(in_file));
	free(in_file);
	free(path);
	ctl_conn_free(&conn);
	return rc;
}

static void whoami_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl whoami\n"
	             "\n"
	             "Show who the token in use belongs to, and the roles it "
	             "has.\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void print_me(json_t *doc)
{
	json_t *u = user_of(doc);
	char name[256], disp[256], roles[256];

	ctl_cell(u, "name", name, sizeof(name));
	ctl_cell(u, "display_name", disp, sizeof(disp));
	roles_text(u, roles, sizeof(roles));
	if (strcmp(disp, "-") != 0 && *disp)
		printf("%s (%s)\nroles: %s\n", name, disp, roles);
	else
		printf("%s\nroles: %s\n", name, roles);
}

int mc_ctl_whoami(int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	json_t *doc = NULL;
	int c, rc;

	rc = start(&conn, "whoami", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			whoami_help(stdout);
			goto out;
		}
		rc = ctl_bad_option("whoami", argv, c);
		goto out;
	}
	if (optind < argc) {
		rc = ctl_usage("whoami", "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	rc = ctl_call(&conn, "GET", "/v1/auth/me", NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_me);
out:
	json_decref(doc);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- user -------------------------------------------------------------- */

static void user_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl user COMMAND [OPTIONS]\n"
	        "\n"
	        "Manage the people who use the controller (admin only).\n"
	        "\n"
	        "Commands:\n"
	        "  add NAME --roles ROLES   create a user\n"
	        "  list                     list users and their roles\n"
	        "  set NAME [OPTIONS]       change roles, full name, "
	        "password; disable\n"
	        "\n"
	        "Roles: editor (writes content and the calendar), "
	        "approver (approves\n"
	        "or rejects what editors submit), technician (the fleet "
	        "and nodes),\n"
	        "admin (everything, and users).\n"
	        "\n"
	        "Run 'minecastctl user COMMAND --help' for its options.\n");
}

static void user_add_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl user add NAME --roles ROLES "
	        "[--password-stdin]\n"
	        "                            [--display-name TEXT]\n"
	        "\n"
	        "Create a user.  The password is asked twice on the terminal "
	        "(without\n"
	        "echo), or read from the first line of stdin.\n"
	        "\n"
	        "Options:\n"
	        "  --roles ROLES        comma-separated: editor, approver, "
	        "technician,\n"
	        "                       admin (e.g. editor,approver)\n"
	        "  --password-stdin     read the password from stdin\n"
	        "  --display-name TEXT  the person's full name, e.g. "
	        "\"Nguyễn Văn An\"\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void user_list_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl user list\n"
	             "\n"
	             "List every user: id, name, full name, roles, whether "
	             "disabled, and\n"
	             "when created.\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void user_set_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl user set NAME [--roles ROLES] "
	        "[--display-name TEXT]\n"
	        "                            [--disable | --enable] "
	        "[--password | --password-stdin]\n"
	        "\n"
	        "Change a user.  Anyone may change their own full name and "
	        "password;\n"
	        "roles, other users and --disable need the admin role.  A new "
	        "password\n"
	        "or --disable ends the user's browser sessions; a disabled "
	        "user's API\n"
	        "tokens are refused until --enable.  The last admin cannot be "
	        "disabled\n"
	        "or lose the admin role.\n"
	        "\n"
	        "Options:\n"
	        "  --roles ROLES        replace the roles (comma-separated)\n"
	        "  --display-name TEXT  the person's full name\n"
	        "  --disable, --enable  lock or unlock the account\n"
	        "  --password           ask for a new password (twice, no "
	        "echo)\n"
	        "  --password-stdin     read the new password from "
	        "stdin\n" HELP_OPT "\n" CTL_CONN_HELP);
}

/* ["editor", "approver"] from "editor,approver"; NULL if empty. */
static json_t *role_list(const char *text)
{
	json_t *a = json_array();
	char *copy = strdup(text), *save = NULL, *r;

	if (!a || !copy)
		goto fail;
	for (r = strtok_r(copy, ", ", &save); r;
	     r = strtok_r(NULL, ", ", &save))
		if (json_array_append_new(a, json_string(r)) != 0)
			goto fail;
	if (json_array_size(a) == 0)
		goto fail;
	free(copy);
	return a;
fail:
	free(copy);
	json_decref(a);
	return NULL;
}

static int user_add(struct ctl_conn *conn, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"roles", required_argument, NULL, 'r'},
	        {"password-stdin", no_argument, NULL, 'p'},
	        {"display-name", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	char password[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2];
	const char *roles = NULL, *display = NULL, *name;
	json_t *body = NULL, *doc = NULL, *rl = NULL;
	bool from_stdin = false;
	int c, rc = MC_CTL_OK;

	memset(password, 0, sizeof(password));
	memset(again, 0, sizeof(again));
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': roles = optarg; break;
		case 'p': from_stdin = true; break;
		case 'd': display = optarg; break;
		case 'h': user_add_help(stdout); return MC_CTL_OK;
		default: return ctl_bad_option("user add", argv, c);
		}
	}
	if (optind + 1 != argc)
		return ctl_usage("user add", optind < argc
		                                     ? "give exactly one NAME"
		                                     : "NAME is required");
	name = argv[optind];
	if (!roles)
		return ctl_usage("user add", "--roles is required (e.g. "
		                             "--roles editor)");
	rl = role_list(roles);
	if (!rl)
		return ctl_usage("user add", "--roles: give one or more of "
		                             "editor, approver, technician, "
		                             "admin");
	rc = ctl_read_password("user add",
	                       "Password for the new user: ", from_stdin,
	                       password, sizeof(password));
	if (rc == MC_CTL_OK && !from_stdin) {
		rc = ctl_read_password("user add", "Again: ", false, again,
		                       sizeof(again));
		if (rc == MC_CTL_OK && strcmp(password, again) != 0)
			rc = ctl_fail("user add", "the passwords differ");
	}
	if (rc != MC_CTL_OK)
		goto out;
	body = json_pack("{s:s, s:s, s:O}", "name", name, "password", password,
	                 "roles", rl);
	if (body && display)
		json_object_set_new(body, "display_name", json_string(display));
	if (!body) {
		rc = ctl_fail("user add", "out of memory (or NAME is not "
		                          "UTF-8)");
		goto out;
	}
	rc = ctl_call(conn, "POST", "/v1/users", body, &doc, NULL);
	if (rc == MC_CTL_OK) {
		if (conn->json) {
			ctl_print_json(doc);
		} else {
			char id[32], r[256];

			ctl_cell(user_of(doc), "id", id, sizeof(id));
			printf("User %s created (id %s, roles %s)\n", name, id,
			       roles_text(user_of(doc), r, sizeof(r)));
		}
	}
out:
	memset(password, 0, sizeof(password));
	memset(again, 0, sizeof(again));
	json_decref(rl);
	json_decref(body);
	json_decref(doc);
	return rc;
}

static int user_set(struct ctl_conn *conn, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"roles", required_argument, NULL, 'r'},
	        {"display-name", required_argument, NULL, 'd'},
	        {"disable", no_argument, NULL, 'D'},
	        {"enable", no_argument, NULL, 'E'},
	        {"password", no_argument, NULL, 'p'},
	        {"password-stdin", no_argument, NULL, 's'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	char password[PASSWORD_MAX + 2], again[PASSWORD_MAX + 2];
	const char *roles = NULL, *display = NULL;
	json_t *body = json_object(), *doc = NULL, *rl;
	char *esc = NULL, *path = NULL;
	int disabled = -1, pw = 0; /* pw: 1 terminal, 2 stdin */
	int c, rc = MC_CTL_OK;

	memset(password, 0, sizeof(password));
	memset(again, 0, sizeof(again));
	if (!body)
		return ctl_fail("user set", "out of memory");
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': roles = optarg; break;
		case 'd': display = optarg; break;
		case 'D': disabled = 1; break;
		case 'E': disabled = 0; break;
		case 'p': pw = 1; break;
		case 's': pw = 2; break;
		case 'h': user_set_help(stdout); goto out;
		default: rc = ctl_bad_option("user set", argv, c); goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = ctl_usage("user set", optind < argc
		                                   ? "give exactly one NAME"
		                                   : "NAME is required");
		goto out;
	}
	if (!roles && !display && disabled < 0 && !pw) {
		rc = ctl_usage("user set", "nothing to change: give --roles, "
		                           "--display-name, --disable, "
		                           "--enable or --password");
		goto out;
	}
	if (roles) {
		rl = role_list(roles);
		if (!rl) {
			rc = ctl_usage("user set",
			               "--roles: give one or more of "
			               "editor, approver, technician, "
			               "admin");
			goto out;
		}
		json_object_set_new(body, "roles", rl);
	}
	if (display)
		json_object_set_new(body, "display_name", json_string(display));
	if (disabled >= 0)
		json_object_set_new(body, "disabled", json_boolean(disabled));
	if (pw) {
		rc = ctl_read_password("user set", "New password: ", pw == 2,
		                       password, sizeof(password));
		if (rc == MC_CTL_OK && pw == 1) {
			rc = ctl_read_password("user set", "Again: ", false,
			                       again, sizeof(again));
			if (rc == MC_CTL_OK && strcmp(password, again) != 0)
				rc = ctl_fail("user set",
				              "the passwords differ");
		}
		if (rc != MC_CTL_OK)
			goto out;
		json_object_set_new(body, "password", json_string(password));
	}
	esc = ctl_escape(argv[optind]);
	path = esc ? mc_printf("/v1/users/%s", esc) : NULL;
	if (!path) {
		rc = ctl_fail("user set", "out of memory");
		goto out;
	}
	rc = ctl_call(conn, "PATCH", path, body, &doc, NULL);
	if (rc == MC_CTL_OK) {
		if (conn->json) {
			ctl_print_json(doc);
		} else {
			char r[256];

			printf("User %s changed (roles %s%s)\n", argv[optind],
			       roles_text(user_of(doc), r, sizeof(r)),
			       json_is_true(json_object_get(user_of(doc),
			                                    "disabled"))
			               ? ", disabled"
			               : "");
		}
	}
out:
	memset(password, 0, sizeof(password));
	memset(again, 0, sizeof(again));
	json_decref(body);
	json_decref(doc);
	free(path);
	free(esc);
	return rc;
}

static void print_users(json_t *doc)
{
	struct ctl_table *t = ctl_table_new(6, ">ID", "NAME", "FULL NAME",
	                                    "ROLES", "STATE", "CREATED");
	json_t *u;
	size_t i;

	json_array_foreach(json_object_get(doc, "items"), i, u)
	{
		char id[32], name[256], disp[512], roles[256], created[64];
		json_t *d = json_object_get(u, "disabled");

		ctl_table_row(t, ctl_cell(u, "id", id, sizeof(id)),
		              ctl_cell(u, "name", name, sizeof(name)),
		              ctl_cell(u, "display_name", disp, sizeof(disp)),
		              roles_text(u, roles, sizeof(roles)),
		              json_is_true(d) || json_integer_value(d)
		                      ? "disabled"
		                      : "active",
		              ctl_fmt_time(json_integer_value(json_object_get(
		                                   u, "created_ms")),
		                           created, sizeof(created)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static int user_list(struct ctl_conn *conn, int argc, char **argv)
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	json_t *doc = NULL;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			user_list_help(stdout);
			return MC_CTL_OK;
		}
		return ctl_bad_option("user list", argv, c);
	}
	if (optind < argc)
		return ctl_usage("user list", "unexpected argument '%s'",
		                 argv[optind]);
	rc = ctl_call(conn, "GET", "/v1/users", NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_users);
	json_decref(doc);
	return rc;
}

static int user_pick(struct ctl_conn *conn, const char *sub, int argc,
                     char **argv)
{
	if (strcmp(sub, "add") == 0)
		return user_add(conn, argc, argv);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return user_list(conn, argc, argv);
	if (strcmp(sub, "set") == 0)
		return user_set(conn, argc, argv);
	fprintf(stderr, "minecastctl: user: unknown command '%s'\n\n", sub);
	user_help(stderr);
	return MC_CTL_USAGE;
}

int mc_ctl_user(int argc, char **argv)
{
	return ctl_family("user", argc, argv, user_help, user_pick);
}

/* ---- token ------------------------------------------------------------- */

static void token_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl token COMMAND [OPTIONS]\n"
	        "\n"
	        "Manage your API tokens (for scripts and other machines).\n"
	        "\n"
	        "Commands:\n"
	        "  create NAME  create a token and print it (shown once)\n"
	        "  list         list your own tokens\n"
	        "  revoke ID    revoke a token; it stops working at once\n"
	        "\n"
	        "Run 'minecastctl token COMMAND --help' for its options.\n");
}

static void token_create_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl token create NAME\n"
	             "\n"
	             "Create an API token named NAME for the user of the "
	             "token in use, and\n"
	             "print it on stdout.  It is shown only this once: keep "
	             "it like a\n"
	             "password (e.g. in MINECAST_TOKEN of a script).\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void token_list_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl token list\n"
	             "\n"
	             "List your API tokens: id, name, the first characters "
	             "of the token,\n"
	             "when created, last used and when it expires.\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

static void token_revoke_help(FILE *out)
{
	fprintf(out, "Usage: minecastctl token revoke ID\n"
	             "\n"
	             "Revoke the token with that id (see 'minecastctl token "
	             "list'); a\n"
	             "request with it is refused (401) from then on.\n"
	             "\n"
	             "Options:\n" HELP_OPT "\n" CTL_CONN_HELP);
}

/* getopt of a subcommand that takes only --help; returns -1 to go on. */
static int only_help(const char *what, int argc, char **argv,
                     void (*help)(FILE *out))
{
	static const struct option opts[] = {{"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			help(stdout);
			return MC_CTL_OK;
		}
		return ctl_bad_option(what, argv, c);
	}
	return -1;
}

static int token_create(struct ctl_conn *conn, int argc, char **argv)
{
	json_t *body = NULL, *doc = NULL;
	int rc = only_help("token create", argc, argv, token_create_help);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return ctl_usage("token create", optind < argc
		                                         ? "give exactly one "
		                                           "NAME"
		                                         : "NAME is required");
	body = json_pack("{s:s}", "name", argv[optind]);
	if (!body)
		return ctl_fail("token create", "NAME is not UTF-8");
	rc = ctl_call(conn, "POST", "/v1/tokens", body, &doc, NULL);
	if (rc == MC_CTL_OK) {
		json_t *tok = json_object_get(doc, "token");

		if (conn->json) {
			ctl_print_json(doc);
		} else if (json_is_string(tok)) {
			printf("%s\n", json_string_value(tok));
			if (isatty(STDOUT_FILENO))
				fprintf(stderr, "This token is shown only "
				                "once; keep it like a "
				                "password.\n");
		} else {
			rc = ctl_fail("token create",
			              "the controller's answer has no token");
		}
	}
	json_decref(body);
	json_decref(doc);
	return rc;
}

static void print_tokens(json_t *doc)
{
	struct ctl_table *t = ctl_table_new(6, ">ID", "NAME", "PREFIX",
	                                    "CREATED", "LAST USED", "EXPIRES");
	json_t *k;
	size_t i;

	json_array_foreach(json_object_get(doc, "items"), i, k)
	{
		char id[32], name[512], pre[128], a[64], b[64], e[64];

		ctl_table_row(t, ctl_cell(k, "id", id, sizeof(id)),
		              ctl_cell(k, "name", name, sizeof(name)),
		              ctl_cell(k, "prefix", pre, sizeof(pre)),
		              ctl_fmt_time(json_integer_value(json_object_get(
		                                   k, "created_ms")),
		                           a, sizeof(a)),
		              ctl_fmt_time(json_integer_value(json_object_get(
		                                   k, "last_used_ms")),
		                           b, sizeof(b)),
		              ctl_fmt_time(json_integer_value(json_object_get(
		                                   k, "expires_ms")),
		                           e, sizeof(e)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static int token_list(struct ctl_conn *conn, int argc, char **argv)
{
	json_t *doc = NULL;
	int rc = only_help("token list", argc, argv, token_list_help);

	if (rc >= 0)
		return rc;
	if (optind < argc)
		return ctl_usage("token list", "unexpected argument '%s'",
		                 argv[optind]);
	rc = ctl_call(conn, "GET", "/v1/tokens", NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_tokens);
	json_decref(doc);
	return rc;
}

static int token_revoke(struct ctl_conn *conn, int argc, char **argv)
{
	char *path = NULL;
	int rc = only_help("token revoke", argc, argv, token_revoke_help);

	if (rc >= 0)
		return rc;
	if (optind + 1 != argc)
		return ctl_usage("token revoke", optind < argc
		                                         ? "give exactly one ID"
		                                         : "ID is required");
	if (!is_id(argv[optind]))
		return ctl_usage("token revoke",
		                 "'%s' is not a token id (a number from "
		                 "'minecastctl token list')",
		                 argv[optind]);
	path = mc_printf("/v1/tokens/%s", argv[optind]);
	if (!path)
		return ctl_fail("token revoke", "out of memory");
	rc = ctl_call(conn, "DELETE", path, NULL, NULL, NULL);
	if (rc == MC_CTL_OK && !conn->json)
		printf("Token %s revoked\n", argv[optind]);
	free(path);
	return rc;
}

static int token_pick(struct ctl_conn *conn, const char *sub, int argc,
                      char **argv)
{
	if (strcmp(sub, "create") == 0)
		return token_create(conn, argc, argv);
	if (strcmp(sub, "list") == 0 || strcmp(sub, "ls") == 0)
		return token_list(conn, argc, argv);
	if (strcmp(sub, "revoke") == 0)
		return token_revoke(conn, argc, argv);
	fprintf(stderr, "minecastctl: token: unknown command '%s'\n\n", sub);
	token_help(stderr);
	return MC_CTL_USAGE;
}

int mc_ctl_token(int argc, char **argv)
{
	return ctl_family("token", argc, argv, token_help, token_pick);
}

/* ---- backup ------------------------------------------------------------ */

static void backup_help(FILE *out)
{
	fprintf(out,
	        "Usage: minecastctl backup --out FILE [--db DATABASE]\n"
	        "\n"
	        "Back up the controller's database (users, content records, "
	        "calendar,\n"
	        "fleet, audit) into one SQLite file, consistent at one "
	        "instant, while\n"
	        "the controller keeps running.  The copy is checked "
	        "(PRAGMA\n"
	        "quick_check) before it is put in place, and is mode 0600: "
	        "it holds\n"
	        "password hashes.  Content files (the blobs directory) are "
	        "not in it;\n"
	        "copy that directory too (docs/controller.md).\n"
	        "\n"
	        "Without --db the controller makes the copy (admin role); "
	        "with --db the\n"
	        "database file is read directly on this machine (SQLite's "
	        "online\n"
	        "backup), e.g. when the HTTP API is down.\n"
	        "\n"
	        "Options:\n"
	        "  --out FILE     where to write the backup (replaced if it "
	        "exists)\n"
	        "  --db DATABASE  the controller's database file, normally\n"
	        "                 /var/lib/minecast/minecast.db\n" HELP_OPT
	        "\n" CTL_CONN_HELP);
}

/* PRAGMA quick_check of a finished copy: "ok" or why not. */
static int check_copy(const char *what, const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc = MC_CTL_FAIL;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = ctl_fail(what, "%s: %s", path,
		              db ? sqlite3_errmsg(db) : "cannot open");
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA quick_check", -1, &st, NULL) !=
	            SQLITE_OK ||
	    sqlite3_step(st) != SQLITE_ROW) {
		rc = ctl_fail(what, "%s is not a usable SQLite database: %s",
		              path, sqlite3_errmsg(db));
		goto out;
	}
	if (strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		rc = ctl_fail(what, "%s fails its check: %s", path,
		              (const char *)sqlite3_column_text(st, 0));
		goto out;
	}
	rc = MC_CTL_OK;
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* Progress of an offline backup, in pages, on a terminal. */
static void page_progress(int done, int total, bool last)
{
	int pct = total > 0 ? (int)((int64_t)done * 100 / total) : 100;

	fprintf(stderr, "\r  [%.*s%*s] %3d%%  %d / %d pages\033[K", pct / 5,
	        "####################", 20 - pct / 5, "", pct, done, total);
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
}

/* fsync a file by path (the copy SQLite wrote). */
static int sync_path(const char *what, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int rc = MC_CTL_OK;

	if (fd < 0 || fsync(fd) != 0)
		rc = ctl_fail(what, "%s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	return rc;
}

/*
 * Copy the database at src to dest with SQLite's online backup API: the
 * live controller keeps writing; each step copies BACKUP_PAGES pages, and
 * a write between steps restarts the copy, so the result is consistent.
 */
static int backup_offline(const char *src, const char *dest)
{
	const char *what = "backup";
	bool bar = isatty(STDERR_FILENO);
	sqlite3 *from = NULL, *to = NULL;
	sqlite3_backup *bk = NULL;
	char *tmp = mc_printf("%s.part", dest);
	struct stat sb;
	int busy = 0, step, fd, rc = MC_CTL_FAIL;

	if (!tmp)
		return ctl_fail(what, "out of memory");
	if (stat(src, &sb) != 0) {
		rc = ctl_fail(what, "%s: %s", src, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		rc = ctl_fail(what, "%s: not a database file", src);
		goto out;
	}
	if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) !=
	    SQLITE_OK) {
		rc = ctl_fail(what, "%s: %s", src,
		              from ? sqlite3_errmsg(from) : "cannot open");
		goto out;
	}
	sqlite3_busy_timeout(from, 5000);
	/* 0600 before SQLite writes a byte: the copy holds every hash. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = ctl_fail(what, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	if (sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		rc = ctl_fail(what, "%s: %s", tmp,
		              to ? sqlite3_errmsg(to) : "cannot open");
		goto out;
	}
	bk = sqlite3_backup_init(to, "main", from, "main");
	if (!bk) {
		rc = ctl_fail(what, "%s: %s", src, sqlite3_errmsg(to));
		goto out;
	}
	for (;;) {
		step = sqlite3_backup_step(bk, BACKUP_PAGES);
		if (bar)
			page_progress(sqlite3_backup_pagecount(bk) -
			                      sqlite3_backup_remaining(bk),
			              sqlite3_backup_pagecount(bk),
			              step == SQLITE_DONE);
		if (step == SQLITE_DONE)
			break;
		if (step == SQLITE_BUSY || step == SQLITE_LOCKED) {
			if (++busy > BACKUP_BUSY_TRIES) {
				rc = ctl_fail(what,
				              "%s stayed busy; try "
				              "again",
				              src);
				goto out;
			}
			sqlite3_sleep(BACKUP_BUSY_MS);
			continue;
		}
		if (step != SQLITE_OK) {
			rc = ctl_fail(what, "%s: %s", src,
			              sqlite3_errstr(step));
			goto out;
		}
		busy = 0;
	}
	step = sqlite3_backup_finish(bk);
	bk = NULL;
	if (step != SQLITE_OK) {
		rc = ctl_fail(what, "%s: %s", tmp, sqlite3_errstr(step));
		goto out;
	}
	/* The copy is a plain rollback-journal file, readable alone. */
	sqlite3_exec(to, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
	if (sqlite3_close(to) != SQLITE_OK) {
		rc = ctl_fail(what, "%s: %s", tmp, sqlite3_errmsg(to));
		to = NULL;
		goto out;
	}
	to = NULL;
	rc = sync_path(what, tmp);
	if (rc == MC_CTL_OK)
		rc = check_copy(what, tmp);
	if (rc == MC_CTL_OK && rename(tmp, dest) != 0)
		rc = ctl_fail(what, "%s: %s", dest, strerror(errno));
out:
	if (bk)
		sqlite3_backup_finish(bk);
	if (to)
		sqlite3_close(to);
	if (from)
		sqlite3_close(from);
	if (rc != MC_CTL_OK)
		unlink(tmp);
	free(tmp);
	return rc;
}

int mc_ctl_backup(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"out", required_argument, NULL, 'o'},
	        {"db", required_argument, NULL, 'd'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	const char *out = NULL, *db = NULL;
	char size[32];
	int64_t bytes = 0;
	struct stat sb;
	int c, rc;

	rc = start(&conn, "backup", &argc, argv);
	if (rc != MC_CTL_OK)
		goto done;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'd': db = optarg; break;
		case 'h': backup_help(stdout); goto done;
		default: rc = ctl_bad_option("backup", argv, c); goto done;
		}
	}
	if (optind < argc) {
		rc = ctl_usage("backup", "unexpected argument '%s'",
		               argv[optind]);
		goto done;
	}
	if (!out || !*out) {
		rc = ctl_usage("backup", "--out FILE is required");
		goto done;
	}
	if (strcmp(out, "-") == 0) {
		rc = ctl_usage("backup", "--out: give a file, not stdout "
		                         "(the copy is checked in place)");
		goto done;
	}
	if (db) {
		rc = backup_offline(db, out);
	} else {
		rc = ctl_download_ex(&conn, "POST", "/v1/backup", out, &bytes,
		                     NULL);
		if (rc == MC_CTL_OK) {
			rc = check_copy("backup", out);
			if (rc != MC_CTL_OK)
				unlink(out);
		}
	}
	if (rc == MC_CTL_OK && !conn.json) {
		if (stat(out, &sb) == 0)
			bytes = sb.st_size;
		printf("Backup written to %s (%s)\n", out,
		       ctl_fmt_bytes(bytes, size, sizeof(size)));
	}
done:
	ctl_conn_free(&conn);
	return rc;
}
