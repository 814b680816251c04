/*
 * Provisioning a node: make its MQTT credentials (a random password,
 * added to the mosquitto password file with mosquitto_passwd; the ACL
 * file's pattern block covers every node), run the configured reload
 * command, and hand back the player's config bundle (player.conf with the
 * node id, site, tags, broker, password and HTTP base, plus trusted.pub).
 * The password's SHA-256 (lower-case hex of the 43-character base64url
 * text) goes to nodes.secret_sha256: nodes use the same password for
 * HTTP basic auth.
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

/*
 * Rewrite the ACL file ([provision] mosquitto_acl) atomically, unless it
 * already says the same: the pattern block of docs/protocol.md §3.2 for
 * every node (user name = node id), the controller's own user block, and
 * everything below the "local additions" marker line kept as it was (a
 * file without the marker is kept whole below it the first time).
 */
enum mc_err mcc_provision_write_acl(struct mcc *c, struct mc_error *err);

/*
 * At start (before the MQTT client connects): add the controller's own
 * [mqtt] user to the password file when it is missing, bring the ACL
 * file up to date, and run the reload command if either changed.
 */
enum mc_err mcc_provision_sync(struct mcc *c, struct mc_error *err);

/*
 * A node is being deleted: remove its user from the password file and
 * reload the broker.  Called inside the deleting transaction, so that a
 * failure (reported in err, MC_ERR_IO) keeps the node.  Nothing to do
 * when no password file is configured.
 */
enum mc_err mcc_provision_forget(struct mcc *c, const char *node,
                                 struct mc_error *err);

extern const struct mcc_route mcc_provision_routes[];

#endif
