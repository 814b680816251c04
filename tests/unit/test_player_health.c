/*
 * Unit tests for player/health.c: every field read from fixture trees of
 * /proc and /sys (tests/unit/data/health/<board>/), throttling in the
 * firmware's and vcgencmd's spellings, missing files as unknown, and the
 * clock sync modes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "health.h"
#include "mc_test.h"

#define DATA MC_SOURCE_DIR "/tests/unit/data/health"

/* Collect from the fixture board, with disk_path (may be NULL). */
static void collect(const char *board, const char *disk, struct mc_health *h)
{
	char proc[PATH_MAX], sys[PATH_MAX];
	struct mc_health_src src;

	snprintf(proc, sizeof(proc), "%s/%s/proc", DATA, board);
	snprintf(sys, sizeof(sys), "%s/%s/sys", DATA, board);
	src.proc_root = proc;
	src.sys_root = sys;
	src.disk_path = disk;
	/* Garbage first: every system field must be written. */
	memset(h, 0x5a, sizeof(*h));
	h->node = NULL;
	h->errors = NULL;
	h->n_errors = 0;
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		memset(&h->playing[ch], 0, sizeof(h->playing[ch]));
	mc_health_collect(&src, h);
}

static void test_pi4(void **state)
{
	struct mc_health h;

	collect("pi4", "/", &h);
	assert_int_equal(h.uptime_s, 354621);
	assert_true(fabs(h.load1 - 0.52) < 1e-9);
	assert_int_equal(h.mem_total_kb, 3884308);
	assert_int_equal(h.mem_avail_kb, 3391044);
	assert_true(h.disk_total_bytes > 0);
	assert_true(h.disk_free_bytes >= 0);
	assert_true(h.disk_free_bytes <= h.disk_total_bytes);
	/* zone1 is cpu-thermal and wins over zone0 (gpu-thermal). */
	assert_true(h.has_temp);
	assert_true(fabs(h.cpu_temp_c - 48.312) < 1e-9);
	/* The kernel prints get_throttled as hex without 0x. */
	assert_int_equal(h.throttled, 0x50005);
	/* Fields that are not the system's are left alone. */
	assert_int_equal(h.applied_version, 0x5a5a5a5a5a5a5a5aLL);
}

static void test_no_sensors(void **state)
{
	struct mc_health h;

	collect("no-sensors", NULL, &h);
	assert_int_equal(h.uptime_s, 12);
	assert_true(fabs(h.load1 - 2.25) < 1e-9);
	assert_int_equal(h.mem_total_kb, 1000000);
	/* An old kernel without MemAvailable: unknown, reported 0. */
	assert_int_equal(h.mem_avail_kb, 0);
	assert_int_equal(h.disk_total_bytes, 0);
	assert_int_equal(h.disk_free_bytes, 0);
	assert_false(h.has_temp);
	assert_int_equal(h.throttled, -1);
}

static void test_pi5_undervolt_hwmon_only(void **state)
{
	struct mc_health h;

	collect("pi5-undervolt", NULL, &h);
	assert_true(h.has_temp);
	assert_true(fabs(h.cpu_temp_c - 71.25) < 1e-9);
	/* No get_throttled; the hwmon alarm sets bit 0 as the firmware
	 * would. */
	assert_int_equal(h.throttled, 0x1);
}

static void test_x86_zone_preference(void **state)
{
	struct mc_health h;

	collect("x86", NULL, &h);
	assert_true(h.has_temp);
	assert_true(fabs(h.cpu_temp_c - 55.0) < 1e-9);
	assert_int_equal(h.throttled, -1);
}

static void test_missing_everything(void **state)
{
	struct mc_health_src src = {"/nonexistent/proc", "/nonexistent/sys",
	                            "/nonexistent/cache"};
	struct mc_health h;

	memset(&h, 0x5a, sizeof(h));
	mc_health_collect(&src, &h);
	assert_int_equal(h.uptime_s, 0);
	assert_true(h.load1 == 0);
	assert_int_equal(h.mem_total_kb, 0);
	assert_int_equal(h.mem_avail_kb, 0);
	assert_int_equal(h.disk_total_bytes, 0);
	assert_int_equal(h.disk_free_bytes, 0);
	assert_false(h.has_temp);
	assert_int_equal(h.throttled, -1);
}

/* A scratch sys tree for the cases not worth a fixture each. */
struct scratch {
	char dir[64];        /* the root, as sys_root */
	char path[PATH_MAX]; /* scratch for building paths */
};

