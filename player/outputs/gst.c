/*
 * minecast-player — the "gstreamer" speaker output.
 *
 * One GStreamer pipeline per thing that sounds:
 *
 *   audio item:  uridecodebin ! audioconvert ! audioresample ! volume
 *                ! audioconvert ! SINK
 *   speech item, alert:
 *                appsrc (mono S16 from espeak-ng, on a feeder thread)
 *                ! audioconvert ! audioresample ! volume ! audioconvert
 *                ! SINK
 *
 * SINK is alsasink device=[audio] device, or for "fake" and "file:PATH" a
 * fakesink that syncs on the clock (S16LE 48 kHz stereo), whose handoff
 * (emitted after the clock wait, when the buffer is rendered) records the
 * wall-clock instant the first buffer played and, for "file:", appends
 * the samples to one WAV file.  That instant is logged as "audio: <id>
 * started at <ms>.<µs>" for tests and bench/audio_skew.py.
 *
 * In step: every pipeline runs on a realtime system clock (CLOCK_REALTIME,
 * which NTP/PTP keep equal across a site) or on a GstNetClientClock
 * ("net:HOST:PORT").  The pipeline's start time is NONE and its base time
 * is set by hand, so that running time 0 falls on the item's scheduled
 * wall-clock instant: two nodes with the same item start together to
 * within their clocks' agreement.  A start already past joins late: the
 * item is sought to where it should be a moment from now and the base
 * time moved by as much, so a late node plays in step with the others.
 *
 * Threads: ops run on the main thread.  GStreamer's streaming threads only
 * touch the track they belong to (first-render instant, WAV writing under
 * a lock) and log; bus messages are drained in tick().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <gst/net/gstnetclientclock.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "audio_common.h"
#include "output.h"

/* Longest wait for a pipeline to preroll (or seek) before giving up. */
#define PREROLL_WAIT_NS (2 * GST_SECOND)
/* A start this close ahead is armed as it is. */
#define ARM_MIN_AHEAD_NS (2 * GST_MSECOND)
/* A late file item is sought this far beyond now (covers the seek). */
#define LATE_MARGIN_FILE_MS 80
/* A late speech item skips this far beyond now (covers synthesis of the
 * first clause). */
#define LATE_MARGIN_SPEECH_MS 300
/* A late alert (tone first) skips this far beyond now. */
#define LATE_MARGIN_ALERT_MS 40
/* An armed item the timeline never started is dropped after this. */
#define UNCLAIMED_MS 3000
/* tick() interval while something plays (bus draining). */
#define TICK_PLAYING_MS 50
/* Format of the fake and file sinks. */
#define OUT_RATE     48000
#define OUT_CHANNELS 2
/* appsrc queue: the feeder blocks beyond this much audio. */
#define APPSRC_MAX_BYTES (64 * 1024)
/* Longest attention tone file kept in memory, in seconds. */
#define TONE_MAX_S 30

enum sink_kind { SINK_ALSA, SINK_FAKE, SINK_FILE };

struct gst_out;

/* One pipeline: an audio item, a speech item or an alert. */
struct track {
	struct gst_out *g; /* the output it belongs to */
	GstElement *pipe;  /* the pipeline, owned */
	GstElement *vol;   /* its volume element (borrowed from pipe) */
	GstElement *conv;  /* uridecodebin links its pad here */
	GstAppSrc *src;    /* appsrc of speech and alerts, else NULL */
	char *what;        /* for logs: content id or "alert <id>" */
	char *key;         /* identity of the play (see play_key) */
	int64_t start_ns;  /* wall-clock instant of position 0 */
	int64_t offset_ms; /* late join: position it started from */
	int64_t shift_ms;  /* base time moved by this (late file join) */
	int pct;           /* volume percent it started with */
	int master;        /* master volume at that moment */
	double gain_db;    /* loudness normalisation */
	bool alert;        /* an alert (held at 100 %) */
	bool armed;        /* PLAYING with its base time set */
	bool ended;        /* EOS seen */
	bool failed;       /* an error was posted */
	atomic_bool first; /* first buffer rendered */
	/* the feeder (appsrc tracks) */
	pthread_t feeder;     /* feeding thread */
	bool has_feeder;      /* feeder was started */
	atomic_bool stop;     /* feeder: give up */
	struct mc_pcm head;   /* samples before the text (tone, gap) */
	char *text;           /* spoken after head, NULL = none */
	int repeat;           /* times text is spoken */
	int rate;             /* appsrc sample rate */
	uint64_t skip;        /* feeder: samples not pushed (late join) */
	uint64_t pos;         /* feeder: samples produced so far */
	struct mc_pcm said;   /* feeder: the text spoken, for repeats */
	struct mc_error ferr; /* feeder: what went wrong */
};

struct gst_out {
	enum sink_kind sink;  /* what SINK is */
	char *device;         /* ALSA device */
	char *file;           /* "file:" path */
	int wav_fd;           /* the WAV written by "file:", -1 = none */
	uint64_t wav_bytes;   /* data bytes written to it */
	pthread_mutex_t lock; /* guards wav_fd and wav_bytes */
	GstClock *clock;      /* realtime system clock or net client clock */
	char *clock_name;     /* for logs */
	int rate;             /* speech and tone sample rate */
	bool speech;          /* espeak-ng works */
	struct mc_pcm tone;   /* the attention tone at rate */
	int master;           /* master volume percent */
	struct track *cur;    /* scheduled audio playing (or armed) */
	struct track *next;   /* prepared ahead, armed for its start */
	struct track *alert;  /* the alert sounding */
	bool dead;            /* the sink reported a device error */
	struct mc_amp amp;    /* the amplifier hook */
};

/* ---- the WAV file of "file:" ---- */

