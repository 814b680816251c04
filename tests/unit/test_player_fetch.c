/*
 * Unit tests of the player's downloader (player/fetch.c) against the real
 * test HTTP server tests/tools/httpd.py on a free loopback port: download
 * and commit, resume with Range after a cut, hash mismatch, 404, a server
 * that ignores Range, the parallelism bound, priority order, the size
 * guard, the download window, basic auth, uploads, retain and stop.
 *
 * Every wait is bounded: events are awaited by polling the event queue's
 * fd with a deadline, and the server is killed in teardown.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "minecast/sign.h"
#include "minecast/util.h"

#include "cache.h"
#include "evq.h"
#include "fetch.h"

#define HTTPD MC_SOURCE_DIR "/tests/tools/httpd.py"

struct fixture {
	char dir[64];                /* scratch dir */
	char root[128];              /* server's --root */
	char cache_dir[128];         /* the cache */
	char log[128];               /* server's --log */
	char faults[128];            /* server's --faults */
	pid_t pid;                   /* the server */
	int port;                    /* its port */
	char base[64];               /* http://127.0.0.1:port */
	struct mc_player_config cfg; /* fields the fetcher reads */
	struct mc_evq *q;            /* events */
	struct mc_cache *c;          /* cache on cache_dir */
	struct mc_fetcher *f;        /* started by start_fetcher */
	struct mc_event *pending;    /* taken from q, not yet consumed */
};

/* One request from the server's log. */
struct req {
	char method[8]; /* GET, POST */
	char range[64]; /* Range header, "" if none */
	int status;     /* response status */
	long bytes;     /* body bytes sent (received for POST) */
	double start;   /* time.time() at start */
	double end;     /* and at end */
	char auth[32];  /* basic auth user, "" if none */
	char ctype[64]; /* POST Content-Type */
};

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void stop_server(struct fixture *fx)
{
	int64_t deadline;
	int status;

	if (fx->pid <= 0)
		return;
	kill(fx->pid, SIGTERM);
	deadline = mc_mono_ms() + 5000;
	while (waitpid(fx->pid, &status, WNOHANG) == 0) {
		if (mc_mono_ms() > deadline) {
			kill(fx->pid, SIGKILL);
			waitpid(fx->pid, &status, 0);
			break;
		}
		sleep_ms(20);
	}
	fx->pid = 0;
}

