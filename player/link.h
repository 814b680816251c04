/*
 * minecast-player — the MQTT link (libmosquitto, MQTT v5).
 *
 * One thread owns the connection: it tries the configured brokers in turn
 * with exponential backoff and jitter, keeps a persistent session (client
 * id = node id, clean start off, session expiry a week), sets the retained
 * "offline" state as its will, publishes the retained "online" state after
 * every CONNACK, and subscribes only to what the node's ACL allows:
 * node/<id>/desired, node/<id>/cmd, node/<id>/pop/ack and alert/+.
 * Received messages and link changes go to the event queue.
 */
#ifndef MC_PLAYER_LINK_H
#define MC_PLAYER_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "evq.h"

struct mc_link;

/*
 * Start the link thread.  online_json and offline_json are the state
 * payloads for the birth and the will (copied).  Returns NULL with err
 * set if libmosquitto cannot be set up (a broker that is down is not an
 * error: the thread keeps trying).
 */
struct mc_link *mc_link_start(const struct mc_player_config *cfg,
                              struct mc_evq *q, const char *online_json,
                              const char *offline_json, struct mc_error *err);

/*
 * Replace the birth and will payloads (copied), e.g. when the applied
 * version changes; used from the next connection on.  Publishing the new
 * state now is the caller's job (mc_link_publish on "state").
 */
void mc_link_set_state(struct mc_link *l, const char *online_json,
                       const char *offline_json);

/*
 * Publish on minecast/v1/node/<this node>/<suffix> (thread-safe).
 * Returns MC_ERR_IO when not connected (nothing is queued: callers that
 * must not lose data keep it, like the proof-of-play outbox).
 */
enum mc_err mc_link_publish(struct mc_link *l, const char *suffix,
                            const void *payload, size_t len, int qos,
                            bool retain);

bool mc_link_connected(const struct mc_link *l);

/* Connections made after the first one. */
int64_t mc_link_reconnects(const struct mc_link *l);

/*
 * Publish offline_json retained (a clean shutdown is not a crash, but the
 * controller must still see the node go offline), disconnect, join the
 * thread, free.  NULL is allowed.
 */
void mc_link_stop(struct mc_link *l);

#endif
