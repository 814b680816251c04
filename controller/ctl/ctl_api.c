/*
 * minecastctl — the HTTP client of the online subcommands and their
 * output helpers (ctl_api.h says how to use them).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <utf8proc.h>

#include "minecast/util.h"

#include "ctl_api.h"

/* Longest token read from the token file or the environment. */
#define TOKEN_MAX 4096

/* Seconds to wait for a TCP connection to the controller. */
#define CONNECT_TIMEOUT_S 10L

/* An answer stalled (below 1 byte/s) this long is given up: a publish of
 * thousands of nodes answers within seconds, never minutes. */
#define STALL_TIMEOUT_S 300L

/* Redraw the progress bar at most this often. */
#define PROGRESS_EVERY_MS 100

/* Bytes of a non-JSON error answer quoted back. */
#define QUOTE_MAX 200

/* An answer being received into memory. */
struct buf {
	char *data;   /* NUL-terminated (owned) */
	size_t len;   /* bytes, without the NUL */
	bool too_big; /* stopped at CTL_MAX_ANSWER_BYTES */
};

/* A progress bar on stderr (only drawn when stderr is a terminal). */
struct progress {
	const char *verb;    /* "sent", "received" */
	int64_t start_ms;    /* monotonic start of the transfer */
	int64_t last_ms;     /* last redraw */
	bool drawn;          /* something is on the line: end it */
	curl_off_t last_now; /* bytes at the last redraw */
};

/* A download: a file, or memory when the answer is an error. */
struct sink {
	CURL *curl;     /* to read the status inside the callback */
	FILE *f;        /* the destination (file.part or stdout) */
	struct buf err; /* a non-2xx answer's body */
	int64_t bytes;  /* written to f */
	bool failed;    /* f refused a write */
	int status;     /* 0 = not yet known, else the HTTP status */
};

int ctl_fail(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "minecastctl: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return MC_CTL_FAIL;
}

int ctl_usage(const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "minecastctl: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'minecastctl %s --help'.\n", what);
	return MC_CTL_USAGE;
}

int ctl_bad_option(const char *what, char **argv, int c)
{
	if (c == ':')
		return ctl_usage(what, "option '%s' needs a value",
		                 argv[optind - 1]);
	return ctl_usage(what, "unknown option '%s'", argv[optind - 1]);
}

bool ctl_is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0 ||
	       strcmp(arg, "help") == 0;
}

