/*
 * Playlists and schedule entries (RFC 5545 events with targets, priority,
 * layer, channel and mode); import and export of campaign files and of
 * iCalendar; and "what will node or site X play on day D", answered by
 * compiling that place's manifest (publish.h) and running the common
 * schedule engine on it, the same code the players run.
 *
 *   /v1/playlists[/{id}], /v1/entries[/{id}]      CRUD (workflow.h)
 *   GET|PUT /v1/settings/schedule                 timezone and fallback
 *   POST /v1/import/campaign  {"campaign": ..., "submit": bool}: assets
 *        already uploaded (POST /v1/blobs) and named by sha256
 *   POST /v1/import/ics?playlist=&channel=&submit=   text/calendar
 *   GET /v1/export/campaign[?drafts=1], GET /v1/export/ics[?drafts=1]
 *   GET /v1/preview?node=|site=&date=YYYY-MM-DD[&drafts=1]
 *
 * docs/api.md documents every endpoint.  The pure parts
 * (the iCalendar reader and writer, the campaign mapping) are declared
 * here so that unit tests and the fuzz harness call them directly.
 */
#ifndef MCC_CALENDAR_H
#define MCC_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "minecast/error.h"

#include "route.h"

/* Largest iCalendar body accepted (POST /v1/import/ics). */
#define MCC_ICS_MAX_BYTES (1024u * 1024u)
/* Most VEVENTs one import may hold (the manifest's entry limit). */
#define MCC_ICS_MAX_EVENTS 10000

/* How mcc_ics_parse fills what an event does not say. */
struct mcc_ics_opts {
	const char *playlist; /* every event without X-MINECAST-PLAYLIST plays
	                         this playlist; NULL: such an event gets a
	                         slogan (speech on the speaker) made of its
	                         SUMMARY and DESCRIPTION and a one-item
	                         playlist, both with the entry's id */
	const char *channel;  /* channel of events without X-MINECAST-CHANNEL;
	                         NULL = "screen" */
};

/*
 * Read an iCalendar text (RFC 5545, as calendar tools write it: folded
 * lines, CRLF or LF, VTIMEZONE, TZID parameters) into schedule documents.
 *
 * Every VEVENT (except STATUS:CANCELLED ones) becomes an entry in
 * manifest form (docs/manifest.md §7): UID → id (characters outside
 * [A-Za-z0-9._-] become '-', long ones are shortened with a hash, repeats
 * get "-2", "-3"...), SUMMARY → name, DTSTART/DTEND/DURATION/RRULE/RDATE/
 * EXDATE with their TZID (an IANA name, found also behind
 * "/vendor/.../Area/City" prefixes, a VTIMEZONE's X-LIC-LOCATION or a
 * common Windows zone name; any other VTIMEZONE is applied and the times
 * written in UTC), and X-MINECAST-PLAYLIST, -CHANNEL, -PRIORITY, -LAYER,
 * -MODE, -FOUNDED, -TARGETS (a JSON object), -STANDING.  An event with a
 * RECURRENCE-ID becomes its own entry and removes that occurrence from
 * its master (EXDATE).  Field values are copied as written; the manifest
 * codec checks them afterwards.
 *
 * *out (new reference) is {"content": [...], "playlists": [...],
 * "entries": [...], "sources": {"content": [n...], "playlists": [n...],
 * "entries": [n...]}, "events": [{"line": L, "uid": U}...]}: sources
 * give, for each document, the index in events of the VEVENT it came
 * from, so that the caller's later errors can name the event.
 *
 * Refused, with nothing returned: more than MCC_ICS_MAX_BYTES
 * (MC_ERR_TOO_LARGE), NUL bytes or invalid UTF-8, a text that is not one
 * VCALENDAR, unbalanced or truncated BEGIN/END (named with its line), a
 * line libical cannot read, no VEVENT, an event without DTSTART or with an
 * unusable zone or X-MINECAST value.  Messages start with "ics: " or
 * "VEVENT n (line L): ".
 */
enum mc_err mcc_ics_parse(const char *buf, size_t len,
                          const struct mcc_ics_opts *opts, json_t **out,
                          struct mc_error *err);

/*
 * Write entries (an array of entry docs in manifest form) as an
 * iCalendar text that mcc_ics_parse reads back to the same docs: floating
 * times stay floating, zones are written as TZID with a VTIMEZONE each,
 * minecast's own fields as X-MINECAST-* properties, and a standing entry
 * as an all-day event on 1970-01-01 marked X-MINECAST-STANDING.
 * name is the calendar's X-WR-CALNAME (may be NULL), zone its
 * X-WR-TIMEZONE.  *out is malloc'd, NUL-terminated, CRLF line ends.
 */
enum mc_err mcc_ics_export(const json_t *entries, const char *name,
                           const char *zone, char **out, struct mc_error *err);

/*
 * Check a campaign as the import takes it ("format":
 * "minecast-campaign/1", image and audio items named by sha256 and size
 * instead of src) with the manifest codec and the schedule compiler, and
 * map it into the documents the controller stores: *out (new reference)
 * is {"content": [...], "playlists": [...], "entries": [...],
 * "timezone": zone or null, "fallback": {"screen", "speaker"} or null},
 * every document in the codec's canonical form (defaults written, keys
 * sorted; content without src, with url "/v1/content/<sha256>"; entry
 * targets keeping "groups" and "companies").  Errors name the field from
 * the campaign root ("content[3].sha256: ...").
 */
enum mc_err mcc_campaign_docs(const json_t *campaign, json_t **out,
                              struct mc_error *err);

extern const struct mcc_route mcc_calendar_routes[];

#endif
