/*
 * minecast-player — configuration: one INI file, default
 * /etc/minecast/player.conf.  docs/player.md lists every key.
 *
 * Every problem is reported with file, line, section and key and what is
 * expected ("player.conf:12: [cache] quota: '10XB' is not a size; use a
 * number with K, M or G"), so that --check-config can say exactly what is
 * wrong.
 */
#ifndef MC_PLAYER_CONFIG_H
#define MC_PLAYER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "minecast/error.h"
#include "minecast/sign.h"

#define MC_PLAYER_CONF_DEFAULT "/etc/minecast/player.conf"

/* Largest config file accepted. */
#define MC_PLAYER_CONF_MAX_BYTES (64 * 1024)

/* One broker to try, parsed from mqtt://host:port or mqtts://host:port. */
struct mc_broker {
	char *host; /* host name or address literal ("::1" without brackets) */
	int port;   /* default 1883, or 8883 for mqtts */
	bool tls;   /* mqtts:// */
};

struct mc_player_config {
	char *path; /* the file this was read from */

	/* [node] */
	char *node_id; /* required; [A-Za-z0-9._-]{1,64} */
	char *site;    /* for targeting; NULL if none */
	char **tags;   /* "tags = a, b" */
	size_t n_tags;

	/* [mqtt] */
	struct mc_broker *brokers; /* "broker =" may repeat; tried in turn */
	size_t n_brokers;
	char *username;       /* default: the node id */
	char *password;       /* "password =" or read from password_file */
	char *ca_file;        /* TLS: CA bundle; NULL = system default */
	char *cert_file;      /* TLS client certificate, optional */
	char *key_file;       /* TLS client key, optional */
	int keepalive_s;      /* default 30 */
	int reconnect_min_ms; /* first reconnect delay, default 500 */
	int reconnect_max_ms; /* backoff ceiling, default 60000 */

	/* [http] */
	char *http_base;    /* controller base URL, "http://host:port" */
	char *http_ca_file; /* TLS CA for HTTPS; NULL = system default */
	int http_timeout_s; /* stall timeout per transfer, default 30 */

	/* [cache] */
	char *cache_dir;           /* default /var/cache/minecast */
	char *state_dir;           /* default /var/lib/minecast */
	int64_t cache_quota_bytes; /* "quota = 2G"; default 1G */
	int download_parallel;     /* 1..16, default 2 */
	int64_t bandwidth_bps; /* bytes/s cap over all transfers; 0 = none */
	int window_start_min;  /* download window "window = 01:00-05:00" */
	int window_end_min;    /* in minutes of the local day; -1 = always */

	/* [channels] */
	bool screen;           /* this node drives a screen */
	bool speaker;          /* this node drives a loudspeaker */
	char *screen_output;   /* backend name: "log" (more later) */
	char *speaker_output;  /* backend name: "log" (more later) */
	char *log_output_file; /* log backend: file, NULL = stdout */

	/* [screen] (the sdl output) */
	int screen_width;   /* pixels; 0 = the display's own mode */
	int screen_height;  /* pixels; 0 = the display's own mode */
	int rotation;       /* 0, 90, 180 or 270 (portrait screens) */
	char *video_driver; /* "auto", "kmsdrm", "x11", "wayland",
	                     * "offscreen" */
	char *font;         /* default font file for slogans */
	int crossfade_ms;   /* length of a crossfade transition */
	int ticker_speed;   /* ticker scroll speed, pixels/second */
	bool banner;        /* "now broadcasting" banner during
	                     * speaker bulletins */

	/* [audio] (the gstreamer and vlc outputs) */
	char *audio_device; /* ALSA device, default "default" */
	char *audio_sink;   /* "alsa", "fake", or "file:PATH" (tests:
	                     * decoded audio written as WAV) */
	char *audio_clock;  /* "realtime" (NTP/PTP-synchronised system
	                     * clock) or "net:HOST:PORT" (a GStreamer
	                     * network clock served by the controller) */
	int preroll_ms;     /* prepare at-time audio this early */
	char *voice;        /* espeak-ng voice for alerts, "vi" */
	char *tone_file;    /* attention tone; NULL = built-in tone */
	int amp_lead_ms;    /* amplifier on this long before audio */
	int amp_idle_ms;    /* amplifier off after this much silence */

	/* [keys] */
	char **trusted_key_files; /* "trusted =" may repeat */
	size_t n_trusted_key_files;
	struct mc_keyring keyring; /* loaded from them at config time */

	/* [hooks]: command lines run with /bin/sh -c, action appended */
	char *hook_reboot;       /* e.g. "systemctl reboot" */
	char *hook_screen_power; /* called with "on" or "off" */
	char *hook_amplifier;    /* called with "on" or "off" */
	int hook_timeout_s;      /* default 20 */

	/* [health] */
	int health_interval_s;    /* default 30 */
	int health_errors_kept_s; /* default 3600 */
	char *proc_root; /* default "/proc"; tests point it elsewhere */
	char *sys_root;  /* default "/sys" */

	/* [clock] */
	char *clock_sync; /* "auto" (kernel), "yes", "no", or
	                   * "file:PATH" (synchronised while PATH
	                   * exists; for tests) */

	/* [pop] */
	int pop_batch_max;      /* records per batch, default 200 */
	int pop_resend_s;       /* resend an unacked batch after, default 60 */
	int64_t pop_outbox_max; /* records kept before summarising, 100000 */

	/* [log] */
	int log_level; /* enum mc_log_level, default info */
	int volume;    /* initial volume percent, default 80 */
};

/*
 * Read and check path into cfg (zeroed first; free with mc_config_free
 * even on failure).  On failure err names file:line, section, key and
 * the reason.  Keys files in [keys] are loaded too, so that a missing or
 * malformed trusted key is a config error.
 */
enum mc_err mc_config_load(const char *path, struct mc_player_config *cfg,
                           struct mc_error *err);

/*
 * Parse config text (for tests and fuzzing; name is used in messages).
 * Does not load key files when load_keys is false.
 */
enum mc_err mc_config_parse(const char *text, size_t len, const char *name,
                            bool load_keys, struct mc_player_config *cfg,
                            struct mc_error *err);

/*
 * For --check-config: print every problem found in path, one per line,
 * to out, and a last line saying the file is fine when it is.  Returns
 * the number of problems.
 */
int mc_config_check(const char *path, FILE *out);

void mc_config_free(struct mc_player_config *cfg);

#endif
