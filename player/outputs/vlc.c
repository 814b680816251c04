/*
 * minecast-player — the "vlc" speaker output: audio bulletins, spoken
 * items and urgent alerts played through libvlc.
 *
 * The same contract as the GStreamer output (gst.c), for sites that
 * prefer VLC's decoders; chosen with "speaker_output = vlc" and left out
 * of the build with -DMC_WITH_VLC=OFF.  Where the two differ:
 *
 * - libvlc cannot preroll a player and hold it at a clock instant.  An
 *   at-time item is made ready ahead instead (media parsed, player
 *   created, speech synthesised: prepare()), and libvlc_media_player_play
 *   is called at the instant, from start() or from tick() if start came
 *   early.  The instant of the first audio is taken from the player's
 *   "playing" event and logged ("audio: ID started at MS, +N ms"); the
 *   unit test measures it (docs/player.md gives the figure).
 * - An item whose instant has passed (a restart in the middle of a
 *   bulletin) starts at the offset it would have reached, through the
 *   media's ":start-time" option.
 * - The amplitude wanted (item × channel percent and the content's
 *   loudness gain, as audio_common computes it) goes into the equalizer's
 *   preamp, which every libvlc output honours, unlike its volume.
 *
 * Sinks, from [audio] sink: "alsa" (the configured ALSA device, checked
 * at init with snd_pcm_open so that an absent card is an init error),
 * "fake" (VLC's dummy output) and "file:PATH" (VLC's afile output, the
 * decoded audio written to PATH as WAV; tests).
 *
 * Threads: libvlc calls the event and log callbacks on its own threads.
 * They only append to a small queue under a mutex; tick() drains it on
 * the main thread and does everything else.
 *
 * Speech and alerts: espeak-ng (the configured voice, "vi") synthesises
 * the text into a WAV in a private temporary directory, played like any
 * file; an alert is the attention tone (tone_file, or a built-in chime
 * written there too) followed by the text repeated as the alert asks,
 * starting at the alert's start_at_ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <alsa/asoundlib.h>
#include <vlc/vlc.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "audio_common.h"
#include "output.h"
#include "vlc.h"

#define MOD "audio"

/* Local-file read-ahead (ms).  VLC's default (300) delays the first audio
 * by as much; a bulletin on local flash needs far less. */
#define CACHING_MS     50
#define CACHING_OPTION ":file-caching=50"

/* How long start()/prepare() wait for libvlc to parse a file. */
#define PARSE_TIMEOUT_MS 3000

/* A play with no answer from libvlc (playing, end, error) after this
 * long means its threads are stuck: alive() turns false. */
#define HANG_MS 10000

/* An item more than this late starts at its offset, not at its start. */
#define SEEK_MIN_MS 100

/* VLC's equalizer with flat bands scales its input by 1/4 (-12.04 dB). */
#define EQ_FLAT_DB 12.0412

/* Events kept between two ticks; more are counted and dropped. */
#define EV_MAX 64

/* Alert files: a tone file, then the spoken programme; or one file. */
#define ALERT_FILES_MAX 2

/* One media player with its media: an item, a prepared item or an alert
 * segment.  The event callbacks get it as their data. */
struct track {
	struct vlc_out *vo;        /* the output it belongs to */
	unsigned gen;              /* tags its events; never reused */
	libvlc_media_t *m;         /* the file */
	libvlc_media_player_t *mp; /* plays it */
	char *path;                /* the file's path */
	char *speech;              /* spoken text it was synthesised from,
	                            * or NULL for a file */
	int64_t duration_ms;       /* as parsed; 0 = unknown */
	int64_t play_ms;           /* when play was called; 0 = not yet */
	int64_t first_ms;          /* first audio ("playing" event) */
	int64_t first_ns;          /* the same in ns, for the log line */
	bool ended;                /* played to its end */
	bool failed;               /* error event, or no audio at all */
	bool es_audio;             /* an audio stream was found */
};

/* One callback report, moved to the main thread. */
struct ev {
	unsigned gen;  /* track it came from */
	int type;      /* libvlc_event_e */
	int64_t at_ns; /* wall clock when libvlc reported it, ns */
};

struct vlc_out {
	libvlc_instance_t *vlc;
	const char *sink;  /* cfg->audio_sink, for messages (borrowed) */
	char *voice;       /* espeak-ng voice */
	char *tmpdir;      /* speech files; removed at uninit */
	char *tone_file;   /* attention tone file; NULL = built-in */
	struct mc_amp amp; /* the amplifier hook */
	unsigned next_gen; /* generation of the next track */
	unsigned n_speech; /* speech files written, for unique names */
	int master;        /* channel volume, percent */

	/* The item on the speaker channel. */
	struct track *item;
	char *item_id;    /* content id, for logs */
	int item_volume;  /* p->volume: item × channel percent */
	int item_master;  /* the channel volume p->volume included */
	double gain_db;   /* content loudness gain */
	int64_t start_ms; /* its instant */
	int64_t seek_ms;  /* offset it starts at (late start) */
	bool waiting;     /* play is due at start_ms (tick calls it) */
	bool logged;      /* its start was logged */
	double gain;      /* linear amplitude factor applied */

