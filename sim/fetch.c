/*
 * minecast-sim — manifest and asset downloads.
 *
 * One libcurl multi handle for every node, driven by the simulator's epoll
 * loop (CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION).  A fixed pool of
 * --http-parallel easy handles takes jobs from a FIFO, so that 10,000
 * nodes asking at once become a bounded number of keep-alive connections
 * to the controller, the way an HTTP cache in front of it would see them.
 * Every download is checked like the player checks it: exactly the size
 * and the sha256 the signed pointer (or the manifest) names.
 *
 * By default each node downloads for itself.  With --share-manifests one
 * download per sha256 serves every node that asks for it (the nodes that
 * ask while it runs wait for it), which takes the controller's HTTP
 * serving out of a measurement.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <sodium.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "sim.h"

/* A transfer that takes longer than this fails. */
#define FETCH_TIMEOUT_S 60

/* A node waiting for a shared download. */
struct waiter {
	int node;            /* node index */
	int64_t version;     /* its pending pointer's version */
	struct waiter *next; /* the next one */
};

/* A shared download (--share-manifests), by sha256. */
struct shared {
	char sha[65];           /* what it is */
	bool manifest;          /* a manifest (bytes kept) or an asset */
	bool ready;             /* verified */
	char *data;             /* manifest bytes once ready */
	size_t len;             /* their length */
	struct waiter *waiters; /* nodes waiting while it runs */
	struct shared *next;    /* the next entry */
};

/* One download to do. */
struct job {
	int node;          /* node index (the asker for a shared one) */
	int64_t version;   /* the pointer version it is for */
	bool manifest;     /* manifest or asset */
	char *url;         /* absolute URL */
	char sha[65];      /* expected sha256 */
	int64_t size;      /* expected bytes */
	struct shared *sh; /* the shared entry, or NULL */
	struct job *next;  /* queue link */
};

/* One easy handle of the pool. */
struct slot {
	CURL *easy;                    /* reused for keep-alive */
	struct job *job;               /* running job, NULL when free */
	crypto_hash_sha256_state hash; /* sha256 so far */
	char *buf;                     /* manifest bytes (manifests only) */
	int64_t got;                   /* bytes received */
	bool too_big;                  /* more than the expected size */
	char errbuf[CURL_ERROR_SIZE];  /* libcurl's message */
};

struct sim_fetch {
	CURLM *multi;          /* the one multi handle */
	struct slot *slots;    /* the pool */
	int n_slots;           /* its size */
	int busy;              /* slots running */
	struct job *qhead;     /* queued jobs, oldest first */
	struct job *qtail;     /* the newest */
	int queued;            /* how many */
	int64_t timer_due;     /* libcurl's timer (monotonic), -1 none */
	struct shared *shared; /* shared downloads */
};

static char *absolute_url(struct sim *s, const char *url)
{
	if (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0)
		return mc_strdup(url);
	return mc_printf("%s%s%s", s->o.controller, url[0] == '/' ? "" : "/",
	                 url);
}

static int sock_cb(CURL *e, curl_socket_t fd, int what, void *userp,
                   void *socketp)
{
	struct sim *s = userp;
	struct epoll_event ev = {0};

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
		return 0;
	}
	ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) |
	            ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
	ev.data.u64 = (SIM_EV_CURL << SIM_EV_SHIFT) | (uint64_t)fd;
	if (socketp) {
		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ||
		    (errno == ENOENT &&
		     epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0))
			return 0;
	} else {
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
		    (errno == EEXIST &&
		     epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)) {
			curl_multi_assign(s->fetch->multi, fd, (void *)1);
			return 0;
		}
	}
	mc_log_error("sim", "epoll for an HTTP socket: %s", strerror(errno));
	return -1;
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct sim *s = userp;

	(void)multi;
	s->fetch->timer_due = timeout_ms < 0 ? -1 : mc_mono_ms() + timeout_ms;
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct slot *sl = userdata;
	size_t n = size * nmemb;

	if (sl->got + (int64_t)n > sl->job->size) {
		sl->too_big = true;
		return 0; /* abort: more than the signed size */
	}
	crypto_hash_sha256_update(&sl->hash, (const unsigned char *)ptr, n);
	if (sl->buf)
		memcpy(sl->buf + sl->got, ptr, n);
	sl->got += (int64_t)n;
	return n;
}