static void put32(unsigned char *b, uint32_t v)
{
	b[0] = (unsigned char)v;
	b[1] = (unsigned char)(v >> 8);
	b[2] = (unsigned char)(v >> 16);
	b[3] = (unsigned char)(v >> 24);
}

/* Write the 44-byte header for data bytes of S16LE OUT_RATE stereo. */
static bool wav_header(int fd, uint64_t data)
{
	unsigned char h[44] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x02\0";
	uint32_t d = data > UINT32_MAX - 36 ? UINT32_MAX - 36 : (uint32_t)data;

	put32(h + 4, 36 + d);
	put32(h + 24, OUT_RATE);
	put32(h + 28, OUT_RATE * OUT_CHANNELS * 2);
	h[32] = OUT_CHANNELS * 2;
	h[33] = 0;
	h[34] = 16;
	h[35] = 0;
	memcpy(h + 36, "data", 4);
	put32(h + 40, d);
	return pwrite(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h);
}

/* Append rendered samples; the header always describes the whole file,
 * so a test may read it while audio still plays.  Streaming thread. */
static void wav_append(struct gst_out *g, GstBuffer *buf)
{
	GstMapInfo map;

	if (!gst_buffer_map(buf, &map, GST_MAP_READ))
		return;
	pthread_mutex_lock(&g->lock);
	if (g->wav_fd >= 0 &&
	    pwrite(g->wav_fd, map.data, map.size, (off_t)(44 + g->wav_bytes)) ==
	            (ssize_t)map.size) {
		g->wav_bytes += map.size;
		wav_header(g->wav_fd, g->wav_bytes);
	}
	pthread_mutex_unlock(&g->lock);
	gst_buffer_unmap(buf, &map);
}

/* ---- tracks ---- */

/* fakesink's handoff: after the clock wait, as the buffer renders. */
static void on_handoff(GstElement *sink, GstBuffer *buf, GstPad *pad,
                       gpointer ud)
{
	struct track *t = ud;
	int64_t now = mc__wall_ns();

	(void)sink;
	(void)pad;
	if (t->g->sink == SINK_FILE)
		wav_append(t->g, buf);
	if (!atomic_exchange(&t->first, true)) {
		int64_t pts = GST_BUFFER_PTS_IS_VALID(buf)
		                      ? (int64_t)GST_BUFFER_PTS(buf)
		                      : 0;

		mc__audio_log_started(t->what, now - pts, t->offset_ms);
	}
}

/* alsasink: the first buffer's scheduled instant (the sink then plays
 * it at that instant on the pipeline clock). */
static GstPadProbeReturn on_alsa_buffer(GstPad *pad, GstPadProbeInfo *info,
                                        gpointer ud)
{
	struct track *t = ud;

	(void)pad;
	if (!atomic_exchange(&t->first, true))
		mc__audio_log_started(t->what, t->start_ns, t->offset_ms);
	(void)info;
	return GST_PAD_PROBE_REMOVE;
}

/* uridecodebin found a stream: link the first audio one. */
static void on_pad_added(GstElement *dec, GstPad *pad, gpointer ud)
{
	struct track *t = ud;
	GstPad *sinkpad = gst_element_get_static_pad(t->conv, "sink");
	GstCaps *caps = gst_pad_get_current_caps(pad);
	const char *name = NULL;

	(void)dec;
	if (!caps)
		caps = gst_pad_query_caps(pad, NULL);
	if (caps && gst_caps_get_size(caps) > 0)
		name = gst_structure_get_name(gst_caps_get_structure(caps, 0));
	if (name && g_str_has_prefix(name, "audio/") &&
	    !gst_pad_is_linked(sinkpad))
		gst_pad_link(pad, sinkpad);
	if (caps)
		gst_caps_unref(caps);
	gst_object_unref(sinkpad);
}

/* Make a GStreamer element or say which package is missing. */
static GstElement *make(const char *factory, const char *name,
                        struct mc_error *err)
{
	GstElement *e = gst_element_factory_make(factory, name);

	if (!e)
		mc_error_set(err, MC_ERR_UNSUPPORTED,
		             "GStreamer element '%s' is not installed (%s)",
		             factory,
		             strcmp(factory, "alsasink") == 0
		                     ? "package gstreamer1.0-alsa"
		                     : "packages gstreamer1.0-plugins-base "
		                       "and -good");
	return e;
}

static double track_volume(const struct gst_out *g, const struct track *t)
{
	double f;

	if (t->alert)
		return 1.0;
	f = mc__audio_gain(t->pct, t->gain_db);
	if (t->master > 0)
		f = f * g->master / t->master;
	else
		f = mc__audio_gain(g->master, t->gain_db);
	return f > 10.0 ? 10.0 : f;
}

/* The chain from conv to the sink, added to pipe and linked. */
static enum mc_err build_tail(struct track *t, struct mc_error *err)
{
	struct gst_out *g = t->g;
	GstElement *res, *conv2, *sink, *caps = NULL;
	GstPad *pad;

