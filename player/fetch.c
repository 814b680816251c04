/*
 * minecast-player — downloads and uploads on one worker thread running a
 * libcurl multi handle (fetch.h).
 *
 * Threads: the main thread calls want/retain/upload/progress, which only
 * edit the lists below under f->lock and wake the worker with
 * curl_multi_wakeup().  The worker owns every curl handle and every open
 * part file; it calls curl outside the lock (except to add and remove
 * handles while it schedules) and hashes finished files outside the lock,
 * so the main loop never waits for a download.
 *
 * A job's life: QUEUED -> ACTIVE -> committed (freed, success event), or
 * -> WAIT after a failure (failure event, retried with backoff), or freed
 * when mc_fetcher_retain() drops it.  Part files stay on every failure
 * that may leave good bytes (a cut, a timeout), so the next attempt asks
 * for the rest with "Range: bytes=k-".  They are deleted when the bytes
 * are known to be bad: a hash mismatch, more bytes than expected, or a
 * Content-Range that does not continue the part.
 */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "fetch.h"

#ifndef MC_VERSION
#define MC_VERSION "dev"
#endif

/* Retry after a failure: 5 s, doubling, at most 5 min, +-20 % jitter so
 * that a site's nodes do not return to the server in step. */
#define RETRY_FIRST_MS 5000
#define RETRY_MAX_MS   (5 * 60 * 1000)

/* Outside the download window, files needed this soon still start. */
#define WINDOW_URGENT_MS (60 * 60 * 1000)

/* How often the worker wakes when nothing else wakes it, to notice the
 * download window opening. */
#define IDLE_WAKE_MS 30000

/* Bytes of an error response body kept for upload event texts. */
#define REPLY_KEEP 200

enum job_state {
	JOB_QUEUED, /* waiting for a transfer slot */
	JOB_ACTIVE, /* a transfer is running */
	JOB_WAIT    /* failed; QUEUED again at next_try_ms */
};

/* One wanted file.  Fields marked (worker) are only touched by the
 * worker thread while the job is ACTIVE; the rest are under f->lock. */
struct job {
	char sha[65];         /* what to fetch */
	int64_t size;         /* expected bytes; -1 = unknown (no guard) */
	char *url;            /* absolute URL */
	int64_t need_by_ms;   /* wall clock; orders the queue */
	uint64_t seq;         /* order of wanting, breaks need_by ties */
	enum job_state state; /* see enum job_state */
	bool dropped;         /* retained away while ACTIVE: worker frees */
	int failures;         /* consecutive failed attempts */
	int64_t next_try_ms;  /* monotonic; when a WAIT job may run again */
	int64_t have;         /* bytes in the part file (progress) */
	struct job *next;     /* list link */
	struct mc_fetcher *f; /* owner, for the curl callbacks */

	CURL *easy;       /* (worker) the transfer */
	int fd;           /* (worker) the part file, open for writing */
	int64_t offset;   /* (worker) bytes already there: Range start */
	int64_t written;  /* (worker) bytes written by this transfer */
	bool decided;     /* (worker) response status looked at */
	bool discard;     /* (worker) not a body to keep: drop it */
	bool restarted;   /* (worker) server ignored Range */
	bool bad_range;   /* (worker) Content-Range not at offset */
	bool too_large;   /* (worker) server sent more than size */
	bool paused;      /* (worker) waiting for bandwidth tokens */
	int write_errno;  /* (worker) errno of a failed write */
	int64_t cr_start; /* (worker) Content-Range start, -1 none */
	char errbuf[CURL_ERROR_SIZE]; /* (worker) curl's detail */
};

/* One upload (screenshots).  Owned by the worker once queued. */
struct upload {
	char *url;                    /* absolute URL */
	char *data;                   /* body, owned */
	size_t len;                   /* body bytes */
	char *tag;                    /* the caller's tag for the event */
	struct curl_slist *hdrs;      /* Content-Type, no Expect */
	CURL *easy;                   /* NULL until started */
	char reply[REPLY_KEEP + 1];   /* start of the response body */
	size_t reply_len;             /* bytes in reply */
	char errbuf[CURL_ERROR_SIZE]; /* curl's detail */
	struct upload *next;          /* list link */
};

struct mc_fetcher {
	/* Copied from the config, which the fetcher does not own. */
	char *http_base;       /* base of relative URLs, no trailing '/' */
	char *username;        /* basic auth user, NULL = no auth */
	char *password;        /* basic auth password */
	char *ca_file;         /* TLS CA bundle, NULL = system */
	long timeout_s;        /* abort when < 1 byte/s for this long */
	int parallel;          /* transfers at once */
	int64_t bandwidth_bps; /* total receive cap; 0 = none */
	int window_start;      /* minute of the local day; -1 = always */
	int window_end;        /* minute of the local day; -1 = always */