int ctl_family(const char *family, int argc, char **argv,
               void (*help)(FILE *out),
               int (*pick)(struct ctl_conn *conn, const char *sub, int argc,
                           char **argv))
{
	struct ctl_conn conn;
	char what[64];
	int rc;

	/* Connection options first: they may stand anywhere, also before
	 * the subcommand ("user --url U list"). */
	rc = ctl_conn_init(&conn, family, &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	if (argc < 2) {
		help(stderr);
		rc = MC_CTL_USAGE;
		goto out;
	}
	if (ctl_is_help(argv[1])) {
		help(stdout);
		goto out;
	}
	snprintf(what, sizeof(what), "%s %s", family, argv[1]);
	conn.what = what;
	opterr = 0;
	/* argv from the subcommand on: argv[0] = "add". */
	rc = pick(&conn, argv[1], argc - 1, argv + 1);
out:
	ctl_conn_free(&conn);
	return rc;
}

int ctl_no_arg(const char *what, int argc, char **argv)
{
	if (optind < argc)
		return ctl_usage(what, "unexpected argument '%s'",
		                 argv[optind]);
	return MC_CTL_OK;
}

int ctl_one_arg(const char *what, int argc, char **argv, const char *label,
                const char **out)
{
	if (optind >= argc)
		return ctl_usage(what, "missing the %s", label);
	if (optind + 1 < argc)
		return ctl_usage(what, "unexpected argument '%s'",
		                 argv[optind + 1]);
	*out = argv[optind];
	return MC_CTL_OK;
}

bool ctl_add_query(char **path, const char *key, const char *value)
{
	char *esc, *grown;

	if (!value)
		return true;
	esc = ctl_escape(value);
	if (!esc)
		return false;
	grown = mc_printf("%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?',
	                  key, esc);
	free(esc);
	if (!grown)
		return false;
	free(*path);
	*path = grown;
	return true;
}

char *ctl_id_path(const char *base, const char *id, const char *tail)
{
	char *esc = ctl_escape(id), *p;

	if (!esc)
		return NULL;
	p = mc_printf("%s/%s%s", base, esc, tail ? tail : "");
	free(esc);
	return p;
}

/* ---- the connection ---------------------------------------------------- */

char *ctl_token_path(void)
{
	const char *home = getenv("HOME");

	if (!home || !*home)
		return NULL;
	return mc_printf("%s/.config/minecast/token", home);
}

/* Leading and trailing blanks, CR and LF removed in place. */
static char *trim(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	                 s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* The token file's first line; NULL when there is none. */
static char *read_token_file(void)
{
	char *path = ctl_token_path();
	char line[TOKEN_MAX];
	char *tok = NULL;
	FILE *f;

	if (!path)
		return NULL;
	f = fopen(path, "r");
	if (f) {
		if (fgets(line, sizeof(line), f)) {
			char *t = trim(line);
			if (*t)
				tok = strdup(t);
		}
		fclose(f);
	}
	free(path);
	return tok;
}

/* Remove argv[i] (and n-1 after it) from argv. */
static void drop_args(int *argc, char **argv, int i, int n)
{
	memmove(argv + i, argv + i + n,
	        (size_t)(*argc - i - n + 1) * sizeof(*argv));
	*argc -= n;
}

/*
 * One connection option at argv[*i], if it is one: its value into *dst
 * (replacing).  Returns 1 when taken (removed from argv), 0 when not
 * this option, -1 for a missing value.
 */
static int take_opt(const char *name, int *argc, char **argv, int i, char **dst)
{
	size_t n = strlen(name);
	const char *a = argv[i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		free(*dst);
		*dst = strdup(a + n + 1);
		drop_args(argc, argv, i, 1);
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (i + 1 >= *argc)
		return -1;
	free(*dst);
	*dst = strdup(argv[i + 1]);
	drop_args(argc, argv, i, 2);
	return 1;
}

int ctl_conn_init(struct ctl_conn *conn, const char *what, int *argc,
                  char **argv)
{
	static bool curl_ready;
	char *url = NULL, *token = NULL;
	const char *env;
	int rc = MC_CTL_OK;
	size_t n;

	memset(conn, 0, sizeof(*conn));
	conn->what = what;
	for (int i = 1; i < *argc;) {
		int r;

		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--json") == 0) {
			conn->json = true;
			drop_args(argc, argv, i, 1);
			continue;
		}
		r = take_opt("--url", argc, argv, i, &url);
		if (r == 0)
			r = take_opt("--token", argc, argv, i, &token);
		if (r < 0) {
			rc = ctl_usage(what, "%s needs a value", argv[i]);
			goto fail;
		}
		if (r == 0)
			i++;
	}
	if (!url) {
		env = getenv("MINECAST_URL");
		url = strdup(env && *env ? env : CTL_DEFAULT_URL);
	}
	if (!token) {
		env = getenv("MINECAST_TOKEN");
		token = env && *env ? strdup(env) : read_token_file();
	}
	if (!url) {
		rc = ctl_fail(what, "out of memory");
		goto fail;
	}
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0) {
		rc = ctl_usage(what,
		               "--url '%s': give http://HOST:PORT or "
		               "https://HOST:PORT",
		               url);
		goto fail;
	}
	n = strlen(url);
	while (n > 0 && url[n - 1] == '/')
		url[--n] = '\0';
	if (token && !*trim(token))
		MC_FREE(token);
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			rc = ctl_fail(what, "libcurl cannot start");
			goto fail;
		}
		curl_ready = true;
	}
	conn->url = url;
	conn->token = token;
	return MC_CTL_OK;
fail:
	free(url);
	free(token);
	return rc;
}

/* Wipe and free a secret. */
static void free_secret(char **s)
{
	if (*s) {
		memset(*s, 0, strlen(*s));
		MC_FREE(*s);
	}
}

void ctl_conn_free(struct ctl_conn *conn)
{
	if (conn->curl)
		curl_easy_cleanup(conn->curl);
	conn->curl = NULL;
	MC_FREE(conn->url);
	/* Do not leave secrets in freed memory. */
	free_secret(&conn->token);
	free_secret(&conn->cookie);
	free_secret(&conn->csrf);
}

/* ---- transfers --------------------------------------------------------- */

static size_t to_buf(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct buf *b = arg;
	size_t n = size * nmemb;
	char *p;

	if (b->len + n > CTL_MAX_ANSWER_BYTES) {
		b->too_big = true;
		return 0;
	}
	p = realloc(b->data, b->len + n + 1);
	if (!p)
		return 0;
	memcpy(p + b->len, ptr, n);
	b->data = p;
	b->len += n;
	p[b->len] = '\0';
	return n;
}

