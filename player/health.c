/*
 * minecast-player — what the node's kernel says about its health.
 *
 * Every value is read from the kernel's own text files, so the same code
 * reads a fixture tree in the tests.  A field whose file is missing or
 * unreadable is left unknown: has_temp false, throttled -1, and 0 for the
 * counters the health message cannot carry as negative (uptime, memory,
 * disk, load).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/timex.h>
#include <unistd.h>

#include "health.h"
#include "minecast/log.h"

/* Thermal zone types that are the CPU's, best first. */
static const char *const cpu_zone_types[] = {"cpu-thermal", "cpu_thermal",
                                             "x86_pkg_temp"};

/* The firmware's under-voltage-now bit in get_throttled. */
#define THROTTLED_UNDERVOLT_NOW 0x1

/*
 * Read the small text file root/rel into buf (NUL-terminated, trailing
 * whitespace removed).  False when it cannot be read or is empty.
 */
static bool read_text(const char *root, const char *rel, char *buf, size_t size)
{
	char path[PATH_MAX];
	size_t n;
	FILE *fp;

	if (!root || (size_t)snprintf(path, sizeof(path), "%s/%s", root, rel) >=
	                     sizeof(path))
		return false;
	fp = fopen(path, "re");
	if (!fp)
		return false;
	n = fread(buf, 1, size - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		buf[--n] = '\0';
	return n > 0;
}

/* Parse a whole string as a decimal integer. */
static bool parse_long(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 10);
	return end != s && *end == '\0' && errno == 0;
}

static void read_uptime(const char *proc, struct mc_health *h)
{
	char buf[128];
	double up;

	h->uptime_s = 0;
	if (read_text(proc, "uptime", buf, sizeof(buf)) &&
	    sscanf(buf, "%lf", &up) == 1 && up >= 0 && up < 1e15)
		h->uptime_s = (int64_t)up;
}

static void read_loadavg(const char *proc, struct mc_health *h)
{
	char buf[256];
	double load;

	h->load1 = 0;
	if (read_text(proc, "loadavg", buf, sizeof(buf)) &&
	    sscanf(buf, "%lf", &load) == 1 && load >= 0 && load < 1e6)
		h->load1 = load;
}

static void read_meminfo(const char *proc, struct mc_health *h)
{
	char path[PATH_MAX], line[256];
	long long kb;
	FILE *fp;

	h->mem_total_kb = 0;
	h->mem_avail_kb = 0;
	if ((size_t)snprintf(path, sizeof(path), "%s/meminfo", proc) >=
	    sizeof(path))
		return;
	fp = fopen(path, "re");
	if (!fp)
		return;
	while (fgets(line, sizeof(line), fp)) {
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1 && kb >= 0)
			h->mem_total_kb = kb;
		else if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1 &&
		         kb >= 0)
			h->mem_avail_kb = kb;
	}
	fclose(fp);
}

static void read_disk(const char *path, struct mc_health *h)
{
	struct statvfs st;

	h->disk_total_bytes = 0;
	h->disk_free_bytes = 0;
	if (!path || statvfs(path, &st) != 0)
		return;
	h->disk_total_bytes = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
	/* What the player (not root) may still write. */
	h->disk_free_bytes = (int64_t)st.f_bavail * (int64_t)st.f_frsize;
}

/* Lower is better; the number of cpu_zone_types for any other type. */
static size_t zone_rank(const char *type)
{
	size_t i;

	for (i = 0; i < sizeof(cpu_zone_types) / sizeof(cpu_zone_types[0]); i++)
		if (!strcmp(type, cpu_zone_types[i]))
			break;
	return i;
}

/*
 * The CPU's temperature: the zone of the best-ranked type, among equals
 * the lowest-numbered; a zone whose temp cannot be read does not count.
 */
static void read_temp(const char *sys, struct mc_health *h)
{
	size_t best_rank = SIZE_MAX;
	long best_n = LONG_MAX;
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;

	h->has_temp = false;
	h->cpu_temp_c = 0;
	if (!sys || (size_t)snprintf(dir, sizeof(dir), "%s/class/thermal",
	                             sys) >= sizeof(dir))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char rel[128], buf[64], type[64];
		long long milli;
		size_t rank;
		long n;
		char *end;

		if (strncmp(de->d_name, "thermal_zone", 12) != 0)
			continue;
		n = strtol(de->d_name + 12, &end, 10);
		if (end == de->d_name + 12 || *end != '\0' || n < 0)
			continue;
		snprintf(rel, sizeof(rel), "class/thermal/%.64s/type",
		         de->d_name);
		rank = read_text(sys, rel, type, sizeof(type)) ? zone_rank(type)
		                                               : zone_rank("");
		if (rank > best_rank || (rank == best_rank && n > best_n))
			continue;
		snprintf(rel, sizeof(rel), "class/thermal/%.64s/temp",
		         de->d_name);
		/* Millidegrees Celsius; outside -100..200 °C is a broken
		 * sensor, not a temperature. */
		if (!read_text(sys, rel, buf, sizeof(buf)) ||
		    !parse_long(buf, &milli) || milli < -100000 ||
		    milli > 200000)
			continue;
		best_rank = rank;
		best_n = n;
		h->has_temp = true;
		h->cpu_temp_c = (double)milli / 1000.0;
	}
	closedir(d);
}

