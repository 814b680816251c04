/*
 * Publishing: approved content, playlists and entries → one manifest per
 * distinct audience → a signed pointer per node, published retained.
 *
 * For each node, the entries whose targets select it (org.h) and the
 * playlists and content they use make its manifest (targets dropped:
 * already resolved; no node field).  Nodes that select the same entries
 * share one manifest, stored once in the blob store.  A node whose
 * manifest is unchanged keeps its pointer (republish only what changed)
 * unless force; a changed node gets version + 1, signed with the
 * controller's key, published retained on node/<id>/desired.  The tick
 * re-signs pointers nearing expiry and retries publishes that failed
 * while the broker was away.
 */
#ifndef MCC_PUBLISH_H
#define MCC_PUBLISH_H

#include <stdbool.h>
#include <stdint.h>

#include <sqlite3.h>

#include "minecast/error.h"

#include "auth.h"
#include "org.h"

#include "route.h"

struct mcc;

struct mcc_publish_report {
	int64_t id;            /* publishes.id */
	int64_t nodes;         /* nodes considered */
	int64_t changed;       /* pointers signed and published */
	int64_t manifests;     /* distinct manifests */
	int64_t manifests_new; /* of which not stored before */
	int64_t duration_ms;
};

enum mc_err mcc_publish(struct mcc *c, const struct mcc_principal *who,
                        bool force, struct mcc_publish_report *rep,
                        struct mc_error *err);

/*
 * The manifest JSON (NUL-terminated, caller frees) that place would get:
 * approved revisions only, or the current revisions of everything not
 * deleted when drafts is true (editors' preview).
 */
enum mc_err mcc_compile_place(struct mcc *c, sqlite3 *db,
                              const struct mcc_place *place, bool drafts,
                              char **json, struct mc_error *err);

void mcc_publish_tick(struct mcc *c);

/* Routes: POST /v1/publish, GET /v1/publishes, GET /v1/rollout. */
extern const struct mcc_route mcc_publish_routes[];

#endif