	struct mc_cache *cache; /* where files go (borrowed) */
	struct mc_evq *q;       /* where outcomes go (borrowed) */
	CURLM *multi;           /* the worker's multi handle */
	pthread_t thread;       /* the worker */

	pthread_mutex_t lock;   /* guards everything below */
	bool stop;              /* mc_fetcher_stop() was called */
	struct job *jobs;       /* every wanted file, any state */
	struct upload *uploads; /* uploads not yet finished */
	uint64_t seq;           /* next job seq */
	int active;             /* ACTIVE jobs (including dropped ones) */
	int capped_for;         /* active count the speed cap was set for */
	unsigned rand_state;    /* jitter */

	/* The bandwidth cap (worker thread only).  libcurl 7.88's own
	 * CURLOPT_MAX_RECV_SPEED_LARGE (also set, cap / active) lets a fast
	 * link through almost unthrottled (2 MB under a 500 kB/s cap took
	 * 0.28 s on loopback), so a token bucket shared by all transfers
	 * enforces the cap: a write callback without tokens pauses its
	 * transfer and the worker resumes it when tokens are back. */
	int64_t tokens;    /* bytes that may be received now; may go < 0 */
	int64_t tokens_ms; /* monotonic time of the last refill; 0 = never */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool sha_ok(const char *s)
{
	size_t i;

	if (!s)
		return false;
	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[64] == '\0';
}

/*
 * An absolute URL for url: kept when it has a scheme, else appended to
 * base with exactly one '/' between, so that a base with a path prefix
 * ("https://cdn/minecast") keeps it.  NULL when relative without a base.
 */
static char *join_url(const char *base, const char *url)
{
	if (!url)
		return NULL;
	if (strstr(url, "://"))
		return strdup(url);
	if (!base)
		return NULL;
	while (*url == '/')
		url++;
	return mc_printf("%s/%s", base, url);
}

static void push_event(struct mc_fetcher *f, enum mc_event_type type,
                       const char *sha, const char *tag, enum mc_err rc,
                       const char *text)
{
	struct mc_event *ev = mc_event_new(type);

	if (!ev) {
		mc_log_error("fetch", "out of memory: an event is lost");
		return;
	}
	if (sha)
		snprintf(ev->sha256, sizeof(ev->sha256), "%s", sha);
	ev->tag = mc_strdup(tag);
	ev->rc = rc;
	ev->text = mc_strdup(text);
	mc_evq_push(f->q, ev);
}

static int64_t part_size(struct mc_fetcher *f, const char *sha)
{
	char path[4096];
	struct stat st;

	mc_cache_part_path(f->cache, sha, path, sizeof(path));
	if (!path[0] || stat(path, &st) != 0)
		return 0;
	return st.st_size;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j);
}

static void upload_free(struct upload *u)
{
	if (!u)
		return;
	if (u->easy)
		curl_easy_cleanup(u->easy);
	curl_slist_free_all(u->hdrs);
	free(u->url);
	free(u->data);
	free(u->tag);
	free(u);
}

/* Unlink j from f->jobs (under the lock). */
static void job_unlink(struct mc_fetcher *f, struct job *j)
{
	struct job **pp;

	for (pp = &f->jobs; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			return;
		}
}

/* ---- the download window ---- */

static bool in_window(const struct mc_fetcher *f)
{
	struct tm tm;
	time_t now = time(NULL);
	int m, s = f->window_start, e = f->window_end;

	if (s < 0 || e < 0 || s == e)
		return true;
	localtime_r(&now, &tm);
	m = tm.tm_hour * 60 + tm.tm_min;
	if (s < e)
		return m >= s && m < e;
	return m >= s || m < e; /* wraps midnight: 22:00-05:00 */
}

static int64_t backoff_ms(struct mc_fetcher *f, int failures)
{
	int64_t d = RETRY_FIRST_MS;
	int i;

	for (i = 1; i < failures && d < RETRY_MAX_MS; i++)
		d *= 2;
	if (d > RETRY_MAX_MS)
		d = RETRY_MAX_MS;
	/* 0.8 .. 1.2 */
	return d * (80 + rand_r(&f->rand_state) % 41) / 100;
}

/* ---- the bandwidth bucket (worker thread) ---- */

static void refill(struct mc_fetcher *f)
{
	int64_t now = mc_mono_ms();
	/* a quarter second of burst, at least one curl buffer */
	int64_t burst = f->bandwidth_bps / 4 > CURL_MAX_WRITE_SIZE
	                        ? f->bandwidth_bps / 4
	                        : CURL_MAX_WRITE_SIZE;

	if (!f->tokens_ms) {
		f->tokens = burst;
		f->tokens_ms = now;
		return;
	}
	if (now <= f->tokens_ms)
		return;
	f->tokens += (now - f->tokens_ms) * f->bandwidth_bps / 1000;
	f->tokens_ms = now;
	if (f->tokens > burst)
		f->tokens = burst;
}

