/*
 * Unit tests for player/hooks.c: arguments passed through untouched, exit
 * status with the last output line, the timeout kill of the whole process
 * group (also when the hook ignores SIGTERM), "not configured", several
 * hooks at once, and no inherited file descriptor in the child.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "evq.h"
#include "hooks.h"
#include "mc_test.h"
#include "minecast/log.h"
#include "minecast/util.h"

struct fixture {
	struct mc_evq *q; /* the queue hooks report to */
	char dir[64];     /* scratch directory */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->q = mc_evq_new();
	assert_non_null(f->q);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-hooks-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	mc_evq_free(f->q);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Wait up to ms for one event; fails the test if none comes. */
static struct mc_event *wait_event(struct mc_evq *q, int64_t ms)
{
	static struct mc_event *pending;
	int64_t deadline = mc_mono_ms() + ms;
	struct mc_event *ev;

	while (!pending) {
		struct pollfd p = {.fd = mc_evq_fd(q), .events = POLLIN};
		int64_t left = deadline - mc_mono_ms();

		if (left <= 0)
			fail_msg("no hook event within %lld ms", (long long)ms);
		poll(&p, 1, (int)left);
		pending = mc_evq_take(q);
	}
	ev = pending;
	pending = ev->next;
	ev->next = NULL;
	assert_int_equal(ev->type, MC_EV_HOOK_DONE);
	return ev;
}

static void test_success_args(void **state)
{
	struct fixture *f = *state;
	const char *const args[] = {"on", "two words", "$(touch /tmp/x)", "*",
	                            NULL};
	struct mc_event *ev;

	mc_hook_run(f->q, "echo starting; printf '[%s]'", args, 5, "cmd-1");
	ev = wait_event(f->q, 10000);
	assert_string_equal(ev->tag, "cmd-1");
	assert_int_equal(ev->rc, MC_OK);
	/* Arguments arrive as they are: no splitting, expansion or glob. */
	assert_string_equal(
	        ev->text, "exit status 0: [on][two words][$(touch /tmp/x)][*]");
	mc_event_free(ev);

	/* No arguments at all. */
	mc_hook_run(f->q, "true", NULL, 5, "cmd-2");
	ev = wait_event(f->q, 10000);
	assert_int_equal(ev->rc, MC_OK);
	assert_string_equal(ev->text, "exit status 0");
	mc_event_free(ev);
}

