/*
 * minecast-controller — the HTTP server (http.h) on libmicrohttpd.
 *
 * One request goes through these steps, in libmicrohttpd's calls of
 * handle():
 *   first call   match the route (404 / 405), refuse a Content-Length over
 *                the route's limit (413), authenticate and check roles and
 *                CSRF (401 / 403), all before a byte of body is read;
 *   body calls   append to memory, or to a spool file for MCC_SPOOL
 *                routes, refusing (413) a chunked body that grows too big;
 *   last call    run the handler and queue what it answered.
 * completed() then records the latency by route pattern and removes the
 * spool file.  A handler that answers nothing gets a 500, never a hang.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <sodium.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "db.h"
#include "http.h"
#include "mcc.h"
#include "metrics.h"
#include "routes.h"

/* Default body limit of a route without its own. */
#define DEFAULT_MAX_BODY ((size_t)1024 * 1024)

/* Longest path routed; longer ones are 404 (414 would leak nothing more). */
#define MAX_PATH_BYTES 1024

/* Seconds a connection may stay idle. */
#define IDLE_TIMEOUT_S 60

struct mcc_http {
	struct MHD_Daemon *d; /* the server */
	int port;             /* bound port */
};

/* A response header set by a handler. */
struct hdr {
	char *name;       /* "Content-Disposition" (owned) */
	char *value;      /* its value (owned) */
	struct hdr *next; /* next header, in reverse order of setting */
};

struct mcc_resp {
	bool set;         /* a handler answered */
	int status;       /* HTTP status */
	char *ctype;      /* Content-Type (owned); NULL = none */
	char *data;       /* body bytes (owned, free()) */
	size_t len;       /* bytes of data */
	int fd;           /* file body when >= 0 (owned) */
	uint64_t off;     /* first byte of the file sent */
	uint64_t flen;    /* bytes of the file sent */
	struct hdr *hdrs; /* extra headers */
};

/* The state of one request across libmicrohttpd's calls. */
struct reqstate {
	struct mcc_req rq;             /* what the handler sees */
	const struct mcc_route *route; /* matched route; NULL = none */
	char path[MAX_PATH_BYTES + 1]; /* copy split into params */
	char *body;                    /* body in memory (grows) */
	size_t cap;                    /* bytes allocated for body */
	size_t max;                    /* body limit */
	int spool_fd;                  /* MCC_SPOOL: the temp file */
	char *spool_path;              /* its path (owned) */
	bool too_large;                /* the body passed max */
	bool io_error;                 /* spooling failed */
	bool answered;                 /* a response is queued */
	int status;                    /* what was answered */
	int64_t t0;                    /* monotonic ms at the first call */
};

/* ---- responses ---- */

static void resp_init(struct mcc_resp *rs)
{
	memset(rs, 0, sizeof(*rs));
	rs->fd = -1;
}

/* Drop the body of a response (headers stay). */
static void resp_clear_body(struct mcc_resp *rs)
{
	MC_FREE(rs->ctype);
	MC_FREE(rs->data);
	rs->len = 0;
	if (rs->fd >= 0)
		close(rs->fd);
	rs->fd = -1;
}

static void resp_free(struct mcc_resp *rs)
{
	struct hdr *h, *next;

	resp_clear_body(rs);
	for (h = rs->hdrs; h; h = next) {
		next = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	rs->hdrs = NULL;
}

void mcc_resp_header(struct mcc_resp *rs, const char *name, const char *value)
{
	struct hdr *h = calloc(1, sizeof(*h));

	if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
		if (h)
			free(h->name);
		free(h);
		return;
	}
	h->next = rs->hdrs;
	rs->hdrs = h;
}

static bool has_header(const struct mcc_resp *rs, const char *name)
{
	for (const struct hdr *h = rs->hdrs; h; h = h->next)
		if (strcasecmp(h->name, name) == 0)
			return true;
	return false;
}

