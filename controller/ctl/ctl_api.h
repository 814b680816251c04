/*
 * minecastctl — the HTTP client every online subcommand uses (libcurl,
 * jansson), and the output helpers that make its answers readable.
 *
 * A subcommand that talks to the controller:
 *
 *	struct ctl_conn conn;
 *	int rc = ctl_conn_init(&conn, "user list", &argc, argv);
 *	if (rc != MC_CTL_OK)
 *		return rc;              // usage error, printed
 *	... its own options (getopt_long on what is left) ...
 *	json_t *doc = NULL;
 *	rc = ctl_call(&conn, "GET", "/v1/users", NULL, &doc, NULL);
 *	if (rc == MC_CTL_OK)
 *		rc = ctl_print(&conn, doc, print_users);  // table or --json
 *	json_decref(doc);
 *	ctl_conn_free(&conn);
 *	return rc;
 *
 * Connection options (ctl_conn_init removes them from argv wherever they
 * are before a "--", so each subcommand's own parser never sees them;
 * a family such as "node add|list" calls it BEFORE looking at argv[1],
 * since "minecastctl node --url U list" is allowed, then sets conn.what
 * to "node list"):
 *   --url URL      the controller, default $MINECAST_URL, else
 *                  http://127.0.0.1:8080
 *   --token TOKEN  an API token, default $MINECAST_TOKEN, else the first
 *                  line of ~/.config/minecast/token (`minecastctl login`
 *                  writes it)
 *   --json         print the server's JSON instead of tables
 *
 * Errors the server answers ({"error": {"status", "field", "message"}})
 * are printed as "minecastctl: <what>: <message>", the message being the
 * server's (Vietnamese first, then English); transport errors likewise
 * with curl's reason.  Every function returns an exit code of ctl.h:
 * MC_CTL_OK, MC_CTL_FAIL (printed), MC_CTL_USAGE (printed).
 */
#ifndef MC_CTL_API_H
#define MC_CTL_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "ctl.h"

/* Default controller when neither --url nor $MINECAST_URL is given. */
#define CTL_DEFAULT_URL "http://127.0.0.1:8080"

/* Largest JSON answer accepted (lists of thousands of nodes fit). */
#define CTL_MAX_ANSWER_BYTES (64u * 1024 * 1024)

/* The lines every online subcommand's --help ends with. */
#define CTL_CONN_HELP                                                          \
	"Connection options:\n"                                                \
	"  --url URL      controller URL (default $MINECAST_URL, else "        \
	"http://127.0.0.1:8080)\n"                                             \
	"  --token TOKEN  API token (default $MINECAST_TOKEN, else "           \
	"~/.config/minecast/token)\n"                                          \
	"  --json         print the server's JSON instead of a table\n"

/* One connection to the controller, for the life of one subcommand. */
struct ctl_conn {
	char *url;        /* base URL, no trailing '/' (owned) */
	char *token;      /* bearer token; NULL = none (owned) */
	bool json;        /* --json: print JSON, not tables */
	const char *what; /* label of error messages, e.g. "user add"; the
	                     caller may change it between calls */
	void *curl;       /* the CURL easy handle, reused (keep-alive) */
	char *cookie;     /* "mc_session=..." after ctl_login_session()
	                     (owned); sent instead of needing a token */
	char *csrf;       /* that session's CSRF token (owned) */
};

/* Flags of ctl_call_ex(). */
#define CTL_QUIET 1u /* do not print the error of a non-2xx answer */

/*
 * Fill conn from argv, the environment and the token file, and remove the
 * connection options from argv (*argc shrinks; argv[0] stays).  what is
 * the label of messages (not copied).  Returns MC_CTL_OK, or MC_CTL_USAGE
 * after printing why (e.g. --url without a value).  conn is always safe
 * to free.
 */
int ctl_conn_init(struct ctl_conn *conn, const char *what, int *argc,
                  char **argv);
