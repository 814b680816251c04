/*
 * minecastctl fleet, node status, command, report — what technicians and
 * the office ask the controller about the nodes.
 *
 *   fleet [--site S] [--status X] [--flag F]     GET /v1/fleet
 *   node status ID  (also: fleet status ID)      GET /v1/nodes/ID/status
 *   command NODE ACTION [ARG] [--wait S] [--out FILE] [--ttl S]
 *                                                POST /v1/nodes/ID/commands
 *   command NODE list | screenshots              the node's commands, shots
 *   report pop --from D --to D [--by day|month] [--site S] [--content C]
 *              [--csv FILE]                      GET /v1/reports/pop
 *
 * The server side is controller/daemon/fleet.c, commands.c and reports.c;
 * the API is docs/api.md.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

/* How often a command's result is polled while waiting. */
#define POLL_MS 300

/* Seconds --out waits for a screenshot when --wait is not given. */
#define SHOT_WAIT_S 30

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int64_t jint(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A non-negative integer option; -1 when bad. */
static long parse_count(const char *s, long max)
{
	char *end;
	long v;

	if (!s || !*s)
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > max)
		return -1;
	return v;
}

/* ---- fleet ---- */

static const char fleet_help[] =
        "Usage: minecastctl fleet [--site S] [--status X] [--flag F]\n"
        "       minecastctl fleet status NODE\n"
        "\n"
        "Every node with its status: online, offline (since when) or never\n"
        "seen; its flags: stale (connected but no health), clock (not\n"
        "synchronised), behind (has not applied its desired version),\n"
        "disk_low, hot, throttled (Raspberry Pi under-voltage or\n"
        "throttling); the version it applied and the one it should play;\n"
        "its CPU temperature and free disk.\n"
        "\n"
        "  --site S     only the nodes of site S\n"
        "  --status X   only online, offline or never\n"
        "  --flag F     only nodes with flag F\n"
        "  --help       this text\n"
        "\n"
        "Roles: any signed-in user.\n" CTL_CONN_HELP;

