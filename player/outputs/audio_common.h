/*
 * minecast-player — what the two speaker backends (gstreamer in gst.c,
 * vlc in vlc.c) share, so that they sound and behave alike:
 *
 *  - speech: the alert text and speech items spoken by libespeak-ng into
 *    memory, with the configured voice ("vi"); nothing is downloaded;
 *  - the attention tone: a built-in chime when no tone file is set;
 *  - the alert programme: tone, pause, then the text spoken `repeat`
 *    times with a pause between, as one block of samples;
 *  - the loudness arithmetic (volume percent and the gain measured at
 *    upload, in dB, to one linear factor);
 *  - the amplifier: its hook switched on a lead time before audio and off
 *    after an idle period, run through player/hooks.c on a private event
 *    queue that the backend drains from its tick();
 *  - the log line tests and benchmarks read to learn when audio really
 *    began: "audio: <what> started at <ms.µs>".
 *
 * Everything here runs on the main thread unless said otherwise.
 */
#ifndef MC_PLAYER_AUDIO_COMMON_H
#define MC_PLAYER_AUDIO_COMMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minecast/error.h"

#include "../config.h"
#include "../evq.h"

/* Silence after the tone and between two repeats of the spoken text. */
#define MC_AUDIO_GAP_MS 700

/* Mono signed 16-bit native-endian samples in memory. */
struct mc_pcm {
	int16_t *s; /* the samples, malloc'd; NULL when empty */
	size_t n;   /* samples held */
	size_t cap; /* samples allocated */
	int rate;   /* samples per second */
};

/* Free the samples and zero p (rate is kept). */
void mc__pcm_free(struct mc_pcm *p);

/* Append n samples; MC_ERR_NOMEM on allocation failure. */
enum mc_err mc__pcm_append(struct mc_pcm *p, const int16_t *s, size_t n);

/* Append ms of silence at p->rate. */
enum mc_err mc__pcm_silence(struct mc_pcm *p, int ms);

/*
 * Write p as a mono 16-bit WAV file (for a backend that plays files, such
 * as libvlc: write to a temporary file and play that).
 */
enum mc_err mc__wav_write(const char *path, const struct mc_pcm *p,
                          struct mc_error *err);

/* ---- speech (libespeak-ng) ---- */

/*
 * Load espeak-ng and select voice, once per process (later calls return
 * the first outcome; a different voice is selected again).  *rate gets
 * the sample rate of what it speaks (22050 with the stock data).  Fails
 * with MC_ERR_IO when the voice data is missing.  Thread-safe.
 */
enum mc_err mc__speech_init(const char *voice, int *rate, struct mc_error *err);

/*
 * Called with each block of samples while text is spoken; return true to
 * stop the synthesis early.  Runs on the thread calling mc__speech_say.
 */
typedef bool (*mc_speech_sink)(const int16_t *s, size_t n, void *ud);

/*
 * Speak text (UTF-8) with the voice given to mc__speech_init, feeding
 * sink block by block as espeak-ng produces them (the first block comes
 * within a clause, so a player can start while the rest is synthesised).
 * Blocking; one synthesis at a time per process (others wait); callable
 * from any thread.  A sink returning true ends it early with MC_OK.
 */
enum mc_err mc__speech_say(const char *text, mc_speech_sink sink, void *ud,
                           struct mc_error *err);

/*
 * Speak text into out (out->rate set); stop, if not NULL, is polled
 * between blocks and cuts it short (MC_OK, out holds what was spoken).
 */
enum mc_err mc__speech_to_pcm(const char *text, struct mc_pcm *out,
                              const atomic_bool *stop, struct mc_error *err);

/* ---- the attention tone and the alert programme ---- */

/*
 * The built-in attention tone at rate: three descending chime notes,
 * about 1.8 s, peak about -6 dBFS.
 */
enum mc_err mc__tone_builtin(int rate, struct mc_pcm *out);

/*
 * The whole alert as one block at tone->rate (speech must have the same
 * rate): tone, MC_AUDIO_GAP_MS, then speech repeat times (at least once)
 * separated by MC_AUDIO_GAP_MS.  tone or speech may be empty.
 */
enum mc_err mc__alert_programme(const struct mc_pcm *tone,
                                const struct mc_pcm *speech, int repeat,
                                struct mc_pcm *out);

/* ---- loudness ---- */

/*
 * Linear factor for a volume in percent (clamped to 0..100) and a
 * loudness gain in dB (the manifest's gain_db: 0 = unchanged):
 * volume/100 × 10^(gain_db/20).
 */
double mc__audio_gain(int volume_pct, double gain_db);

/* ---- the log line read by tests and bench/audio_skew.py ---- */

/*
 * Log at info "audio: <what> started at <ms>.<µs>" where wall_ns is the
 * wall-clock instant (ns since the epoch) of position 0 of what plays
 * (for a late start: when the first sample rendered minus its position),
 * and late_ms, when positive, how far into it playback joined.
 * Thread-safe (the GStreamer streaming thread calls it).
 */
void mc__audio_log_started(const char *what, int64_t wall_ns, int64_t late_ms);

/* Wall clock in ns since the epoch (CLOCK_REALTIME). */
int64_t mc__wall_ns(void);

/* ---- the amplifier ---- */

/*
 * The amplifier hook's state.  With no hook configured every call is a
 * no-op.  Hook outcomes arrive on q and are logged by mc__amp_tick.
 */
struct mc_amp {
	char *hook;         /* cfg->hook_amplifier, NULL = none */
	int lead_ms;        /* switch on this long before audio */
	int idle_ms;        /* switch off after this much silence */
	int timeout_s;      /* hook timeout */
	struct mc_evq *q;   /* hook outcomes; private to this amp */
	int pending;        /* hooks started and not yet reported */
	bool on;            /* "on" was last run */
	bool playing;       /* audio plays now */
	int64_t on_at_ms;   /* switch on at this instant; INT64_MAX = none */
	int64_t busy_until; /* audio expected until then (at least) */
	int64_t idle_from;  /* silence since then */
};

/* Set up from cfg (hook_amplifier, amp_lead_ms, amp_idle_ms). */
enum mc_err mc__amp_init(struct mc_amp *a, const struct mc_player_config *cfg,
                         struct mc_error *err);

/*
 * Audio will start at at_ms: switch on at at_ms - lead (now if that has
 * passed).  Call from prepare/start/alert.
 */
void mc__amp_expect(struct mc_amp *a, int64_t now_ms, int64_t at_ms);

/* Audio plays (true) or is silent (false) now; may repeat. */
void mc__amp_playing(struct mc_amp *a, bool playing, int64_t now_ms);

/*
 * Run what is due (on, or off after the idle time) and log finished hook
 * runs.  Returns ms until it wants to be called again, -1 = don't care.
 */
int mc__amp_tick(struct mc_amp *a, int64_t now_ms);

/*
 * Switch the amplifier off if it is on, wait (bounded by the hook
 * timeout) for the hooks started, and free.
 */
void mc__amp_fini(struct mc_amp *a);

#endif