	t->conv = make("audioconvert", NULL, err);
	res = make("audioresample", NULL, err);
	t->vol = make("volume", NULL, err);
	conv2 = make("audioconvert", NULL, err);
	sink = make(g->sink == SINK_ALSA ? "alsasink" : "fakesink", "sink",
	            err);
	if (g->sink != SINK_ALSA)
		caps = make("capsfilter", NULL, err);
	if (!t->conv || !res || !t->vol || !conv2 || !sink ||
	    (g->sink != SINK_ALSA && !caps)) {
		GstElement *all[] = {t->conv, res, t->vol, conv2, sink, caps};

		for (size_t i = 0; i < MC_ARRAY_LEN(all); i++)
			if (all[i])
				gst_object_unref(gst_object_ref_sink(all[i]));
		t->conv = t->vol = NULL;
		return err->code;
	}
	g_object_set(t->vol, "volume", track_volume(g, t), NULL);
	gst_bin_add_many(GST_BIN(t->pipe), t->conv, res, t->vol, conv2, sink,
	                 NULL);
	if (g->sink == SINK_ALSA) {
		g_object_set(sink, "device", g->device, NULL);
		pad = gst_element_get_static_pad(sink, "sink");
		gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER,
		                  on_alsa_buffer, t, NULL);
		gst_object_unref(pad);
		if (!gst_element_link_many(t->conv, res, t->vol, conv2, sink,
		                           NULL))
			return mc_error_set(err, MC_ERR_IO,
			                    "cannot link the audio chain");
		return MC_OK;
	}
	{
		GstCaps *c = gst_caps_new_simple(
		        "audio/x-raw", "format", G_TYPE_STRING, "S16LE", "rate",
		        G_TYPE_INT, OUT_RATE, "channels", G_TYPE_INT,
		        OUT_CHANNELS, "layout", G_TYPE_STRING, "interleaved",
		        NULL);

		g_object_set(caps, "caps", c, NULL);
		gst_caps_unref(c);
	}
	g_object_set(sink, "sync", TRUE, "signal-handoffs", TRUE, "async", TRUE,
	             NULL);
	g_signal_connect(sink, "handoff", G_CALLBACK(on_handoff), t);
	gst_bin_add(GST_BIN(t->pipe), caps);
	if (!gst_element_link_many(t->conv, res, t->vol, conv2, caps, sink,
	                           NULL))
		return mc_error_set(err, MC_ERR_IO,
		                    "cannot link the audio chain");
	return MC_OK;
}

static struct track *track_new(struct gst_out *g, const char *what,
                               int64_t start_ms)
{
	struct track *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->g = g;
	t->what = mc_strdup(what ? what : "audio");
	t->start_ns = start_ms * 1000000;
	t->master = g->master;
	t->pct = g->master;
	t->rate = g->rate;
	t->head.rate = g->rate;
	t->said.rate = g->rate;
	atomic_init(&t->first, false);
	atomic_init(&t->stop, false);
	t->pipe = gst_pipeline_new(NULL);
	if (!t->what || !t->pipe) {
		free(t->what);
		if (t->pipe)
			gst_object_unref(t->pipe);
		free(t);
		return NULL;
	}
	gst_pipeline_use_clock(GST_PIPELINE(t->pipe), g->clock);
	/* Base time is ours: running time 0 = the scheduled instant. */
	gst_element_set_start_time(t->pipe, GST_CLOCK_TIME_NONE);
	return t;
}

/* Stop and free t (NULL allowed). */
static void track_free(struct track *t)
{
	if (!t)
		return;
	atomic_store(&t->stop, true);
	/* NULL unblocks a feeder waiting in a push. */
	gst_element_set_state(t->pipe, GST_STATE_NULL);
	if (t->has_feeder)
		pthread_join(t->feeder, NULL);
	gst_object_unref(t->pipe);
	mc__pcm_free(&t->head);
	mc__pcm_free(&t->said);
	free(t->text);
	free(t->what);
	free(t->key);
	free(t);
}

/* The first error on t's bus, as text into err (or a generic reason). */
static enum mc_err bus_error(struct track *t, const char *doing,
                             struct mc_error *err)
{
	GstBus *bus = gst_element_get_bus(t->pipe);
	GstMessage *m = gst_bus_timed_pop_filtered(bus, 100 * GST_MSECOND,
	                                           GST_MESSAGE_ERROR);
	enum mc_err rc;

	if (m) {
		GError *e = NULL;

		gst_message_parse_error(m, &e, NULL);
		rc = mc_error_set(err, MC_ERR_IO, "%s: %s: %s", t->what, doing,
		                  e ? e->message : "error");
		if (e && e->domain == GST_RESOURCE_ERROR &&
		    GST_MESSAGE_SRC(m) &&
		    strcmp(GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), "sink") == 0)
			t->g->dead = true;
		g_clear_error(&e);
		gst_message_unref(m);
	} else if (t->src && t->ferr.code) {
		rc = mc_error_set(err, t->ferr.code, "%s: %s", t->what,
		                  t->ferr.msg);
	} else {
		rc = mc_error_set(err, MC_ERR_IO,
		                  "%s: %s: no answer within %d ms", t->what,
		                  doing, (int)(PREROLL_WAIT_NS / GST_MSECOND));
	}
	gst_object_unref(bus);
	return rc;
}

/* Wait (bounded) for t to reach PAUSED after a state change or seek. */
static enum mc_err wait_preroll(struct track *t, const char *doing,
                                struct mc_error *err)
{
	GstStateChangeReturn r =
	        gst_element_get_state(t->pipe, NULL, NULL, PREROLL_WAIT_NS);

	if (r == GST_STATE_CHANGE_SUCCESS || r == GST_STATE_CHANGE_NO_PREROLL)
		return MC_OK;
	return bus_error(t, doing, err);
}

/* ---- the appsrc feeder (speech items and alerts) ---- */

/* Push samples, dropping those before t->skip; false to give up. */
static bool feed(struct track *t, const int16_t *s, size_t n)
{
	GstBuffer *buf;
	size_t drop = 0;

	if (atomic_load(&t->stop))
		return false;
	if (t->pos < t->skip)
		drop = t->skip - t->pos < n ? (size_t)(t->skip - t->pos) : n;
	if (drop < n) {
		buf = gst_buffer_new_memdup(s + drop, (n - drop) * 2);
		if (!buf)
			return false;
		GST_BUFFER_PTS(buf) = gst_util_uint64_scale_int(
		        t->pos + drop, GST_SECOND, t->rate);
		GST_BUFFER_DURATION(buf) = gst_util_uint64_scale_int(
		        n - drop, GST_SECOND, t->rate);
		if (gst_app_src_push_buffer(t->src, buf) != GST_FLOW_OK)
			return false;
	}
	t->pos += n;
	return true;
}