/*
 * Resume paused transfers when tokens are back.  Returns -1 when none is
 * paused, 0 when they were resumed, else the milliseconds to wait.
 */
static long bucket_wait(struct mc_fetcher *f)
{
	struct job *paused[16], *j;
	int n = 0, i;

	if (f->bandwidth_bps <= 0)
		return -1;
	pthread_mutex_lock(&f->lock);
	for (j = f->jobs; j && n < 16; j = j->next)
		if (j->state == JOB_ACTIVE && j->easy && j->paused)
			paused[n++] = j;
	pthread_mutex_unlock(&f->lock);
	if (!n)
		return -1;
	refill(f);
	if (f->tokens <= 0)
		return (long)(-f->tokens * 1000 / f->bandwidth_bps) + 1;
	/* Outside the lock: unpausing delivers data to write_cb, which
	 * takes it.  Only this thread frees ACTIVE jobs. */
	for (i = 0; i < n; i++) {
		paused[i]->paused = false;
		curl_easy_pause(paused[i]->easy, CURLPAUSE_CONT);
	}
	return 0;
}

/* ---- curl callbacks (worker thread, inside curl_multi_perform) ---- */

static size_t header_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	size_t len = size * n;
	long long a;

	/* A new status line starts a new response (redirects). */
	if (len >= 5 && !strncmp(buf, "HTTP/", 5))
		j->cr_start = -1;
	else if (len > 14 && !strncasecmp(buf, "Content-Range:", 14) &&
	         sscanf(buf + 14, " bytes %lld-", &a) == 1)
		j->cr_start = a;
	return len;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/*
 * Decide, at the first body byte, what the response means for the part
 * file: 206 continues it, 200 replaces it (the server ignored Range),
 * anything else is not file content.  Returns false to abort.
 */
static bool decide(struct mc_fetcher *f, struct job *j)
{
	long code = 0;

	j->decided = true;
	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code == 206 && j->offset > 0) {
		if (j->cr_start != j->offset) {
			j->bad_range = true;
			return false;
		}
		return true;
	}
	if (code == 200) {
		if (j->offset > 0) {
			if (ftruncate(j->fd, 0) != 0 ||
			    lseek(j->fd, 0, SEEK_SET) != 0) {
				j->write_errno = errno;
				return false;
			}
			j->restarted = true;
			mc_log_info(
			        "fetch",
			        "%.12s…: the server ignored Range (HTTP 200 "
			        "for bytes %" PRId64 "-); downloading from "
			        "the start",
			        j->sha, j->offset);
			j->offset = 0;
			pthread_mutex_lock(&f->lock);
			j->have = 0;
			pthread_mutex_unlock(&f->lock);
		}
		return true;
	}
	j->discard = true;
	return true;
}

static size_t write_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct job *j = arg;
	struct mc_fetcher *f = j->f;
	size_t len = size * n;

	if (!j->decided && !decide(f, j))
		return 0;
	if (j->discard)
		return len;
	if (f->bandwidth_bps > 0) {
		refill(f);
		if (f->tokens <= 0) {
			/* curl keeps this chunk and hands it over again */
			j->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
	}
	/* The size guard: a server (or a man in the middle) sending more
	 * than the manifest promised must not fill the disk. */
	if (j->size >= 0 && j->offset + j->written + (int64_t)len > j->size) {
		j->too_large = true;
		return 0;
	}
	if (write_all(j->fd, buf, len) != 0) {
		j->write_errno = errno;
		return 0;
	}
	j->written += (int64_t)len;
	f->tokens -= (int64_t)len;
	pthread_mutex_lock(&f->lock);
	j->have = j->offset + j->written;
	pthread_mutex_unlock(&f->lock);
	return len;
}

static size_t upload_reply_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct upload *u = arg;
	size_t len = size * n, room = REPLY_KEEP - u->reply_len;

	if (room > len)
		room = len;
	memcpy(u->reply + u->reply_len, buf, room);
	u->reply_len += room;
	u->reply[u->reply_len] = '\0';
	return len;
}

/* ---- easy handles ---- */

static void common_opts(struct mc_fetcher *f, CURL *e, char *errbuf)
{
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, f->timeout_s);
	/* A manifest names URLs: never let it reach file:// or others. */
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "minecast-player/" MC_VERSION);
	if (f->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, f->ca_file);
	if (f->username) {
		/* Basic auth is only sent to the host of the URL, not after
		 * a redirect elsewhere (no CURLOPT_UNRESTRICTED_AUTH). */
		curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(e, CURLOPT_USERNAME, f->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD,
		                 f->password ? f->password : "");
	}
}