	/* An item made ready by prepare(), taken by start(). */
	struct track *prep;
	char *prep_id; /* its content id */

	/* The alert: tone, then the text × repeat, in one or two files. */
	struct {
		bool on;          /* between alert(a) and alert(NULL) */
		bool sounding;    /* start_at reached, segments playing */
		char *id;         /* alert id, for logs */
		int64_t start_at; /* when it sounds */
		int64_t first_ms; /* first audio of it */
		const char *files[ALERT_FILES_MAX]; /* played in turn */
		char *prog;      /* the spoken part (or all), ours */
		int n;           /* segments */
		int next;        /* segment to play next */
		int done;        /* segments played to their end */
		struct track *t; /* the segment playing */
	} alert;

	/* Filled by libvlc's threads, drained by tick(). */
	pthread_mutex_t mu;
	struct ev evs[EV_MAX];
	size_t n_evs;
	size_t dropped;
	char last_error[256]; /* last error libvlc logged */
	bool aout_failed;     /* libvlc could not open the audio output */
	bool hung;            /* a play went unanswered for HANG_MS */
	bool aout_dead;       /* the audio output failed, and nothing has
	                       * played to its end since */
};

/* ---- libvlc callbacks (libvlc's threads: queue only) ---- */

static void on_event(const struct libvlc_event_t *e, void *data)
{
	struct track *t = data;
	struct vlc_out *vo = t->vo;

	/* Only audio streams matter; a cover picture is no audio. */
	if (e->type == libvlc_MediaPlayerESAdded &&
	    e->u.media_player_es_changed.i_type != libvlc_track_audio)
		return;
	pthread_mutex_lock(&vo->mu);
	if (vo->n_evs < EV_MAX)
		vo->evs[vo->n_evs++] =
		        (struct ev){t->gen, e->type, mc__wall_ns()};
	else
		vo->dropped++;
	pthread_mutex_unlock(&vo->mu);
}

/* fmt is libvlc's printf format; the attribute lets the compiler know. */
static void on_log(void *data, int level, const libvlc_log_t *ctx,
                   const char *fmt, va_list args)
        __attribute__((format(printf, 4, 0)));
static void on_log(void *data, int level, const libvlc_log_t *ctx,
                   const char *fmt, va_list args)
{
	struct vlc_out *vo = data;
	const char *module = NULL, *file = NULL, *obj = NULL, *hdr = NULL;
	uintptr_t id = 0;
	unsigned line = 0;
	char msg[200];

	if (level < LIBVLC_WARNING)
		return;
	vsnprintf(msg, sizeof(msg), fmt, args);
	libvlc_log_get_context(ctx, &module, &file, &line);
	libvlc_log_get_object(ctx, &obj, &hdr, &id);
	if (level >= LIBVLC_ERROR) {
		pthread_mutex_lock(&vo->mu);
		snprintf(vo->last_error, sizeof(vo->last_error), "%.32s: %s",
		         obj      ? obj
		         : module ? module
		                  : "vlc",
		         msg);
		/* The player still says "playing" then: only the log
		 * tells that nothing can be heard. */
		if ((obj && strcmp(obj, "audio output") == 0) ||
		    strstr(msg, "audio output"))
			vo->aout_failed = true;
		pthread_mutex_unlock(&vo->mu);
	}
	mc_log_debug("vlc", "%s: %s", module ? module : "vlc", msg);
}

/* The last error libvlc logged, or fallback; clears it. */
static void take_error(struct vlc_out *vo, char *buf, size_t size,
                       const char *fallback)
{
	pthread_mutex_lock(&vo->mu);
	snprintf(buf, size, "%s",
	         vo->last_error[0] ? vo->last_error : fallback);
	vo->last_error[0] = '\0';
	pthread_mutex_unlock(&vo->mu);
}

/* ---- tracks ---- */

static const libvlc_event_type_t player_events[] = {
        libvlc_MediaPlayerPlaying, libvlc_MediaPlayerEndReached,
        libvlc_MediaPlayerEncounteredError, libvlc_MediaPlayerESAdded};

static void track_free(struct track *t)
{
	libvlc_event_manager_t *em;

	if (!t)
		return;
	if (t->mp) {
		em = libvlc_media_player_event_manager(t->mp);
		/* Stop first: it joins libvlc's threads for this player,
		 * so no callback runs on t after this. */
		libvlc_media_player_stop(t->mp);
		for (size_t i = 0; i < MC_ARRAY_LEN(player_events); i++)
			libvlc_event_detach(em, player_events[i], on_event, t);
		libvlc_media_player_release(t->mp);
	}
	if (t->m)
		libvlc_media_release(t->m);
	free(t->path);
	free(t->speech);
	free(t);
}

/*
 * Open path: check it, parse it (bounded), make sure it has an audio
 * stream, create its player.  On failure err says why and *out is NULL.
 */
