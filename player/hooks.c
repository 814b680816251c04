/*
 * minecast-player — hooks: run a configured command line on a thread of
 * its own and report its outcome through the event queue.
 *
 * The command runs as `/bin/sh -c 'CMDLINE "$@"' minecast-hook ARGS...`,
 * so the action words reach it as positional parameters and are never
 * parsed by the shell.  The child gets a process group of its own (a
 * timeout kills the shell and everything it started), /dev/null as stdin,
 * one pipe as stdout and stderr, default signal handling, and no other
 * file descriptor: the MQTT socket and the outbox database must not leak
 * into a reboot script.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hooks.h"
#include "minecast/log.h"
#include "minecast/util.h"

/* Output kept from the end of the stream; the last line comes from it. */
#define TAIL_MAX 4096
/* Longest last line in the event text, in bytes. */
#define LINE_MAX_BYTES 200
/* Grace between SIGTERM and SIGKILL on a timeout. */
#define KILL_GRACE_MS 2000
/* How often the runner looks at the child while it waits. */
#define TICK_MS 50

/* One hook run, owned by its thread. */
struct hook_job {
	struct mc_evq *q; /* where the outcome goes */
	char *tag;        /* the caller's tag, moved into the event */
	char **argv;      /* "/bin/sh", "-c", script, "minecast-hook",
	                   * args..., NULL; all owned */
	int timeout_s;    /* kill after this many seconds */
};

/* The bounded tail of the child's output. */
struct tail {
	char buf[TAIL_MAX]; /* the last bytes read */
	size_t len;         /* bytes in buf */
};

static void job_free(struct hook_job *job)
{
	if (!job)
		return;
	for (size_t i = 0; job->argv && job->argv[i]; i++)
		free(job->argv[i]);
	free(job->argv);
	free(job->tag);
	free(job);
}

/* Push one HOOK_DONE event; takes tag. */
static void report(struct mc_evq *q, char *tag, enum mc_err rc,
                   const char *text)
{
	struct mc_event *ev = mc_event_new(MC_EV_HOOK_DONE);

	if (!ev || !(ev->text = strdup(text))) {
		mc_log_error("hook", "%s: out of memory; outcome \"%s\" lost",
		             tag ? tag : "?", text);
		mc_event_free(ev);
		free(tag);
		return;
	}
	ev->tag = tag;
	ev->rc = rc;
	mc_evq_push(q, ev);
}

static void tail_add(struct tail *t, const char *data, size_t n)
{
	if (n >= TAIL_MAX) {
		memcpy(t->buf, data + n - TAIL_MAX, TAIL_MAX);
		t->len = TAIL_MAX;
		return;
	}
	if (t->len + n > TAIL_MAX) {
		size_t drop = t->len + n - TAIL_MAX;

		memmove(t->buf, t->buf + drop, t->len - drop);
		t->len -= drop;
	}
	memcpy(t->buf + t->len, data, n);
	t->len += n;
}