static bool feed_silence(struct track *t, int ms)
{
	int16_t zero[1024] = {0};
	size_t n = (size_t)t->rate * (size_t)ms / 1000;

	while (n) {
		size_t k = n < MC_ARRAY_LEN(zero) ? n : MC_ARRAY_LEN(zero);

		if (!feed(t, zero, k))
			return false;
		n -= k;
	}
	return true;
}

/* espeak-ng's blocks: keep a copy for repeats, push them on. */
static bool feed_speech(const int16_t *s, size_t n, void *ud)
{
	struct track *t = ud;

	if (mc__pcm_append(&t->said, s, n) != MC_OK)
		return true;
	return !feed(t, s, n);
}

static void *feeder_main(void *ud)
{
	struct track *t = ud;
	bool ok = feed(t, t->head.s, t->head.n);

	for (int i = 0; ok && t->text && i < t->repeat; i++) {
		if (i)
			ok = feed_silence(t, MC_AUDIO_GAP_MS) &&
			     feed(t, t->said.s, t->said.n);
		else if (mc__speech_say(t->text, feed_speech, t, &t->ferr) !=
		         MC_OK)
			ok = false;
		else
			ok = !atomic_load(&t->stop);
	}
	if (!ok && t->ferr.code && !atomic_load(&t->stop))
		mc_log_error("audio", "%s: %s", t->what, t->ferr.msg);
	gst_app_src_end_of_stream(t->src);
	return NULL;
}

/* ---- building and arming ---- */

/* An audio file item, prerolled (PAUSED). */
static enum mc_err build_file(struct track *t, const char *path,
                              struct mc_error *err)
{
	GstElement *dec;
	GError *ge = NULL;
	char *uri;

	if (!path)
		return mc_error_set(err, MC_ERR_MISSING, "%s: no file",
		                    t->what);
	uri = gst_filename_to_uri(path, &ge);
	if (!uri) {
		mc_error_set(err, MC_ERR_INVAL, "%s: %s: %s", t->what, path,
		             ge ? ge->message : "bad path");
		g_clear_error(&ge);
		return err->code;
	}
	dec = make("uridecodebin", NULL, err);
	if (!dec) {
		g_free(uri);
		return err->code;
	}
	g_object_set(dec, "uri", uri, NULL);
	g_free(uri);
	gst_bin_add(GST_BIN(t->pipe), dec);
	if (build_tail(t, err) != MC_OK)
		return err->code;
	g_signal_connect(dec, "pad-added", G_CALLBACK(on_pad_added), t);
	if (gst_element_set_state(t->pipe, GST_STATE_PAUSED) ==
	    GST_STATE_CHANGE_FAILURE)
		return bus_error(t, "cannot open", err);
	return wait_preroll(t, "cannot decode", err);
}

/* A speech or alert track: head, then text spoken repeat times, from
 * sample skip on; prerolled. */
static enum mc_err build_pcm(struct track *t, struct mc_error *err)
{
	GstElement *src = make("appsrc", NULL, err);
	GstCaps *caps;

	if (!src)
		return err->code;
	caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING,
	                           "S16LE", "rate", G_TYPE_INT, t->rate,
	                           "channels", G_TYPE_INT, 1, "layout",
	                           G_TYPE_STRING, "interleaved", NULL);
	g_object_set(src, "caps", caps, "format", GST_FORMAT_TIME, "block",
	             TRUE, "max-bytes", (guint64)APPSRC_MAX_BYTES, NULL);
	gst_caps_unref(caps);
	gst_bin_add(GST_BIN(t->pipe), src);
	t->src = GST_APP_SRC(src);
	if (build_tail(t, err) != MC_OK)
		return err->code;
	if (!gst_element_link(src, t->conv))
		return mc_error_set(err, MC_ERR_IO, "%s: cannot link appsrc",
		                    t->what);
	if (gst_element_set_state(t->pipe, GST_STATE_PAUSED) ==
	    GST_STATE_CHANGE_FAILURE)
		return bus_error(t, "cannot open", err);
	if (pthread_create(&t->feeder, NULL, feeder_main, t) != 0)
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "%s: cannot start a thread", t->what);
	t->has_feeder = true;
	return wait_preroll(t, "no audio", err);
}

/* Clock time (ns) of the wall-clock instant wall_ns. */
static GstClockTime clock_at(const struct gst_out *g, int64_t wall_ns)
{
	/* Both clocks count ns since the epoch: the realtime system clock
	 * locally, the net clock on the controller (whose provider runs a
	 * realtime clock too). */
	(void)g;
	return wall_ns > 0 ? (GstClockTime)wall_ns : 0;
}

/* Set PLAYING with running time 0 at t->start_ns plus t->shift_ms (a late
 * file join restarts running time at the position sought). */
static enum mc_err arm(struct track *t, struct mc_error *err)
{
	int64_t base = t->start_ns + t->shift_ms * 1000000;
	int64_t now = mc__wall_ns();

	if (now > base)
		mc_log_warn("audio",
		            "%s: armed %" PRId64 " ms after its instant; "
		            "the first samples play late",
		            t->what, (now - base) / 1000000);
	gst_element_set_base_time(t->pipe, clock_at(t->g, base));
	if (gst_element_set_state(t->pipe, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE)
		return bus_error(t, "cannot play", err);
	t->armed = true;
	return MC_OK;
}

/*
 * A file item whose instant has passed (or is within ARM_MIN_AHEAD_NS):
 * seek to where it should be LATE_MARGIN_FILE_MS from now and move the
 * base time by as much.
 */
static enum mc_err seek_late(struct track *t, struct mc_error *err)
{
	int64_t now = mc__wall_ns();

