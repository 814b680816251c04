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
/* Counters other modules bump (thread-safe). */
void mcc_metrics_count(struct mcc *c, const char *name, int64_t n);

extern const struct mcc_route mcc_metrics_routes[];

#endif
