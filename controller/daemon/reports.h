/*
 * Proof-of-play reports: plays and seconds by content × site × day, and
 * by content × site × month; JSON or CSV (the report the propaganda
 * office sends upward).  GET /v1/reports/pop?from=YYYY-MM-DD&to=...&
 * by=day|month&format=csv|json (days in the controller's zone).
 */
#ifndef MCC_REPORTS_H
#define MCC_REPORTS_H

#include "route.h"

extern const struct mcc_route mcc_reports_routes[];

#endif
