/*
 * Unit tests for the proof-of-play outbox (player/outbox.c): the round
 * trip, resending, acknowledgements, crash recovery (a child killed with
 * SIGKILL at random instants), summarising, ids and bad files.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mc_test.h"
#include "minecast/codec.h"
#include "minecast/log.h"
#include "outbox.h"

#define DAY 86400000LL
/* 2023-11-12T00:00:00Z, a day the campaign cares about. */
#define T0 1699747200000LL

struct fixture {
	char dir[64];  /* temporary directory */
	char path[96]; /* outbox file inside it */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-outbox-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/pop.db", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/*
 * Set in forked children: a cmocka failure there would unwind into the
 * child's copy of the test runner, so children report by exit status.
 */
static bool in_child;

static void check(bool ok, const char *what, const struct mc_error *e)
{
	if (ok)
		return;
	if (in_child) {
		fprintf(stderr, "child: %s: %s\n", what, e ? e->msg : "");
		_exit(1);
	}
	fail_msg("%s: %s", what, e ? e->msg : "");
}

static struct mc_outbox *open_ok(const char *path, int64_t boot, int64_t max)
{
	struct mc_error e = {0};
	struct mc_outbox *ob =
	        mc_outbox_open(path, "pi-cua-lo-01", boot, max, &e);

	check(ob != NULL, "open", &e);
	return ob;
}

/* Start a play of content on entry at start_ms; the id goes to id. */
static void start(struct mc_outbox *ob, const char *content, const char *entry,
                  int64_t start_ms, char *id)
{
	struct mc_pop_record r = {0};
	struct mc_error e = {0};

	r.content = (char *)content;
	r.entry = (char *)entry;
	r.channel = MC_CH_SCREEN;
	r.start_ms = start_ms;
	snprintf(r.sha256, sizeof(r.sha256), "%064d", 7);
	check(mc_outbox_start(ob, &r, id, 96, &e) == MC_OK, "start", &e);
}

static void end(struct mc_outbox *ob, const char *id, int64_t end_ms,
                bool completed)
{
	struct mc_error e = {0};

	check(mc_outbox_end(ob, id, end_ms, completed, &e) == MC_OK, "end", &e);
}

static void batch(struct mc_outbox *ob, int max, int64_t now, int64_t resend,
                  struct mc_pop_batch *b)
{
	struct mc_error e = {0};

	check(mc_outbox_next_batch(ob, max, now, resend, b, &e) == MC_OK,
	      "next_batch", &e);
}

/* Acknowledge every record of b; returns how many were deleted. */
static int64_t ack_all(struct mc_outbox *ob, const struct mc_pop_batch *b)
{
	struct mc_pop_ack a = {0};
	struct mc_error e = {0};
	int64_t n = -1;

	a.batch = b->batch;
	a.n_ids = b->n_records;
	a.ids = calloc(b->n_records + 1, sizeof(*a.ids));
	assert_non_null(a.ids);
	for (size_t i = 0; i < b->n_records; i++)
		a.ids[i] = b->records[i].id;
	if (mc_outbox_ack(ob, &a, &n, &e) != MC_OK)
		fail_msg("ack: %s", e.msg);
	free(a.ids);
	return n;
}

/*
 * Every closed record, oldest first.  It marks them sent, far in the
 * future and later every call, so that the next call takes them again.
 */
static void all_records(struct mc_outbox *ob, struct mc_pop_batch *b)
{
	static int64_t later;

	batch(ob, 1000, INT64_MAX / 4 + ++later, 0, b);
}

static int64_t sum_counts(const struct mc_pop_batch *b)
{
	int64_t n = 0;

	for (size_t i = 0; i < b->n_records; i++)
		n += b->records[i].count;
	return n;
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 7, 100);
	struct mc_pop_batch b = {0}, parsed = {0};
	struct mc_error e = {0};
	char id[3][96], *json;
	int64_t n = -1;

	assert_int_equal(mc_outbox_recover(ob, T0, &n, &e), MC_OK);
	assert_int_equal(n, 0);
	start(ob, "slogan-87-nam", "e-12-11", T0, id[0]);
	start(ob, "ban-tin-0600", NULL, T0 + 1000, id[1]);
	start(ob, "slogan-ky-luat", "e-standing", T0 + 2000, id[2]);
	assert_string_equal(id[0], "pi-cua-lo-01-7-1");
	assert_string_equal(id[1], "pi-cua-lo-01-7-2");
	assert_int_equal(mc_outbox_pending(ob), 3);
	end(ob, id[0], T0 + 15000, true);
	end(ob, id[1], T0 + 5000, false);
	/* Ending twice is refused: the record is no longer open. */
	assert_int_equal(mc_outbox_end(ob, id[1], T0 + 6000, true, &e),
	                 MC_ERR_NOTFOUND);
	assert_int_equal(mc_outbox_end(ob, "pi-x-1-9", T0, true, &e),
	                 MC_ERR_NOTFOUND);