static enum mc_err track_new(struct vlc_out *vo, const char *path,
                             const char *what, struct track **out,
                             struct mc_error *err)
{
	struct track *t;
	libvlc_media_track_t **tracks = NULL;
	libvlc_media_parsed_status_t st = 0;
	libvlc_event_manager_t *em;
	enum mc_err rc = MC_ERR_IO;
	unsigned n_tracks, n_audio = 0;
	struct stat sb;
	char why[256];
	int64_t until;

	*out = NULL;
	if (stat(path, &sb) != 0)
		return mc_error_set(err, MC_ERR_IO, "%s: %s: %s", what, path,
		                    strerror(errno));
	if (!S_ISREG(sb.st_mode) || access(path, R_OK) != 0)
		return mc_error_set(err, MC_ERR_IO,
		                    "%s: %s: not a readable file", what, path);
	t = calloc(1, sizeof(*t));
	if (!t)
		return mc_error_set(err, MC_ERR_NOMEM, "%s: no memory", what);
	t->vo = vo;
	t->gen = ++vo->next_gen;
	t->path = mc_strdup(path);
	t->m = libvlc_media_new_path(vo->vlc, path);
	if (!t->m || !t->path) {
		mc_error_set(err, MC_ERR_NOMEM, "%s: %s: libvlc cannot open it",
		             what, path);
		goto fail;
	}
	if (libvlc_media_parse_with_options(t->m, libvlc_media_parse_local,
	                                    PARSE_TIMEOUT_MS) != 0) {
		mc_error_set(err, rc, "%s: %s: libvlc cannot parse it", what,
		             path);
		goto fail;
	}
	until = mc_mono_ms() + PARSE_TIMEOUT_MS + 500;
	while ((st = libvlc_media_get_parsed_status(t->m)) == 0 &&
	       mc_mono_ms() < until)
		usleep(1000);
	if (st != libvlc_media_parsed_status_done) {
		take_error(vo, why, sizeof(why),
		           st == libvlc_media_parsed_status_timeout || st == 0
		                   ? "parsing timed out"
		                   : "not a media file libvlc can read");
		mc_error_set(err, MC_ERR_PARSE, "%s: %s: %s", what, path, why);
		goto fail;
	}
	n_tracks = libvlc_media_tracks_get(t->m, &tracks);
	for (unsigned i = 0; i < n_tracks; i++)
		if (tracks[i]->i_type == libvlc_track_audio)
			n_audio++;
	if (tracks)
		libvlc_media_tracks_release(tracks, n_tracks);
	if (!n_audio) {
		take_error(vo, why, sizeof(why), "no audio stream found");
		mc_error_set(err, MC_ERR_PARSE,
		             "%s: %s: corrupt or not audio (%s)", what, path,
		             why);
		goto fail;
	}
	t->duration_ms = libvlc_media_get_duration(t->m);
	libvlc_media_add_option(t->m, CACHING_OPTION);
	libvlc_media_add_option(t->m, ":no-video");
	t->mp = libvlc_media_player_new_from_media(t->m);
	if (!t->mp) {
		mc_error_set(err, MC_ERR_NOMEM,
		             "%s: %s: libvlc cannot make a player", what, path);
		goto fail;
	}
	em = libvlc_media_player_event_manager(t->mp);
	for (size_t i = 0; i < MC_ARRAY_LEN(player_events); i++)
		libvlc_event_attach(em, player_events[i], on_event, t);
	*out = t;
	return MC_OK;
fail:
	track_free(t);
	return err->code ? err->code : rc;
}

/*
 * Give t the linear amplitude factor amp.  libvlc's volume works only on
 * outputs that have one (ALSA: cubic software volume; not afile), so the
 * gain goes into the equalizer's preamp instead, which every output
 * honours: all bands flat, only the preamp acts, -20..+20 dB.  VLC's
 * equalizer passes the dry signal at a quarter (EQ_FLAT_DB below unity),
 * which the preamp makes up.  What lies below the preamp's range goes to
 * the volume; 0 mutes.
 */
static void track_gain(struct track *t, double amp)
{
	libvlc_equalizer_t *eq = libvlc_audio_equalizer_new();
	double db = amp > 0 ? 20.0 * log10(amp) + EQ_FLAT_DB : -200.0;
	double pre = db < -20.0 ? -20.0 : db > 20.0 ? 20.0 : db;
	double rest = db < pre ? db - pre : 0.0;

	if (eq) {
		libvlc_audio_equalizer_set_preamp(eq, (float)pre);
		libvlc_media_player_set_equalizer(t->mp, eq);
		libvlc_audio_equalizer_release(eq);
	}
	libvlc_audio_set_volume(
	        t->mp,
	        amp > 0 ? (int)lround(100.0 * cbrt(pow(10.0, rest / 20.0)))
	                : 0);
}

/* Call play on t, once. */
static enum mc_err track_play(struct vlc_out *vo, struct track *t,
                              struct mc_error *err)
{
	char why[256];

	t->play_ms = mc_now_ms();
	if (libvlc_media_player_play(t->mp) != 0) {
		take_error(vo, why, sizeof(why), "play refused");
		t->failed = true;
		return mc_error_set(err, MC_ERR_IO, "%s: libvlc: %s", t->path,
		                    why);
	}
	return MC_OK;
}

