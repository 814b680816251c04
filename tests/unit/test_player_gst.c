/*
 * Unit tests for player/outputs/gst.c, the "gstreamer" speaker output, on
 * real GStreamer with the "file:" sink (a clock-synced fakesink writing
 * what it renders to a WAV file; no sound card):
 *
 *  1. an at-time item starts at its wall-clock instant (prepared ahead,
 *     started directly a moment ahead, and joined late: in step anyway);
 *  2. the sink receives the item's duration of samples;
 *  3. volume and loudness gain scale the samples as computed;
 *  4. an alert pre-empts a playing item: the chime, then the text spoken
 *     by espeak-ng, and alert(NULL) silences it; an item plays after;
 *  5. a corrupt or missing file is a start error, quickly, and the next
 *     item plays;
 *  6. WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3 decode;
 *  7. the amplifier hook goes on its lead time before audio and off after
 *     the idle time;
 *  8. on a GStreamer network clock ([audio] clock = net:HOST:PORT) served
 *     here by a GstNetTimeProvider, the start instant holds too.
 *
 * The instants come from the "audio: <id> started at <ms>" lines the
 * output logs; stderr is sent to a file while a test runs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gst/gst.h>
#include <gst/net/gstnettimeprovider.h>

#include "mc_test.h"
#include "minecast/log.h"
#include "minecast/util.h"
#include "outputs/output.h"

/* Format of what the file sink writes. */
#define RATE 48000
#define CH   2
/* Tolerance on a start instant (the benchmark measures the real skew). */
#define START_TOL_MS 20.0

struct fixture {
	char dir[64];                    /* scratch directory */
	char out[128];                   /* the sink's WAV file */
	char log[128];                   /* stderr goes here */
	int saved_err;                   /* the real stderr */
	struct mc_player_config cfg;     /* a minimal config */
	struct mc_output o;              /* the output under test */
	const struct mc_output_ops *ops; /* mc_output_gstreamer */
};

/* A 440 Hz sine at half scale, secs long, encoded by the element chain
 * enc into dir/name. */
static void make_sine(const char *dir, const char *name, double secs,
                      const char *enc)
{
	mc_test_sh(
	        "gst-launch-1.0 -q audiotestsrc wave=sine freq=440 volume=0.5 "
	        "samplesperbuffer=480 num-buffers=%d ! "
	        "audio/x-raw,rate=48000,channels=1,format=S16LE ! %s ! "
	        "filesink location='%s/%s'",
	        (int)(secs * 100), enc, dir, name);
}

static int setup_group(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/mc-gst-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	make_sine(f->dir, "sine1.wav", 1.0, "wavenc");
	make_sine(f->dir, "sine5.wav", 5.0, "wavenc");
	make_sine(f->dir, "sine1.flac", 1.0, "flacenc");
	make_sine(f->dir, "sine1.ogg", 1.0,
	          "audioconvert ! vorbisenc ! oggmux");
	make_sine(f->dir, "sine1.opus", 1.0,
	          "audioconvert ! audioresample ! opusenc ! oggmux");
	make_sine(f->dir, "sine1.mp3", 1.0,
	          "audioconvert ! lamemp3enc target=bitrate bitrate=128");
	/* Not audio at all, and a WAV cut inside its header. */
	mc_test_sh("head -c 20000 /dev/urandom > '%s/corrupt.mp3'", f->dir);
	mc_test_sh("head -c 30 '%s/sine1.wav' > '%s/cut.wav'", f->dir, f->dir);
	{
		char amp[128];
		FILE *fp;

		snprintf(amp, sizeof(amp), "%s/amp.sh", f->dir);
		fp = fopen(amp, "w");
		assert_non_null(fp);
		fprintf(fp,
		        "#!/bin/sh\necho \"$1 $(date +%%s%%3N)\" >> "
		        "%s/amp.log\n",
		        f->dir);
		fclose(fp);
		assert_int_equal(chmod(amp, 0755), 0);
	}
	*state = f;
	return 0;
}

static int teardown_group(void **state)
{
	struct fixture *f = *state;

	if (!getenv("MC_KEEP"))
		mc_test_sh("rm -rf '%s'", f->dir);
	free(f);
	return 0;
}

static char *read_log(struct fixture *f);