	/* Only closed records travel, oldest first. */
	batch(ob, 10, T0 + 20000, 60000, &b);
	assert_int_equal(b.n_records, 2);
	assert_string_equal(b.node, "pi-cua-lo-01");
	assert_string_equal(b.batch, "pi-cua-lo-01-7-b1");
	assert_string_equal(b.records[0].id, id[0]);
	assert_string_equal(b.records[0].content, "slogan-87-nam");
	assert_string_equal(b.records[0].entry, "e-12-11");
	assert_int_equal(b.records[0].channel, MC_CH_SCREEN);
	assert_int_equal(b.records[0].start_ms, T0);
	assert_int_equal(b.records[0].end_ms, T0 + 15000);
	assert_true(b.records[0].completed);
	assert_int_equal(b.records[0].count, 1);
	assert_int_equal(strlen(b.records[0].sha256), 64);
	assert_null(b.records[1].entry);
	assert_false(b.records[1].completed);

	/* What we send is what the controller's parser accepts. */
	json = mc_pop_batch_dump(&b);
	assert_non_null(json);
	if (mc_pop_batch_parse(json, strlen(json), &parsed, &e) != MC_OK)
		fail_msg("own batch refused: %s (%s)", e.msg, json);
	assert_int_equal(parsed.n_records, 2);
	mc_pop_batch_clear(&parsed);
	free(json);

	assert_int_equal(ack_all(ob, &b), 2);
	assert_int_equal(mc_outbox_pending(ob), 1);
	mc_pop_batch_clear(&b);

	/* Nothing closed is left: an empty batch, no id used up. */
	batch(ob, 10, T0 + 21000, 60000, &b);
	assert_int_equal(b.n_records, 0);
	assert_null(b.batch);
	mc_pop_batch_clear(&b);

	end(ob, id[2], T0 + 30000, true);
	batch(ob, 10, T0 + 31000, 60000, &b);
	assert_int_equal(b.n_records, 1);
	assert_string_equal(b.batch, "pi-cua-lo-01-7-b2");
	assert_int_equal(ack_all(ob, &b), 1);
	assert_int_equal(mc_outbox_pending(ob), 0);
	mc_pop_batch_clear(&b);
	mc_outbox_close(ob);
}

static void test_resend_interval(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 100);
	struct mc_pop_batch b = {0};
	char id[96], first[96];

	start(ob, "slogan-87-nam", "e-12-11", T0, id);
	end(ob, id, T0 + 1000, true);
	batch(ob, 10, T0 + 2000, 60000, &b);
	assert_int_equal(b.n_records, 1);
	snprintf(first, sizeof(first), "%s", b.batch);
	mc_pop_batch_clear(&b);

	/* Sent and not acknowledged: not again before the interval. */
	batch(ob, 10, T0 + 3000, 60000, &b);
	assert_int_equal(b.n_records, 0);
	mc_pop_batch_clear(&b);
	batch(ob, 10, T0 + 62000, 60000, &b);
	assert_int_equal(b.n_records, 0);
	mc_pop_batch_clear(&b);

	/* After it: the same record, under a new batch id. */
	batch(ob, 10, T0 + 62001, 60000, &b);
	assert_int_equal(b.n_records, 1);
	assert_string_equal(b.records[0].id, id);
	assert_string_not_equal(b.batch, first);
	mc_pop_batch_clear(&b);

	/* The clock stepped back an hour: resend now, not in an hour. */
	batch(ob, 10, T0 + 62001 - 3600000, 60000, &b);
	assert_int_equal(b.n_records, 1);
	mc_pop_batch_clear(&b);
	mc_outbox_close(ob);
}