	t->offset_ms = (now - t->start_ns) / 1000000 + LATE_MARGIN_FILE_MS;
	if (t->offset_ms <= 0) {
		t->offset_ms = 0;
		return MC_OK;
	}
	if (!gst_element_seek_simple(t->pipe, GST_FORMAT_TIME,
	                             GST_SEEK_FLAG_FLUSH |
	                                     GST_SEEK_FLAG_ACCURATE,
	                             (gint64)t->offset_ms * GST_MSECOND)) {
		/* Not seekable: play from its start, late. */
		mc_log_warn("audio", "%s: cannot seek; playing from the start",
		            t->what);
		t->start_ns = now;
		t->offset_ms = 0;
		return MC_OK;
	}
	t->shift_ms = t->offset_ms;
	return wait_preroll(t, "cannot seek", err);
}

/* Identity of a play, to tell whether start() is what prepare() made. */
static char *play_key(const struct mc_play *p)
{
	return mc_printf("%s|%s|%s|%" PRId64, p->content ? p->content->id : "-",
	                 p->path ? p->path : "-", p->text ? p->text : "-",
	                 p->start_ms);
}

/* Build, preroll and arm a scheduled play. */
static enum mc_err track_for_play(struct gst_out *g, const struct mc_play *p,
                                  struct track **out, struct mc_error *err)
{
	const struct mc_content *c = p->content;
	struct track *t;
	enum mc_err rc;
	bool speech = c && c->type == MC_CONTENT_SPEECH;

	*out = NULL;
	t = track_new(g, c ? c->id : NULL, p->start_ms);
	if (!t || !(t->key = play_key(p))) {
		track_free(t);
		return mc_error_set(err, MC_ERR_NOMEM, "audio: out of memory");
	}
	t->pct = p->volume;
	t->gain_db = c ? c->gain_db : 0;
	if (speech) {
		int64_t late =
		        mc_now_ms() + LATE_MARGIN_SPEECH_MS - p->start_ms;

		if (!g->speech) {
			rc = mc_error_set(err, MC_ERR_UNSUPPORTED,
			                  "%s: speech is not available "
			                  "(espeak-ng failed at start)",
			                  t->what);
			goto fail;
		}
		t->text = mc_strdup(p->text ? p->text : c->text);
		t->repeat = 1;
		if (late > 0) {
			t->skip = (uint64_t)late * (uint64_t)t->rate / 1000;
			t->offset_ms = late;
		}
		/* PTS carry the position: base time stays at the instant. */
		rc = build_pcm(t, err);
		if (rc == MC_OK)
			rc = arm(t, err);
	} else if (c && c->type == MC_CONTENT_AUDIO) {
		rc = build_file(t, p->path, err);
		if (rc == MC_OK &&
		    t->start_ns <= mc__wall_ns() + (int64_t)ARM_MIN_AHEAD_NS)
			rc = seek_late(t, err);
		if (rc == MC_OK)
			rc = arm(t, err);
	} else {
		rc = mc_error_set(err, MC_ERR_UNSUPPORTED,
		                  "%s: not audio or speech", t->what);
	}
	if (rc != MC_OK)
		goto fail;
	*out = t;
	return MC_OK;
fail:
	track_free(t);
	return rc;
}

/* ---- ops ---- */

/* Decode the tone file into g->tone at g->rate; false on failure. */
static bool load_tone(struct gst_out *g, const char *path)
{
	char *uri = gst_filename_to_uri(path, NULL);
	char *desc = NULL;
	GstElement *pipe = NULL, *sinkel;
	GError *ge = NULL;
	bool ok = false;
	int64_t deadline = mc_mono_ms() + PREROLL_WAIT_NS / GST_MSECOND;

	if (!uri)
		goto out;
	desc = mc_printf("uridecodebin uri=\"%s\" ! audioconvert ! "
	                 "audioresample ! audio/x-raw,format=S16LE,rate=%d,"
	                 "channels=1,layout=interleaved ! appsink "
	                 "name=out sync=false",
	                 uri, g->rate);
	pipe = desc ? gst_parse_launch(desc, &ge) : NULL;
	if (!pipe)
		goto out;
	sinkel = gst_bin_get_by_name(GST_BIN(pipe), "out");
	gst_element_set_state(pipe, GST_STATE_PLAYING);
	for (;;) {
		int64_t left = deadline - mc_mono_ms();
		GstSample *s;
		GstBuffer *b;
		GstMapInfo map;

		if (left <= 0)
			break;
		s = gst_app_sink_try_pull_sample(
		        GST_APP_SINK(sinkel), (GstClockTime)left * GST_MSECOND);
		if (!s) {
			ok = gst_app_sink_is_eos(GST_APP_SINK(sinkel)) &&
			     g->tone.n > 0;
			break;
		}
		b = gst_sample_get_buffer(s);
		if (b && gst_buffer_map(b, &map, GST_MAP_READ)) {
			if (g->tone.n + map.size / 2 <=
			    (size_t)g->rate * TONE_MAX_S)
				mc__pcm_append(&g->tone,
				               (const int16_t *)map.data,
				               map.size / 2);
			gst_buffer_unmap(b, &map);
		}
		gst_sample_unref(s);
	}
	gst_element_set_state(pipe, GST_STATE_NULL);
	gst_object_unref(sinkel);
out:
	if (pipe)
		gst_object_unref(pipe);
	g_clear_error(&ge);
	free(desc);
	g_free(uri);
	return ok;
}

/* The pipeline clock from "realtime" or "net:HOST:PORT". */
static enum mc_err make_clock(struct gst_out *g, const char *spec,
                              struct mc_error *err)
{
	if (!spec || strcmp(spec, "realtime") == 0) {
		g->clock = g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type",
		                        GST_CLOCK_TYPE_REALTIME, "name",
		                        "minecast-realtime", NULL);
		gst_object_ref_sink(g->clock);
		g->clock_name = mc_strdup("realtime system clock");
		return MC_OK;
	}
	if (strncmp(spec, "net:", 4) == 0) {
		char *host = mc_strdup(spec + 4), *colon, *end;
		long port = 0;

		colon = host ? strrchr(host, ':') : NULL;
		if (colon) {
			*colon = '\0';
			port = strtol(colon + 1, &end, 10);
			if (*end || port < 1 || port > 65535)
				port = 0;
		}
		if (host && host[0] == '[' && colon && colon[-1] == ']') {
			colon[-1] = '\0';
			memmove(host, host + 1, strlen(host));
		}
		if (!colon || !port || !*host) {
			free(host);
			return mc_error_set(err, MC_ERR_RANGE,
			                    "[audio] clock: '%s' is not "
			                    "net:HOST:PORT",
			                    spec);
		}
		g->clock = gst_net_client_clock_new("minecast-net", host,
		                                    (gint)port, 0);
		g->clock_name = mc_printf("network clock %s:%ld", host, port);
		free(host);
		if (!g->clock)
			return mc_error_set(err, MC_ERR_IO,
			                    "[audio] clock: cannot reach %s",
			                    spec);
		/* Returned with its floating reference already sunk. */
		if (g_object_is_floating(g->clock))
			gst_object_ref_sink(g->clock);
		return MC_OK;
	}
	return mc_error_set(err, MC_ERR_RANGE,
	                    "[audio] clock: '%s' is not realtime or "
	                    "net:HOST:PORT",
	                    spec);
}

