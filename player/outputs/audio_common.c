/*
 * minecast-player — the speaker backends' shared part (audio_common.h):
 * speech with libespeak-ng, the built-in attention tone, the alert
 * programme, loudness arithmetic, the amplifier hook and the "started at"
 * log line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <espeak-ng/speak_lib.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "../hooks.h"
#include "audio_common.h"

/* espeak-ng hands back blocks of about this many ms of samples. */
#define SPEECH_BLOCK_MS 100
/* Longest text spoken, in bytes (the manifest allows 4000). */
#define SPEECH_MAX_BYTES 8192
/* The amplifier's off hook may take this long beyond its timeout. */
#define AMP_FINI_GRACE_MS 3000

/* ---- samples in memory ---- */

void mc__pcm_free(struct mc_pcm *p)
{
	int rate = p->rate;

	free(p->s);
	memset(p, 0, sizeof(*p));
	p->rate = rate;
}

static enum mc_err pcm_reserve(struct mc_pcm *p, size_t more)
{
	size_t want = p->n + more, cap = p->cap ? p->cap : 4096;
	int16_t *s;

	if (want < p->n)
		return MC_ERR_NOMEM;
	if (want <= p->cap)
		return MC_OK;
	while (cap < want)
		cap *= 2;
	s = realloc(p->s, cap * sizeof(*s));
	if (!s)
		return MC_ERR_NOMEM;
	p->s = s;
	p->cap = cap;
	return MC_OK;
}

enum mc_err mc__pcm_append(struct mc_pcm *p, const int16_t *s, size_t n)
{
	if (!n)
		return MC_OK;
	if (pcm_reserve(p, n) != MC_OK)
		return MC_ERR_NOMEM;
	memcpy(p->s + p->n, s, n * sizeof(*s));
	p->n += n;
	return MC_OK;
}

enum mc_err mc__pcm_silence(struct mc_pcm *p, int ms)
{
	size_t n = ms > 0 ? (size_t)p->rate * (size_t)ms / 1000 : 0;

	if (pcm_reserve(p, n) != MC_OK)
		return MC_ERR_NOMEM;
	memset(p->s + p->n, 0, n * sizeof(*p->s));
	p->n += n;
	return MC_OK;
}

static void put_le(unsigned char *b, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * i));
}

enum mc_err mc__wav_write(const char *path, const struct mc_pcm *p,
                          struct mc_error *err)
{
	unsigned char h[44];
	uint32_t data = (uint32_t)(p->n * 2);
	enum mc_err rc = MC_OK;
	FILE *f;

	if (p->n > (UINT32_MAX - 36) / 2)
		return mc_error_set(err, MC_ERR_TOO_LARGE,
		                    "%s: too long for a WAV file", path);
	memcpy(h, "RIFF", 4);
	put_le(h + 4, 36 + data, 4);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le(h + 16, 16, 4);
	put_le(h + 20, 1, 2); /* PCM */
	put_le(h + 22, 1, 2); /* mono */
	put_le(h + 24, (uint32_t)p->rate, 4);
	put_le(h + 28, (uint32_t)p->rate * 2, 4);
	put_le(h + 32, 2, 2);
	put_le(h + 34, 16, 2);
	memcpy(h + 36, "data", 4);
	put_le(h + 40, data, 4);
	f = fopen(path, "wbe");
	if (!f)
		return mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                    strerror(errno));
	/* Samples are written as they are: the player runs on little-endian
	 * machines only (x86-64, ARM Linux). */
	if (fwrite(h, 1, sizeof(h), f) != sizeof(h) ||
	    (p->n && fwrite(p->s, 2, p->n, f) != p->n))
		rc = mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                  strerror(errno));
	if (fclose(f) != 0 && rc == MC_OK)
		rc = mc_error_set(err, MC_ERR_IO, "%s: %s", path,
		                  strerror(errno));
	return rc;
}

/* ---- speech ---- */

