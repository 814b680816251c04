/*
 * The controller's HTTP server (libmicrohttpd, a thread pool).
 *
 * Modules declare routes (routes.c lists every module's table).  http.c
 * matches method and path, refuses a body over the route's limit with 413
 * before reading it, authenticates the caller (auth.h), checks the route's
 * roles (401 without credentials, 403 with the wrong role, 403 for a
 * cookie session without its CSRF header on a mutation), then calls the
 * handler with the whole body, and records the latency for /metrics.
 *
 * Errors are JSON: {"error": {"status": 400, "field": "text",
 * "message": "text: phải có nội dung"}}; field is absent when the error is
 * not about one field.  Messages are in Vietnamese first, the way staff
 * read them (docs/api.md §errors).
 */
#ifndef MCC_HTTP_H
#define MCC_HTTP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "minecast/error.h"

#include "auth.h"
#include "route.h"

struct mcc;
struct MHD_Connection;

#define MCC_MAX_PARAMS 4

struct mcc_req {
	struct mcc *c;
	const char *method;                 /* "GET", "POST", ... */
	const char *path;                   /* decoded path, no query */
	const char *params[MCC_MAX_PARAMS]; /* the {} segments of the route, in
	                                       order */
	size_t n_params;
	const char *body; /* whole body (NUL-terminated copy); NULL if spooled
	                     or none */
	size_t body_len;
	const char *body_path;    /* MCC_SPOOL routes: the body in a temp file,
	                             removed after */
	struct mcc_principal who; /* the authenticated caller */
	struct MHD_Connection *conn; /* for headers and query */
};

struct mcc_resp;

/* Start listening on cfg.listen with cfg.http_threads threads. */
enum mc_err mcc_http_start(struct mcc *c, struct mc_error *err);
void mcc_http_stop(struct mcc *c);
/* Bound port (tests listen on port 0). */
int mcc_http_port(const struct mcc *c);

/* Query parameter or request header; NULL when absent. */
const char *mcc_req_query(struct mcc_req *rq, const char *key);
const char *mcc_req_header(struct mcc_req *rq, const char *name);
/*
 * A whole-number query parameter in [lo, hi] in *out, def when absent.
 * Otherwise answers 400 ("limit: phải là số nguyên 0..1000 / must be an
 * integer 0..1000") and returns false.
 */
bool mcc_req_query_int(struct mcc_req *rq, struct mcc_resp *rs, const char *key,
                       int64_t def, int64_t lo, int64_t hi, int64_t *out);

/*
 * The body as a JSON object.  On failure (empty, not JSON, not an object,
 * invalid UTF-8) the response is set to 400 naming the position, and NULL
 * is returned.  New reference.
 */
json_t *mcc_req_json(struct mcc_req *rq, struct mcc_resp *rs);
/*
 * Every key of body must be one of allowed (NULL-terminated).  Otherwise
 * answers 400 naming the first other key ("x: trường không được hỗ trợ /
 * unknown field") and returns false.
 */
bool mcc_req_keys_known(json_t *body, const char *const *allowed,
                        struct mcc_resp *rs);

/* Respond with JSON (doc reference stolen). */
void mcc_resp_json(struct mcc_resp *rs, int status, json_t *doc);
/* Respond with a JSON error; field may be NULL. */
void mcc_resp_error(struct mcc_resp *rs, int status, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Respond with a JSON error from an mc_error (code → status: PARSE, TYPE,
 * RANGE, MISSING, UTF8, REF, TZ, UNSUPPORTED, INVAL → 400; TOO_LARGE → 413;
 * AUTH → 401; FORBIDDEN → 403; NOTFOUND → 404; EXISTS, CONFLICT → 409; MEDIA →
 * 422; others → 500).  The field is the part of the message before the first ":
 * " when it looks like a field path. */
void mcc_resp_mc_error(struct mcc_resp *rs, const struct mc_error *err);
/* Respond 200 with one page of a list: {"items", "total", "limit",
 * "offset"} (items stolen). */
void mcc_resp_page(struct mcc_resp *rs, json_t *items, int64_t total,
                   int64_t limit, int64_t offset);
/* Respond 500 "cơ sở dữ liệu lỗi / database error" (the cause is in the
 * log, or in none: a query that failed to prepare). */
void mcc_resp_db_error(struct mcc_resp *rs);
/* The HTTP status mcc_resp_mc_error uses for code. */
int mcc_http_status_of(enum mc_err code);
/* Respond with bytes (taken over, freed with free()). */
void mcc_resp_bytes(struct mcc_resp *rs, int status, const char *content_type,
                    char *data, size_t len);
/*
 * Respond with a file: ETag (quoted etag), Range (one range: 206, or 416),
 * If-None-Match (304), Content-Length.  immutable adds Cache-Control for
 * content-addressed URLs.  404 when the file does not exist.
 */
void mcc_resp_file(struct mcc_resp *rs, const char *path,
                   const char *content_type, const char *etag, bool immutable);
/* Add a response header (copied). */
void mcc_resp_header(struct mcc_resp *rs, const char *name, const char *value);

#endif
