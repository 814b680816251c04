/* Interim: the commands module is being written. */
#include <stddef.h>

#include "commands.h"
#include "http.h"

void mcc_commands_on_result(struct mcc *c, const struct mc_command_result *r)
{
	(void)c;
	(void)r;
}

const struct mcc_route mcc_commands_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