static void test_batch_limit_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 100);
	struct mc_pop_batch b = {0};
	char id[96];

	/* Started in reverse order of time: oldest start goes first. */
	for (int i = 9; i >= 0; i--) {
		start(ob, "slogan-87-nam", "e-12-11", T0 + i * 1000, id);
		end(ob, id, T0 + i * 1000 + 500, true);
	}
	batch(ob, 4, T0 + 20000, 60000, &b);
	assert_int_equal(b.n_records, 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(b.records[i].start_ms, T0 + i * 1000);
	mc_pop_batch_clear(&b);
	batch(ob, 100, T0 + 20000, 60000, &b);
	assert_int_equal(b.n_records, 6);
	assert_int_equal(b.records[0].start_ms, T0 + 4000);
	mc_pop_batch_clear(&b);
	mc_outbox_close(ob);
}

static void test_ack_unknown_ignored(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 100);
	char *ids[3], id[96], unsent[96];
	struct mc_pop_ack a = {0};
	struct mc_pop_batch b = {0};
	struct mc_error e = {0};
	int64_t n = -1;

	start(ob, "slogan-87-nam", "e-12-11", T0, id);
	end(ob, id, T0 + 1000, true);
	batch(ob, 10, T0 + 2000, 60000, &b);
	start(ob, "slogan-87-nam", "e-12-11", T0 + 3000, unsent);
	end(ob, unsent, T0 + 4000, true);

	/* Unknown ids, and an id never sent (a confused or forged ack
	 * cannot delete what the controller never saw). */
	ids[0] = "pi-cua-lo-01-1-999";
	ids[1] = unsent;
	ids[2] = "garbage";
	a.batch = "x";
	a.ids = ids;
	a.n_ids = 3;
	assert_int_equal(mc_outbox_ack(ob, &a, &n, &e), MC_OK);
	assert_int_equal(n, 0);
	assert_int_equal(mc_outbox_pending(ob), 2);

	/* A repeated ack deletes once. */
	assert_int_equal(ack_all(ob, &b), 1);
	assert_int_equal(ack_all(ob, &b), 0);
	assert_int_equal(mc_outbox_pending(ob), 1);
	mc_pop_batch_clear(&b);
	mc_outbox_close(ob);
}

static void test_recover_after_exit(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob;
	struct mc_pop_batch b = {0};
	struct mc_error e = {0};
	int status;
	int64_t n = -1;
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* A player that dies without closing anything. */
		char id[3][96];

		in_child = true;
		ob = open_ok(f->path, 1, 100);
		start(ob, "slogan-87-nam", "e-12-11", T0, id[0]);
		start(ob, "ban-tin-0600", "e-0600", T0 + 1000, id[1]);
		start(ob, "slogan-ky-luat", NULL, T0 + 9000, id[2]);
		end(ob, id[0], T0 + 2000, true);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	ob = open_ok(f->path, 2, 100);
	assert_int_equal(mc_outbox_pending(ob), 3);
	assert_int_equal(mc_outbox_recover(ob, T0 + 5000, &n, &e), MC_OK);
	assert_int_equal(n, 2);
	all_records(ob, &b);
	assert_int_equal(b.n_records, 3);
	assert_true(b.records[0].completed);
	assert_int_equal(b.records[0].end_ms, T0 + 2000);
	assert_false(b.records[1].completed);
	assert_int_equal(b.records[1].end_ms, T0 + 5000);
	/* Started after the recovery instant (clock trouble): ends at its
	 * start, never before it. */
	assert_false(b.records[2].completed);
	assert_int_equal(b.records[2].end_ms, T0 + 9000);
	mc_pop_batch_clear(&b);
	assert_int_equal(mc_outbox_recover(ob, T0 + 6000, &n, &e), MC_OK);
	assert_int_equal(n, 0);
	mc_outbox_close(ob);
}

/*
 * The child plays forever with a small limit (so that summaries happen)
 * and sends batches now and then; it writes one byte to the pipe after
 * each committed start.  The parent kills it with SIGKILL at an instant
 * that moves every round, then checks that every play is in the outbox
 * exactly once: the sum of counts is the number of committed starts, or
 * one more (a start committed just before the kill, not yet reported).
 */
static void child_plays(const char *path, int fd)
{
	struct mc_outbox *ob = open_ok(path, 1, 40);
	struct mc_pop_batch b = {0};
	struct mc_error e = {0};
	int64_t n;
	char id[96];

	in_child = true;
	mc_outbox_recover(ob, T0, &n, &e);
	for (int i = 0;; i++) {
		static const char *const contents[] = {"a", "b", "c"};

		start(ob, contents[i % 3], "e-1", T0 + i * 3600000LL, id);
		if (write(fd, "S", 1) != 1)
			_exit(3);
		end(ob, id, T0 + i * 3600000LL + 1000, i % 5 != 0);
		if (i % 7 == 0) {
			batch(ob, 5, T0 + i * 3600000LL, 600000, &b);
			mc_pop_batch_clear(&b);
		}
	}
}