static void buf_free(struct buf *b)
{
	MC_FREE(b->data);
	b->len = 0;
}

static void fmt_rate(double bps, char *buf, size_t len)
{
	char b[32];

	ctl_fmt_bytes((int64_t)bps, b, sizeof(b));
	snprintf(buf, len, "%s/s", b);
}

/* Draw the bar: "  sent 12.0 MiB / 40.0 MiB  30%  5.1 MiB/s". */
static void progress_draw(struct progress *p, curl_off_t now, curl_off_t total,
                          bool last)
{
	int64_t t = mc_mono_ms();
	char a[32], b[32], r[40];
	double secs;

	if (!last && t - p->last_ms < PROGRESS_EVERY_MS)
		return;
	if (!last && now == p->last_now && p->drawn)
		return;
	p->last_ms = t;
	p->last_now = now;
	secs = (double)(t - p->start_ms) / 1000.0;
	ctl_fmt_bytes((int64_t)now, a, sizeof(a));
	fmt_rate(secs > 0.05 ? (double)now / secs : 0, r, sizeof(r));
	if (total > 0) {
		int pct = (int)((double)now * 100.0 / (double)total);
		int fill;

		pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
		fill = pct / 5;

		ctl_fmt_bytes((int64_t)total, b, sizeof(b));
		fprintf(stderr, "\r  [%.*s%*s] %3d%%  %s %s / %s  %s\033[K",
		        fill, "####################", 20 - fill, "", pct,
		        p->verb, a, b, r);
	} else {
		fprintf(stderr, "\r  %s %s  %s\033[K", p->verb, a, r);
	}
	p->drawn = true;
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                       curl_off_t ultotal, curl_off_t ulnow)
{
	struct progress *p = arg;

	if (ultotal > 0 || ulnow > 0)
		progress_draw(p, ulnow, ultotal, false);
	else if (dlnow > 0)
		progress_draw(p, dlnow, dltotal, false);
	return 0;
}

/* The easy handle of conn, reset for a new request. */
static CURL *handle(struct ctl_conn *conn)
{
	CURL *c = conn->curl;

	if (!c) {
		c = curl_easy_init();
		conn->curl = c;
	} else {
		curl_easy_reset(c);
	}
	if (!c)
		return NULL;
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "minecastctl/" MC_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, STALL_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	return c;
}

/* The request headers: token, content type; no "Expect: 100-continue"
 * (the server answers a refused body at once anyway). */
static struct curl_slist *headers(const struct ctl_conn *conn,
                                  const char *content_type)
{
	struct curl_slist *h = NULL, *n;
	char *line;

	h = curl_slist_append(h, "Accept: application/json");
	if (h)
		h = (n = curl_slist_append(h, "Expect:")) ? n : h;
	if (h && content_type) {
		line = mc_printf("Content-Type: %s", content_type);
		if (line) {
			n = curl_slist_append(h, line);
			h = n ? n : h;
			free(line);
		}
	} else if (h) {
		/* No body type: not curl's form-urlencoded default either. */
		h = (n = curl_slist_append(h, "Content-Type:")) ? n : h;
	}
	if (h && conn->cookie) {
		line = mc_printf("Cookie: %s", conn->cookie);
		if (line) {
			n = curl_slist_append(h, line);
			h = n ? n : h;
			free(line);
		}
		line = mc_printf("X-CSRF-Token: %s",
		                 conn->csrf ? conn->csrf : "");
		if (line) {
			n = curl_slist_append(h, line);
			h = n ? n : h;
			free(line);
		}
	} else if (h && conn->token) {
		line = mc_printf("Authorization: Bearer %s", conn->token);
		if (line) {
			n = curl_slist_append(h, line);
			h = n ? n : h;
			memset(line, 0, strlen(line));
			free(line);
		}
	}
	return h;
}

/*
 * Print a non-2xx answer: the server's message, else the status and the
 * start of the body.  A 401 without a token says how to get one.
 */
