/*
 * minecast-player — the "vlc" speaker output's introspection, for tests
 * and benchmarks.  The backend itself is reached through the ops table
 * (mc_output_find("vlc")); this only reports what it is doing.
 */
#ifndef MC_PLAYER_OUTPUTS_VLC_H
#define MC_PLAYER_OUTPUTS_VLC_H

#include <stdbool.h>
#include <stdint.h>

#include "output.h"

/* What the vlc output plays now, as of its last tick. */
struct mc_vlc_status {
	bool playing;       /* an item was started and has not ended */
	int64_t start_ms;   /* its scheduled instant */
	int64_t started_ms; /* wall clock of its first audio; 0 = not yet */
	bool ended;         /* it played to its end */
	bool failed;        /* it failed after start (device, decoder) */
	double gain;        /* linear amplitude factor applied to it */
	bool alert;         /* an alert sequence sounds (tone, speech) */
	int64_t alert_started_ms; /* wall clock of the alert's first audio */
	int alert_segments;       /* tone + spoken repeats, in all */
	int alert_done;           /* segments played to their end so far */
};

/* Fill st from o (an output of the "vlc" backend). */
void mc_output_vlc_status(struct mc_output *o, struct mc_vlc_status *st);

#endif