/* Open and close the ALSA device once, so that init fails without it. */
static enum mc_err probe_alsa(struct gst_out *g, struct mc_error *err)
{
	GstElement *sink = make("alsasink", "sink", err);
	GstBus *bus;
	GstMessage *m;
	enum mc_err rc = MC_OK;

	if (!sink)
		return err->code;
	bus = gst_bus_new();
	gst_element_set_bus(sink, bus);
	g_object_set(sink, "device", g->device, NULL);
	if (gst_element_set_state(sink, GST_STATE_READY) ==
	    GST_STATE_CHANGE_FAILURE) {
		GError *e = NULL;

		m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
		if (m)
			gst_message_parse_error(m, &e, NULL);
		rc = mc_error_set(err, MC_ERR_IO,
		                  "audio device '%s' cannot be opened: %s",
		                  g->device, e ? e->message : "unknown error");
		g_clear_error(&e);
		if (m)
			gst_message_unref(m);
	}
	gst_element_set_state(sink, GST_STATE_NULL);
	gst_element_set_bus(sink, NULL);
	gst_object_unref(bus);
	gst_object_unref(gst_object_ref_sink(sink));
	return rc;
}

static void gst_uninit_out(struct mc_output *o);

static enum mc_err gst_init_out(struct mc_output *o,
                                const struct mc_player_config *cfg,
                                struct mc_error *err)
{
	struct gst_out *g = calloc(1, sizeof(*g));
	GError *ge = NULL;
	struct mc_error serr = {0};
	enum mc_err rc;
	const char *sink = cfg->audio_sink ? cfg->audio_sink : "alsa";

	if (!g)
		return mc_error_set(err, MC_ERR_NOMEM,
		                    "gstreamer output: no memory");
	g->wav_fd = -1;
	pthread_mutex_init(&g->lock, NULL);
	o->priv = g;
	if (!gst_init_check(NULL, NULL, &ge)) {
		rc = mc_error_set(err, MC_ERR_IO, "GStreamer cannot start: %s",
		                  ge ? ge->message : "?");
		g_clear_error(&ge);
		goto fail;
	}
	g->master = cfg->volume;
	g->device =
	        mc_strdup(cfg->audio_device ? cfg->audio_device : "default");
	if (strcmp(sink, "alsa") == 0) {
		g->sink = SINK_ALSA;
	} else if (strcmp(sink, "fake") == 0) {
		g->sink = SINK_FAKE;
	} else if (strncmp(sink, "file:", 5) == 0 && sink[5]) {
		g->sink = SINK_FILE;
		g->file = mc_strdup(sink + 5);
		g->wav_fd =
		        g->file ? open(g->file,
		                       O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
		                       0644)
		                : -1;
		if (g->wav_fd < 0 || !wav_header(g->wav_fd, 0)) {
			rc = mc_error_set(err, MC_ERR_IO, "[audio] sink %s: %s",
			                  sink, strerror(errno));
			goto fail;
		}
	} else {
		rc = mc_error_set(err, MC_ERR_RANGE,
		                  "[audio] sink: '%s' is not alsa, fake or "
		                  "file:PATH",
		                  sink);
		goto fail;
	}
	if (!g->device) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "gstreamer: no memory");
		goto fail;
	}
	{
		/* Check the elements every pipeline needs, once. */
		static const char *const need[] = {
		        "uridecodebin", "audioconvert", "audioresample",
		        "volume",       "appsrc",       "fakesink"};

		for (size_t i = 0; i < MC_ARRAY_LEN(need); i++) {
			GstElementFactory *f =
			        gst_element_factory_find(need[i]);

			if (!f) {
				rc = mc_error_set(
				        err, MC_ERR_UNSUPPORTED,
				        "GStreamer element '%s' is not "
				        "installed (gstreamer1.0-plugins-base)",
				        need[i]);
				goto fail;
			}
			gst_object_unref(f);
		}
	}
	if (g->sink == SINK_ALSA && (rc = probe_alsa(g, err)) != MC_OK)
		goto fail;
	if ((rc = make_clock(g, cfg->audio_clock, err)) != MC_OK)
		goto fail;
	if (mc__speech_init(cfg->voice, &g->rate, &serr) == MC_OK) {
		g->speech = true;
	} else {
		g->rate = 22050;
		mc_log_error("audio",
		             "%s; alerts will sound the tone without speech "
		             "and speech items will fail",
		             serr.msg);
	}
	g->tone.rate = g->rate;
	if (cfg->tone_file && !load_tone(g, cfg->tone_file)) {
		mc_log_error("audio",
		             "attention tone %s cannot be decoded; using the "
		             "built-in chime",
		             cfg->tone_file);
		mc__pcm_free(&g->tone);
	}
	if (!g->tone.n && mc__tone_builtin(g->rate, &g->tone) != MC_OK) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "gstreamer: no memory");
		goto fail;
	}
	if ((rc = mc__amp_init(&g->amp, cfg, err)) != MC_OK)
		goto fail;
	mc_log_info("audio",
	            "gstreamer output ready: sink %s%s%s, %s, voice %s%s", sink,
	            g->sink == SINK_ALSA ? " device " : "",
	            g->sink == SINK_ALSA ? g->device : "", g->clock_name,
	            cfg->voice ? cfg->voice : "vi",
	            g->speech ? "" : " (unavailable)");
	return MC_OK;