/* Read what the pipe holds now; false once it reached end of file. */
static bool drain(int fd, struct tail *t)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n > 0) {
			tail_add(t, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		/* EAGAIN: nothing more for now.  Any other error is treated
		 * like the end: the output is only a courtesy. */
		return n < 0 && errno == EAGAIN;
	}
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned long cp;
	size_t len;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (cp >= 0xd800 && cp <= 0xdfff) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * The last non-empty line of the output, at most LINE_MAX_BYTES, as valid
 * UTF-8 without control characters (it ends up in JSON and in logs).
 */
static void last_line(const struct tail *t, char *out, size_t size)
{
	const unsigned char *b = (const unsigned char *)t->buf;
	size_t end = t->len, start, o = 0;

	while (end > 0 && (b[end - 1] == '\n' || b[end - 1] == '\r' ||
	                   b[end - 1] == ' ' || b[end - 1] == '\t'))
		end--;
	start = end;
	while (start > 0 && b[start - 1] != '\n')
		start--;
	for (size_t i = start; i < end;) {
		size_t len = utf8_seq(b + i, end - i);
		const char *piece = (const char *)b + i;

		if (len == 0) {
			piece = "?";
			len = 1;
			i++;
		} else {
			i += len;
		}
		if (o + len > LINE_MAX_BYTES || o + len >= size)
			break;
		if (len == 1 &&
		    ((unsigned char)*piece < 0x20 || *piece == 0x7f))
			out[o++] = ' ';
		else {
			memcpy(out + o, piece, len);
			o += len;
		}
	}
	out[o] = '\0';
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void child_exec(char **argv, int out_fd, long max_fd)
{
	struct sigaction dfl;
	sigset_t none;
	int nul;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	nul = open("/dev/null", O_RDONLY);
	if (nul < 0 || dup2(nul, 0) < 0 || dup2(out_fd, 1) < 0 ||
	    dup2(out_fd, 2) < 0)
		_exit(126);
	/* Every other descriptor, CLOEXEC or not. */
	if (close_range(3, ~0U, 0) != 0)
		for (long fd = 3; fd < max_fd; fd++)
			close((int)fd);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Has the child ended?  It is left a zombie (WNOWAIT), so that its pid,
 * which is also its process group id, cannot be reused before the group
 * is killed.
 */
static bool ended(pid_t pid)
{
	siginfo_t si;
	int r;

	memset(&si, 0, sizeof(si));
	do
		r = waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT);
	while (r < 0 && errno == EINTR);
	/* ECHILD: someone else reaped it (SIGCHLD ignored); it ended. */
	return r < 0 || si.si_pid == pid;
}

/* Collect the ended child's status; false when it is not to be had. */
static bool reap(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid;
}

/*
 * Wait up to ms for the child to end, reading its output meanwhile.
 * True when it ended.
 */
static bool wait_child(pid_t pid, int fd, struct tail *t, int64_t ms)
{
	int64_t deadline = mc_mono_ms() + ms;
	bool open_fd = true;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int64_t left;

		if (ended(pid)) {
			/* What it wrote just before it ended; background
			 * children holding the pipe are not waited for. */
			if (open_fd)
				drain(fd, t);
			return true;
		}
		left = deadline - mc_mono_ms();
		if (left <= 0)
			return false;
		if (left > TICK_MS)
			left = TICK_MS;
		if (open_fd && poll(&p, 1, (int)left) > 0)
			open_fd = drain(fd, t);
		else if (!open_fd)
			usleep((useconds_t)left * 1000);
	}
}

static void run_job(struct hook_job *job)
{
	char line[LINE_MAX_BYTES + 1], text[LINE_MAX_BYTES + 128];
	struct tail *t = calloc(1, sizeof(*t));
	int fds[2] = {-1, -1}, status = 0;
	bool timed_out = false, known;
	struct rlimit rl;
	long max_fd = 1024;
	enum mc_err rc = MC_ERR_IO;
	pid_t pid;

	if (!t) {
		snprintf(text, sizeof(text), "cannot start: out of memory");
		goto out;
	}
	/* Only for the fallback when close_range() is missing (kernels
	 * before 5.9); asked here since getrlimit is no business of a
	 * child of a threaded process. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max_fd = (long)rl.rlim_cur;
	if (pipe2(fds, O_CLOEXEC) != 0) {
		snprintf(text, sizeof(text), "cannot start: pipe: %s",
		         strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(text, sizeof(text), "cannot start: fork: %s",
		         strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_exec(job->argv, fds[1], max_fd);
	/* Also here, so that a kill right after fork reaches the group
	 * whoever runs first; EACCES after the exec is harmless. */
	setpgid(pid, pid);
	close(fds[1]);
	fds[1] = -1;
	fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);

	if (!wait_child(pid, fds[0], t, (int64_t)job->timeout_s * 1000)) {
		timed_out = true;
		mc_log_warn("hook",
		            "%s: %s still running after %d s; stopping it"
		            " (SIGTERM, SIGKILL in %d s)",
		            job->tag ? job->tag : "?", job->argv[2],
		            job->timeout_s, KILL_GRACE_MS / 1000);
		kill(-pid, SIGTERM);
		wait_child(pid, fds[0], t, KILL_GRACE_MS);
		/* The shell, if it ignored SIGTERM, and whatever it started;
		 * the group id is still ours, the leader not yet reaped. */
		kill(-pid, SIGKILL);
	}
	known = reap(pid, &status);
	last_line(t, line, sizeof(line));
	if (timed_out)
		snprintf(text, sizeof(text), "killed after %d s timeout%s%s",
		         job->timeout_s, line[0] ? ": " : "", line);
	else if (!known)
		snprintf(text, sizeof(text),
		         "ended, exit status unknown (SIGCHLD is ignored)%s%s",
		         line[0] ? ": " : "", line);
	else if (WIFEXITED(status)) {
		snprintf(text, sizeof(text), "exit status %d%s%s",
		         WEXITSTATUS(status), line[0] ? ": " : "", line);
		if (WEXITSTATUS(status) == 0)
			rc = MC_OK;
	} else if (WIFSIGNALED(status))
		snprintf(text, sizeof(text), "killed by signal %d (%s)%s%s",
		         WTERMSIG(status), strsignal(WTERMSIG(status)),
		         line[0] ? ": " : "", line);
	else
		snprintf(text, sizeof(text), "ended with status %d", status);
out:
	if (fds[0] >= 0)
		close(fds[0]);
	if (fds[1] >= 0)
		close(fds[1]);
	free(t);
	report(job->q, job->tag, rc, text);
	job->tag = NULL;
}