static void test_failure_last_line(void **state)
{
	struct fixture *f = *state;
	struct mc_event *ev;

	mc_hook_run(f->q,
	            "echo 'first line'; echo 'cec: no TV answers' >&2;"
	            " echo; exit 3",
	            NULL, 5, "cmd-3");
	ev = wait_event(f->q, 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_string_equal(ev->text, "exit status 3: cec: no TV answers");
	mc_event_free(ev);

	/* A command that does not exist: the shell says so. */
	mc_hook_run(f->q, "/nonexistent/hook", NULL, 5, "cmd-4");
	ev = wait_event(f->q, 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_non_null(strstr(ev->text, "exit status 127: "));
	assert_non_null(strstr(ev->text, "/nonexistent/hook"));
	mc_event_free(ev);

	/* Killed by a signal from elsewhere. */
	mc_hook_run(f->q, "kill -9 $$", NULL, 5, "cmd-5");
	ev = wait_event(f->q, 10000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_non_null(strstr(ev->text, "killed by signal 9"));
	mc_event_free(ev);
}

static void test_long_output(void **state)
{
	struct fixture *f = *state;
	struct mc_event *ev;
	const char *line;

	/* 100 kB of output, then a 300-byte last line with a multi-byte
	 * character across the 200-byte cut and a control character. */
	mc_hook_run(f->q,
	            "i=0; while [ $i -lt 2000 ]; do"
	            " echo \"noise line $i ........................\";"
	            " i=$((i+1)); done;"
	            " printf 'x\\033%0197d\\303\\251%0100d\\n' 1 2",
	            NULL, 20, "cmd-6");
	ev = wait_event(f->q, 30000);
	assert_int_equal(ev->rc, MC_OK);
	line = ev->text + strlen("exit status 0: ");
	assert_true(strncmp(ev->text, "exit status 0: x ", 17) == 0);
	/* 1 + 1 + 197 bytes fit; the two-byte é would make 201. */
	assert_int_equal(strlen(line), 199);
	mc_event_free(ev);

	/* Invalid UTF-8 is replaced, so the text is safe for JSON. */
	mc_hook_run(f->q, "printf 'bad \\377\\300 end\\n'; exit 1", NULL, 5,
	            "cmd-7");
	ev = wait_event(f->q, 10000);
	assert_string_equal(ev->text, "exit status 1: bad ?? end");
	mc_event_free(ev);
}

static void test_timeout_kills_group(void **state)
{
	struct fixture *f = *state;
	char cmd[256], path[128], buf[32];
	struct mc_event *ev;
	int64_t t0;
	pid_t pgid;
	FILE *fp;

	/* The shell writes its pid (= its process group) and starts a
	 * grandchild that would outlive it. */
	snprintf(path, sizeof(path), "%s/pid", f->dir);
	snprintf(cmd, sizeof(cmd),
	         "echo $$ > %s; sleep 30 & echo waiting; sleep", path);
	{
		const char *const args[] = {"30", NULL};

		t0 = mc_mono_ms();
		mc_hook_run(f->q, cmd, args, 1, "cmd-8");
	}
	ev = wait_event(f->q, 8000);
	assert_true(mc_mono_ms() - t0 < 4000);
	assert_int_equal(ev->rc, MC_ERR_IO);
	assert_string_equal(ev->text, "killed after 1 s timeout: waiting");
	mc_event_free(ev);

	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_non_null(fgets(buf, sizeof(buf), fp));
	fclose(fp);
	pgid = (pid_t)atoi(buf);
	assert_true(pgid > 1);
	/* Nothing of the group is left (SIGKILL is immediate; give the
	 * kernel a moment to tear the grandchild down). */
	for (int i = 0; i < 100 && kill(-pgid, 0) == 0; i++)
		usleep(20000);
	assert_int_equal(kill(-pgid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static void test_timeout_ignoring_sigterm(void **state)
{
	struct fixture *f = *state;
	struct mc_event *ev;
	int64_t t0 = mc_mono_ms(), took;

	mc_hook_run(f->q, "trap '' TERM; sleep 30", NULL, 1, "cmd-9");
	ev = wait_event(f->q, 10000);
	took = mc_mono_ms() - t0;
	/* 1 s timeout + 2 s grace before SIGKILL. */
	assert_true(took >= 2900 && took < 6000);
	assert_string_equal(ev->text, "killed after 1 s timeout");
	mc_event_free(ev);
}

static void test_not_configured(void **state)
{
	struct fixture *f = *state;
	struct mc_event *ev;

	mc_hook_run(f->q, NULL, NULL, 5, "cmd-10");
	ev = wait_event(f->q, 1000);
	assert_string_equal(ev->tag, "cmd-10");
	assert_int_not_equal(ev->rc, MC_OK);
	assert_string_equal(ev->text, "not configured");
	mc_event_free(ev);

	mc_hook_run(f->q, "", NULL, 5, NULL);
	ev = wait_event(f->q, 1000);
	assert_null(ev->tag);
	assert_string_equal(ev->text, "not configured");
	mc_event_free(ev);
}

static void test_no_inherited_fds(void **state)
{
	struct fixture *f = *state;
	const char *const args[] = {"57", "58", NULL};
	struct mc_event *ev;
	int sv[2];

	/* A socket like the MQTT link's, without CLOEXEC, and a plain
	 * file. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(dup2(sv[0], 57), 57);
	assert_int_equal(dup2(sv[1], 58), 58);
	close(sv[0]);
	close(sv[1]);
	assert_true(fcntl(57, F_GETFD) >= 0);

	mc_hook_run(f->q,
	            "for n in 0 1 2; do [ -e /proc/$$/fd/$n ] ||"
	            " { echo \"fd $n missing\"; exit 2; }; done;"
	            " for n in \"$@\"; do [ -e /proc/$$/fd/$n ] &&"
	            " { echo \"fd $n leaked\"; exit 1; }; done;"
	            " ls /proc/$$/fd | tr '\\n' ' '; true",
	            args, 5, "cmd-11");
	ev = wait_event(f->q, 10000);
	if (ev->rc != MC_OK)
		fail_msg("%s", ev->text);
	mc_event_free(ev);
	close(57);
	close(58);
}

static void test_many_at_once(void **state)
{
	struct fixture *f = *state;
	bool seen[8] = {false};

	for (int i = 0; i < 8; i++) {
		char tag[16], cmd[64];

		snprintf(tag, sizeof(tag), "t%d", i);
		snprintf(cmd, sizeof(cmd), "sleep 0.%d; echo %d; exit %d",
		         8 - i, i, i % 2);
		mc_hook_run(f->q, cmd, NULL, 10, tag);
	}
	for (int i = 0; i < 8; i++) {
		struct mc_event *ev = wait_event(f->q, 10000);
		int n = atoi(ev->tag + 1);
		char want[32];

		assert_true(n >= 0 && n < 8 && !seen[n]);
		seen[n] = true;
		snprintf(want, sizeof(want), "exit status %d: %d", n % 2, n);
		assert_string_equal(ev->text, want);
		assert_int_equal(ev->rc, n % 2 ? MC_ERR_IO : MC_OK);
		mc_event_free(ev);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_success_args, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_failure_last_line, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_long_output, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_timeout_ignoring_sigterm,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_not_configured, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_no_inherited_fds, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_many_at_once, setup,
	                                        teardown),
	};

	mc_log_set_level(MC_LOG_ERROR);
	/* As in the player, whose link ignores SIGPIPE: a hook must still
	 * see default handling. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