void mcc_resp_bytes(struct mcc_resp *rs, int status, const char *content_type,
                    char *data, size_t len)
{
	resp_clear_body(rs);
	rs->set = true;
	rs->status = status;
	rs->ctype = mc_strdup(content_type);
	rs->data = data;
	rs->len = data ? len : 0;
}

void mcc_resp_json(struct mcc_resp *rs, int status, json_t *doc)
{
	char *text;

	if (!doc) {
		mcc_resp_error(rs, 500, NULL,
		               "lỗi máy chủ: hết bộ nhớ / server error: out of "
		               "memory");
		return;
	}
	text = json_dumps(doc, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(doc);
	if (!text) {
		mcc_resp_error(rs, 500, NULL,
		               "lỗi máy chủ: hết bộ nhớ / server error: out of "
		               "memory");
		return;
	}
	mcc_resp_bytes(rs, status, "application/json; charset=utf-8", text,
	               strlen(text));
}

static void resp_verror(struct mcc_resp *rs, int status, const char *field,
                        const char *fmt, va_list ap)
        __attribute__((format(printf, 4, 0)));

static void resp_verror(struct mcc_resp *rs, int status, const char *field,
                        const char *fmt, va_list ap)
{
	char msg[1024];
	json_t *err, *doc;
	char *text;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	err = json_pack("{s:i, s:s}", "status", status, "message", msg);
	if (err && field)
		json_object_set_new(err, "field", json_string(field));
	doc = err ? json_pack("{s:o}", "error", err) : NULL;
	text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!text) {
		/* The one answer that needs no memory. */
		static const char oom[] =
		        "{\"error\":{\"status\":500,\"message\":\"out of "
		        "memory\"}}";

		text = strdup(oom);
		status = 500;
	}
	mcc_resp_bytes(rs, status, "application/json; charset=utf-8", text,
	               text ? strlen(text) : 0);
}

void mcc_resp_error(struct mcc_resp *rs, int status, const char *field,
                    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	resp_verror(rs, status, field, fmt, ap);
	va_end(ap);
}

/* Does s[0..n) look like a field path ("entries[2].rrule", "text")? */
static bool field_like(const char *s, size_t n)
{
	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
		      ch == '[' || ch == ']' || ch == '-'))
			return false;
	}
	return true;
}

int mcc_http_status_of(enum mc_err code)
{
	switch (code) {
	case MC_OK: return 200;
	case MC_ERR_PARSE:
	case MC_ERR_TYPE:
	case MC_ERR_RANGE:
	case MC_ERR_MISSING:
	case MC_ERR_UTF8:
	case MC_ERR_REF:
	case MC_ERR_TZ:
	case MC_ERR_UNSUPPORTED: /* a rule or version the input asks for */
	case MC_ERR_INVAL: return 400;
	case MC_ERR_TOO_LARGE: return 413;
	case MC_ERR_AUTH: return 401;
	case MC_ERR_FORBIDDEN: return 403;
	case MC_ERR_NOTFOUND: return 404;
	case MC_ERR_EXISTS:
	case MC_ERR_CONFLICT: return 409;
	case MC_ERR_MEDIA: return 422;
	default: return 500;
	}
}

void mcc_resp_mc_error(struct mcc_resp *rs, const struct mc_error *err)
{
	const char *sep = strstr(err->msg, ": ");
	char field[129];
	int status = mcc_http_status_of(err->code);

	if (status == 200)
		status = 500;
	if (sep && field_like(err->msg, (size_t)(sep - err->msg))) {
		snprintf(field, sizeof(field), "%.*s", (int)(sep - err->msg),
		         err->msg);
		mcc_resp_error(rs, status, field, "%s", err->msg);
	} else {
		mcc_resp_error(rs, status, NULL, "%s",
		               err->msg[0] ? err->msg : mc_strerror(err->code));
	}
}

