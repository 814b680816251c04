/*
 * Proof-of-play reports: plays and seconds by content × site × day, and
 * by content × site × month; JSON or CSV (the report the propaganda
 * office sends upward).  GET /v1/reports/pop?from=YYYY-MM-DD&to=...&
 * by=day|month&site=&content=&format=csv|json (days in the controller's
 * zone: settings "timezone", default Asia/Ho_Chi_Minh).
 *
 * A play counts on the local day (or month) of its start.  plays is the
 * sum of the records' count; completed the plays not interrupted;
 * seconds the time played by single records (a summary record, count > 1,
 * made by a node whose outbox overflowed, knows its plays but not their
 * lengths: its plays are also counted in summarised).
 */
#ifndef MCC_REPORTS_H
#define MCC_REPORTS_H

#include <stdbool.h>

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"

#include "route.h"

/* What a report covers.  Strings are borrowed. */
struct mcc_report_query {
	const char *from;     /* first local day, "YYYY-MM-DD" */
	const char *to;       /* last local day (inclusive), "YYYY-MM-DD" */
	bool by_month;        /* false: one row per day */
	const char *site;     /* only this site; NULL = all */
	const char *content;  /* only this content; NULL = all */
	const char *timezone; /* IANA zone of the days; NULL = the default */
};

/* Longest range a report may cover, in days. */
#define MCC_REPORT_MAX_DAYS 3660

/*
 * Aggregate db's pop table.  *out (new reference) is
 *   {"from", "to", "by": "day"|"month", "timezone", "items": [{"period":
 *    "2023-11-12" | "2023-11", "content", "content_name", "site",
 *    "site_name", "plays", "completed", "seconds", "summarised"}, ...],
 *    "totals": {"plays", "completed", "seconds", "summarised"}}
 * with items sorted by period, content, site.  Bad dates or range fail
 * with MC_ERR_RANGE naming the field ("from: ..."); an unknown zone with
 * MC_ERR_TZ.
 */
enum mc_err mcc_report_pop(sqlite3 *db, const struct mcc_report_query *q,
                           json_t **out, struct mc_error *err);

/*
 * The report as CSV (RFC 4180: CRLF, fields quoted when they hold a
 * comma, quote or line break, quotes doubled), UTF-8, with a header row:
 *   day|month,content,content_name,site,site_name,plays,completed,
 *   seconds,summarised
 * Caller frees; NULL on allocation failure.
 */
char *mcc_report_csv(const json_t *report, size_t *len);

extern const struct mcc_route mcc_reports_routes[];

#endif
