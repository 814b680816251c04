/*
 * The controller's MQTT client (libmosquitto, its own network thread).
 *
 * It subscribes to minecast/v1/node/+/{state,health,pop,cmd/result,
 * alert/ack}, parses each payload with the common codecs, drops (and
 * logs, rate-limited) anything malformed, unknown, or whose body names a
 * node other than the topic's, and hands the parsed message to fleet.c,
 * commands.c or alerts.c.  It publishes controller/state (retained; the
 * will says offline).  Reconnects with backoff; subscriptions are renewed
 * on every connect.
 */
#ifndef MCC_MQTT_H
#define MCC_MQTT_H

#include <stdbool.h>
#include <stddef.h>

#include "minecast/error.h"

struct mcc;

enum mc_err mcc_mqtt_start(struct mcc *c, struct mc_error *err);
void mcc_mqtt_stop(struct mcc *c);
bool mcc_mqtt_connected(const struct mcc *c);

/*
 * Check and dispatch one incoming message (what the client's message
 * callback does; the fuzz harness calls it directly): topic, size,
 * registration, codec, node; drops are logged and counted.  payload
 * need not be NUL-terminated.
 */
void mcc_mqtt_intake(struct mcc *c, const char *topic, const void *payload,
                     size_t len, bool retain);

/* Queue a publish (thread-safe).  MC_ERR_IO when not connected: the
 * caller keeps its state so that the tick retries. */
enum mc_err mcc_mqtt_publish(struct mcc *c, const char *topic,
                             const void *payload, size_t len, int qos,
                             bool retain);

#endif
