/*
 * minecast — the messages nodes and controller exchange over MQTT.
 *
 * docs/protocol.md is the specification (topics, QoS, retain, limits);
 * codec.h reads and writes these structs as JSON.  Strings are owned by
 * the struct and freed by its mc_*_clear() function in codec.h.
 */
#ifndef MINECAST_MESSAGES_H
#define MINECAST_MESSAGES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/model.h"

/* Size limits on every input, in bytes of the raw message. */
#define MC_MAX_MANIFEST_BYTES  (4 * 1024 * 1024)
#define MC_MAX_POINTER_BYTES   4096
#define MC_MAX_ALERT_BYTES     8192
#define MC_MAX_HEALTH_BYTES    16384
#define MC_MAX_STATE_BYTES     4096
#define MC_MAX_POP_BYTES       (256 * 1024)
#define MC_MAX_POP_ACK_BYTES   (64 * 1024)
#define MC_MAX_COMMAND_BYTES   4096
#define MC_MAX_RESULT_BYTES    8192
#define MC_MAX_ALERT_ACK_BYTES 2048
#define MC_MAX_ENVELOPE_BYTES  (MC_MAX_ALERT_BYTES + 1024)

/* Longest node, site, tag and content id: [A-Za-z0-9._-], 1..64 bytes. */
#define MC_ID_MAX 64

/*
 * Desired-state pointer: "node X should play manifest M, version V".
 * Published retained and signed on minecast/v1/node/<id>/desired.
 */
struct mc_pointer {
	char *node;               /* the node this pointer is for */
	int64_t version;          /* strictly increasing per node */
	char manifest_sha256[65]; /* lower-case hex of the manifest bytes */
	int64_t manifest_size;    /* bytes */
	char *manifest_url;       /* absolute or relative to the HTTP base */
	int64_t issued_ms;        /* when the controller signed it */
	int64_t expires_ms;       /* after this the pointer is refused */
};

/* Alert levels, in rising urgency. */
enum mc_alert_level {
	MC_ALERT_INFO = 0,
	MC_ALERT_WARNING,
	MC_ALERT_DANGER,
	MC_ALERT_EVACUATE
};

/*
 * Urgent alert: published once, retained and signed, on
 * minecast/v1/alert/<id>; it carries its own targets.  A clear is the same
 * id with clear = true.
 */
struct mc_alert {
	char *id;    /* alert id, [A-Za-z0-9._-] */
	int64_t seq; /* increases with every change of this id */
	bool clear;  /* true: stop this alert now */
	enum mc_alert_level level;
	char *text;          /* shown and spoken; NFC UTF-8 */
	char *tone;          /* attention tone name; NULL = "default" */
	int repeat;          /* times the text is spoken, 1..10 */
	int64_t start_at_ms; /* wall-clock start, same on every node */
	int64_t issued_ms;
	int64_t expires_ms;
	struct mc_targets targets; /* empty = the whole fleet */
};

/*
 * A node's acknowledgement of an alert on .../node/<id>/alert/ack: first
 * "delivered" (verified, accepted), then "started" with the instant its
 * outputs began, or "rejected" with the reason.
 */
struct mc_alert_ack {
	char *node;
	char *alert;      /* alert id */
	int64_t seq;      /* the alert's seq being acknowledged */
	char *status;     /* "delivered", "started", "rejected" */
	int64_t start_ms; /* "started": when output began; else 0 */
	char *reason;     /* "rejected": why; else NULL */
	int64_t at_ms;    /* when the node sent this */
};

/* Retained node state: birth ("online") and will ("offline"). */
struct mc_state {
	char *node;
	bool online;
	int64_t boot;            /* boot counter, increases every start */
	int64_t applied_version; /* highest pointer version applied; 0 = none */
	char *sync;              /* "idle", "syncing", "error" */
	int64_t items_outstanding;
	int64_t bytes_outstanding;
	int64_t at_ms;
	char *software; /* player version string */
};

/* What one channel is doing, in health. */
struct mc_playing {
	char *content; /* content id, or NULL when idle */
	char *entry;   /* entry id, NULL for fallback */
	char *reason;  /* "scheduled", "fallback", "clock", ... */
};

/* Periodic health on minecast/v1/node/<id>/health. */
struct mc_health {
	char *node;
	int64_t at_ms;
	int64_t uptime_s;
	double load1;
	int64_t mem_total_kb;
	int64_t mem_avail_kb;
	int64_t disk_total_bytes;
	int64_t disk_free_bytes;
	int64_t cache_bytes;
	bool has_temp;
	double cpu_temp_c;
	int64_t throttled; /* Raspberry Pi get_throttled bits; -1 n/a */
	bool clock_synced;
	double clock_offset_ms;
	int64_t applied_version;
	int64_t items_outstanding;
	int64_t bytes_outstanding;
	struct mc_playing playing[MC_CH_COUNT];
	char **errors; /* most recent first, at most 16 */
	size_t n_errors;
	int64_t reconnects;
	int64_t pop_summarised; /* records folded into summaries so far */
};

/* One proof-of-play record: an item started and ended on a channel. */
struct mc_pop_record {
	char *id;        /* "<node>-<boot>-<seq>", unique forever */
	char *content;   /* content id */
	char sha256[65]; /* content hash, "" for slogans */
	char *entry;     /* schedule entry id, NULL for fallback */
	enum mc_channel channel;
	int64_t start_ms;
	int64_t end_ms;
	bool completed; /* false: interrupted */
	int64_t count;  /* 1, or >1 for a summary of many plays */
};

/* A batch of records on minecast/v1/node/<id>/pop. */
struct mc_pop_batch {
	char *node;
	char *batch; /* batch id, echoed by the ack */
	struct mc_pop_record *records;
	size_t n_records;
};

/* The controller's "stored" acknowledgement on .../pop/ack. */
struct mc_pop_ack {
	char *node;
	char *batch;
	char **ids; /* record ids now stored */
	size_t n_ids;
};

enum mc_command_action {
	MC_CMD_RESYNC = 0,
	MC_CMD_IDENTIFY,
	MC_CMD_SCREENSHOT,
	MC_CMD_RESTART,
	MC_CMD_REBOOT,
	MC_CMD_SCREEN_POWER,
	MC_CMD_VOLUME
};

/* A command on minecast/v1/node/<id>/cmd. */
struct mc_command {
	char *id; /* correlation id, echoed by the result */
	char *node;
	enum mc_command_action action;
	int volume;    /* MC_CMD_VOLUME: 0..100 */
	bool power_on; /* MC_CMD_SCREEN_POWER */
	int64_t issued_ms;
	int64_t expires_ms; /* a late command is refused, not run */
};

/* The node's answer on minecast/v1/node/<id>/cmd/result. */
struct mc_command_result {
	char *id;
	char *node;
	bool ok;
	char *message; /* human-readable outcome or error */
	int64_t at_ms;
};

#endif