static void print_error(const struct ctl_conn *conn, long status,
                        const struct buf *b)
{
	json_t *doc = NULL, *err, *msg;

	if (b->data && b->len)
		doc = json_loadb(b->data, b->len, 0, NULL);
	err = json_object_get(doc, "error");
	msg = json_object_get(err, "message");
	if (json_is_string(msg))
		fprintf(stderr, "minecastctl: %s: %s\n", conn->what,
		        json_string_value(msg));
	else if (b->len) {
		int n = (int)(b->len < QUOTE_MAX ? b->len : QUOTE_MAX);
		const char *nl = memchr(b->data, '\n', (size_t)n);

		if (nl)
			n = (int)(nl - b->data);
		fprintf(stderr, "minecastctl: %s: HTTP %ld: %.*s\n", conn->what,
		        status, n, b->data);
	} else {
		fprintf(stderr, "minecastctl: %s: HTTP %ld\n", conn->what,
		        status);
	}
	if (status == 401 && !conn->token)
		fprintf(stderr,
		        "minecastctl: %s: no API token: run "
		        "'minecastctl login USER', or give --token or "
		        "MINECAST_TOKEN\n",
		        conn->what);
	json_decref(doc);
}

/* A curl failure: what, the URL and curl's reason. */
static int transport_error(const struct ctl_conn *conn, CURLcode cc,
                           const char *errbuf)
{
	return ctl_fail(conn->what, "%s: %s", conn->url,
	                errbuf && *errbuf ? errbuf : curl_easy_strerror(cc));
}

/*
 * After perform: the answer in b becomes *out (2xx) or a printed error.
 */
static int finish(struct ctl_conn *conn, long status, struct buf *b,
                  json_t **out, unsigned flags)
{
	json_t *doc = NULL;
	json_error_t jerr;

	if (b->len) {
		doc = json_loadb(b->data, b->len, JSON_DECODE_ANY, &jerr);
		if (!doc && status >= 200 && status < 300)
			return ctl_fail(conn->what,
			                "the controller's answer is not JSON "
			                "(%s at byte %d); is %s a minecast "
			                "controller?",
			                jerr.text, jerr.position, conn->url);
	}
	if (status >= 200 && status < 300) {
		if (out)
			*out = doc;
		else
			json_decref(doc);
		return MC_CTL_OK;
	}
	if (!(flags & CTL_QUIET))
		print_error(conn, status, b);
	if ((flags & CTL_QUIET) && out)
		*out = doc;
	else
		json_decref(doc);
	return MC_CTL_FAIL;
}

int ctl_call_ex(struct ctl_conn *conn, const char *method, const char *path,
                json_t *body, json_t **out, long *status, unsigned flags)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct buf b = {0};
	char *url = NULL, *text = NULL;
	long st = 0;
	CURL *c;
	CURLcode cc;
	int rc = MC_CTL_FAIL;

	if (out)
		*out = NULL;
	c = handle(conn);
	url = mc_printf("%s%s", conn->url, path);
	if (body)
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	h = headers(conn, body ? "application/json" : NULL);
	if (!c || !url || (body && !text) || !h) {
		rc = ctl_fail(conn->what, "out of memory");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else {
		/* Every other method sends a body, possibly empty, so
		 * that Content-Length: 0 goes out. */
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, text ? text : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
		                 (long)(text ? strlen(text) : 0));
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		if (b.too_big)
			rc = ctl_fail(conn->what,
			              "the answer is larger than %u MiB",
			              CTL_MAX_ANSWER_BYTES >> 20);
		else
			rc = transport_error(conn, cc, errbuf);
		goto fail;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	rc = finish(conn, st, &b, out, flags);
fail:
	if (status)
		*status = st;
	curl_slist_free_all(h);
	buf_free(&b);
	free(text);
	free(url);
	return rc;
}

int ctl_call(struct ctl_conn *conn, const char *method, const char *path,
             json_t *body, json_t **out, long *status)
{
	return ctl_call_ex(conn, method, path, body, out, status, 0);
}

/* Header callback of the login: keeps the mc_session cookie. */
static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
	static const char name[] = "set-cookie:";
	char **cookie = arg;
	size_t n = size * nmemb, i = sizeof(name) - 1, end;

	if (n <= i || strncasecmp(ptr, name, i) != 0)
		return n;
	while (i < n && (ptr[i] == ' ' || ptr[i] == '\t'))
		i++;
	if (n - i < 11 || strncmp(ptr + i, "mc_session=", 11) != 0)
		return n;
	end = i;
	while (end < n && ptr[end] != ';' && ptr[end] != '\r' &&
	       ptr[end] != '\n')
		end++;
	free_secret(cookie);
	*cookie = strndup(ptr + i, end - i);
	return n;
}