/* Fresh output for each test, stderr captured in f->log. */
static int setup(void **state)
{
	struct fixture *f = *state;
	static int n;
	struct mc_error err = {0};
	int fd;

	n++;
	snprintf(f->out, sizeof(f->out), "%s/out%d.wav", f->dir, n);
	snprintf(f->log, sizeof(f->log), "%s/log%d.txt", f->dir, n);
	memset(&f->cfg, 0, sizeof(f->cfg));
	f->cfg.node_id = "pi-test";
	f->cfg.audio_device = "default";
	f->cfg.audio_sink = mc_printf("file:%s", f->out);
	f->cfg.audio_clock = "realtime";
	f->cfg.voice = "vi";
	f->cfg.preroll_ms = 1500;
	f->cfg.amp_lead_ms = 500;
	f->cfg.amp_idle_ms = 700;
	f->cfg.hook_timeout_s = 5;
	f->cfg.volume = 100;
	f->saved_err = dup(2);
	fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
	f->ops = mc_output_find("gstreamer");
	assert_non_null(f->ops);
	memset(&f->o, 0, sizeof(f->o));
	f->o.ops = f->ops;
	if (f->ops->init(&f->o, &f->cfg, &err) != MC_OK)
		fail_msg("init: %s", err.msg);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	char *text, *line, *save = NULL;

	if (f->o.priv)
		f->ops->uninit(&f->o);
	dup2(f->saved_err, 2);
	close(f->saved_err);
	/* cmocka's failure messages went to the captured log too. */
	text = read_log(f);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "ERROR", 5) == 0)
			fprintf(stderr, "%s (log: %s)\n", line, f->log);
	free(text);
	free(f->cfg.audio_sink);
	free(f->cfg.hook_amplifier);
	return 0;
}

/* Call tick for ms. */
static void run_for(struct fixture *f, int64_t ms)
{
	int64_t end = mc_mono_ms() + ms;

	while (mc_mono_ms() < end) {
		f->ops->tick(&f->o, mc_now_ms());
		usleep(5000);
	}
}

/* Call tick until wall clock at_ms. */
static void run_until(struct fixture *f, int64_t at_ms)
{
	int64_t left = at_ms - mc_now_ms();

	if (left > 0)
		run_for(f, left);
}

/* The captured log (caller frees). */
static char *read_log(struct fixture *f)
{
	char *text = NULL;
	size_t len;
	struct mc_error err;

	if (mc_read_file(f->log, 16 << 20, &text, &len, &err) != MC_OK)
		fail_msg("%s: %s", f->log, err.msg);
	return text;
}

/* The instant of the last "audio: <what> started at" line; NAN if none. */
static double started_at(struct fixture *f, const char *what)
{
	char *text = read_log(f), *p = text, *hit;
	char pat[160];
	double at = NAN;

	snprintf(pat, sizeof(pat), "audio: %s started at ", what);
	while ((hit = strstr(p, pat))) {
		at = strtod(hit + strlen(pat), NULL);
		p = hit + 1;
	}
	free(text);
	return at;
}

static bool log_has(struct fixture *f, const char *s)
{
	char *text = read_log(f);
	bool yes = strstr(text, s) != NULL;

	free(text);
	return yes;
}

/* Wait (ticking) until the log holds s; false after ms. */
static bool wait_log(struct fixture *f, const char *s, int64_t ms)
{
	int64_t end = mc_mono_ms() + ms;

	while (mc_mono_ms() < end) {
		if (log_has(f, s))
			return true;
		run_for(f, 20);
	}
	return false;
}

/* The sink's WAV so far. */
struct wav {
	int16_t *s;    /* interleaved frames */
	size_t frames; /* frames held */
};

static struct wav read_wav(struct fixture *f)
{
	struct wav w = {0};
	char *data = NULL;
	size_t len, bytes;
	struct mc_error err;

	if (mc_read_file(f->out, 256 << 20, &data, &len, &err) != MC_OK)
		fail_msg("%s: %s", f->out, err.msg);
	assert_true(len >= 44);
	assert_memory_equal(data, "RIFF", 4);
	bytes = (size_t)(unsigned char)data[40] |
	        (size_t)(unsigned char)data[41] << 8 |
	        (size_t)(unsigned char)data[42] << 16 |
	        (size_t)(unsigned char)data[43] << 24;
	assert_true(bytes <= len - 44);
	w.frames = bytes / (2 * CH);
	w.s = malloc(bytes + 2);
	assert_non_null(w.s);
	memcpy(w.s, data + 44, bytes);
	free(data);
	return w;
}

