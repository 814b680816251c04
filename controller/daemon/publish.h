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

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"

#include "auth.h"
#include "org.h"

#include "route.h"

struct mcc;

/* Phases of a publish, timed for the report and the log. */
enum mcc_publish_phase {
	MCC_PHASE_LOAD = 0, /* approved docs, places, current pointers */
	MCC_PHASE_SELECT,   /* each node's entries, grouped */
	MCC_PHASE_COMPILE,  /* manifests built, checked, stored */
	MCC_PHASE_SIGN,     /* pointers made and signed */
	MCC_PHASE_STORE,    /* node_desired written, committed */
	MCC_PHASE_MQTT,     /* pointers handed to the broker */
	MCC_PHASE_COUNT
};

struct mcc_publish_report {
	int64_t id;            /* publishes.id */
	int64_t at_ms;         /* when it started */
	int64_t nodes;         /* nodes considered */
	int64_t changed;       /* pointers signed (new version) */
	int64_t published;     /* pointers the broker took (changed or
	                          earlier pending ones) */
	int64_t pending;       /* pointers still waiting for the broker */
	int64_t manifests;     /* distinct manifests */
	int64_t manifests_new; /* of which not stored before */
	int64_t duration_ms;   /* the whole publish, MQTT included */
	double phase_ms[MCC_PHASE_COUNT]; /* time per phase */
	json_t *skipped; /* entries and fallbacks left out, with the reason:
	                    [{"kind","id","reason"}]; owned, free with
	                    mcc_publish_report_clear() */
};

/*
 * Compile, sign, store and publish (one at a time: c->publish_lock).
 * force re-signs every node's pointer with a new version even when its
 * manifest is unchanged.  Fails with MC_ERR_CONFLICT when the controller
 * has no signing key.  The MQTT publishes happen after the commit; the
 * ones the broker did not take stay pending for the tick.  rep is filled
 * on success (clear it with mcc_publish_report_clear).
 */
enum mc_err mcc_publish(struct mcc *c, const struct mcc_principal *who,
                        bool force, struct mcc_publish_report *rep,
                        struct mc_error *err);

/* Free what rep owns; NULL is ok. */
void mcc_publish_report_clear(struct mcc_publish_report *rep);

/* The report as the API shows it (new reference). */
json_t *mcc_publish_report_json(const struct mcc_publish_report *rep);

/*
 * The manifest JSON (NUL-terminated, caller frees) that place would get:
 * approved revisions only, or the current revisions of everything not
 * deleted when drafts is true (editors' preview).  place->node may be
 * NULL (a site-wide question).  Entries whose playlist or content is
 * missing (not approved, deleted) are left out, as a publish does; with
 * skipped non-NULL they are listed there ([{"kind","id","reason"}], new
 * reference).
 */
enum mc_err mcc_compile_place(struct mcc *c, sqlite3 *db,
                              const struct mcc_place *place, bool drafts,
                              char **json, struct mc_error *err);
enum mc_err mcc_compile_place_ex(struct mcc *c, sqlite3 *db,
                                 const struct mcc_place *place, bool drafts,
                                 char **json, json_t **skipped,
                                 struct mc_error *err);

/*
 * Once a second (tick thread): re-sign pointers within
 * cfg.resign_before_s of their expiry (new version, same manifest) and
 * hand pending pointers to the broker again.  Skips its turn while a
 * publish runs.
 */
void mcc_publish_tick(struct mcc *c);

/* Routes: POST /v1/publish, GET /v1/publishes, GET /v1/rollout,
 * GET /v1/nodes/{id}/desired. */
extern const struct mcc_route mcc_publish_routes[];

#endif
