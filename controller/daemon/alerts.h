/*
 * Urgent broadcast.  POST /v1/alerts (roles admin, technician, approver;
 * body must carry "confirm": true) signs one alert with its targets
 * (groups/companies expanded to sites), start_at = now + [alerts]
 * lead_ms, and publishes it retained on alert/<id> once for the whole
 * fleet.  The nodes the targets select at that moment are recorded;
 * their delivered/started/rejected acks are tracked per node.
 * POST /v1/alerts/{id}/clear publishes seq + 1 with clear = true.
 */
#ifndef MCC_ALERTS_H
#define MCC_ALERTS_H

#include "minecast/messages.h"

#include "route.h"

struct mcc;

void mcc_alerts_on_ack(struct mcc *c, const struct mc_alert_ack *a);
/* Expired alerts: the retained message is deleted (empty payload). */
void mcc_alerts_tick(struct mcc *c);

extern const struct mcc_route mcc_alerts_routes[];

#endif
