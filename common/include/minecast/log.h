/*
 * minecast — logging.
 *
 * One line per event on stderr: "2023-11-12T06:00:00.123+07:00 warn sync:
 * manifest 3f2a… rejected: entries[2].rrule: FREQ is missing".  Lines are
 * meant for a technician at 3 a.m.: say what happened, to what, and why.
 * Under systemd (JOURNAL_STREAM set) the timestamp is left to the journal
 * and the level becomes a <N> syslog prefix.
 */
#ifndef MINECAST_LOG_H
#define MINECAST_LOG_H

enum mc_log_level { MC_LOG_ERROR = 0, MC_LOG_WARN, MC_LOG_INFO, MC_LOG_DEBUG };

/* Lines above this level are dropped.  Default MC_LOG_INFO. */
void mc_log_set_level(enum mc_log_level level);

/* Parse "error", "warn", "info", "debug"; returns -1 if unknown. */
int mc_log_level_parse(const char *name);

/* Log one line for module (a short word: "sync", "mqtt", "sched"). */
void mc_log(enum mc_log_level level, const char *module, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

#define mc_log_error(mod, ...) mc_log(MC_LOG_ERROR, mod, __VA_ARGS__)
#define mc_log_warn(mod, ...)  mc_log(MC_LOG_WARN, mod, __VA_ARGS__)
#define mc_log_info(mod, ...)  mc_log(MC_LOG_INFO, mod, __VA_ARGS__)
#define mc_log_debug(mod, ...) mc_log(MC_LOG_DEBUG, mod, __VA_ARGS__)

#endif