static void test_kill_nine(void **state)
{
	struct fixture *f = *state;

	for (int round = 0; round < 6; round++) {
		struct mc_pop_batch b = {0};
		struct mc_outbox *ob;
		struct mc_error e = {0};
		int64_t reported = 0, want = 20 + round * 23, n, before = 0;
		int fds[2], status;
		char buf[256];
		ssize_t got;
		pid_t pid;

		if (round > 0) {
			ob = open_ok(f->path, 100 + round, 40);
			all_records(ob, &b);
			before = sum_counts(&b);
			mc_pop_batch_clear(&b);
			mc_outbox_close(ob);
		}
		assert_int_equal(pipe(fds), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			close(fds[0]);
			child_plays(f->path, fds[1]);
			_exit(2);
		}
		close(fds[1]);
		while (reported < want &&
		       (got = read(fds[0], buf, sizeof(buf))) > 0)
			reported += got;
		/* Vary the instant inside a write a little more. */
		usleep((useconds_t)(round * 700));
		kill(pid, SIGKILL);
		while ((got = read(fds[0], buf, sizeof(buf))) > 0)
			reported += got;
		close(fds[0]);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));

		ob = open_ok(f->path, 200 + round, 40);
		assert_int_equal(mc_outbox_recover(ob, T0, &n, &e), MC_OK);
		all_records(ob, &b);
		assert_int_equal((int64_t)b.n_records, mc_outbox_pending(ob));
		n = sum_counts(&b) - before;
		if (n != reported && n != reported + 1)
			fail_msg("round %d: %" PRId64
			         " plays committed, %" PRId64 " in the outbox",
			         round, reported, n);
		for (size_t i = 0; i + 1 < b.n_records; i++)
			for (size_t j = i + 1; j < b.n_records; j++)
				assert_string_not_equal(b.records[i].id,
				                        b.records[j].id);
		mc_pop_batch_clear(&b);
		mc_outbox_close(ob);
	}
}

static void test_summarise_exact(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 10);
	struct mc_pop_batch b = {0};
	int64_t summaries = 0;
	char id[96];

	/* 60 plays over three days, two contents, some interrupted. */
	for (int i = 0; i < 60; i++) {
		int64_t t = T0 + (i / 20) * DAY + (i % 20) * 60000;

		start(ob, i % 2 ? "a" : "b", "e-1", t, id);
		end(ob, id, t + 30000, i != 3);
		assert_true(mc_outbox_pending(ob) <= 10 + 6);
	}
	assert_true(mc_outbox_summarised(ob) > 0);
	all_records(ob, &b);
	assert_int_equal(sum_counts(&b), 60);
	assert_int_equal((int64_t)b.n_records, mc_outbox_pending(ob));
	for (size_t i = 0; i < b.n_records; i++) {
		const struct mc_pop_record *r = &b.records[i];

		if (r->count == 1)
			continue;
		summaries++;
		/* One UTC day per summary, spanning its plays. */
		assert_int_equal(r->start_ms / DAY, (r->end_ms - 1) / DAY);
		assert_true(r->end_ms >= r->start_ms);
		assert_string_equal(r->entry, "e-1");
		/* Play 3 ("a", day one) was interrupted. */
		if (r->start_ms / DAY == T0 / DAY && !strcmp(r->content, "a"))
			assert_false(r->completed);
		else
			assert_true(r->completed);
	}
	/* Bounded: at most max records besides the summaries. */
	assert_true((int64_t)b.n_records <= 10 + summaries);
	assert_true(summaries > 0 && summaries <= 6);
	mc_pop_batch_clear(&b);
	mc_outbox_close(ob);

	/* The counter survives a restart. */
	ob = open_ok(f->path, 2, 10);
	assert_true(mc_outbox_summarised(ob) > 0);
	mc_outbox_close(ob);
}