static void put(struct scratch *s, const char *rel, const char *text)
{
	char cmd[PATH_MAX * 2];
	FILE *fp;

	snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", s->path);
	assert_int_equal(system(cmd), 0);
	fp = fopen(s->path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static int scratch_setup(void **state)
{
	struct scratch *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	snprintf(s->dir, sizeof(s->dir), "/tmp/mc-health-XXXXXX");
	assert_non_null(mkdtemp(s->dir));
	*state = s;
	return 0;
}

static int scratch_teardown(void **state)
{
	struct scratch *s = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
	assert_int_equal(system(cmd), 0);
	free(s);
	return 0;
}

static int64_t throttled_of(struct scratch *s, const char *text)
{
	struct mc_health_src src = {"/nonexistent", s->dir, NULL};
	struct mc_health h = {0};

	put(s, "devices/platform/soc/soc:firmware/get_throttled", text);
	mc_health_collect(&src, &h);
	return h.throttled;
}

static void test_throttled_spellings(void **state)
{
	struct scratch *s = *state;

	assert_int_equal(throttled_of(s, "50005\n"), 0x50005);
	assert_int_equal(throttled_of(s, "0x50005\n"), 0x50005);
	assert_int_equal(throttled_of(s, "throttled=0x50000\n"), 0x50000);
	assert_int_equal(throttled_of(s, "0\n"), 0);
	assert_int_equal(throttled_of(s, "e0008"), 0xe0008);
	/* Not a number, empty, or too wide: unknown. */
	assert_int_equal(throttled_of(s, "zz\n"), -1);
	assert_int_equal(throttled_of(s, "\n"), -1);
	assert_int_equal(throttled_of(s, "0x"), -1);
	assert_int_equal(throttled_of(s, "-5"), -1);
	assert_int_equal(throttled_of(s, "123456789"), -1);

	/* The hwmon alarm adds bit 0 to what the firmware said. */
	put(s, "class/hwmon/hwmon2/name", "rpi_volt\n");
	put(s, "class/hwmon/hwmon2/in0_lcrit_alarm", "1\n");
	assert_int_equal(throttled_of(s, "50000\n"), 0x50001);
	put(s, "class/hwmon/hwmon2/in0_lcrit_alarm", "0\n");
	assert_int_equal(throttled_of(s, "50000\n"), 0x50000);
	assert_int_equal(throttled_of(s, "garbage\n"), 0);
}

static void test_first_zone_when_none_preferred(void **state)
{
	struct scratch *s = *state;
	struct mc_health_src src = {"/nonexistent", s->dir, NULL};
	struct mc_health h = {0};

	/* Numeric order, not the order readdir or strcmp would give. */
	put(s, "class/thermal/thermal_zone10/type", "soc\n");
	put(s, "class/thermal/thermal_zone10/temp", "60000\n");
	put(s, "class/thermal/thermal_zone3/type", "acpitz\n");
	put(s, "class/thermal/thermal_zone3/temp", "-5500\n");
	/* No type file, unreadable temperature, out of range: skipped. */
	put(s, "class/thermal/thermal_zone1/temp", "999999\n");
	put(s, "class/thermal/thermal_zone2/type", "acpitz\n");
	put(s, "class/thermal/cooling_device0/type", "Processor\n");
	mc_health_collect(&src, &h);
	assert_true(h.has_temp);
	assert_true(fabs(h.cpu_temp_c - -5.5) < 1e-9);
}

static void test_clock_modes(void **state)
{
	struct scratch *s = *state;
	char mode[PATH_MAX + 8];
	double off = 0;
	bool synced;

	assert_true(mc_clock_synced("yes", &off));
	assert_true(isnan(off));
	assert_false(mc_clock_synced("no", &off));
	assert_true(isnan(off));
	assert_false(mc_clock_synced("sometimes", &off));
	assert_false(mc_clock_synced("file:", &off));

	snprintf(mode, sizeof(mode), "file:%s/synced", s->dir);
	assert_false(mc_clock_synced(mode, &off));
	put(s, "synced", "");
	assert_true(mc_clock_synced(mode, &off));
	assert_true(isnan(off));
	assert_int_equal(unlink(s->path), 0);
	assert_false(mc_clock_synced(mode, NULL));

	/* Whatever this machine's clock is doing: a bool, and an offset
	 * that is a sane number exactly when synchronised. */
	off = 0;
	synced = mc_clock_synced("auto", &off);
	if (synced)
		assert_true(off >= 0 && off < 1e9);
	else
		assert_true(isnan(off));
	assert_int_equal(mc_clock_synced(NULL, NULL), synced);
}

/* ---- the recent errors of a health report ---- */

static void test_errlist(void **state)
{
	struct mc_errlist l = {0};
	char msg[32];

	(void)state;
	mc_errlist_add(&l, "fetch: a failed", 1000);
	mc_errlist_add(&l, "fetch: b failed", 2000);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.msg[0], "fetch: b failed"); /* newest first */
	/* A repeat moves to the front, with its new time, not twice. */
	mc_errlist_add(&l, "fetch: a failed", 3000);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.msg[0], "fetch: a failed");
	assert_int_equal(l.at_ms[0], 3000);
	assert_string_equal(l.msg[1], "fetch: b failed");
	/* Expiry keeps what is within keep_ms of now, drops the rest. */
	mc_errlist_expire(&l, 4000, 2000);
	assert_int_equal(l.n, 2);
	mc_errlist_expire(&l, 4001, 2000);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.msg[0], "fetch: a failed");
	mc_errlist_expire(&l, 5001, 2000);
	assert_int_equal(l.n, 0);
	/* At most MC_HEALTH_ERRORS_MAX: the oldest goes. */
	for (int i = 0; i < MC_HEALTH_ERRORS_MAX + 4; i++) {
		snprintf(msg, sizeof(msg), "e%d", i);
		mc_errlist_add(&l, msg, 10000 + i);
	}
	assert_int_equal(l.n, MC_HEALTH_ERRORS_MAX);
	assert_string_equal(l.msg[0], "e19");
	assert_string_equal(l.msg[MC_HEALTH_ERRORS_MAX - 1], "e4");
	mc_errlist_free(&l);
	assert_int_equal(l.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_pi4),
	        cmocka_unit_test(test_no_sensors),
	        cmocka_unit_test(test_pi5_undervolt_hwmon_only),
	        cmocka_unit_test(test_x86_zone_preference),
	        cmocka_unit_test(test_missing_everything),
	        cmocka_unit_test(test_errlist),
	        cmocka_unit_test_setup_teardown(test_throttled_spellings,
	                                        scratch_setup,
	                                        scratch_teardown),
	        cmocka_unit_test_setup_teardown(
	                test_first_zone_when_none_preferred, scratch_setup,
	                scratch_teardown),
	        cmocka_unit_test_setup_teardown(test_clock_modes, scratch_setup,
	                                        scratch_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