/* Does If-None-Match (a list, possibly weak tags, or "*") match etag? */
static bool etag_matches(const char *inm, const char *quoted)
{
	size_t ql = strlen(quoted);
	const char *p = inm;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, quoted, ql) == 0 &&
		    (p[ql] == '\0' || p[ql] == ',' || p[ql] == ' ' ||
		     p[ql] == '\t'))
			return true;
		while (*p && *p != ',')
			p++;
	}
	return false;
}

/* Decimal digits into *v; false on none or overflow. */
static bool range_num(const char **s, uint64_t *v)
{
	const char *p = *s;
	uint64_t n = 0;

	if (*p < '0' || *p > '9')
		return false;
	while (*p >= '0' && *p <= '9') {
		if (n > (UINT64_MAX - 9) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
		p++;
	}
	*s = p;
	*v = n;
	return true;
}

/*
 * Parse "bytes=a-b", "bytes=a-", "bytes=-n" against size.  Returns 1 with
 * [*from, *to] (inclusive) for a satisfiable single range, 0 to send the
 * whole file (no header, bad syntax, several ranges: RFC 9110 lets a
 * server ignore those), -1 for an unsatisfiable one (416).
 */
static int parse_range(const char *h, uint64_t size, uint64_t *from,
                       uint64_t *to)
{
	const char *p = h;
	uint64_t a = 0, b = 0;
	bool have_a, have_b;

	if (!h || strncasecmp(p, "bytes=", 6) != 0)
		return 0;
	p += 6;
	while (*p == ' ')
		p++;
	have_a = range_num(&p, &a);
	if (*p++ != '-')
		return 0;
	have_b = range_num(&p, &b);
	while (*p == ' ')
		p++;
	if (*p || (!have_a && !have_b))
		return 0; /* a list of ranges or junk */
	if (!have_a) {
		/* The last b bytes. */
		if (b == 0 || size == 0)
			return -1;
		*from = b >= size ? 0 : size - b;
		*to = size - 1;
		return 1;
	}
	if (have_b && b < a)
		return 0;
	if (a >= size)
		return -1;
	*from = a;
	*to = have_b && b < size ? b : size - 1;
	return 1;
}

/* The request behind rs, for headers.  Set while a handler runs. */
static __thread struct mcc_req *current_rq;

void mcc_resp_file(struct mcc_resp *rs, const char *path,
                   const char *content_type, const char *etag, bool immutable)
{
	char quoted[160], cr[96];
	const char *inm = NULL, *range = NULL;
	struct stat st;
	uint64_t from = 0, to = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		mcc_resp_error(rs, 404, NULL,
		               "không tìm thấy tệp / file not found");
		return;
	}
	if (current_rq) {
		inm = mcc_req_header(current_rq, "If-None-Match");
		range = mcc_req_header(current_rq, "Range");
	}
	if (etag) {
		snprintf(quoted, sizeof(quoted), "\"%s\"", etag);
		mcc_resp_header(rs, "ETag", quoted);
	}
	if (immutable)
		mcc_resp_header(rs, "Cache-Control",
		                "public, max-age=31536000, immutable");
	mcc_resp_header(rs, "Accept-Ranges", "bytes");
	if (etag && inm && etag_matches(inm, quoted)) {
		close(fd);
		mcc_resp_bytes(rs, 304, NULL, NULL, 0);
		return;
	}
	r = parse_range(range, (uint64_t)st.st_size, &from, &to);
	if (r < 0) {
		close(fd);
		snprintf(cr, sizeof(cr), "bytes */%" PRIu64,
		         (uint64_t)st.st_size);
		mcc_resp_header(rs, "Content-Range", cr);
		mcc_resp_error(rs, 416, NULL,
		               "khoảng byte không hợp lệ / range not "
		               "satisfiable");
		return;
	}
	resp_clear_body(rs);
	rs->set = true;
	rs->ctype = mc_strdup(content_type ? content_type
	                                   : "application/octet-stream");
	rs->fd = fd;
	if (r > 0) {
		rs->status = 206;
		rs->off = from;
		rs->flen = to - from + 1;
		snprintf(cr, sizeof(cr),
		         "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to,
		         (uint64_t)st.st_size);
		mcc_resp_header(rs, "Content-Range", cr);
	} else {
		rs->status = 200;
		rs->off = 0;
		rs->flen = (uint64_t)st.st_size;
	}
}

