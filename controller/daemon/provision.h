/*
 * Provisioning a node: register it, make its MQTT credentials (a random
 * password, added to the mosquitto password file with mosquitto_passwd
 * and to the ACL file's per-node block), run the configured reload
 * command, and hand back the player's config bundle (player.conf with the
 * node id, broker, password and HTTP base, plus trusted.pub).
 *
 * POST /v1/nodes/{id}/provision returns the bundle as JSON
 * {"node":..., "files": {"player.conf": "...", "trusted.pub": "..."}};
 * calling it again rotates the password.
 */
#ifndef MCC_PROVISION_H
#define MCC_PROVISION_H

#include "minecast/error.h"

#include "route.h"

struct mcc;

/* Rewrite the ACL file from the nodes table (all nodes), atomically. */
enum mc_err mcc_provision_write_acl(struct mcc *c, struct mc_error *err);

extern const struct mcc_route mcc_provision_routes[];

#endif
