/*
 * Unit tests of the controller's HTTP server (http.c) and the core
 * endpoints (auth.c, audit.c, blob.c, metrics.c) over a real socket: the
 * server listens on 127.0.0.1 port 0 and the tests speak HTTP/1.1 to it
 * byte by byte, so that malformed and oversized requests can be sent as
 * a hostile client would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "mc_test.h"
#include "minecast/util.h"

#include "auth.h"
#include "blob.h"
#include "db.h"
#include "http.h"
#include "mcc.h"

struct fixture {
	char dir[64];      /* temporary directory: the data dir */
	struct mcc c;      /* the controller, HTTP started */
	int port;          /* its port */
	char admin[96];    /* "Authorization: Bearer ..." of admin */
	char editor[96];   /* of an editor */
	char approver[96]; /* of an approver */
};

/* One response. */
struct resp {
	int status;      /* HTTP status */
	char *head;      /* status line and headers (owned) */
	char *body;      /* body, NUL-terminated (owned) */
	size_t body_len; /* bytes of body */
	json_t *json;    /* body parsed when it is JSON, else NULL */
};

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

/* A header's value in r (case-insensitive name), copied into buf. */
static const char *header(const struct resp *r, const char *name, char *buf,
                          size_t len)
{
	const char *p = r->head;
	size_t nl = strlen(name);

	while ((p = strstr(p, "\r\n"))) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1, *e;

			while (*v == ' ')
				v++;
			e = strstr(v, "\r\n");
			snprintf(buf, len, "%.*s",
			         (int)(e ? (size_t)(e - v) : strlen(v)), v);
			return buf;
		}
	}
	return NULL;
}

/* Send raw bytes, read the whole answer (the server closes). */
static void raw(struct fixture *f, const char *req, size_t len, struct resp *r)
{
	struct timeval tmo = {30, 0};
	struct sockaddr_in a;
	char *buf = NULL, *sep;
	size_t have = 0, cap = 0;
	ssize_t n;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(r, 0, sizeof(*r));
	assert_true(fd >= 0);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)f->port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	/*
	 * A refused body may be cut off; that is the point of 413.  The
	 * socket stays open for writing, as a real client's does: the
	 * server must answer without waiting for the rest.
	 */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	(void)!send(fd, req, len, MSG_NOSIGNAL);
	for (;;) {
		if (have + 4097 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		n = recv(fd, buf + have, cap - have - 1, 0);
		if (n <= 0)
			break;
		have += (size_t)n;
	}
	close(fd);
	assert_non_null(buf);
	buf[have] = '\0';
	sep = strstr(buf, "\r\n\r\n");
	if (!sep)
		fail_msg("no complete response to %.200s: %s", req, buf);
	r->head = strndup(buf, (size_t)(sep - buf) + 2);
	r->body_len = have - (size_t)(sep + 4 - buf);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, sep + 4, r->body_len);
	r->body[r->body_len] = '\0';
	assert_int_equal(sscanf(buf, "HTTP/1.1 %d", &r->status), 1);
	r->json = json_loadb(r->body, r->body_len, 0, NULL);
	free(buf);
}

/*
 * A request: extra headers ("Name: value\r\n" each, may be ""), a body
 * (may be NULL) sent with Content-Length.
 */
static void http(struct fixture *f, const char *method, const char *path,
                 const char *headers, const char *body, struct resp *r)
{
	char *req = mc_printf("%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
	                      "Connection: close\r\n%s",
	                      method, path, headers ? headers : "");
	char *full;

	assert_non_null(req);
	if (body)
		full = mc_printf("%sContent-Type: application/json\r\n"
		                 "Content-Length: %zu\r\n\r\n%s",
		                 req, strlen(body), body);
	else
		full = mc_printf("%s\r\n", req);
	assert_non_null(full);
	raw(f, full, strlen(full), r);
	free(req);
	free(full);
}

/* The error object's field ("" when none) and status check. */
static void expect_error(struct resp *r, int status, const char *field,
                         const char *what)
{
	json_t *e = json_object_get(r->json, "error");
	const char *fv = json_string_value(json_object_get(e, "field"));

	if (r->status != status || !e ||
	    json_integer_value(json_object_get(e, "status")) != status ||
	    !json_is_string(json_object_get(e, "message")) ||
	    strcmp(fv ? fv : "", field) != 0)
		fail_msg("%s: got %d %s, expected %d field \"%s\"", what,
		         r->status, r->body, status, field);
}