/* Turn rs into a libmicrohttpd response; NULL when out of memory. */
static struct MHD_Response *build(struct mcc_resp *rs)
{
	struct MHD_Response *r;

	if (rs->fd >= 0) {
		r = MHD_create_response_from_fd_at_offset64(rs->flen, rs->fd,
		                                            rs->off);
		if (r)
			rs->fd = -1; /* closed by libmicrohttpd */
	} else {
		r = MHD_create_response_from_buffer(rs->len, rs->data,
		                                    MHD_RESPMEM_MUST_FREE);
		if (r)
			rs->data = NULL;
	}
	if (!r)
		return NULL;
	if (rs->ctype)
		MHD_add_response_header(r, "Content-Type", rs->ctype);
	for (struct hdr *h = rs->hdrs; h; h = h->next)
		MHD_add_response_header(r, h->name, h->value);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	if (!has_header(rs, "Cache-Control"))
		MHD_add_response_header(r, "Cache-Control", "no-store");
	return r;
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct reqstate *s,
                             struct mcc_resp *rs)
{
	struct MHD_Response *r;
	enum MHD_Result ok;

	if (!rs->set)
		mcc_resp_error(rs, 500, NULL,
		               "lỗi máy chủ: không có trả lời / server error: "
		               "the handler gave no answer");
	r = build(rs);
	if (!r) {
		resp_free(rs);
		return MHD_NO;
	}
	s->status = rs->status;
	s->answered = true;
	ok = MHD_queue_response(conn, (unsigned)rs->status, r);
	MHD_destroy_response(r);
	resp_free(rs);
	return ok;
}

/* ---- requests ---- */

const char *mcc_req_query(struct mcc_req *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND,
	                                   key);
}

const char *mcc_req_header(struct mcc_req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

void mcc_resp_page(struct mcc_resp *rs, json_t *items, int64_t total,
                   int64_t limit, int64_t offset)
{
	mcc_resp_json(rs, 200,
	              json_pack("{s:o, s:I, s:I, s:I}", "items", items, "total",
	                        (json_int_t)total, "limit", (json_int_t)limit,
	                        "offset", (json_int_t)offset));
}

void mcc_resp_db_error(struct mcc_resp *rs)
{
	mcc_resp_error(rs, 500, NULL, "cơ sở dữ liệu lỗi / database error");
}

bool mcc_req_keys_known(json_t *body, const char *const *allowed,
                        struct mcc_resp *rs)
{
	const char *k;
	json_t *v;

	json_object_foreach(body, k, v)
	{
		bool known = false;

		for (size_t i = 0; allowed[i]; i++)
			known = known || strcmp(k, allowed[i]) == 0;
		if (!known) {
			mcc_resp_error(rs, 400, k,
			               "%s: trường không được hỗ trợ / unknown "
			               "field",
			               k);
			return false;
		}
	}
	return true;
}

bool mcc_req_query_int(struct mcc_req *rq, struct mcc_resp *rs, const char *key,
                       int64_t def, int64_t lo, int64_t hi, int64_t *out)
{
	const char *v = mcc_req_query(rq, key);
	char *end;
	long long n;

	*out = def;
	if (!v)
		return true;
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < lo || n > hi) {
		mcc_resp_error(rs, 400, key,
		               "%s: phải là số nguyên %" PRId64 "..%" PRId64
		               " / must be an integer %" PRId64 "..%" PRId64,
		               key, lo, hi, lo, hi);
		return false;
	}
	*out = n;
	return true;
}

