/*
 * Tests of the "vlc" speaker output (player/outputs/vlc.c) through its
 * ops table, on libvlc's file output (afile: the decoded audio written to
 * a WAV file) and its dummy output: the same audio list as the GStreamer
 * output's tests.  Test audio is made with sox and gst-launch-1.0.
 *
 * Note on afile: it has no clock of its own, so libvlc writes up to about
 * two seconds ahead of real time.  A one-second file is written at once;
 * a long one paces at real time, which the alert pre-emption test uses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mc_test.h"
#include "minecast/util.h"

#include "config.h"
#include "outputs/output.h"

#ifdef MC_WITH_VLC
#include <dlfcn.h>

#include "outputs/vlc.h"

/*
 * libvlc_release unloads VLC's plugins, and with them the libraries they
 * pulled in (codecs, ALSA config); LeakSanitizer then reports those
 * libraries' process-wide allocations as leaks it cannot name
 * ("<unknown module>"), which no suppression can match.  Keeping what was
 * loaded loaded — as a running player does anyway — leaves the leak check
 * meaningful for the output's own memory.
 */
int dlclose(void *handle)
{
	(void)handle;
	return 0;
}

/* Start latency bound on afile: libvlc's thread start and file open. */
#define START_BOUND_MS 300

static char dir[] = "/tmp/test-vlc-XXXXXX";
static char out_wav[256];