static void make_user(struct fixture *f, const char *name, unsigned roles,
                      char *auth, size_t len)
{
	struct mc_error err;
	char token[MCC_TOKEN_SIZE];
	int64_t id;

	if (mcc_user_create(&f->c, name, "mật-khẩu-dài", roles, &id, &err) !=
	    MC_OK)
		fail_msg("user %s: %s", name, err.msg);
	assert_int_equal(
	        mcc_token_create(&f->c, id, "test", 0, token, NULL, &err),
	        MC_OK);
	snprintf(auth, len, "Authorization: Bearer %s\r\n", token);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct mc_error err;
	char buf[256];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-http-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(mcc_config_load(&f->c.cfg, NULL, &err), MC_OK);
	snprintf(buf, sizeof(buf), "controller.data_dir=%s/data", f->dir);
	assert_int_equal(mcc_config_set(&f->c.cfg, buf, &err), MC_OK);
	assert_int_equal(mcc_config_set(&f->c.cfg,
	                                "controller.listen=127.0.0.1:0", &err),
	                 MC_OK);
	assert_int_equal(
	        mcc_config_set(&f->c.cfg, "controller.http_threads=2", &err),
	        MC_OK);
	assert_int_equal(mcc_config_set(&f->c.cfg,
	                                "controller.max_upload_bytes=64K",
	                                &err),
	                 MC_OK);
	if (mcc_setup(&f->c, &err) != MC_OK)
		fail_msg("setup: %s", err.msg);
	make_user(f, "admin", MCC_ROLE_ADMIN, f->admin, sizeof(f->admin));
	make_user(f, "editor", MCC_ROLE_EDITOR, f->editor, sizeof(f->editor));
	make_user(f, "approver", MCC_ROLE_APPROVER, f->approver,
	          sizeof(f->approver));
	if (mcc_http_start(&f->c, &err) != MC_OK)
		fail_msg("http: %s", err.msg);
	f->port = mcc_http_port(&f->c);
	assert_true(f->port > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mcc_http_stop(&f->c);
	mcc_teardown(&f->c);
	mc_test_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

/* ---- routing and errors ---- */

static void test_routing(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char buf[256];

	http(f, "GET", "/v1/nope", NULL, NULL, &r);
	expect_error(&r, 404, "", "unknown path");
	assert_non_null(header(&r, "Content-Type", buf, sizeof(buf)));
	assert_string_equal(buf, "application/json; charset=utf-8");
	assert_non_null(header(&r, "X-Content-Type-Options", buf, sizeof(buf)));
	assert_string_equal(buf, "nosniff");
	resp_free(&r);
	http(f, "DELETE", "/healthz", NULL, NULL, &r);
	expect_error(&r, 405, "", "wrong method");
	assert_non_null(header(&r, "Allow", buf, sizeof(buf)));
	assert_string_equal(buf, "GET");
	resp_free(&r);
	http(f, "GET", "/healthz/extra", NULL, NULL, &r);
	expect_error(&r, 404, "", "longer path");
	resp_free(&r);
	http(f, "GET", "/v1//users", f->admin, NULL, &r);
	expect_error(&r, 404, "", "empty segment");
	resp_free(&r);
	{
		char *longpath = malloc(3000);

		memset(longpath, 'a', 2999);
		longpath[0] = '/';
		longpath[2999] = '\0';
		http(f, "GET", longpath, NULL, NULL, &r);
		assert_true(r.status == 404 || r.status == 414 ||
		            r.status == 431);
		resp_free(&r);
		free(longpath);
	}
	/* Public. */
	http(f, "GET", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_true(json_is_true(json_object_get(r.json, "ok")));
	assert_true(json_is_false(json_object_get(r.json, "mqtt")));
	resp_free(&r);
	http(f, "GET", "/v1/info", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "kid")),
	                    f->c.key.kid);
	assert_true(json_is_false(json_object_get(r.json, "first_run")));
	resp_free(&r);
	/* A public route ignores stale credentials. */
	http(f, "GET", "/v1/info", "Authorization: Bearer mc_stale\r\n", NULL,
	     &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* HEAD of a GET route: headers only. */
	http(f, "HEAD", "/healthz", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
}

static void test_auth_checks(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char buf[128];

	http(f, "GET", "/v1/users", NULL, NULL, &r);
	expect_error(&r, 401, "", "no credentials");
	assert_non_null(header(&r, "WWW-Authenticate", buf, sizeof(buf)));
	resp_free(&r);
	http(f, "GET", "/v1/users", "Authorization: Bearer mc_wrong\r\n", NULL,
	     &r);
	expect_error(&r, 401, "", "wrong token");
	resp_free(&r);
	http(f, "GET", "/v1/users", "Authorization: Basic Zm9vOmJhcg==\r\n",
	     NULL, &r);
	expect_error(&r, 401, "", "unknown node");
	resp_free(&r);
	http(f, "GET", "/v1/users", "Authorization: Negotiate abc\r\n", NULL,
	     &r);
	expect_error(&r, 401, "", "other scheme");
	resp_free(&r);
	http(f, "GET", "/v1/users", f->editor, NULL, &r);
	expect_error(&r, 403, "", "editor on admin route");
	resp_free(&r);
	http(f, "GET", "/v1/users", f->admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 3);
	assert_null(strstr(r.body, "argon2"));
	resp_free(&r);
	http(f, "GET", "/v1/auth/me", f->editor, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "name")),
	                    "editor");
	assert_string_equal(json_string_value(json_object_get(r.json, "via")),
	                    "token");
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(r.json, "roles"), 0)),
	                    "editor");
	resp_free(&r);
}