/* Give every running download an equal share of the bandwidth cap. */
static void apply_cap(struct mc_fetcher *f)
{
	curl_off_t each = 0;
	struct job *j;

	if (f->bandwidth_bps <= 0 || f->capped_for == f->active)
		return;
	f->capped_for = f->active;
	if (f->active > 0)
		each = f->bandwidth_bps / f->active;
	if (f->active > 0 && each < 1)
		each = 1;
	for (j = f->jobs; j; j = j->next)
		if (j->state == JOB_ACTIVE && j->easy)
			curl_easy_setopt(j->easy, CURLOPT_MAX_RECV_SPEED_LARGE,
			                 each);
}

/* ---- finishing ---- */

/*
 * A failed attempt: event, log, back to the queue after a delay.  The
 * lock is held.
 */
static void job_failed(struct mc_fetcher *f, struct job *j, enum mc_err rc,
                       const char *why)
{
	int64_t delay;
	char *text;

	j->failures++;
	delay = backoff_ms(f, j->failures);
	j->state = JOB_WAIT;
	j->next_try_ms = mc_mono_ms() + delay;
	j->have = part_size(f, j->sha);
	text = mc_printf("%s: %s; retrying in %" PRId64 " s", j->url, why,
	                 (delay + 500) / 1000);
	mc_log_warn("fetch", "%.12s…: %s", j->sha, text ? text : why);
	push_event(f, MC_EV_FETCH_DONE, j->sha, NULL, rc, text ? text : why);
	free(text);
}

/* The file is in the cache: event, forget the job.  Lock held. */
static void job_done(struct mc_fetcher *f, struct job *j)
{
	char *text = mc_printf("%s: %" PRId64 " bytes verified and stored",
	                       j->url, j->size);

	mc_log_info("fetch", "%.12s…: %s", j->sha, text ? text : "stored");
	push_event(f, MC_EV_FETCH_DONE, j->sha, NULL, MC_OK,
	           text ? text : "stored");
	free(text);
	job_unlink(f, j);
	job_free(j);
}

/*
 * Commit a complete part file.  Called without the lock: hashing a big
 * file takes a while.  Returns the outcome; err says why.
 */
static enum mc_err try_commit(struct mc_fetcher *f, struct job *j,
                              struct mc_error *err)
{
	mc_error_clear(err);
	return mc_cache_commit(f->cache, j->sha, j->size, err);
}

/* Stop a transfer: remove the handle, close the part file (kept). */
static void job_detach(struct mc_fetcher *f, struct job *j)
{
	if (j->easy) {
		curl_multi_remove_handle(f->multi, j->easy);
		curl_easy_cleanup(j->easy);
		j->easy = NULL;
	}
	if (j->fd >= 0) {
		close(j->fd);
		j->fd = -1;
	}
}

static void truncate_part(struct mc_fetcher *f, struct job *j)
{
	char path[4096];

	mc_cache_part_path(f->cache, j->sha, path, sizeof(path));
	if (path[0])
		unlink(path);
}

/* A download ended (worker, lock not held). */
static void job_finished(struct mc_fetcher *f, struct job *j, CURLcode res)
{
	struct mc_error err;
	enum mc_err rc = MC_OK;
	char why[512];
	long code = 0;
	int64_t got;
	bool requeue_now = false, done = false, http_ok;

	curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &code);
	if (res == CURLE_OK && !j->decided && (code == 200 || code == 206))
		decide(f, j); /* an empty body never reached write_cb */
	job_detach(f, j);
	got = j->offset + j->written;
	why[0] = '\0';
	http_ok = code == 200 || (code == 206 && j->offset > 0);
	if (j->bad_range) {
		truncate_part(f, j);
		rc = MC_ERR_IO;
		snprintf(why, sizeof(why),
		         "HTTP 206 with a Content-Range not starting at byte "
		         "%" PRId64 "; part file deleted",
		         j->offset);
	} else if (code == 416 && j->offset > 0) {
		/* The part may already be complete: try it. */
		rc = try_commit(f, j, &err);
		if (rc == MC_OK)
			done = true;
		else if (rc == MC_ERR_HASH) {
			mc_log_info("fetch",
			            "%.12s…: HTTP 416 for bytes %" PRId64
			            "-: %s; downloading from the start",
			            j->sha, j->offset, err.msg);
			requeue_now = true;
		} else
			snprintf(why, sizeof(why), "HTTP 416: %s", err.msg);
	} else if (code != 0 && !http_ok) {
		/* Checked before curl's result: curl's size guard also
		 * fires on a long error page. */
		rc = code == 404 || code == 410 ? MC_ERR_NOTFOUND : MC_ERR_IO;
		snprintf(why, sizeof(why), "HTTP %ld", code);
	} else if (j->too_large || res == CURLE_FILESIZE_EXCEEDED) {
		truncate_part(f, j);
		rc = MC_ERR_TOO_LARGE;
		snprintf(why, sizeof(why),
		         "the server sends more than the expected %" PRId64
		         " bytes; transfer aborted, part file deleted",
		         j->size);
	} else if (j->write_errno) {
		rc = MC_ERR_IO;
		snprintf(why, sizeof(why), "writing the part file: %s",
		         j->write_errno == ENOSPC || j->write_errno == EDQUOT
		                 ? "disk full"
		                 : strerror(j->write_errno));
	} else if (res != CURLE_OK) {
		rc = MC_ERR_IO;
		/* curl's own detail (errbuf) is the most specific. */
		snprintf(why, sizeof(why),
		         "%s%s%s (after %" PRId64 " of %" PRId64 " bytes%s)",
		         curl_easy_strerror(res), j->errbuf[0] ? ": " : "",
		         j->errbuf, got, j->size,
		         got > 0 ? "; part file kept for resume" : "");
	} else if (j->size >= 0 && got < j->size) {
		rc = MC_ERR_IO;
		snprintf(why, sizeof(why),
		         "transfer ended after %" PRId64 " of %" PRId64
		         " bytes; part file kept for resume",
		         got, j->size);
	} else {
		rc = try_commit(f, j, &err);
		if (rc == MC_OK)
			done = true;
		else
			snprintf(why, sizeof(why), "%s", err.msg);
	}

	pthread_mutex_lock(&f->lock);
	f->active--;
	if (done) {
		j->failures = 0;
		job_done(f, j);
	} else if (j->dropped) {
		job_unlink(f, j);
		job_free(j);
	} else if (requeue_now) {
		j->state = JOB_QUEUED;
		j->have = 0;
	} else {
		job_failed(f, j, rc, why);
	}
	pthread_mutex_unlock(&f->lock);
}

