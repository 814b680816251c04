/*
 * /metrics (Prometheus text format 0.0.4) and /healthz.
 *
 * Request latency is a histogram per route pattern, recorded by http.c;
 * the rest (nodes by status, rollout lag, proof-of-play records ingested,
 * MQTT connected) is read when scraped.
 */
#ifndef MCC_METRICS_H
#define MCC_METRICS_H

#include <stdint.h>

#include "route.h"

struct mcc;

enum mc_err mcc_metrics_init(struct mcc *c);
void mcc_metrics_free(struct mcc *c);
/* Thread-safe. */
void mcc_metrics_request(struct mcc *c, const char *pattern, int status,
                         double seconds);
/*
 * Counters other modules bump (thread-safe).  name is the Prometheus
 * metric name, ending in _total, optionally with labels:
 *   mcc_metrics_count(c, "minecast_pop_records_total", n);
 *   mcc_metrics_count(c, "minecast_mqtt_dropped_total{reason=\"bad\"}", 1);
 * Counters of one name with different labels should be bumped first in
 * a fixed order at start (count 0) so that they print together.
 */
void mcc_metrics_count(struct mcc *c, const char *name, int64_t n);

/* The current value of a counter (tests). */
int64_t mcc_metrics_counter(struct mcc *c, const char *name);

/*
 * The shape mcc_fleet_metrics (fleet.h) fills: a flat JSON object of
 * gauges, read at every scrape.
 *   "minecast_nodes_total": 12                 → minecast_nodes_total 12
 *   "minecast_nodes{status}": {"online": 10, "offline": 2}
 *        → minecast_nodes{status="online"} 10, ...{status="offline"} 2
 * A key is a metric name ([A-Za-z_:][A-Za-z0-9_:]*), with one label
 * name in braces when its value is an object of label value → number.
 * Anything else is skipped.
 */

extern const struct mcc_route mcc_metrics_routes[];

#endif
