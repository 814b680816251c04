/*
 * minecast-sim — the one event loop.
 *
 * One epoll instance watches every node's MQTT socket (libmosquitto's
 * mosquitto_socket(), driven with mosquitto_loop_read/write/misc: no
 * thread per node), libcurl's sockets (curl_multi_socket_action) and a
 * signalfd.  Node timers live in one binary heap of (due, node, kind);
 * re-arming a timer leaves the old heap entry behind, and an entry whose
 * due time no longer matches the node's is skipped when it comes up.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "sim.h"

/* Events taken from one epoll_wait. */
#define LOOP_EVENTS 512

/* mosquitto_loop_misc for every client this often (keepalive). */
#define MISC_MS 1000

/* After the drain, how long nodes get to say goodbye. */
#define GOODBYE_MS 10000

/* One heap entry. */
struct tentry {
	int64_t due;  /* monotonic ms */
	int32_t node; /* node index */
	int32_t kind; /* enum sim_timer */
};

/* The timer heap (min-heap on due). */
static struct tentry *heap;
static size_t heap_n, heap_cap;

static void heap_push(struct tentry e)
{
	size_t i;

	if (heap_n == heap_cap) {
		size_t cap = heap_cap ? heap_cap * 2 : 4096;
		struct tentry *h = realloc(heap, cap * sizeof(*h));

		if (!h) {
			mc_log_error("sim", "out of memory for timers");
			return;
		}
		heap = h;
		heap_cap = cap;
	}
	i = heap_n++;
	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (heap[up].due <= e.due)
			break;
		heap[i] = heap[up];
		i = up;
	}
	heap[i] = e;
}

static struct tentry heap_pop(void)
{
	struct tentry top = heap[0], last = heap[--heap_n];
	size_t i = 0;

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		int64_t md = last.due;

		if (l < heap_n && heap[l].due < md) {
			m = l;
			md = heap[l].due;
		}
		if (r < heap_n && heap[r].due < md)
			m = r;
		if (m == i)
			break;
		heap[i] = heap[m];
		i = m;
	}
	if (heap_n)
		heap[i] = last;
	return top;
}

void sim_timer_set(struct sim_node *n, enum sim_timer t, int64_t due)
{
	struct tentry e = {due, n->idx, (int32_t)t};

	if (due <= 0)
		due = e.due = 1;
	n->due[t] = due;
	heap_push(e);
}

void sim_timer_clear(struct sim_node *n, enum sim_timer t)
{
	n->due[t] = 0;
}

void sim_node_sync_io(struct sim_node *n)
{
	struct sim *s = sim_g;
	struct epoll_event ev = {0};
	int fd = n->m ? mosquitto_socket(n->m) : -1;
	uint32_t want;

	if (fd < 0) {
		/* libmosquitto closed it: the kernel dropped the
		 * registration with the descriptor. */
		n->fd = -1;
		n->events = 0;
		return;
	}
	want = EPOLLIN | (mosquitto_want_write(n->m) ? EPOLLOUT : 0);
	ev.events = want;
	ev.data.u64 = (SIM_EV_NODE << SIM_EV_SHIFT) | (uint64_t)n->idx;
	if (fd != n->fd) {
		/*
		 * A new socket.  The old one, if any, was closed by
		 * libmosquitto (and so left epoll); its number may already
		 * belong to another node, so it is never touched here.
		 */
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 &&
		    (errno != EEXIST ||
		     epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)) {
			mc_log_error("sim", "node %s: epoll: %s", n->id,
			             strerror(errno));
			return;
		}
		n->fd = fd;
		n->events = want;
		return;
	}
	if (want == n->events)
		return;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) != 0) {
		/* Closed and reopened under the same number unseen. */
		if (errno != ENOENT ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
			mc_log_error("sim", "node %s: epoll: %s", n->id,
			             strerror(errno));
			return;
		}
	}
	n->events = want;
}