json_t *mcc_req_json(struct mcc_req *rq, struct mcc_resp *rs)
{
	json_error_t je;
	json_t *doc;

	if (!rq->body || rq->body_len == 0) {
		mcc_resp_error(rs, 400, "body",
		               "body: trống, cần một đối tượng JSON / empty; "
		               "expected a JSON object");
		return NULL;
	}
	doc = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &je);
	if (!doc) {
		mcc_resp_error(rs, 400, "body",
		               "body: JSON không hợp lệ ở dòng %d cột %d / not "
		               "valid JSON at line %d column %d: %s",
		               je.line, je.column, je.line, je.column, je.text);
		return NULL;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		mcc_resp_error(rs, 400, "body",
		               "body: phải là một đối tượng JSON / must be a "
		               "JSON object");
		return NULL;
	}
	return doc;
}

/* Does path match pattern?  Fills params (pointing into buf). */
static bool match(const char *pattern, char *buf, const char **params,
                  size_t *n_params)
{
	const char *p = pattern;
	char *q = buf;

	*n_params = 0;
	while (*p && *q) {
		if (*p != '/' || *q != '/')
			return false;
		p++;
		q++;
		if (strncmp(p, "{}", 2) == 0 && (p[2] == '/' || !p[2])) {
			char *end = strchr(q, '/');
			size_t n = end ? (size_t)(end - q) : strlen(q);

			if (n == 0 || *n_params == MCC_MAX_PARAMS)
				return false;
			params[(*n_params)++] = q;
			p += 2;
			q += n;
			continue;
		}
		while (*p && *p != '/' && *q && *q != '/' && *p == *q) {
			p++;
			q++;
		}
		if ((*p && *p != '/') || (*q && *q != '/'))
			return false;
	}
	return !*p && !*q;
}

/* MCC_HEX64 routes: every parameter is a sha256. */
static bool hex_ok(const struct mcc_route *r, const char **params, size_t n)
{
	if (!(r->flags & MCC_HEX64))
		return true;
	for (size_t i = 0; i < n; i++) {
		size_t len = strcspn(params[i], "/");

		if (len != 64)
			return false;
		for (size_t j = 0; j < len; j++)
			if (!((params[i][j] >= '0' && params[i][j] <= '9') ||
			      (params[i][j] >= 'a' && params[i][j] <= 'f')))
				return false;
	}
	return true;
}

/*
 * Find the route of method + path.  The params are cut into s->path (a
 * copy whose '/' after each parameter are replaced by NULs once matched).
 * *known tells whether the path exists with another method.
 */
static const struct mcc_route *find_route(struct reqstate *s,
                                          const char *method, bool *known,
                                          char *allow, size_t allow_len)
{
	char buf[MAX_PATH_BYTES + 1];
	const char *params[MCC_MAX_PARAMS];
	size_t n, an = 0, plen = strlen(s->path) + 1;
	bool head = strcmp(method, "HEAD") == 0;

	*known = false;
	allow[0] = '\0';
	for (size_t t = 0; mcc_route_tables[t]; t++) {
		for (const struct mcc_route *r = mcc_route_tables[t]; r->method;
		     r++) {
			memcpy(buf, s->path, plen);
			if (!match(r->pattern, buf, params, &n) ||
			    !hex_ok(r, params, n))
				continue;
			if (strcmp(r->method, method) == 0 ||
			    (head && strcmp(r->method, "GET") == 0)) {
				memcpy(s->path, buf, plen);
				for (size_t i = 0; i < n; i++) {
					size_t len = strcspn(params[i], "/");

					s->path[params[i] - buf + len] = '\0';
					s->rq.params[i] =
					        s->path + (params[i] - buf);
				}
				s->rq.n_params = n;
				return r;
			}
			*known = true;
			if (an < allow_len)
				an += (size_t)snprintf(
				        allow + an, allow_len - an, "%s%s",
				        an ? ", " : "", r->method);
		}
	}
	return NULL;
}

