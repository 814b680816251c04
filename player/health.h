/*
 * minecast-player — what the node's kernel says about its health.
 *
 * Everything comes from the kernel's own files under proc_root and
 * sys_root (configurable so tests can point them at a fixture tree):
 * /proc/uptime, /proc/loadavg, /proc/meminfo, statvfs of the cache,
 * /sys/class/thermal/thermal_zone<N>/temp (the CPU's zone), the Raspberry
 * Pi firmware's get_throttled and the rpi_volt hwmon under-voltage alarm.
 * What the hardware does not expose is reported as unknown, not zero.
 */
#ifndef MC_PLAYER_HEALTH_H
#define MC_PLAYER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/messages.h"

/* Where to read from. */
struct mc_health_src {
	const char *proc_root; /* "/proc" */
	const char *sys_root;  /* "/sys" */
	const char *disk_path; /* filesystem to report, e.g. the cache dir */
};

/*
 * Fill the system fields of h: uptime_s, load1, mem_*, disk_*, has_temp /
 * cpu_temp_c, throttled (-1 when unknown).  Other fields are untouched.
 * Unreadable files leave their fields unknown; never fails.
 */
void mc_health_collect(const struct mc_health_src *src, struct mc_health *h);

/*
 * Is the wall clock synchronised?  mode is the config's [clock] sync:
 * "auto" asks the kernel (adjtimex: STA_UNSYNC clear, and the estimated
 * error goes to *offset_ms), "yes"/"no" force it, "file:PATH" is true
 * while PATH exists (tests).  *offset_ms is NAN when unknown.
 */
bool mc_clock_synced(const char *mode, double *offset_ms);

/*
 * The recent errors a health report carries: newest first, at most
 * MC_HEALTH_ERRORS_MAX.  A message equal to one already listed moves to
 * the front with its new time instead of taking a second slot; an error
 * older than the configured time is dropped, so that a report does not
 * keep showing what was put right days ago.  Times are monotonic ms.
 */
#define MC_HEALTH_ERRORS_MAX 16

struct mc_errlist {
	char *msg[MC_HEALTH_ERRORS_MAX];
	int64_t at_ms[MC_HEALTH_ERRORS_MAX];
	size_t n;
};

/* Add msg (copied) at now_ms; dropped silently when out of memory. */
void mc_errlist_add(struct mc_errlist *l, const char *msg, int64_t now_ms);

/* Forget the errors added more than keep_ms before now_ms. */
void mc_errlist_expire(struct mc_errlist *l, int64_t now_ms, int64_t keep_ms);

void mc_errlist_free(struct mc_errlist *l);

#endif