int sim_loop_init(struct sim *s)
{
	struct epoll_event ev = {0};
	sigset_t set;

	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		mc_log_error("sim", "epoll_create1: %s", strerror(errno));
		return -1;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL) != 0) {
		mc_log_error("sim", "sigprocmask: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (s->sigfd < 0) {
		mc_log_error("sim", "signalfd: %s", strerror(errno));
		return -1;
	}
	ev.events = EPOLLIN;
	ev.data.u64 = SIM_EV_SIGNAL << SIM_EV_SHIFT;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->sigfd, &ev) != 0) {
		mc_log_error("sim", "epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

void sim_loop_free(struct sim *s)
{
	if (s->sigfd >= 0)
		close(s->sigfd);
	if (s->epfd >= 0)
		close(s->epfd);
	s->sigfd = s->epfd = -1;
	free(heap);
	heap = NULL;
	heap_n = heap_cap = 0;
}

/* The stop: first stop records and drain, then goodbyes (main.c too). */
static void begin_stop(struct sim *s, const char *why)
{
	if (s->stopping)
		return;
	s->stopping = true;
	s->stop_mono = mc_mono_ms();
	mc_log_info("sim",
	            "stopping (%s): sending what proof of play is "
	            "owed, then every node goes offline",
	            why);
	for (int i = 0; i < s->o.nodes; i++)
		sim_node_drain(&s->nodes[i]);
}

static int64_t pop_outstanding(struct sim *s)
{
	int64_t o = 0;

	for (int i = 0; i < s->o.nodes; i++)
		if (s->nodes[i].link == SIM_L_UP)
			o += s->nodes[i].pop_outstanding;
	return o;
}

static void stop_step(struct sim *s, int64_t now)
{
	if (!s->drained) {
		int64_t o = pop_outstanding(s);

		if (o > 0 &&
		    now - s->stop_mono < (int64_t)(s->o.drain_s * 1000))
			return;
		if (o > 0)
			mc_log_warn("sim",
			            "%" PRId64 " proof-of-play records still "
			            "unacknowledged after %.0f s; stopping "
			            "anyway (counted as lost)",
			            o, s->o.drain_s);
		s->drained = true;
		s->stop_mono = now;
		s->next_stop = 0;
	}
	/*
	 * Goodbyes at --connect-rate, as the nodes came: ten thousand
	 * offline states in one burst would be a load no real fleet makes
	 * (and overflow the controller's session queue at the broker).
	 */
	while (s->next_stop < s->o.nodes &&
	       s->stop_mono + (int64_t)(s->next_stop * 1000.0 /
	                                s->o.connect_rate) <=
	               now)
		sim_node_stop(&s->nodes[s->next_stop++]);
	if (s->next_stop < s->o.nodes)
		return;
	if (!s->goodbye_mono)
		s->goodbye_mono = now;
	for (int i = 0; i < s->o.nodes; i++) {
		struct sim_node *n = &s->nodes[i];

		if (n->link != SIM_L_DONE && n->link != SIM_L_IDLE &&
		    n->link != SIM_L_WAIT) {
			if (now - s->goodbye_mono < GOODBYE_MS)
				return;
			mc_log_warn("sim",
			            "node %s did not finish its goodbye "
			            "in time",
			            n->id);
		}
	}
	s->done = true;
}

static void on_signal(struct sim *s)
{
	struct signalfd_siginfo si;

	while (read(s->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			mc_log_info("sim", "SIGUSR1: writing the report");
			sim_report_write(s);
		} else if (s->stopping) {
			mc_log_warn("sim", "second %s: leaving at once",
			            strsignal((int)si.ssi_signo));
			s->done = true;
		} else {
			begin_stop(s, strsignal((int)si.ssi_signo));
		}
	}
}

static void run_timers(struct sim *s, int64_t now)
{
	while (heap_n && heap[0].due <= now) {
		struct tentry e = heap_pop();
		struct sim_node *n;

		if (e.node < 0 || e.node >= s->o.nodes)
			continue;
		n = &s->nodes[e.node];
		if (n->due[e.kind] != e.due)
			continue; /* re-armed or cleared since */
		n->due[e.kind] = 0;
		sim_node_timer(n, (enum sim_timer)e.kind, now);
		sim_node_sync_io(n);
	}
}

/* Start first connections at --connect-rate. */
static void ramp(struct sim *s, int64_t now)
{
	double gap = 1000.0 / s->o.connect_rate;

	while (s->next_connect < s->o.nodes && s->next_connect_mono <= now &&
	       !s->stopping) {
		struct sim_node *n = &s->nodes[s->next_connect++];

		sim_node_connect(n);
		sim_node_sync_io(n);
		s->next_connect_mono =
		        s->start_mono + (int64_t)(gap * s->next_connect);
	}
}

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

int sim_loop_run(struct sim *s)
{
	struct epoll_event evs[LOOP_EVENTS];
	int64_t next_misc = mc_mono_ms() + MISC_MS;
	int64_t end =
	        s->o.duration_s > 0
	                ? s->start_mono + (int64_t)(s->o.duration_s * 1000)
	                : INT64_MAX;

	s->next_connect_mono = s->start_mono;
	s->last_progress_mono = s->start_mono;
	while (!s->done) {
		int64_t now = mc_mono_ms(), wake, t0;
		long ct;
		int nev, timeout;

		wake = min64(next_misc, end);
		if (heap_n)
			wake = min64(wake, heap[0].due);
		if (s->next_connect < s->o.nodes && !s->stopping)
			wake = min64(wake, s->next_connect_mono);
		if (s->o.progress_s > 0)
			wake = min64(wake,
			             s->last_progress_mono +
			                     (int64_t)(s->o.progress_s * 1000));
		if (s->stopping)
			wake = min64(wake, now + 100);
		ct = sim_fetch_timeout(s);
		if (ct >= 0)
			wake = min64(wake, now + ct);
		timeout = wake <= now         ? 0
		          : wake - now > 1000 ? 1000
		                              : (int)(wake - now);
		nev = epoll_wait(s->epfd, evs, LOOP_EVENTS, timeout);
		if (nev < 0) {
			if (errno == EINTR)
				continue;
			mc_log_error("sim", "epoll_wait: %s", strerror(errno));
			return -1;
		}
		t0 = mc_mono_ms();
		s->loop_turns++;
		for (int i = 0; i < nev; i++) {
			uint64_t tag = evs[i].data.u64 >> SIM_EV_SHIFT;
			uint64_t val =
			        evs[i].data.u64 & ((1ULL << SIM_EV_SHIFT) - 1);
			uint32_t e = evs[i].events;

			if (tag == SIM_EV_NODE && val < (uint64_t)s->o.nodes) {
				struct sim_node *n = &s->nodes[val];

				if (n->fd < 0)
					continue;
				if (e & (EPOLLIN | EPOLLERR | EPOLLHUP))
					sim_node_read(n);
				if ((e & EPOLLOUT) && n->fd >= 0)
					sim_node_write(n);
				sim_node_sync_io(n);
			} else if (tag == SIM_EV_CURL) {
				sim_fetch_socket(s, (int)val, e);
			} else if (tag == SIM_EV_SIGNAL) {
				on_signal(s);
			}
		}
		now = mc_mono_ms();
		sim_fetch_tick(s);
		run_timers(s, now);
		ramp(s, now);
		if (now >= next_misc) {
			for (int i = 0; i < s->o.nodes; i++) {
				struct sim_node *n = &s->nodes[i];

				if (n->fd >= 0) {
					sim_node_misc(n);
					sim_node_sync_io(n);
				}
			}
			next_misc = now + MISC_MS;
		}
		if (s->o.progress_s > 0 &&
		    now >= s->last_progress_mono +
		                    (int64_t)(s->o.progress_s * 1000)) {
			s->last_progress_mono = now;
			sim_report_progress(s);
		}
		if (now >= end)
			begin_stop(s, "--duration reached");
		if (s->stopping)
			stop_step(s, now);
		s->busy_ms += (double)(mc_mono_ms() - t0);
	}
	return 0;
}