int ctl_login_session(struct ctl_conn *conn, const char *name,
                      const char *password, json_t **out)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct buf b = {0};
	char *url = NULL, *text = NULL, *cookie = NULL;
	json_t *body = NULL, *doc = NULL, *csrf;
	long st = 0;
	CURL *c;
	CURLcode cc;
	int rc = MC_CTL_FAIL;

	if (out)
		*out = NULL;
	free_secret(&conn->cookie);
	free_secret(&conn->csrf);
	c = handle(conn);
	url = mc_printf("%s/v1/auth/login", conn->url);
	body = json_pack("{s:s, s:s}", "user", name, "password", password);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	/* No token and no cookie: a login is anonymous. */
	{
		char *tok = conn->token;

		conn->token = NULL;
		h = headers(conn, "application/json");
		conn->token = tok;
	}
	if (!c || !url || !text || !h) {
		rc = ctl_fail(conn->what, "out of memory");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &cookie);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = transport_error(conn, cc, errbuf);
		goto fail;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	rc = finish(conn, st, &b, &doc, 0);
	if (rc != MC_CTL_OK)
		goto fail;
	csrf = json_object_get(doc, "csrf");
	if (!cookie || !json_is_string(csrf)) {
		rc = ctl_fail(conn->what, "the controller's login answer has "
		                          "no session cookie or CSRF token");
		goto fail;
	}
	conn->csrf = strdup(json_string_value(csrf));
	conn->cookie = cookie;
	cookie = NULL;
	if (!conn->csrf) {
		rc = ctl_fail(conn->what, "out of memory");
		goto fail;
	}
	if (out) {
		*out = doc;
		doc = NULL;
	}
	rc = MC_CTL_OK;
fail:
	if (text)
		memset(text, 0, strlen(text));
	free(text);
	json_decref(body);
	json_decref(doc);
	free_secret(&cookie);
	curl_slist_free_all(h);
	buf_free(&b);
	free(url);
	return rc;
}

/* stdin copied into an unnamed temporary file, so that its size is
 * known (the server checks Content-Length before it takes a body). */
static FILE *spool_stdin(const char *what)
{
	FILE *f = tmpfile();
	char chunk[65536];
	size_t n;

	if (!f) {
		ctl_fail(what, "cannot create a temporary file: %s",
		         strerror(errno));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		if (fwrite(chunk, 1, n, f) != n) {
			ctl_fail(what, "temporary file: %s", strerror(errno));
			fclose(f);
			return NULL;
		}
	if (ferror(stdin) || fflush(f) != 0 || fseeko(f, 0, SEEK_SET) != 0) {
		ctl_fail(what, "reading stdin: %s", strerror(errno));
		fclose(f);
		return NULL;
	}
	return f;
}

int ctl_upload(struct ctl_conn *conn, const char *method, const char *path,
               const char *file, const char *content_type, json_t **out,
               long *status)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct progress prog = {.verb = "sent"};
	struct buf b = {0};
	struct stat sb;
	bool bar = isatty(STDERR_FILENO);
	char *url = NULL;
	FILE *f = NULL;
	long st = 0;
	CURL *c;
	CURLcode cc;
	int rc = MC_CTL_FAIL;

	if (out)
		*out = NULL;
	if (strcmp(file, "-") == 0) {
		f = spool_stdin(conn->what);
		if (!f)
			goto fail;
	} else {
		f = fopen(file, "rb");
		if (!f) {
			rc = ctl_fail(conn->what, "%s: %s", file,
			              strerror(errno));
			goto fail;
		}
	}
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		rc = ctl_fail(conn->what, "%s: not a regular file", file);
		goto fail;
	}
	c = handle(conn);
	url = mc_printf("%s%s", conn->url, path);
	h = headers(conn,
	            content_type ? content_type : "application/octet-stream");
	if (!c || !url || !h) {
		rc = ctl_fail(conn->what, "out of memory");
		goto fail;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_buf);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_READDATA, f);
	curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)sb.st_size);
	if (bar) {
		prog.start_ms = mc_mono_ms();
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &prog);
	}
	cc = curl_easy_perform(c);
	if (prog.drawn)
		progress_draw(&prog, (curl_off_t)sb.st_size,
		              (curl_off_t)sb.st_size, true);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (cc != CURLE_OK && !(st >= 400 && b.len)) {
		/* A server that refuses a body early (413) may close before
		 * taking it all: its answer, when there is one, says more
		 * than "connection reset". */
		rc = transport_error(conn, cc, errbuf);
		goto fail;
	}
	rc = finish(conn, st, &b, out, 0);
fail:
	if (status)
		*status = st;
	if (f)
		fclose(f);
	curl_slist_free_all(h);
	buf_free(&b);
	free(url);
	return rc;
}

