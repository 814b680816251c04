/*
 * Node commands: POST /v1/nodes/{id}/commands {"action": "restart", ...}
 * (technician) signs a command envelope and publishes it on
 * node/<id>/cmd; the result arrives on cmd/result.  Screenshots: the node
 * uploads POST /v1/nodes/{id}/screenshots?command=<id> (node basic auth);
 * kept per node, listed and served back to technicians.
 */
#ifndef MCC_COMMANDS_H
#define MCC_COMMANDS_H

#include "minecast/messages.h"

#include "route.h"

struct mcc;

/*
 * A node's result (parsed, node-checked by mqtt.c): the command becomes
 * ok or failed with the node's message.  A result for a command that is
 * not this node's, or already answered, is logged and ignored.
 */
void mcc_commands_on_result(struct mcc *c, const struct mc_command_result *r);

/*
 * Once a second (from mcc_fleet_tick): commands past their expiry without
 * a result become "expired"; pending ones (signed while the broker was
 * unreachable) are published.
 */
void mcc_commands_tick(struct mcc *c);

/*
 * A deleted node's screenshot files (its rows went with it, by cascade):
 * <shot_dir>/<node>/ and everything in it.  Called after the delete is
 * committed; a file that cannot be removed is logged and left.
 */
void mcc_shots_forget(struct mcc *c, const char *node);

extern const struct mcc_route mcc_commands_routes[];

#endif