static void print_fleet(json_t *doc)
{
	json_t *items = json_object_get(doc, "items"), *v;
	json_t *counts = json_object_get(doc, "counts");
	struct ctl_table *t;
	size_t i;

	t = ctl_table_new(8, "NODE", "SITE", "STATUS", "SINCE", "FLAGS",
	                  ">APPLIED/DESIRED", ">TEMP", ">DISK FREE");
	json_array_foreach(items, i, v)
	{
		char since[32], flags[128], ver[48], temp[16], disk[64];
		char b1[80], b2[80], b3[16], fb[32];
		json_t *fl = json_object_get(v, "flags"), *f;
		json_t *dv = json_object_get(v, "desired_version");
		json_t *tc = json_object_get(v, "cpu_temp_c");
		json_t *df = json_object_get(v, "disk_free_bytes");
		json_t *dt = json_object_get(v, "disk_total_bytes");
		size_t k;

		ctl_fmt_time(jint(v, "since_ms"), since, sizeof(since));
		flags[0] = '\0';
		json_array_foreach(fl, k, f)
		{
			size_t n = strlen(flags);

			snprintf(flags + n, sizeof(flags) - n, "%s%s",
			         n ? "," : "", json_string_value(f));
		}
		if (json_is_integer(dv))
			snprintf(ver, sizeof(ver), "%" PRId64 "/%" PRId64,
			         jint(v, "applied_version"),
			         (int64_t)json_integer_value(dv));
		else
			snprintf(ver, sizeof(ver), "%" PRId64 "/-",
			         jint(v, "applied_version"));
		if (json_is_number(tc))
			snprintf(temp, sizeof(temp), "%.1f °C",
			         json_number_value(tc));
		else
			snprintf(temp, sizeof(temp), "-");
		if (json_is_integer(df) && json_is_integer(dt) &&
		    json_integer_value(dt) > 0)
			snprintf(disk, sizeof(disk), "%s (%.0f%%)",
			         ctl_fmt_bytes(json_integer_value(df), fb,
			                       sizeof(fb)),
			         100.0 * (double)json_integer_value(df) /
			                 (double)json_integer_value(dt));
		else
			snprintf(disk, sizeof(disk), "-");
		ctl_table_row(t, ctl_cell(v, "id", b1, sizeof(b1)),
		              ctl_cell(v, "site", b2, sizeof(b2)),
		              ctl_cell(v, "status", b3, sizeof(b3)), since,
		              flags[0] ? flags : "-", ver, temp, disk);
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	printf("%zu nodes shown; fleet: %" PRId64 " online, %" PRId64
	       " offline, %" PRId64 " never seen\n",
	       json_array_size(items), jint(counts, "online"),
	       jint(counts, "offline"), jint(counts, "never"));
}

/* ---- node status ---- */

static const char status_help[] =
        "Usage: minecastctl node status NODE\n"
        "\n"
        "One node in detail: status and flags, what it applied and what it\n"
        "should play, its last state and its last health report (playing,\n"
        "temperature, disk, clock, errors).\n"
        "\n"
        "Roles: any signed-in user.\n" CTL_CONN_HELP;

static void print_kv(const char *k, const char *v)
{
	printf("  %-18s %s\n", k, v && *v ? v : "-");
}

static void print_status(json_t *doc)
{
	json_t *h = json_object_get(doc, "health");
	json_t *st = json_object_get(doc, "state");
	json_t *d = json_object_get(doc, "desired");
	json_t *fl = json_object_get(doc, "flags"), *f, *e;
	char buf[256], b2[64], b3[64];
	size_t i;

	printf("%s (%s), site %s\n", jstr(doc, "id"),
	       jstr(doc, "name") ? jstr(doc, "name") : "",
	       jstr(doc, "site") ? jstr(doc, "site") : "-");
	snprintf(buf, sizeof(buf), "%s since %s", jstr(doc, "status"),
	         ctl_fmt_time(jint(doc, "since_ms"), b2, sizeof(b2)));
	print_kv("status", buf);
	buf[0] = '\0';
	json_array_foreach(fl, i, f)
	{
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? ", " : "",
		         json_string_value(f));
	}
	print_kv("flags", buf[0] ? buf : "none");
	snprintf(buf, sizeof(buf), "%" PRId64 " applied, %s desired",
	         jint(doc, "applied_version"),
	         ctl_cell(doc, "desired_version", b2, sizeof(b2)));
	print_kv("version", buf);
	if (json_is_object(d))
		print_kv("manifest", jstr(d, "manifest_sha256"));
	if (json_is_object(st)) {
		snprintf(buf, sizeof(buf),
		         "%s, boot %" PRId64 ", %" PRId64
		         " items / %s outstanding",
		         jstr(st, "sync") ? jstr(st, "sync") : "-",
		         jint(st, "boot"), jint(st, "items_outstanding"),
		         ctl_fmt_bytes(jint(st, "bytes_outstanding"), b2,
		                       sizeof(b2)));
		print_kv("sync", buf);
		print_kv("software", jstr(st, "software"));
		print_kv("last state",
		         ctl_fmt_time(jint(st, "state_ms"), b2, sizeof(b2)));
	}
	if (!json_is_object(h)) {
		print_kv("health", "none received");
		return;
	}
	print_kv("last health",
	         ctl_fmt_time(jint(doc, "health_ms"), b2, sizeof(b2)));
	if (json_is_number(json_object_get(h, "cpu_temp_c"))) {
		snprintf(buf, sizeof(buf), "%.1f °C",
		         json_number_value(json_object_get(h, "cpu_temp_c")));
		print_kv("temperature", buf);
	}
	if (jint(h, "disk_total_bytes") > 0) {
		snprintf(buf, sizeof(buf), "%s free of %s",
		         ctl_fmt_bytes(jint(h, "disk_free_bytes"), b2,
		                       sizeof(b2)),
		         ctl_fmt_bytes(jint(h, "disk_total_bytes"), b3,
		                       sizeof(b3)));
		print_kv("disk", buf);
	}
	snprintf(buf, sizeof(buf), "%s, offset %.1f ms",
	         json_is_true(json_object_get(h, "clock_synced"))
	                 ? "synchronised"
	                 : "NOT synchronised",
	         json_number_value(json_object_get(h, "clock_offset_ms")));
	print_kv("clock", buf);
	buf[0] = '\0';
	json_array_foreach(json_object_get(doc, "throttled_bits"), i, f)
	{
		size_t n = strlen(buf);

		snprintf(buf + n, sizeof(buf) - n, "%s%s", n ? ", " : "",
		         json_string_value(f));
	}
	print_kv("throttled", buf[0] ? buf : "no");
	snprintf(buf, sizeof(buf), "%.2f, uptime %" PRId64 " s",
	         json_number_value(json_object_get(h, "load1")),
	         jint(h, "uptime_s"));
	print_kv("load", buf);
	{
		static const char *const ch[] = {"screen", "speaker"};
		json_t *pl = json_object_get(h, "playing");

		for (i = 0; i < 2; i++) {
			json_t *p = json_object_get(pl, ch[i]);

			if (!json_is_object(p))
				continue;
			snprintf(buf, sizeof(buf), "%s (entry %s, %s)",
			         jstr(p, "content") ? jstr(p, "content")
			                            : "nothing",
			         jstr(p, "entry") ? jstr(p, "entry") : "-",
			         jstr(p, "reason") ? jstr(p, "reason") : "-");
			print_kv(ch[i], buf);
		}
	}
	json_array_foreach(json_object_get(h, "errors"), i, e)
	        print_kv(i ? "" : "errors", json_string_value(e));
}