static char *at(const char *name)
{
	static char paths[8][256];
	static int k;
	char *p = paths[k++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

static int group_setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	snprintf(out_wav, sizeof(out_wav), "%s/out.wav", dir);
	/* One second of 440 Hz at half scale, in every format. */
	mc_test_sh("sox -q -n -r 48000 -c 2 %s/tone.wav synth 1.0 sine 440 vol "
	           "0.5",
	           dir);
	mc_test_sh("sox -q %s/tone.wav %s/tone.flac", dir, dir);
	mc_test_sh("sox -q %s/tone.wav %s/tone.ogg", dir, dir);
	mc_test_sh(
	        "gst-launch-1.0 -q filesrc location=%s/tone.wav ! wavparse ! "
	        "audioconvert ! lamemp3enc ! id3v2mux ! filesink "
	        "location=%s/tone.mp3",
	        dir, dir);
	mc_test_sh(
	        "gst-launch-1.0 -q filesrc location=%s/tone.wav ! wavparse ! "
	        "audioconvert ! audioresample ! opusenc ! oggmux ! "
	        "filesink location=%s/tone.opus",
	        dir, dir);
	/* Thirty seconds, small: paced at real time by afile. */
	mc_test_sh(
	        "sox -q -n -r 8000 -c 1 %s/long.wav synth 30 sine 300 vol 0.3",
	        dir);
	/* Not audio at all, and audio cut off after its header. */
	mc_test_sh("head -c 4096 /dev/urandom > %s/corrupt.ogg", dir);
	mc_test_sh("head -c 300 %s/tone.ogg > %s/truncated.ogg", dir, dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mc_test_sh("rm -rf %s", dir);
	return 0;
}

/* A decoded WAV as afile wrote it: rate, channels and the samples. */
struct wav {
	int rate, channels;
	int16_t *s;
	size_t n; /* samples over all channels */
};

static void wav_read(const char *path, struct wav *w)
{
	char *buf = NULL;
	size_t len = 0, off = 12;
	struct mc_error err = {0};

	memset(w, 0, sizeof(*w));
	if (mc_read_file(path, 64 * 1024 * 1024, &buf, &len, &err) != MC_OK)
		fail_msg("%s: %s", path, err.msg);
	assert_true(len >= 44);
	assert_memory_equal(buf, "RIFF", 4);
	while (off + 8 <= len) {
		uint32_t sz;

		memcpy(&sz, buf + off + 4, 4);
		if (memcmp(buf + off, "fmt ", 4) == 0) {
			uint16_t ch, bits;
			uint32_t rate;

			memcpy(&ch, buf + off + 10, 2);
			memcpy(&rate, buf + off + 12, 4);
			memcpy(&bits, buf + off + 22, 2);
			assert_int_equal(bits, 16);
			w->channels = ch;
			w->rate = (int)rate;
		} else if (memcmp(buf + off, "data", 4) == 0) {
			/* afile may leave the size unset while open: take
			 * what is there. */
			size_t have = len - off - 8;

			w->n = have / 2;
			w->s = malloc(have + 2);
			memcpy(w->s, buf + off + 8, have);
			break;
		}
		off += 8 + sz + (sz & 1);
	}
	free(buf);
	assert_non_null(w->s);
	assert_true(w->rate > 0 && w->channels > 0);
}

static double wav_seconds(const struct wav *w)
{
	return (double)w->n / w->channels / w->rate;
}

static double wav_peak(const struct wav *w)
{
	int peak = 0;

	for (size_t i = 0; i < w->n; i++)
		if (abs(w->s[i]) > peak)
			peak = abs(w->s[i]);
	return peak / 32768.0;
}

/* The output under test, on afile writing out_wav (or sink). */
struct fx {
	struct mc_player_config cfg;
	struct mc_output o;
	struct mc_content c;
	struct mc_play p;
};

static void fx_init_sink(struct fx *f, const char *sink, const char *dev)
{
	struct mc_error err = {0};
	static char sinkbuf[300];

	memset(f, 0, sizeof(*f));
	snprintf(sinkbuf, sizeof(sinkbuf), "%s", sink);
	f->cfg.audio_sink = sinkbuf;
	f->cfg.audio_device = (char *)dev;
	f->cfg.voice = "vi";
	f->cfg.volume = 100;
	f->cfg.preroll_ms = 500;
	f->o.ops = mc_output_find("vlc");
	assert_non_null(f->o.ops);
	if (f->o.ops->init(&f->o, &f->cfg, &err) != MC_OK)
		fail_msg("init: %s", err.msg);
	f->c.id = "ban-tin";
	f->c.type = MC_CONTENT_AUDIO;
	f->p.channel = MC_CH_SPEAKER;
	f->p.content = &f->c;
	f->p.volume = 100;
	f->p.reason = "scheduled";
}

static void fx_init(struct fx *f)
{
	char sink[300];

	unlink(out_wav);
	snprintf(sink, sizeof(sink), "file:%s", out_wav);
	fx_init_sink(f, sink, "default");
}

static void fx_fini(struct fx *f)
{
	f->o.ops->uninit(&f->o);
	assert_null(f->o.priv);
}

static struct mc_vlc_status status(struct fx *f)
{
	struct mc_vlc_status st;

	mc_output_vlc_status(&f->o, &st);
	return st;
}

/* Tick as the main loop does until done(st) or timeout; true if done. */
static bool pump(struct fx *f, bool (*done)(const struct mc_vlc_status *),
                 int timeout_ms)
{
	int64_t until = mc_mono_ms() + timeout_ms;

	for (;;) {
		int wait = f->o.ops->tick(&f->o, mc_now_ms());
		struct mc_vlc_status st = status(f);

		if (done && done(&st))
			return true;
		if (mc_mono_ms() >= until)
			return false;
		if (wait < 0 || wait > 5)
			wait = 5;
		usleep((useconds_t)wait * 1000);
	}
}

static bool has_started(const struct mc_vlc_status *st)
{
	return st->started_ms != 0 || st->failed;
}

static bool has_ended(const struct mc_vlc_status *st)
{
	return st->ended || st->failed;
}

static bool alert_over(const struct mc_vlc_status *st)
{
	return st->alert_done >= st->alert_segments && !st->alert;
}

static bool alert_sounding(const struct mc_vlc_status *st)
{
	return st->alert && st->alert_started_ms;
}

static void sleep_until(int64_t t)
{
	int64_t now = mc_now_ms();

	if (t > now)
		usleep((useconds_t)(t - now) * 1000);
}

/* Play path to its end now and return the decoded WAV. */
static void play_file(struct fx *f, const char *path, struct wav *w)
{
	struct mc_error err = {0};

	f->p.path = path;
	f->p.start_ms = mc_now_ms();
	f->p.end_ms = f->p.start_ms + 1000;
	if (f->o.ops->start(&f->o, &f->p, &err) != MC_OK)
		fail_msg("start %s: %s", path, err.msg);
	assert_true(pump(f, has_ended, 10000));
	assert_false(status(f).failed);
	f->o.ops->stop(&f->o, MC_CH_SPEAKER, true);
	wav_read(out_wav, w);
}

/* ---- tests ---- */

/* An at-time item starts within START_BOUND_MS of its instant, both when
 * prepared and started at the instant (as the main loop does) and when
 * start() is called early. */
static void test_at_time_start(void **state)
{
	struct fx f;
	struct mc_error err = {0};
	int64_t lat[10], worst = 0, sum = 0, wsum = 0, wworst = 0;
	int n = 0;

	(void)state;
	fx_init(&f);
	f.p.path = at("tone.wav");
	for (int i = 0; i < 10; i++) {
		struct mc_vlc_status st;
		bool early = i % 2;
		int64_t wlat;

		f.p.start_ms = mc_now_ms() + 400;
		f.p.end_ms = f.p.start_ms + 1000;
		if (!early) {
			assert_int_equal(f.o.ops->prepare(&f.o, &f.p, &err),
			                 MC_OK);
			sleep_until(f.p.start_ms);
		} else {
			sleep_until(f.p.start_ms - 150);
		}
		unlink(out_wav);
		assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
		/* Also when afile's first samples land in its file. */
		wlat = -1;
		for (int64_t until = mc_mono_ms() + 2000;
		     mc_mono_ms() < until;) {
			struct stat sb;

			f.o.ops->tick(&f.o, mc_now_ms());
			if (stat(out_wav, &sb) == 0 && sb.st_size > 44) {
				wlat = mc_now_ms() - f.p.start_ms;
				break;
			}
			usleep(200);
		}
		assert_true(wlat >= 0 && wlat < START_BOUND_MS);
		wsum += wlat;
		if (wlat > wworst)
			wworst = wlat;
		assert_true(pump(&f, has_started, 5000));
		st = status(&f);
		assert_false(st.failed);
		lat[n] = st.started_ms - f.p.start_ms;
		/* Never before its instant, and soon after it. */
		assert_true(lat[n] >= 0);
		assert_true(lat[n] < START_BOUND_MS);
		if (lat[n] > worst)
			worst = lat[n];
		sum += lat[n++];
		f.o.ops->stop(&f.o, MC_CH_SPEAKER, false);
	}
	print_message("vlc start latency on afile over %d starts: \"playing\" "
	              "event mean %.1f ms, worst %" PRId64
	              " ms; first samples in the file mean %.1f ms, worst "
	              "%" PRId64 " ms\n",
	              n, (double)sum / n, worst, (double)wsum / n, wworst);
	fx_fini(&f);
}

/* The decoded output lasts as long as the file. */
static void test_duration(void **state)
{
	struct fx f;
	struct wav w;

	(void)state;
	fx_init(&f);
	play_file(&f, at("tone.wav"), &w);
	assert_true(fabs(wav_seconds(&w) - 1.0) < 0.05);
	assert_true(wav_peak(&w) > 0.4);
	free(w.s);
	fx_fini(&f);
}

/* WAV, FLAC, Ogg Vorbis, Ogg Opus and MP3 all decode to about 1 s. */
static void test_formats(void **state)
{
	static const char *const files[] = {"tone.wav", "tone.flac", "tone.ogg",
	                                    "tone.opus", "tone.mp3"};
	struct fx f;

	(void)state;
	fx_init(&f);
	for (size_t i = 0; i < MC_ARRAY_LEN(files); i++) {
		struct wav w;

		play_file(&f, at(files[i]), &w);
		if (fabs(wav_seconds(&w) - 1.0) > 0.1 || wav_peak(&w) < 0.3)
			fail_msg("%s: decoded %.3f s, peak %.2f", files[i],
			         wav_seconds(&w), wav_peak(&w));
		free(w.s);
	}
	fx_fini(&f);
}

/* Item volume and the loudness gain scale the amplitude; the channel
 * volume rescales what plays. */
static void test_volume(void **state)
{
	struct fx f;
	struct wav w;
	struct mc_error err = {0};
	double full, half, gain;

	(void)state;
	fx_init(&f);
	play_file(&f, at("tone.wav"), &w);
	full = wav_peak(&w);
	free(w.s);
	f.p.volume = 50;
	play_file(&f, at("tone.wav"), &w);
	half = wav_peak(&w);
	free(w.s);
	f.p.volume = 100;
	f.c.gain_db = -6.0206; /* one half */
	play_file(&f, at("tone.wav"), &w);
	gain = wav_peak(&w);
	free(w.s);
	f.c.gain_db = 0;
	print_message("peaks: full %.3f, volume 50 %.3f, -6 dB %.3f\n", full,
	              half, gain);
	/* The file's own peak is 0.5. */
	assert_true(fabs(full - 0.5) < 0.03);
	assert_true(fabs(half / full - 0.5) < 0.05);
	assert_true(fabs(gain / full - 0.5) < 0.05);

	/* p->volume 80 holds the channel's 80 %: the channel to 40 halves
	 * it while it plays. */
	f.o.ops->set_volume(&f.o, 80);
	f.p.volume = 80;
	f.p.path = at("long.wav");
	f.p.start_ms = mc_now_ms();
	assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
	assert_true(pump(&f, has_started, 5000));
	assert_true(fabs(status(&f).gain - 0.8) < 0.001);
	f.o.ops->set_volume(&f.o, 40);
	assert_true(fabs(status(&f).gain - 0.4) < 0.001);
	f.o.ops->stop(&f.o, MC_CH_SPEAKER, false);
	fx_fini(&f);
}

/* An item whose instant passed joins at its offset. */
static void test_late_start(void **state)
{
	struct fx f;
	struct mc_error err = {0};
	struct wav w;

	(void)state;
	fx_init(&f);
	f.p.path = at("tone.wav");
	f.p.start_ms = mc_now_ms() - 600;
	f.p.end_ms = f.p.start_ms + 1000;
	assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
	assert_true(pump(&f, has_ended, 10000));
	f.o.ops->stop(&f.o, MC_CH_SPEAKER, true);
	wav_read(out_wav, &w);
	if (wav_seconds(&w) < 0.3 || wav_seconds(&w) > 0.5)
		fail_msg("joined 600 ms late: decoded %.3f s, expected ~0.4",
		         wav_seconds(&w));
	free(w.s);
	fx_fini(&f);
}

/* Corrupt, truncated and missing files: an error from start, no crash. */
static void test_bad_files(void **state)
{
	static const char *const bad[] = {"corrupt.ogg", "missing.wav",
	                                  "truncated.ogg", ""};
	struct fx f;
	struct wav w;

	(void)state;
	fx_init(&f);
	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++) {
		struct mc_error err = {0};
		enum mc_err rc;

		f.p.path = bad[i][0] ? at(bad[i]) : dir; /* "" = a directory */
		f.p.start_ms = mc_now_ms();
		rc = f.o.ops->start(&f.o, &f.p, &err);
		if (rc == MC_OK) {
			/* libvlc may accept a truncated file and find the
			 * fault while playing: then it must fail or end. */
			assert_true(pump(&f, has_ended, 5000));
		} else {
			assert_true(err.msg[0] != '\0');
			print_message("%s: %s\n", bad[i], err.msg);
		}
		f.o.ops->stop(&f.o, MC_CH_SPEAKER, false);
	}
	/* And a good file plays after them. */
	play_file(&f, at("tone.flac"), &w);
	assert_true(wav_seconds(&w) > 0.9);
	free(w.s);
	assert_true(f.o.ops->alive(&f.o));
	fx_fini(&f);
}

/* A speech item: the text spoken by espeak-ng, played. */
static void test_speech_item(void **state)
{
	struct fx f;
	struct mc_error err = {0};
	struct wav w;

	(void)state;
	fx_init(&f);
	f.c.type = MC_CONTENT_SPEECH;
	f.p.path = NULL;
	f.p.text = "Chú ý: đề nghị công nhân ra khỏi khu vực nổ mìn.";
	f.p.start_ms = mc_now_ms();
	assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
	assert_true(pump(&f, has_ended, 10000));
	assert_false(status(&f).failed);
	f.o.ops->stop(&f.o, MC_CH_SPEAKER, true);
	wav_read(out_wav, &w);
	assert_true(wav_seconds(&w) > 1.0);
	assert_true(wav_peak(&w) > 0.05);
	free(w.s);
	fx_fini(&f);
}

/* An alert cuts what plays at its instant, sounds the tone and the text
 * repeated, ends; an item plays again after it. */
static void test_alert_preempts(void **state)
{
	struct fx f;
	struct mc_error err = {0};
	struct mc_alert a = {0};
	struct mc_vlc_status st;
	struct wav w;

	(void)state;
	fx_init(&f);
	f.p.path = at("long.wav");
	f.p.start_ms = mc_now_ms();
	f.p.end_ms = f.p.start_ms + 30000;
	assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
	assert_true(pump(&f, has_started, 5000));

	a.id = "no-min";
	a.seq = 1;
	a.level = MC_ALERT_DANGER;
	a.text = "Cảnh báo nổ mìn";
	a.repeat = 2;
	a.start_at_ms = mc_now_ms() + 200; /* control.c's lead */
	assert_int_equal(f.o.ops->alert(&f.o, &a, &err), MC_OK);
	assert_true(status(&f).playing); /* not before its instant */
	assert_true(pump(&f, alert_sounding, 5000));
	st = status(&f);
	assert_false(st.playing); /* the item was cut */
	assert_true(st.alert_started_ms >= a.start_at_ms);
	assert_true(st.alert_started_ms - a.start_at_ms < START_BOUND_MS);
	print_message("alert sounded %" PRId64 " ms after its instant\n",
	              st.alert_started_ms - a.start_at_ms);
	assert_true(pump(&f, alert_over, 15000));
	st = status(&f);
	assert_int_equal(st.alert_done, st.alert_segments);
	/* Tone (1.8 s), a pause, the text twice with a pause. */
	wav_read(out_wav, &w);
	assert_true(wav_seconds(&w) > 1.8 + 0.7 * 2 + 0.4 * 2);
	free(w.s);
	assert_int_equal(f.o.ops->alert(&f.o, NULL, &err), MC_OK);

	/* The schedule resumes: an item plays again. */
	play_file(&f, at("tone.wav"), &w);
	assert_true(fabs(wav_seconds(&w) - 1.0) < 0.05);
	free(w.s);
	fx_fini(&f);
}

/* alert(NULL) before the instant: nothing sounds; during: it stops. */
static void test_alert_cleared(void **state)
{
	struct fx f;
	struct mc_error err = {0};
	struct mc_alert a = {0};

	(void)state;
	fx_init(&f);
	a.id = "no-min";
	a.seq = 1;
	a.text = "Cảnh báo";
	a.repeat = 10;
	a.start_at_ms = mc_now_ms() + 200;
	assert_int_equal(f.o.ops->alert(&f.o, &a, &err), MC_OK);
	assert_int_equal(f.o.ops->alert(&f.o, NULL, &err), MC_OK);
	pump(&f, NULL, 400);
	assert_false(status(&f).alert);
	assert_int_equal(status(&f).alert_started_ms, 0);

	a.start_at_ms = mc_now_ms();
	assert_int_equal(f.o.ops->alert(&f.o, &a, &err), MC_OK);
	assert_true(pump(&f, alert_sounding, 5000));
	assert_int_equal(f.o.ops->alert(&f.o, NULL, &err), MC_OK);
	assert_false(status(&f).alert);
	pump(&f, NULL, 200);
	assert_false(status(&f).alert);
	fx_fini(&f);
}

/* No audio device: init fails with a reason; an output file that cannot
 * be opened fails the item, without a crash or a hang. */
static void test_no_device(void **state)
{
	struct mc_player_config cfg = {0};
	struct mc_output o = {0};
	struct mc_error err = {0};
	struct fx f;
	struct wav w;
	int64_t t0;

	(void)state;
	cfg.audio_sink = "alsa";
	cfg.audio_device = "hw:9,0";
	cfg.voice = "vi";
	cfg.volume = 100;
	o.ops = mc_output_find("vlc");
	assert_int_not_equal(o.ops->init(&o, &cfg, &err), MC_OK);
	assert_non_null(strstr(err.msg, "hw:9,0"));
	assert_null(o.priv);
	print_message("absent device: %s\n", err.msg);

	cfg.audio_sink = "nonsense";
	assert_int_not_equal(o.ops->init(&o, &cfg, &err), MC_OK);
	assert_null(o.priv);

	fx_init_sink(&f, "file:/nonexistent-dir/out.wav", "default");
	f.p.path = at("tone.wav");
	f.p.start_ms = mc_now_ms();
	t0 = mc_mono_ms();
	if (f.o.ops->start(&f.o, &f.p, &err) == MC_OK) {
		assert_true(pump(&f, has_ended, 5000));
		assert_true(status(&f).failed);
		/* A failed device is not alive: the watchdog restarts. */
		assert_false(f.o.ops->alive(&f.o));
	}
	assert_true(mc_mono_ms() - t0 < 5000);
	f.o.ops->stop(&f.o, MC_CH_SPEAKER, false);
	fx_fini(&f);

	/* The dummy output plays (and ends) with no device at all. */
	fx_init_sink(&f, "fake", "default");
	f.p.path = at("tone.ogg");
	f.p.start_ms = mc_now_ms();
	assert_int_equal(f.o.ops->start(&f.o, &f.p, &err), MC_OK);
	assert_true(pump(&f, has_ended, 5000));
	assert_false(status(&f).failed);
	fx_fini(&f);
	(void)w;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_at_time_start),
	        cmocka_unit_test(test_duration),
	        cmocka_unit_test(test_formats),
	        cmocka_unit_test(test_volume),
	        cmocka_unit_test(test_late_start),
	        cmocka_unit_test(test_bad_files),
	        cmocka_unit_test(test_speech_item),
	        cmocka_unit_test(test_alert_preempts),
	        cmocka_unit_test(test_alert_cleared),
	        cmocka_unit_test(test_no_device),
	};

	/* MC_TEST_FILTER=test_volume runs one test (cmocka's pattern). */
	if (getenv("MC_TEST_FILTER"))
		cmocka_set_test_filter(getenv("MC_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

#else /* built with -DMC_WITH_VLC=OFF */

static void test_not_built(void **state)
{
	(void)state;
	/* The backend is left out on purpose: it must not be offered. */
	assert_null(mc_output_find("vlc"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_not_built),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif
