/*
 * minecast-controller configuration: an INI file, /etc/minecast/
 * controller.conf by default, read once at start.  docs/controller.md
 * lists every key with its default; `minecast-controller --check-config`
 * reports every problem as FILE:LINE [section] key: reason.
 */
#ifndef MCC_CONFIG_H
#define MCC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minecast/error.h"

struct mcc_config {
	/* [controller] */
	char *data_dir; /* database, blobs, spool; default /var/lib/minecast */
	char *listen;   /* HTTP "ADDR:PORT"; default 127.0.0.1:8080 */
	int http_threads; /* libmicrohttpd thread pool; default 8 */
	char *public_url; /* base URL in pointers; NULL = relative URLs */
	char *key_file; /* ed25519 secret key; default <data_dir>/signing.key */
	char *trusted_keys;       /* public key file for node bundles; default
	                             <data_dir>/trusted.pub */
	char *log_level;          /* debug|info|warn|error; default info */
	int64_t max_upload_bytes; /* default 256 MiB */
	char *render_cmd;         /* previews: path of minecast-player; default
	                             "minecast-player" */
	int64_t preview_cache_bytes; /* previews kept; default 64 MiB */
	/* [mqtt] */
	char *mqtt_host; /* default 127.0.0.1 */
	int mqtt_port;   /* default 1883 */
	char *mqtt_user; /* controller's user; NULL = anonymous */
	char *mqtt_password;
	char *mqtt_cafile;    /* TLS when set */
	char *mqtt_client_id; /* default "minecast-controller" */
	/* [publish] */
	int64_t pointer_ttl_s;   /* pointer validity; default 30 days */
	int64_t resign_before_s; /* re-sign that long before expiry; default 7
	                            days */
	/* [alerts] */
	int64_t alert_lead_ms; /* start_at = now + lead; default 500 */
	int64_t alert_ttl_s;   /* default expiry; default 3600 */
	/* [fleet]: thresholds of node status */
	int64_t stale_s; /* no health for this long = stale; default 120 */
	int64_t sync_behind_s; /* applied < desired for this long = behind;
	                          default 600 */
	double disk_low_pct;   /* free below this percent = disk low; default 10
	                        */
	double hot_c; /* CPU temperature at or above = hot; default 80 */
	double clock_offset_ms;     /* |offset| above = clock not synchronised;
	                               default 1000 */
	int64_t pop_retention_days; /* raw records kept; default 400 */
	/* [provision] */
	char *mosquitto_passwd; /* password file to maintain; NULL = none */
	char *mosquitto_acl;    /* ACL file to maintain; NULL = none */
	char *mosquitto_reload; /* command run after either changed; NULL = none
	                         */
	char *node_mqtt_host;   /* broker address written into bundles; default
	                           mqtt_host */
	int node_mqtt_port;     /* default mqtt_port */
	char *node_http_base;   /* HTTP base written into bundles; default
	                           public_url */
	/* bookkeeping */
	uint64_t given; /* bit i: key i of config.c's table was set explicitly
	                   (file or --set), so derived defaults leave it */
};

/*
 * Read path (NULL: only defaults, data_dir must then be given by
 * overrides).  Every problem is appended to err's message, one per line;
 * returns MC_OK only when there is none.  cfg is filled with defaults
 * first, so it is always safe to free.
 */
enum mc_err mcc_config_load(struct mcc_config *cfg, const char *path,
                            struct mc_error *err);

/* Apply "section.key=value" given on the command line (--set). */
enum mc_err mcc_config_set(struct mcc_config *cfg, const char *assignment,
                           struct mc_error *err);

/*
 * Parse text (the file's bytes; name labels messages) into cfg, which is
 * filled with defaults first.  With out, every problem is also printed
 * there, one per line (--check-config).  Used by mcc_config_load and the
 * fuzz harness.
 */
enum mc_err mcc_config_parse(struct mcc_config *cfg, const char *text,
                             size_t len, const char *name, FILE *out,
                             struct mc_error *err);

/* Like mcc_config_load, printing every problem to out (may be NULL). */
enum mc_err mcc_config_load_report(struct mcc_config *cfg, const char *path,
                                   FILE *out, struct mc_error *err);

/*
 * Fill the defaults that follow other keys (key_file, trusted_keys from
 * data_dir; node_mqtt_host/port from [mqtt]; node_http_base from
 * public_url) unless given, and check keys against each other.  load and
 * set call it; calling it again is harmless.
 */
enum mc_err mcc_config_finish(struct mcc_config *cfg, struct mc_error *err);

/* Print every key with its default and what it takes (--help). */
void mcc_config_print_keys(FILE *out);

void mcc_config_free(struct mcc_config *cfg);

#endif
