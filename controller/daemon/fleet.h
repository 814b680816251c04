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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

#include "minecast/error.h"
#include "minecast/messages.h"

#include "config.h"
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

/* Where a node is: what the fleet list and the metrics count. */
enum mcc_node_status {
	MCC_NODE_NEVER = 0, /* registered, never spoke */
	MCC_NODE_ONLINE,    /* its last state said online */
	MCC_NODE_OFFLINE    /* its will (or its last state) said offline */
};

/* Flags of a node's status (bits). */
#define MCC_FLAG_STALE     0x01u /* online, but no health for stale_s */
#define MCC_FLAG_CLOCK     0x02u /* clock not synchronised or off */
#define MCC_FLAG_BEHIND    0x04u /* applied < desired for sync_behind_s */
#define MCC_FLAG_DISK_LOW  0x08u /* free disk below disk_low_pct */
#define MCC_FLAG_HOT       0x10u /* CPU temperature at or above hot_c */
#define MCC_FLAG_THROTTLED 0x20u /* Pi under-voltage/throttling now */
#define MCC_FLAG_COUNT     6

/* "stale", "clock", ... for bit i of the flags; NULL past the last. */
const char *mcc_fleet_flag_name(unsigned i);
/* "online", "offline", "never". */
const char *mcc_fleet_status_name(enum mcc_node_status s);

/*
 * What the status of one node is computed from (a node_live row, its
 * last health's numbers, its node_desired row).  Health-derived flags
 * (clock, disk_low, hot, throttled) are judged only while the node is
 * online: an offline node's last health is history.
 */
struct mcc_node_facts {
	bool seen;                /* a node_live row exists */
	bool online;              /* its last state said online */
	int64_t online_ms;        /* came online (controller clock) */
	int64_t health_ms;        /* last health received; 0 = none */
	bool has_health;          /* the fields below are from a health */
	bool has_temp;            /* cpu_temp_c is known */
	double cpu_temp_c;        /* SoC temperature */
	int64_t disk_free_bytes;  /* of the cache filesystem */
	int64_t disk_total_bytes; /* 0 = unknown */
	int64_t throttled;        /* Pi get_throttled bits; -1 = n/a */
	bool clock_synced;        /* NTP/PTP synchronised */
	double clock_offset_ms;   /* last measured offset */
	int64_t applied_version;  /* node_live.applied_version */
	int64_t desired_version;  /* node_desired.version; 0 = none */
	int64_t desired_ms;       /* when that version was issued */
};

/* Status and flags of f at now_ms under cfg's [fleet] thresholds. */
unsigned mcc_fleet_eval(const struct mcc_config *cfg,
                        const struct mcc_node_facts *f, int64_t now_ms,
                        enum mcc_node_status *status);

/*
 * Store batches in one transaction (INSERT OR IGNORE, idempotent by
 * node and record id), with site_id looked up per node.  ok[i] is set
 * true for every batch whose records are now all stored (held before or
 * inserted now); a batch of a node no longer registered is left false.
 * *inserted counts new rows.  MC_ERR_IO (logged) rolls everything back.
 */
enum mc_err mcc_fleet_pop_store(sqlite3 *db, struct mc_pop_batch *const *b,
                                size_t n, bool *ok, int64_t now_ms,
                                int64_t *inserted);

/* Status object of one node (as GET /v1/nodes/{id}/status); NULL if no
 * such node. */
json_t *mcc_fleet_status(struct mcc *c, sqlite3 *db, const char *node);

/*
 * Gauges for /metrics, set as members of out in the shape metrics.h
 * describes (read at every scrape; db is the caller's connection):
 *   "minecast_nodes{status}": {"online": N, "offline": N, "never": N}
 *   "minecast_nodes_flagged{flag}": {"stale": N, "clock": N, "behind": N,
 *                                    "disk_low": N, "hot": N,
 *                                    "throttled": N}
 *   "minecast_rollout_lag_nodes": N     nodes whose applied version is
 *                                       below their desired one
 *   "minecast_pop_records_per_second": X  stored, mean of the last 60 s
 *   "minecast_pop_queue_batches": N     batches waiting for the writer
 * Counters the fleet bumps through mcc_metrics_count:
 *   minecast_pop_records_total          records newly stored
 *   minecast_pop_batches_total{result="acked"|"dropped"}
 *   minecast_mqtt_messages_total        messages received (mqtt.c)
 *   minecast_mqtt_dropped_total{reason="malformed"|"oversized"|
 *       "unknown_topic"|"forged"|"unregistered"|"error"}  (mqtt.c)
 */
void mcc_fleet_metrics(struct mcc *c, sqlite3 *db, json_t *out);

/* Once a second: status changes (a node went stale) are logged. */
void mcc_fleet_tick(struct mcc *c);

extern const struct mcc_route mcc_fleet_routes[];

#endif