/* ---- speech and the alert programme (audio_common) ---- */

/* Write pcm to a new WAV under tmpdir (*path malloc'd). */
static enum mc_err write_tmp(struct vlc_out *vo, const struct mc_pcm *pcm,
                             char **path, struct mc_error *err)
{
	enum mc_err rc;

	*path = mc_printf("%s/speech-%u.wav", vo->tmpdir, ++vo->n_speech);
	if (!*path)
		return mc_error_set(err, MC_ERR_NOMEM, "speech: no memory");
	rc = mc__wav_write(*path, pcm, err);
	if (rc != MC_OK) {
		unlink(*path);
		MC_FREE(*path);
	}
	return rc;
}

/* Speak text with the configured voice into a new WAV (*path malloc'd). */
static enum mc_err synth(struct vlc_out *vo, const char *text, char **path,
                         struct mc_error *err)
{
	struct mc_pcm pcm = {0};
	enum mc_err rc;
	int rate;

	*path = NULL;
	rc = mc__speech_init(vo->voice, &rate, err);
	if (rc == MC_OK)
		rc = mc__speech_to_pcm(text, &pcm, NULL, err);
	if (rc == MC_OK && !pcm.n)
		rc = mc_error_set(err, MC_ERR_IO, "speech: nothing spoken");
	if (rc == MC_OK)
		rc = write_tmp(vo, &pcm, path, err);
	mc__pcm_free(&pcm);
	return rc;
}

/*
 * The alert as files: with the built-in tone one WAV (tone, then the text
 * repeat times); with a tone file that file, then a WAV of the pause and
 * the spoken repeats.  A text that cannot be spoken leaves the tone.
 */
static enum mc_err alert_files(struct vlc_out *vo, const struct mc_alert *a,
                               struct mc_error *err)
{
	struct mc_pcm tone = {0}, speech = {0}, prog = {0};
	struct mc_error serr = {0};
	enum mc_err rc = MC_OK;
	int rate = 22050;

	if (a->text && *a->text) {
		if (mc__speech_init(vo->voice, &rate, &serr) == MC_OK)
			mc__speech_to_pcm(a->text, &speech, NULL, &serr);
		if (serr.code)
			mc_log_error(MOD,
			             "alert %s: cannot speak its text (%s); "
			             "the tone alone sounds",
			             a->id, serr.msg);
	}
	speech.rate = rate;
	if (vo->tone_file) {
		vo->alert.files[vo->alert.n++] = vo->tone_file;
		if (speech.n) {
			prog.rate = rate;
			rc = mc__pcm_silence(&prog, MC_AUDIO_GAP_MS);
			if (rc == MC_OK)
				rc = mc__alert_programme(&tone, &speech,
				                         a->repeat, &prog);
		}
	} else {
		rc = mc__tone_builtin(rate, &tone);
		if (rc == MC_OK)
			rc = mc__alert_programme(&tone, &speech, a->repeat,
			                         &prog);
	}
	if (rc != MC_OK)
		rc = mc_error_set(err, rc, "alert %s: no memory", a->id);
	else if (prog.n)
		rc = write_tmp(vo, &prog, &vo->alert.prog, err);
	if (rc == MC_OK && vo->alert.prog)
		vo->alert.files[vo->alert.n++] = vo->alert.prog;
	mc__pcm_free(&tone);
	mc__pcm_free(&speech);
	mc__pcm_free(&prog);
	return rc;
}

/* ---- init ---- */

/* An absent ALSA device is an init error; a busy one is present. */
static enum mc_err alsa_check(const char *dev, struct mc_error *err)
{
	snd_pcm_t *pcm = NULL;
	int e = snd_pcm_open(&pcm, dev, SND_PCM_STREAM_PLAYBACK,
	                     SND_PCM_NONBLOCK);

	if (e == 0) {
		snd_pcm_close(pcm);
		return MC_OK;
	}
	if (e == -EBUSY || e == -EAGAIN)
		return MC_OK;
	return mc_error_set(err, MC_ERR_IO, "ALSA device '%s': %s", dev,
	                    snd_strerror(e));
}

static void vlc_uninit(struct mc_output *o);

static enum mc_err vlc_init(struct mc_output *o,
                            const struct mc_player_config *cfg,
                            struct mc_error *err)
{
	const char *sink = cfg->audio_sink ? cfg->audio_sink : "alsa";
	const char *dev = cfg->audio_device ? cfg->audio_device : "default";
	const char *args[8] = {"--no-video", "--quiet", "--no-xlib",
	                       "--no-stats"};
	char *a_opt = NULL;
	int n = 4;
	struct vlc_out *vo = calloc(1, sizeof(*vo));
	char tmpl[] = "/tmp/minecast-vlc-XXXXXX";
	enum mc_err rc = MC_OK;