/* Largest |sample| of the first channel in frames [from, to). */
static int peak(const struct wav *w, size_t from, size_t to)
{
	int m = 0;

	for (size_t i = from; i < to && i < w->frames; i++)
		if (abs(w->s[i * CH]) > m)
			m = abs(w->s[i * CH]);
	return m;
}

static double rms(const struct wav *w, size_t from, size_t to)
{
	double sum = 0;
	size_t n = 0;

	for (size_t i = from; i < to && i < w->frames; i++, n++)
		sum += (double)w->s[i * CH] * w->s[i * CH];
	return n ? sqrt(sum / n) : 0;
}

/* Zero crossings per second of the first channel in [from, to). */
static double crossings(const struct wav *w, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from + 1; i < to && i < w->frames; i++)
		if ((w->s[(i - 1) * CH] < 0) != (w->s[i * CH] < 0))
			n++;
	return (double)n * RATE / (double)(to - from);
}

static struct mc_content audio_content(const char *id)
{
	struct mc_content c = {0};

	c.id = (char *)id;
	c.type = MC_CONTENT_AUDIO;
	c.has_asset = true;
	c.duration_ms = 1000;
	return c;
}

static struct mc_play play_of(const struct mc_content *c, const char *path,
                              int64_t start_ms, int64_t len_ms)
{
	struct mc_play p = {0};

	p.channel = MC_CH_SPEAKER;
	p.content = c;
	p.path = path;
	p.start_ms = start_ms;
	p.end_ms = start_ms + len_ms;
	p.volume = 100;
	p.reason = "scheduled";
	return p;
}

static void start_ok(struct fixture *f, const struct mc_play *p)
{
	struct mc_error err = {0};

	if (f->ops->start(&f->o, p, &err) != MC_OK)
		fail_msg("start %s: %s", p->content->id, err.msg);
}

static void expect_start_near(struct fixture *f, const char *what,
                              int64_t want_ms)
{
	double at = started_at(f, what);

	if (isnan(at))
		fail_msg("no 'audio: %s started at' line", what);
	if (fabs(at - (double)want_ms) > START_TOL_MS)
		fail_msg("%s started at %.3f, %.3f ms from its instant %lld",
		         what, at, at - (double)want_ms, (long long)want_ms);
}

/* 1. At-time starts, prepared or not, and a late join kept in step. */
static void test_at_time(void **state)
{
	struct fixture *f = *state;
	char path[160], path5[160];
	struct mc_content c = audio_content("ban-tin-0600");
	struct mc_content c2 = audio_content("ban-tin-1100");
	struct mc_content c3 = audio_content("ban-tin-1700");
	struct mc_error err = {0};
	struct mc_play p;
	int64_t at;
	struct wav w;

	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	snprintf(path5, sizeof(path5), "%s/sine5.wav", f->dir);

	/* Prepared 1.5 s ahead, then started by the timeline at its
	 * instant (a little after, as the main loop wakes). */
	at = mc_now_ms() + 1500;
	p = play_of(&c, path, at, 1000);
	if (f->ops->prepare(&f->o, &p, &err) != MC_OK)
		fail_msg("prepare: %s", err.msg);
	run_until(f, at + 2);
	start_ok(f, &p);
	run_for(f, 300);
	expect_start_near(f, "ban-tin-0600", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, false);

	/* Started directly, 300 ms ahead. */
	at = mc_now_ms() + 300;
	p = play_of(&c2, path, at, 1000);
	start_ok(f, &p);
	run_until(f, at + 300);
	expect_start_near(f, "ban-tin-1100", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, false);

	/* Joined 2 s late: the remainder plays, and position 0 still
	 * falls on the instant. */
	w = read_wav(f);
	free(w.s);
	at = mc_now_ms() - 2000;
	p = play_of(&c3, path5, at, 5000);
	start_ok(f, &p);
	run_until(f, at + 5000 + 500);
	expect_start_near(f, "ban-tin-1700", at);
	assert_true(log_has(f, "ban-tin-1700 started at"));
	assert_true(log_has(f, "ms late)"));
	{
		struct wav w2 = read_wav(f);
		double secs = (double)(w2.frames - w.frames) / RATE;

		/* About 3 s (5 s minus 2 s and the seek margin). */
		if (secs < 2.7 || secs > 3.05)
			fail_msg("late join played %.3f s, expected ~2.9",
			         secs);
		free(w2.s);
	}
	f->ops->stop(&f->o, MC_CH_SPEAKER, true);
}

