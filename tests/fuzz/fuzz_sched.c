/*
 * Fuzz the schedule engine: parse a campaign or manifest from the input,
 * compile it (RRULE, DTSTART, zones, durations from outside), and ask
 * what plays at a few instants on both channels, with and without a
 * synchronised clock, following next_change a few steps as a player does.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "minecast/codec.h"
#include "minecast/sched.h"
#include "minecast/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every other content is "not ready", to exercise rule 6. */
static bool half_ready(const struct mc_content *c, void *ud)
{
	(void)ud;
	return c->id && (strlen(c->id) & 1);
}

static void query(struct mc_sched *s, const struct mc_who *who, int64_t t,
                  const struct mc_sched_opts *o)
{
	for (int ch = 0; ch < MC_CH_COUNT; ch++) {
		int64_t at = t;

		for (int step = 0; step < 4; step++) {
			struct mc_now n;

			if (mc_sched_now(s, who, (enum mc_channel)ch, at, o,
			                 &n) != MC_OK)
				break;
			/* The engine promises progress. */
			if (n.next_change_ms <= at)
				__builtin_trap();
			at = n.next_change_ms;
			mc_now_clear(&n);
			if (at == MC_SCHED_NEVER)
				break;
		}
	}
}

static bool count_occ(int64_t s, int64_t e, void *ud)
{
	if (e <= s)
		__builtin_trap();
	return ++*(int *)ud < 50;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int64_t instants[] = {
	        0,
	        1699722000000LL, /* 2023-11-12 00:00 +07:00 */
	        1699743600000LL, /* 2023-11-12 06:00 +07:00 */
	        1710052200000LL, /* 2024-03-10 06:30Z, a DST gap */
	        -86400000LL,
	        4102444800000LL};
	const char *tags[] = {"nha-an", "lo-gieng"};
	struct mc_who who = {"pi-1", "cua-lo", tags, 2};
	struct mc_sched_opts synced = {.clock_synced = true};
	struct mc_sched_opts unsynced = {.ready = half_ready};
	struct mc_manifest *m = NULL;
	struct mc_sched *s = NULL;
	struct mc_error err;

	for (int kind = 0; kind < 2 && !m; kind++)
		mc_manifest_parse((const char *)data, size,
		                  kind ? MC_DOC_MANIFEST : MC_DOC_CAMPAIGN, &m,
		                  &err);
	if (!m)
		return 0;
	s = mc_sched_new(m, &err);
	if (s) {
		for (size_t i = 0; i < MC_ARRAY_LEN(instants); i++) {
			query(s, &who, instants[i], &synced);
			query(s, NULL, instants[i], &unsynced);
		}
		for (size_t e = 0; e < m->n_entries && e < 8; e++) {
			int n = 0;

			mc_sched_occurrences(s, e, instants[1],
			                     instants[1] + 400LL * 86400000,
			                     count_occ, &n);
		}
	}
	mc_sched_free(s);
	mc_manifest_free(m);
	return 0;
}