static void upload_finished(struct mc_fetcher *f, struct upload *u,
                            CURLcode res)
{
	enum mc_err rc = MC_OK;
	long code = 0;
	char *text;

	curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_multi_remove_handle(f->multi, u->easy);
	if (res != CURLE_OK) {
		rc = MC_ERR_IO;
		text = mc_printf("POST %s: %s%s%s", u->url,
		                 curl_easy_strerror(res),
		                 u->errbuf[0] ? ": " : "", u->errbuf);
	} else if (code < 200 || code > 299) {
		rc = code == 404 ? MC_ERR_NOTFOUND : MC_ERR_IO;
		text = mc_printf("POST %s: HTTP %ld%s%.*s", u->url, code,
		                 u->reply_len ? ": " : "", (int)u->reply_len,
		                 u->reply);
	} else {
		text = mc_printf("POST %s: HTTP %ld, %zu bytes sent", u->url,
		                 code, u->len);
	}
	if (rc == MC_OK)
		mc_log_info("fetch", "upload %s: %s", u->tag ? u->tag : "",
		            text ? text : "done");
	else
		mc_log_warn("fetch", "upload %s failed: %s",
		            u->tag ? u->tag : "", text ? text : "error");
	push_event(f, MC_EV_UPLOAD_DONE, NULL, u->tag, rc,
	           text ? text : "upload finished");
	free(text);
}

/* ---- starting ---- */

/*
 * Start the download of j (lock held), from the end of its part file if
 * there is one.  Returns false when the job could not start (it has been
 * failed instead, with an event).
 */
static bool job_start(struct mc_fetcher *f, struct job *j)
{
	char path[4096], range[32], why[512];
	CURL *e = NULL;
	off_t end;

	j->fd = -1;
	j->easy = NULL;
	j->written = 0;
	j->decided = j->discard = j->restarted = false;
	j->bad_range = j->too_large = j->paused = false;
	j->write_errno = 0;
	j->cr_start = -1;
	j->errbuf[0] = '\0';
	mc_cache_part_path(f->cache, j->sha, path, sizeof(path));
	j->fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (j->fd < 0) {
		snprintf(why, sizeof(why), "%.400s: %s", path,
		         errno == ENOSPC ? "disk full" : strerror(errno));
		goto fail;
	}
	end = lseek(j->fd, 0, SEEK_END);
	if (end < 0) {
		snprintf(why, sizeof(why), "%.400s: %s", path, strerror(errno));
		goto fail;
	}
	j->offset = end;
	j->have = end;
	e = curl_easy_init();
	if (!e) {
		snprintf(why, sizeof(why), "curl_easy_init failed");
		goto fail;
	}
	j->easy = e;
	common_opts(f, e, j->errbuf);
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, j);
	if (j->size > 0)
		curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
		                 (curl_off_t)j->size);
	if (j->offset > 0) {
		snprintf(range, sizeof(range), "%" PRId64 "-", j->offset);
		curl_easy_setopt(e, CURLOPT_RANGE, range);
	}
	if (f->bandwidth_bps > 0)
		curl_easy_setopt(
		        e, CURLOPT_MAX_RECV_SPEED_LARGE,
		        (curl_off_t)(f->bandwidth_bps / (f->active + 1)));
	if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
		snprintf(why, sizeof(why), "curl_multi_add_handle failed");
		goto fail;
	}
	j->state = JOB_ACTIVE;
	f->active++;
	mc_log_debug("fetch", "%.12s…: GET %s%s%s", j->sha, j->url,
	             j->offset ? " from byte " : "", j->offset ? range : "");
	return true;