/* 2. The sink receives the item's duration of samples. */
static void test_duration(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct mc_content c = audio_content("one-second");
	struct mc_play p;
	struct wav w;

	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	p = play_of(&c, path, mc_now_ms() + 200, 1000);
	start_ok(f, &p);
	assert_true(wait_log(f, "audio: one-second ended", 3000));
	f->ops->stop(&f->o, MC_CH_SPEAKER, true);
	w = read_wav(f);
	if (labs((long)w.frames - RATE) > RATE / 100)
		fail_msg("%zu frames for a 1 s item", w.frames);
	/* The sine is there from the first frame on. */
	assert_true(peak(&w, 0, 480) > 15000);
	free(w.s);
}

/* Peak of one play of sine1.wav at volume and gain. */
static int play_peak(struct fixture *f, const char *id, int volume,
                     double gain_db)
{
	char path[160], ended[160];
	struct mc_content c = audio_content(id);
	struct mc_play p;
	struct wav w;
	size_t from;
	int pk;

	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	snprintf(ended, sizeof(ended), "audio: %s ended", id);
	w = read_wav(f);
	from = w.frames;
	free(w.s);
	c.gain_db = gain_db;
	p = play_of(&c, path, mc_now_ms() + 100, 1000);
	p.volume = volume;
	start_ok(f, &p);
	assert_true(wait_log(f, ended, 3000));
	f->ops->stop(&f->o, MC_CH_SPEAKER, true);
	w = read_wav(f);
	pk = peak(&w, from, w.frames);
	free(w.s);
	return pk;
}

/* 3. Volume and gain change the amplitude as computed. */
static void test_volume_gain(void **state)
{
	struct fixture *f = *state;
	double full = play_peak(f, "full", 100, 0);
	double quiet = play_peak(f, "quiet", 50, -6.0);
	double loud = play_peak(f, "loud", 100, 3.0);
	double want_q = 0.5 * pow(10, -6.0 / 20), want_l = pow(10, 3.0 / 20);

	/* The source is a half-scale sine. */
	assert_true(fabs(full - 16384) < 300);
	if (fabs(quiet / full - want_q) > 0.01)
		fail_msg("volume 50 %% and -6 dB: ratio %.4f, expected %.4f",
		         quiet / full, want_q);
	if (fabs(loud / full - want_l) > 0.01)
		fail_msg("+3 dB: ratio %.4f, expected %.4f", loud / full,
		         want_l);

	/* set_volume scales what plays. */
	f->ops->set_volume(&f->o, 25);
	{
		double q = play_peak(f, "master25", 25, 0);

		if (fabs(q / full - 0.25) > 0.01)
			fail_msg("master 25 %%: ratio %.4f", q / full);
	}
}

