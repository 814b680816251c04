/* Interim: the fleet module is being written (see mqtt.c). */
#include <stddef.h>

#include "minecast/codec.h"

#include "fleet.h"
#include "http.h"

enum mc_err mcc_fleet_start(struct mcc *c, struct mc_error *err)
{
	(void)c;
	(void)err;
	return MC_OK;
}

void mcc_fleet_stop(struct mcc *c)
{
	(void)c;
}

void mcc_fleet_on_state(struct mcc *c, const struct mc_state *s)
{
	(void)c;
	(void)s;
}

void mcc_fleet_on_health(struct mcc *c, const struct mc_health *h)
{
	(void)c;
	(void)h;
}

void mcc_fleet_on_pop(struct mcc *c, struct mc_pop_batch *b)
{
	(void)c;
	mc_pop_batch_clear(b);
}

void mcc_fleet_metrics(struct mcc *c, sqlite3 *db, json_t *out)
{
	(void)c;
	(void)db;
	(void)out;
}

void mcc_fleet_tick(struct mcc *c)
{
	(void)c;
}

const struct mcc_route mcc_fleet_routes[] = {
        {NULL, NULL, 0, 0, 0, NULL},
};