fail:
	if (e)
		curl_easy_cleanup(e);
	j->easy = NULL;
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
	job_failed(f, j, MC_ERR_IO, why);
	return false;
}

/*
 * A part file as long as the whole file: a crash between the last byte
 * and the commit.  Commit it without a request (lock dropped while
 * hashing).  Returns true when the job is gone (stored or requeued).
 */
static bool complete_part(struct mc_fetcher *f, struct job *j)
{
	struct mc_error err;
	enum mc_err rc;

	if (j->size < 0 || part_size(f, j->sha) < j->size)
		return false;
	j->state = JOB_ACTIVE;
	f->active++;
	pthread_mutex_unlock(&f->lock);
	rc = try_commit(f, j, &err);
	pthread_mutex_lock(&f->lock);
	f->active--;
	j->state = JOB_QUEUED;
	if (rc == MC_OK && !j->dropped) {
		job_done(f, j);
		return true;
	}
	if (j->dropped) {
		job_unlink(f, j);
		job_free(j);
		return true;
	}
	/* A bad or over-long part was deleted by the commit: start over. */
	if (rc == MC_ERR_HASH)
		mc_log_info("fetch", "%.12s…: leftover part file: %s", j->sha,
		            err.msg);
	return false;
}

/* The queued job to start next: smallest need_by, then oldest. */
static struct job *pick(struct mc_fetcher *f, bool window_open, int64_t now,
                        int64_t mono)
{
	struct job *j, *best = NULL;

	for (j = f->jobs; j; j = j->next) {
		if (j->state == JOB_WAIT && mono >= j->next_try_ms)
			j->state = JOB_QUEUED;
		if (j->state != JOB_QUEUED)
			continue;
		if (!window_open && j->need_by_ms > now + WINDOW_URGENT_MS)
			continue;
		if (!best || j->need_by_ms < best->need_by_ms ||
		    (j->need_by_ms == best->need_by_ms && j->seq < best->seq))
			best = j;
	}
	return best;
}