/*
 * get_throttled as the firmware driver prints it: hex without "0x"
 * ("50005").  "0x50005" and vcgencmd's "throttled=0x50005" are taken too.
 * Plain digits are hex, never decimal: the kernel writes them with "%x".
 */
static bool parse_throttled(const char *s, int64_t *v)
{
	unsigned long long x;
	char *end;

	if (!strncmp(s, "throttled=", 10))
		s += 10;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	if (!isxdigit((unsigned char)*s))
		return false;
	errno = 0;
	x = strtoull(s, &end, 16);
	if (*end != '\0' || errno != 0 || x > 0xffffffffULL)
		return false;
	*v = (int64_t)x;
	return true;
}

/*
 * The rpi_volt hwmon's under-voltage alarm: 1 = under-voltage now, 0 =
 * fine, -1 = no such sensor.
 */
static int read_undervolt(const char *sys)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int alarm = -1;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof(dir), "%s/class/hwmon", sys) >=
	    sizeof(dir))
		return -1;
	d = opendir(dir);
	if (!d)
		return -1;
	while (alarm < 0 && (de = readdir(d))) {
		char rel[128], buf[64];

		if (de->d_name[0] == '.')
			continue;
		snprintf(rel, sizeof(rel), "class/hwmon/%.64s/name",
		         de->d_name);
		if (!read_text(sys, rel, buf, sizeof(buf)) ||
		    strcmp(buf, "rpi_volt") != 0)
			continue;
		snprintf(rel, sizeof(rel), "class/hwmon/%.64s/in0_lcrit_alarm",
		         de->d_name);
		if (read_text(sys, rel, buf, sizeof(buf)))
			alarm = strcmp(buf, "0") != 0;
	}
	closedir(d);
	return alarm;
}

static void read_throttled(const char *sys, struct mc_health *h)
{
	char buf[64];
	int alarm;

	h->throttled = -1;
	if (!sys)
		return;
	if (read_text(sys, "devices/platform/soc/soc:firmware/get_throttled",
	              buf, sizeof(buf)) &&
	    !parse_throttled(buf, &h->throttled)) {
		mc_log_debug("health", "get_throttled: cannot read \"%s\"",
		             buf);
		h->throttled = -1;
	}
	/* Newer kernels report under-voltage through hwmon only; set the
	 * bit the firmware would have set. */
	alarm = read_undervolt(sys);
	if (alarm >= 0) {
		if (h->throttled < 0)
			h->throttled = 0;
		if (alarm)
			h->throttled |= THROTTLED_UNDERVOLT_NOW;
	}
}

void mc_health_collect(const struct mc_health_src *src, struct mc_health *h)
{
	const char *proc = src && src->proc_root ? src->proc_root : "/proc";
	const char *sys = src && src->sys_root ? src->sys_root : "/sys";

	read_uptime(proc, h);
	read_loadavg(proc, h);
	read_meminfo(proc, h);
	read_disk(src ? src->disk_path : NULL, h);
	read_temp(sys, h);
	read_throttled(sys, h);
}

bool mc_clock_synced(const char *mode, double *offset_ms)
{
	struct timex tx;
	int state;

	if (offset_ms)
		*offset_ms = NAN;
	if (!mode || !strcmp(mode, "auto")) {
		/* modes = 0 only reads; no privilege needed.  chrony and
		 * systemd-timesyncd both clear STA_UNSYNC once they have
		 * disciplined the clock. */
		memset(&tx, 0, sizeof(tx));
		state = adjtimex(&tx);
		if (state < 0 || state == TIME_ERROR ||
		    (tx.status & STA_UNSYNC))
			return false;
		if (offset_ms)
			*offset_ms = (double)tx.esterror / 1000.0;
		return true;
	}
	if (!strcmp(mode, "yes"))
		return true;
	if (!strcmp(mode, "no"))
		return false;
	if (!strncmp(mode, "file:", 5))
		return mode[5] && access(mode + 5, F_OK) == 0;
	return false;
}

/* ---- recent errors ---- */

static void errlist_remove(struct mc_errlist *l, size_t i)
{
	free(l->msg[i]);
	memmove(l->msg + i, l->msg + i + 1, (l->n - i - 1) * sizeof(*l->msg));
	memmove(l->at_ms + i, l->at_ms + i + 1,
	        (l->n - i - 1) * sizeof(*l->at_ms));
	l->n--;
}

void mc_errlist_add(struct mc_errlist *l, const char *msg, int64_t now_ms)
{
	char *copy = strdup(msg);

	if (!copy)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->msg[i], msg) == 0) {
			errlist_remove(l, i);
			break;
		}
	if (l->n == MC_HEALTH_ERRORS_MAX)
		errlist_remove(l, l->n - 1);
	memmove(l->msg + 1, l->msg, l->n * sizeof(*l->msg));
	memmove(l->at_ms + 1, l->at_ms, l->n * sizeof(*l->at_ms));
	l->msg[0] = copy;
	l->at_ms[0] = now_ms;
	l->n++;
}

void mc_errlist_expire(struct mc_errlist *l, int64_t now_ms, int64_t keep_ms)
{
	/* Newest first: the old ones are at the end. */
	while (l->n > 0 && now_ms - l->at_ms[l->n - 1] > keep_ms)
		errlist_remove(l, l->n - 1);
}

void mc_errlist_free(struct mc_errlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->msg[i]);
	memset(l, 0, sizeof(*l));
}