int sim_fetch_init(struct sim *s)
{
	struct sim_fetch *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	s->fetch = f;
	f->timer_due = -1;
	f->multi = curl_multi_init();
	f->n_slots = s->o.http_parallel;
	f->slots = calloc((size_t)f->n_slots, sizeof(*f->slots));
	if (!f->multi || !f->slots)
		return -1;
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(f->multi, CURLMOPT_SOCKETDATA, s);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(f->multi, CURLMOPT_TIMERDATA, s);
	curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
	                  (long)f->n_slots);
	curl_multi_setopt(f->multi, CURLMOPT_MAXCONNECTS, (long)f->n_slots);
	for (int i = 0; i < f->n_slots; i++) {
		f->slots[i].easy = curl_easy_init();
		if (!f->slots[i].easy)
			return -1;
	}
	return 0;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->url);
	free(j);
}

void sim_fetch_free(struct sim *s)
{
	struct sim_fetch *f = s->fetch;

	if (!f)
		return;
	for (int i = 0; i < f->n_slots && f->slots; i++) {
		struct slot *sl = &f->slots[i];

		if (sl->job)
			curl_multi_remove_handle(f->multi, sl->easy);
		job_free(sl->job);
		free(sl->buf);
		if (sl->easy)
			curl_easy_cleanup(sl->easy);
	}
	free(f->slots);
	while (f->qhead) {
		struct job *j = f->qhead;

		f->qhead = j->next;
		job_free(j);
	}
	while (f->shared) {
		struct shared *sh = f->shared;

		f->shared = sh->next;
		while (sh->waiters) {
			struct waiter *w = sh->waiters;

			sh->waiters = w->next;
			free(w);
		}
		free(sh->data);
		free(sh);
	}
	if (f->multi)
		curl_multi_cleanup(f->multi);
	free(f);
	s->fetch = NULL;
}

static void notify(struct sim *s, struct job *j, bool ok, char *data,
                   size_t len, const char *why);

static void start_jobs(struct sim *s)
{
	struct sim_fetch *f = s->fetch;

	for (int i = 0; i < f->n_slots && f->qhead; i++) {
		struct slot *sl = &f->slots[i];
		struct job *j;
		struct sim_node *n;
		CURL *e = sl->easy;

		if (sl->job)
			continue;
		j = f->qhead;
		f->qhead = j->next;
		if (!f->qhead)
			f->qtail = NULL;
		f->queued--;
		j->next = NULL;
		sl->job = j;
		sl->got = 0;
		sl->too_big = false;
		sl->errbuf[0] = '\0';
		free(sl->buf);
		sl->buf = NULL;
		if (j->manifest) {
			sl->buf = malloc((size_t)j->size + 1);
			if (!sl->buf) {
				sl->job = NULL;
				notify(s, j, false, NULL, 0, "out of memory");
				job_free(j);
				continue;
			}
		}
		crypto_hash_sha256_init(&sl->hash);
		n = &s->nodes[j->node];
		curl_easy_reset(e);
		curl_easy_setopt(e, CURLOPT_URL, j->url);
		curl_easy_setopt(e, CURLOPT_PRIVATE, sl);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, sl);
		curl_easy_setopt(e, CURLOPT_ERRORBUFFER, sl->errbuf);
		curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)FETCH_TIMEOUT_S);
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(e, CURLOPT_USERAGENT, "minecast-sim");
		if (n->password) {
			/* As the player: basic auth with the node's MQTT
			 * credentials (protocol §4); never sent to another
			 * host after a redirect (libcurl's default). */
			curl_easy_setopt(e, CURLOPT_USERNAME, n->id);
			curl_easy_setopt(e, CURLOPT_PASSWORD, n->password);
		}
		s->http_requests++;
		if (curl_multi_add_handle(f->multi, e) != CURLM_OK) {
			sl->job = NULL;
			notify(s, j, false, NULL, 0,
			       "libcurl cannot start a download");
			job_free(j);
			continue;
		}
		f->busy++;
	}
}

