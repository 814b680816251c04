/*
 * minecastctl publish, rollout, alert — publishing the approved schedule
 * to the fleet, watching it land, and urgent broadcasts.
 *
 *   publish [--force] [--wait S]   POST /v1/publish, then GET /v1/rollout
 *                                  until every online node applied
 *   rollout [--site S] [--state X] GET /v1/rollout
 *   alert send --text T --level L [targets] [--repeat N] [--tone X] --yes
 *   alert list [--status S] | show ID | clear ID
 *
 * The server side is controller/daemon/publish.c and alerts.c; the API is
 * docs/api.md (publish part).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "minecast/util.h"

#include "ctl.h"
#include "ctl_api.h"

/* Seconds `publish` follows the rollout by default. */
#define DEFAULT_WAIT_S 60
/* How often the rollout is polled while following. */
#define POLL_MS 500
/* Most ids per targets list (the server's limit). */
#define TARGETS_MAX 1000

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static int64_t jint(const json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

/* ---- publish ---- */

static const char publish_help[] =
        "Usage: minecastctl publish [--force] [--wait S]\n"
        "\n"
        "Compile the approved schedule for every node, sign each node's\n"
        "pointer and publish it (only nodes whose manifest changed get a\n"
        "new version).  Then follow the rollout until every online node\n"
        "has applied its version, showing progress on a terminal.\n"
        "\n"
        "  --force    re-sign and republish every node, changed or not\n"
        "  --wait S   follow the rollout at most S seconds (default 60;\n"
        "             0: do not follow).  Exit 1 if online nodes are\n"
        "             still pending then.\n"
        "  --help     this text\n"
        "\n"
        "Roles: approver or admin.\n" CTL_CONN_HELP;

static void print_report(const json_t *r)
{
	json_t *sk = json_object_get(r, "skipped");
	size_t i;
	json_t *v;

	printf("publish %" PRId64 ": %" PRId64 " nodes, %" PRId64
	       " new pointers, %" PRId64 " manifests (%" PRId64
	       " new), %" PRId64 " ms\n",
	       jint(r, "id"), jint(r, "nodes"), jint(r, "changed"),
	       jint(r, "manifests"), jint(r, "manifests_new"),
	       jint(r, "duration_ms"));
	if (jint(r, "pending") > 0)
		printf("  %" PRId64 " pointers wait for the broker (MQTT is "
		       "away); the controller sends them as soon as it is "
		       "back\n",
		       jint(r, "pending"));
	json_array_foreach(sk, i, v)
	{
		printf("  left out: %s '%s': %s\n",
		       json_string_value(json_object_get(v, "kind")),
		       json_string_value(json_object_get(v, "id")),
		       json_string_value(json_object_get(v, "reason")));
	}
}

static void progress_line(const json_t *t, bool final)
{
	fprintf(stderr,
	        "\rrollout: %" PRId64 "/%" PRId64 " applied (%.1f%%), %" PRId64
	        " pending, %" PRId64 " offline   %s",
	        jint(t, "applied"), jint(t, "desired"),
	        json_number_value(json_object_get(t, "progress_percent")),
	        jint(t, "pending"), jint(t, "offline"), final ? "\n" : "");
	fflush(stderr);
}

/*
 * Poll the rollout until no online node is pending or wait_s passed.
 * *totals gets the last totals (new reference).
 */
static int follow(struct ctl_conn *conn, int64_t wait_s, bool show,
                  json_t **totals)
{
	int64_t deadline = mc_mono_ms() + wait_s * 1000;
	bool tty = show && isatty(STDERR_FILENO);
	int rc;

	*totals = NULL;
	for (;;) {
		json_t *doc = NULL;

		rc = ctl_call(conn, "GET", "/v1/rollout?limit=0", NULL, &doc,
		              NULL);
		if (rc != MC_CTL_OK)
			return rc;
		json_decref(*totals);
		*totals = json_incref(json_object_get(doc, "totals"));
		json_decref(doc);
		if (!*totals)
			return ctl_fail(conn->what, "the rollout answer has no "
			                            "totals");
		if (jint(*totals, "pending") == 0) {
			if (tty)
				progress_line(*totals, true);
			return MC_CTL_OK;
		}
		if (mc_mono_ms() >= deadline) {
			if (tty)
				progress_line(*totals, true);
			return MC_CTL_FAIL;
		}
		if (tty)
			progress_line(*totals, false);
		sleep_ms(POLL_MS);
	}
}

int mc_ctl_publish(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"force", no_argument, NULL, 'f'},
	        {"wait", required_argument, NULL, 'w'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct ctl_conn conn;
	bool force = false;
	int64_t wait_s = DEFAULT_WAIT_S;
	json_t *body = NULL, *rep = NULL, *totals = NULL;
	char *end;
	int rc, c;

	rc = ctl_conn_init(&conn, "publish", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 'f': force = true; break;
		case 'w':
			wait_s = strtoll(optarg, &end, 10);
			if (!*optarg || *end || wait_s < 0 || wait_s > 86400) {
				rc = ctl_usage(
				        conn.what,
				        "--wait: '%s' is not a number of "
				        "seconds 0..86400",
				        optarg);
				goto out;
			}
			break;
		case 'h':
			fputs(publish_help, stdout);
			rc = MC_CTL_OK;
			goto out;
		default: rc = ctl_bad_option(conn.what, argv, c); goto out;
		}
	}
	if (optind < argc) {
		rc = ctl_usage(conn.what, "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	body = json_pack("{s:b}", "force", force);
	rc = ctl_call(&conn, "POST", "/v1/publish", body, &rep, NULL);
	if (rc != MC_CTL_OK)
		goto out;
	if (!conn.json)
		print_report(rep);
	if (wait_s > 0) {
		rc = follow(&conn, wait_s, !conn.json, &totals);
		if (!conn.json && totals) {
			if (rc == MC_CTL_OK)
				printf("rollout: every online node applied its "
				       "version (%" PRId64 "/%" PRId64
				       " applied, %" PRId64 " offline)\n",
				       jint(totals, "applied"),
				       jint(totals, "desired"),
				       jint(totals, "offline"));
			else if (rc == MC_CTL_FAIL)
				ctl_fail(conn.what,
				         "after %" PRId64 " s, %" PRId64
				         " online nodes have not applied their "
				         "version yet ('minecastctl rollout "
				         "--state pending' lists them)",
				         wait_s, jint(totals, "pending"));
		}
	}
	if (conn.json) {
		json_t *doc = json_pack("{s:O, s:O}", "publish", rep, "rollout",
		                        totals ? totals : json_null());

		ctl_print_json(doc);
		json_decref(doc);
	}
out:
	json_decref(body);
	json_decref(rep);
	json_decref(totals);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- rollout ---- */

static const char rollout_help[] =
        "Usage: minecastctl rollout [--site S] [--state STATE]\n"
        "\n"
        "Every node's desired version (the last published) beside the\n"
        "version it reports applied, and the totals.  STATE is applied,\n"
        "pending (online, not applied yet), offline (not applied, not\n"
        "connected) or unpublished (no pointer yet).\n" CTL_CONN_HELP;

static void print_rollout(json_t *doc)
{
	json_t *items = json_object_get(doc, "items");
	json_t *t = json_object_get(doc, "totals");
	struct ctl_table *tab;
	size_t i;
	json_t *v;

	tab = ctl_table_new(6, "NODE", "SITE", "STATE", ">DESIRED", ">APPLIED",
	                    "APPLIED AT");
	json_array_foreach(items, i, v)
	{
		char d[32], a[32], at[32], b1[80], b2[80], b3[32];

		ctl_table_row(
		        tab, ctl_cell(v, "node", b1, sizeof(b1)),
		        ctl_cell(v, "site", b2, sizeof(b2)),
		        ctl_cell(v, "state", b3, sizeof(b3)),
		        ctl_cell(v, "desired_version", d, sizeof(d)),
		        ctl_cell(v, "applied_version", a, sizeof(a)),
		        ctl_fmt_time(jint(v, "applied_ms"), at, sizeof(at)));
	}
	if (tab && ctl_table_rows(tab) > 0)
		ctl_table_print(tab, stdout);
	ctl_table_free(tab);
	printf("%" PRId64 " nodes: %" PRId64 " applied, %" PRId64
	       " pending, %" PRId64 " offline, %" PRId64
	       " unpublished; %.1f%% of published nodes applied\n",
	       jint(t, "nodes"), jint(t, "applied"), jint(t, "pending"),
	       jint(t, "offline"), jint(t, "unpublished"),
	       json_number_value(json_object_get(t, "progress_percent")));
}

int mc_ctl_rollout(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"site", required_argument, NULL, 's'},
	        {"state", required_argument, NULL, 'S'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	struct ctl_conn conn;
	const char *site = NULL, *state = NULL;
	char *path = NULL, *es = NULL, *est = NULL;
	json_t *doc = NULL;
	int rc, c;

	rc = ctl_conn_init(&conn, "rollout", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 's': site = optarg; break;
		case 'S': state = optarg; break;
		case 'h':
			fputs(rollout_help, stdout);
			rc = MC_CTL_OK;
			goto out;
		default: rc = ctl_bad_option(conn.what, argv, c); goto out;
		}
	}
	if (optind < argc) {
		rc = ctl_usage(conn.what, "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	es = site ? ctl_escape(site) : NULL;
	est = state ? ctl_escape(state) : NULL;
	path = mc_printf("/v1/rollout?x=1%s%s%s%s", es ? "&site=" : "",
	                 es ? es : "", est ? "&state=" : "", est ? est : "");
	if (!path) {
		rc = ctl_fail(conn.what, "out of memory");
		goto out;
	}
	rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(&conn, doc, print_rollout);
out:
	free(path);
	free(es);
	free(est);
	json_decref(doc);
	ctl_conn_free(&conn);
	return rc;
}

/* ---- alert ---- */

static const char alert_help[] =
        "Usage: minecastctl alert send --text T --level L [targets]\n"
        "                              [--repeat N] [--tone X] [--ttl S]\n"
        "                              [--id ID] --yes\n"
        "       minecastctl alert list [--status active|cleared|expired]\n"
        "       minecastctl alert show ID\n"
        "       minecastctl alert clear ID\n"
        "\n"
        "An urgent message on every targeted screen and loudspeaker: one\n"
        "signed alert for the whole fleet, started on every node at the\n"
        "same instant (now plus the controller's lead time).  Without\n"
        "targets it goes to EVERY node.\n"
        "\n"
        "  --text T       the text shown and spoken (at most 4000 bytes)\n"
        "  --level L      info, warning, danger or evacuate\n"
        "  --site S, --company C, --group G, --node N, --tag T\n"
        "                 targets (repeatable): a node is selected when\n"
        "                 any of them names it, its site, company, group\n"
        "                 or one of its tags\n"
        "  --repeat N     times the text is spoken, 1..10 (default 1)\n"
        "  --tone X       attention tone name (default: the node's)\n"
        "  --ttl S        seconds until it stops by itself (default: the\n"
        "                 controller's [alerts] ttl_s)\n"
        "  --id ID        the alert id (default: generated)\n"
        "  --yes          send without asking; without it the command\n"
        "                 asks on a terminal and refuses otherwise\n"
        "\n"
        "show lists every targeted node with its delivered and started\n"
        "acknowledgements; clear stops the alert on every node.\n"
        "Roles: send and clear need technician, approver or "
        "admin.\n" CTL_CONN_HELP;

static void print_alert(json_t *a)
{
	json_t *counts = json_object_get(a, "counts");
	json_t *lat = json_object_get(a, "latency_ms");
	json_t *nodes = json_object_get(a, "nodes");
	char t1[32], t2[32], t3[32];
	struct ctl_table *tab;
	size_t i;
	json_t *v;

	printf("alert %s (%s, %s): %s\n",
	       json_string_value(json_object_get(a, "id")),
	       json_string_value(json_object_get(a, "level")),
	       json_string_value(json_object_get(a, "status")),
	       json_string_value(json_object_get(a, "text")));
	printf("  issued %s, starts %s, expires %s%s\n",
	       ctl_fmt_time(jint(a, "issued_ms"), t1, sizeof(t1)),
	       ctl_fmt_time(jint(a, "start_at_ms"), t2, sizeof(t2)),
	       ctl_fmt_time(jint(a, "expires_ms"), t3, sizeof(t3)),
	       json_is_true(json_object_get(a, "published"))
	               ? ""
	               : " — NOT YET SENT: the broker is not reachable");
	printf("  %" PRId64 " nodes: %" PRId64 " delivered, %" PRId64
	       " started, %" PRId64 " rejected\n",
	       jint(counts, "targeted"), jint(counts, "delivered"),
	       jint(counts, "started"), jint(counts, "rejected"));
	if (jint(a, "cleared_ms") > 0)
		printf("  cleared %s by %s; %" PRId64 " nodes confirmed the "
		       "clear\n",
		       ctl_fmt_time(jint(a, "cleared_ms"), t1, sizeof(t1)),
		       json_is_string(json_object_get(a, "cleared_by"))
		               ? json_string_value(
		                         json_object_get(a, "cleared_by"))
		               : "-",
		       jint(counts, "clear_delivered"));
	for (int k = 0; k < 2; k++) {
		const char *name = k ? "started" : "delivered";
		json_t *s = json_object_get(lat, name);

		if (json_is_object(s))
			printf("  %s after issue: median %.0f ms, p95 "
			       "%" PRId64 " ms, max %" PRId64 " ms\n",
			       name,
			       json_number_value(json_object_get(s, "median")),
			       jint(s, "p95"), jint(s, "max"));
	}
	if (json_array_size(nodes) == 0)
		return;
	tab = ctl_table_new(5, "NODE", "STATE", "DELIVERED", "STARTED",
	                    "REJECTED");
	json_array_foreach(nodes, i, v)
	{
		char b1[80], b2[32], b3[300];

		ctl_table_row(
		        tab, ctl_cell(v, "node", b1, sizeof(b1)),
		        ctl_cell(v, "state", b2, sizeof(b2)),
		        ctl_fmt_time(jint(v, "delivered_ms"), t1, sizeof(t1)),
		        ctl_fmt_time(jint(v, "start_ms"), t2, sizeof(t2)),
		        json_is_string(json_object_get(v, "rejected"))
		                ? ctl_cell(v, "rejected", b3, sizeof(b3))
		                : NULL);
	}
	ctl_table_print(tab, stdout);
	ctl_table_free(tab);
}

static void print_alerts(json_t *doc)
{
	json_t *items = json_object_get(doc, "items");
	struct ctl_table *tab;
	size_t i;
	json_t *v;

	tab = ctl_table_new(7, "ID", "LEVEL", "STATUS", "ISSUED", ">NODES",
	                    ">STARTED", "TEXT");
	json_array_foreach(items, i, v)
	{
		char b1[80], b2[32], b3[32], t[32], n[32], s[32], txt[64];
		const char *text =
		        json_string_value(json_object_get(v, "text"));
		size_t k = 0;

		/* First line, cut at a character boundary. */
		for (;
		     text && text[k] && text[k] != '\n' && k < sizeof(txt) - 4;
		     k++)
			txt[k] = text[k];
		while (k > 0 && ((unsigned char)txt[k - 1] & 0xC0) == 0x80)
			k--;
		if (k > 0 && ((unsigned char)txt[k - 1] & 0x80))
			k--;
		txt[k] = '\0';
		snprintf(n, sizeof(n), "%" PRId64, jint(v, "targeted"));
		snprintf(s, sizeof(s), "%" PRId64, jint(v, "started"));
		ctl_table_row(tab, ctl_cell(v, "id", b1, sizeof(b1)),
		              ctl_cell(v, "level", b2, sizeof(b2)),
		              ctl_cell(v, "status", b3, sizeof(b3)),
		              ctl_fmt_time(jint(v, "issued_ms"), t, sizeof(t)),
		              n, s, txt);
	}
	if (ctl_table_rows(tab) > 0)
		ctl_table_print(tab, stdout);
	else
		printf("no alerts\n");
	ctl_table_free(tab);
}

/* Append optarg to the list key of targets. */
static int add_target(struct ctl_conn *conn, json_t *targets, const char *key,
                      const char *value)
{
	json_t *a = json_object_get(targets, key);

	if (!a) {
		a = json_array();
		json_object_set_new(targets, key, a);
	}
	if (json_array_size(a) >= TARGETS_MAX)
		return ctl_usage(conn->what, "--%.*s: at most %d values",
		                 (int)strlen(key) - 1, key, TARGETS_MAX);
	json_array_append_new(a, json_string(value));
	return MC_CTL_OK;
}

static int alert_send(struct ctl_conn *conn, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"text", required_argument, NULL, 't'},
	        {"level", required_argument, NULL, 'l'},
	        {"site", required_argument, NULL, 's'},
	        {"company", required_argument, NULL, 'c'},
	        {"group", required_argument, NULL, 'g'},
	        {"node", required_argument, NULL, 'n'},
	        {"tag", required_argument, NULL, 'T'},
	        {"repeat", required_argument, NULL, 'r'},
	        {"tone", required_argument, NULL, 'o'},
	        {"ttl", required_argument, NULL, 'L'},
	        {"id", required_argument, NULL, 'i'},
	        {"yes", no_argument, NULL, 'y'},
	        {"help", no_argument, NULL, 'h'},
	        {NULL, 0, NULL, 0},
	};
	json_t *body = json_object(), *targets = json_object(), *doc = NULL;
	const char *text = NULL, *level = NULL;
	bool yes = false;
	long long n;
	char *end, question[512];
	int rc = MC_CTL_OK, c;

	if (!body || !targets) {
		rc = ctl_fail(conn->what, "out of memory");
		goto out;
	}
	optind = 1;
	opterr = 0;
	while (rc == MC_CTL_OK &&
	       (c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (c) {
		case 't': text = optarg; break;
		case 'l': level = optarg; break;
		case 's':
			rc = add_target(conn, targets, "sites", optarg);
			break;
		case 'c':
			rc = add_target(conn, targets, "companies", optarg);
			break;
		case 'g':
			rc = add_target(conn, targets, "groups", optarg);
			break;
		case 'n':
			rc = add_target(conn, targets, "nodes", optarg);
			break;
		case 'T': rc = add_target(conn, targets, "tags", optarg); break;
		case 'r':
		case 'L':
			n = strtoll(optarg, &end, 10);
			if (!*optarg || *end) {
				rc = ctl_usage(conn->what,
				               "--%s: '%s' is not a number",
				               c == 'r' ? "repeat" : "ttl",
				               optarg);
				break;
			}
			json_object_set_new(body, c == 'r' ? "repeat" : "ttl_s",
			                    json_integer(n));
			break;
		case 'o':
			json_object_set_new(body, "tone", json_string(optarg));
			break;
		case 'i':
			json_object_set_new(body, "id", json_string(optarg));
			break;
		case 'y': yes = true; break;
		case 'h': fputs(alert_help, stdout); goto out;
		default: rc = ctl_bad_option(conn->what, argv, c); break;
		}
	}
	if (rc != MC_CTL_OK)
		goto out;
	if (optind < argc) {
		rc = ctl_usage(conn->what, "unexpected argument '%s'",
		               argv[optind]);
		goto out;
	}
	if (!text || !level) {
		rc = ctl_usage(conn->what, "--text and --level are required");
		goto out;
	}
	json_object_set_new(body, "text", json_string(text));
	json_object_set_new(body, "level", json_string(level));
	if (json_object_size(targets) > 0)
		json_object_set(body, "targets", targets);
	if (!json_object_get(body, "text")) {
		rc = ctl_fail(conn->what, "--text: not valid UTF-8");
		goto out;
	}
	if (!yes) {
		if (!isatty(STDIN_FILENO)) {
			rc = ctl_usage(conn->what,
			               "an urgent alert needs --yes when not "
			               "asked on a terminal");
			goto out;
		}
		snprintf(question, sizeof(question),
		         "Send the %s alert \"%.200s\" to %s? [y/N] ", level,
		         text,
		         json_object_size(targets) ? "the selected nodes"
		                                   : "EVERY node");
		if (!ctl_confirm(question)) {
			rc = ctl_fail(conn->what, "not sent");
			goto out;
		}
	}
	json_object_set_new(body, "confirm", json_true());
	rc = ctl_call(conn, "POST", "/v1/alerts", body, &doc, NULL);
	if (rc == MC_CTL_OK)
		rc = ctl_print(conn, doc, print_alert);
out:
	json_decref(doc);
	json_decref(body);
	json_decref(targets);
	return rc;
}

int mc_ctl_alert(int argc, char **argv)
{
	struct ctl_conn conn;
	json_t *doc = NULL;
	char *path = NULL, *eid = NULL;
	const char *sub;
	int rc;

	rc = ctl_conn_init(&conn, "alert", &argc, argv);
	if (rc != MC_CTL_OK)
		goto out;
	if (argc < 2) {
		rc = ctl_usage(conn.what, "send, list, show or clear?");
		goto out;
	}
	sub = argv[1];
	if (ctl_is_help(sub)) {
		fputs(alert_help, stdout);
		goto out;
	}
	if (!strcmp(sub, "send")) {
		conn.what = "alert send";
		rc = alert_send(&conn, argc - 1, argv + 1);
		goto out;
	}
	if (!strcmp(sub, "list")) {
		const char *status = NULL;

		conn.what = "alert list";
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--status") && i + 1 < argc)
				status = argv[++i];
			else if (!strncmp(argv[i], "--status=", 9))
				status = argv[i] + 9;
			else {
				rc = ctl_usage(conn.what,
				               "unexpected argument '%s'",
				               argv[i]);
				goto out;
			}
		}
		eid = status ? ctl_escape(status) : NULL;
		path = mc_printf("/v1/alerts?limit=1000%s%s",
		                 eid ? "&status=" : "", eid ? eid : "");
		rc = ctl_call(&conn, "GET", path, NULL, &doc, NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(&conn, doc, print_alerts);
		goto out;
	}
	if (!strcmp(sub, "show") || !strcmp(sub, "clear")) {
		bool clear = !strcmp(sub, "clear");

		conn.what = clear ? "alert clear" : "alert show";
		if (argc != 3) {
			rc = ctl_usage(conn.what, "needs exactly one alert id");
			goto out;
		}
		eid = ctl_escape(argv[2]);
		path = mc_printf("/v1/alerts/%s%s", eid ? eid : "",
		                 clear ? "/clear" : "");
		rc = ctl_call(&conn, clear ? "POST" : "GET", path, NULL, &doc,
		              NULL);
		if (rc == MC_CTL_OK)
			rc = ctl_print(&conn, doc, print_alert);
		goto out;
	}
	rc = ctl_usage(conn.what,
	               "unknown subcommand '%s' (send, list, show, "
	               "clear)",
	               sub);
out:
	free(path);
	free(eid);
	json_decref(doc);
	ctl_conn_free(&conn);
	return rc;
}
