/*
 * minecast — MQTT topic names (docs/protocol.md, "Topics").
 *
 * Every topic lives under "minecast/v1/".  A node's own topics are
 * "minecast/v1/node/<node-id>/<suffix>" with one of the MC_TOPIC_*
 * suffixes below; alerts are "minecast/v1/alert/<alert-id>"; the
 * controller's presence is MC_TOPIC_CONTROLLER_STATE.  Ids are
 * [A-Za-z0-9._-]{1,64} (mc_id_valid), so they can never hold the MQTT
 * wildcards '+' and '#' or a '/'.
 */
#ifndef MINECAST_TOPICS_H
#define MINECAST_TOPICS_H

#include <stddef.h>

#include "minecast/error.h"

#define MC_TOPIC_ROOT "minecast/v1/"

/* Suffixes of a node's topics, with their direction. */
#define MC_TOPIC_DESIRED    "desired"    /* controller → node, retained */
#define MC_TOPIC_STATE      "state"      /* node → controller, retained */
#define MC_TOPIC_HEALTH     "health"     /* node → controller */
#define MC_TOPIC_POP        "pop"        /* node → controller */
#define MC_TOPIC_POP_ACK    "pop/ack"    /* controller → node */
#define MC_TOPIC_CMD        "cmd"        /* controller → node */
#define MC_TOPIC_CMD_RESULT "cmd/result" /* node → controller */
#define MC_TOPIC_ALERT_ACK  "alert/ack"  /* node → controller */

/* The controller's retained presence. */
#define MC_TOPIC_CONTROLLER_STATE MC_TOPIC_ROOT "controller/state"

/* Subscription filter for every alert. */
#define MC_TOPIC_ALERT_ALL MC_TOPIC_ROOT "alert/#"

/* Room for any topic this module builds, including the NUL. */
#define MC_TOPIC_MAX 128

/*
 * Write "minecast/v1/node/<node>/<suffix>" into buf[0..len).  node must be
 * a valid id, or "+" to build a subscription filter for every node;
 * suffix must be one of the MC_TOPIC_* suffixes.  Returns MC_ERR_INVAL
 * for a bad id or suffix, MC_ERR_TOO_LARGE when buf is too small.
 */
enum mc_err mc_topic_node(char *buf, size_t len, const char *node,
                          const char *suffix);

/* Write "minecast/v1/alert/<alert_id>"; errors as mc_topic_node. */
enum mc_err mc_topic_alert(char *buf, size_t len, const char *alert_id);

/*
 * Split an incoming "minecast/v1/node/<id>/<suffix>" topic.  On success
 * id holds the node id (NUL-terminated, at most 64 bytes) and *suffix
 * points at a static copy of the matching MC_TOPIC_* suffix (compare
 * with strcmp).  Anything else (other root, bad id, unknown suffix,
 * wildcards, empty levels) fails with MC_ERR_INVAL and *suffix NULL.
 */
enum mc_err mc_topic_parse_node(const char *topic, char id[65],
                                const char **suffix);

/* Split "minecast/v1/alert/<id>" into id; MC_ERR_INVAL otherwise. */
enum mc_err mc_topic_parse_alert(const char *topic, char id[65]);

#endif