static size_t to_sink(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (!s->status) {
		long st = 0;

		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &st);
		s->status = (int)st;
	}
	if (s->status < 200 || s->status >= 300)
		return to_buf(ptr, size, nmemb, &s->err);
	if (fwrite(ptr, 1, n, s->f) != n) {
		s->failed = true;
		return 0;
	}
	s->bytes += (int64_t)n;
	return n;
}

int ctl_download(struct ctl_conn *conn, const char *path, const char *out_file,
                 int64_t *bytes, long *status)
{
	return ctl_download_ex(conn, "GET", path, out_file, bytes, status);
}

int ctl_download_ex(struct ctl_conn *conn, const char *method, const char *path,
                    const char *out_file, int64_t *bytes, long *status)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_slist *h = NULL;
	struct progress prog = {.verb = "received"};
	struct sink s = {0};
	bool to_stdout = strcmp(out_file, "-") == 0;
	bool bar = isatty(STDERR_FILENO);
	char *url = NULL, *part = NULL;
	long st = 0;
	int fd;
	CURL *c;
	CURLcode cc;
	int rc = MC_CTL_FAIL;

	if (bytes)
		*bytes = 0;
	c = handle(conn);
	url = mc_printf("%s%s", conn->url, path);
	h = headers(conn, NULL);
	part = to_stdout ? NULL : mc_printf("%s.part", out_file);
	if (!c || !url || !h || (!to_stdout && !part)) {
		rc = ctl_fail(conn->what, "out of memory");
		goto fail;
	}
	if (to_stdout) {
		s.f = stdout;
	} else {
		/* 0600: downloads may be backups holding password hashes. */
		fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		s.f = fd >= 0 ? fdopen(fd, "wb") : NULL;
		if (!s.f) {
			rc = ctl_fail(conn->what, "%s: %s", part,
			              strerror(errno));
			if (fd >= 0)
				close(fd);
			goto fail;
		}
	}
	s.curl = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	if (bar) {
		prog.start_ms = mc_mono_ms();
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, &prog);
	}
	cc = curl_easy_perform(c);
	if (prog.drawn)
		progress_draw(&prog, s.bytes, s.bytes, true);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	if (s.failed) {
		rc = ctl_fail(conn->what, "%s: %s", to_stdout ? "stdout" : part,
		              strerror(errno));
		goto fail;
	}
	if (cc != CURLE_OK) {
		rc = transport_error(conn, cc, errbuf);
		goto fail;
	}
	if (st < 200 || st >= 300) {
		print_error(conn, st, &s.err);
		goto fail;
	}
	if (to_stdout) {
		if (fflush(stdout) != 0) {
			rc = ctl_fail(conn->what, "stdout: %s",
			              strerror(errno));
			goto fail;
		}
	} else {
		int e = 0;

		if (fflush(s.f) != 0 || fsync(fileno(s.f)) != 0)
			e = errno;
		if (fclose(s.f) != 0 && !e)
			e = errno;
		s.f = NULL;
		if (e || rename(part, out_file) != 0) {
			rc = ctl_fail(conn->what, "%s: %s", out_file,
			              strerror(e ? e : errno));
			goto fail;
		}
	}
	if (bytes)
		*bytes = s.bytes;
	rc = MC_CTL_OK;
fail:
	if (status)
		*status = st;
	if (!to_stdout && s.f)
		fclose(s.f);
	if (part && rc != MC_CTL_OK)
		unlink(part);
	curl_slist_free_all(h);
	buf_free(&s.err);
	free(part);
	free(url);
	return rc;
}

char *ctl_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = malloc(n * 3 + 1), *p = out;

	if (!out)
		return NULL;
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		if ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') ||
		    (*q >= '0' && *q <= '9') || *q == '-' || *q == '.' ||
		    *q == '_' || *q == '~') {
			*p++ = (char)*q;
		} else {
			*p++ = '%';
			*p++ = hex[*q >> 4];
			*p++ = hex[*q & 15];
		}
	}
	*p = '\0';
	return out;
}

/* ---- output ------------------------------------------------------------ */