static void test_bodies(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char *req;

	/* Content-Length over the limit: 413 before a byte is read. */
	req = mc_printf("POST /v1/users HTTP/1.1\r\nHost: x\r\n%s"
	                "Content-Length: 5000000\r\nConnection: close\r\n\r\n",
	                f->admin);
	raw(f, req, strlen(req), &r);
	expect_error(&r, 413, "body", "content-length");
	resp_free(&r);
	free(req);
	/* Also for anonymous callers, before authentication. */
	req = mc_printf("POST /v1/auth/login HTTP/1.1\r\nHost: x\r\n"
	                "Content-Length: 99999999999999999999999\r\n"
	                "Connection: close\r\n\r\n");
	raw(f, req, strlen(req), &r);
	assert_true(r.status == 413 || r.status == 400);
	resp_free(&r);
	free(req);
	/* A chunked body that grows past the limit (64 KiB for login). */
	{
		size_t chunk = 16384, n = 8;
		char *big = malloc(chunk * n + 4096), *p;

		assert_non_null(big);
		p = big + sprintf(big,
		                  "POST /v1/auth/login HTTP/1.1\r\nHost: x\r\n"
		                  "Transfer-Encoding: chunked\r\n"
		                  "Connection: close\r\n\r\n");
		for (size_t i = 0; i < n; i++) {
			p += sprintf(p, "%zx\r\n", chunk);
			memset(p, 'a', chunk);
			p += chunk;
			p += sprintf(p, "\r\n");
		}
		p += sprintf(p, "0\r\n\r\n");
		raw(f, big, (size_t)(p - big), &r);
		expect_error(&r, 413, "body", "chunked");
		resp_free(&r);
		free(big);
	}
	/* Malformed JSON, not an object, empty, invalid UTF-8. */
	http(f, "POST", "/v1/users", f->admin, "{\"name\": ", &r);
	expect_error(&r, 400, "body", "truncated json");
	assert_non_null(strstr(r.body, "line 1"));
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin, "[1,2]", &r);
	expect_error(&r, 400, "body", "array");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin, "", &r);
	expect_error(&r, 400, "body", "empty");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin, "{\"name\":\"\xC3\x28\"}", &r);
	expect_error(&r, 400, "body", "utf-8");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"a\",\"name\":\"b\"}", &r);
	expect_error(&r, 400, "body", "duplicate keys");
	resp_free(&r);
}

/* Files in dir, waiting a little for the request's cleanup to run. */
static int settled_files(const char *dir);

/*
 * Spooled uploads (content.c's POST /v1/blobs is an MCC_SPOOL route):
 * limits are the configured max_upload_bytes, and the spool file is gone
 * after every request, accepted or not.
 */