static void *hook_thread(void *arg)
{
	struct hook_job *job = arg;

	run_job(job);
	job_free(job);
	return NULL;
}

void mc_hook_run(struct mc_evq *q, const char *cmdline, const char *const *args,
                 int timeout_s, const char *tag)
{
	struct hook_job *job = NULL;
	sigset_t all, old;
	pthread_attr_t attr;
	size_t n_args = 0;
	int err;

	if (!cmdline || !cmdline[0]) {
		report(q, mc_strdup(tag), MC_ERR_IO, "not configured");
		return;
	}
	while (args && args[n_args])
		n_args++;
	job = calloc(1, sizeof(*job));
	if (!job)
		goto nomem;
	job->q = q;
	job->timeout_s = timeout_s > 0 ? timeout_s : 1;
	job->tag = mc_strdup(tag);
	job->argv = calloc(n_args + 5, sizeof(*job->argv));
	if ((tag && !job->tag) || !job->argv)
		goto nomem;
	/* Filled in order, so job_free stops at the first gap. */
	if (!(job->argv[0] = strdup("/bin/sh")) ||
	    !(job->argv[1] = strdup("-c")) ||
	    !(job->argv[2] = mc_printf("%s \"$@\"", cmdline)) ||
	    !(job->argv[3] = strdup("minecast-hook")))
		goto nomem;
	for (size_t i = 0; i < n_args; i++)
		if (!(job->argv[4 + i] = strdup(args[i])))
			goto nomem;
	mc_log_debug("hook", "%s: running %s", tag ? tag : "?", cmdline);

	/* The runner blocks every signal, so that they keep going to the
	 * main loop; the child unblocks them before exec. */
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	{
		pthread_t th;

		err = pthread_create(&th, &attr, hook_thread, job);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		char text[128];

		snprintf(text, sizeof(text), "cannot start: thread: %s",
		         strerror(err));
		report(q, job->tag, MC_ERR_IO, text);
		job->tag = NULL;
		job_free(job);
	}
	return;
nomem:
	report(q, job && job->tag ? job->tag : mc_strdup(tag), MC_ERR_NOMEM,
	       "cannot start: out of memory");
	if (job)
		job->tag = NULL;
	job_free(job);
}