int mc_ctl_node_status_run(struct ctl_conn *conn, int argc, char **argv)
{
	char *esc, *path;
	json_t *doc = NULL;
	int rc;

	if (argc >= 2 &&
	    (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(status_help, stdout);
		return MC_CTL_OK;
	}
	if (argc != 2 || argv[1][0] == '-')
		return ctl_usage(conn->what, "expected one node id");
	esc = ctl_escape(argv[1]);
	path = esc ? mc_printf("/v1/nodes/%s/status", esc) : NULL;
	free(esc);
	if (!path)
		return ctl_fail(conn->what, "out of memory");
	rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
	free(path);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_status);
	json_decref(doc);
	return rc;
}

int mc_ctl_fleet(int argc, char **argv)
{
	enum { OPT_SITE = 256, OPT_STATUS, OPT_FLAG };
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"site", required_argument, NULL, OPT_SITE},
	        {"status", required_argument, NULL, OPT_STATUS},
	        {"flag", required_argument, NULL, OPT_FLAG},
	        {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	const char *site = NULL, *status = NULL, *flag = NULL;
	char *path = NULL;
	size_t n = 0;
	json_t *doc = NULL;
	int c, rc;

	rc = ctl_conn_init(&conn, "fleet", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	if (argc >= 2 && !strcmp(argv[1], "status")) {
		conn.what = "fleet status";
		rc = mc_ctl_node_status_run(&conn, argc - 1, argv + 1);
		goto out;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(fleet_help, stdout); goto out;
		case OPT_SITE: site = optarg; break;
		case OPT_STATUS: status = optarg; break;
		case OPT_FLAG: flag = optarg; break;
		default: rc = ctl_bad_option("fleet", argv, c); goto out;
		}
	}
	if (optind < argc) {
		rc = ctl_usage("fleet", "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	{
		const char *keys[] = {"site", "status", "flag"};
		const char *vals[] = {site, status, flag};
		char q[512] = "";

		for (int i = 0; i < 3; i++) {
			char *e;

			if (!vals[i])
				continue;
			e = ctl_escape(vals[i]);
			if (!e) {
				rc = ctl_fail("fleet", "out of memory");
				goto out;
			}
			n = strlen(q);
			snprintf(q + n, sizeof(q) - n, "%s%s=%s", n ? "&" : "?",
			         keys[i], e);
			free(e);
		}
		path = mc_printf("/v1/fleet%s", q);
	}
	if (!path) {
		rc = ctl_fail("fleet", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_fleet);
out:
	json_decref(doc);
	free(path);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- command ---- */

static const char command_help[] =
        "Usage: minecastctl command NODE ACTION [ARG] [--wait S] [--ttl S]\n"
        "                   [--out FILE]\n"
        "       minecastctl command NODE list | screenshots\n"
        "\n"
        "Send a signed command to a node and, with --wait, wait for its\n"
        "result.  ACTION is one of:\n"
        "  restart          restart the player\n"
        "  reboot           reboot the board\n"
        "  identify         show the node id on its screen\n"
        "  resync           check and download the manifest again\n"
        "  screenshot       upload a screenshot (with --out FILE: wait for\n"
        "                   it and save the PNG there)\n"
        "  volume N         master volume, 0..100 percent\n"
        "  screen on|off    screen power\n"
        "\n"
        "  --wait S   wait up to S seconds for the node's result and print\n"
        "             it; exit 1 when it failed, expired or did not come\n"
        "  --ttl S    the node refuses the command after S seconds\n"
        "             (default 60)\n"
        "  --out FILE screenshot: save the PNG to FILE ('-' = stdout)\n"
        "  --help     this text\n"
        "\n"
        "'list' shows the node's recent commands and their results,\n"
        "'screenshots' its uploaded screenshots.\n"
        "\n"
        "Roles: technician or admin.\n" CTL_CONN_HELP;

static void print_command(json_t *doc)
{
	char b1[32], b2[32];

	printf("%s  %s %s  %s  issued %s, result %s", jstr(doc, "id"),
	       jstr(doc, "node"), jstr(doc, "action"), jstr(doc, "status"),
	       ctl_fmt_time(jint(doc, "issued_ms"), b1, sizeof(b1)),
	       ctl_fmt_time(jint(doc, "result_ms"), b2, sizeof(b2)));
	if (jstr(doc, "message"))
		printf(": %s", jstr(doc, "message"));
	putchar('\n');
}

static void print_commands(json_t *doc)
{
	struct ctl_table *t = ctl_table_new(6, "ID", "ACTION", "STATUS",
	                                    "ISSUED", "BY", "MESSAGE");
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(doc, "items"), i, v)
	{
		char b1[80], b2[32], b3[32], b4[80], b5[512], tm[32];

		ctl_table_row(
		        t, ctl_cell(v, "id", b1, sizeof(b1)),
		        ctl_cell(v, "action", b2, sizeof(b2)),
		        ctl_cell(v, "status", b3, sizeof(b3)),
		        ctl_fmt_time(jint(v, "issued_ms"), tm, sizeof(tm)),
		        ctl_cell(v, "user", b4, sizeof(b4)),
		        ctl_cell(v, "message", b5, sizeof(b5)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void print_shots(json_t *doc)
{
	struct ctl_table *t =
	        ctl_table_new(5, "ID", "TAKEN", "SIZE", ">BYTES", "URL");
	json_t *v;
	size_t i;

	json_array_foreach(json_object_get(doc, "items"), i, v)
	{
		char b1[80], wh[32], sz[32], tm[32], url[160];

		snprintf(wh, sizeof(wh), "%" PRId64 "x%" PRId64,
		         jint(v, "width"), jint(v, "height"));
		ctl_table_row(
		        t, ctl_cell(v, "id", b1, sizeof(b1)),
		        ctl_fmt_time(jint(v, "created_ms"), tm, sizeof(tm)), wh,
		        ctl_fmt_bytes(jint(v, "size"), sz, sizeof(sz)),
		        ctl_cell(v, "url", url, sizeof(url)));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

/* GET a list of the node (commands, screenshots) and print it. */
static int node_list(struct ctl_conn *conn, const char *node, const char *what,
                     void (*table)(json_t *))
{
	char *esc = ctl_escape(node), *path;
	json_t *doc = NULL;
	int rc;

	path = esc ? mc_printf("/v1/nodes/%s/%s?limit=50", esc, what) : NULL;
	free(esc);
	if (!path)
		return ctl_fail(conn->what, "out of memory");
	rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
	free(path);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, table);
	json_decref(doc);
	return rc;
}

/* Save the screenshot the node uploaded for command id to out. */
static int fetch_shot(struct ctl_conn *conn, const char *node, const char *id,
                      const char *out, int64_t deadline_ms)
{
	char *esc = ctl_escape(node), *path;
	json_t *doc = NULL, *v;
	const char *url = NULL;
	int64_t bytes = 0;
	size_t i;
	int rc;

	path = esc ? mc_printf("/v1/nodes/%s/screenshots?limit=50", esc) : NULL;
	free(esc);
	if (!path)
		return ctl_fail(conn->what, "out of memory");
	/* The upload may land just after the result. */
	for (;;) {
		json_decref(doc);
		doc = NULL;
		rc = ctl_call(conn, "GET", path, NULL, &doc, NULL);
		if (rc != MC_CTL_OK)
			goto out;
		json_array_foreach(json_object_get(doc, "items"), i, v)
		{
			if (jstr(v, "command") &&
			    !strcmp(jstr(v, "command"), id))
				url = jstr(v, "url");
		}
		if (url || mc_now_ms() >= deadline_ms)
			break;
		sleep_ms(POLL_MS);
	}
	if (!url) {
		rc = ctl_fail(conn->what,
		              "the node reported success but no screenshot of "
		              "%s arrived",
		              id);
		goto out;
	}
	rc = ctl_download(conn, url, out, &bytes, NULL);
	if (rc == MC_CTL_OK && strcmp(out, "-"))
		fprintf(stderr, "screenshot saved to %s (%" PRId64 " bytes)\n",
		        out, bytes);
out:
	json_decref(doc);
	free(path);
	return rc;
}

int mc_ctl_command(int argc, char **argv)
{
	enum { OPT_WAIT = 256, OPT_TTL, OPT_OUT };
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"wait", required_argument, NULL, OPT_WAIT},
	        {"ttl", required_argument, NULL, OPT_TTL},
	        {"out", required_argument, NULL, OPT_OUT},
	        {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	const char *node, *action, *out_file = NULL;
	long wait_s = -1, ttl = -1;
	json_t *body = NULL, *doc = NULL;
	char *esc = NULL, *path = NULL, *cpath = NULL;
	char id[80];
	int c, rc, nargs;
	int64_t deadline;

	rc = ctl_conn_init(&conn, "command", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(command_help, stdout); goto out;
		case OPT_WAIT:
			wait_s = parse_count(optarg, 86400);
			if (wait_s < 0) {
				rc = ctl_usage("command",
				               "--wait: seconds 0..86400");
				goto out;
			}
			break;
		case OPT_TTL:
			ttl = parse_count(optarg, 3600);
			if (ttl < 1) {
				rc = ctl_usage("command",
				               "--ttl: seconds 1..3600");
				goto out;
			}
			break;
		case OPT_OUT: out_file = optarg; break;
		default: rc = ctl_bad_option("command", argv, c); goto out;
		}
	}
	nargs = argc - optind;
	if (nargs < 2) {
		rc = ctl_usage("command", "expected NODE and ACTION");
		goto out;
	}
	node = argv[optind];
	action = argv[optind + 1];
	if (!strcmp(action, "list") || !strcmp(action, "screenshots")) {
		if (nargs != 2) {
			rc = ctl_usage("command", "'%s' takes no argument",
			               action);
			goto out;
		}
		conn.what = !strcmp(action, "list") ? "command list"
		                                    : "command screenshots";
		rc = node_list(
		        &conn, node,
		        !strcmp(action, "list") ? "commands" : "screenshots",
		        !strcmp(action, "list") ? print_commands : print_shots);
		goto out;
	}
	body = json_object();
	if (!strcmp(action, "volume")) {
		long vol = nargs == 3 ? parse_count(argv[optind + 2], 100) : -1;

		if (vol < 0) {
			rc = ctl_usage("command", "volume needs N, 0..100");
			goto out;
		}
		json_object_set_new(body, "action", json_string("volume"));
		json_object_set_new(body, "volume", json_integer(vol));
	} else if (!strcmp(action, "screen")) {
		const char *s = nargs == 3 ? argv[optind + 2] : "";

		if (strcmp(s, "on") && strcmp(s, "off")) {
			rc = ctl_usage("command", "screen needs on or off");
			goto out;
		}
		json_object_set_new(body, "action",
		                    json_string("screen_power"));
		json_object_set_new(body, "power_on",
		                    json_boolean(!strcmp(s, "on")));
	} else {
		if (nargs != 2) {
			rc = ctl_usage("command", "'%s' takes no argument",
			               action);
			goto out;
		}
		/* The server names the unknown ones. */
		json_object_set_new(body, "action", json_string(action));
	}
	if (out_file && strcmp(action, "screenshot")) {
		rc = ctl_usage("command", "--out is for screenshot only");
		goto out;
	}
	if (out_file && wait_s < 0)
		wait_s = SHOT_WAIT_S;
	if (ttl > 0)
		json_object_set_new(body, "ttl_s", json_integer(ttl));
	esc = ctl_escape(node);
	path = esc ? mc_printf("/v1/nodes/%s/commands", esc) : NULL;
	if (!path) {
		rc = ctl_fail("command", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "POST", path, body, &doc, NULL);
	if (rc != MC_CTL_OK)
		goto out;
	snprintf(id, sizeof(id), "%s", jstr(doc, "id") ? jstr(doc, "id") : "");
	if (wait_s <= 0) {
		if (conn.json)
			ctl_print_json(doc);
		else
			printf("%s sent to %s (%s); it expires in %ld s\n", id,
			       node, jstr(doc, "action"), ttl > 0 ? ttl : 60);
		goto out;
	}
	cpath = mc_printf("/v1/commands/%s", id);
	if (!cpath) {
		rc = ctl_fail("command", "out of memory");
		goto out;
	}
	deadline = mc_now_ms() + (int64_t)wait_s * 1000;
	for (;;) {
		const char *st;

		json_decref(doc);
		doc = NULL;
		rc = ctl_call(&conn, "GET", cpath, NULL, &doc, NULL);
		if (rc != MC_CTL_OK)
			goto out;
		st = jstr(doc, "status");
		if (st && strcmp(st, "sent") && strcmp(st, "pending"))
			break;
		if (mc_now_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	if (conn.json)
		ctl_print_json(doc);
	else
		print_command(doc);
	if (strcmp(jstr(doc, "status"), "ok")) {
		if (!strcmp(jstr(doc, "status"), "sent") ||
		    !strcmp(jstr(doc, "status"), "pending"))
			rc = ctl_fail("command",
			              "no result from %s within %ld s", node,
			              wait_s);
		else
			rc = MC_CTL_FAIL;
		goto out;
	}
	if (out_file)
		rc = fetch_shot(&conn, node, id, out_file,
		                mc_now_ms() + (int64_t)SHOT_WAIT_S * 1000);
out:
	json_decref(body);
	json_decref(doc);
	free(esc);
	free(path);
	free(cpath);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- report ---- */

static const char report_help[] =
        "Usage: minecastctl report pop --from YYYY-MM-DD --to YYYY-MM-DD\n"
        "                  [--by day|month] [--site S] [--content C]\n"
        "                  [--csv FILE]\n"
        "\n"
        "Proof of play: plays, completed plays and seconds played by\n"
        "content × site × day (or month), days in the controller's time\n"
        "zone, both dates included.  The table goes to the terminal; with\n"
        "--csv the report is written as CSV (UTF-8, a header row, RFC 4180\n"
        "quoting) to FILE ('-' = stdout), ready to send upward.\n"
        "\n"
        "  --from D    first day\n"
        "  --to D      last day\n"
        "  --by X      day (default) or month\n"
        "  --site S    only site S\n"
        "  --content C only content C\n"
        "  --csv FILE  write CSV to FILE\n"
        "  --help      this text\n"
        "\n"
        "Roles: any signed-in user.\n" CTL_CONN_HELP;

static void print_report(json_t *doc)
{
	struct ctl_table *t;
	json_t *v, *tot = json_object_get(doc, "totals");
	size_t i;
	const char *by = jstr(doc, "by");

	t = ctl_table_new(7, by && !strcmp(by, "month") ? "MONTH" : "DAY",
	                  "CONTENT", "NAME", "SITE", ">PLAYS", ">COMPLETED",
	                  ">SECONDS");
	json_array_foreach(json_object_get(doc, "items"), i, v)
	{
		char b[7][160];

		ctl_table_row(t, ctl_cell(v, "period", b[0], sizeof(b[0])),
		              ctl_cell(v, "content", b[1], sizeof(b[1])),
		              ctl_cell(v, "content_name", b[2], sizeof(b[2])),
		              ctl_cell(v, "site", b[3], sizeof(b[3])),
		              ctl_cell(v, "plays", b[4], sizeof(b[4])),
		              ctl_cell(v, "completed", b[5], sizeof(b[5])),
		              ctl_cell(v, "seconds", b[6], sizeof(b[6])));
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	printf("%s .. %s (%s): %" PRId64 " plays, %" PRId64
	       " completed, %" PRId64 " s",
	       jstr(doc, "from"), jstr(doc, "to"), jstr(doc, "timezone"),
	       jint(tot, "plays"), jint(tot, "completed"),
	       jint(tot, "seconds"));
	if (jint(tot, "summarised"))
		printf(" (%" PRId64 " plays came in summaries without their "
		       "lengths)",
		       jint(tot, "summarised"));
	putchar('\n');
}

int mc_ctl_report(int argc, char **argv)
{
	enum { OPT_FROM = 256, OPT_TO, OPT_BY, OPT_SITE, OPT_CONTENT, OPT_CSV };
	static const struct option opts[] = {
	        {"help", no_argument, NULL, 'h'},
	        {"from", required_argument, NULL, OPT_FROM},
	        {"to", required_argument, NULL, OPT_TO},
	        {"by", required_argument, NULL, OPT_BY},
	        {"site", required_argument, NULL, OPT_SITE},
	        {"content", required_argument, NULL, OPT_CONTENT},
	        {"csv", required_argument, NULL, OPT_CSV},
	        {NULL, 0, NULL, 0}};
	struct ctl_conn conn;
	const char *vals[5] = {NULL}, *csv = NULL;
	static const char *const keys[5] = {"from", "to", "by", "site",
	                                    "content"};
	char q[1024] = "";
	char *path = NULL;
	json_t *doc = NULL;
	int c, rc;

	rc = ctl_conn_init(&conn, "report", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	if (argc >= 2 && ctl_is_help(argv[1])) {
		fputs(report_help, stdout);
		goto out;
	}
	if (argc < 2 || strcmp(argv[1], "pop")) {
		rc = ctl_usage("report", "expected 'report pop'");
		goto out;
	}
	conn.what = "report pop";
	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(report_help, stdout); goto out;
		case OPT_FROM:
		case OPT_TO:
		case OPT_BY:
		case OPT_SITE:
		case OPT_CONTENT: vals[c - OPT_FROM] = optarg; break;
		case OPT_CSV: csv = optarg; break;
		default: rc = ctl_bad_option("report pop", argv, c); goto out;
		}
	}
	if (optind < argc) {
		rc = ctl_usage("report pop", "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	if (!vals[0] || !vals[1]) {
		rc = ctl_usage("report pop", "--from and --to are required");
		goto out;
	}
	for (int i = 0; i < 5; i++) {
		size_t n = strlen(q);
		char *e;

		if (!vals[i])
			continue;
		e = ctl_escape(vals[i]);
		if (!e) {
			rc = ctl_fail("report pop", "out of memory");
			goto out;
		}
		snprintf(q + n, sizeof(q) - n, "%s%s=%s", n ? "&" : "?",
		         keys[i], e);
		free(e);
	}
	if (csv) {
		int64_t bytes = 0;

		path = mc_printf("/v1/reports/pop%s&format=csv", q);
		if (!path) {
			rc = ctl_fail("report pop", "out of memory");
			goto out;
		}
		rc = ctl_download(&conn, path, csv, &bytes, NULL);
		if (rc == MC_CTL_OK && strcmp(csv, "-"))
			fprintf(stderr,
			        "report written to %s (%" PRId64 " bytes)\n",
			        csv, bytes);
		goto out;
	}
	path = mc_printf("/v1/reports/pop%s", q);
	if (!path) {
		rc = ctl_fail("report pop", "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_report);
out:
	json_decref(doc);
	free(path);
	ctl_conn_free(&conn);
	return rc;
}
