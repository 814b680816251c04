/*
 * minecastctl schedule — expand recurrences and preview a campaign's day,
 * offline, with the same engine (common/src/sched*.c) the players run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "minecast/codec.h"
#include "minecast/sched.h"
#include "minecast/timeline_day.h"
#include "minecast/util.h"

static const char schedule_help[] =
        "Usage: minecastctl schedule COMMAND [OPTIONS]\n"
        "\n"
        "Work with schedules offline, using the same engine as the players.\n"
        "\n"
        "Commands:\n"
        "  expand   list the occurrence starts of an RFC 5545 recurrence\n"
        "  preview  show what a campaign plays on one day, per channel\n"
        "\n"
        "Run 'minecastctl schedule COMMAND --help' for its options.\n"
        "docs/schedule.md specifies how entries are scheduled.\n";

static const char expand_help[] =
        "Usage: minecastctl schedule expand --dtstart DATETIME --rrule RULE\n"
        "                                   [--tz ZONE] [--limit N]\n"
        "\n"
        "Print the occurrence starts of a recurrence, one per line, expanded\n"
        "by libical exactly as a player expands an entry's rrule.\n"
        "\n"
        "Options:\n"
        "  --dtstart DATETIME  first start, RFC 5545 basic format:\n"
        "                      YYYYMMDDTHHMMSS (local time in ZONE),\n"
        "                      YYYYMMDDTHHMMSSZ (UTC) or YYYYMMDD (a date)\n"
        "  --rrule RULE        the RRULE value, e.g.\n"
        "                      'FREQ=YEARLY;BYMONTH=11;BYMONTHDAY=12'\n"
        "  --tz ZONE           zone of a local DATETIME, from the system\n"
        "                      zoneinfo (default Asia/Ho_Chi_Minh)\n"
        "  --limit N           print at most N starts (default 1000)\n"
        "  --help              this text\n"
        "\n"
        "Starts are printed in the format of --dtstart: local time in ZONE,\n"
        "or UTC with a Z when --dtstart had one.  Exit status: 0 success,\n"
        "1 a value was rejected (bad rule, unknown zone), 2 usage error.\n";

static const char preview_help[] =
        "Usage: minecastctl schedule preview FILE [--date YYYY-MM-DD]\n"
        "        [--site SITE] [--node NODE] [--tags TAG,TAG...]\n"
        "        [--clock-unsynced]\n"
        "\n"
        "Show what a campaign (or a compiled manifest) plays on one day, per\n"
        "channel, in the campaign's time zone: each segment of the day with\n"
        "the entries that win it (layer/priority, id, name, mode) and their\n"
        "playlist items with durations and texts, templates such as\n"
        "{years} resolved for that day.  A looping playlist is one segment\n"
        "with its item list; a once entry shows each item at its instant;\n"
        "gaps show the fallback.\n"
        "\n"
        "Options:\n"
        "  --date YYYY-MM-DD  the day (default: today in the campaign's zone)\n"
        "  --site SITE        preview for a node at this site\n"
        "  --node NODE        preview for this node id\n"
        "  --tags A,B         preview for a node with these tags\n"
        "                     (without --site, --node and --tags, targets are\n"
        "                     ignored and every entry is shown)\n"
        "  --clock-unsynced   as a node whose clock is not synchronised:\n"
        "                     only standing entries play\n"
        "  --help             this text\n"
        "\n"
        "Exit status: 0 success, 1 the file was rejected, 2 usage error.\n";

/* Match "--name VALUE" or "--name=VALUE"; advance *i past the value. */
static int opt_value(int argc, char **argv, int *i, const char *name,
                     const char **out)
{
	size_t n = strlen(name);
	const char *a = argv[*i];

	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*out = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc) {
		fprintf(stderr, "minecastctl: %s: needs a value\n", name);
		return -1;
	}
	*out = argv[++*i];
	return 1;
}