	if (!vo)
		return mc_error_set(err, MC_ERR_NOMEM, "vlc output: no memory");
	o->priv = vo;
	pthread_mutex_init(&vo->mu, NULL);
	vo->sink = cfg->audio_sink;
	vo->master = cfg->volume;
	vo->voice = mc_strdup(cfg->voice && *cfg->voice ? cfg->voice : "vi");
	if (strcmp(sink, "alsa") == 0) {
		rc = alsa_check(dev, err);
		if (rc != MC_OK)
			goto fail;
		args[n++] = "--aout=alsa";
		a_opt = mc_printf("--alsa-audio-device=%s", dev);
		args[n++] = a_opt;
	} else if (strcmp(sink, "fake") == 0) {
		args[n++] = "--aout=adummy";
	} else if (strncmp(sink, "file:", 5) == 0 && sink[5]) {
		args[n++] = "--aout=afile";
		a_opt = mc_printf("--audiofile-file=%s", sink + 5);
		args[n++] = a_opt;
		args[n++] = "--audiofile-wav";
	} else {
		rc = mc_error_set(err, MC_ERR_RANGE,
		                  "vlc output: audio sink '%s': expected alsa, "
		                  "fake or file:PATH",
		                  sink);
		goto fail;
	}
	if (!vo->voice || (!a_opt && strcmp(sink, "fake") != 0)) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "vlc output: no memory");
		goto fail;
	}
	vo->vlc = libvlc_new(n, args);
	if (!vo->vlc) {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "libvlc cannot start (are its plugins, "
		                  "vlc-plugin-base, installed?): %s",
		                  libvlc_errmsg() ? libvlc_errmsg()
		                                  : "no reason");
		goto fail;
	}
	libvlc_log_set(vo->vlc, on_log, vo);
	if (!mkdtemp(tmpl)) {
		rc = mc_error_set(err, MC_ERR_IO, "vlc output: %s: %s", tmpl,
		                  strerror(errno));
		goto fail;
	}
	vo->tmpdir = mc_strdup(tmpl);
	if (!vo->tmpdir) {
		rmdir(tmpl);
		rc = mc_error_set(err, MC_ERR_NOMEM, "vlc output: no memory");
		goto fail;
	}
	if (cfg->tone_file && *cfg->tone_file) {
		vo->tone_file = mc_strdup(cfg->tone_file);
		if (!vo->tone_file) {
			rc = mc_error_set(err, MC_ERR_NOMEM, "no memory");
			goto fail;
		}
	}
	rc = mc__amp_init(&vo->amp, cfg, err);
	if (rc != MC_OK)
		goto fail;
	mc_log_info(MOD, "vlc output ready: libvlc %s, sink %s%s%s",
	            libvlc_get_version(), sink,
	            strcmp(sink, "alsa") == 0 ? ", device " : "",
	            strcmp(sink, "alsa") == 0 ? dev : "");
	free(a_opt);
	return MC_OK;
fail:
	free(a_opt);
	vlc_uninit(o);
	return rc ? rc : MC_ERR_IO;
}

/* ---- the item ---- */

static void item_clear(struct vlc_out *vo)
{
	if (vo->item && vo->item->first_ms && !vo->item->ended &&
	    !vo->item->failed)
		mc__amp_playing(&vo->amp, false, mc_now_ms());
	track_free(vo->item);
	vo->item = NULL;
	MC_FREE(vo->item_id);
	vo->waiting = false;
	vo->logged = false;
	vo->seek_ms = 0;
}

static void prep_clear(struct vlc_out *vo)
{
	track_free(vo->prep);
	vo->prep = NULL;
	MC_FREE(vo->prep_id);
}

/* Open what p plays: its file, or its text spoken. */
static enum mc_err open_play(struct vlc_out *vo, const struct mc_play *p,
                             struct track **t, struct mc_error *err)
{
	const char *id = p->content ? p->content->id : "(item)";
	char *path = NULL;
	enum mc_err rc;

	if (p->path)
		return track_new(vo, p->path, id, t, err);
	if (!p->text || !*p->text)
		return mc_error_set(err, MC_ERR_INVAL,
		                    "%s: neither a file nor a text to speak",
		                    id);
	rc = synth(vo, p->text, &path, err);
	if (rc == MC_OK)
		rc = track_new(vo, path, id, t, err);
	if (rc == MC_OK)
		(*t)->speech = mc_strdup(p->text);
	else if (path)
		unlink(path);
	free(path);
	return rc;
}

static bool same_prep(const struct vlc_out *vo, const struct mc_play *p)
{
	const char *id = p->content ? p->content->id : NULL;

	if (!vo->prep || !id || !vo->prep_id || strcmp(id, vo->prep_id) != 0)
		return false;
	if (p->path)
		return !vo->prep->speech &&
		       strcmp(p->path, vo->prep->path) == 0;
	return vo->prep->speech && p->text &&
	       strcmp(p->text, vo->prep->speech) == 0;
}

static enum mc_err vlc_prepare(struct mc_output *o, const struct mc_play *p,
                               struct mc_error *err)
{
	struct vlc_out *vo = o->priv;
	struct track *t = NULL;
	enum mc_err rc;