/* Role and CSRF checks; answers and returns false when refused. */
static bool allowed(struct reqstate *s, struct mcc_resp *rs)
{
	const struct mcc_route *r = s->route;
	const struct mcc_principal *who = &s->rq.who;
	const char *csrf;
	bool mutation;

	if (r->roles == 0)
		return true;
	if (who->roles == 0) {
		mcc_resp_header(rs, "WWW-Authenticate",
		                "Bearer realm=\"minecast\"");
		mcc_resp_error(rs, 401, NULL,
		               "cần đăng nhập / authentication required");
		return false;
	}
	if (!(who->roles & MCC_ROLE_ADMIN) && !(who->roles & r->roles)) {
		char need[96];

		mcc_roles_format(r->roles, need, sizeof(need));
		mcc_resp_error(rs, 403, NULL,
		               "không đủ quyền (cần vai trò %s) / forbidden: "
		               "needs role %s",
		               need, need);
		return false;
	}
	mutation = strcmp(s->rq.method, "GET") != 0 &&
	           strcmp(s->rq.method, "HEAD") != 0;
	if (who->via_cookie && mutation && !(r->flags & MCC_NO_CSRF)) {
		csrf = mcc_req_header(&s->rq, "X-CSRF-Token");
		if (!csrf || !who->csrf[0] ||
		    strlen(csrf) != strlen(who->csrf) ||
		    sodium_memcmp(csrf, who->csrf, strlen(csrf)) != 0) {
			mcc_resp_error(rs, 403, NULL,
			               "thiếu hoặc sai mã CSRF / missing or "
			               "wrong X-CSRF-Token");
			return false;
		}
	}
	return true;
}

/* First call: route, size, credentials.  Answers or returns false. */
static bool start(struct mcc *c, struct MHD_Connection *conn,
                  struct reqstate *s, const char *url, const char *method,
                  struct mcc_resp *rs)
{
	char allow[128];
	const char *cl;
	bool known;
	enum mc_err rc;

	if (strlen(url) > MAX_PATH_BYTES || url[0] != '/') {
		mcc_resp_error(rs, 404, NULL,
		               "không có đường dẫn này / no such path");
		return false;
	}
	strcpy(s->path, url);
	s->route = find_route(s, method, &known, allow, sizeof(allow));
	if (!s->route) {
		if (known) {
			mcc_resp_header(rs, "Allow", allow);
			mcc_resp_error(
			        rs, 405, NULL,
			        "phương thức %s không dùng được ở đây "
			        "(dùng %s) / method not allowed here (use "
			        "%s)",
			        method, allow, allow);
		} else {
			mcc_resp_error(rs, 404, NULL,
			               "không có đường dẫn này / no such path: "
			               "%s",
			               url);
		}
		return false;
	}
	s->rq.path = url;
	s->max = s->route->max_body;
	if (s->max == 0)
		s->max = (s->route->flags & MCC_SPOOL)
		                 ? (size_t)c->cfg.max_upload_bytes
		                 : DEFAULT_MAX_BODY;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                 "Content-Length");
	if (cl) {
		char *end;
		unsigned long long n;

		errno = 0;
		n = strtoull(cl, &end, 10);
		if (errno || *end || n > s->max) {
			mcc_resp_error(rs, 413, "body",
			               "body: quá lớn (tối đa %zu byte) / too "
			               "large (at most %zu bytes)",
			               s->max, s->max);
			return false;
		}
	}
	rc = mcc_auth_identify(
	        c,
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	                                    "Authorization"),
	        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Cookie"),
	        &s->rq.who);
	if (rc != MC_OK) {
		memset(&s->rq.who, 0, sizeof(s->rq.who));
		/* A public route works for anyone, even with a stale cookie. */
		if (s->route->roles != 0 || rc != MC_ERR_AUTH) {
			mcc_resp_error(
			        rs, rc == MC_ERR_AUTH ? 401 : 500, NULL,
			        rc == MC_ERR_AUTH
			                ? "thông tin đăng nhập sai hoặc "
			                  "hết hạn / invalid or expired "
			                  "credentials"
			                : "lỗi máy chủ / server error: %s",
			        mc_strerror(rc));
			return false;
		}
	}
	if (!allowed(s, rs))
		return false;
	if (s->route->flags & MCC_SPOOL) {
		s->spool_path = mc_printf("%s/upload-XXXXXX", c->tmp_dir);
		if (s->spool_path)
			s->spool_fd = mkostemp(s->spool_path, O_CLOEXEC);
		if (!s->spool_path || s->spool_fd < 0) {
			mc_log_error("http",
			             "cannot create an upload spool "
			             "file in %s: %s",
			             c->tmp_dir, strerror(errno));
			MC_FREE(s->spool_path);
			s->spool_fd = -1;
			mcc_resp_error(rs, 500, NULL,
			               "lỗi máy chủ: không ghi được tệp tạm / "
			               "server error: cannot store the upload");
			return false;
		}
	}
	return true;
}

