/*
 * Uploaded media checks (controller/daemon/media.c) on real files made
 * here: images by ImageMagick's convert, audio by sox and gst-launch or
 * written directly as WAV; broken, cut-off, mislabelled, forged and
 * oversized files; EBU R 128 loudness of sines of known level; speech
 * made with espeak-ng.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "mc_test.h"
#include "media.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static char dir[] = "/tmp/test_ctl_media-XXXXXX";
static char path_buf[512];

/* dir/name (a static buffer: copy it before the next call). */
static const char *at(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", dir, name);
	return path_buf;
}

static void write_bytes(const char *name, const void *data, size_t n)
{
	FILE *f = fopen(at(name), "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* The first n bytes of src into dst (a cut-off file). */
static void cut(const char *src, const char *dst, double fraction)
{
	char s[512];
	FILE *f;
	long n;
	char *buf;

	snprintf(s, sizeof(s), "%s", at(src));
	f = fopen(s, "rb");
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	write_bytes(dst, buf, (size_t)(n * fraction));
	free(buf);
}

static void put32be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* CRC-32 of PNG chunks (ISO 3309), bit by bit: the files are tiny. */
static uint32_t crc32_of(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

/* A PNG chunk (length, type, data, CRC) at p; returns its size. */
static size_t chunk(unsigned char *p, const char *type, const void *data,
                    uint32_t n)
{
	put32be(p, n);
	memcpy(p + 4, type, 4);
	if (n)
		memcpy(p + 8, data, n);
	put32be(p + 8 + n, crc32_of(p + 4, 4 + n));
	return 12 + n;
}

/*
 * A small PNG file whose header claims w x h pixels; its pixel data (a
 * zlib stream of one stored block) holds only 16 zero bytes.
 */
static void forged_png(const char *name, uint32_t w, uint32_t h)
{
	unsigned char buf[256], ihdr[13];
	unsigned char idat[2 + 5 + 16 + 4] = {0x78, 0x01, 0x01, 16,
	                                      0,    0xef, 0xff};
	size_t n = 8;

	/* Adler-32 of 16 zero bytes: a = 1, b = 16. */
	put32be(idat + 2 + 5 + 16, (16u << 16) | 1u);
	memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
	put32be(ihdr, w);
	put32be(ihdr + 4, h);
	ihdr[8] = 8; /* bit depth */
	ihdr[9] = 2; /* RGB */
	ihdr[10] = ihdr[11] = ihdr[12] = 0;
	n += chunk(buf + n, "IHDR", ihdr, 13);
	n += chunk(buf + n, "IDAT", idat, sizeof(idat));
	n += chunk(buf + n, "IEND", NULL, 0);
	write_bytes(name, buf, n);
}

/* A 16-bit PCM WAV of a sine: amplitude in dBFS (peak), on every
 * channel; data_bytes_claimed 0 = the real size. */
static void sine_wav(const char *name, int rate, int channels, double secs,
                     double dbfs, uint32_t data_bytes_claimed)
{
	size_t frames = (size_t)(rate * secs);
	uint32_t data = (uint32_t)(frames * (size_t)channels * 2);
	double amp = pow(10.0, dbfs / 20.0) * 32767.0;
	unsigned char h[44];
	FILE *f = fopen(at(name), "wb");

	assert_non_null(f);
	memcpy(h, "RIFF", 4);
	memcpy(h + 8, "WAVEfmt ", 8);
	memcpy(h + 36, "data", 4);
	{
		uint32_t v[] = {36 + data, 16};
		uint16_t fmt[] = {1, (uint16_t)channels};
		uint32_t r[] = {(uint32_t)rate,
		                (uint32_t)(rate * channels * 2)};
		uint16_t b[] = {(uint16_t)(channels * 2), 16};
		uint32_t d = data_bytes_claimed ? data_bytes_claimed : data;

		/* WAV is little-endian, as the test machines are. */
		memcpy(h + 4, &v[0], 4);
		memcpy(h + 16, &v[1], 4);
		memcpy(h + 20, fmt, 4);
		memcpy(h + 24, r, 8);
		memcpy(h + 32, b, 4);
		memcpy(h + 40, &d, 4);
	}
	assert_int_equal(fwrite(h, 1, 44, f), 44);
	for (size_t i = 0; i < frames; i++) {
		int16_t s =
		        (int16_t)lrint(amp * sin(2 * M_PI * 1000.0 * i / rate));

		for (int c = 0; c < channels; c++)
			assert_int_equal(fwrite(&s, 2, 1, f), 1);
	}
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	(void)state;
	if (!mkdtemp(dir))
		return -1;
	mc_test_sh("cd %s && convert -size 320x180 gradient:red-yellow a.png"
	           " && convert -size 200x100 plasma:fractal -quality 85 "
	           "a.jpg && convert -size 120x80 xc:blue a.webp && "
	           "convert -size 640x480 plasma:fractal big.jpg && "
	           "convert -size 640x480 plasma:fractal big.png",
	           dir);
	/* A real 17000 x 2 PNG (ImageMagick's policy refuses to make it). */
	mc_test_sh("cd %s && python3 -c 'import struct, zlib\n"
	           "def c(t, d): return struct.pack(\">I\", len(d)) + t + d + "
	           "struct.pack(\">I\", zlib.crc32(t + d))\n"
	           "w, h = 17000, 2\n"
	           "raw = (b\"\\0\" + b\"\\xff\\0\\0\" * w) * h\n"
	           "open(\"wide.png\", \"wb\").write(b\"\\x89PNG\\r\\n"
	           "\\x1a\\n\" + c(b\"IHDR\", struct.pack(\">IIBBBBB\", w, "
	           "h, 8, 2, 0, 0, 0)) + c(b\"IDAT\", zlib.compress(raw)) + "
	           "c(b\"IEND\", b\"\"))'",
	           dir);
	/* Stereo 1 kHz at -20 dBFS: -20 LUFS; quiet and loud ones. */
	mc_test_sh("cd %s && sox -n -r 48000 -c 2 sine.ogg synth 3 sine 1000 "
	           "vol -20dB && sox -n -r 44100 -c 1 quiet.flac synth 2 sine "
	           "1000 vol -50dB && sox -n -r 44100 -c 2 silent.ogg synth 2 "
	           "sine 1000 vol 0",
	           dir);
	mc_test_sh("cd %s && gst-launch-1.0 -q audiotestsrc num-buffers=100 ! "
	           "audioconvert ! lamemp3enc ! filesink location=a.mp3 && "
	           "gst-launch-1.0 -q audiotestsrc num-buffers=100 ! "
	           "audioconvert ! opusenc ! oggmux ! filesink "
	           "location=a.opus && gst-launch-1.0 -q videotestsrc "
	           "num-buffers=60 ! theoraenc ! oggmux name=m ! filesink "
	           "location=video.ogg audiotestsrc num-buffers=60 ! "
	           "audioconvert ! vorbisenc ! m.",
	           dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mc_test_sh("rm -rf %s", dir);
	return 0;
}

static void expect(enum mc_err rc, const struct mc_error *e, enum mc_err code,
                   const char *text, const char *what)
{
	if (rc != code || e->code != code || !strstr(e->msg, text) ||
	    !strstr(e->msg, " / "))
		fail_msg("%s: got %d \"%s\", expected %d with \"%s\" and "
		         "Vietnamese / English",
		         what, rc, e->msg, code, text);
}

static void test_images(void **state)
{
	struct mcc_media_info in;
	struct mc_error e = {0};

	(void)state;
	assert_int_equal(mcc_media_probe_image(at("a.png"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "image/png");
	assert_int_equal(in.width, 320);
	assert_int_equal(in.height, 180);
	assert_int_equal(mcc_media_probe_image(at("a.jpg"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "image/jpeg");
	assert_int_equal(in.width, 200);
	assert_int_equal(in.height, 100);
	assert_int_equal(mcc_media_probe_image(at("a.webp"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "image/webp");
	assert_int_equal(in.width, 120);
	assert_int_equal(in.height, 80);
	/* The kind is the bytes', not the name's. */
	mc_test_sh("cp %s/a.jpg %s/photo.png", dir, dir);
	assert_int_equal(mcc_media_probe_image(at("photo.png"), &in, &e),
	                 MC_OK);
	assert_string_equal(in.mime, "image/jpeg");
}

static void test_images_refused(void **state)
{
	struct mcc_media_info in;
	struct mc_error e = {0};
	enum mc_err rc;

	(void)state;
	write_bytes("text.png", "Đây không phải ảnh\n", 22);
	rc = mcc_media_probe_image(at("text.png"), &in, &e);
	expect(rc, &e, MC_ERR_UNSUPPORTED, "not a PNG, JPEG or WebP image",
	       "text named .png");
	rc = mcc_media_probe_image(at("sine.ogg"), &in, &e);
	expect(rc, &e, MC_ERR_UNSUPPORTED, "not a PNG", "audio as image");
	write_bytes("empty.png", "", 0);
	rc = mcc_media_probe_image(at("empty.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "empty", "empty");
	rc = mcc_media_probe_image(at("missing.png"), &in, &e);
	assert_int_equal(rc, MC_ERR_IO);
	/* Cut off: PNG by libpng, JPEG by its missing end marker. */
	cut("big.png", "cut.png", 0.5);
	rc = mcc_media_probe_image(at("cut.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "image", "truncated png");
	cut("big.jpg", "cut.jpg", 0.5);
	rc = mcc_media_probe_image(at("cut.jpg"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "cut short", "truncated jpeg");
	cut("a.webp", "cut.webp", 0.6);
	rc = mcc_media_probe_image(at("cut.webp"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "image", "truncated webp");
	cut("a.png", "head.png", 0.02);
	rc = mcc_media_probe_image(at("head.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "image", "png signature only");
	/* Limits, judged by the header before decoding. */
	forged_png("huge.png", 100000, 100000);
	rc = mcc_media_probe_image(at("huge.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "100000x100000", "huge header");
	forged_png("mp.png", 8193, 8193);
	rc = mcc_media_probe_image(at("mp.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "64 MP", "over 64 MP");
	forged_png("zero.png", 0, 10);
	rc = mcc_media_probe_image(at("zero.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "0x10", "zero width");
	rc = mcc_media_probe_image(at("wide.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "17000x2", "over 16384 a side");
	/* A header that fits but pixels that do not decode. */
	forged_png("lie.png", 64, 64);
	rc = mcc_media_probe_image(at("lie.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "cannot be decoded", "short pixels");
	/* Over 50 MiB (a sparse tail after a good image). */
	mc_test_sh("cp %s/a.png %s/fat.png && truncate -s 51M %s/fat.png", dir,
	           dir, dir);
	rc = mcc_media_probe_image(at("fat.png"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "50 MiB", "over 50 MiB");
}

static void test_audio(void **state)
{
	struct mcc_media_info in;
	struct mc_error e = {0};

	(void)state;
	assert_int_equal(mcc_media_probe_audio(at("sine.ogg"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "audio/ogg");
	assert_int_equal(in.channels, 2);
	assert_int_equal(in.rate, 48000);
	assert_true(llabs(in.duration_ms - 3000) <= 30);
	if (fabs(in.lufs - -20.0) > 1.0 || fabs(in.gain_db - -3.0) > 1.0)
		fail_msg("stereo -20 dBFS sine: %.1f LUFS, gain %.1f dB",
		         in.lufs, in.gain_db);
	/* Mono at -20 dBFS is 3 LU quieter: -23 LUFS, no gain. */
	sine_wav("mono.wav", 16000, 1, 2.0, -20.0, 0);
	assert_int_equal(mcc_media_probe_audio(at("mono.wav"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "audio/wav");
	assert_int_equal(in.duration_ms, 2000);
	if (fabs(in.lufs - -23.0) > 1.0 || fabs(in.gain_db) > 1.0)
		fail_msg("mono -20 dBFS sine: %.1f LUFS, gain %.1f dB", in.lufs,
		         in.gain_db);
	/* One decimal. */
	assert_true(fabs(in.gain_db * 10 - round(in.gain_db * 10)) < 1e-9);
	/* The gain is clamped to ±20 dB. */
	assert_int_equal(mcc_media_probe_audio(at("quiet.flac"), &in, &e),
	                 MC_OK);
	assert_string_equal(in.mime, "audio/flac");
	assert_true(fabs(in.lufs - -53.0) <= 1.0);
	assert_true(in.gain_db == 20.0);
	sine_wav("loud.wav", 48000, 2, 1.0, 0.0, 0);
	assert_int_equal(mcc_media_probe_audio(at("loud.wav"), &in, &e), MC_OK);
	assert_true(fabs(in.lufs - 0.0) <= 1.0);
	assert_true(in.gain_db == -20.0);
	assert_int_equal(mcc_media_probe_audio(at("a.mp3"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "audio/mpeg");
	assert_true(in.duration_ms > 1500 && in.duration_ms < 3000);
	assert_int_equal(mcc_media_probe_audio(at("a.opus"), &in, &e), MC_OK);
	assert_string_equal(in.mime, "audio/ogg");
	/* 100 buffers of 1024 samples at 48 kHz (or 44.1 kHz). */
	if (in.duration_ms < 2000 || in.duration_ms > 2500)
		fail_msg("opus: %lld ms", (long long)in.duration_ms);
}

static void test_audio_refused(void **state)
{
	struct mcc_media_info in;
	struct mc_error e = {0};
	enum mc_err rc;

	(void)state;
	rc = mcc_media_probe_audio(at("a.png"), &in, &e);
	expect(rc, &e, MC_ERR_UNSUPPORTED, "not an Ogg, MP3, WAV or FLAC",
	       "image as audio");
	write_bytes("text.ogg", "không phải âm thanh", 22);
	rc = mcc_media_probe_audio(at("text.ogg"), &in, &e);
	expect(rc, &e, MC_ERR_UNSUPPORTED, "not an Ogg", "text as audio");
	write_bytes("garbage.ogg", "OggS\0garbage garbage garbage", 28);
	rc = mcc_media_probe_audio(at("garbage.ogg"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "audio", "garbage after magic");
	rc = mcc_media_probe_audio(at("video.ogg"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "video", "video");
	rc = mcc_media_probe_audio(at("silent.ogg"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "silent", "silence");
	sine_wav("short.wav", 16000, 1, 0.2, -20.0, 0);
	rc = mcc_media_probe_audio(at("short.wav"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "too short", "0.2 s");
	/* Over 60 minutes, and a header claiming it over a short file. */
	sine_wav("long.wav", 1000, 1, 3660.0, -20.0, 0);
	rc = mcc_media_probe_audio(at("long.wav"), &in, &e);
	expect(rc, &e, MC_ERR_MEDIA, "too long", "61 min");
	/* A header claiming an hour over a one-second file: the length is
	 * what decodes. */
	sine_wav("liar.wav", 8000, 1, 1.0, -20.0, 8000u * 2 * 3700);
	assert_int_equal(mcc_media_probe_audio(at("liar.wav"), &in, &e), MC_OK);
	assert_int_equal(in.duration_ms, 1000);
	/* A refused file leaves no result behind. */
	rc = mcc_media_probe_audio(at("video.ogg"), &in, &e);
	assert_int_equal(rc, MC_ERR_MEDIA);
	assert_string_equal(in.mime, "");
	assert_int_equal(in.duration_ms, 0);
}

/* Two threads probing at once (GStreamer is set up once). */
static void *probe_thread(void *arg)
{
	struct mcc_media_info in;
	struct mc_error e = {0};

	(void)arg;
	return (void *)(intptr_t)mcc_media_probe_audio(at("sine.ogg"), &in, &e);
}

static void test_threads(void **state)
{
	pthread_t t[3];
	void *rc;

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(
		        pthread_create(&t[i], NULL, probe_thread, NULL), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], &rc), 0);
		assert_int_equal((intptr_t)rc, MC_OK);
	}
}

static void test_speech(void **state)
{
	struct mcc_media_info in, probed;
	struct mc_error e = {0};
	char wav[512];
	unsigned char h[44];
	FILE *f;

	(void)state;
	snprintf(wav, sizeof(wav), "%s", at("speech.wav"));
	assert_int_equal(mcc_media_speak("Ngày 12/11/2023, TKV kỷ niệm 87 năm "
	                                 "Ngày truyền thống công nhân vùng mỏ.",
	                                 wav, &in, &e),
	                 MC_OK);
	assert_string_equal(in.mime, "audio/wav");
	assert_int_equal(in.channels, 1);
	assert_true(in.rate > 8000);
	assert_true(in.duration_ms > 3000);
	assert_true(isfinite(in.lufs));
	assert_true(in.gain_db >= -20 && in.gain_db <= 20);
	f = fopen(wav, "rb");
	assert_non_null(f);
	assert_int_equal(fread(h, 1, 44, f), 44);
	fclose(f);
	assert_memory_equal(h, "RIFF", 4);
	assert_memory_equal(h + 8, "WAVEfmt ", 8);
	assert_int_equal(h[22], 1);  /* mono */
	assert_int_equal(h[34], 16); /* bits */
	/* What was written is a file the upload check takes, alike. */
	assert_int_equal(mcc_media_probe_audio(wav, &probed, &e), MC_OK);
	assert_string_equal(probed.mime, "audio/wav");
	assert_true(llabs(probed.duration_ms - in.duration_ms) <= 1);
	assert_true(fabs(probed.lufs - in.lufs) <= 0.2);
	/* Nothing to say: refused, and no file left. */
	snprintf(wav, sizeof(wav), "%s", at("nothing.wav"));
	assert_int_equal(mcc_media_speak("", wav, &in, &e), MC_ERR_MEDIA);
	assert_int_not_equal(access(wav, F_OK), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_images),
	        cmocka_unit_test(test_images_refused),
	        cmocka_unit_test(test_audio),
	        cmocka_unit_test(test_audio_refused),
	        cmocka_unit_test(test_threads),
	        cmocka_unit_test(test_speech),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