	if (same_prep(vo, p))
		return MC_OK;
	prep_clear(vo);
	rc = open_play(vo, p, &t, err);
	if (rc != MC_OK)
		return rc;
	vo->prep = t;
	vo->prep_id = mc_strdup(p->content ? p->content->id : NULL);
	mc__amp_expect(&vo->amp, mc_now_ms(), p->start_ms);
	return MC_OK;
}

static void apply_volume(struct vlc_out *vo)
{
	int pct = vo->item_volume;

	/* p->volume already holds the channel volume it started with;
	 * a later set_volume rescales it. */
	if (vo->item_master > 0 && vo->master != vo->item_master)
		pct = (int)((int64_t)pct * vo->master / vo->item_master);
	vo->gain = mc__audio_gain(pct, vo->gain_db);
	if (vo->item)
		track_gain(vo->item, vo->gain);
}

/* Play the item now, at its offset if it is late. */
static enum mc_err item_go(struct vlc_out *vo, int64_t now,
                           struct mc_error *err)
{
	struct track *t = vo->item;
	char opt[64];

	vo->waiting = false;
	vo->seek_ms = now - vo->start_ms > SEEK_MIN_MS ? now - vo->start_ms : 0;
	if (vo->seek_ms && t->duration_ms > 0 &&
	    vo->seek_ms >= t->duration_ms) {
		t->ended = true;
		mc_log_info(MOD,
		            "%s: its instant passed %" PRId64
		            " ms ago, longer than it lasts; not played",
		            vo->item_id, vo->seek_ms);
		return MC_OK;
	}
	if (vo->seek_ms) {
		snprintf(opt, sizeof(opt), ":start-time=%.3f",
		         (double)vo->seek_ms / 1000.0);
		libvlc_media_add_option(t->m, opt);
	}
	apply_volume(vo);
	return track_play(vo, t, err);
}

static enum mc_err vlc_start(struct mc_output *o, const struct mc_play *p,
                             struct mc_error *err)
{
	struct vlc_out *vo = o->priv;
	const char *id = p->content ? p->content->id : "(item)";
	struct track *t = NULL;
	int64_t now;
	enum mc_err rc;

	item_clear(vo);
	if (same_prep(vo, p)) {
		t = vo->prep;
		vo->prep = NULL;
		MC_FREE(vo->prep_id);
	} else {
		prep_clear(vo);
		rc = open_play(vo, p, &t, err);
		if (rc != MC_OK)
			return rc;
	}
	vo->item = t;
	vo->item_id = mc_strdup(id);
	vo->item_volume = p->volume;
	vo->item_master = vo->master;
	vo->gain_db = p->content ? p->content->gain_db : 0.0;
	vo->start_ms = p->start_ms;
	now = mc_now_ms();
	mc__amp_expect(&vo->amp, now, p->start_ms > now ? p->start_ms : now);
	if (p->start_ms > now) {
		/* Early: tick() plays it at its instant. */
		vo->waiting = true;
		apply_volume(vo);
		return MC_OK;
	}
	rc = item_go(vo, now, err);
	if (rc != MC_OK)
		item_clear(vo);
	return rc;
}

static void vlc_stop(struct mc_output *o, enum mc_channel ch, bool completed)
{
	struct vlc_out *vo = o->priv;

	if (ch != MC_CH_SPEAKER || !vo->item)
		return;
	mc_log_debug(MOD, "%s: stopped (%s)", vo->item_id,
	             completed ? "completed" : "interrupted");
	item_clear(vo);
}

static void vlc_set_volume(struct mc_output *o, int percent)
{
	struct vlc_out *vo = o->priv;

	vo->master = percent;
	apply_volume(vo);
}

/* ---- alerts ---- */

static void alert_clear(struct vlc_out *vo)
{
	track_free(vo->alert.t);
	vo->alert.t = NULL;
	if (vo->alert.prog)
		unlink(vo->alert.prog);
	MC_FREE(vo->alert.prog);
	memset(vo->alert.files, 0, sizeof(vo->alert.files));
	MC_FREE(vo->alert.id);
	vo->alert.n = vo->alert.next = vo->alert.done = 0;
	vo->alert.on = vo->alert.sounding = false;
	vo->alert.first_ms = 0;
}

/* Start the next alert segment, skipping any that cannot open. */
static void alert_next(struct vlc_out *vo)
{
	struct mc_error err = {0};

	track_free(vo->alert.t);
	vo->alert.t = NULL;
	while (vo->alert.next < vo->alert.n) {
		const char *f = vo->alert.files[vo->alert.next++];

		if (track_new(vo, f, vo->alert.id, &vo->alert.t, &err) ==
		            MC_OK &&
		    (track_gain(vo->alert.t, 1.0),
		     track_play(vo, vo->alert.t, &err) == MC_OK))
			return;
		mc_log_error(MOD, "alert %s: segment %d: %s", vo->alert.id,
		             vo->alert.next, err.msg);
		track_free(vo->alert.t);
		vo->alert.t = NULL;
	}
	mc_log_info(MOD, "alert %s: played to its end", vo->alert.id);
	vo->alert.sounding = false;
	mc__amp_playing(&vo->amp, false, mc_now_ms());
}

