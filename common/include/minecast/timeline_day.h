/*
 * minecast — one day of a schedule, per channel, as previews show it.
 *
 * `minecastctl schedule preview` (offline, a campaign file) and the
 * controller's GET /v1/preview (a node's or site's compiled manifest) both
 * answer "what plays on day D": they walk the day with mc_sched_now(), the
 * engine the players run, merge the instants with the same winners into
 * segments, and list each segment's items with their texts resolved for
 * that day ({years}, {since}, {date}).  This module does that walk once
 * for both; they differ only in how they print it.
 */
#ifndef MINECAST_TIMELINE_DAY_H
#define MINECAST_TIMELINE_DAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/model.h"
#include "minecast/sched.h"

/* One item of a segment, in the order it plays. */
struct mc_day_item {
	size_t entry;                     /* index in m->entries; SIZE_MAX
	                                   * for the fallback content */
	const struct mc_item *item;       /* the playlist item; NULL for the
	                                   * fallback */
	const struct mc_content *content; /* what plays; borrowed (may be
	                                   * NULL for an unresolved item) */
	const char *content_id;           /* its id; borrowed */
	int64_t at_ms;                    /* once entries: the instant the
	                                   * item starts; otherwise -1 */
	int64_t duration_ms;              /* the item's length; 0 for the
	                                   * fallback */
	char *text;                       /* the content's text with its
	                                   * templates resolved for this
	                                   * day, or NULL; owned */
};

/* A stretch of the day with the same winners. */
struct mc_day_seg {
	int64_t from_ms, to_ms;           /* [from, to), clipped to the day */
	enum mc_now_kind kind;            /* scheduled, fallback or idle */
	enum mc_now_reason reason;        /* why not scheduled (or NONE) */
	const struct mc_content *content; /* fallback: its content */
	size_t *group;                    /* scheduled: entries sharing the
	                                   * channel, document order; owned */
	size_t n_group;
	int64_t occ_start_ms; /* once: the occurrence start */
	int64_t anchor_ms;    /* the instant the sequence is clocked from */
	bool once;            /* a single once-mode entry: items have at_ms */
	struct mc_day_item *items; /* scheduled: the played sequence (loop:
	                            * one cycle, interleaved when shared;
	                            * once: the playlist); fallback: its one
	                            * content; idle: none.  Owned. */
	size_t n_items;
};

/* The segments of one channel, in time order, covering the whole day. */
struct mc_day_channel {
	struct mc_day_seg *segs; /* owned */
	size_t n_segs;
};

struct mc_day {
	int year, month, day;                  /* the local date */
	int64_t from_ms, to_ms;                /* local midnight to the next */
	struct mc_day_channel ch[MC_CH_COUNT]; /* per channel */
};

/*
 * "YYYY-MM-DD" of a day the engine handles (1900-01-01 .. 2198-12-31,
 * existing in the Gregorian calendar).  Returns false otherwise.
 */
bool mc_day_parse_date(const char *s, int *year, int *month, int *day);

/*
 * Walk year-month-day (local in the document's zone) on every channel.
 *
 * Parameters: m and s, a manifest and its compiled schedule; who, the
 * node (NULL: targets ignored, every entry applies); opts as for
 * mc_sched_now (NULL: clock synchronised, everything ready); out, filled
 * (clear it with mc_day_clear, also after a failure).
 * Returns MC_OK, MC_ERR_RANGE for an impossible date, MC_ERR_NOMEM.
 */
enum mc_err mc_day_build(const struct mc_manifest *m, const struct mc_sched *s,
                         int year, int month, int day, const struct mc_who *who,
                         const struct mc_sched_opts *opts, struct mc_day *out);

/* Free what a day owns and zero it.  NULL is allowed. */
void mc_day_clear(struct mc_day *day);

#endif
