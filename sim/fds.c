/*
 * minecast-sim — the file-descriptor budget.
 *
 * One node is one MQTT connection: one socket.  libmosquitto, however,
 * also opens a socket pair per client (in mosquitto_new and again at
 * every connect) whose only use is to wake its own select() loop when
 * another thread publishes.  The simulator runs every client from one
 * epoll loop on one thread and asks mosquitto_want_write() itself, so the
 * pair is dead weight — and it triples the descriptors per node: 10,000
 * nodes would need 30,000, over the usual hard limit of 20,000.
 *
 * So the simulator defines socketpair() itself.  The dynamic linker binds
 * libmosquitto's call to this definition (the executable comes first in
 * symbol lookup); while sim_refuse_socketpair is set — only around calls
 * into libmosquitto that create clients or connect — it fails with
 * EMFILE, which libmosquitto takes as "no wake-up pair" (it logs a
 * warning and carries on; packets queued from a callback are written
 * when the loop next sees the socket writable, which is what
 * sim_node_sync_io arranges).  At any other time, e.g. for libcurl, the
 * real system call runs.  sim_fds_check() measures what a node really
 * costs, so the budget stays right if a libmosquitto build ignores this.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "minecast/log.h"

#include "sim.h"

bool sim_refuse_socketpair;

int socketpair(int domain, int type, int protocol, int sv[2])
{
	if (sim_refuse_socketpair) {
		errno = EMFILE;
		return -1;
	}
	return (int)syscall(SYS_socketpair, domain, type, protocol, sv);
}

int sim_fds_open(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

int sim_fds_raise(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
		mc_log_error("sim", "cannot read the file descriptor limit: %s",
		             strerror(errno));
		return -1;
	}
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
			mc_log_error("sim",
			             "cannot raise the file descriptor limit "
			             "from %llu to %llu: %s",
			             (unsigned long long)was,
			             (unsigned long long)rl.rlim_max,
			             strerror(errno));
			return -1;
		}
		mc_log_info("sim",
		            "file descriptor limit raised from %llu to the "
		            "hard limit %llu",
		            (unsigned long long)was,
		            (unsigned long long)rl.rlim_max);
	}
	return 0;
}

int sim_fds_check(struct sim *s, int fds_before_node0)
{
	struct rlimit rl;
	long per_node, need, now;
	int after = sim_fds_open();

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || after < 0 ||
	    fds_before_node0 < 0) {
		mc_log_warn("sim", "cannot count file descriptors; going on");
		return 0;
	}
	/* Node 0's client is created, not connected: what it opened stays
	 * open for its life, and its socket comes on top. */
	per_node = 1 + (after - fds_before_node0);
	now = after;
	need = now + per_node * (long)(s->o.nodes - 1) + 1 +
	       2L * s->o.http_parallel + 32;
	if (rl.rlim_cur != RLIM_INFINITY && need > (long)rl.rlim_cur) {
		mc_log_error("sim",
		             "%d nodes do not fit: each takes %ld file "
		             "descriptor%s, so about %ld are needed and the "
		             "limit is %llu; raise the hard limit (ulimit -Hn, "
		             "LimitNOFILE=) or run several simulators with "
		             "different --prefix",
		             s->o.nodes, per_node, per_node == 1 ? "" : "s",
		             need, (unsigned long long)rl.rlim_cur);
		return -1;
	}
	mc_log_info("sim",
	            "%d nodes at %ld file descriptor%s each: about %ld of "
	            "the limit %llu",
	            s->o.nodes, per_node, per_node == 1 ? "" : "s", need,
	            (unsigned long long)rl.rlim_cur);
	return 0;
}