static enum mc_err vlc_alert(struct mc_output *o, const struct mc_alert *a,
                             struct mc_error *err)
{
	struct vlc_out *vo = o->priv;
	enum mc_err rc;

	if (vo->alert.sounding)
		mc__amp_playing(&vo->amp, false, mc_now_ms());
	alert_clear(vo);
	if (!a)
		return MC_OK;
	vo->alert.id = mc_strdup(a->id);
	/* Synthesised now, within the lead before start_at. */
	rc = alert_files(vo, a, err);
	if (rc != MC_OK || !vo->alert.n) {
		if (rc == MC_OK)
			rc = mc_error_set(err, MC_ERR_IO,
			                  "alert %s: nothing to sound", a->id);
		alert_clear(vo);
		return rc;
	}
	vo->alert.on = true;
	vo->alert.start_at = a->start_at_ms;
	mc__amp_expect(&vo->amp, mc_now_ms(), a->start_at_ms);
	return MC_OK;
}

/* ---- tick ---- */

static void log_start(struct vlc_out *vo, struct track *t)
{
	vo->logged = true;
	/* Position 0 of the file was at first audio minus the offset it
	 * joined at. */
	mc__audio_log_started(vo->item_id, t->first_ns - vo->seek_ms * 1000000,
	                      vo->seek_ms);
	mc_log_debug(MOD, "%s: first audio %+" PRId64 " ms from its instant%s",
	             vo->item_id, t->first_ms - vo->start_ms - vo->seek_ms,
	             t->speech ? " (spoken)" : "");
}

static void handle(struct vlc_out *vo, const struct ev *e)
{
	struct track *t = NULL;
	char why[256];

	if (vo->item && vo->item->gen == e->gen)
		t = vo->item;
	else if (vo->alert.t && vo->alert.t->gen == e->gen)
		t = vo->alert.t;
	if (!t)
		return; /* from a track already freed */
	switch (e->type) {
	case libvlc_MediaPlayerESAdded: t->es_audio = true; break;
	case libvlc_MediaPlayerPlaying:
		if (!t->first_ms) {
			t->first_ns = e->at_ns;
			t->first_ms = e->at_ns / 1000000;
			mc__amp_playing(&vo->amp, true, t->first_ms);
		}
		if (t == vo->item && !vo->logged)
			log_start(vo, t);
		if (t == vo->alert.t && !vo->alert.first_ms) {
			char what[96];

			vo->alert.first_ms = t->first_ms;
			snprintf(what, sizeof(what), "alert %s", vo->alert.id);
			mc__audio_log_started(what, t->first_ns, 0);
		}
		break;
	case libvlc_MediaPlayerEndReached:
		if (!t->first_ms || !t->es_audio) {
			/* libvlc ends a file it could not sound (no audio
			 * output, undecodable data) without an error. */
			take_error(vo, why, sizeof(why),
			           "nothing could be played");
			t->failed = true;
			mc_log_error(MOD, "%s: %s: %s; skipped",
			             t == vo->item ? vo->item_id : vo->alert.id,
			             t->path, why);
		} else {
			t->ended = true;
			vo->aout_dead = false; /* the device works again */
		}
		if (t == vo->alert.t) {
			vo->alert.done += !t->failed;
			alert_next(vo);
		} else {
			mc_log_debug(MOD, "%s: played to its end", vo->item_id);
			mc__amp_playing(&vo->amp, false, e->at_ns / 1000000);
		}
		break;
	case libvlc_MediaPlayerEncounteredError:
		take_error(vo, why, sizeof(why), "playback error");
		t->failed = true;
		mc_log_error(MOD, "%s: %s: %s",
		             t == vo->item ? vo->item_id : vo->alert.id,
		             t->path, why);
		if (t == vo->alert.t)
			alert_next(vo);
		else
			mc__amp_playing(&vo->amp, false, e->at_ns / 1000000);
		break;
	default: break;
	}
}

/* The audio output failed: what plays is not heard. */
static void fail_playing(struct vlc_out *vo)
{
	struct track *t = vo->alert.t ? vo->alert.t : vo->item;
	char why[256];

	take_error(vo, why, sizeof(why), "the audio output failed");
	if (!t || !t->play_ms || t->ended || t->failed)
		return;
	t->failed = true;
	vo->aout_dead = true;
	mc_log_error(MOD, "%s: %s: cannot be heard: %s (sink %s)",
	             t == vo->item ? vo->item_id : vo->alert.id, t->path, why,
	             vo->sink ? vo->sink : "alsa");
	if (t == vo->alert.t)
		alert_next(vo);
	else
		mc__amp_playing(&vo->amp, false, mc_now_ms());
}

static bool unanswered(const struct track *t, int64_t now)
{
	return t && t->play_ms && !t->first_ms && !t->ended && !t->failed &&
	       now - t->play_ms > HANG_MS;
}