/* 4. An alert pre-empts the item: chime, then speech; NULL stops it. */
static void test_alert(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct mc_content c = audio_content("long-item");
	struct mc_alert a = {0};
	struct mc_error err = {0};
	struct mc_play p;
	struct wav w;
	size_t f0, tone_end, f3;
	int64_t at;

	snprintf(path, sizeof(path), "%s/sine5.wav", f->dir);
	p = play_of(&c, path, mc_now_ms() + 100, 5000);
	start_ok(f, &p);
	run_for(f, 600);

	a.id = "a-1";
	a.seq = 1;
	a.level = MC_ALERT_DANGER;
	a.text = "Cảnh báo khẩn cấp. Mọi người rời khỏi khu vực lò.";
	a.repeat = 2;
	at = mc_now_ms() + 200;
	a.start_at_ms = at;
	a.expires_ms = at + 600000;
	if (f->ops->alert(&f->o, &a, &err) != MC_OK)
		fail_msg("alert: %s", err.msg);
	/* The item stopped at once: what follows in the file is the
	 * alert. */
	w = read_wav(f);
	f0 = w.frames;
	free(w.s);
	assert_true(f0 > RATE / 4);
	run_until(f, at + 4500);
	expect_start_near(f, "alert a-1", at);
	w = read_wav(f);
	/* The chime: A5 with its octave, decaying, for 1.8 s. */
	tone_end = f0 + (size_t)(RATE * 1.8);
	assert_true(w.frames > tone_end + RATE);
	{
		double zc = crossings(&w, f0, f0 + RATE / 5);

		if (zc < 1600 || zc > 2000)
			fail_msg("first chime note: %.0f crossings/s", zc);
		assert_true(peak(&w, f0, f0 + RATE / 5) > 8000);
	}
	/* The pause, then speech. */
	assert_true(rms(&w, tone_end + RATE / 10, tone_end + RATE / 2) < 50);
	if (rms(&w, tone_end + RATE * 7 / 10, w.frames) < 500)
		fail_msg("no speech after the chime (rms %.0f)",
		         rms(&w, tone_end + RATE * 7 / 10, w.frames));
	free(w.s);

	/* Clearing it silences the speaker. */
	assert_int_equal(f->ops->alert(&f->o, NULL, &err), MC_OK);
	w = read_wav(f);
	f3 = w.frames;
	free(w.s);
	run_for(f, 500);
	w = read_wav(f);
	assert_int_equal(w.frames, f3);
	free(w.s);

	/* Scheduled audio plays again. */
	at = mc_now_ms() + 200;
	p = play_of(&c, path, at, 5000);
	start_ok(f, &p);
	run_until(f, at + 300);
	expect_start_near(f, "long-item", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, false);
}

/* 5. Corrupt and missing files: start errors, fast; the next plays. */
static void test_corrupt(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = {"corrupt.mp3", "cut.wav", "missing.ogg"};
	char path[160];
	struct mc_content c = audio_content("bad");
	struct mc_content good = audio_content("good-after");
	struct mc_play p;
	int64_t t0, at;

	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
		struct mc_error err = {0};

		snprintf(path, sizeof(path), "%s/%s", f->dir, bad[i]);
		p = play_of(&c, path, mc_now_ms() + 100, 1000);
		t0 = mc_mono_ms();
		if (f->ops->start(&f->o, &p, &err) == MC_OK)
			fail_msg("%s started", bad[i]);
		assert_true(mc_mono_ms() - t0 < 2500);
		assert_non_null(strstr(err.msg, "bad"));
		run_for(f, 50);
	}
	assert_true(f->ops->alive(&f->o));
	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	at = mc_now_ms() + 200;
	p = play_of(&good, path, at, 1000);
	start_ok(f, &p);
	run_until(f, at + 300);
	expect_start_near(f, "good-after", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, false);
}

/* 6. Every bulletin format decodes to about a second of the sine. */
static void test_formats(void **state)
{
	struct fixture *f = *state;
	const char *names[] = {"sine1.wav", "sine1.flac", "sine1.ogg",
	                       "sine1.opus", "sine1.mp3"};

	for (size_t i = 0; i < MC_ARRAY_LEN(names); i++) {
		char path[160], ended[160];
		struct mc_content c = audio_content(names[i]);
		struct mc_play p;
		struct wav w;
		size_t from;
		double secs;

		snprintf(path, sizeof(path), "%s/%s", f->dir, names[i]);
		snprintf(ended, sizeof(ended), "audio: %s ended", names[i]);
		w = read_wav(f);
		from = w.frames;
		free(w.s);
		p = play_of(&c, path, mc_now_ms() + 100, 1000);
		start_ok(f, &p);
		if (!wait_log(f, ended, 3000))
			fail_msg("%s did not end", names[i]);
		f->ops->stop(&f->o, MC_CH_SPEAKER, true);
		w = read_wav(f);
		secs = (double)(w.frames - from) / RATE;
		if (secs < 0.95 || secs > 1.08)
			fail_msg("%s: %.3f s decoded", names[i], secs);
		if (fabs(crossings(&w, from + RATE / 4, from + RATE * 3 / 4) -
		         880) > 20)
			fail_msg("%s: not the 440 Hz sine", names[i]);
		free(w.s);
	}
}