void ctl_conn_free(struct ctl_conn *conn);

/* Path of the token file: $HOME/.config/minecast/token (malloc'd; NULL
 * when HOME is not set). */
char *ctl_token_path(void);

/*
 * Log in with a password (POST /v1/auth/login): the session cookie and
 * its CSRF token are kept in conn and sent with every later call (the
 * token, if any, is then not sent).  *out (may be NULL) gets the login
 * answer.  Used by `minecastctl login` to create an API token.
 */
int ctl_login_session(struct ctl_conn *conn, const char *name,
                      const char *password, json_t **out);

/*
 * A JSON call.  path is "/v1/..." (query included; escape segments with
 * ctl_escape).  body (may be NULL; not stolen) is sent as
 * application/json.  On a 2xx answer *out (may be NULL) gets the parsed
 * document (new reference; NULL for an empty answer) and MC_CTL_OK is
 * returned.  Otherwise the error is printed and MC_CTL_FAIL returned,
 * *out is NULL.  *status (may be NULL) gets the HTTP status (0 when no
 * answer came).
 */
int ctl_call(struct ctl_conn *conn, const char *method, const char *path,
             json_t *body, json_t **out, long *status);
/* ctl_call with flags (CTL_QUIET); with CTL_QUIET and a non-2xx answer,
 * *out gets the error document (new reference) if there is one. */
int ctl_call_ex(struct ctl_conn *conn, const char *method, const char *path,
                json_t *body, json_t **out, long *status, unsigned flags);

/*
 * Send a file (or stdin for "-") as the request body with that
 * Content-Type, streaming it, with a progress bar on stderr when stderr
 * is a terminal (bytes sent, percent, rate).  The JSON answer as in
 * ctl_call.
 */
int ctl_upload(struct ctl_conn *conn, const char *method, const char *path,
               const char *file, const char *content_type, json_t **out,
               long *status);

/*
 * GET path into out_file ("-" = stdout), with a progress bar on stderr
 * when it is a terminal.  A file is written to out_file.part and renamed
 * into place only when complete (nothing is left behind on failure).
 * Non-2xx answers are printed as errors.  *bytes (may be NULL) gets the
 * size written.  Files are created mode 0600 (a download may be a
 * backup holding password hashes).
 */
int ctl_download(struct ctl_conn *conn, const char *path, const char *out_file,
                 int64_t *bytes, long *status);

/* ctl_download with another method, e.g. POST /v1/backup (an empty
 * body is sent). */
int ctl_download_ex(struct ctl_conn *conn, const char *method, const char *path,
                    const char *out_file, int64_t *bytes, long *status);

/* A path segment or query value percent-escaped (malloc'd). */
char *ctl_escape(const char *s);

/*
 * Print doc: with --json as indented JSON (UTF-8 kept), otherwise through
 * table (may be NULL: JSON then too).  Returns MC_CTL_OK.
 */
int ctl_print(const struct ctl_conn *conn, json_t *doc,
              void (*table)(json_t *doc));
/* Print a JSON document indented, UTF-8 as is, to stdout. */
void ctl_print_json(json_t *doc);

/*
 * A table: columns aligned by the display width of their UTF-8 text
 * (Vietnamese with combining marks, wide CJK), so that tables line up in
 * a terminal.  A header starting with '>' makes its column right-aligned
 * (the '>' is not printed).  Cells are copied; a NULL cell prints "-".
 *
 *	struct ctl_table *t = ctl_table_new(3, "ID", "NAME", ">SIZE");
 *	ctl_table_row(t, id, name, size_text);
 *	ctl_table_print(t, stdout);
 *	ctl_table_free(t);
 */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t ncols, ...);
/* Exactly ncols cells (const char *). */
void ctl_table_row(struct ctl_table *t, ...);
void ctl_table_rowv(struct ctl_table *t, const char *const *cells);
/* Rows added so far. */
size_t ctl_table_rows(const struct ctl_table *t);
void ctl_table_print(const struct ctl_table *t, FILE *out);
void ctl_table_free(struct ctl_table *t);