static void test_summarise_never_sent_only(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 6);
	struct mc_pop_batch sent = {0}, b = {0};
	size_t found = 0;
	char id[96];

	for (int i = 0; i < 5; i++) {
		start(ob, "a", "e-1", T0 + i * 1000, id);
		end(ob, id, T0 + i * 1000 + 500, true);
	}
	batch(ob, 10, T0 + 10000, 600000, &sent);
	assert_int_equal(sent.n_records, 5);
	for (int i = 5; i < 15; i++) {
		start(ob, "a", "e-1", T0 + i * 1000, id);
		end(ob, id, T0 + i * 1000 + 500, true);
	}
	assert_true(mc_outbox_summarised(ob) > 0);
	all_records(ob, &b);
	assert_int_equal(sum_counts(&b), 15);
	/* The five sent records are still there, alone, under their ids. */
	for (size_t i = 0; i < b.n_records; i++)
		for (size_t j = 0; j < sent.n_records; j++)
			if (!strcmp(b.records[i].id, sent.records[j].id)) {
				assert_int_equal(b.records[i].count, 1);
				found++;
			}
	assert_int_equal(found, 5);
	mc_pop_batch_clear(&b);
	mc_pop_batch_clear(&sent);
	mc_outbox_close(ob);
}

static void test_summarise_nothing_foldable(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 3);
	struct mc_pop_batch b = {0};
	char id[96];

	/* Everything sent and unacknowledged, or still open: the outbox
	 * grows past its limit rather than count anything twice. */
	for (int i = 0; i < 6; i++) {
		start(ob, "a", "e-1", T0 + i * 1000, id);
		end(ob, id, T0 + i * 1000 + 500, true);
		batch(ob, 10, T0 + i * 1000 + 600, 600000, &b);
		assert_int_equal(b.n_records, 1);
		mc_pop_batch_clear(&b);
	}
	start(ob, "a", "e-1", T0 + 9000, id);
	assert_int_equal(mc_outbox_pending(ob), 7);
	assert_int_equal(mc_outbox_summarised(ob), 0);

	/* Once acknowledged, they go, and the limit holds again. */
	all_records(ob, &b);
	assert_int_equal(ack_all(ob, &b), 6);
	mc_pop_batch_clear(&b);
	assert_int_equal(mc_outbox_pending(ob), 1);
	mc_outbox_close(ob);
}

static void test_ids_unique_across_boots(void **state)
{
	struct fixture *f = *state;
	struct mc_outbox *ob = open_ok(f->path, 1, 100);
	char a[96], b[96], c[96], d[96];

	start(ob, "a", NULL, T0, a);
	start(ob, "a", NULL, T0, b);
	mc_outbox_close(ob);
	ob = open_ok(f->path, 2, 100);
	start(ob, "a", NULL, T0, c);
	mc_outbox_close(ob);
	/* Even the same boot number again does not reuse an id. */
	ob = open_ok(f->path, 2, 100);
	start(ob, "a", NULL, T0, d);
	assert_string_equal(a, "pi-cua-lo-01-1-1");
	assert_string_equal(b, "pi-cua-lo-01-1-2");
	assert_string_equal(c, "pi-cua-lo-01-2-3");
	assert_string_equal(d, "pi-cua-lo-01-2-4");
	assert_int_equal(mc_outbox_pending(ob), 4);
	mc_outbox_close(ob);
}

static void test_bad_files(void **state)
{
	struct fixture *f = *state;
	struct mc_error e = {0};
	char path[128];
	sqlite3 *db;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/garbage.db", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fputs("this is not a database at all\n", fp);
	fclose(fp);
	assert_null(mc_outbox_open(path, "pi-1", 1, 10, &e));
	assert_int_equal(e.code, MC_ERR_IO);
	assert_non_null(strstr(e.msg, path));
	assert_non_null(strstr(e.msg, "not a database"));

	snprintf(path, sizeof(path), "%s/no/such/dir/pop.db", f->dir);
	assert_null(mc_outbox_open(path, "pi-1", 1, 10, &e));
	assert_int_equal(e.code, MC_ERR_IO);
	assert_non_null(strstr(e.msg, "cannot open"));

	/* Written by a newer player: refused, not rewritten. */
	snprintf(path, sizeof(path), "%s/newer.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(
	        sqlite3_exec(db, "PRAGMA user_version = 9", NULL, NULL, NULL),
	        SQLITE_OK);
	sqlite3_close(db);
	assert_null(mc_outbox_open(path, "pi-1", 1, 10, &e));
	assert_int_equal(e.code, MC_ERR_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "version 9"));

	assert_null(mc_outbox_open(path, "pi-1", 1, 0, &e));
	assert_int_equal(e.code, MC_ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_round_trip, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_resend_interval, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_batch_limit_oldest_first,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ack_unknown_ignored, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_recover_after_exit, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_kill_nine, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_summarise_exact, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_summarise_never_sent_only,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_summarise_nothing_foldable,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_ids_unique_across_boots,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_bad_files, setup,
	                                        teardown),
	};

	mc_log_set_level(MC_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