void ctl_print_json(json_t *doc)
{
	if (!doc)
		return;
	json_dumpf(doc, stdout,
	           JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	fputc('\n', stdout);
}

int ctl_print(const struct ctl_conn *conn, json_t *doc,
              void (*table)(json_t *doc))
{
	if (conn->json || !table)
		ctl_print_json(doc);
	else
		table(doc);
	return MC_CTL_OK;
}

size_t ctl_text_width(const char *s)
{
	const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
	size_t w = 0;

	while (*p) {
		utf8proc_int32_t cp;
		utf8proc_ssize_t n = utf8proc_iterate(p, -1, &cp);

		if (n <= 0) {
			w++; /* an invalid byte shows as one replacement */
			p++;
			continue;
		}
		w += (size_t)utf8proc_charwidth(cp);
		p += n;
	}
	return w;
}

/* A table under construction. */
struct ctl_table {
	size_t ncols; /* columns */
	char **head;  /* ncols header texts, without '>' (owned) */
	bool *right;  /* ncols: right-aligned */
	char **cells; /* nrows * ncols cells (owned) */
	size_t nrows; /* rows added */
	size_t cap;   /* rows room in cells */
	bool oom;     /* an allocation failed: rows were lost */
};

/* A cell copied with control characters (newlines, escapes) turned into
 * blanks: a name must not break the table or drive the terminal. */
static char *cell_copy(const char *s)
{
	char *c = strdup(s ? s : "-");

	for (char *p = c; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return c;
}

struct ctl_table *ctl_table_new(size_t ncols, ...)
{
	struct ctl_table *t = calloc(1, sizeof(*t));
	va_list ap;

	if (!t)
		return NULL;
	t->ncols = ncols;
	t->head = calloc(ncols ? ncols : 1, sizeof(*t->head));
	t->right = calloc(ncols ? ncols : 1, sizeof(*t->right));
	if (!t->head || !t->right) {
		ctl_table_free(t);
		return NULL;
	}
	va_start(ap, ncols);
	for (size_t i = 0; i < ncols; i++) {
		const char *h = va_arg(ap, const char *);

		if (h && h[0] == '>') {
			t->right[i] = true;
			h++;
		}
		t->head[i] = cell_copy(h ? h : "");
		if (!t->head[i])
			t->oom = true;
	}
	va_end(ap);
	return t;
}

void ctl_table_rowv(struct ctl_table *t, const char *const *cells)
{
	if (!t)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **p = realloc(t->cells, cap * t->ncols * sizeof(*p));

		if (!p) {
			t->oom = true;
			return;
		}
		t->cells = p;
		t->cap = cap;
	}
	for (size_t i = 0; i < t->ncols; i++) {
		char *c = cell_copy(cells[i]);

		if (!c)
			t->oom = true;
		t->cells[t->nrows * t->ncols + i] = c;
	}
	t->nrows++;
}

void ctl_table_row(struct ctl_table *t, ...)
{
	const char *cells[64];
	va_list ap;

	if (!t || t->ncols > MC_ARRAY_LEN(cells))
		return;
	va_start(ap, t);
	for (size_t i = 0; i < t->ncols; i++)
		cells[i] = va_arg(ap, const char *);
	va_end(ap);
	ctl_table_rowv(t, cells);
}

size_t ctl_table_rows(const struct ctl_table *t)
{
	return t ? t->nrows : 0;
}

/* One cell padded to width w (left or right), then the gap. */
static void put_cell(FILE *out, const char *s, size_t w, bool right, bool last)
{
	size_t sw = ctl_text_width(s);
	size_t pad = w > sw ? w - sw : 0;

	if (right)
		fprintf(out, "%*s", (int)pad, "");
	fputs(s, out);
	if (!right && !last)
		fprintf(out, "%*s", (int)pad, "");
	if (!last)
		fputs("  ", out);
}

void ctl_table_print(const struct ctl_table *t, FILE *out)
{
	size_t *w;

	if (!t)
		return;
	w = calloc(t->ncols ? t->ncols : 1, sizeof(*w));
	if (!w)
		return;
	for (size_t i = 0; i < t->ncols; i++) {
		w[i] = ctl_text_width(t->head[i] ? t->head[i] : "");
		for (size_t r = 0; r < t->nrows; r++) {
			const char *c = t->cells[r * t->ncols + i];
			size_t cw = ctl_text_width(c ? c : "");

			if (cw > w[i])
				w[i] = cw;
		}
	}
	for (size_t i = 0; i < t->ncols; i++)
		put_cell(out, t->head[i] ? t->head[i] : "", w[i], t->right[i],
		         i + 1 == t->ncols);
	fputc('\n', out);
	for (size_t r = 0; r < t->nrows; r++) {
		for (size_t i = 0; i < t->ncols; i++) {
			const char *c = t->cells[r * t->ncols + i];

			put_cell(out, c ? c : "", w[i], t->right[i],
			         i + 1 == t->ncols);
		}
		fputc('\n', out);
	}
	if (t->oom)
		fprintf(stderr, "minecastctl: out of memory: rows are "
		                "missing from the table\n");
	free(w);
}

void ctl_table_free(struct ctl_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->head && i < t->ncols; i++)
		free(t->head[i]);
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->head);
	free(t->right);
	free(t->cells);
	free(t);
}