/* Start httpd.py (auth: "user:pass" or NULL) and wait for its port. */
static void start_server(struct fixture *fx, const char *auth)
{
	char portfile[160], *text = NULL;
	struct mc_error err;
	int64_t deadline;
	size_t len;
	int status;

	snprintf(portfile, sizeof(portfile), "%s/port", fx->dir);
	unlink(portfile);
	fx->pid = fork();
	assert_true(fx->pid >= 0);
	if (fx->pid == 0) {
		if (auth)
			execl("/usr/bin/python3", "python3", HTTPD, "--root",
			      fx->root, "--port", "0", "--port-file", portfile,
			      "--log", fx->log, "--faults", fx->faults,
			      "--auth", auth, (char *)NULL);
		else
			execl("/usr/bin/python3", "python3", HTTPD, "--root",
			      fx->root, "--port", "0", "--port-file", portfile,
			      "--log", fx->log, "--faults", fx->faults,
			      (char *)NULL);
		_exit(127);
	}
	deadline = mc_mono_ms() + 10000;
	while (mc_read_file(portfile, 64, &text, &len, &err) != MC_OK) {
		if (waitpid(fx->pid, &status, WNOHANG) == fx->pid) {
			fx->pid = 0;
			fail_msg("httpd.py exited before listening");
		}
		if (mc_mono_ms() > deadline)
			fail_msg("httpd.py did not write its port in 10 s");
		sleep_ms(20);
	}
	fx->port = atoi(text);
	free(text);
	assert_true(fx->port > 0);
	snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);
	fx->cfg.http_base = fx->base;
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mc_error err;
	char sub[192];

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mc-fetch-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->root, sizeof(fx->root), "%s/root", fx->dir);
	snprintf(fx->cache_dir, sizeof(fx->cache_dir), "%s/cache", fx->dir);
	snprintf(fx->log, sizeof(fx->log), "%s/requests.log", fx->dir);
	snprintf(fx->faults, sizeof(fx->faults), "%s/faults.json", fx->dir);
	assert_int_equal(mkdir(fx->root, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/v1", fx->root);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/v1/content", fx->root);
	assert_int_equal(mkdir(sub, 0755), 0);
	start_server(fx, NULL);
	fx->cfg.cache_dir = fx->cache_dir;
	fx->cfg.node_id = "pi-test-01";
	fx->cfg.download_parallel = 2;
	fx->cfg.http_timeout_s = 10;
	fx->cfg.window_start_min = -1;
	fx->cfg.window_end_min = -1;
	fx->q = mc_evq_new();
	assert_non_null(fx->q);
	fx->c = mc_cache_open(fx->cache_dir, 0, &err);
	assert_non_null(fx->c);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct mc_event *ev;

	mc_fetcher_stop(fx->f);
	stop_server(fx);
	while ((ev = fx->pending)) {
		fx->pending = ev->next;
		mc_event_free(ev);
	}
	mc_evq_free(fx->q);
	mc_cache_close(fx->c);
	nftw(fx->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(fx);
	return 0;
}

static void start_fetcher(struct fixture *fx)
{
	struct mc_error err;

	fx->f = mc_fetcher_start(&fx->cfg, fx->c, fx->q, &err);
	if (!fx->f)
		fail_msg("mc_fetcher_start: %s", err.msg);
}

/* Pseudo-random bytes (xorshift), so every file hashes differently. */
static unsigned char *make_bytes(size_t len, uint32_t seed)
{
	unsigned char *p = malloc(len ? len : 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
	return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

/*
 * Serve len pseudo-random bytes at /v1/content/<sha>; sha out.  Returns
 * the bytes (caller frees).
 */
static unsigned char *serve(struct fixture *fx, size_t len, uint32_t seed,
                            char sha[MC_SHA256_HEX_SIZE])
{
	unsigned char *data = make_bytes(len, seed);
	char path[512];

	mc_sha256_hex(data, len, sha);
	snprintf(path, sizeof(path), "%s/v1/content/%.64s", fx->root, sha);
	write_file(path, data, len);
	return data;
}

/* Replace the server's fault rules (JSON text), atomically. */
static void set_faults(struct fixture *fx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void set_faults(struct fixture *fx, const char *fmt, ...)
{
	char tmp[160], text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	snprintf(tmp, sizeof(tmp), "%s.tmp", fx->faults);
	write_file(tmp, text, strlen(text));
	assert_int_equal(rename(tmp, fx->faults), 0);
}

static bool event_matches(const struct mc_event *ev, enum mc_event_type type,
                          const char *key)
{
	if (ev->type != type)
		return false;
	if (!key)
		return true;
	if (type == MC_EV_FETCH_DONE)
		return !strcmp(ev->sha256, key);
	return ev->tag && !strcmp(ev->tag, key);
}

/*
 * The next event of type (for key: a sha256 or a tag; NULL = any), within
 * timeout_ms; NULL on timeout.  Other events wait in fx->pending.
 */
static struct mc_event *wait_event(struct fixture *fx, enum mc_event_type type,
                                   const char *key, int timeout_ms)
{
	int64_t deadline = mc_mono_ms() + timeout_ms;
	struct mc_event **pp, *ev, *list;
	struct pollfd pfd;

	for (;;) {
		for (pp = &fx->pending; *pp; pp = &(*pp)->next)
			if (event_matches(*pp, type, key)) {
				ev = *pp;
				*pp = ev->next;
				ev->next = NULL;
				return ev;
			}
		if (mc_mono_ms() >= deadline)
			return NULL;
		pfd.fd = mc_evq_fd(fx->q);
		pfd.events = POLLIN;
		poll(&pfd, 1, (int)(deadline - mc_mono_ms()));
		list = mc_evq_take(fx->q);
		for (pp = &fx->pending; *pp; pp = &(*pp)->next)
			;
		*pp = list;
	}
}

/* Like wait_event, but failing the test on timeout. */
static struct mc_event *expect_event(struct fixture *fx,
                                     enum mc_event_type type, const char *key,
                                     int timeout_ms)
{
	struct mc_event *ev = wait_event(fx, type, key, timeout_ms);

	if (!ev)
		fail_msg("no event %d for %s within %d ms", type,
		         key ? key : "(any)", timeout_ms);
	return ev;
}

/* Requests for path (NULL = all) from the server's log, into out. */
static int load_log(struct fixture *fx, const char *path, struct req *out,
                    int max)
{
	char *text = NULL, *line, *save = NULL;
	struct mc_error err;
	size_t len;
	int n = 0;

	if (mc_read_file(fx->log, 16 << 20, &text, &len, &err) != MC_OK)
		return 0;
	for (line = strtok_r(text, "\n", &save); line && n < max;
	     line = strtok_r(NULL, "\n", &save)) {
		json_t *o = json_loads(line, 0, NULL);
		const char *p, *s;

		if (!o)
			continue;
		p = json_string_value(json_object_get(o, "path"));
		if (p && (!path || !strcmp(p, path))) {
			struct req *r = &out[n++];

			memset(r, 0, sizeof(*r));
			s = json_string_value(json_object_get(o, "method"));
			snprintf(r->method, sizeof(r->method), "%s",
			         s ? s : "");
			s = json_string_value(json_object_get(o, "range"));
			snprintf(r->range, sizeof(r->range), "%s", s ? s : "");
			s = json_string_value(json_object_get(o, "auth"));
			snprintf(r->auth, sizeof(r->auth), "%s", s ? s : "");
			s = json_string_value(
			        json_object_get(o, "content_type"));
			snprintf(r->ctype, sizeof(r->ctype), "%s", s ? s : "");
			r->status = (int)json_integer_value(
			        json_object_get(o, "status"));
			r->bytes = (long)json_integer_value(
			        json_object_get(o, "bytes"));
			r->start =
			        json_number_value(json_object_get(o, "start"));
			r->end = json_number_value(json_object_get(o, "end"));
		}
		json_decref(o);
	}
	free(text);
	return n;
}

/*
 * The server logs a request just after its last byte, so a client may
 * see the end first: wait (bounded) for n log lines of path.
 */
static int wait_log(struct fixture *fx, const char *path, struct req *out,
                    int max, int n)
{
	int64_t deadline = mc_mono_ms() + 3000;
	int got;

	while ((got = load_log(fx, path, out, max)) < n &&
	       mc_mono_ms() < deadline)
		sleep_ms(20);
	return got;
}

static void content_path(const char *sha, char *buf, size_t len)
{
	snprintf(buf, len, "/v1/content/%.64s", sha);
}

static int64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : -1;
}

/* ---- tests ---- */

static void test_download_and_commit(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], blob[4096];
	unsigned char *data = serve(fx, 200000, 1, sha);
	struct mc_fetch_progress p;
	struct mc_event *ev;
	struct req r[8];
	char *got = NULL;
	size_t len;
	struct mc_error err;

	start_fetcher(fx);
	content_path(sha, url, sizeof(url));
	mc_fetcher_want(fx->f, sha, 200000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_OK);
	assert_non_null(strstr(ev->text, "verified"));
	mc_event_free(ev);
	assert_true(mc_cache_has(fx->c, sha, 200000));
	mc_cache_path(fx->c, sha, blob, sizeof(blob));
	assert_int_equal(mc_read_file(blob, 1 << 20, &got, &len, &err), MC_OK);
	assert_int_equal(len, 200000);
	assert_memory_equal(got, data, len);
	free(got);
	assert_int_equal(wait_log(fx, url, r, 8, 1), 1);
	assert_int_equal(r[0].status, 200);
	assert_int_equal(r[0].bytes, 200000);
	assert_string_equal(r[0].range, "");
	mc_fetcher_progress(fx->f, &p);
	assert_int_equal(p.items, 0);
	assert_int_equal(p.bytes, 0);

	/* wanted again: already there, answered at once, no request */
	mc_fetcher_want(fx->f, sha, 200000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 1000);
	assert_int_equal(ev->rc, MC_OK);
	assert_non_null(strstr(ev->text, "already"));
	mc_event_free(ev);
	sleep_ms(200);
	assert_int_equal(load_log(fx, url, r, 8), 1);
	free(data);
}

static void test_absolute_url_and_twice_wanted(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[192], path[128];
	unsigned char *data = serve(fx, 50000, 2, sha);
	struct mc_event *ev;
	struct req r[8];

	/* slow enough that the second want arrives while it runs */
	content_path(sha, path, sizeof(path));
	set_faults(fx, "{\"%s\": {\"throttle\": 100000}}", path);
	start_fetcher(fx);
	snprintf(url, sizeof(url), "%s%s", fx->base, path);
	mc_fetcher_want(fx->f, sha, 50000, url, 0);
	mc_fetcher_want(fx->f, sha, 50000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	/* one download, one event */
	assert_null(wait_event(fx, MC_EV_FETCH_DONE, sha, 300));
	assert_int_equal(wait_log(fx, path, r, 8, 1), 1);
	free(data);
}

static void test_resume_after_cut(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data = serve(fx, 300000, 3, sha);
	struct mc_event *ev;
	struct req r[8];
	char *got = NULL;
	size_t len;
	struct mc_error err;

	content_path(sha, url, sizeof(url));
	set_faults(fx, "{\"%s\": {\"cut_after\": 100000, \"times\": 1}}", url);
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 300000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_not_equal(ev->rc, MC_OK);
	assert_non_null(strstr(ev->text, "part file kept"));
	assert_non_null(strstr(ev->text, "retrying in"));
	mc_event_free(ev);

	/* the part holds exactly the first 100000 bytes */
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	assert_int_equal(mc_read_file(part, 1 << 20, &got, &len, &err), MC_OK);
	assert_int_equal(len, 100000);
	assert_memory_equal(got, data, len);
	free(got);
	assert_false(mc_cache_has(fx->c, sha, -1));

	/* the retry (5 s +- 20 %) asks for the rest only */
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 15000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_true(mc_cache_has(fx->c, sha, 300000));
	assert_int_equal(wait_log(fx, url, r, 8, 2), 2);
	assert_int_equal(r[0].bytes, 100000);
	assert_string_equal(r[1].range, "bytes=100000-");
	assert_int_equal(r[1].status, 206);
	assert_int_equal(r[1].bytes, 200000);
	assert_int_equal(file_size(part), -1);
	free(data);
}

static void test_hash_mismatch(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data = serve(fx, 80000, 4, sha);
	struct mc_fetch_progress p;
	struct mc_event *ev;

	content_path(sha, url, sizeof(url));
	set_faults(fx, "{\"%s\": {\"corrupt\": true}}", url);
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 80000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_HASH);
	assert_non_null(strstr(ev->text, "hash mismatch"));
	assert_non_null(strstr(ev->text, sha));
	assert_non_null(strstr(ev->text, "part file deleted"));
	mc_event_free(ev);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	assert_int_equal(file_size(part), -1);
	assert_false(mc_cache_has(fx->c, sha, -1));
	/* still wanted (the retry is the main loop's to cancel) */
	mc_fetcher_progress(fx->f, &p);
	assert_int_equal(p.items, 1);
	mc_fetcher_retain(fx->f, NULL, 0);
	mc_fetcher_progress(fx->f, &p);
	assert_int_equal(p.items, 0);
	free(data);
}

static void test_not_found(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128];
	struct mc_event *ev;

	mc_sha256_hex("nothing here", 12, sha);
	content_path(sha, url, sizeof(url));
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 12, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_NOTFOUND);
	assert_non_null(strstr(ev->text, "HTTP 404"));
	mc_event_free(ev);
	assert_false(mc_cache_has(fx->c, sha, -1));

	/* other statuses are reported with their number */
	set_faults(fx, "{\"%s\": {\"status\": 503}}", url);
	mc_fetcher_retain(fx->f, NULL, 0);
	mc_fetcher_want(fx->f, sha, 12, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_non_null(strstr(ev->text, "HTTP 503"));
	mc_event_free(ev);
}

static void test_server_ignores_range(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data = serve(fx, 120000, 5, sha);
	unsigned char junk[5000];
	struct mc_event *ev;
	struct req r[8];

	/* a part of junk: if it were appended to, the hash would fail */
	memset(junk, 0xee, sizeof(junk));
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	write_file(part, junk, sizeof(junk));
	content_path(sha, url, sizeof(url));
	set_faults(fx, "{\"%s\": {\"ignore_range\": true}}", url);
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 120000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_true(mc_cache_has(fx->c, sha, 120000));
	assert_int_equal(wait_log(fx, url, r, 8, 1), 1);
	assert_string_equal(r[0].range, "bytes=5000-");
	assert_int_equal(r[0].status, 200);
	assert_int_equal(r[0].bytes, 120000);
	free(data);
}

static void test_complete_part_416(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data = serve(fx, 30000, 6, sha);
	struct mc_event *ev;
	struct req r[8];

	/* a crash after the last byte, before the commit: the whole file
	 * is in the part; it is committed without a request */
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	write_file(part, data, 30000);
	content_path(sha, url, sizeof(url));
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 30000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_true(mc_cache_has(fx->c, sha, 30000));
	sleep_ms(200);
	assert_int_equal(load_log(fx, url, r, 8), 0);
	free(data);
}

/* The largest number of requests of reqs[0..n) running at one instant. */
static int max_overlap(const struct req *reqs, int n)
{
	int i, k, best = 0;

	for (i = 0; i < n; i++) {
		int c = 0;

		/* at the instant request i starts */
		for (k = 0; k < n; k++)
			if (reqs[k].start <= reqs[i].start &&
			    reqs[k].end > reqs[i].start)
				c++;
		if (c > best)
			best = c;
	}
	return best;
}

static void test_parallel_bound(void **state)
{
	struct fixture *fx = *state;
	char sha[4][MC_SHA256_HEX_SIZE], url[4][128];
	unsigned char *data[4];
	struct mc_event *ev;
	struct req r[16];
	int i, n;

	set_faults(fx, "{\"*\": {\"throttle\": 200000}}");
	fx->cfg.download_parallel = 2;
	start_fetcher(fx);
	for (i = 0; i < 4; i++) {
		data[i] = serve(fx, 100000, 10 + (uint32_t)i, sha[i]);
		content_path(sha[i], url[i], sizeof(url[i]));
		mc_fetcher_want(fx->f, sha[i], 100000, url[i], 0);
	}
	for (i = 0; i < 4; i++) {
		ev = expect_event(fx, MC_EV_FETCH_DONE, sha[i], 15000);
		assert_int_equal(ev->rc, MC_OK);
		mc_event_free(ev);
		free(data[i]);
	}
	n = wait_log(fx, NULL, r, 16, 4);
	assert_int_equal(n, 4);
	assert_int_equal(max_overlap(r, n), 2);
}

static void test_priority_order(void **state)
{
	struct fixture *fx = *state;
	char blocker[MC_SHA256_HEX_SIZE], sha[3][MC_SHA256_HEX_SIZE];
	char url[128];
	unsigned char *bdata, *data[3];
	/* wanted in the order C, A, B; needed A, B, C */
	static const int64_t need_offset[3] = {3, 1, 2};
	int64_t now = mc_now_ms();
	struct mc_event *ev;
	int i, order[3];

	fx->cfg.download_parallel = 1;
	bdata = serve(fx, 40000, 20, blocker);
	content_path(blocker, url, sizeof(url));
	set_faults(fx, "{\"%s\": {\"throttle\": 100000}}", url);
	start_fetcher(fx);
	mc_fetcher_want(fx->f, blocker, 40000, url, 0);
	for (i = 0; i < 3; i++) {
		data[i] = serve(fx, 1000, 21 + (uint32_t)i, sha[i]);
		content_path(sha[i], url, sizeof(url));
		mc_fetcher_want(fx->f, sha[i], 1000, url,
		                now + need_offset[i] * 3600 * 1000);
	}
	ev = expect_event(fx, MC_EV_FETCH_DONE, blocker, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	for (i = 0; i < 3; i++) {
		int k;

		ev = expect_event(fx, MC_EV_FETCH_DONE, NULL, 10000);
		assert_int_equal(ev->rc, MC_OK);
		order[i] = -1;
		for (k = 0; k < 3; k++)
			if (!strcmp(ev->sha256, sha[k]))
				order[i] = k;
		mc_event_free(ev);
	}
	/* by need: sha[1] (1 h), sha[2] (2 h), sha[0] (3 h) */
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 2);
	assert_int_equal(order[2], 0);
	for (i = 0; i < 3; i++)
		free(data[i]);
	free(bdata);
}

static void test_size_guard(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data = serve(fx, 50000, 30, sha);
	struct mc_event *ev;

	/* the manifest promises 20000 bytes; the server has 50000 */
	content_path(sha, url, sizeof(url));
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 20000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_TOO_LARGE);
	assert_non_null(strstr(ev->text, "20000"));
	mc_event_free(ev);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	assert_int_equal(file_size(part), -1);

	/* the same on a resume the server answers with the whole file */
	mc_fetcher_retain(fx->f, NULL, 0);
	write_file(part, data, 15000);
	set_faults(fx, "{\"%s\": {\"ignore_range\": true}}", url);
	mc_fetcher_want(fx->f, sha, 20000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_TOO_LARGE);
	mc_event_free(ev);
	assert_int_equal(file_size(part), -1);
	free(data);
}