/* espeak-ng keeps global state: one synthesis at a time, under lock. */
static pthread_mutex_t speech_lock = PTHREAD_MUTEX_INITIALIZER;
static bool speech_tried;        /* espeak_Initialize was called */
static int speech_rate;          /* its sample rate, or -1 on failure */
static char *speech_voice;       /* voice selected last */
static mc_speech_sink speech_cb; /* sink of the synthesis in progress */
static void *speech_ud;          /* and its user data */
static bool speech_stopped;      /* the sink asked to stop */

/* espeak-ng's callback: runs inside espeak_Synth, under speech_lock. */
static int speech_block(short *wav, int n, espeak_EVENT *events)
{
	(void)events;
	if (speech_stopped)
		return 1;
	if (!wav || n <= 0 || !speech_cb)
		return 0;
	if (speech_cb((const int16_t *)wav, (size_t)n, speech_ud)) {
		speech_stopped = true;
		return 1;
	}
	return 0;
}

enum mc_err mc__speech_init(const char *voice, int *rate, struct mc_error *err)
{
	enum mc_err rc = MC_OK;

	if (!voice || !*voice)
		voice = "vi";
	pthread_mutex_lock(&speech_lock);
	if (!speech_tried) {
		speech_tried = true;
		speech_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS,
		                                SPEECH_BLOCK_MS, NULL,
		                                espeakINITIALIZE_DONT_EXIT);
		if (speech_rate > 0)
			espeak_SetSynthCallback(speech_block);
	}
	if (speech_rate <= 0) {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "speech: espeak-ng cannot start (is the "
		                  "espeak-ng-data package installed?)");
		goto out;
	}
	if (!speech_voice || strcmp(speech_voice, voice) != 0) {
		if (espeak_SetVoiceByName(voice) != EE_OK) {
			rc = mc_error_set(err, MC_ERR_NOTFOUND,
			                  "speech: espeak-ng has no voice '%s' "
			                  "(espeak-ng --voices lists them)",
			                  voice);
			goto out;
		}
		free(speech_voice);
		speech_voice = mc_strdup(voice);
	}
	*rate = speech_rate;
out:
	pthread_mutex_unlock(&speech_lock);
	return rc;
}

enum mc_err mc__speech_say(const char *text, mc_speech_sink sink, void *ud,
                           struct mc_error *err)
{
	size_t len = text ? strlen(text) : 0;
	enum mc_err rc = MC_OK;
	espeak_ERROR e;

	if (len == 0)
		return MC_OK;
	if (len > SPEECH_MAX_BYTES)
		return mc_error_set(err, MC_ERR_TOO_LARGE,
		                    "speech: text of %zu bytes is longer than "
		                    "%d",
		                    len, SPEECH_MAX_BYTES);
	pthread_mutex_lock(&speech_lock);
	if (speech_rate <= 0) {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "speech: espeak-ng is not initialised");
		goto out;
	}
	speech_cb = sink;
	speech_ud = ud;
	speech_stopped = false;
	e = espeak_Synth(text, len + 1, 0, POS_CHARACTER, 0,
	                 espeakCHARS_UTF8 | espeakENDPAUSE, NULL, NULL);
	speech_cb = NULL;
	speech_ud = NULL;
	if (e != EE_OK && !speech_stopped)
		rc = mc_error_set(err, MC_ERR_IO,
		                  "speech: espeak-ng failed (error %d)",
		                  (int)e);
out:
	pthread_mutex_unlock(&speech_lock);
	return rc;
}

/* What mc__speech_to_pcm collects into. */
struct to_pcm {
	struct mc_pcm *out;      /* the samples so far */
	const atomic_bool *stop; /* cut short when set */
	bool nomem;              /* an append failed */
};

static bool to_pcm_block(const int16_t *s, size_t n, void *ud)
{
	struct to_pcm *t = ud;

	if (t->stop && atomic_load(t->stop))
		return true;
	if (mc__pcm_append(t->out, s, n) != MC_OK) {
		t->nomem = true;
		return true;
	}
	return false;
}

