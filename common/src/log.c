/* minecast — one-line logs on stderr, journald-aware. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "minecast/log.h"

static enum mc_log_level log_level = MC_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

/* syslog priorities for the <N> prefix journald understands. */
static const int level_prio[] = {3, 4, 6, 7};

void mc_log_set_level(enum mc_log_level level)
{
	log_level = level;
}

int mc_log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++)
		if (name && strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

void mc_log(enum mc_log_level level, const char *module, const char *fmt, ...)
{
	char line[1024];
	size_t n = 0;
	va_list ap;

	if (level > log_level)
		return;
	if (getenv("JOURNAL_STREAM")) {
		n = (size_t)snprintf(line, sizeof(line),
		                     "<%d>%s: ", level_prio[level], module);
	} else {
		struct timeval tv;
		struct tm tm;
		char stamp[40], zone[8];

		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		strftime(zone, sizeof(zone), "%z", &tm);
		n = (size_t)snprintf(line, sizeof(line),
		                     "%s.%03ld%.3s:%s %s %s: ", stamp,
		                     (long)(tv.tv_usec / 1000), zone, zone + 3,
		                     level_names[level], module);
	}
	if (n < sizeof(line)) {
		va_start(ap, fmt);
		vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		va_end(ap);
	}
	/* One write per line, so lines of two threads never interleave. */
	fprintf(stderr, "%s\n", line);
}
