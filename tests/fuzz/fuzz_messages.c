/*
 * Fuzz every MQTT message parser.  The first byte picks the parser: its
 * distance from '0' modulo the number of message types, so that readable
 * seeds start with '0' for a pointer, '1' for an alert ... '8' for a
 * command result (the order of parsers[] below).  The rest is the payload.  A
 * payload that parses must dump, re-parse and dump to the same text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz_messages: %s failed\n", #cond);  \
			abort();                                               \
		}                                                              \
	} while (0)

/*
 * Parse, dump, re-parse, dump again, compare, clear.  One instance per
 * message type, so that each uses its own struct and functions.
 */
#define ROUND_TRIP(type, name)                                                 \
	static void fuzz_##name(const char *buf, size_t len)                   \
	{                                                                      \
		struct type a, b;                                              \
		struct mc_error err;                                           \
		char *d1, *d2;                                                 \
                                                                               \
		if (mc_##name##_parse(buf, len, &a, &err) != MC_OK) {          \
			CHECK(err.code != MC_OK && err.msg[0]);                \
			mc_##name##_clear(&a);                                 \
			return;                                                \
		}                                                              \
		d1 = mc_##name##_dump(&a);                                     \
		CHECK(d1 != NULL);                                             \
		if (mc_##name##_parse(d1, strlen(d1), &b, &err) != MC_OK) {    \
			fprintf(stderr, "re-parse failed: %s\n%s\n", err.msg,  \
			        d1);                                           \
			abort();                                               \
		}                                                              \
		d2 = mc_##name##_dump(&b);                                     \
		CHECK(d2 != NULL && strcmp(d1, d2) == 0);                      \
		free(d1);                                                      \
		free(d2);                                                      \
		mc_##name##_clear(&a);                                         \
		mc_##name##_clear(&b);                                         \
	}

ROUND_TRIP(mc_pointer, pointer)
ROUND_TRIP(mc_alert, alert)
ROUND_TRIP(mc_alert_ack, alert_ack)
ROUND_TRIP(mc_state, state)
ROUND_TRIP(mc_health, health)
ROUND_TRIP(mc_pop_batch, pop_batch)
ROUND_TRIP(mc_pop_ack, pop_ack)
ROUND_TRIP(mc_command, command)
ROUND_TRIP(mc_command_result, command_result)

static void (*const parsers[])(const char *buf, size_t len) = {
        fuzz_pointer, fuzz_alert,   fuzz_alert_ack,
        fuzz_state,   fuzz_health,  fuzz_pop_batch,
        fuzz_pop_ack, fuzz_command, fuzz_command_result,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = sizeof(parsers) / sizeof(*parsers);

	if (size < 1)
		return 0;
	parsers[(uint8_t)(data[0] - '0') % n]((const char *)data + 1, size - 1);
	return 0;
}
