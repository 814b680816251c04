/*
 * The editorial workflow, the same for content, playlists and entries
 * (tables content, playlists, entries share the workflow columns; see
 * migrations/003-content.sql):
 *
 *   draft ──submit──► submitted ──approve──► approved
 *     ▲                    │                     │
 *     └──── edit ◄── reject (reason) ◄───────────┘ edit = back to submitted
 *
 * doc_json is the current revision; approved_json the last approved one,
 * which is what publishing uses, so that editing approved work leaves the
 * fleet on the approved revision until the new one is approved.  An
 * approver may not approve a revision they wrote or submitted.  Every
 * transition is audited with before and after.
 */
#ifndef MCC_WORKFLOW_H
#define MCC_WORKFLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"

#include "auth.h"

#include "route.h"

enum mcc_kind { MCC_KIND_CONTENT = 0, MCC_KIND_PLAYLIST, MCC_KIND_ENTRY };

/* "content", "playlists", "entries" (table and URL segment). */
const char *mcc_kind_table(enum mcc_kind kind);
/* "content", "playlist", "entry" (audit kind). */
const char *mcc_kind_name(enum mcc_kind kind);

/* Parse "content", "playlist(s)", "entry"/"entries"; -1 when unknown. */
int mcc_kind_parse(const char *s);

/*
 * Create (doc is the new object's JSON, id its key) or edit an object,
 * inside the caller's transaction; sets status (a new object: draft, or
 * submitted when submit is true; an edit of an approved object:
 * submitted; of a rejected one: draft, or submitted when submit), author
 * (the caller: the author of this revision), rev + 1, and audits
 * before/after ("content.create", "playlist.update", ...).  The caller
 * has validated doc.  The row's own columns are set from doc: content
 * type and name; playlists name; entries name, channel and priority
 * (content's meta_json is left to content.c).  An edit whose doc equals
 * the current one changes nothing (so re-importing a campaign is
 * idempotent), except that submit still submits a draft or rejected
 * object.  A create over a deleted row of the same id revives it as a new
 * object (no approved revision).  MC_ERR_EXISTS on create of an existing
 * id, MC_ERR_NOTFOUND on edit of a missing or deleted one.
 */
enum mc_err mcc_wf_save(sqlite3 *db, const struct mcc_principal *who,
                        enum mcc_kind kind, const char *id, json_t *doc,
                        bool create, bool submit, struct mc_error *err);

/*
 * Delete an object (soft: deleted = 1, kept for the audit trail) inside
 * the caller's transaction, audited as "<kind>.delete".  Refused with
 * MC_ERR_CONFLICT naming a referrer while any live playlist (content),
 * entry (playlist), slogan bg_image (content) or the schedule fallback
 * setting (content) refers to it, in its current or approved revision.
 */
enum mc_err mcc_wf_delete(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          struct mc_error *err);

/*
 * The first live object that refers to kind/id (see mcc_wf_delete), as
 * "playlist 'pl-x'" in buf; false when none does.
 */
bool mcc_wf_referrer(sqlite3 *db, enum mcc_kind kind, const char *id, char *buf,
                     size_t len);

/*
 * An object with its workflow state, as the API shows it: every column
 * of its row (doc_json as "doc", approved_json as "approved", meta_json
 * as "meta"), "kind", and the user names "author", "submitted_by_name",
 * "reviewed_by_name".  NULL when absent or deleted.  New reference.
 */
json_t *mcc_wf_view(sqlite3 *db, enum mcc_kind kind, const char *id);

/*
 * The current doc of a live object (drafts: doc_json) or its approved
 * revision (approved_json; NULL when never approved).  New reference.
 */
json_t *mcc_wf_doc(sqlite3 *db, enum mcc_kind kind, const char *id,
                   bool approved);

/* Transitions, each in its own transaction; err names the reason
 * (MC_ERR_FORBIDDEN for self-approval, MC_ERR_CONFLICT for a wrong
 * state, MC_ERR_NOTFOUND). */
enum mc_err mcc_wf_submit(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          struct mc_error *err);
enum mc_err mcc_wf_approve(sqlite3 *db, const struct mcc_principal *who,
                           enum mcc_kind kind, const char *id,
                           struct mc_error *err);
enum mc_err mcc_wf_reject(sqlite3 *db, const struct mcc_principal *who,
                          enum mcc_kind kind, const char *id,
                          const char *reason, struct mc_error *err);

/* Routes: POST /v1/{content,playlists,entries}/{id}/{submit,approve,
 * reject}, GET /v1/review (the approval queue, with before/after). */
extern const struct mcc_route mcc_workflow_routes[];

#endif
