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

void mcc_commands_on_result(struct mcc *c, const struct mc_command_result *r);

extern const struct mcc_route mcc_commands_routes[];

#endif
