/*
 * Unit tests: the player's configuration file (player/config.c).  A full
 * file of every key read back, the defaults, and every class of mistake
 * a technician can make, each asserted to name its line, section and key
 * and to be the only problem reported (through mc_config_check, which
 * also proves that checking goes on after the first problem).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "minecast/log.h"
#include "minecast/sign.h"
#include "minecast/util.h"

#include "config.h"
#include "mc_test.h"

#define KIB ((int64_t)1024)
#define MIB (KIB * 1024)
#define GIB (MIB * 1024)

/*
 * The smallest good file: 10 lines.  Cases append a section after it
 * (sections may repeat), so the appended header is line 11 and its first
 * key line 12.
 */
#define BASE                                                                   \
	"[node]\n"                                                             \
	"id = pi-cua-lo-01\n"                                                  \
	"[mqtt]\n"                                                             \
	"broker = mqtt://127.0.0.1:1883\n"                                     \
	"[http]\n"                                                             \
	"base = http://127.0.0.1:8080\n"                                       \
	"[keys]\n"                                                             \
	"trusted = keys.pub\n"                                                 \
	"[channels]\n"                                                         \
	"screen = yes\n"

/* A scratch directory holding keys.pub (and what cases write). */
static char dir[64];
static struct mc_secret_key key_a, key_b;

/*
 * dir/name, in one of 16 static buffers used in turn: a returned path
 * stays good for the next 15 calls, plenty for any one case here.
 */
static const char *in_dir(const char *name)
{
	static char path[16][256];
	static int which;

	which = (which + 1) % 16;
	snprintf(path[which], sizeof(path[which]), "%s/%s", dir, name);
	return path[which];
}

