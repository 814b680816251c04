/*
 * minecast — schedule engine internals shared by sched.c (queries),
 * sched_expand.c (occurrence streams on libical) and sched_time.c (date-time
 * parsing and zone conversion).
 */
#ifndef MC_SCHED_INTERNAL_H
#define MC_SCHED_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libical/ical.h>

#include "minecast/error.h"
#include "minecast/model.h"
#include "minecast/sched.h"

/* How long an occurrence lasts (docs/schedule.md rule 2). */
enum mc__end_kind {
	MC__END_EXACT =
	        0,       /* DTEND - DTSTART, the same exact length each time */
	MC__END_NOMINAL, /* DURATION added to the local start (nominal days) */
	MC__END_DAY,     /* loop, neither given: to the next local midnight */
	MC__END_PLAYLIST /* once: the playlist's total length */
};

/* How many libical iterations one query may spend on one entry. */
#define MC__ITER_BUDGET 200000

/* A date-time value as written in an entry. */
struct mc__dt {
	struct icaltimetype local; /* floating wall-clock fields */
	bool utc;                  /* written with a trailing Z */
	bool is_date;              /* a DATE: 00:00 local */
};

/* One compiled entry. */
struct mc__centry {
	const struct mc_entry *e;  /* the entry in the manifest; borrowed */
	icaltimezone *zone;        /* its zone (tzid or the document's): local
	                            * days and dates for templates */
	icaltimezone *rzone;       /* the zone recurrence runs in: zone, or
	                            * UTC when dtstart has a Z */
	bool standing;             /* no dtstart: always on, anchored at 0 */
	bool is_date;              /* dtstart is a DATE */
	struct icaltimetype start; /* dtstart as floating local fields */
	int64_t start_ms;          /* dtstart as an instant */
	bool has_rule;             /* an RRULE was given */
	unsigned parts;            /* bit i: RRULE part i was given (the
	                            * order of part_names in sched_expand.c) */
	struct icalrecurrencetype rule; /* parsed, UNTIL removed (we apply it
	                                 * ourselves on instants) */
	bool has_until;                 /* the rule had UNTIL */
	bool until_utc;                 /* UNTIL had a Z: compare instants */
	int64_t until_ms;               /* UNTIL as an instant (utc) */
	struct icaltimetype until;      /* UNTIL floating (date or date-time) */
	bool rule_empty; /* libical yields no occurrence at all */
	int64_t *fixed;  /* COUNT rules and rule-less entries: every
	                  * start of the rule part, sorted */
	size_t n_fixed;
	bool use_fixed;  /* fixed holds the whole rule part */
	int64_t *rdates; /* RDATE instants, sorted, unique */
	size_t n_rdates;
	int64_t *exdates; /* EXDATE instants, sorted */
	size_t n_exdates;
	enum mc__end_kind end_kind;  /* how an occurrence's end is found */
	int64_t exact_ms;            /* MC__END_EXACT: DTEND - DTSTART */
	struct icaldurationtype dur; /* MC__END_NOMINAL */
	bool once_clip;              /* once mode with DTEND/DURATION: clip */
	int64_t playlist_ms;         /* sum of the playlist's durations */
	int64_t lookback_ms;         /* an occurrence containing t started
	                              * after t - lookback_ms */
};

struct mc_sched {
	const struct mc_manifest *m; /* borrowed */
	icaltimezone *zone;          /* the document's zone */
	struct mc__centry *entries;  /* one per m->entries, same order */
	size_t n_entries;
};

/* A cursor over the occurrence starts of one entry, in order. */
struct mc__occ_gen {
	const struct mc__centry *ce; /* the entry */
	icalrecur_iterator *it;      /* libical's iterator, or NULL */
	size_t fi;                   /* next index in ce->fixed */
	size_t ri;                   /* next index in ce->rdates */
	int64_t rule_next;           /* next start of the rule part, or NEVER */
	int64_t last;                /* last start returned (dedup) */
	bool have_last;              /* last is valid */
	long budget;                 /* libical iterations left */
};

/* sched_time.c */

/*
 * Parse "YYYYMMDD", "YYYYMMDDTHHMMSS" or the same with Z.  Years
 * 1900..2199.  Returns false if s is not one of those.
 */
bool mc__dt_parse(const char *s, struct mc__dt *out);

/* A zone by name; NULL if unknown.  "UTC" and "Etc/UTC" are UTC. */
icaltimezone *mc__zone(const char *tzid);

/* Floating local fields in zone to an instant (libical's conversion). */
int64_t mc__local_to_ms(icaltimezone *zone, struct icaltimetype local);

/* An instant to floating local fields of zone. */
struct icaltimetype mc__ms_to_local(icaltimezone *zone, int64_t ms);

/* An mc__dt to an instant: Z values are UTC, others local to zone. */
int64_t mc__dt_to_ms(const struct mc__dt *dt, icaltimezone *zone);

/* Floor division and modulo for negative instants. */
int64_t mc__floor_div(int64_t a, int64_t b);
int64_t mc__floor_mod(int64_t a, int64_t b);

/* sched_expand.c */

/*
 * Check and parse an RRULE into ce (rule, until, fixed/rule_empty).  On
 * failure err says "<path>: <reason>".  ce->rzone, start, start_ms,
 * is_date must be set.
 */
enum mc_err mc__rule_compile(struct mc__centry *ce, const char *rrule,
                             const char *path, struct mc_error *err);

/* Start a cursor that yields every start >= from_ms (maybe some earlier). */
void mc__occ_init(struct mc__occ_gen *g, const struct mc__centry *ce,
                  int64_t from_ms);

/* The next occurrence start; false when there is none (or budget ran out). */
bool mc__occ_next(struct mc__occ_gen *g, int64_t *start_ms);

void mc__occ_done(struct mc__occ_gen *g);

/* The end of the occurrence of ce that starts at start_ms. */
int64_t mc__occ_end(const struct mc__centry *ce, int64_t start_ms);

#endif
