/*
 * minecast-player — the output ops table.
 *
 * Every backend (log, screen on SDL2, audio on GStreamer or libvlc) is one
 * file in this folder filling one struct mc_output_ops, in the manner of
 * mpv's audio/out.  The timeline drives outputs only through these
 * callbacks; a backend never looks at schedules or manifests.
 *
 * All callbacks run on the main thread.  A callback that fails returns an
 * enum mc_err and fills err; the player logs it, reports it in health and
 * goes on to the next item — a bad file never stops playback.
 */
#ifndef MC_PLAYER_OUTPUT_H
#define MC_PLAYER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/messages.h"
#include "minecast/model.h"

#include "../config.h"

/* One thing to play, as the timeline hands it to an output. */
struct mc_play {
	enum mc_channel channel;
	const struct mc_content *content; /* borrowed from the manifest */
	const char *path;     /* verified cache file; NULL for text */
	const char *bg_path;  /* slogan: its background image's cache
	                       * file, or NULL */
	const char *text;     /* resolved text (templates applied) */
	const char *entry_id; /* NULL for fallback */
	int64_t start_ms;     /* wall-clock instant it should start */
	int64_t end_ms;       /* instant it should end */
	enum mc_transition transition;
	int volume;         /* percent, item volume × channel volume */
	bool fallback;      /* the channel's fallback, or built-in */
	const char *reason; /* why this plays: "scheduled", "fallback",
	                     * "clock", "idle" */
};

struct mc_output;

struct mc_output_ops {
	const char *name;  /* "log", "sdl", "gstreamer", "vlc" */
	unsigned channels; /* bit (1 << MC_CH_SCREEN) etc. it serves */

	/*
	 * Set up for cfg; store private state in o->priv.  A backend that
	 * cannot start (no display, no audio device) returns an error and
	 * the player reports it and stays up without that output.
	 */
	enum mc_err (*init)(struct mc_output *o,
	                    const struct mc_player_config *cfg,
	                    struct mc_error *err);

	/* Release everything init and later calls acquired. */
	void (*uninit)(struct mc_output *o);

	/*
	 * Get the next item ready (decode the image, preroll the pipeline)
	 * before its start, so that start is instant.  May be called more
	 * than once; NULL callback = nothing to prepare.
	 */
	enum mc_err (*prepare)(struct mc_output *o, const struct mc_play *p,
	                       struct mc_error *err);

	/*
	 * Start p on its channel at p->start_ms (now or slightly in the
	 * future), replacing whatever played there.
	 */
	enum mc_err (*start)(struct mc_output *o, const struct mc_play *p,
	                     struct mc_error *err);

	/*
	 * Stop what plays on ch: at its end (completed) or cut short
	 * (interrupted).
	 */
	void (*stop)(struct mc_output *o, enum mc_channel ch, bool completed);

	/*
	 * The speaker channel started a bulletin (text: its name) or ended
	 * it (NULL): a screen shows a "now broadcasting" banner meanwhile.
	 * Called on the screen's output.  NULL = no banner.
	 */
	void (*banner)(struct mc_output *o, const char *text);

	/* Master volume, percent.  NULL = not applicable. */
	void (*set_volume)(struct mc_output *o, int percent);

	/*
	 * Show text (node id, address) over everything until until_ms, or
	 * clear it when text is NULL.  NULL callback = no screen.
	 */
	void (*identify)(struct mc_output *o, const char *text,
	                 int64_t until_ms);

	/*
	 * Start an urgent alert at a->start_ms above everything; clear it
	 * when a is NULL.  NULL callback = cannot show alerts.
	 */
	enum mc_err (*alert)(struct mc_output *o, const struct mc_alert *a,
	                     struct mc_error *err);

	/*
	 * A PNG of what the screen shows now (*png malloc'd, caller frees).
	 * NULL callback = no screen.
	 */
	enum mc_err (*screenshot)(struct mc_output *o, unsigned char **png,
	                          size_t *len, struct mc_error *err);

	/*
	 * Called from the main loop at least every loop turn; a backend
	 * with a render loop or a bus to drain does it here.  Returns the
	 * milliseconds until it wants to be called again (-1 = don't care).
	 */
	int (*tick)(struct mc_output *o, int64_t now_ms);

	/* True while the backend's own machinery is alive (the watchdog is
	 * fed only then).  NULL = always. */
	bool (*alive)(struct mc_output *o);
};

/* An output instance. */
struct mc_output {
	const struct mc_output_ops *ops;
	void *priv; /* the backend's state */
};

/* The backends compiled in, NULL-terminated. */
extern const struct mc_output_ops *const mc_output_backends[];

/* Find a backend by name; NULL if not compiled in. */
const struct mc_output_ops *mc_output_find(const char *name);

#endif