/* Start what may start (lock held); returns the next wake-up in ms. */
static long schedule(struct mc_fetcher *f)
{
	int64_t now = mc_now_ms(), mono = mc_mono_ms();
	bool win = in_window(f);
	long wait = IDLE_WAKE_MS;
	struct upload *u;
	struct job *j;

	while (f->active < f->parallel && !f->stop) {
		j = pick(f, win, now, mono);
		if (!j)
			break;
		if (complete_part(f, j))
			continue;
		if (j->state != JOB_QUEUED)
			continue; /* requeued by complete_part? */
		job_start(f, j);
	}
	for (u = f->uploads; u; u = u->next) {
		if (u->easy)
			continue;
		u->easy = curl_easy_init();
		if (!u->easy)
			continue;
		common_opts(f, u->easy, u->errbuf);
		curl_easy_setopt(u->easy, CURLOPT_URL, u->url);
		curl_easy_setopt(u->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(u->easy, CURLOPT_POSTFIELDS, u->data);
		curl_easy_setopt(u->easy, CURLOPT_POSTFIELDSIZE_LARGE,
		                 (curl_off_t)u->len);
		curl_easy_setopt(u->easy, CURLOPT_HTTPHEADER, u->hdrs);
		curl_easy_setopt(u->easy, CURLOPT_WRITEFUNCTION,
		                 upload_reply_cb);
		curl_easy_setopt(u->easy, CURLOPT_WRITEDATA, u);
		curl_multi_add_handle(f->multi, u->easy);
	}
	apply_cap(f);
	for (j = f->jobs; j; j = j->next)
		if (j->state == JOB_WAIT) {
			int64_t d = j->next_try_ms - mono;

			if (d < 0)
				d = 0;
			if (d < wait)
				wait = (long)d;
		}
	return wait;
}

/* Stop transfers retain() dropped (lock held). */
static void reap_dropped(struct mc_fetcher *f)
{
	struct job *j = f->jobs, *next;

	for (; j; j = next) {
		next = j->next;
		if (!j->dropped || j->state != JOB_ACTIVE)
			continue;
		job_detach(f, j);
		f->active--;
		mc_log_info("fetch",
		            "%.12s…: no longer wanted; transfer "
		            "stopped, part file kept",
		            j->sha);
		job_unlink(f, j);
		job_free(j);
	}
}

/* Finish completed transfers; returns how many. */
static int handle_done(struct mc_fetcher *f)
{
	struct upload **pp, *u;
	struct job *j;
	CURLMsg *m;
	int left, done = 0;

	while ((m = curl_multi_info_read(f->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		pthread_mutex_lock(&f->lock);
		for (j = f->jobs; j && j->easy != m->easy_handle; j = j->next)
			;
		for (pp = &f->uploads; *pp && (*pp)->easy != m->easy_handle;
		     pp = &(*pp)->next)
			;
		u = *pp;
		if (u)
			*pp = u->next;
		pthread_mutex_unlock(&f->lock);
		if (j)
			job_finished(f, j, m->data.result);
		else if (u) {
			upload_finished(f, u, m->data.result);
			upload_free(u);
		}
		done++;
	}
	return done;
}

static void *worker(void *arg)
{
	struct mc_fetcher *f = arg;
	struct upload *u;
	struct job *j;
	int running;
	long wait, bw;

	for (;;) {
		pthread_mutex_lock(&f->lock);
		if (f->stop) {
			pthread_mutex_unlock(&f->lock);
			break;
		}
		reap_dropped(f);
		wait = schedule(f);
		pthread_mutex_unlock(&f->lock);
		curl_multi_perform(f->multi, &running);
		/* A finished transfer frees a slot: schedule at once. */
		if (handle_done(f) > 0)
			continue;
		bw = bucket_wait(f);
		if (bw == 0)
			continue;
		if (bw > 0 && bw < wait)
			wait = bw;
		curl_multi_poll(f->multi, NULL, 0, (int)wait, NULL);
	}

	/* Stop: part files stay for the next start. */
	pthread_mutex_lock(&f->lock);
	while ((j = f->jobs)) {
		f->jobs = j->next;
		job_detach(f, j);
		job_free(j);
	}
	while ((u = f->uploads)) {
		f->uploads = u->next;
		if (u->easy)
			curl_multi_remove_handle(f->multi, u->easy);
		upload_free(u);
	}
	f->active = 0;
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* ---- public ---- */

static void fetcher_free(struct mc_fetcher *f)
{
	if (!f)
		return;
	if (f->multi)
		curl_multi_cleanup(f->multi);
	pthread_mutex_destroy(&f->lock);
	free(f->http_base);
	free(f->username);
	free(f->password);
	free(f->ca_file);
	free(f);
}

struct mc_fetcher *mc_fetcher_start(const struct mc_player_config *cfg,
                                    struct mc_cache *cache, struct mc_evq *q,
                                    struct mc_error *err)
{
	struct mc_fetcher *f = NULL;
	size_t n;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		mc_error_set(err, MC_ERR_UNSUPPORTED, "fetch: libcurl: %s",
		             curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	if (!cfg || !cache || !q) {
		mc_error_set(err, MC_ERR_INVAL, "fetch: missing argument");
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	pthread_mutex_init(&f->lock, NULL);
	f->cache = cache;
	f->q = q;
	if (cfg->http_base) {
		f->http_base = strdup(cfg->http_base);
		if (!f->http_base)
			goto nomem;
		n = strlen(f->http_base);
		while (n > 0 && f->http_base[n - 1] == '/')
			f->http_base[--n] = '\0';
	}
	/* Credentials are sent only when a password is configured: the
	 * user name defaults to the node id and alone proves nothing. */
	if (cfg->password) {
		f->username = strdup(cfg->username  ? cfg->username
		                     : cfg->node_id ? cfg->node_id
		                                    : "");
		f->password = strdup(cfg->password);
		if (!f->username || !f->password)
			goto nomem;
	}
	if (cfg->http_ca_file && !(f->ca_file = strdup(cfg->http_ca_file)))
		goto nomem;
	f->timeout_s = cfg->http_timeout_s > 0 ? cfg->http_timeout_s : 30;
	f->parallel = cfg->download_parallel;
	if (f->parallel < 1)
		f->parallel = 1;
	if (f->parallel > 16)
		f->parallel = 16;
	f->bandwidth_bps = cfg->bandwidth_bps > 0 ? cfg->bandwidth_bps : 0;
	f->window_start = cfg->window_start_min;
	f->window_end = cfg->window_end_min;
	f->rand_state = (unsigned)mc_now_ms() ^ (unsigned)getpid();
	f->multi = curl_multi_init();
	if (!f->multi) {
		mc_error_set(err, MC_ERR_NOMEM,
		             "fetch: curl_multi_init failed");
		goto fail;
	}
	if (pthread_create(&f->thread, NULL, worker, f) != 0) {
		mc_error_set(err, MC_ERR_IO, "fetch: cannot start thread: %s",
		             strerror(errno));
		goto fail;
	}
	return f;
nomem:
	mc_error_set(err, MC_ERR_NOMEM, "fetch: out of memory");
fail:
	fetcher_free(f);
	return NULL;
}

void mc_fetcher_want(struct mc_fetcher *f, const char *sha256, int64_t size,
                     const char *url, int64_t need_by_ms)
{
	struct job *j;
	char *abs = NULL;

	if (!sha_ok(sha256)) {
		push_event(f, MC_EV_FETCH_DONE, NULL, NULL, MC_ERR_INVAL,
		           "not a sha256 (64 lower-case hex digits)");
		return;
	}
	if (mc_cache_has(f->cache, sha256, size)) {
		push_event(f, MC_EV_FETCH_DONE, sha256, NULL, MC_OK,
		           "already in the cache");
		return;
	}
	pthread_mutex_lock(&f->lock);
	for (j = f->jobs; j; j = j->next)
		if (!strcmp(j->sha, sha256))
			break;
	if (j) {
		/* One download per file: the earliest need wins. */
		if (need_by_ms < j->need_by_ms)
			j->need_by_ms = need_by_ms;
		j->dropped = false;
		pthread_mutex_unlock(&f->lock);
		goto wake;
	}
	pthread_mutex_unlock(&f->lock);
	abs = join_url(f->http_base, url);
	if (!abs) {
		push_event(f, MC_EV_FETCH_DONE, sha256, NULL, MC_ERR_INVAL,
		           url ? "relative URL and no [http] base configured"
		               : "no URL");
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		free(abs);
		push_event(f, MC_EV_FETCH_DONE, sha256, NULL, MC_ERR_NOMEM,
		           "out of memory");
		return;
	}
	memcpy(j->sha, sha256, sizeof(j->sha));
	j->size = size;
	j->url = abs;
	j->need_by_ms = need_by_ms;
	j->state = JOB_QUEUED;
	j->fd = -1;
	j->f = f;
	j->have = part_size(f, sha256);
	pthread_mutex_lock(&f->lock);
	j->seq = f->seq++;
	j->next = f->jobs;
	f->jobs = j;
	pthread_mutex_unlock(&f->lock);
wake:
	curl_multi_wakeup(f->multi);
}

static bool kept(const char *sha, const char *const *keep, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (keep[i] && !strcmp(keep[i], sha))
			return true;
	return false;
}

void mc_fetcher_retain(struct mc_fetcher *f, const char *const *keep, size_t n)
{
	struct job *j, *next;

	pthread_mutex_lock(&f->lock);
	for (j = f->jobs; j; j = next) {
		next = j->next;
		if (kept(j->sha, keep, n))
			continue;
		if (j->state == JOB_ACTIVE) {
			j->dropped = true; /* the worker owns the handle */
			continue;
		}
		job_unlink(f, j);
		job_free(j);
	}
	pthread_mutex_unlock(&f->lock);
	curl_multi_wakeup(f->multi);
}

void mc_fetcher_upload(struct mc_fetcher *f, const char *url, const void *data,
                       size_t len, const char *ctype, const char *tag)
{
	struct upload *u = calloc(1, sizeof(*u));
	char *h = NULL;

	if (!u)
		goto nomem;
	u->url = join_url(f->http_base, url);
	if (!u->url) {
		push_event(f, MC_EV_UPLOAD_DONE, NULL, tag, MC_ERR_INVAL,
		           "relative upload URL and no [http] base configured");
		upload_free(u);
		return;
	}
	u->data = malloc(len ? len : 1);
	u->tag = mc_strdup(tag);
	h = mc_printf("Content-Type: %s",
	              ctype ? ctype : "application/octet-stream");
	if (!u->data || (tag && !u->tag) || !h)
		goto nomem;
	if (len)
		memcpy(u->data, data, len);
	u->len = len;
	u->hdrs = curl_slist_append(NULL, h);
	if (!u->hdrs)
		goto nomem;
	/* No "Expect: 100-continue" round trip for a small body. */
	if (!curl_slist_append(u->hdrs, "Expect:"))
		goto nomem;
	free(h);
	pthread_mutex_lock(&f->lock);
	u->next = f->uploads;
	f->uploads = u;
	pthread_mutex_unlock(&f->lock);
	curl_multi_wakeup(f->multi);
	return;
nomem:
	free(h);
	upload_free(u);
	push_event(f, MC_EV_UPLOAD_DONE, NULL, tag, MC_ERR_NOMEM,
	           "out of memory");
}

void mc_fetcher_progress(struct mc_fetcher *f, struct mc_fetch_progress *p)
{
	struct job *j;

	memset(p, 0, sizeof(*p));
	pthread_mutex_lock(&f->lock);
	for (j = f->jobs; j; j = j->next) {
		if (j->dropped)
			continue;
		p->items++;
		if (j->size > j->have)
			p->bytes += j->size - j->have;
	}
	p->active = f->active;
	pthread_mutex_unlock(&f->lock);
}

void mc_fetcher_stop(struct mc_fetcher *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_mutex_unlock(&f->lock);
	curl_multi_wakeup(f->multi);
	pthread_join(f->thread, NULL);
	fetcher_free(f);
}