/* Body call: keep the bytes (or count them past the limit). */
static void take(struct reqstate *s, const char *data, size_t n)
{
	size_t have = s->rq.body_len;

	if (s->too_large || s->io_error)
		return;
	if (n > s->max - have) {
		s->too_large = true;
		return;
	}
	if (s->spool_fd >= 0) {
		while (n > 0) {
			ssize_t w = write(s->spool_fd, data, n);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				mc_log_error("http",
				             "writing upload spool %s: %s",
				             s->spool_path, strerror(errno));
				s->io_error = true;
				return;
			}
			data += w;
			n -= (size_t)w;
			s->rq.body_len += (size_t)w;
		}
		return;
	}
	if (have + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *p;

		while (cap < have + n + 1)
			cap *= 2;
		p = realloc(s->body, cap);
		if (!p) {
			s->io_error = true;
			return;
		}
		s->body = p;
		s->cap = cap;
	}
	memcpy(s->body + have, data, n);
	s->rq.body_len += n;
	s->body[s->rq.body_len] = '\0';
}

/* Last call: the handler. */
static void run(struct reqstate *s, struct mcc_resp *rs)
{
	if (s->too_large) {
		mcc_resp_error(
		        rs, 413, "body",
		        "body: quá lớn (tối đa %zu byte) / too large (at "
		        "most %zu bytes)",
		        s->max, s->max);
		return;
	}
	if (s->io_error) {
		mcc_resp_error(rs, 500, NULL,
		               "lỗi máy chủ: không nhận được nội dung / server "
		               "error: cannot store the body");
		return;
	}
	if (s->spool_fd >= 0) {
		if (fsync(s->spool_fd) != 0) {
			mcc_resp_error(rs, 500, NULL,
			               "lỗi máy chủ: không ghi được tệp tạm / "
			               "server error: cannot store the upload");
			return;
		}
		close(s->spool_fd);
		s->spool_fd = -1;
		s->rq.body_path = s->spool_path;
		s->rq.body = NULL;
	} else {
		s->rq.body = s->body ? s->body : "";
	}
	current_rq = &s->rq;
	s->route->fn(&s->rq, rs);
	current_rq = NULL;
	mcc_db_rollback(mcc_db(s->rq.c)); /* a handler that forgot */
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls)
{
	struct mcc *c = cls;
	struct reqstate *s = *con_cls;
	struct mcc_resp rs;

	(void)version;
	resp_init(&rs);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return MHD_NO;
		s->spool_fd = -1;
		s->t0 = mc_mono_ms();
		s->rq.c = c;
		s->rq.method = method;
		s->rq.conn = conn;
		*con_cls = s;
		if (!start(c, conn, s, url, method, &rs))
			return queue(conn, s, &rs);
		return MHD_YES;
	}
	if (s->answered) {
		/* Refused early: the rest of the body is not wanted. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		take(s, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	run(s, &rs);
	return queue(conn, s, &rs);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
	struct mcc *c = cls;
	struct reqstate *s = *con_cls;

	(void)conn;
	(void)toe;
	if (!s)
		return;
	mcc_metrics_request(c, s->route ? s->route->pattern : "(unmatched)",
	                    s->answered ? s->status : 499,
	                    (double)(mc_mono_ms() - s->t0) / 1000.0);
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	if (s->spool_path)
		unlink(s->spool_path);
	free(s->spool_path);
	free(s->body);
	free(s);
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char buf[512];
	size_t n;

	(void)cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	mc_log_warn("http", "%s", buf);
}

/* Parse cfg.listen into a socket address. */
static enum mc_err parse_listen(const char *listen, struct sockaddr_storage *ss,
                                bool *v6, struct mc_error *err)
{
	char addr[64];
	const char *colon;
	unsigned long port;
	char *end;
	size_t n;

	memset(ss, 0, sizeof(*ss));
	*v6 = listen[0] == '[';
	if (*v6) {
		const char *e = strchr(listen, ']');

		if (!e || e[1] != ':')
			goto bad;
		n = (size_t)(e - listen - 1);
		colon = e + 1;
		if (n >= sizeof(addr))
			goto bad;
		memcpy(addr, listen + 1, n);
	} else {
		colon = strrchr(listen, ':');
		if (!colon || (size_t)(colon - listen) >= sizeof(addr))
			goto bad;
		n = (size_t)(colon - listen);
		memcpy(addr, listen, n);
	}
	addr[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		goto bad;
	if (*v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, addr, &a->sin6_addr) != 1)
			goto bad;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (strcmp(addr, "*") == 0)
			a->sin_addr.s_addr = htonl(INADDR_ANY);
		else if (inet_pton(AF_INET, addr, &a->sin_addr) != 1)
			goto bad;
	}
	return MC_OK;
bad:
	return mc_error_set(err, MC_ERR_PARSE,
	                    "[controller] listen: '%s' is not ADDR:PORT",
	                    listen);
}