static void test_spool(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char *req, *junk = malloc(2048);

	assert_non_null(junk);
	memset(junk, 'x', 2048);
	req = mc_printf("POST /v1/blobs?type=image HTTP/1.1\r\nHost: x\r\n%s"
	                "Content-Length: 70000\r\nConnection: close\r\n\r\n",
	                f->editor);
	raw(f, req, strlen(req), &r);
	expect_error(&r, 413, "body", "upload content-length");
	assert_non_null(strstr(r.body, "65536"));
	resp_free(&r);
	free(req);
	/* Refused before spooling: no credentials. */
	req = mc_printf("POST /v1/blobs?type=image HTTP/1.1\r\nHost: x\r\n"
	                "Content-Length: 2048\r\nConnection: close\r\n\r\n"
	                "%.*s",
	                2048, junk);
	raw(f, req, strlen(req), &r);
	expect_error(&r, 401, "", "anonymous upload");
	resp_free(&r);
	free(req);
	/* Spooled, then refused by the handler (not an image). */
	req = mc_printf("POST /v1/blobs?type=image HTTP/1.1\r\nHost: x\r\n%s"
	                "Content-Length: 2048\r\nConnection: close\r\n\r\n"
	                "%.*s",
	                f->editor, 2048, junk);
	raw(f, req, strlen(req), &r);
	assert_true(r.status >= 400 && r.status < 500);
	resp_free(&r);
	free(req);
	/* Chunked, growing past the limit while spooling. */
	{
		size_t chunk = 16384, n = 5;
		char *big = malloc(chunk * n + 4096), *p;

		assert_non_null(big);
		p = big + sprintf(big,
		                  "POST /v1/blobs?type=image HTTP/1.1\r\n"
		                  "Host: x\r\n%sTransfer-Encoding: chunked\r\n"
		                  "Connection: close\r\n\r\n",
		                  f->editor);
		for (size_t i = 0; i < n; i++) {
			p += sprintf(p, "%zx\r\n", chunk);
			memset(p, 'a', chunk);
			p += chunk;
			p += sprintf(p, "\r\n");
		}
		p += sprintf(p, "0\r\n\r\n");
		raw(f, big, (size_t)(p - big), &r);
		expect_error(&r, 413, "body", "chunked upload");
		resp_free(&r);
		free(big);
	}
	assert_int_equal(settled_files(f->c.tmp_dir), 0);
	free(junk);
}

/* ---- sessions and CSRF ---- */

static void login(struct fixture *f, const char *user, const char *pw,
                  struct resp *r)
{
	char *body =
	        mc_printf("{\"user\":\"%s\",\"password\":\"%s\"}", user, pw);

	http(f, "POST", "/v1/auth/login", NULL, body, r);
	free(body);
}