static void test_download_window(void **state)
{
	struct fixture *fx = *state;
	char later[MC_SHA256_HEX_SIZE], soon[MC_SHA256_HEX_SIZE];
	char url_later[128], url_soon[128];
	unsigned char *d1 = serve(fx, 1000, 40, later);
	unsigned char *d2 = serve(fx, 1000, 41, soon);
	struct mc_fetch_progress p;
	struct mc_event *ev;
	struct tm tm;
	time_t t = time(NULL);
	int m;

	/* a window that opens in two hours and lasts one minute */
	localtime_r(&t, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	fx->cfg.window_start_min = (m + 120) % 1440;
	fx->cfg.window_end_min = (m + 121) % 1440;
	start_fetcher(fx);
	content_path(later, url_later, sizeof(url_later));
	content_path(soon, url_soon, sizeof(url_soon));
	mc_fetcher_want(fx->f, later, 1000, url_later,
	                mc_now_ms() + 5 * 3600 * 1000);
	assert_null(wait_event(fx, MC_EV_FETCH_DONE, later, 1000));
	mc_fetcher_progress(fx->f, &p);
	assert_int_equal(p.items, 1);
	assert_int_equal(p.bytes, 1000);
	assert_int_equal(p.active, 0);
	/* needed within the hour: starts even outside the window */
	mc_fetcher_want(fx->f, soon, 1000, url_soon,
	                mc_now_ms() + 10 * 60 * 1000);
	ev = expect_event(fx, MC_EV_FETCH_DONE, soon, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_null(wait_event(fx, MC_EV_FETCH_DONE, later, 500));
	free(d1);
	free(d2);
}

static void test_basic_auth(void **state)
{
	struct fixture *fx = *state;
	char sha[MC_SHA256_HEX_SIZE], url[128];
	unsigned char *data = serve(fx, 5000, 50, sha);
	struct mc_event *ev;
	struct req r[8];

	stop_server(fx);
	unlink(fx->log);
	start_server(fx, "pi-test-01:s3cret");
	content_path(sha, url, sizeof(url));

	/* without credentials: 401 */
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 5000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_non_null(strstr(ev->text, "HTTP 401"));
	mc_event_free(ev);
	mc_fetcher_stop(fx->f);

	/* the user name defaults to the node id */
	fx->cfg.password = "s3cret";
	start_fetcher(fx);
	mc_fetcher_want(fx->f, sha, 5000, url, 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_int_equal(wait_log(fx, url, r, 8, 2), 2);
	assert_string_equal(r[1].auth, "pi-test-01");
	free(data);
}

static void test_upload(void **state)
{
	struct fixture *fx = *state;
	unsigned char *png = make_bytes(70000, 60);
	char dest[256], *got = NULL;
	struct mc_event *ev;
	struct mc_error err;
	struct req r[8];
	size_t len;

	start_fetcher(fx);
	mc_fetcher_upload(fx->f, "/v1/nodes/pi-test-01/screenshot.png", png,
	                  70000, "image/png", "corr-42");
	ev = expect_event(fx, MC_EV_UPLOAD_DONE, "corr-42", 10000);
	assert_int_equal(ev->rc, MC_OK);
	assert_non_null(strstr(ev->text, "HTTP 201"));
	mc_event_free(ev);
	snprintf(dest, sizeof(dest),
	         "%s/uploads/v1/nodes/pi-test-01/screenshot.png", fx->root);
	assert_int_equal(mc_read_file(dest, 1 << 20, &got, &len, &err), MC_OK);
	assert_int_equal(len, 70000);
	assert_memory_equal(got, png, len);
	free(got);
	assert_int_equal(
	        wait_log(fx, "/v1/nodes/pi-test-01/screenshot.png", r, 8, 1),
	        1);
	assert_string_equal(r[0].method, "POST");
	assert_string_equal(r[0].ctype, "image/png");

	/* a refused upload says the status */
	set_faults(fx, "{\"/v1/nodes/pi-test-01/screenshot.png\": "
	               "{\"status\": 500}}");
	mc_fetcher_upload(fx->f, "v1/nodes/pi-test-01/screenshot.png", png,
	                  70000, "image/png", "corr-43");
	ev = expect_event(fx, MC_EV_UPLOAD_DONE, "corr-43", 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_non_null(strstr(ev->text, "HTTP 500"));
	mc_event_free(ev);
	free(png);
}

/* Wait (bounded) until the fetcher runs n transfers. */
static void wait_active(struct fixture *fx, int n)
{
	int64_t deadline = mc_mono_ms() + 5000;
	struct mc_fetch_progress p;

	for (;;) {
		mc_fetcher_progress(fx->f, &p);
		if (p.active >= n)
			return;
		if (mc_mono_ms() > deadline)
			fail_msg("only %lld transfers running, wanted %d",
			         (long long)p.active, n);
		sleep_ms(20);
	}
}

static void test_retain_stops_dropped(void **state)
{
	struct fixture *fx = *state;
	char a[MC_SHA256_HEX_SIZE], b[MC_SHA256_HEX_SIZE], url[128];
	char part[4096];
	unsigned char *da = serve(fx, 200000, 70, a);
	unsigned char *db = serve(fx, 2000, 71, b);
	const char *keep[1] = {b};
	struct mc_fetch_progress p;
	struct mc_event *ev;

	set_faults(fx, "{\"*\": {\"throttle\": 40000}}");
	fx->cfg.download_parallel = 1;
	start_fetcher(fx);
	content_path(a, url, sizeof(url));
	mc_fetcher_want(fx->f, a, 200000, url, 0);
	wait_active(fx, 1);
	content_path(b, url, sizeof(url));
	mc_fetcher_want(fx->f, b, 2000, url, 1);
	sleep_ms(300);
	/* a new manifest no longer needs a: its transfer stops, b runs */
	mc_fetcher_retain(fx->f, keep, 1);
	ev = expect_event(fx, MC_EV_FETCH_DONE, b, 10000);
	assert_int_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	assert_null(wait_event(fx, MC_EV_FETCH_DONE, a, 300));
	mc_fetcher_progress(fx->f, &p);
	assert_int_equal(p.items, 0);
	/* a's part stays for a later resume */
	mc_cache_part_path(fx->c, a, part, sizeof(part));
	assert_true(file_size(part) > 0);
	assert_true(file_size(part) < 200000);
	free(da);
	free(db);
}

static void test_stop_while_running(void **state)
{
	struct fixture *fx = *state;
	char sha[3][MC_SHA256_HEX_SIZE], url[128], part[4096];
	unsigned char *data[3];
	int64_t t0, took;
	int i;

	set_faults(fx, "{\"*\": {\"throttle\": 20000}}");
	fx->cfg.download_parallel = 2;
	start_fetcher(fx);
	for (i = 0; i < 3; i++) {
		data[i] = serve(fx, 200000, 80 + (uint32_t)i, sha[i]);
		content_path(sha[i], url, sizeof(url));
		mc_fetcher_want(fx->f, sha[i], 200000, url, 0);
	}
	wait_active(fx, 2);
	sleep_ms(300);
	t0 = mc_mono_ms();
	mc_fetcher_stop(fx->f);
	fx->f = NULL;
	took = mc_mono_ms() - t0;
	if (took > 2000)
		fail_msg("mc_fetcher_stop took %lld ms", (long long)took);
	/* the parts of the running transfers stay for resume */
	mc_cache_part_path(fx->c, sha[0], part, sizeof(part));
	assert_true(file_size(part) > 0);
	for (i = 0; i < 3; i++) {
		assert_false(mc_cache_has(fx->c, sha[i], -1));
		free(data[i]);
	}
}

static void test_bandwidth_cap(void **state)
{
	struct fixture *fx = *state;
	char sha[2][MC_SHA256_HEX_SIZE], url[128];
	unsigned char *data[2];
	struct mc_event *ev;
	int64_t t0, took;
	int i;

	/* 2 x 500 kB under a 500 kB/s cap: 2 s, less the 1/4 s burst */
	fx->cfg.bandwidth_bps = 500000;
	fx->cfg.download_parallel = 2;
	start_fetcher(fx);
	t0 = mc_mono_ms();
	for (i = 0; i < 2; i++) {
		data[i] = serve(fx, 500000, 90 + (uint32_t)i, sha[i]);
		content_path(sha[i], url, sizeof(url));
		mc_fetcher_want(fx->f, sha[i], 500000, url, 0);
	}
	for (i = 0; i < 2; i++) {
		ev = expect_event(fx, MC_EV_FETCH_DONE, sha[i], 15000);
		assert_int_equal(ev->rc, MC_OK);
		mc_event_free(ev);
		free(data[i]);
	}
	took = mc_mono_ms() - t0;
	if (took < 1500)
		fail_msg("1 MB under a 500 kB/s cap took %lld ms",
		         (long long)took);
}

static void test_bad_input(void **state)
{
	struct fixture *fx = *state;
	struct mc_event *ev;
	char sha[MC_SHA256_HEX_SIZE];

	start_fetcher(fx);
	mc_fetcher_want(fx->f, "../../etc/passwd", 10, "/x", 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, NULL, 1000);
	assert_int_equal(ev->rc, MC_ERR_INVAL);
	mc_event_free(ev);

	/* a manifest may not point the node at a local file */
	mc_sha256_hex("x", 1, sha);
	mc_fetcher_want(fx->f, sha, 1, "file:///etc/passwd", 0);
	ev = expect_event(fx, MC_EV_FETCH_DONE, sha, 5000);
	assert_int_not_equal(ev->rc, MC_OK);
	mc_event_free(ev);
	mc_fetcher_retain(fx->f, NULL, 0);
	assert_false(mc_cache_has(fx->c, sha, -1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_download_and_commit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_absolute_url_and_twice_wanted, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_resume_after_cut, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_hash_mismatch, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_not_found, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_server_ignores_range,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_complete_part_416, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_parallel_bound, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_priority_order, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_size_guard, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_download_window, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_basic_auth, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_upload, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_retain_stops_dropped,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_stop_while_running, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bandwidth_cap, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bad_input, setup,
	                                        teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