static void enqueue(struct sim *s, struct job *j)
{
	struct sim_fetch *f = s->fetch;

	if (f->qtail)
		f->qtail->next = j;
	else
		f->qhead = j;
	f->qtail = j;
	f->queued++;
	start_jobs(s);
}

static struct shared *shared_find(struct sim_fetch *f, const char *sha)
{
	for (struct shared *sh = f->shared; sh; sh = sh->next)
		if (strcmp(sh->sha, sha) == 0)
			return sh;
	return NULL;
}

static void shared_drop(struct sim_fetch *f, struct shared *gone)
{
	for (struct shared **p = &f->shared; *p; p = &(*p)->next)
		if (*p == gone) {
			*p = gone->next;
			free(gone->data);
			free(gone);
			return;
		}
}

/* Queue a download for node n, or join/serve a shared one. */
static void request(struct sim *s, struct sim_node *n, int64_t version,
                    bool manifest, const char *url, const char *sha,
                    int64_t size)
{
	struct sim_fetch *f = s->fetch;
	struct shared *sh = NULL;
	struct job *j;

	if (s->o.share_manifests) {
		sh = shared_find(f, sha);
		if (sh && sh->ready) {
			if (manifest)
				s->manifest_shared++;
			else
				s->asset_shared++;
			sim_node_fetched(n, version, manifest, true, sh->data,
			                 sh->len, NULL);
			return;
		}
		if (sh) {
			struct waiter *w = calloc(1, sizeof(*w));

			if (!w)
				goto nomem;
			w->node = n->idx;
			w->version = version;
			w->next = sh->waiters;
			sh->waiters = w;
			if (manifest)
				s->manifest_shared++;
			else
				s->asset_shared++;
			return;
		}
		sh = calloc(1, sizeof(*sh));
		if (!sh)
			goto nomem;
		snprintf(sh->sha, sizeof(sh->sha), "%s", sha);
		sh->manifest = manifest;
		sh->next = f->shared;
		f->shared = sh;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		goto nomem;
	j->node = n->idx;
	j->version = version;
	j->manifest = manifest;
	j->url = absolute_url(s, url);
	j->size = size;
	j->sh = sh;
	snprintf(j->sha, sizeof(j->sha), "%s", sha);
	if (!j->url) {
		free(j);
		goto nomem;
	}
	if (manifest)
		s->manifest_fetches++;
	else
		s->asset_fetches++;
	enqueue(s, j);
	return;
nomem:
	if (sh && !sh->ready && !sh->waiters)
		shared_drop(f, sh);
	sim_node_fetched(n, version, manifest, false, NULL, 0, "out of memory");
}

void sim_fetch_manifest(struct sim *s, struct sim_node *n)
{
	const struct mc_pointer *p = &n->pending->p;

	request(s, n, p->version, true, p->manifest_url, p->manifest_sha256,
	        p->manifest_size);
}

void sim_fetch_asset(struct sim *s, struct sim_node *n, int64_t version,
                     const char *url, const char *sha, int64_t size)
{
	request(s, n, version, false, url, sha, size);
}

int sim_fetch_busy(struct sim *s)
{
	return s->fetch ? s->fetch->busy + s->fetch->queued : 0;
}

/*
 * Tell the node(s) waiting for job j how it went; data/len are the
 * verified manifest bytes when ok (a shared download keeps them for the
 * run: data is then taken over).  A shared download that failed is
 * forgotten, so that the next request tries again.
 */
static void notify(struct sim *s, struct job *j, bool ok, char *data,
                   size_t len, const char *why)
{
	struct sim_fetch *f = s->fetch;
	struct shared *sh = j->sh;
	struct waiter *w;

	if (!sh) {
		sim_node_fetched(&s->nodes[j->node], j->version, j->manifest,
		                 ok, data, len, why);
		return;
	}
	w = sh->waiters;
	sh->waiters = NULL;
	if (ok) {
		sh->ready = true;
		if (j->manifest) {
			sh->data = data;
			sh->len = len;
		}
	}
	sim_node_fetched(&s->nodes[j->node], j->version, j->manifest, ok,
	                 sh->data, sh->len, why);
	while (w) {
		struct waiter *next = w->next;

		sim_node_fetched(&s->nodes[w->node], w->version, j->manifest,
		                 ok, sh->data, sh->len, why);
		free(w);
		w = next;
	}
	if (!ok)
		shared_drop(f, sh);
}

/* A download ended: check it and tell the node(s). */
static void finish(struct sim *s, struct slot *sl, CURLcode res)
{
	struct job *j = sl->job;
	long code = 0;
	bool ok = false;
	char why[CURL_ERROR_SIZE + 96];
	unsigned char digest[crypto_hash_sha256_BYTES];
	char hex[65];
	char *data;

	curl_easy_getinfo(sl->easy, CURLINFO_RESPONSE_CODE, &code);
	s->http_bytes += sl->got;
	if (sl->too_big) {
		snprintf(why, sizeof(why),
		         "more than the %" PRId64 " bytes signed", j->size);
	} else if (res != CURLE_OK) {
		snprintf(why, sizeof(why), "%s",
		         sl->errbuf[0] ? sl->errbuf : curl_easy_strerror(res));
	} else if (code != 200) {
		snprintf(why, sizeof(why), "HTTP status %ld", code);
	} else if (sl->got != j->size) {
		snprintf(why, sizeof(why),
		         "%" PRId64 " bytes, the signature says %" PRId64,
		         sl->got, j->size);
	} else {
		crypto_hash_sha256_final(&sl->hash, digest);
		sodium_bin2hex(hex, sizeof(hex), digest, sizeof(digest));
		if (strcmp(hex, j->sha) != 0)
			snprintf(why, sizeof(why),
			         "sha256 %.12s…, expected %.12s…", hex, j->sha);
		else
			ok = true;
	}
	if (!ok) {
		s->http_errors++;
		mc_log_debug("sim", "GET %s failed: %s", j->url, why);
	}
	if (sl->buf)
		sl->buf[sl->got] = '\0';
	sl->job = NULL;
	data = sl->buf;
	if (j->sh && ok && j->manifest)
		sl->buf = NULL; /* the shared entry keeps the bytes */
	notify(s, j, ok, data, (size_t)sl->got, why);
	job_free(j);
}

static void check_done(struct sim *s)
{
	struct sim_fetch *f = s->fetch;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(f->multi, &left)) != NULL) {
		struct slot *sl = NULL;
		CURLcode res = msg->data.result;
		CURL *e = msg->easy_handle;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&sl);
		curl_multi_remove_handle(f->multi, e);
		f->busy--;
		if (sl && sl->job)
			finish(s, sl, res);
	}
	start_jobs(s);
}

void sim_fetch_socket(struct sim *s, int fd, uint32_t events)
{
	int flags = 0, running = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(s->fetch->multi, fd, flags, &running);
	check_done(s);
}

long sim_fetch_timeout(struct sim *s)
{
	int64_t now;

	if (!s->fetch || s->fetch->timer_due < 0)
		return -1;
	now = mc_mono_ms();
	return s->fetch->timer_due <= now ? 0
	                                  : (long)(s->fetch->timer_due - now);
}

void sim_fetch_tick(struct sim *s)
{
	int running = 0;

	if (!s->fetch || s->fetch->timer_due < 0 ||
	    s->fetch->timer_due > mc_mono_ms())
		return;
	s->fetch->timer_due = -1;
	curl_multi_socket_action(s->fetch->multi, CURL_SOCKET_TIMEOUT, 0,
	                         &running);
	check_done(s);
}
