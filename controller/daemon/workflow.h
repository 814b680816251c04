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

/*
 * Create (doc is the new object's JSON, id its key) or edit an object,
 * inside the caller's transaction; sets status (a new object: draft, or
 * submitted when submit is true; an edit of an approved object:
 * submitted), author, rev + 1, and audits before/after.  MC_ERR_EXISTS on
 * create of an existing id.
 */
enum mc_err mcc_wf_save(sqlite3 *db, const struct mcc_principal *who,
                        enum mcc_kind kind, const char *id, json_t *doc,
                        bool create, bool submit, struct mc_error *err);

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