enum mc_err mc__speech_to_pcm(const char *text, struct mc_pcm *out,
                              const atomic_bool *stop, struct mc_error *err)
{
	struct to_pcm t = {out, stop, false};
	enum mc_err rc;

	pthread_mutex_lock(&speech_lock);
	out->rate = speech_rate;
	pthread_mutex_unlock(&speech_lock);
	rc = mc__speech_say(text, to_pcm_block, &t, err);
	if (rc == MC_OK && t.nomem)
		rc = mc_error_set(err, MC_ERR_NOMEM, "speech: out of memory");
	return rc;
}

/* ---- the attention tone and the alert programme ---- */

enum mc_err mc__tone_builtin(int rate, struct mc_pcm *out)
{
	/* A descending three-note chime (A5, F5, C5), each note a struck
	 * bell: fast attack, exponential decay, a quieter octave above. */
	static const double notes[] = {880.0, 698.46, 523.25};
	const double note_s = 0.6, tau = 0.22, attack = 0.004;
	size_t per = (size_t)(rate * note_s);
	enum mc_err rc;

	out->rate = rate;
	rc = pcm_reserve(out, per * 3);
	if (rc != MC_OK)
		return rc;
	for (size_t k = 0; k < 3; k++) {
		for (size_t i = 0; i < per; i++) {
			double t = (double)i / rate;
			double env = exp(-t / tau);
			double v;

			if (t < attack)
				env *= t / attack;
			v = sin(2 * M_PI * notes[k] * t) +
			    0.3 * sin(4 * M_PI * notes[k] * t);
			out->s[out->n++] = (int16_t)(v / 1.3 * env * 16384.0);
		}
	}
	return MC_OK;
}

enum mc_err mc__alert_programme(const struct mc_pcm *tone,
                                const struct mc_pcm *speech, int repeat,
                                struct mc_pcm *out)
{
	enum mc_err rc = MC_OK;

	out->rate = tone->rate ? tone->rate : speech->rate;
	if (repeat < 1)
		repeat = 1;
	if (tone->n) {
		rc = mc__pcm_append(out, tone->s, tone->n);
		if (rc == MC_OK && speech->n)
			rc = mc__pcm_silence(out, MC_AUDIO_GAP_MS);
	}
	for (int i = 0; rc == MC_OK && speech->n && i < repeat; i++) {
		if (i)
			rc = mc__pcm_silence(out, MC_AUDIO_GAP_MS);
		if (rc == MC_OK)
			rc = mc__pcm_append(out, speech->s, speech->n);
	}
	return rc;
}

/* ---- loudness and time ---- */

double mc__audio_gain(int volume_pct, double gain_db)
{
	if (volume_pct < 0)
		volume_pct = 0;
	if (volume_pct > 100)
		volume_pct = 100;
	if (!isfinite(gain_db))
		gain_db = 0;
	return volume_pct / 100.0 * pow(10.0, gain_db / 20.0);
}

int64_t mc__wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void mc__audio_log_started(const char *what, int64_t wall_ns, int64_t late_ms)
{
	int64_t us = wall_ns / 1000;

	if (late_ms > 0)
		mc_log_info("audio",
		            "%s started at %" PRId64 ".%03" PRId64
		            " (joined %" PRId64 " ms late)",
		            what, us / 1000, us % 1000, late_ms);
	else
		mc_log_info("audio", "%s started at %" PRId64 ".%03" PRId64,
		            what, us / 1000, us % 1000);
}

/* ---- the amplifier ---- */

enum mc_err mc__amp_init(struct mc_amp *a, const struct mc_player_config *cfg,
                         struct mc_error *err)
{
	memset(a, 0, sizeof(*a));
	a->on_at_ms = INT64_MAX;
	a->lead_ms = cfg->amp_lead_ms;
	a->idle_ms = cfg->amp_idle_ms;
	a->timeout_s = cfg->hook_timeout_s > 0 ? cfg->hook_timeout_s : 20;
	if (!cfg->hook_amplifier || !*cfg->hook_amplifier)
		return MC_OK;
	a->hook = mc_strdup(cfg->hook_amplifier);
	a->q = mc_evq_new();
	if (!a->hook || !a->q) {
		free(a->hook);
		a->hook = NULL;
		if (a->q)
			mc_evq_free(a->q);
		a->q = NULL;
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "amplifier: out of memory");
	}
	return MC_OK;
}