fail:
	gst_uninit_out(o);
	return rc;
}

static void gst_uninit_out(struct mc_output *o)
{
	struct gst_out *g = o->priv;

	if (!g)
		return;
	track_free(g->alert);
	track_free(g->next);
	track_free(g->cur);
	if (g->amp.hook)
		mc__amp_fini(&g->amp);
	if (g->clock)
		gst_object_unref(g->clock);
	if (g->wav_fd >= 0)
		close(g->wav_fd);
	pthread_mutex_destroy(&g->lock);
	mc__pcm_free(&g->tone);
	free(g->clock_name);
	free(g->device);
	free(g->file);
	free(g);
	o->priv = NULL;
}

/* Something sounds (or is armed to) on the speaker. */
static bool sounding(const struct track *t)
{
	return t && t->armed && !t->ended && !t->failed;
}

static void note_silence(struct gst_out *g)
{
	if (!sounding(g->cur) && !sounding(g->alert))
		mc__amp_playing(&g->amp, false, mc_now_ms());
}

static bool clock_ready(struct gst_out *g)
{
	if (gst_clock_is_synced(g->clock))
		return true;
	mc_log_warn("audio",
	            "%s is not synchronised yet: this node may "
	            "not start in step with the others",
	            g->clock_name);
	return false;
}

static enum mc_err gst_prepare(struct mc_output *o, const struct mc_play *p,
                               struct mc_error *err)
{
	struct gst_out *g = o->priv;
	struct track *t;
	char *key;
	enum mc_err rc;

	if (p->channel != MC_CH_SPEAKER || !p->content)
		return MC_OK;
	mc__amp_expect(&g->amp, mc_now_ms(), p->start_ms);
	/* An item at its end still holds an ALSA device: let it go. */
	if (g->sink == SINK_ALSA && g->cur &&
	    (g->cur->ended || g->cur->failed)) {
		track_free(g->cur);
		g->cur = NULL;
	}
	/* Only ahead of time, and not over an alert; an ALSA device may
	 * not be opened twice, so not while another item holds it. */
	if (g->alert || p->start_ms * 1000000 <= mc__wall_ns() ||
	    (g->sink == SINK_ALSA && sounding(g->cur)))
		return MC_OK;
	key = play_key(p);
	if (key && g->next && strcmp(g->next->key, key) == 0) {
		free(key);
		return MC_OK;
	}
	free(key);
	track_free(g->next);
	g->next = NULL;
	clock_ready(g);
	rc = track_for_play(g, p, &t, err);
	if (rc == MC_OK) {
		g->next = t;
		mc_log_debug("audio", "%s: prepared for %" PRId64, t->what,
		             p->start_ms);
	}
	return rc;
}

static enum mc_err gst_start(struct mc_output *o, const struct mc_play *p,
                             struct mc_error *err)
{
	struct gst_out *g = o->priv;
	struct track *t = NULL;
	char *key = play_key(p);
	enum mc_err rc = MC_OK;

	if (p->channel != MC_CH_SPEAKER) {
		free(key);
		return mc_error_set(err, MC_ERR_INVAL,
		                    "gstreamer output serves the speaker only");
	}
	if (g->next && key && strcmp(g->next->key, key) == 0) {
		t = g->next;
		g->next = NULL;
	}
	free(key);
	/* What played before stops before the new one opens the device. */
	if (g->cur != t) {
		track_free(g->cur);
		g->cur = NULL;
	}
	if (!p->content) {
		/* idle: silence */
		track_free(t);
		note_silence(g);
		return MC_OK;
	}
	if (g->alert) {
		mc_log_info("audio",
		            "%s: not started: an alert holds the "
		            "speaker",
		            p->content->id);
		track_free(t);
		return MC_OK;
	}
	if (!t) {
		mc__amp_expect(&g->amp, mc_now_ms(), p->start_ms);
		clock_ready(g);
		rc = track_for_play(g, p, &t, err);
		if (rc != MC_OK) {
			mc_log_error("audio", "%s", err->msg);
			note_silence(g);
			return rc;
		}
	}
	g->dead = false;
	g->cur = t;
	mc__amp_playing(&g->amp, true, mc_now_ms());
	return MC_OK;
}

static void gst_stop(struct mc_output *o, enum mc_channel ch, bool completed)
{
	struct gst_out *g = o->priv;

	(void)completed;
	if (ch != MC_CH_SPEAKER)
		return;
	track_free(g->cur);
	g->cur = NULL;
	note_silence(g);
}

static void gst_set_volume(struct mc_output *o, int percent)
{
	struct gst_out *g = o->priv;
	struct track *ts[] = {g->cur, g->next};

	g->master = percent;
	for (size_t i = 0; i < MC_ARRAY_LEN(ts); i++)
		if (ts[i] && ts[i]->vol)
			g_object_set(ts[i]->vol, "volume",
			             track_volume(g, ts[i]), NULL);
}