/*
 * Answers go out at once: without TCP_NODELAY a response written in two
 * parts waits for the client's delayed ACK (40 ms on Linux) whenever the
 * kernel holds the second part back (Nagle), which is what the tail of
 * the API latency showed under load.
 */
static void connection_started(void *cls, struct MHD_Connection *conn,
                               void **socket_context,
                               enum MHD_ConnectionNotificationCode toe)
{
	const union MHD_ConnectionInfo *ci;
	int one = 1;

	(void)cls;
	(void)socket_context;
	if (toe != MHD_CONNECTION_NOTIFY_STARTED)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci)
		setsockopt(ci->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one,
		           sizeof(one));
}

enum mc_err mcc_http_start(struct mcc *c, struct mc_error *err)
{
	struct sockaddr_storage ss;
	struct mcc_http *h;
	const union MHD_DaemonInfo *info;
	unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
	bool v6;
	enum mc_err rc;

	rc = parse_listen(c->cfg.listen, &ss, &v6, err);
	if (rc != MC_OK)
		return rc;
	h = calloc(1, sizeof(*h));
	if (!h)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	if (v6)
		flags |= MHD_USE_IPv6;
	h->d = MHD_start_daemon(
	        flags, 0, NULL, NULL, handle, c, MHD_OPTION_EXTERNAL_LOGGER,
	        mhd_log, c, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->cfg.http_threads,
	        MHD_OPTION_NOTIFY_COMPLETED, completed, c,
	        MHD_OPTION_NOTIFY_CONNECTION, connection_started, c,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)IDLE_TIMEOUT_S,
	        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (!h->d) {
		free(h);
		return mc_error_set(
		        err, MC_ERR_IO,
		        "[controller] listen: cannot listen on %s "
		        "(address in use, or not an address of this "
		        "machine?)",
		        c->cfg.listen);
	}
	info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	h->port = info ? info->port : 0;
	c->http = h;
	mc_log_info("http", "listening on %s (port %d, %d threads)",
	            c->cfg.listen, h->port, c->cfg.http_threads);
	return MC_OK;
}

void mcc_http_stop(struct mcc *c)
{
	if (!c->http)
		return;
	MHD_stop_daemon(c->http->d);
	free(c->http);
	c->http = NULL;
}

int mcc_http_port(const struct mcc *c)
{
	return c->http ? c->http->port : 0;
}