/* The instant of the first "<word> <ms>" line of amp.log, or -1. */
static int64_t amp_at(struct fixture *f, const char *word)
{
	char path[160], line[128];
	int64_t at = -1;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/amp.log", f->dir);
	fp = fopen(path, "r");
	if (!fp)
		return -1;
	while (at < 0 && fgets(line, sizeof(line), fp))
		if (strncmp(line, word, strlen(word)) == 0 &&
		    line[strlen(word)] == ' ')
			at = strtoll(line + strlen(word) + 1, NULL, 10);
	fclose(fp);
	return at;
}

/* 7. Amplifier on amp_lead before the audio, off amp_idle after it. */
static void test_amplifier(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct mc_content c = audio_content("amp-item");
	struct mc_error err = {0};
	struct mc_play p;
	int64_t at, on, off;

	/* Re-init with the hook configured. */
	f->ops->uninit(&f->o);
	f->cfg.hook_amplifier = mc_printf("%s/amp.sh", f->dir);
	if (f->ops->init(&f->o, &f->cfg, &err) != MC_OK)
		fail_msg("init: %s", err.msg);
	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	at = mc_now_ms() + 1500;
	p = play_of(&c, path, at, 1000);
	if (f->ops->prepare(&f->o, &p, &err) != MC_OK)
		fail_msg("prepare: %s", err.msg);
	run_until(f, at);
	start_ok(f, &p);
	/* Ends at at + 1000; off 700 ms later. */
	run_until(f, at + 2600);
	on = amp_at(f, "on");
	off = amp_at(f, "off");
	if (on < 0 || off < 0)
		fail_msg("amplifier hook: on %lld, off %lld", (long long)on,
		         (long long)off);
	/* On 500 ms ahead (the hook's own start-up may add a little). */
	if (on < at - 500 - 30 || on > at - 500 + 400)
		fail_msg("amplifier on at %lld ms from the audio",
		         (long long)(on - at));
	if (off < at + 1000 + 700 - 30 || off > at + 1000 + 700 + 500)
		fail_msg("amplifier off at %lld ms after the audio began",
		         (long long)(off - at));
	expect_start_near(f, "amp-item", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, true);
}

/* 8. On a network clock served by a GstNetTimeProvider. */
static void test_net_clock(void **state)
{
	struct fixture *f = *state;
	char path[160];
	struct mc_content c = audio_content("net-item");
	struct mc_error err = {0};
	GstClock *clock;
	GstNetTimeProvider *prov;
	struct mc_play p;
	int port = 0;
	int64_t at;

	clock = g_object_new(GST_TYPE_SYSTEM_CLOCK, "clock-type",
	                     GST_CLOCK_TYPE_REALTIME, NULL);
	gst_object_ref_sink(clock);
	prov = gst_net_time_provider_new(clock, "127.0.0.1", 0);
	assert_non_null(prov);
	g_object_get(prov, "port", &port, NULL);
	assert_true(port > 0);
	f->ops->uninit(&f->o);
	f->cfg.audio_clock = mc_printf("net:127.0.0.1:%d", port);
	if (f->ops->init(&f->o, &f->cfg, &err) != MC_OK)
		fail_msg("init: %s", err.msg);
	run_for(f, 1500); /* the client clock synchronises */
	snprintf(path, sizeof(path), "%s/sine1.wav", f->dir);
	at = mc_now_ms() + 1000;
	p = play_of(&c, path, at, 1000);
	if (f->ops->prepare(&f->o, &p, &err) != MC_OK)
		fail_msg("prepare: %s", err.msg);
	run_until(f, at + 1);
	start_ok(f, &p);
	run_for(f, 300);
	expect_start_near(f, "net-item", at);
	f->ops->stop(&f->o, MC_CH_SPEAKER, false);
	f->ops->uninit(&f->o);
	free(f->cfg.audio_clock);
	f->cfg.audio_clock = "realtime";
	gst_object_unref(prov);
	gst_object_unref(clock);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_at_time, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_duration, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_volume_gain, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_alert, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_formats, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_amplifier, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_net_clock, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, setup_group, teardown_group);
}
