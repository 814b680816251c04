/*
 * The fleet: what every node says about itself, and its status.
 *
 * Ingest (called from the MQTT thread with parsed, node-checked messages):
 * state → node_live (online, boot, applied version, sync); health →
 * node_live.health_json; pop batches → the pop table, committed, then
 * acknowledged on node/<id>/pop/ack with the ids now stored (idempotent:
 * ids already held are acknowledged again).
 *
 * Status of a node, from thresholds in [fleet] config: online | offline
 * (since) | never seen; flags stale, clock, behind, disk_low, hot,
 * throttled.  GET /v1/fleet lists them; GET /v1/nodes/{id}/status shows
 * one with its last health.
 */
#ifndef MCC_FLEET_H
#define MCC_FLEET_H

#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"
#include "minecast/messages.h"

#include "route.h"

struct mcc;

/*
 * Start the proof-of-play writer thread (mcc_mqtt_start calls it before
 * it connects) and stop it, draining what is queued (mcc_mqtt_stop calls
 * it after the network thread ended).  Without a writer, batches are
 * stored and acknowledged at once on the caller's thread.
 */
enum mc_err mcc_fleet_start(struct mcc *c, struct mc_error *err);
void mcc_fleet_stop(struct mcc *c);

void mcc_fleet_on_state(struct mcc *c, const struct mc_state *s);
void mcc_fleet_on_health(struct mcc *c, const struct mc_health *h);
/*
 * Queue a parsed, node-checked batch for the writer.  Takes the batch's
 * contents over: *b is left cleared.  When the queue stays full the batch
 * is dropped unacknowledged (logged); its node sends it again.
 */
void mcc_fleet_on_pop(struct mcc *c, struct mc_pop_batch *b);

/* Status object of one node (as GET /v1/nodes/{id}/status); NULL if no
 * such node. */
json_t *mcc_fleet_status(struct mcc *c, sqlite3 *db, const char *node);

/*
 * Counts for /metrics, set as members of the JSON object out (metrics.c
 * turns them into Prometheus series):
 *   "nodes_by_status": {"online": N, "offline": N, "never": N}
 *       → minecast_nodes{status="online"} N ...
 *   "nodes_by_flag": {"stale": N, "clock": N, "behind": N, "disk_low": N,
 *                     "hot": N, "throttled": N}
 *       → minecast_nodes_flagged{flag="stale"} N ...
 *   "rollout_lag_nodes": N   nodes whose applied version is below their
 *                            desired version (any duration)
 *       → minecast_rollout_lag_nodes N
 *   "pop_records_ingested_total": N   records committed since start
 *       → minecast_pop_records_ingested_total N (counter)
 *   "pop_records_per_second": X   mean over the last 60 s
 *       → minecast_pop_records_per_second X (gauge)
 *   "pop_batches_dropped_total": N   batches not stored (queue full,
 *                                    database error); nodes re-send
 * db is the caller's connection (read only).
 */
void mcc_fleet_metrics(struct mcc *c, sqlite3 *db, json_t *out);

/* Once a second: status changes (a node went stale) are logged. */
void mcc_fleet_tick(struct mcc *c);

extern const struct mcc_route mcc_fleet_routes[];

#endif
