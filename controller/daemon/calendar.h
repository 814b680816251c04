/*
 * Playlists and schedule entries (RFC 5545 events with targets, priority,
 * layer, channel and mode); import and export of campaign files and of
 * iCalendar; and "what will node or site X play on day D", answered by
 * compiling that place's manifest (publish.h) and running the common
 * schedule engine on it, the same code the players run.
 *
 *   /v1/playlists[/{id}], /v1/entries[/{id}]
 *   POST /v1/import/campaign (campaign JSON; assets already uploaded or
 *        given inline as base64), POST /v1/import/ics
 *   GET /v1/export/campaign, GET /v1/export/ics
 *   GET /v1/preview?node=|site=&date=YYYY-MM-DD[&drafts=1]
 */
#ifndef MCC_CALENDAR_H
#define MCC_CALENDAR_H

#include "route.h"

extern const struct mcc_route mcc_calendar_routes[];

#endif