static bool is_help(const char *a)
{
	return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

static bool print_start(int64_t start_ms, const char *start, void *ud)
{
	(void)start_ms;
	(void)ud;
	return printf("%s\n", start) >= 0;
}

static int cmd_expand(int argc, char **argv)
{
	const char *dtstart = NULL, *rrule = NULL, *tz = NULL, *limit_s = NULL;
	struct mc_error err = {0};
	unsigned long long limit = 1000;

	for (int i = 1; i < argc; i++) {
		int r;

		if (is_help(argv[i])) {
			fputs(expand_help, stdout);
			return MC_CTL_OK;
		}
		if ((r = opt_value(argc, argv, &i, "--dtstart", &dtstart)) ||
		    (r = opt_value(argc, argv, &i, "--rrule", &rrule)) ||
		    (r = opt_value(argc, argv, &i, "--tz", &tz)) ||
		    (r = opt_value(argc, argv, &i, "--limit", &limit_s))) {
			if (r < 0)
				return MC_CTL_USAGE;
			continue;
		}
		fprintf(stderr,
		        "minecastctl: schedule expand: unknown "
		        "argument '%s' (see --help)\n",
		        argv[i]);
		return MC_CTL_USAGE;
	}
	if (!dtstart || !rrule) {
		fprintf(stderr,
		        "minecastctl: %s: required (see "
		        "'minecastctl schedule expand --help')\n",
		        !dtstart ? "--dtstart" : "--rrule");
		return MC_CTL_USAGE;
	}
	if (limit_s) {
		char *end;

		limit = strtoull(limit_s, &end, 10);
		if (!*limit_s || *end || limit_s[0] == '-') {
			fprintf(stderr,
			        "minecastctl: --limit: '%s' is not a "
			        "count\n",
			        limit_s);
			return MC_CTL_USAGE;
		}
	}
	if (mc_sched_expand(dtstart, tz, rrule, (size_t)limit, print_start,
	                    NULL, &err) != MC_OK) {
		fprintf(stderr, "minecastctl: %s\n", err.msg);
		return MC_CTL_FAIL;
	}
	return fflush(stdout) == 0 ? MC_CTL_OK : MC_CTL_FAIL;
}

/* Everything preview output needs. */
struct preview {
	const struct mc_manifest *m; /* the campaign */
	struct mc_sched *s;          /* its compiled schedule */
	struct mc_day day;           /* the day's segments (timeline_day.h) */
};

static void fmt_clock(const struct preview *p, int64_t t, char *buf, size_t cap)
{
	int h, mi, se;

	if (t >= p->day.to_ms) {
		snprintf(buf, cap, "24:00:00");
		return;
	}
	mc_sched_local(p->s, SIZE_MAX, t, NULL, NULL, NULL, &h, &mi, &se);
	if (t % 1000)
		snprintf(buf, cap, "%02d:%02d:%02d.%03d", h, mi, se,
		         (int)((t % 1000 + 1000) % 1000));
	else
		snprintf(buf, cap, "%02d:%02d:%02d", h, mi, se);
}

void ctl_fmt_duration(int64_t ms, char *buf, size_t cap)
{
	int64_t s = ms / 1000;

	if (ms % 1000)
		snprintf(buf, cap, "%.1fs", (double)ms / 1000.0);
	else if (s < 60)
		snprintf(buf, cap, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, cap, "%lldm%02llds", (long long)(s / 60),
		         (long long)(s % 60));
	else
		snprintf(buf, cap, "%lldh%02lldm%02llds", (long long)(s / 3600),
		         (long long)(s / 60 % 60), (long long)(s % 60));
}

void ctl_put_oneline(const char *text)
{
	for (const char *p = text; *p; p++) {
		if (*p == '\n')
			fputs(" / ", stdout);
		else if (*p != '\r')
			putchar(*p);
	}
}

static void print_item(const struct mc_day_item *di, const char *lead)
{
	const struct mc_content *c = di->content;
	char dur[32];

	ctl_fmt_duration(di->duration_ms, dur, sizeof(dur));
	printf("      %s %s (%s, %s)", lead,
	       c && c->name ? c->name : di->content_id, di->content_id, dur);
	if (di->text) {
		fputs(": ", stdout);
		ctl_put_oneline(di->text);
	}
	putchar('\n');
}

static void print_seg(const struct preview *p, const struct mc_day_seg *g)
{
	const struct mc_manifest *m = p->m;
	char a[24], b[24];

	fmt_clock(p, g->from_ms, a, sizeof(a));
	fmt_clock(p, g->to_ms, b, sizeof(b));
	printf("  %s–%s  ", a, b);
	if (g->kind != MC_NOW_SCHEDULED) {
		const char *why =
		        g->reason == MC_REASON_CLOCK
		                ? "clock not synchronised, dated entries wait"
		                : "nothing scheduled";

		if (g->kind == MC_NOW_FALLBACK) {
			printf("fallback: %s (%s) — %s\n",
			       g->content->name ? g->content->name
			                        : g->content->id,
			       g->content->id, why);
			if (g->n_items && g->items[0].text) {
				fputs("      ", stdout);
				ctl_put_oneline(g->items[0].text);
				putchar('\n');
			}
		} else {
			printf("idle (no fallback content) — %s\n", why);
		}
		return;
	}
	for (size_t j = 0; j < g->n_group; j++) {
		const struct mc_entry *e = &m->entries[g->group[j]];

		printf("%s%s/%d  %s%s%s%s  %s",
		       j ? "\n                     + " : "",
		       mc_layer_name(e->layer), e->priority, e->id,
		       e->name ? " \"" : "", e->name ? e->name : "",
		       e->name ? "\"" : "", mc_mode_name(e->mode));
		if (e->founded)
			printf(", founded %d", e->founded);
	}
	if (g->n_group > 1) {
		int y, mo, d, h, mi, se;

		mc_sched_local(p->s, SIZE_MAX, g->anchor_ms, &y, &mo, &d, &h,
		               &mi, &se);
		printf("\n      (shared round-robin, clocked from "
		       "%04d-%02d-%02d %02d:%02d:%02d)",
		       y, mo, d, h, mi, se);
	}
	putchar('\n');
	for (size_t k = 0; k < g->n_items; k++) {
		char lead[24];

		if (g->once)
			fmt_clock(p, g->items[k].at_ms, lead, sizeof(lead));
		else
			snprintf(lead, sizeof(lead), "%zu.", k + 1);
		print_item(&g->items[k], lead);
	}
}

/* Split "a,b,c" into a NULL-free array of pointers into s (modified). */
static size_t split_tags(char *s, const char **out, size_t cap)
{
	size_t n = 0;

	for (char *tok = strtok(s, ","); tok && n < cap;
	     tok = strtok(NULL, ","))
		out[n++] = tok;
	return n;
}

static int cmd_preview(int argc, char **argv)
{
	const char *file = NULL, *date = NULL, *site = NULL, *node = NULL;
	const char *tags_s = NULL;
	char *tags_buf = NULL;
	const char *tags[64];
	bool unsynced = false;
	struct mc_error err = {0};
	struct mc_manifest *m = NULL;
	struct mc_who who = {0};
	struct mc_sched_opts opts = {0};
	struct preview p = {0};
	int y, mo, d, rc = MC_CTL_FAIL;

	for (int i = 1; i < argc; i++) {
		int r;

		if (is_help(argv[i])) {
			fputs(preview_help, stdout);
			return MC_CTL_OK;
		}
		if (strcmp(argv[i], "--clock-unsynced") == 0) {
			unsynced = true;
			continue;
		}
		if ((r = opt_value(argc, argv, &i, "--date", &date)) ||
		    (r = opt_value(argc, argv, &i, "--site", &site)) ||
		    (r = opt_value(argc, argv, &i, "--node", &node)) ||
		    (r = opt_value(argc, argv, &i, "--tags", &tags_s))) {
			if (r < 0)
				return MC_CTL_USAGE;
			continue;
		}
		if (argv[i][0] == '-' || file) {
			fprintf(stderr,
			        "minecastctl: schedule preview: "
			        "unknown argument '%s' (see --help)\n",
			        argv[i]);
			return MC_CTL_USAGE;
		}
		file = argv[i];
	}
	if (!file) {
		fprintf(stderr, "minecastctl: schedule preview: FILE is "
		                "required (see --help)\n");
		return MC_CTL_USAGE;
	}
	if (date) {
		if (!mc_day_parse_date(date, &y, &mo, &d)) {
			fprintf(stderr,
			        "minecastctl: --date: '%s' is not a "
			        "date YYYY-MM-DD\n",
			        date);
			return MC_CTL_USAGE;
		}
	}
	if (mc_manifest_load(file, MC_DOC_CAMPAIGN, &m, &err) != MC_OK) {
		struct mc_error err2 = {0};

		/* A compiled manifest previews the same way. */
		if (mc_manifest_load(file, MC_DOC_MANIFEST, &m, &err2) !=
		    MC_OK) {
			/* mc_manifest_load's message names the file.  When
			 * the file says it is a manifest, its own errors are
			 * the ones to show. */
			fprintf(stderr, "minecastctl: %s\n",
			        strstr(err.msg, ": format: ") ? err2.msg
			                                      : err.msg);
			goto fail;
		}
	}
	p.m = m;
	p.s = mc_sched_new(m, &err);
	if (!p.s) {
		fprintf(stderr, "minecastctl: %s: %s\n", file, err.msg);
		goto fail;
	}
	if (!date)
		mc_sched_local(p.s, SIZE_MAX, mc_now_ms(), &y, &mo, &d, NULL,
		               NULL, NULL);
	if (tags_s) {
		tags_buf = mc_strdup(tags_s);
		if (!tags_buf)
			goto fail;
		who.n_tags = split_tags(tags_buf, tags, MC_ARRAY_LEN(tags));
		who.tags = tags;
	}
	who.site = site;
	who.node = node;
	opts.clock_synced = !unsynced;
	printf("Campaign: %s\n", m->name ? m->name : file);
	printf("Day: %04d-%02d-%02d (%s)\n", y, mo, d,
	       m->timezone ? m->timezone : MC_SCHED_DEFAULT_TZ);
	if (site || node || tags_s)
		printf("For: site %s, node %s, tags %s\n", site ? site : "-",
		       node ? node : "-", tags_s ? tags_s : "-");
	else
		printf("For: every node (targets ignored)\n");
	printf("Clock: %s\n", unsynced ? "not synchronised (dated entries "
	                                 "wait)"
	                               : "synchronised");
	if (mc_day_build(m, p.s, y, mo, d, site || node || tags_s ? &who : NULL,
	                 &opts, &p.day) != MC_OK) {
		fprintf(stderr, "minecastctl: preview: out of memory\n");
		goto fail;
	}
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		printf("\n[%s]\n", mc_channel_name((enum mc_channel)ch));
		for (size_t i = 0; i < p.day.ch[ch].n_segs; i++)
			print_seg(&p, &p.day.ch[ch].segs[i]);
	}
	rc = fflush(stdout) == 0 ? MC_CTL_OK : MC_CTL_FAIL;
fail:
	mc_day_clear(&p.day);
	free(tags_buf);
	mc_sched_free(p.s);
	mc_manifest_free(m);
	return rc;
}

int mc_ctl_schedule(int argc, char **argv)
{
	if (argc < 2) {
		fputs(schedule_help, stderr);
		return MC_CTL_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		fputs(schedule_help, stdout);
		return MC_CTL_OK;
	}
	if (strcmp(argv[1], "expand") == 0)
		return cmd_expand(argc - 1, argv + 1);
	if (strcmp(argv[1], "preview") == 0)
		return cmd_preview(argc - 1, argv + 1);
	fprintf(stderr, "minecastctl: schedule: unknown command '%s'\n\n",
	        argv[1]);
	fputs(schedule_help, stderr);
	return MC_CTL_USAGE;
}