static int vlc_tick(struct mc_output *o, int64_t now)
{
	struct vlc_out *vo = o->priv;
	struct ev evs[EV_MAX];
	struct mc_error err = {0};
	size_t n, dropped;
	int64_t wait = -1;
	bool aout_failed;
	int amp;

	pthread_mutex_lock(&vo->mu);
	n = vo->n_evs;
	memcpy(evs, vo->evs, n * sizeof(evs[0]));
	vo->n_evs = 0;
	dropped = vo->dropped;
	vo->dropped = 0;
	aout_failed = vo->aout_failed;
	vo->aout_failed = false;
	pthread_mutex_unlock(&vo->mu);
	if (dropped)
		mc_log_warn(MOD, "vlc output: %zu libvlc events dropped",
		            dropped);
	for (size_t i = 0; i < n; i++)
		handle(vo, &evs[i]);
	if (aout_failed)
		fail_playing(vo);

	/* The alert takes the loudspeaker at its instant. */
	if (vo->alert.on && !vo->alert.sounding && !vo->alert.next) {
		if (now >= vo->alert.start_at) {
			if (vo->item) {
				mc_log_info(MOD, "%s: cut short by alert %s",
				            vo->item_id, vo->alert.id);
				item_clear(vo);
			}
			vo->alert.sounding = true;
			alert_next(vo);
		} else {
			wait = vo->alert.start_at - now;
		}
	}
	if (vo->item && vo->waiting) {
		if (now >= vo->start_ms) {
			if (item_go(vo, now, &err) != MC_OK) {
				mc_log_error(MOD, "%s: cannot start: %s",
				             vo->item_id, err.msg);
				vo->item->failed = true;
			}
		} else if (wait < 0 || vo->start_ms - now < wait) {
			wait = vo->start_ms - now;
		}
	}
	vo->hung = unanswered(vo->item, now) || unanswered(vo->alert.t, now);
	amp = mc__amp_tick(&vo->amp, now);
	if (amp >= 0 && (wait < 0 || amp < wait))
		wait = amp;
	/* While libvlc has something to say, listen often: the main loop
	 * cannot poll libvlc's threads. */
	if ((vo->alert.sounding) ||
	    (vo->item && vo->item->play_ms && !vo->item->first_ms &&
	     !vo->item->failed && !vo->item->ended)) {
		if (wait < 0 || wait > 10)
			wait = 10;
	} else if (vo->item && !vo->item->ended && !vo->item->failed &&
	           !vo->waiting) {
		if (wait < 0 || wait > 100)
			wait = 100;
	}
	return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

static bool vlc_alive(struct mc_output *o)
{
	struct vlc_out *vo = o->priv;

	/* A device that failed (unplugged) is not alive: the watchdog lets
	 * systemd restart the player, whose init then finds it or not. */
	return vo && vo->vlc && !vo->hung && !vo->aout_dead;
}

/* Remove the files this output wrote (speech-N.wav), then dir. */
static void rm_tmpdir(struct vlc_out *vo)
{
	char *p;

	for (unsigned i = 1; i <= vo->n_speech; i++) {
		p = mc_printf("%s/speech-%u.wav", vo->tmpdir, i);
		if (p)
			unlink(p);
		free(p);
	}
	if (rmdir(vo->tmpdir) != 0)
		mc_log_warn(MOD, "vlc output: cannot remove %s: %s", vo->tmpdir,
		            strerror(errno));
}

static void vlc_uninit(struct mc_output *o)
{
	struct vlc_out *vo = o->priv;

	if (!vo)
		return;
	alert_clear(vo);
	item_clear(vo);
	prep_clear(vo);
	if (vo->vlc) {
		libvlc_log_unset(vo->vlc);
		libvlc_release(vo->vlc);
	}
	if (vo->tmpdir)
		rm_tmpdir(vo);
	free(vo->tmpdir);
	free(vo->tone_file);
	mc__amp_fini(&vo->amp);
	free(vo->voice);
	pthread_mutex_destroy(&vo->mu);
	free(vo);
	o->priv = NULL;
}

void mc_output_vlc_status(struct mc_output *o, struct mc_vlc_status *st)
{
	struct vlc_out *vo = o->priv;

	memset(st, 0, sizeof(*st));
	if (!vo)
		return;
	if (vo->item) {
		st->playing = !vo->item->ended && !vo->item->failed;
		st->start_ms = vo->start_ms;
		st->started_ms = vo->item->first_ms;
		st->ended = vo->item->ended;
		st->failed = vo->item->failed;
		st->gain = vo->gain;
	}
	st->alert = vo->alert.sounding;
	st->alert_started_ms = vo->alert.first_ms;
	st->alert_segments = vo->alert.n;
	st->alert_done = vo->alert.done;
}

const struct mc_output_ops mc_output_vlc = {
        .name = "vlc",
        .channels = 1u << MC_CH_SPEAKER,
        .init = vlc_init,
        .uninit = vlc_uninit,
        .prepare = vlc_prepare,
        .start = vlc_start,
        .stop = vlc_stop,
        .set_volume = vlc_set_volume,
        .alert = vlc_alert,
        .tick = vlc_tick,
        .alive = vlc_alive,
};