/* Write text to dir/name with mode; returns the path. */
static const char *write_file(const char *name, const char *text, mode_t mode)
{
	const char *path = in_dir(name);
	FILE *f;

	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int setup(void **state)
{
	unsigned char seed[32];
	struct mc_error err;

	strcpy(dir, "/tmp/mc-test-config-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)i;
	if (mc_secret_key_from_seed(seed, &key_a, &err) != MC_OK)
		return -1;
	for (int i = 0; i < 32; i++)
		seed[i] = (unsigned char)(100 + i);
	if (mc_secret_key_from_seed(seed, &key_b, &err) != MC_OK)
		return -1;
	if (mc_public_key_save(&key_a, in_dir("keys.pub"), &err) != MC_OK ||
	    mc_public_key_save(&key_b, in_dir("other.pub"), &err) != MC_OK)
		return -1;
	/* TLS files some cases name (their content is not read here). */
	write_file("ca.pem", "ca\n", 0644);
	write_file("client.crt", "cert\n", 0644);
	return 0;
}

static int teardown(void **state)
{
	static const char *const names[] = {
	        "keys.pub",  "other.pub", "bad.pub",    "player.conf",
	        "mqtt.pass", "open.pass", "client.crt", "client.key",
	        "ca.pem",    "big.conf",  "ww.conf",    "three.conf"};

	for (size_t i = 0; i < MC_ARRAY_LEN(names); i++)
		unlink(in_dir(names[i]));
	rmdir(dir);
	mc_secret_key_wipe(&key_a);
	mc_secret_key_wipe(&key_b);
	return 0;
}

/* mc_config_check of path, its whole output in a malloc'd string. */
static char *check_output(const char *path, int *n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	assert_non_null(out);
	*n = mc_config_check(path, out);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/*
 * text has exactly one problem: mc_config_parse (keys not loaded) fails
 * with code, naming where ("player.conf:12: [cache] quota: ") and what;
 * mc_config_check (keys loaded) prints it and counts one problem.
 */
static void expect_one(const char *text, enum mc_err code, const char *where,
                       const char *what)
{
	struct mc_player_config cfg;
	struct mc_error err;
	const char *path = write_file("player.conf", text, 0644);
	enum mc_err rc;
	char *out, *tail;
	int n;

	rc = mc_config_parse(text, strlen(text), path, false, &cfg, &err);
	mc_test_expect_error(rc, &err, code, where, what);
	if (!strstr(err.msg, what))
		fail_msg("%s: message \"%s\" does not say \"%s\"", where,
		         err.msg, what);
	if (strncmp(err.msg, path, strlen(path)) != 0)
		fail_msg("message \"%s\" does not start with the file name",
		         err.msg);
	mc_config_free(&cfg);

	out = check_output(path, &n);
	if (n != 1 || !strstr(out, where) || !strstr(out, what))
		fail_msg("check of %s: %d problems:\n%s", where, n, out);
	tail = mc_printf("%s: 1 problem\n", path);
	assert_non_null(tail);
	assert_non_null(strstr(out, tail));
	free(tail);
	free(out);
}

/* text parses (keys not loaded); cfg must be freed. */
static void parse_ok(const char *text, struct mc_player_config *cfg)
{
	struct mc_error err;
	enum mc_err rc;

	rc = mc_config_parse(text, strlen(text), "player.conf", false, cfg,
	                     &err);
	if (rc != MC_OK)
		fail_msg("unexpected problem: %s", err.msg);
}

/* ---- good files ---- */

static void test_full_round_trip(void **state)
{
	struct mc_player_config cfg;
	struct mc_error err;
	const char *path;
	char *text;

	write_file("mqtt.pass", "s3cret pass\n", 0640);
	write_file("client.crt", "cert\n", 0644);
	write_file("client.key", "key\n", 0600);
	write_file("ca.pem", "ca\n", 0644);
	text = mc_printf(
	        "# minecast-player, every key\n"
	        "[node]\n"
	        "id = pi-cua-lo-01\n"
	        "site = cua-lo\n"
	        "tags = nha-an, cong-chinh ,lo-3\n"
	        "\n"
	        "[mqtt]\n"
	        "broker = mqtts://broker.cua-lo.example:8884\n"
	        "broker = mqtt://[::1]\n"
	        "broker = mqtts://10.0.0.2\n"
	        "username = node-cua-lo-01\n"
	        "password_file = mqtt.pass\n"
	        "ca_file = %s/ca.pem\n"
	        "cert_file = client.crt\n"
	        "key_file = client.key\n"
	        "keepalive = 1m\n"
	        "reconnect_min = 250ms\n"
	        "reconnect_max = 2m\n"
	        "[http]\n"
	        "base = https://ctl.example:8443/minecast/\n"
	        "ca_file = ca.pem\n"
	        "timeout = 45\n"
	        "[cache]\n"
	        "dir = /srv/minecast/cache\n"
	        "state_dir = /srv/minecast/state\n"
	        "quota = 8G\n"
	        "parallel = 4\n"
	        "bandwidth = 512K\n"
	        "window = 22:30-5:00\n"
	        "[channels]\n"
	        "screen = on\n"
	        "speaker = TRUE\n"
	        "screen_output = log\n"
	        "speaker_output = \"log\"\n"
	        "log_output_file = /run/minecast/outputs.log\n"
	        "volume = 65\n"
	        "[keys]\n"
	        "trusted = keys.pub\n"
	        "trusted = %s/other.pub\n"
	        "[hooks]\n"
	        "reboot = systemctl reboot\n"
	        "screen_power = \"cec-ctl -d0 --to 0 # keep the hash\"\n"
	        "amplifier = /usr/local/bin/amp-relay ; echo x\n"
	        "timeout = 30s\n"
	        "[health]\n"
	        "interval = 2m\n"
	        "errors_kept = 2h\n"
	        "proc_root = /tmp/fake/proc\n"
	        "sys_root = fake/sys\n"
	        "[clock]\n"
	        "sync = file:synced\n"
	        "[pop]\n"
	        "batch_max = 50\n"
	        "resend = 90s\n"
	        "outbox_max = 500000\n"
	        "[log]\n"
	        "level = debug # verbose\n",
	        dir, dir);
	assert_non_null(text);
	path = write_file("player.conf", text, 0644);
	free(text);

	if (mc_config_load(path, &cfg, &err) != MC_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg.path, path);
	assert_string_equal(cfg.node_id, "pi-cua-lo-01");
	assert_string_equal(cfg.site, "cua-lo");
	assert_int_equal(cfg.n_tags, 3);
	assert_string_equal(cfg.tags[0], "nha-an");
	assert_string_equal(cfg.tags[1], "cong-chinh");
	assert_string_equal(cfg.tags[2], "lo-3");

	assert_int_equal(cfg.n_brokers, 3);
	assert_string_equal(cfg.brokers[0].host, "broker.cua-lo.example");
	assert_int_equal(cfg.brokers[0].port, 8884);
	assert_true(cfg.brokers[0].tls);
	assert_string_equal(cfg.brokers[1].host, "::1");
	assert_int_equal(cfg.brokers[1].port, 1883);
	assert_false(cfg.brokers[1].tls);
	assert_string_equal(cfg.brokers[2].host, "10.0.0.2");
	assert_int_equal(cfg.brokers[2].port, 8883);
	assert_true(cfg.brokers[2].tls);
	assert_string_equal(cfg.username, "node-cua-lo-01");
	assert_string_equal(cfg.password, "s3cret pass");
	assert_string_equal(cfg.ca_file, in_dir("ca.pem"));
	assert_string_equal(cfg.cert_file, in_dir("client.crt"));
	assert_string_equal(cfg.key_file, in_dir("client.key"));
	assert_int_equal(cfg.keepalive_s, 60);
	assert_int_equal(cfg.reconnect_min_ms, 250);
	assert_int_equal(cfg.reconnect_max_ms, 120000);

	assert_string_equal(cfg.http_base, "https://ctl.example:8443/minecast");
	assert_string_equal(cfg.http_ca_file, in_dir("ca.pem"));
	assert_int_equal(cfg.http_timeout_s, 45);

	assert_string_equal(cfg.cache_dir, "/srv/minecast/cache");
	assert_string_equal(cfg.state_dir, "/srv/minecast/state");
	assert_int_equal(cfg.cache_quota_bytes, 8 * GIB);
	assert_int_equal(cfg.download_parallel, 4);
	assert_int_equal(cfg.bandwidth_bps, 512 * KIB);
	assert_int_equal(cfg.window_start_min, 22 * 60 + 30);
	assert_int_equal(cfg.window_end_min, 5 * 60);

	assert_true(cfg.screen);
	assert_true(cfg.speaker);
	assert_string_equal(cfg.screen_output, "log");
	assert_string_equal(cfg.speaker_output, "log");
	assert_string_equal(cfg.log_output_file, "/run/minecast/outputs.log");
	assert_int_equal(cfg.volume, 65);

	assert_int_equal(cfg.n_trusted_key_files, 2);
	assert_string_equal(cfg.trusted_key_files[0], in_dir("keys.pub"));
	assert_string_equal(cfg.trusted_key_files[1], in_dir("other.pub"));
	assert_int_equal(cfg.keyring.n_keys, 2);
	assert_non_null(mc_keyring_find(&cfg.keyring, key_a.kid));
	assert_non_null(mc_keyring_find(&cfg.keyring, key_b.kid));

	assert_string_equal(cfg.hook_reboot, "systemctl reboot");
	assert_string_equal(cfg.hook_screen_power,
	                    "cec-ctl -d0 --to 0 # keep the hash");
	assert_string_equal(cfg.hook_amplifier,
	                    "/usr/local/bin/amp-relay ; echo x");
	assert_int_equal(cfg.hook_timeout_s, 30);

	assert_int_equal(cfg.health_interval_s, 120);
	assert_int_equal(cfg.health_errors_kept_s, 7200);
	assert_string_equal(cfg.proc_root, "/tmp/fake/proc");
	assert_string_equal(cfg.sys_root, in_dir("fake/sys"));

	text = mc_printf("file:%s", in_dir("synced"));
	assert_string_equal(cfg.clock_sync, text);
	free(text);

	assert_int_equal(cfg.pop_batch_max, 50);
	assert_int_equal(cfg.pop_resend_s, 90);
	assert_int_equal(cfg.pop_outbox_max, 500000);
	assert_int_equal(cfg.log_level, MC_LOG_DEBUG);
	mc_config_free(&cfg);
	assert_null(cfg.node_id);
	assert_null(cfg.keyring.keys);
}

static void test_defaults(void **state)
{
	struct mc_player_config cfg;

	parse_ok(BASE, &cfg);
	assert_string_equal(cfg.path, "player.conf");
	assert_string_equal(cfg.node_id, "pi-cua-lo-01");
	assert_null(cfg.site);
	assert_int_equal(cfg.n_tags, 0);
	assert_null(cfg.tags);
	assert_int_equal(cfg.n_brokers, 1);
	assert_string_equal(cfg.brokers[0].host, "127.0.0.1");
	assert_int_equal(cfg.brokers[0].port, 1883);
	assert_false(cfg.brokers[0].tls);
	assert_string_equal(cfg.username, "pi-cua-lo-01");
	assert_null(cfg.password);
	assert_null(cfg.ca_file);
	assert_null(cfg.cert_file);
	assert_null(cfg.key_file);
	assert_int_equal(cfg.keepalive_s, 30);
	assert_int_equal(cfg.reconnect_min_ms, 500);
	assert_int_equal(cfg.reconnect_max_ms, 60000);
	assert_string_equal(cfg.http_base, "http://127.0.0.1:8080");
	assert_null(cfg.http_ca_file);
	assert_int_equal(cfg.http_timeout_s, 30);
	assert_string_equal(cfg.cache_dir, "/var/cache/minecast");
	assert_string_equal(cfg.state_dir, "/var/lib/minecast");
	assert_int_equal(cfg.cache_quota_bytes, GIB);
	assert_int_equal(cfg.download_parallel, 2);
	assert_int_equal(cfg.bandwidth_bps, 0);
	assert_int_equal(cfg.window_start_min, -1);
	assert_int_equal(cfg.window_end_min, -1);
	assert_true(cfg.screen);
	assert_false(cfg.speaker);
	assert_string_equal(cfg.screen_output, "log");
	assert_string_equal(cfg.speaker_output, "log");
	assert_null(cfg.log_output_file);
	assert_int_equal(cfg.n_trusted_key_files, 1);
	/* Relative to the directory of "player.conf": as written. */
	assert_string_equal(cfg.trusted_key_files[0], "keys.pub");
	assert_int_equal(cfg.keyring.n_keys, 0); /* not loaded */
	assert_null(cfg.hook_reboot);
	assert_null(cfg.hook_screen_power);
	assert_null(cfg.hook_amplifier);
	assert_int_equal(cfg.hook_timeout_s, 20);
	assert_int_equal(cfg.health_interval_s, 30);
	assert_int_equal(cfg.health_errors_kept_s, 3600);
	assert_string_equal(cfg.proc_root, "/proc");
	assert_string_equal(cfg.sys_root, "/sys");
	assert_string_equal(cfg.clock_sync, "auto");
	assert_int_equal(cfg.pop_batch_max, 200);
	assert_int_equal(cfg.pop_resend_s, 60);
	assert_int_equal(cfg.pop_outbox_max, 100000);
	assert_int_equal(cfg.log_level, MC_LOG_INFO);
	assert_int_equal(cfg.volume, 80);
	mc_config_free(&cfg);
}

static void test_syntax_details(void **state)
{
	struct mc_player_config cfg;

	/* CRLF line ends, a byte order mark, blanks, comments of both
	 * kinds, an inline comment, quotes and an empty optional value. */
	parse_ok("\xEF\xBB\xBF; Windows editor\r\n"
	         "  [ node ]  # the node\r\n"
	         "\tid\t=\t\"pi-cua-lo-01\"  # quoted\r\n"
	         "site =\r\n"
	         "[mqtt]\r\n"
	         "broker=mqtt://localhost:1883/\r\n"
	         "password = \"p#ss ;word\"\r\n"
	         "[http]\nbase = http://[::1]:8080\n"
	         "[keys]\ntrusted = keys.pub\n"
	         "[channels]\nspeaker = 1\nscreen = off\n"
	         "[cache]\nwindow = always\nquota = 512MiB\n"
	         "bandwidth = 0\n",
	         &cfg);
	assert_string_equal(cfg.node_id, "pi-cua-lo-01");
	assert_null(cfg.site);
	assert_string_equal(cfg.brokers[0].host, "localhost");
	assert_string_equal(cfg.password, "p#ss ;word");
	assert_string_equal(cfg.http_base, "http://[::1]:8080");
	assert_false(cfg.screen);
	assert_true(cfg.speaker);
	assert_int_equal(cfg.window_start_min, -1);
	assert_int_equal(cfg.cache_quota_bytes, 512 * MIB);
	mc_config_free(&cfg);

	/* A window crossing midnight, ending at 24:00. */
	parse_ok(BASE "[cache]\nwindow = 22:00 - 24:00\n", &cfg);
	assert_int_equal(cfg.window_start_min, 22 * 60);
	assert_int_equal(cfg.window_end_min, 0);
	mc_config_free(&cfg);

	/* Every boolean spelling. */
	parse_ok(BASE "[channels]\nspeaker = On\n", &cfg);
	assert_true(cfg.speaker);
	mc_config_free(&cfg);

	/* Paths are relative to the file's directory. */
	{
		struct mc_error err;
		const char *t = BASE "[cache]\ndir = cache\n";

		assert_int_equal(mc_config_parse(t, strlen(t), "/etc/x/p.conf",
		                                 false, &cfg, &err),
		                 MC_OK);
		assert_string_equal(cfg.cache_dir, "/etc/x/cache");
		assert_string_equal(cfg.trusted_key_files[0],
		                    "/etc/x/keys.pub");
		mc_config_free(&cfg);
	}

	/* NULL text is an empty file: every required key is missing. */
	{
		struct mc_error err;

		assert_int_equal(
		        mc_config_parse(NULL, 0, "e.conf", false, &cfg, &err),
		        MC_ERR_MISSING);
		assert_non_null(strstr(err.msg, "e.conf: [node] id: missing"));
		mc_config_free(&cfg);
	}
}

/* The shipped example is a good file and says what it shows. */
static void test_example_file(void **state)
{
	struct mc_player_config cfg;
	struct mc_error err;
	char *text = NULL;
	size_t len = 0;

	assert_int_equal(mc_read_file(MC_SOURCE_DIR
	                              "/firmware-notes/player.conf.example",
	                              MC_PLAYER_CONF_MAX_BYTES, &text, &len,
	                              &err),
	                 MC_OK);
	if (mc_config_parse(text, len, "/etc/minecast/player.conf", false, &cfg,
	                    &err) != MC_OK)
		fail_msg("%s", err.msg);
	free(text);
	assert_string_equal(cfg.node_id, "pi-cua-lo-01");
	assert_string_equal(cfg.site, "cua-lo");
	assert_int_equal(cfg.n_brokers, 2);
	assert_true(cfg.brokers[0].tls);
	assert_true(cfg.screen && cfg.speaker);
	assert_int_equal(cfg.cache_quota_bytes, 8 * GIB);
	assert_string_equal(cfg.trusted_key_files[0],
	                    "/etc/minecast/keys/controller.pub");
	assert_string_equal(cfg.clock_sync, "auto");
	mc_config_free(&cfg);
}

/* ---- the file itself ---- */

static void test_reject_file(void **state)
{
	struct mc_player_config cfg;
	struct mc_error err;
	char *big;
	size_t n = MC_PLAYER_CONF_MAX_BYTES + 1;

	/* Too large, by text and on disk. */
	big = malloc(n + 1);
	assert_non_null(big);
	memset(big, '#', n);
	big[n] = '\0';
	mc_test_expect_error(
	        mc_config_parse(big, n, "big.conf", false, &cfg, &err), &err,
	        MC_ERR_TOO_LARGE, "big.conf: ", "too large");
	assert_non_null(strstr(err.msg, "65536"));
	mc_config_free(&cfg);
	write_file("big.conf", big, 0644);
	free(big);
	mc_test_expect_error(mc_config_load(in_dir("big.conf"), &cfg, &err),
	                     &err, MC_ERR_TOO_LARGE, "big.conf: ", "load");
	mc_config_free(&cfg);

	/* Missing. */
	mc_test_expect_error(mc_config_load(in_dir("none.conf"), &cfg, &err),
	                     &err, MC_ERR_IO, "none.conf: cannot read: No such",
	                     "missing file");
	mc_config_free(&cfg);

	/* Invalid UTF-8 (an overlong '/'), a NUL, a control character. */
	expect_one(BASE "[node]\nsite = cua\xC0\xAFlo\n", MC_ERR_UTF8,
	           ":12: ", "byte 0xC0 at column 11 is not valid UTF-8");
	expect_one(BASE "# \xED\xA0\x80 surrogate\n", MC_ERR_UTF8,
	           ":11: ", "0xED at column 3");
	expect_one(BASE "[node]\nsite = cua\x1b[0m\n", MC_ERR_PARSE,
	           ":12: ", "byte 0x1B at column 11 is a control character");
	expect_one(BASE "[node]\nsite = cua\rlo\n", MC_ERR_PARSE,
	           ":12: ", "byte 0x0D at column 11 is a control character");
	{
		static const char nul[] = "[node]\nid = a\0b\n";

		mc_test_expect_error(
		        mc_config_parse(nul, sizeof(nul) - 1, "nul.conf", false,
		                        &cfg, &err),
		        &err, MC_ERR_PARSE, "nul.conf:2: byte 0x00", "NUL");
		mc_config_free(&cfg);
	}

	/* A config file anyone can change chooses the trusted keys. */
	write_file("ww.conf", BASE, 0666);
	chmod(in_dir("ww.conf"), 0666);
	mc_test_expect_error(mc_config_load(in_dir("ww.conf"), &cfg, &err),
	                     &err, MC_ERR_KEY, "every user can change",
	                     "world-writable config");
	mc_config_free(&cfg);
}

/* ---- structure ---- */

static void test_reject_structure(void **state)
{
	expect_one(BASE "[nod]\nid = x\n", MC_ERR_PARSE,
	           ":11: [nod]: ", "unknown section; did you mean [node]?");
	expect_one(BASE "[display]\nid = x\n", MC_ERR_PARSE,
	           ":11: [display]: ", "known are node, mqtt");
	expect_one(BASE "[cache\n", MC_ERR_PARSE, ":11: ", "no closing ']'");
	expect_one(BASE "[cache] quota = 2G\n", MC_ERR_PARSE,
	           ":11: [cache]: ", "alone on its line");
	expect_one("id = x\n" BASE, MC_ERR_PARSE, ":1: ",
	           "'id' is outside any section; put it under its header "
	           "([node])");
	expect_one(BASE "[cache]\nqouta = 2G\n", MC_ERR_PARSE,
	           ":12: [cache] qouta: ", "unknown key; did you mean quota?");
	expect_one(BASE "[cache]\nQuota = 2G\n", MC_ERR_PARSE,
	           ":12: [cache] Quota: ", "did you mean quota?");
	expect_one(BASE "[mqtt]\nquota = 2G\n", MC_ERR_PARSE,
	           ":12: [mqtt] quota: ", "quota belongs in [cache]");
	expect_one(BASE "[mqtt]\ninterval = 2G\n", MC_ERR_PARSE,
	           ":12: [mqtt] interval: ", "belongs in [health]");
	expect_one(BASE "[mqtt]\nintreval = 30s\n", MC_ERR_PARSE,
	           ":12: [mqtt] intreval: ", "did you mean [health] interval?");
	expect_one(BASE "[pop]\nfrobnicate = 1\n", MC_ERR_PARSE,
	           ":12: [pop] frobnicate: ",
	           "unknown key; [pop] has batch_max, resend, outbox_max");
	expect_one(BASE "[cache]\nquota 2G\n", MC_ERR_PARSE, ":12: [cache]: ",
	           "'quota 2G' is not a setting; use key = value");
	expect_one(BASE "[cache]\n= 2G\n", MC_ERR_PARSE,
	           ":12: [cache]: ", "'=' without a key");
	expect_one(BASE "[node]\nid = pi-2\n", MC_ERR_PARSE,
	           ":12: [node] id: ", "given twice (first on line 2)");
	expect_one(BASE "[hooks]\nreboot = \"systemctl reboot\n", MC_ERR_PARSE,
	           ":12: [hooks] reboot: ", "is not closed");
	expect_one(BASE "[hooks]\nreboot = \"systemctl\" reboot\n",
	           MC_ERR_PARSE,
	           ":12: [hooks] reboot: ", "text after the closing \"");
	expect_one(BASE "[cache]\nquota =\n", MC_ERR_MISSING,
	           ":12: [cache] quota: ", "empty; expected a size such as 2G");
}

/* ---- required keys and contradictions ---- */

static void test_reject_missing(void **state)
{
	expect_one("[node]\nsite = cua-lo\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = yes\n",
	           MC_ERR_MISSING,
	           ": [node] id: ", "missing; every node needs its id");
	expect_one("[node]\nid = a\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = yes\n",
	           MC_ERR_MISSING, ": [mqtt] broker: ", "missing");
	expect_one("[node]\nid = a\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = yes\n",
	           MC_ERR_MISSING, ": [http] base: ", "missing");
	expect_one("[node]\nid = a\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[channels]\nscreen = yes\n",
	           MC_ERR_MISSING, ": [keys] trusted: ", "missing");
	expect_one("[node]\nid = a\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n",
	           MC_ERR_MISSING,
	           ": [channels] screen: ", "no channel is enabled");
	expect_one("[node]\nid = a\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = no\nspeaker = off\n",
	           MC_ERR_MISSING, ":10: [channels] screen: ",
	           "set screen = yes and/or speaker = yes");
	expect_one(BASE "[mqtt]\ncert_file = client.crt\n", MC_ERR_MISSING,
	           ":12: [mqtt] cert_file: ", "set without key_file");
	expect_one(BASE "[mqtt]\nreconnect_min = 30s\nreconnect_max = 10s\n",
	           MC_ERR_RANGE, ":12: [mqtt] reconnect_min: ",
	           "(30000 ms) is above reconnect_max (10000 ms)");
}

/* ---- values ---- */

static void test_reject_ids(void **state)
{
	expect_one("[node]\nid = pi cua lo\n"
	           "[mqtt]\nbroker = mqtt://127.0.0.1:1883\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = yes\n",
	           MC_ERR_PARSE, ":2: [node] id: ",
	           "'pi cua lo' is not a valid id; use 1 to 64 of");
	expect_one(BASE "[node]\nsite = cửa-lò\n", MC_ERR_PARSE,
	           ":12: [node] site: ", "is not a valid id");
	expect_one(BASE "[node]\ntags = nha-an, , lo-3\n", MC_ERR_PARSE,
	           ":12: [node] tags: ", "an empty tag");
	expect_one(BASE "[node]\ntags = nha an\n", MC_ERR_PARSE,
	           ":12: [node] tags: ", "'nha an' is not a valid tag");
	expect_one(BASE "[node]\ntags = a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,"
	                "t,u,v,w,x,y,z,A,B,C,D,E,F,G\n",
	           MC_ERR_RANGE, ":12: [node] tags: ", "more than 32 tags");
}

static void test_reject_broker(void **state)
{
	static const struct {
		const char *url, *what;
	} bad[] = {
	        {"http://127.0.0.1:1883", "is not a broker URL; use mqtt://"},
	        {"127.0.0.1", "is not a broker URL"},
	        {"mqtt://", "the host is missing"},
	        {"mqtt://host:0", "port must be a number from 1 to 65535"},
	        {"mqtt://host:65536", "from 1 to 65535"},
	        {"mqtt://host:http", "from 1 to 65535"},
	        {"mqtt://::1:1883", "needs brackets, e.g. [::1]"},
	        {"mqtt://[::1", "closing ']'"},
	        {"mqtt://[zz::1]:1883", "IPv6 address between [ ] is not"},
	        {"mqtt://node:pw@host", "not in the URL"},
	        {"mqtt://host/minecast", "has no path"},
	        {"mqtt://bro ker", "has characters a host name cannot"},
	};
	char text[512];

	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
		snprintf(text, sizeof(text), BASE "[mqtt]\nbroker = %s\n",
		         bad[i].url);
		expect_one(text, MC_ERR_PARSE,
		           ":12: [mqtt] broker: ", bad[i].what);
	}
	/* The first broker counts as given: no "missing" on top. */
	expect_one("[node]\nid = a\n[mqtt]\nbroker = mqtt://h:99999\n"
	           "[http]\nbase = http://127.0.0.1:8080\n"
	           "[keys]\ntrusted = keys.pub\n[channels]\nscreen = yes\n",
	           MC_ERR_PARSE, ":4: [mqtt] broker: ", "1 to 65535");
	{
		char *many = malloc(64 * 40 + sizeof(BASE) + 16);
		size_t n;

		assert_non_null(many);
		n = (size_t)sprintf(many, BASE "[mqtt]\n");
		for (int i = 0; i < 16; i++)
			n += (size_t)sprintf(many + n,
			                     "broker = mqtt://h%d:1883\n", i);
		/* 1 + 16 brokers: the 17th is one too many. */
		expect_one(many, MC_ERR_RANGE,
		           ":27: [mqtt] broker: ", "more than 16 brokers");
		free(many);
	}
}

static void test_reject_http(void **state)
{
	static const struct {
		const char *url, *what;
	} bad[] = {
	        {"ftp://ctl", "is not an HTTP URL; use http://"},
	        {"http://ctl:0", "from 1 to 65535"},
	        {"http://user:pw@ctl", "credentials"},
	        {"http://ctl:80x", "unexpected text after the host"},
	        {"http://ctl/a?b=1", "may not hold blanks, '?' or '#'"},
	};
	char text[512];

	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
		/* On a file of its own: a second base would be refused as
		 * given twice before its syntax is looked at. */
		snprintf(text, sizeof(text),
		         "[node]\nid = a\n[mqtt]\nbroker = mqtt://h\n"
		         "[http]\nbase = %s\n[keys]\ntrusted = keys.pub\n"
		         "[channels]\nscreen = yes\n",
		         bad[i].url);
		expect_one(text, MC_ERR_PARSE,
		           ":6: [http] base: ", bad[i].what);
	}
}

static void test_reject_numbers(void **state)
{
	expect_one(BASE "[cache]\nquota = 10XB\n", MC_ERR_PARSE,
	           ":12: [cache] quota: ",
	           "'10XB' is not a size; use a number with K, M or G");
	expect_one(BASE "[cache]\nquota = 1.5G\n", MC_ERR_PARSE,
	           ":12: [cache] quota: ", "is not a size");
	expect_one(
	        BASE "[cache]\nquota = 100K\n", MC_ERR_RANGE,
	        ":12: [cache] quota: ", "100K is out of range; use 1M to 1T");
	expect_one(BASE "[cache]\nquota = 99999999999999999999G\n",
	           MC_ERR_PARSE, ":12: [cache] quota: ", "is not a size");
	expect_one(BASE "[cache]\nbandwidth = -1\n", MC_ERR_PARSE,
	           ":12: [cache] bandwidth: ", "is not a size");
	expect_one(
	        BASE "[cache]\nparallel = 17\n", MC_ERR_RANGE,
	        ":12: [cache] parallel: ",
	        "17 is out of range; expected a number of downloads, 1 to 16");
	expect_one(BASE "[cache]\nparallel = 0\n", MC_ERR_RANGE,
	           ":12: [cache] parallel: ", "out of range");
	expect_one(BASE "[cache]\nparallel = two\n", MC_ERR_PARSE,
	           ":12: [cache] parallel: ", "'two' is not a number");
	expect_one(BASE "[channels]\nvolume = 101\n", MC_ERR_RANGE,
	           ":12: [channels] volume: ", "0 to 100");
	expect_one(BASE "[pop]\nbatch_max = 5000\n", MC_ERR_RANGE,
	           ":12: [pop] batch_max: ", "1 to 1000");
	expect_one(BASE "[pop]\noutbox_max = 10\n", MC_ERR_RANGE,
	           ":12: [pop] outbox_max: ", "1000 to 10000000");

	/* Durations. */
	expect_one(
	        BASE "[health]\ninterval = 4s\n", MC_ERR_RANGE,
	        ":12: [health] interval: ", "4s is out of range; use 5s to 1h");
	expect_one(BASE "[health]\nerrors_kept = 30s\n", MC_ERR_RANGE,
	           ":12: [health] errors_kept: ",
	           "30s is out of range; use 1m to 168h");
	expect_one(BASE "[health]\ninterval = 3601\n", MC_ERR_RANGE,
	           ":12: [health] interval: ", "use 5s to 1h");
	expect_one(BASE "[health]\ninterval = soon\n", MC_ERR_PARSE,
	           ":12: [health] interval: ",
	           "'soon' is not a duration; use a number with ms, s, m or h");
	expect_one(BASE "[mqtt]\nkeepalive = 30 parsecs\n", MC_ERR_PARSE,
	           ":12: [mqtt] keepalive: ", "is not a duration");
	expect_one(BASE "[mqtt]\nkeepalive = 7500ms\n", MC_ERR_RANGE,
	           ":12: [mqtt] keepalive: ", "not a whole number of seconds");
	expect_one(BASE "[mqtt]\nreconnect_min = 10ms\n", MC_ERR_RANGE,
	           ":12: [mqtt] reconnect_min: ", "use 100ms to 1m");
	expect_one(BASE "[hooks]\ntimeout = 11m\n", MC_ERR_RANGE,
	           ":12: [hooks] timeout: ", "use 1s to 10m");
	expect_one(BASE "[http]\ntimeout = 1s\n", MC_ERR_RANGE,
	           ":12: [http] timeout: ", "use 5s to 10m");
	expect_one(BASE "[pop]\nresend = 2h\n", MC_ERR_RANGE,
	           ":12: [pop] resend: ", "use 5s to 1h");

	/* Windows. */
	expect_one(BASE "[cache]\nwindow = 25:00-05:00\n", MC_ERR_PARSE,
	           ":12: [cache] window: ",
	           "'25:00-05:00' is not a time window; use HH:MM-HH:MM");
	expect_one(BASE "[cache]\nwindow = 01:00\n", MC_ERR_PARSE,
	           ":12: [cache] window: ", "is not a time window");
	expect_one(BASE "[cache]\nwindow = 24:00-05:00\n", MC_ERR_PARSE,
	           ":12: [cache] window: ", "is not a time window");
	expect_one(BASE "[cache]\nwindow = 01:60-05:00\n", MC_ERR_PARSE,
	           ":12: [cache] window: ", "is not a time window");
	expect_one(BASE "[cache]\nwindow = 03:00-03:00\n", MC_ERR_PARSE,
	           ":12: [cache] window: ", "starts and ends at the same time");
}

static void test_reject_words(void **state)
{
	expect_one(BASE "[channels]\nspeaker = maybe\n", MC_ERR_PARSE,
	           ":12: [channels] speaker: ",
	           "'maybe' is not yes or no; use yes/no, true/false, on/off "
	           "or 1/0");
	/* A bad screen line does not also say "no channel is enabled". */
	expect_one("[node]\nid = a\n[mqtt]\nbroker = mqtt://h\n"
	           "[http]\nbase = http://h\n[keys]\ntrusted = keys.pub\n"
	           "[channels]\nscreen = ja\n",
	           MC_ERR_PARSE,
	           ":10: [channels] screen: ", "is not yes or no");
	expect_one(BASE "[channels]\nscreen_output = fbdev\n",
	           MC_ERR_UNSUPPORTED, ":12: [channels] screen_output: ",
	           "'fbdev' is not built in; available: log");
	expect_one(BASE "[channels]\nspeaker_output = pulse\n",
	           MC_ERR_UNSUPPORTED, ":12: [channels] speaker_output: ",
	           "'pulse' is not built in; available: log");
	expect_one(BASE "[clock]\nsync = sometimes\n", MC_ERR_PARSE,
	           ":12: [clock] sync: ",
	           "'sometimes' is not a sync mode; use auto, yes, no or "
	           "file:PATH");
	expect_one(BASE "[clock]\nsync = file:\n", MC_ERR_PARSE,
	           ":12: [clock] sync: ", "is not a sync mode");
	expect_one(BASE "[log]\nlevel = verbose\n", MC_ERR_PARSE,
	           ":12: [log] level: ",
	           "'verbose' is not a log level; use error, warn, info or "
	           "debug");
	expect_one(BASE "[screen]\nrotation = 45\n", MC_ERR_RANGE,
	           ":12: [screen] rotation: ",
	           "45 is not a quarter turn; use 0, 90, 180 or 270");
	expect_one(BASE "[audio]\nsink = pulse\n", MC_ERR_RANGE,
	           ":12: [audio] sink: ",
	           "'pulse' is not a sink; use alsa, fake or file:PATH");
	expect_one(BASE "[audio]\nclock = ptp\n", MC_ERR_RANGE,
	           ":12: [audio] clock: ",
	           "'ptp' is not a clock; use realtime or net:HOST:PORT");
	/* Long values are cut when quoted back. */
	expect_one(BASE
	           "[log]\nlevel = "
	           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
	           MC_ERR_PARSE, ":12: [log] level: ",
	           "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is not");
}

/* ---- files named by the config ---- */

static void test_password_and_keys(void **state)
{
	struct mc_player_config cfg;
	struct mc_error err;
	const char *path;
	char text[1024];

	/* password_file: one line, the newline trimmed. */
	write_file("mqtt.pass", "hunter2\r\n", 0600);
	path = write_file("player.conf",
	                  BASE "[mqtt]\npassword_file = mqtt.pass\n", 0644);
	if (mc_config_load(path, &cfg, &err) != MC_OK)
		fail_msg("%s", err.msg);
	assert_string_equal(cfg.password, "hunter2");
	assert_int_equal(cfg.keyring.n_keys, 1);
	mc_config_free(&cfg);

	/* Not both. */
	expect_one(BASE "[mqtt]\npassword = x\npassword_file = mqtt.pass\n",
	           MC_ERR_INVAL, ":13: [mqtt] password_file: ",
	           "password is set too (line 12); keep one of them");

	/* A password file every user can read. */
	write_file("open.pass", "hunter2\n", 0644);
	path = write_file("player.conf",
	                  BASE "[mqtt]\npassword_file = open.pass\n", 0644);
	mc_test_expect_error(
	        mc_config_load(path, &cfg, &err), &err, MC_ERR_KEY,
	        ":12: [mqtt] password_file: ", "world-readable password");
	assert_non_null(strstr(err.msg, "open.pass: every user can read it "
	                                "(mode 0644); chmod 640 it"));
	assert_null(cfg.password);
	mc_config_free(&cfg);

	/* Empty, two lines, missing. */
	write_file("mqtt.pass", "\n", 0600);
	snprintf(text, sizeof(text), BASE "[mqtt]\npassword_file = %s\n",
	         in_dir("mqtt.pass"));
	path = write_file("player.conf", text, 0644);
	mc_test_expect_error(
	        mc_config_load(path, &cfg, &err), &err, MC_ERR_PARSE,
	        ":12: [mqtt] password_file: ", "empty; expected one line");
	mc_config_free(&cfg);
	write_file("mqtt.pass", "a\nb\n", 0600);
	mc_test_expect_error(
	        mc_config_load(path, &cfg, &err), &err, MC_ERR_PARSE,
	        ":12: [mqtt] password_file: ", "more than one line");
	mc_config_free(&cfg);
	path = write_file("player.conf",
	                  BASE "[mqtt]\npassword_file = gone.pass\n", 0644);
	mc_test_expect_error(
	        mc_config_load(path, &cfg, &err), &err, MC_ERR_IO,
	        ":12: [mqtt] password_file: ", "No such file or directory");
	mc_config_free(&cfg);

	/* Trusted key files: missing, malformed, a secret key. */
	path = write_file("player.conf", BASE "[keys]\ntrusted = gone.pub\n",
	                  0644);
	mc_test_expect_error(mc_config_load(path, &cfg, &err), &err, MC_ERR_IO,
	                     ":12: [keys] trusted: ", "gone.pub: No such file");
	mc_config_free(&cfg);
	write_file("bad.pub", "minecast-ed25519-public 0011 AAAA\n", 0644);
	path = write_file("player.conf", BASE "[keys]\ntrusted = bad.pub\n",
	                  0644);
	mc_test_expect_error(
	        mc_config_load(path, &cfg, &err), &err, MC_ERR_KEY,
	        ":12: [keys] trusted: cannot trust it: ", "malformed key file");
	assert_non_null(strstr(err.msg, "bad.pub"));
	mc_config_free(&cfg);
	{
		char *line = mc_printf("minecast-ed25519-secret %s AAAA\n",
		                       key_a.kid);

		write_file("bad.pub", line, 0644);
		free(line);
	}
	mc_test_expect_error(mc_config_load(path, &cfg, &err), &err, MC_ERR_KEY,
	                     "bad.pub", "secret key as trusted");
	mc_config_free(&cfg);
	/* A key file anyone may change. */
	write_file("bad.pub", "", 0646);
	mc_test_expect_error(mc_config_load(path, &cfg, &err), &err, MC_ERR_KEY,
	                     "every user can change it (mode 0646)",
	                     "world-writable key");
	mc_config_free(&cfg);

	/* TLS files: a missing CA, a client key others can read. */
	write_file("client.crt", "cert\n", 0644);
	write_file("client.key", "key\n", 0644);
	path = write_file("player.conf", BASE "[mqtt]\nca_file = gone.pem\n",
	                  0644);
	mc_test_expect_error(mc_config_load(path, &cfg, &err), &err, MC_ERR_IO,
	                     ":12: [mqtt] ca_file: ", "gone.pem: No such file");
	mc_config_free(&cfg);
	path = write_file("player.conf",
	                  BASE "[mqtt]\ncert_file = client.crt\n"
	                       "key_file = client.key\n",
	                  0644);
	mc_test_expect_error(mc_config_load(path, &cfg, &err), &err, MC_ERR_KEY,
	                     ":13: [mqtt] key_file: ", "every user can read");
	mc_config_free(&cfg);
}

/* ---- --check-config ---- */

static void test_check_lists_every_problem(void **state)
{
	const char *path;
	char *out, *want;
	int n;

	path = write_file("three.conf",
	                  "[node]\n"
	                  "id = pi-cua-lo-01\n"
	                  "[mqtt]\n"
	                  "broker = mqtt://127.0.0.1:70000\n"
	                  "[http]\n"
	                  "base = http://127.0.0.1:8080\n"
	                  "[cache]\n"
	                  "qouta = 2G\n"
	                  "[keys]\n"
	                  "trusted = keys.pub\n"
	                  "[channels]\n"
	                  "screen = yes\n"
	                  "volume = loud\n",
	                  0644);
	out = check_output(path, &n);
	assert_int_equal(n, 3);
	want = mc_printf("%s:4: [mqtt] broker: '%s': the port must be a "
	                 "number from 1 to 65535",
	                 path, "mqtt://127.0.0.1:70000");
	if (!strstr(out, want))
		fail_msg("missing \"%s\" in:\n%s", want, out);
	free(want);
	want = mc_printf("%s:8: [cache] qouta: unknown key; did you mean "
	                 "quota?\n",
	                 path);
	assert_non_null(strstr(out, want));
	free(want);
	want = mc_printf("%s:13: [channels] volume: 'loud' is not a number",
	                 path);
	assert_non_null(strstr(out, want));
	free(want);
	want = mc_printf("%s: 3 problems\n", path);
	assert_non_null(strstr(out, want));
	/* The summary is the last line. */
	assert_string_equal(out + strlen(out) - strlen(want), want);
	free(want);
	free(out);

	/* A good file says so. */
	path = write_file("player.conf", BASE, 0644);
	out = check_output(path, &n);
	assert_int_equal(n, 0);
	want = mc_printf("%s: ok\n", path);
	assert_string_equal(out, want);
	free(want);
	free(out);

	/* A missing file is one problem. */
	out = check_output(in_dir("none.conf"), &n);
	assert_int_equal(n, 1);
	assert_non_null(strstr(out, "cannot read"));
	assert_non_null(strstr(out, "none.conf: 1 problem\n"));
	free(out);
}

/* Hostile input: many problems, long lines; output stays bounded. */
static void test_hostile(void **state)
{
	size_t n = MC_PLAYER_CONF_MAX_BYTES;
	char *text = malloc(n + 1), *out;
	const char *path;
	size_t len = 0;
	int problems;

	assert_non_null(text);
	for (len = 0; len + 2 <= n; len += 2)
		memcpy(text + len, "x\n", 2);
	text[len] = '\0';
	path = write_file("big.conf", text, 0644);
	free(text);
	out = check_output(path, &problems);
	assert_true(problems > 1000);
	assert_non_null(strstr(out, "more problems follow"));
	assert_true(strlen(out) < 64 * 1024);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_full_round_trip),
	        cmocka_unit_test(test_defaults),
	        cmocka_unit_test(test_syntax_details),
	        cmocka_unit_test(test_example_file),
	        cmocka_unit_test(test_reject_file),
	        cmocka_unit_test(test_reject_structure),
	        cmocka_unit_test(test_reject_missing),
	        cmocka_unit_test(test_reject_ids),
	        cmocka_unit_test(test_reject_broker),
	        cmocka_unit_test(test_reject_http),
	        cmocka_unit_test(test_reject_numbers),
	        cmocka_unit_test(test_reject_words),
	        cmocka_unit_test(test_password_and_keys),
	        cmocka_unit_test(test_check_lists_every_problem),
	        cmocka_unit_test(test_hostile),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
