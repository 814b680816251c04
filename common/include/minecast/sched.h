/*
 * minecast — the schedule engine.
 *
 * One engine answers two questions with the same code: on a node, "what
 * plays on this channel now, and when does that change"; on the
 * controller, "what will site X play on day D".  docs/schedule.md is the
 * specification; every numbered rule there has a unit test in
 * tests/unit/test_sched*.c.
 *
 * Entries are RFC 5545 events.  Recurrence is expanded by libical
 * (icalrecur_iterator) and local times are converted with libical's
 * icaltimezone, loaded from the system zoneinfo.  A schedule is compiled
 * once (mc_sched_new parses every DTSTART, RRULE, RDATE, EXDATE, DURATION
 * and zone and reports the first bad one), then queried many times.
 *
 * All instants are int64 milliseconds since the Unix epoch (UTC).
 */
#ifndef MINECAST_SCHED_H
#define MINECAST_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/model.h"

/* "Never": no further change, an open end. */
#define MC_SCHED_NEVER INT64_MAX

/* Largest COUNT accepted in an RRULE (occurrences are kept in memory). */
#define MC_SCHED_MAX_COUNT 100000

/* Default zone of documents that do not name one. */
#define MC_SCHED_DEFAULT_TZ "Asia/Ho_Chi_Minh"

/* A compiled schedule; opaque.  Borrows the manifest it was built from. */
struct mc_sched;

/* What the caller knows about the node at query time. */
struct mc_sched_opts {
	/*
	 * The wall clock is known to be right (NTP/PTP synchronised).  When
	 * false only standing entries play: "dated items wait".
	 */
	bool clock_synced;
	/*
	 * Is this content playable here (all assets present and verified)?
	 * NULL means everything is ready.  Called with ready_ud.
	 */
	bool (*ready)(const struct mc_content *content, void *ud);
	void *ready_ud; /* passed to ready */
	/*
	 * Has the caller already played this occurrence of a dated entry and
	 * must not play it again?  A node uses it so that an at-time item is
	 * not played twice when the clock steps back over it.  The
	 * occurrence is then not a candidate.  NULL means never.
	 */
	bool (*skip)(const struct mc_entry *entry, int64_t occ_start_ms,
	             void *ud);
	void *skip_ud; /* passed to skip */
};

/* What a channel does at an instant. */
enum mc_now_kind {
	MC_NOW_SCHEDULED = 0, /* an entry's item plays */
	MC_NOW_FALLBACK,      /* nothing scheduled: the fallback content */
	MC_NOW_IDLE           /* nothing at all: built-in screen, silence */
};

/* Why a channel is not playing a scheduled item. */
enum mc_now_reason {
	MC_REASON_NONE = 0, /* it is (kind MC_NOW_SCHEDULED) */
	MC_REASON_IDLE,     /* nothing is scheduled for this node now */
	MC_REASON_CLOCK     /* dated entries wait for a synchronised clock */
};

/*
 * The answer of mc_sched_now().  Fields marked "scheduled" are meaningful
 * only when kind is MC_NOW_SCHEDULED.  Clear with mc_now_clear().
 */
struct mc_now {
	enum mc_now_kind kind;            /* scheduled, fallback or idle */
	enum mc_now_reason reason;        /* why not scheduled (or NONE) */
	const struct mc_entry *entry;     /* scheduled: whose item plays */
	size_t entry_index;               /* scheduled: index in m->entries */
	const struct mc_content *content; /* the item's content, the
	                                   * fallback content, or NULL when
	                                   * idle; borrowed from the manifest */
	const struct mc_item *item;       /* scheduled: the playlist item */
	size_t item_index;                /* scheduled: index in its playlist */
	size_t seq_index;                 /* scheduled: position in the played
	                                   * sequence (interleaved if shared) */
	size_t seq_len;                   /* scheduled: items in the sequence */
	int64_t item_start_ms;            /* scheduled: when this item began */
	int64_t item_end_ms;    /* scheduled: when it ends naturally */
	int64_t occ_start_ms;   /* scheduled: the entry's occurrence
	                         * [start, end); standing: [0, NEVER) */
	int64_t occ_end_ms;     /* scheduled: end of that occurrence */
	int64_t anchor_ms;      /* scheduled: the instant the
	                         * sequence is clocked from */
	int64_t next_change_ms; /* re-evaluate then (> t; NEVER if
	                         * nothing will change) */
	int64_t segment_end_ms; /* next change of the candidates
	                         * themselves, item ends left out;
	                         * for previews (>= next_change_ms) */
	size_t *group;          /* scheduled: indices of the entries
	                         * sharing the channel, document
	                         * order (one for an interrupt);
	                         * owned */
	size_t n_group;         /* entries in group */
	char *text;             /* content text with {years} {since}
	                         * {date} resolved, or NULL; owned */
};