/* Display width of a UTF-8 string in terminal columns (utf8proc);
 * invalid bytes count one column each. */
size_t ctl_text_width(const char *s);

/*
 * Cell text of obj[key] (obj may be NULL): strings as they are, integers
 * and reals in decimal, true/false as "yes"/"no", arrays of scalars
 * joined with ",", null or absent as "-".  Written into buf, returned.
 */
const char *ctl_cell(const json_t *obj, const char *key, char *buf, size_t len);
/* Epoch milliseconds as local "YYYY-MM-DD HH:MM:SS"; 0 or less as "-". */
const char *ctl_fmt_time(int64_t ms, char *buf, size_t len);
/* Bytes as "512 B", "1.5 KiB", "20.0 MiB", ... */
const char *ctl_fmt_bytes(int64_t n, char *buf, size_t len);

/* Print "minecastctl: <what>: <why>" and return MC_CTL_FAIL. */
int ctl_fail(const char *what, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* Print "minecastctl: <what>: <why>" and "Try 'minecastctl <what>
 * --help'.", and return MC_CTL_USAGE. */
int ctl_usage(const char *what, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* The usage error of an option getopt_long refused (c is its '?' or ':'
 * with opterr = 0 and an optstring starting with ':'). */
int ctl_bad_option(const char *what, char **argv, int c);
/* After getopt_long: no positional argument left (else a usage error
 * labelled what).  Returns MC_CTL_OK or MC_CTL_USAGE. */
int ctl_no_arg(const char *what, int argc, char **argv);
/* After getopt_long: exactly one positional argument, in *out (argv's);
 * a usage error labelled what, naming label ("node's ID") when it is
 * missing.  Returns MC_CTL_OK or MC_CTL_USAGE. */
int ctl_one_arg(const char *what, int argc, char **argv, const char *label,
                const char **out);
/* Append "?key=value" or "&key=value" (value escaped) to *path (malloc'd,
 * replaced); nothing when value is NULL.  Returns false when out of
 * memory (*path unchanged). */
bool ctl_add_query(char **path, const char *key, const char *value);
/* base + "/" + escaped id + tail (tail may be NULL): malloc'd, the
 * caller frees it; NULL when out of memory. */
char *ctl_id_path(const char *base, const char *id, const char *tail);

/* Is arg a request for help: "--help", "-h" or "help"? */
bool ctl_is_help(const char *arg);

/*
 * Run a family of subcommands ("minecastctl user add ..."): the connection
 * options are taken out of argv wherever they stand; a missing subcommand
 * prints help to stderr (MC_CTL_USAGE), a help request as the subcommand
 * prints it to stdout; otherwise errors are labelled "<family> <sub>",
 * getopt's own messages are turned off and pick runs the subcommand.
 *
 * Parameters: family, the word after "minecastctl" ("user"); argc, argv,
 * the command line from the family on; help, prints the family's help;
 * pick, runs subcommand sub with argv from the subcommand on (argv[0] =
 * sub) on the open connection.
 * Returns: MC_CTL_OK or an MC_CTL_* code (pick's).
 */
int ctl_family(const char *family, int argc, char **argv,
               void (*help)(FILE *out),
               int (*pick)(struct ctl_conn *conn, const char *sub, int argc,
                           char **argv));

/*
 * Read a password: from stdin (its first line) when from_stdin, else
 * from the terminal without echo after printing prompt on stderr.  The
 * trailing newline is removed.  Returns MC_CTL_OK, or MC_CTL_FAIL after
 * printing why (no terminal, empty, too long).
 */
int ctl_read_password(const char *what, const char *prompt, bool from_stdin,
                      char *buf, size_t len);

/* Ask question on the terminal; true only for an answer starting with
 * 'y' or 'c' (có).  False without a terminal. */
bool ctl_confirm(const char *question);

#endif