/* A scalar's text into buf; false for arrays and objects. */
static bool scalar_text(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		snprintf(buf, len, "%s", json_string_value(v));
		return true;
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT,
		         json_integer_value(v));
		return true;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return true;
	case JSON_TRUE: snprintf(buf, len, "yes"); return true;
	case JSON_FALSE: snprintf(buf, len, "no"); return true;
	case JSON_NULL: snprintf(buf, len, "-"); return true;
	default: return false;
	}
}

const char *ctl_cell(const json_t *obj, const char *key, char *buf, size_t len)
{
	const json_t *v = json_object_get(obj, key);
	char one[256];
	size_t used = 0;
	size_t i;
	json_t *x;
	char *dump;

	if (!len)
		return "";
	buf[0] = '\0';
	if (!v) {
		snprintf(buf, len, "-");
		return buf;
	}
	if (scalar_text(v, buf, len))
		return buf;
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
		{
			if (!scalar_text(x, one, sizeof(one))) {
				dump = json_dumps(x, JSON_COMPACT);
				snprintf(one, sizeof(one), "%s",
				         dump ? dump : "?");
				free(dump);
			}
			int n = snprintf(buf + used, len - used, "%s%s",
			                 i ? "," : "", one);
			if (n < 0 || (size_t)n >= len - used)
				break;
			used += (size_t)n;
		}
		if (json_array_size(v) == 0)
			snprintf(buf, len, "-");
		return buf;
	}
	dump = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
	snprintf(buf, len, "%s", dump ? dump : "?");
	free(dump);
	return buf;
}

const char *ctl_fmt_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;

	if (ms <= 0) {
		snprintf(buf, len, "-");
		return buf;
	}
	t = (time_t)(ms / 1000);
	if (!localtime_r(&t, &tm) ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%" PRId64, ms);
	return buf;
}

const char *ctl_fmt_bytes(int64_t n, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)n;
	size_t u = 0;

	if (n < 1024 && n > -1024) {
		snprintf(buf, len, "%" PRId64 " B", n);
		return buf;
	}
	v /= 1024.0;
	while ((v >= 1024.0 || v <= -1024.0) && u + 1 < MC_ARRAY_LEN(units)) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
}

/* ---- the terminal ------------------------------------------------------ */

int ctl_read_password(const char *what, const char *prompt, bool from_stdin,
                      char *buf, size_t len)
{
	struct termios old, quiet;
	bool restore = false;
	FILE *tty = NULL;
	FILE *in = stdin;
	size_t n;
	int rc = MC_CTL_FAIL;

	buf[0] = '\0';
	if (!from_stdin) {
		tty = fopen("/dev/tty", "r+");
		if (!tty) {
			rc = ctl_fail(what, "no terminal to ask for the "
			                    "password; give --password-stdin");
			goto fail;
		}
		in = tty;
		fputs(prompt, tty);
		fflush(tty);
		if (tcgetattr(fileno(tty), &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			quiet.c_lflag |= ECHONL;
			restore =
			        tcsetattr(fileno(tty), TCSAFLUSH, &quiet) == 0;
		}
	}
	if (!fgets(buf, (int)len, in)) {
		buf[0] = '\0';
		rc = ctl_fail(what, "no password given");
		goto fail;
	}
	n = strlen(buf);
	if (n == len - 1 && buf[n - 1] != '\n') {
		memset(buf, 0, len);
		rc = ctl_fail(what, "the password is longer than %zu bytes",
		              len - 2);
		goto fail;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0) {
		rc = ctl_fail(what, "the password is empty");
		goto fail;
	}
	rc = MC_CTL_OK;
fail:
	if (restore)
		tcsetattr(fileno(tty), TCSAFLUSH, &old);
	if (tty)
		fclose(tty);
	return rc;
}

bool ctl_confirm(const char *question)
{
	FILE *tty = fopen("/dev/tty", "r+");
	char line[32];
	bool yes = false;

	if (!tty)
		return false;
	fprintf(tty, "%s [y/N] ", question);
	fflush(tty);
	if (fgets(line, sizeof(line), tty))
		yes = line[0] == 'y' || line[0] == 'Y' || line[0] == 'c' ||
		      line[0] == 'C';
	fclose(tty);
	return yes;
}