static void amp_switch(struct mc_amp *a, bool on, int64_t now_ms)
{
	const char *args[] = {on ? "on" : "off", NULL};

	a->on = on;
	a->idle_from = now_ms;
	if (on)
		a->on_at_ms = INT64_MAX;
	mc_log_info("audio", "amplifier %s: running hook", on ? "on" : "off");
	a->pending++;
	mc_hook_run(a->q, a->hook, args, a->timeout_s,
	            on ? "amplifier on" : "amplifier off");
}

void mc__amp_expect(struct mc_amp *a, int64_t now_ms, int64_t at_ms)
{
	if (!a->hook)
		return;
	if (at_ms > a->busy_until)
		a->busy_until = at_ms;
	if (a->on)
		return;
	if (at_ms - a->lead_ms <= now_ms)
		amp_switch(a, true, now_ms);
	else if (at_ms - a->lead_ms < a->on_at_ms)
		a->on_at_ms = at_ms - a->lead_ms;
}

void mc__amp_playing(struct mc_amp *a, bool playing, int64_t now_ms)
{
	if (!a->hook)
		return;
	/* Silence counts from the moment audio ended, not from each call. */
	if (!playing && a->playing)
		a->idle_from = now_ms;
	a->playing = playing;
	if (playing && !a->on) {
		mc_log_warn("audio", "amplifier was off when audio began; "
		                     "switching it on now");
		amp_switch(a, true, now_ms);
	}
}

static void amp_drain(struct mc_amp *a)
{
	struct mc_event *ev = mc_evq_take(a->q), *next;

	for (; ev; ev = next) {
		next = ev->next;
		a->pending--;
		if (ev->rc != MC_OK)
			mc_log_error("audio", "%s: hook failed: %s",
			             ev->tag ? ev->tag : "amplifier",
			             ev->text ? ev->text : "?");
		else
			mc_log_debug("audio", "%s: hook done",
			             ev->tag ? ev->tag : "amplifier");
		mc_event_free(ev);
	}
}

int mc__amp_tick(struct mc_amp *a, int64_t now_ms)
{
	int64_t next = INT64_MAX, from;

	if (!a->hook)
		return -1;
	amp_drain(a);
	if (!a->on && a->on_at_ms != INT64_MAX) {
		if (now_ms >= a->on_at_ms)
			amp_switch(a, true, now_ms);
		else
			next = a->on_at_ms - now_ms;
	}
	if (a->on && !a->playing) {
		from = a->idle_from > a->busy_until ? a->idle_from
		                                    : a->busy_until;
		if (now_ms - from >= a->idle_ms)
			amp_switch(a, false, now_ms);
		else if (from + a->idle_ms - now_ms < next)
			next = from + a->idle_ms - now_ms;
	}
	if (a->pending > 0 && next > 100)
		next = 100;
	return next == INT64_MAX ? -1 : next > INT_MAX ? INT_MAX : (int)next;
}

void mc__amp_fini(struct mc_amp *a)
{
	int64_t deadline;

	if (!a->hook)
		return;
	if (a->on)
		amp_switch(a, false, mc_now_ms());
	deadline =
	        mc_mono_ms() + (int64_t)a->timeout_s * 1000 + AMP_FINI_GRACE_MS;
	amp_drain(a);
	while (a->pending > 0 && mc_mono_ms() < deadline) {
		struct pollfd pfd = {mc_evq_fd(a->q), POLLIN, 0};

		poll(&pfd, 1, 100);
		amp_drain(a);
	}
	if (a->pending > 0)
		/* A hook thread still holds the queue: leave it to it. */
		mc_log_error("audio", "amplifier hook did not finish in %d s",
		             a->timeout_s);
	else
		mc_evq_free(a->q);
	a->q = NULL;
	MC_FREE(a->hook);
}