/*
 * Compile every entry of m.
 *
 * Parameters: m, a parsed manifest or campaign, which must outlive the
 * schedule; err, filled on failure with "entries[2].rrule: FREQ is
 * missing" style messages (MC_ERR_TZ for an unknown zone).
 * Returns the schedule (free with mc_sched_free) or NULL on failure.
 */
struct mc_sched *mc_sched_new(const struct mc_manifest *m,
                              struct mc_error *err);

/* Free a schedule.  NULL is allowed. */
void mc_sched_free(struct mc_sched *s);

/*
 * What plays on channel ch for node who at instant t_ms.
 *
 * Parameters: who, the node (NULL: ignore targets, every entry applies —
 * for previews of a whole campaign); opts, NULL for a synchronised clock
 * and every content ready; out, filled (clear it with mc_now_clear).
 * Returns MC_OK, MC_ERR_INVAL for a bad channel, MC_ERR_NOMEM.
 */
enum mc_err mc_sched_now(const struct mc_sched *s, const struct mc_who *who,
                         enum mc_channel ch, int64_t t_ms,
                         const struct mc_sched_opts *opts, struct mc_now *out);

/* Free what an mc_now owns and zero it.  NULL is allowed. */
void mc_now_clear(struct mc_now *now);

/*
 * Call cb for every occurrence [start, end) of entry (index into
 * m->entries) that overlaps [from_ms, to_ms), in start order.  A standing
 * entry has the one occurrence [0, MC_SCHED_NEVER).  cb returns false to
 * stop.  Returns MC_OK or MC_ERR_INVAL (bad index).
 */
enum mc_err mc_sched_occurrences(
        const struct mc_sched *s, size_t entry, int64_t from_ms, int64_t to_ms,
        bool (*cb)(int64_t start_ms, int64_t end_ms, void *ud), void *ud);

/*
 * Resolve the templates of content's text as entry (index, or SIZE_MAX for
 * fallback content: no founded year, the document's zone) shows it when
 * its occurrence starts at date_ms.  *out is NULL when the content has no
 * text, else a string the caller frees.  Returns MC_OK or MC_ERR_NOMEM.
 */
enum mc_err mc_sched_text(const struct mc_sched *s, size_t entry,
                          const struct mc_content *content, int64_t date_ms,
                          char **out);

/*
 * Break t_ms into the local date and time of entry's zone (SIZE_MAX: the
 * document's zone).  Any out-pointer may be NULL.
 */
void mc_sched_local(const struct mc_sched *s, size_t entry, int64_t t_ms,
                    int *year, int *month, int *day, int *hour, int *minute,
                    int *second);

/*
 * The instant of local midnight starting year-month-day in the
 * document's zone (libical's conversion).  Returns MC_ERR_RANGE for an
 * impossible date.
 */
enum mc_err mc_sched_local_midnight(const struct mc_sched *s, int year,
                                    int month, int day, int64_t *out_ms);

/*
 * Expand a recurrence for minecastctl schedule expand and tests: the
 * occurrence starts of DTSTART dtstart (basic format, local to tzid, or
 * UTC with a trailing Z, or a DATE) and RRULE rrule, at most limit of
 * them.  For each, cb gets the instant and the start formatted like
 * dtstart ("19970902T090000", "...Z", or "19970902"); it returns false to
 * stop.  tzid NULL means MC_SCHED_DEFAULT_TZ.
 * Returns MC_OK or an error whose message names "--dtstart", "--rrule"
 * or "--tz" (MC_ERR_PARSE, MC_ERR_RANGE, MC_ERR_TZ).
 */
enum mc_err mc_sched_expand(const char *dtstart, const char *tzid,
                            const char *rrule, size_t limit,
                            bool (*cb)(int64_t start_ms, const char *start,
                                       void *ud),
                            void *ud, struct mc_error *err);

#endif