static void test_sessions_csrf(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char cookie[256], set[256], hdr[512], csrf[96];

	login(f, "editor", "mật-khẩu-dài", &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header(&r, "Set-Cookie", set, sizeof(set)));
	assert_non_null(strstr(set, "HttpOnly"));
	assert_non_null(strstr(set, "SameSite=Strict"));
	assert_non_null(strstr(set, "Path=/"));
	snprintf(cookie, sizeof(cookie), "%.*s", (int)strcspn(set, ";"), set);
	snprintf(csrf, sizeof(csrf), "%s",
	         json_string_value(json_object_get(r.json, "csrf")));
	assert_true(strlen(csrf) >= 40);
	resp_free(&r);
	snprintf(hdr, sizeof(hdr), "Cookie: theme=dark; %s\r\n", cookie);
	http(f, "GET", "/v1/auth/me", hdr, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_object_get(r.json, "via")),
	                    "session");
	resp_free(&r);
	/* A mutation by cookie needs the CSRF header... */
	http(f, "POST", "/v1/tokens", hdr, "{\"name\":\"x\"}", &r);
	expect_error(&r, 403, "", "no csrf");
	resp_free(&r);
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nX-CSRF-Token: nope\r\n",
	         cookie);
	http(f, "POST", "/v1/tokens", hdr, "{\"name\":\"x\"}", &r);
	expect_error(&r, 403, "", "wrong csrf");
	resp_free(&r);
	/* ...and works with it. */
	snprintf(hdr, sizeof(hdr), "Cookie: %s\r\nX-CSRF-Token: %s\r\n", cookie,
	         csrf);
	http(f, "POST", "/v1/tokens", hdr, "{\"name\":\"máy tính\"}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	/* Logout ends the session. */
	http(f, "POST", "/v1/auth/logout", hdr, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(header(&r, "Set-Cookie", set, sizeof(set)));
	assert_non_null(strstr(set, "Max-Age=0"));
	resp_free(&r);
	http(f, "GET", "/v1/auth/me", hdr, NULL, &r);
	expect_error(&r, 401, "", "after logout");
	resp_free(&r);
	/* Wrong password; unknown user; malformed login bodies. */
	login(f, "editor", "wrong-password", &r);
	expect_error(&r, 401, "", "wrong password");
	resp_free(&r);
	login(f, "nobody", "wrong-password", &r);
	expect_error(&r, 401, "", "unknown user");
	resp_free(&r);
	http(f, "POST", "/v1/auth/login", NULL, "{\"user\":\"editor\"}", &r);
	expect_error(&r, 400, "password", "no password");
	resp_free(&r);
	http(f, "POST", "/v1/auth/login", NULL,
	     "{\"user\":5,\"password\":\"x\"}", &r);
	expect_error(&r, 400, "user", "number user");
	resp_free(&r);
	http(f, "POST", "/v1/auth/login", NULL,
	     "{\"user\":\"a\",\"password\":\"x\",\"remember\":true}", &r);
	expect_error(&r, 400, "remember", "unknown field");
	resp_free(&r);
}

static void test_login_rate_limit(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	for (int i = 0; i < 5; i++) {
		login(f, "approver", "guess-guess", &r);
		expect_error(&r, 401, "", "failure");
		resp_free(&r);
	}
	/* The sixth try within the minute is refused, right or wrong. */
	login(f, "approver", "mật-khẩu-dài", &r);
	expect_error(&r, 429, "", "rate limit");
	resp_free(&r);
	/* Other names are not affected. */
	login(f, "editor", "mật-khẩu-dài", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* Failures are audited. */
	http(f, "GET", "/v1/audit?action=auth.login_failed&id=approver",
	     f->admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")),
	                 5);
	resp_free(&r);
}

/* ---- users and tokens ---- */

static void test_users(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"thu-ky\",\"password\":\"12345678\",\"roles\":"
	     "[\"editor\",\"technician\"],\"display_name\":\"Thư ký\"}",
	     &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(json_array_size(json_object_get(r.json, "roles")), 2);
	assert_string_equal(
	        json_string_value(json_object_get(r.json, "display_name")),
	        "Thư ký");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"thu-ky\",\"password\":\"12345678\",\"roles\":[]}",
	     &r);
	expect_error(&r, 409, "name", "exists");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"x\",\"password\":\"12345678\",\"roles\":[\"boss\"]}",
	     &r);
	expect_error(&r, 400, "roles", "bad role");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"x\",\"password\":\"12345678\",\"roles\":\"editor\"}",
	     &r);
	expect_error(&r, 400, "roles", "roles not a list");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"x\",\"password\":\"short\",\"roles\":[]}", &r);
	expect_error(&r, 400, "password", "short password");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"a b\",\"password\":\"12345678\",\"roles\":[]}", &r);
	expect_error(&r, 400, "name", "bad name");
	resp_free(&r);
	http(f, "POST", "/v1/users", f->admin,
	     "{\"password\":\"12345678\",\"roles\":[]}", &r);
	expect_error(&r, 400, "name", "no name");
	resp_free(&r);
	/* PATCH: roles and disabled by an admin. */
	http(f, "PATCH", "/v1/users/thu-ky", f->admin,
	     "{\"roles\":[\"approver\"]}", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(json_string_value(json_array_get(
	                            json_object_get(r.json, "roles"), 0)),
	                    "approver");
	resp_free(&r);
	http(f, "PATCH", "/v1/users/nobody", f->admin, "{\"disabled\":true}",
	     &r);
	expect_error(&r, 404, "", "no such user");
	resp_free(&r);
	http(f, "PATCH", "/v1/users/thu-ky", f->admin, "{\"disabled\":1}", &r);
	expect_error(&r, 400, "disabled", "disabled not bool");
	resp_free(&r);
	/* The last admin cannot demote or disable itself. */
	http(f, "PATCH", "/v1/users/admin", f->admin,
	     "{\"roles\":[\"editor\"]}", &r);
	expect_error(&r, 409, "roles", "last admin");
	resp_free(&r);
	http(f, "PATCH", "/v1/users/admin", f->admin, "{\"disabled\":true}",
	     &r);
	expect_error(&r, 409, "disabled", "last admin disabled");
	resp_free(&r);
	/* Others: only their own password and display name. */
	http(f, "PATCH", "/v1/users/editor", f->editor,
	     "{\"roles\":[\"admin\"]}", &r);
	expect_error(&r, 403, "", "self promotion");
	resp_free(&r);
	http(f, "PATCH", "/v1/users/approver", f->editor,
	     "{\"password\":\"abcdefgh\"}", &r);
	expect_error(&r, 403, "", "other's password");
	resp_free(&r);
	http(f, "PATCH", "/v1/users/editor", f->editor,
	     "{\"display_name\":\"Biên tập viên\"}", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* A disabled user's token stops working at once. */
	http(f, "PATCH", "/v1/users/editor", f->admin, "{\"disabled\":true}",
	     &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http(f, "GET", "/v1/auth/me", f->editor, NULL, &r);
	expect_error(&r, 401, "", "disabled");
	resp_free(&r);
	/* Every change is in the audit log, the hash never. */
	http(f, "GET", "/v1/audit?kind=user&id=thu-ky", f->approver, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")),
	                 2);
	assert_null(strstr(r.body, "argon2"));
	assert_string_equal(
	        json_string_value(json_object_get(
	                json_array_get(json_object_get(r.json, "items"), 0),
	                "action")),
	        "user.update");
	resp_free(&r);
}

static void test_tokens(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char auth[128], path[64];
	long long id;

	http(f, "POST", "/v1/tokens", f->approver, "{\"name\":\"ctl\"}", &r);
	assert_int_equal(r.status, 201);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s\r\n",
	         json_string_value(json_object_get(r.json, "token")));
	id = json_integer_value(json_object_get(r.json, "id"));
	resp_free(&r);
	http(f, "GET", "/v1/auth/me", auth, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* The list shows no secret. */
	http(f, "GET", "/v1/tokens", auth, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
	assert_null(strstr(r.body, "sha256"));
	assert_null(json_object_get(
	        json_array_get(json_object_get(r.json, "items"), 1), "token"));
	resp_free(&r);
	/* Someone else's token is not found; bad ids are 400. */
	snprintf(path, sizeof(path), "/v1/tokens/%lld", id);
	http(f, "DELETE", path, f->editor, NULL, &r);
	expect_error(&r, 404, "", "other's token");
	resp_free(&r);
	http(f, "DELETE", "/v1/tokens/abc", f->editor, NULL, &r);
	expect_error(&r, 400, "id", "bad id");
	resp_free(&r);
	http(f, "DELETE", path, auth, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http(f, "GET", "/v1/auth/me", auth, NULL, &r);
	expect_error(&r, 401, "", "revoked");
	resp_free(&r);
	/* Admins make tokens for others; others may not. */
	http(f, "POST", "/v1/tokens", f->admin,
	     "{\"user\":\"editor\",\"expires_days\":1}", &r);
	assert_int_equal(r.status, 201);
	assert_true(json_integer_value(json_object_get(r.json, "expires_ms")) >
	            0);
	resp_free(&r);
	http(f, "POST", "/v1/tokens", f->editor, "{\"user\":\"admin\"}", &r);
	expect_error(&r, 403, "user", "token for other");
	resp_free(&r);
	http(f, "POST", "/v1/tokens", f->editor, "{\"expires_days\":0}", &r);
	expect_error(&r, 400, "expires_days", "expiry range");
	resp_free(&r);
	http(f, "POST", "/v1/tokens", f->editor, NULL, &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
}

/* ---- blobs ---- */

static void test_blob_download(void **state)
{
	struct fixture *f = *state;
	struct mc_error err;
	struct resp r;
	char sha[65], path[128], hdr[256], buf[128];
	const char *data = "0123456789";

	assert_int_equal(mcc_blob_put(&f->c, mcc_db(&f->c), data, 10,
	                              "image/png", sha, &err),
	                 MC_OK);
	snprintf(path, sizeof(path), "/v1/content/%s", sha);
	http(f, "GET", path, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, data);
	assert_string_equal(header(&r, "Content-Type", buf, sizeof(buf)),
	                    "image/png");
	snprintf(hdr, sizeof(hdr), "\"%s\"", sha);
	assert_string_equal(header(&r, "ETag", buf, sizeof(buf)), hdr);
	assert_non_null(strstr(header(&r, "Cache-Control", buf, sizeof(buf)),
	                       "immutable"));
	assert_string_equal(header(&r, "Accept-Ranges", buf, sizeof(buf)),
	                    "bytes");
	resp_free(&r);
	/* Revalidation. */
	snprintf(hdr, sizeof(hdr), "If-None-Match: W/\"x\", \"%s\"\r\n", sha);
	http(f, "GET", path, hdr, NULL, &r);
	assert_int_equal(r.status, 304);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	http(f, "GET", path, "If-None-Match: \"other\"\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* Ranges. */
	http(f, "GET", path, "Range: bytes=2-5\r\n", NULL, &r);
	assert_int_equal(r.status, 206);
	assert_string_equal(r.body, "2345");
	assert_string_equal(header(&r, "Content-Range", buf, sizeof(buf)),
	                    "bytes 2-5/10");
	resp_free(&r);
	http(f, "GET", path, "Range: bytes=7-\r\n", NULL, &r);
	assert_int_equal(r.status, 206);
	assert_string_equal(r.body, "789");
	resp_free(&r);
	http(f, "GET", path, "Range: bytes=-3\r\n", NULL, &r);
	assert_int_equal(r.status, 206);
	assert_string_equal(r.body, "789");
	resp_free(&r);
	http(f, "GET", path, "Range: bytes=5-100\r\n", NULL, &r);
	assert_int_equal(r.status, 206);
	assert_string_equal(r.body, "56789");
	resp_free(&r);
	http(f, "GET", path, "Range: bytes=10-\r\n", NULL, &r);
	expect_error(&r, 416, "", "past the end");
	assert_string_equal(header(&r, "Content-Range", buf, sizeof(buf)),
	                    "bytes */10");
	resp_free(&r);
	/* Junk and multiple ranges: the whole file. */
	http(f, "GET", path, "Range: bytes=0-1,4-5\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http(f, "GET", path, "Range: lines=1-2\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	http(f, "GET", path, "Range: bytes=5-2\r\n", NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	/* Manifests: bad hash 400, unknown 404. */
	http(f, "GET", "/v1/manifests/ABC", NULL, NULL, &r);
	expect_error(&r, 400, "sha256", "bad hash");
	resp_free(&r);
	http(f, "GET",
	     "/v1/manifests/"
	     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	     NULL, NULL, &r);
	expect_error(&r, 404, "sha256", "unknown hash");
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/manifests/%s", sha);
	http(f, "GET", path, NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
}

/* ---- backup, audit, metrics ---- */

static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int settled_files(const char *dir)
{
	int n = count_files(dir);

	/* The completion callback may trail the closed socket a little. */
	for (int i = 0; i < 200 && n > 0; i++) {
		usleep(10000);
		n = count_files(dir);
	}
	return n;
}

static void test_backup(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char buf[128];

	http(f, "POST", "/v1/backup", f->editor, NULL, &r);
	expect_error(&r, 403, "", "editor backup");
	resp_free(&r);
	http(f, "POST", "/v1/backup", f->admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(header(&r, "Content-Type", buf, sizeof(buf)),
	                    "application/vnd.sqlite3");
	assert_non_null(
	        strstr(header(&r, "Content-Disposition", buf, sizeof(buf)),
	               "attachment"));
	assert_true(r.body_len > 4096);
	assert_memory_equal(r.body, "SQLite format 3", 16);
	resp_free(&r);
	/* The temporary copy is gone. */
	assert_int_equal(settled_files(f->c.tmp_dir), 0);
}

static void test_audit_api(void **state)
{
	struct fixture *f = *state;
	struct resp r;

	http(f, "POST", "/v1/users", f->admin,
	     "{\"name\":\"u1\",\"password\":\"12345678\",\"roles\":[]}", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);
	http(f, "GET", "/v1/audit", f->editor, NULL, &r);
	expect_error(&r, 403, "", "editor audit");
	resp_free(&r);
	http(f, "GET", "/v1/audit?limit=1", f->approver, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
	assert_true(json_integer_value(json_object_get(r.json, "total")) >= 1);
	resp_free(&r);
	http(f, "GET", "/v1/audit?action=user&user=admin", f->admin, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(json_integer_value(json_object_get(r.json, "total")),
	                 1);
	{
		json_t *row =
		        json_array_get(json_object_get(r.json, "items"), 0);

		assert_string_equal(
		        json_string_value(json_object_get(row, "object_id")),
		        "u1");
		assert_string_equal(
		        json_string_value(json_object_get(
		                json_object_get(row, "after"), "name")),
		        "u1");
		assert_true(json_is_null(json_object_get(row, "before")));
	}
	resp_free(&r);
	http(f, "GET", "/v1/audit?limit=0", f->admin, NULL, &r);
	expect_error(&r, 400, "limit", "limit 0");
	resp_free(&r);
	http(f, "GET", "/v1/audit?limit=5000", f->admin, NULL, &r);
	expect_error(&r, 400, "limit", "limit big");
	resp_free(&r);
	http(f, "GET", "/v1/audit?since=yesterday", f->admin, NULL, &r);
	expect_error(&r, 400, "since", "since text");
	resp_free(&r);
	http(f, "GET", "/v1/audit?offset=-1", f->admin, NULL, &r);
	expect_error(&r, 400, "offset", "negative offset");
	resp_free(&r);
}

static void test_metrics(void **state)
{
	struct fixture *f = *state;
	struct resp r;
	char buf[128];

	http(f, "GET", "/healthz", NULL, NULL, &r);
	resp_free(&r);
	http(f, "GET", "/nothing", NULL, NULL, &r);
	resp_free(&r);
	http(f, "GET", "/metrics", NULL, NULL, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(header(&r, "Content-Type", buf, sizeof(buf)),
	                       "text/plain; version=0.0.4"));
	assert_non_null(strstr(r.body, "# TYPE "
	                               "minecast_http_request_duration_seconds "
	                               "histogram"));
	assert_non_null(strstr(r.body,
	                       "minecast_http_request_duration_seconds_count{"
	                       "route=\"/healthz\",code=\"2xx\"} 1"));
	assert_non_null(strstr(r.body,
	                       "minecast_http_request_duration_seconds_count{"
	                       "route=\"(unmatched)\",code=\"4xx\"} 1"));
	assert_non_null(strstr(r.body, "minecast_mqtt_connected 0"));
	assert_non_null(strstr(r.body, "minecast_signing_key_loaded 1"));
	resp_free(&r);
}

/* [::1]:0 works; an address in use is refused with a clear message. */
static void test_listen(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in6 a;
	struct mc_error err;
	char buf[4096], *listen_was;
	const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	                  "Connection: close\r\n\r\n";
	ssize_t n, have = 0;
	int fd;

	mcc_http_stop(&f->c);
	listen_was = mc_printf("controller.listen=127.0.0.1:%d", f->port);
	assert_int_equal(
	        mcc_config_set(&f->c.cfg, "controller.listen=[::1]:0", &err),
	        MC_OK);
	assert_int_equal(mcc_http_start(&f->c, &err), MC_OK);
	memset(&a, 0, sizeof(a));
	a.sin6_family = AF_INET6;
	a.sin6_port = htons((uint16_t)mcc_http_port(&f->c));
	a.sin6_addr = in6addr_loopback;
	fd = socket(AF_INET6, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true(send(fd, req, strlen(req), MSG_NOSIGNAL) > 0);
	while ((n = recv(fd, buf + have, sizeof(buf) - 1 - (size_t)have, 0)) >
	       0)
		have += n;
	close(fd);
	buf[have] = '\0';
	assert_memory_equal(buf, "HTTP/1.1 200", 12);
	mcc_http_stop(&f->c);
	/* The old port, now taken by a socket of ours. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	{
		struct sockaddr_in b;
		socklen_t bl = sizeof(b);

		memset(&b, 0, sizeof(b));
		b.sin_family = AF_INET;
		b.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
		assert_int_equal(listen(fd, 1), 0);
		assert_int_equal(getsockname(fd, (struct sockaddr *)&b, &bl),
		                 0);
		free(listen_was);
		listen_was = mc_printf("controller.listen=127.0.0.1:%d",
		                       ntohs(b.sin_port));
	}
	assert_int_equal(mcc_config_set(&f->c.cfg, listen_was, &err), MC_OK);
	mc_test_expect_error(mcc_http_start(&f->c, &err), &err, MC_ERR_IO,
	                     "[controller] listen: cannot listen on 127.0.0.1:",
	                     "port in use");
	close(fd);
	free(listen_was);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_routing, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_auth_checks, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bodies, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_spool, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_sessions_csrf, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_login_rate_limit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_tokens, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_blob_download, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_backup, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_audit_api, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