static enum mc_err gst_alert(struct mc_output *o, const struct mc_alert *a,
                             struct mc_error *err)
{
	struct gst_out *g = o->priv;
	struct track *t;
	char *what;
	int64_t late;
	enum mc_err rc;

	track_free(g->alert);
	g->alert = NULL;
	if (!a) {
		note_silence(g);
		return MC_OK;
	}
	/* Pre-empt everything scheduled. */
	track_free(g->next);
	track_free(g->cur);
	g->next = g->cur = NULL;
	mc__amp_expect(&g->amp, mc_now_ms(), a->start_at_ms);
	what = mc_printf("alert %s", a->id ? a->id : "?");
	t = track_new(g, what, a->start_at_ms);
	free(what);
	if (!t)
		return mc_error_set(err, MC_ERR_NOMEM, "alert: out of memory");
	t->alert = true;
	t->repeat = a->repeat > 0 ? a->repeat : 1;
	if (g->speech && a->text && *a->text)
		t->text = mc_strdup(a->text);
	else if (a->text && *a->text)
		mc_log_error("audio",
		             "%s: no speech available; sounding the "
		             "tone only",
		             t->what);
	if (mc__pcm_append(&t->head, g->tone.s, g->tone.n) != MC_OK ||
	    (t->text && mc__pcm_silence(&t->head, MC_AUDIO_GAP_MS) != MC_OK)) {
		track_free(t);
		return mc_error_set(err, MC_ERR_NOMEM, "alert: out of memory");
	}
	late = mc_now_ms() + LATE_MARGIN_ALERT_MS - a->start_at_ms;
	if (late > 0) {
		t->skip = (uint64_t)late * (uint64_t)t->rate / 1000;
		t->offset_ms = late;
	}
	clock_ready(g);
	/* PTS carry the position: base time stays at start_at. */
	rc = build_pcm(t, err);
	if (rc == MC_OK)
		rc = arm(t, err);
	if (rc != MC_OK) {
		mc_log_error("audio", "%s", err->msg);
		track_free(t);
		return rc;
	}
	g->alert = t;
	mc__amp_playing(&g->amp, true, mc_now_ms());
	return MC_OK;
}

/* Take t's bus messages: EOS and errors. */
static void drain_bus(struct gst_out *g, struct track *t)
{
	GstBus *bus;
	GstMessage *m;

	if (!t)
		return;
	bus = gst_element_get_bus(t->pipe);
	while ((m = gst_bus_pop_filtered(bus, GST_MESSAGE_EOS |
	                                              GST_MESSAGE_ERROR |
	                                              GST_MESSAGE_WARNING))) {
		GError *e = NULL;
		gchar *dbg = NULL;

		switch (GST_MESSAGE_TYPE(m)) {
		case GST_MESSAGE_EOS:
			if (!t->ended)
				mc_log_info("audio", "%s ended", t->what);
			t->ended = true;
			break;
		case GST_MESSAGE_ERROR:
			gst_message_parse_error(m, &e, &dbg);
			mc_log_error("audio",
			             "%s: %s (%s); silent until the "
			             "next item",
			             t->what, e ? e->message : "error",
			             GST_MESSAGE_SRC_NAME(m)
			                     ? GST_MESSAGE_SRC_NAME(m)
			                     : "?");
			mc_log_debug("audio", "%s: %s", t->what,
			             dbg ? dbg : "");
			if (e && e->domain == GST_RESOURCE_ERROR &&
			    g_strcmp0(GST_MESSAGE_SRC_NAME(m), "sink") == 0)
				g->dead = true;
			t->failed = true;
			break;
		default:
			gst_message_parse_warning(m, &e, &dbg);
			mc_log_warn("audio", "%s: %s", t->what,
			            e ? e->message : "warning");
			break;
		}
		g_clear_error(&e);
		g_free(dbg);
		gst_message_unref(m);
	}
	gst_object_unref(bus);
}

static int gst_tick(struct mc_output *o, int64_t now_ms)
{
	struct gst_out *g = o->priv;
	int amp, next = -1;

	drain_bus(g, g->cur);
	drain_bus(g, g->next);
	drain_bus(g, g->alert);
	if (g->next && g->next->failed) {
		track_free(g->next);
		g->next = NULL;
	}
	/* The prepared item's instant came: it sounds now (the sink did
	 * that on the clock); what played before gives way. */
	if (g->next && now_ms * 1000000 >= g->next->start_ns) {
		if (now_ms * 1000000 >=
		    g->next->start_ns + (int64_t)UNCLAIMED_MS * 1000000) {
			mc_log_warn("audio",
			            "%s: prepared but never started; dropped",
			            g->next->what);
			track_free(g->next);
			g->next = NULL;
		} else if (g->cur) {
			track_free(g->cur);
			g->cur = NULL;
		}
	}
	if ((g->cur && g->cur->ended) || (g->alert && g->alert->ended) ||
	    (g->cur && g->cur->failed) || (g->alert && g->alert->failed))
		note_silence(g);
	if (sounding(g->cur) || sounding(g->alert) || g->next)
		next = TICK_PLAYING_MS;
	amp = mc__amp_tick(&g->amp, now_ms);
	if (amp >= 0 && (next < 0 || amp < next))
		next = amp;
	return next;
}

static bool gst_alive(struct mc_output *o)
{
	const struct gst_out *g = o->priv;

	return !g->dead;
}

const struct mc_output_ops mc_output_gstreamer = {
        .name = "gstreamer",
        .channels = 1u << MC_CH_SPEAKER,
        .init = gst_init_out,
        .uninit = gst_uninit_out,
        .prepare = gst_prepare,
        .start = gst_start,
        .stop = gst_stop,
        .set_volume = gst_set_volume,
        .alert = gst_alert,
        .tick = gst_tick,
        .alive = gst_alive,
};
