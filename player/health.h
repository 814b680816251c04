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

#endif
