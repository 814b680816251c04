/*
 * Uploaded media: what a file is (by its bytes), whether it decodes, how
 * long and how loud it is; and speech made from text (media.h).
 *
 * Images are judged by their header before any pixel is decoded, so that
 * a 100000 x 100000 PNG of a few hundred bytes is refused without
 * allocating gigabytes; then SDL2_image decodes the whole file with the
 * decoder of the kind the bytes say.  A JPEG is also walked to its end
 * marker, since libjpeg fills a cut-off file with grey and calls it good.
 *
 * Audio is probed by GStreamer's discoverer and then decoded once by a
 * uridecodebin → audioconvert → audioresample → appsink (F32) pipeline
 * whose samples feed libebur128; the length stored is the decoded one.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <SDL2/SDL_image.h>
#include <ebur128.h>
#include <espeak-ng/speak_lib.h>
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <gst/pbutils/pbutils.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "media.h"
#include "viet.h"

/* How long the discoverer may take over one file. */
#define DISCOVER_TIMEOUT_S 30
/* How long decoding one file for its loudness may take at most. */
#define DECODE_TIMEOUT_MS (10 * 60 * 1000)
/* Longest text spoken (bytes after viet rewriting). */
#define SPEECH_MAX_BYTES (64 * 1024)

/* ---- one-time set-up ----------------------------------------------- */

static pthread_once_t gst_once = PTHREAD_ONCE_INIT;
static bool gst_ready; /* gst_init_check succeeded */

static void gst_setup(void)
{
	GError *gerr = NULL;

	gst_ready = gst_init_check(NULL, NULL, &gerr);
	if (!gst_ready)
		mc_log_error("media", "GStreamer cannot start: %s",
		             gerr ? gerr->message : "unknown error");
	g_clear_error(&gerr);
}

static pthread_once_t img_once = PTHREAD_ONCE_INIT;

static void img_setup(void)
{
	int want = IMG_INIT_JPG | IMG_INIT_PNG | IMG_INIT_WEBP;
	int have = IMG_Init(want);

	if ((have & want) != want)
		mc_log_warn("media", "SDL2_image lacks some decoders (%s)",
		            IMG_GetError());
}

/* ---- what a file is ------------------------------------------------ */

/* The kinds accepted, by their first bytes. */
enum kind {
	K_NONE = 0,
	K_PNG,
	K_JPEG,
	K_WEBP,
	K_OGG,
	K_MP3,
	K_WAV,
	K_FLAC,
};

static const char *const kind_mime[] = {
        [K_NONE] = "application/octet-stream",
        [K_PNG] = "image/png",
        [K_JPEG] = "image/jpeg",
        [K_WEBP] = "image/webp",
        [K_OGG] = "audio/ogg",
        [K_MP3] = "audio/mpeg",
        [K_WAV] = "audio/wav",
        [K_FLAC] = "audio/flac",
};

/* SDL2_image's decoder names. */
static const char *const kind_img[] = {
        [K_PNG] = "PNG",
        [K_JPEG] = "JPG",
        [K_WEBP] = "WEBP",
};

static enum kind sniff(const unsigned char *h, size_t n)
{
	if (n >= 8 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0)
		return K_PNG;
	if (n >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff)
		return K_JPEG;
	if (n >= 12 && memcmp(h, "RIFF", 4) == 0 &&
	    memcmp(h + 8, "WEBP", 4) == 0)
		return K_WEBP;
	if (n >= 12 && memcmp(h, "RIFF", 4) == 0 &&
	    memcmp(h + 8, "WAVE", 4) == 0)
		return K_WAV;
	if (n >= 4 && memcmp(h, "OggS", 4) == 0)
		return K_OGG;
	if (n >= 4 && memcmp(h, "fLaC", 4) == 0)
		return K_FLAC;
	if (n >= 3 && memcmp(h, "ID3", 3) == 0)
		return K_MP3;
	/* An MPEG audio frame: 11 sync bits, layer not 00, bitrate not
	 * 1111, sample rate not 11. */
	if (n >= 3 && h[0] == 0xff && (h[1] & 0xe0) == 0xe0 &&
	    (h[1] & 0x06) != 0 && (h[2] & 0xf0) != 0xf0 &&
	    (h[2] & 0x0c) != 0x0c)
		return K_MP3;
	return K_NONE;
}

/* Open path, learn its size and its kind. */
static FILE *open_media(const char *path, int64_t *size, enum kind *kind,
                        struct mc_error *err)
{
	unsigned char head[16];
	struct stat st;
	size_t n;
	FILE *f = fopen(path, "rb");

	if (!f) {
		mc_error_set(err, MC_ERR_IO,
		             "không đọc được tệp / cannot read the file: %s",
		             strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		mc_error_set(err, MC_ERR_IO,
		             "không đọc được tệp / cannot read the file: not a "
		             "regular file");
		fclose(f);
		return NULL;
	}
	*size = st.st_size;
	n = fread(head, 1, sizeof(head), f);
	*kind = sniff(head, n);
	rewind(f);
	return f;
}

/* ---- images -------------------------------------------------------- */

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static uint32_t le24(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

/* PNG: the IHDR chunk must come first. */
static bool png_size(FILE *f, int64_t *w, int64_t *h)
{
	unsigned char b[24];

	if (fread(b, 1, sizeof(b), f) != sizeof(b) ||
	    memcmp(b + 12, "IHDR", 4) != 0)
		return false;
	*w = be32(b + 16);
	*h = be32(b + 20);
	return true;
}

/* WebP: the first chunk is VP8 (lossy), VP8L (lossless) or VP8X. */
static bool webp_size(FILE *f, int64_t fsize, int64_t *w, int64_t *h)
{
	unsigned char b[30];

	if (fread(b, 1, sizeof(b), f) != sizeof(b))
		return false;
	/* The RIFF length must fit in the file: a cut-off file is bad. */
	if ((int64_t)(b[4] | b[5] << 8 | b[6] << 16 | (uint32_t)b[7] << 24) +
	            8 >
	    fsize)
		return false;
	if (memcmp(b + 12, "VP8 ", 4) == 0) {
		if (b[23] != 0x9d || b[24] != 0x01 || b[25] != 0x2a)
			return false;
		*w = (b[26] | b[27] << 8) & 0x3fff;
		*h = (b[28] | b[29] << 8) & 0x3fff;
	} else if (memcmp(b + 12, "VP8L", 4) == 0) {
		uint32_t v = b[21] | b[22] << 8 | b[23] << 16 |
		             (uint32_t)b[24] << 24;

		if (b[20] != 0x2f)
			return false;
		*w = (v & 0x3fff) + 1;
		*h = ((v >> 14) & 0x3fff) + 1;
	} else if (memcmp(b + 12, "VP8X", 4) == 0) {
		*w = (int64_t)le24(b + 24) + 1;
		*h = (int64_t)le24(b + 27) + 1;
	} else {
		return false;
	}
	return true;
}

/*
 * JPEG: walk the segments to the frame header (its size) and through the
 * entropy-coded data to the end-of-image marker.  false when the file
 * ends before that or is not built of segments; *w stays -1 without a
 * frame header.
 */
static bool jpeg_walk(FILE *f, int64_t *w, int64_t *h)
{
	int c, m;
	bool scan = false;

	*w = *h = -1;
	if (getc(f) != 0xff || getc(f) != 0xd8)
		return false;
	for (;;) {
		c = getc(f);
		if (c == EOF)
			return false;
		if (c != 0xff) {
			if (!scan)
				return false;
			continue; /* entropy-coded data */
		}
		do
			m = getc(f);
		while (m == 0xff);
		if (m == EOF)
			return false;
		if (m == 0x00 || (m >= 0xd0 && m <= 0xd7)) {
			if (!scan)
				return false;
			continue; /* stuffed byte, restart marker */
		}
		if (m == 0xd9)
			return *w > 0;
		if (m == 0x01)
			continue;
		{
			int hi = getc(f), lo = getc(f);
			long len;
			unsigned char sof[5];

			if (hi == EOF || lo == EOF)
				return false;
			len = hi << 8 | lo;
			if (len < 2)
				return false;
			if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
			    m != 0xcc) {
				if (len < 7 || fread(sof, 1, 5, f) != 5)
					return false;
				*h = sof[1] << 8 | sof[2];
				*w = sof[3] << 8 | sof[4];
				len -= 5;
			}
			if (fseek(f, len - 2, SEEK_CUR) != 0)
				return false;
			scan = m == 0xda;
		}
	}
}

enum mc_err mcc_media_probe_image(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err)
{
	enum mc_err rc;
	enum kind kind;
	int64_t size, w = -1, h = -1;
	bool whole = true;
	SDL_RWops *rw = NULL;
	SDL_Surface *s = NULL;
	FILE *f = open_media(path, &size, &kind, err);

	memset(out, 0, sizeof(*out));
	if (!f)
		return err ? err->code : MC_ERR_IO;
	pthread_once(&img_once, img_setup);
	if (size == 0) {
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "tệp rỗng / the file is empty");
		goto out;
	}
	if (kind != K_PNG && kind != K_JPEG && kind != K_WEBP) {
		rc = mc_error_set(err, MC_ERR_UNSUPPORTED,
		                  "tệp không phải ảnh PNG/JPEG/WebP / not a "
		                  "PNG, JPEG or WebP image%s",
		                  kind != K_NONE ? " (it is audio)" : "");
		goto out;
	}
	if (size > MCC_MEDIA_MAX_IMAGE_BYTES) {
		rc = mc_error_set(
		        err, MC_ERR_MEDIA,
		        "ảnh quá lớn (%.1f MiB, tối đa 50 MiB) / image "
		        "too large (%.1f MiB, at most 50 MiB)",
		        size / 1048576.0, size / 1048576.0);
		goto out;
	}
	if (kind == K_PNG)
		whole = png_size(f, &w, &h);
	else if (kind == K_WEBP)
		whole = webp_size(f, size, &w, &h);
	else
		whole = jpeg_walk(f, &w, &h);
	if (!whole || w < 0 || h < 0) {
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "ảnh hỏng hoặc bị cắt cụt / the %s image is "
		                  "damaged or cut short",
		                  kind_img[kind]);
		goto out;
	}
	if (w < 1 || h < 1 || w > MCC_MEDIA_MAX_SIDE ||
	    h > MCC_MEDIA_MAX_SIDE || w * h > MCC_MEDIA_MAX_PIXELS) {
		rc = mc_error_set(
		        err, MC_ERR_MEDIA,
		        "ảnh %lldx%lld quá lớn (tối đa 16384 điểm mỗi "
		        "cạnh, 64 MP) / image %lldx%lld too large (at "
		        "most 16384 px a side, 64 MP)",
		        (long long)w, (long long)h, (long long)w, (long long)h);
		goto out;
	}
	rewind(f);
	rw = SDL_RWFromFP(f, SDL_FALSE);
	if (rw)
		s = IMG_LoadTyped_RW(rw, 1, kind_img[kind]);
	if (!s || s->w != w || s->h != h) {
		rc = mc_error_set(
		        err, MC_ERR_MEDIA,
		        "ảnh không giải mã được / the image cannot be "
		        "decoded: %s",
		        s ? "size differs from its header" : IMG_GetError());
		goto out;
	}
	snprintf(out->mime, sizeof(out->mime), "%s", kind_mime[kind]);
	out->width = (int)w;
	out->height = (int)h;
	rc = MC_OK;
out:
	if (s)
		SDL_FreeSurface(s);
	fclose(f);
	/* SDL keeps its error text per thread; HTTP threads are not SDL's,
	 * so free it here or it outlives the thread. */
	SDL_TLSCleanup();
	return rc;
}

/* ---- loudness ------------------------------------------------------ */

/* Fill lufs and gain_db from a finished measurement. */
static enum mc_err loudness_result(ebur128_state *st,
                                   struct mcc_media_info *out,
                                   struct mc_error *err)
{
	double lufs = -HUGE_VAL, gain;

	if (!st || ebur128_loudness_global(st, &lufs) != EBUR128_SUCCESS ||
	    !isfinite(lufs))
		return mc_error_set(err, MC_ERR_MEDIA,
		                    "âm thanh im lặng / the audio is silent "
		                    "(no loudness to measure)");
	gain = MCC_MEDIA_TARGET_LUFS - lufs;
	if (gain > MCC_MEDIA_MAX_GAIN_DB)
		gain = MCC_MEDIA_MAX_GAIN_DB;
	if (gain < -MCC_MEDIA_MAX_GAIN_DB)
		gain = -MCC_MEDIA_MAX_GAIN_DB;
	out->lufs = round(lufs * 10.0) / 10.0;
	out->gain_db = round(gain * 10.0) / 10.0;
	return MC_OK;
}

static enum mc_err too_long(struct mc_error *err, double s)
{
	return mc_error_set(err, MC_ERR_MEDIA,
	                    "âm thanh quá dài (%.0f phút, tối đa 60 phút) / "
	                    "audio too long (%.0f min, at most 60 min)",
	                    s / 60.0, s / 60.0);
}

static enum mc_err too_short(struct mc_error *err, int64_t ms)
{
	return mc_error_set(err, MC_ERR_MEDIA,
	                    "âm thanh quá ngắn (%.2f giây, tối thiểu 0,5 "
	                    "giây) / audio too short (%.2f s, at least 0.5 s)",
	                    ms / 1000.0, ms / 1000.0);
}

/*
 * Decode uri to float samples, feed them to libebur128, and count them:
 * out->duration_ms, channels, rate, lufs, gain_db.
 */
static enum mc_err measure(const char *uri, struct mcc_media_info *out,
                           struct mc_error *err)
{
	GError *gerr = NULL;
	GstElement *pipe = NULL, *src, *sink;
	GstBus *bus = NULL;
	ebur128_state *st = NULL;
	uint64_t frames = 0;
	int64_t deadline = mc_mono_ms() + DECODE_TIMEOUT_MS;
	enum mc_err rc;

	pipe = gst_parse_launch(
	        "uridecodebin name=src caps=audio/x-raw ! audioconvert ! "
	        "audioresample ! "
	        "audio/x-raw,format=F32LE,layout=interleaved ! "
	        "appsink name=sink sync=false max-buffers=16",
	        &gerr);
	if (!pipe || gerr) {
		rc = mc_error_set(
		        err, MC_ERR_UNSUPPORTED,
		        "GStreamer thiếu thành phần / GStreamer lacks "
		        "an element: %s",
		        gerr ? gerr->message : "?");
		goto out;
	}
	src = gst_bin_get_by_name(GST_BIN(pipe), "src");
	sink = gst_bin_get_by_name(GST_BIN(pipe), "sink");
	g_object_set(src, "uri", uri, NULL);
	gst_object_unref(src);
	bus = gst_element_get_bus(pipe);
	if (gst_element_set_state(pipe, GST_STATE_PLAYING) ==
	    GST_STATE_CHANGE_FAILURE) {
		gst_object_unref(sink);
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "âm thanh không giải mã được / the audio "
		                  "cannot be decoded");
		goto out;
	}
	rc = MC_OK;
	for (;;) {
		GstSample *smp = gst_app_sink_try_pull_sample(
		        GST_APP_SINK(sink), 200 * GST_MSECOND);
		GstMessage *msg;

		if (smp) {
			GstBuffer *buf = gst_sample_get_buffer(smp);
			GstMapInfo map;

			if (!st) {
				GstStructure *s = gst_caps_get_structure(
				        gst_sample_get_caps(smp), 0);

				gst_structure_get_int(s, "channels",
				                      &out->channels);
				gst_structure_get_int(s, "rate", &out->rate);
				if (out->channels > 0 && out->rate > 0)
					st = ebur128_init(
					        (unsigned)out->channels,
					        (unsigned long)out->rate,
					        EBUR128_MODE_I);
				if (!st) {
					gst_sample_unref(smp);
					rc = mc_error_set(
					        err, MC_ERR_MEDIA,
					        "âm thanh không đo được / the "
					        "audio cannot be measured "
					        "(%d channels, %d Hz)",
					        out->channels, out->rate);
					break;
				}
			}
			if (buf && gst_buffer_map(buf, &map, GST_MAP_READ)) {
				size_t n = map.size / (sizeof(float) *
				                       (size_t)out->channels);

				ebur128_add_frames_float(
				        st, (const float *)map.data, n);
				frames += n;
				gst_buffer_unmap(buf, &map);
			}
			gst_sample_unref(smp);
			if (frames / (uint64_t)out->rate * 1000 >
			    (uint64_t)MCC_MEDIA_MAX_AUDIO_MS) {
				rc = too_long(err, (double)frames / out->rate);
				break;
			}
			continue;
		}
		if (gst_app_sink_is_eos(GST_APP_SINK(sink)))
			break;
		msg = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
		if (msg) {
			GError *e = NULL;

			gst_message_parse_error(msg, &e, NULL);
			rc = mc_error_set(err, MC_ERR_MEDIA,
			                  "âm thanh không giải mã được / the "
			                  "audio cannot be decoded: %s",
			                  e ? e->message : "?");
			g_clear_error(&e);
			gst_message_unref(msg);
			break;
		}
		if (mc_mono_ms() > deadline) {
			rc = mc_error_set(err, MC_ERR_MEDIA,
			                  "giải mã âm thanh quá lâu / decoding "
			                  "the audio took too long");
			break;
		}
	}
	gst_object_unref(sink);
	if (rc == MC_OK && (!st || frames == 0))
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "tệp không có âm thanh / the file holds no "
		                  "audio samples");
	if (rc == MC_OK) {
		out->duration_ms =
		        (int64_t)(frames * 1000 / (uint64_t)out->rate);
		/* Shorter than a 400 ms gating block has no loudness. */
		rc = out->duration_ms < MCC_MEDIA_MIN_AUDIO_MS
		             ? too_short(err, out->duration_ms)
		             : loudness_result(st, out, err);
	}
out:
	if (pipe) {
		gst_element_set_state(pipe, GST_STATE_NULL);
		gst_object_unref(pipe);
	}
	if (bus)
		gst_object_unref(bus);
	if (st)
		ebur128_destroy(&st);
	g_clear_error(&gerr);
	return rc;
}

/* ---- audio --------------------------------------------------------- */

/* Is the codec of an audio stream one a container of kind may hold? */
static bool codec_ok(enum kind kind, const GstCaps *caps)
{
	const GstStructure *s = caps && gst_caps_get_size(caps)
	                                ? gst_caps_get_structure(caps, 0)
	                                : NULL;
	const char *name = s ? gst_structure_get_name(s) : "";

	switch (kind) {
	case K_OGG:
		return strcmp(name, "audio/x-vorbis") == 0 ||
		       strcmp(name, "audio/x-opus") == 0 ||
		       strcmp(name, "audio/x-flac") == 0;
	case K_MP3: return strcmp(name, "audio/mpeg") == 0;
	case K_FLAC: return strcmp(name, "audio/x-flac") == 0;
	case K_WAV:
		/* The discoverer names PCM in WAV by its container. */
		return strcmp(name, "audio/x-raw") == 0 ||
		       strcmp(name, "audio/x-wav") == 0 ||
		       strcmp(name, "audio/x-alaw") == 0 ||
		       strcmp(name, "audio/x-mulaw") == 0;
	default: return false;
	}
}

enum mc_err mcc_media_probe_audio(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err)
{
	enum mc_err rc;
	enum kind kind;
	int64_t size, ms;
	GError *gerr = NULL;
	GstDiscoverer *disc = NULL;
	GstDiscovererInfo *info = NULL;
	GList *audio = NULL, *video = NULL;
	gchar *uri = NULL;
	GstCaps *caps = NULL;
	FILE *f = open_media(path, &size, &kind, err);

	memset(out, 0, sizeof(*out));
	if (!f)
		return err ? err->code : MC_ERR_IO;
	fclose(f);
	if (size == 0)
		return mc_error_set(err, MC_ERR_MEDIA,
		                    "tệp rỗng / the file is empty");
	if (kind != K_OGG && kind != K_MP3 && kind != K_WAV && kind != K_FLAC)
		return mc_error_set(
		        err, MC_ERR_UNSUPPORTED,
		        "tệp không phải âm thanh Ogg/MP3/WAV/FLAC / "
		        "not an Ogg, MP3, WAV or FLAC audio file%s",
		        kind != K_NONE ? " (it is an image)" : "");
	pthread_once(&gst_once, gst_setup);
	if (!gst_ready)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "GStreamer không chạy được / GStreamer "
		                    "cannot start");
	uri = gst_filename_to_uri(path, &gerr);
	disc = uri ? gst_discoverer_new(DISCOVER_TIMEOUT_S * GST_SECOND, &gerr)
	           : NULL;
	if (!disc) {
		rc = mc_error_set(
		        err, MC_ERR_IO,
		        "không mở được tệp âm thanh / cannot open the "
		        "audio file: %s",
		        gerr ? gerr->message : "?");
		goto out;
	}
	info = gst_discoverer_discover_uri(disc, uri, &gerr);
	if (!info ||
	    gst_discoverer_info_get_result(info) != GST_DISCOVERER_OK) {
		GstDiscovererResult r =
		        info ? gst_discoverer_info_get_result(info)
		             : GST_DISCOVERER_ERROR;

		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "âm thanh không đọc được / the audio cannot "
		                  "be read: %s",
		                  r == GST_DISCOVERER_TIMEOUT ? "timed out"
		                  : r == GST_DISCOVERER_MISSING_PLUGINS
		                          ? "no decoder for this format"
		                  : gerr ? gerr->message
		                         : "damaged file");
		goto out;
	}
	audio = gst_discoverer_info_get_audio_streams(info);
	video = gst_discoverer_info_get_video_streams(info);
	for (GList *v = video; v; v = v->next)
		if (!gst_discoverer_video_info_is_image(v->data)) {
			rc = mc_error_set(
			        err, MC_ERR_MEDIA,
			        "tệp có hình (video), chỉ nhận âm thanh "
			        "/ the file holds video: only audio is "
			        "accepted");
			goto out;
		}
	if (!audio) {
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "tệp không có luồng âm thanh / the file has "
		                  "no audio stream");
		goto out;
	}
	caps = gst_discoverer_stream_info_get_caps(audio->data);
	if (!codec_ok(kind, caps)) {
		gchar *desc = caps ? gst_caps_to_string(caps) : NULL;

		rc = mc_error_set(err, MC_ERR_UNSUPPORTED,
		                  "định dạng âm thanh không được nhận / audio "
		                  "codec not accepted in %s: %.60s",
		                  kind_mime[kind], desc ? desc : "?");
		g_free(desc);
		goto out;
	}
	ms = (int64_t)(gst_discoverer_info_get_duration(info) / GST_MSECOND);
	if (ms > MCC_MEDIA_MAX_AUDIO_MS) {
		rc = too_long(err, ms / 1000.0);
		goto out;
	}
	rc = measure(uri, out, err);
	if (rc != MC_OK)
		goto out;
	if (out->duration_ms > MCC_MEDIA_MAX_AUDIO_MS) {
		rc = too_long(err, out->duration_ms / 1000.0);
		goto out;
	}
	snprintf(out->mime, sizeof(out->mime), "%s", kind_mime[kind]);
	rc = MC_OK;
out:
	if (rc != MC_OK) {
		struct mc_error keep = err ? *err : (struct mc_error){0};

		memset(out, 0, sizeof(*out));
		if (err)
			*err = keep;
	}
	if (caps)
		gst_caps_unref(caps);
	gst_discoverer_stream_info_list_free(audio);
	gst_discoverer_stream_info_list_free(video);
	if (info)
		gst_discoverer_info_unref(info);
	if (disc)
		g_object_unref(disc);
	g_free(uri);
	g_clear_error(&gerr);
	return rc;
}

/* ---- speech -------------------------------------------------------- */

/* espeak-ng keeps global state: one synthesis at a time, under lock. */
static pthread_mutex_t speech_lock = PTHREAD_MUTEX_INITIALIZER;
static int speech_rate;      /* its sample rate; 0 untried, -1 failed */
static bool speech_voice;    /* the Vietnamese voice is selected */
static int16_t *speech_pcm;  /* samples of the synthesis in progress */
static size_t speech_n;      /* how many */
static size_t speech_cap;    /* allocated */
static bool speech_overflow; /* longer than the limit, or out of memory */

/* espeak-ng's callback: runs inside espeak_Synth, under speech_lock. */
static int speech_block(short *wav, int n, espeak_EVENT *events)
{
	size_t max = (size_t)speech_rate * (MCC_MEDIA_MAX_AUDIO_MS / 1000);

	(void)events;
	if (!wav || n <= 0)
		return 0;
	if (speech_n + (size_t)n > max) {
		speech_overflow = true;
		return 1; /* stop */
	}
	if (speech_n + (size_t)n > speech_cap) {
		size_t cap = speech_cap ? speech_cap * 2 : 65536;
		int16_t *p;

		while (cap < speech_n + (size_t)n)
			cap *= 2;
		p = realloc(speech_pcm, cap * sizeof(*p));
		if (!p) {
			speech_overflow = true;
			return 1;
		}
		speech_pcm = p;
		speech_cap = cap;
	}
	memcpy(speech_pcm + speech_n, wav, (size_t)n * sizeof(*wav));
	speech_n += (size_t)n;
	return 0;
}

static void put_le(unsigned char *p, uint32_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

/* A canonical 44-byte-header PCM WAV: mono, 16 bits, rate Hz. */
static enum mc_err write_wav(const char *path, const int16_t *pcm, size_t n,
                             int rate, struct mc_error *err)
{
	unsigned char h[44];
	uint32_t data = (uint32_t)(n * 2);
	FILE *f;
	bool ok;

	memcpy(h, "RIFF", 4);
	put_le(h + 4, 36 + data, 4);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le(h + 16, 16, 4); /* fmt chunk size */
	put_le(h + 20, 1, 2);  /* PCM */
	put_le(h + 22, 1, 2);  /* mono */
	put_le(h + 24, (uint32_t)rate, 4);
	put_le(h + 28, (uint32_t)rate * 2, 4); /* bytes per second */
	put_le(h + 32, 2, 2);                  /* block align */
	put_le(h + 34, 16, 2);                 /* bits per sample */
	memcpy(h + 36, "data", 4);
	put_le(h + 40, data, 4);
	f = fopen(path, "wb");
	if (!f)
		return mc_error_set(
		        err, MC_ERR_IO,
		        "không ghi được tệp tiếng nói / cannot write "
		        "the speech file: %s",
		        strerror(errno));
	ok = fwrite(h, 1, sizeof(h), f) == sizeof(h);
	/* WAV samples are little-endian, as int16_t is on every target. */
	for (size_t i = 0; ok && i < n; i++) {
		unsigned char s[2];

		put_le(s, (uint16_t)pcm[i], 2);
		ok = fwrite(s, 1, 2, f) == 2;
	}
	ok = fclose(f) == 0 && ok;
	if (!ok)
		return mc_error_set(
		        err, MC_ERR_IO,
		        "không ghi được tệp tiếng nói / cannot write "
		        "the speech file: %s",
		        strerror(errno));
	return MC_OK;
}

enum mc_err mcc_media_speak(const char *text, const char *out_path,
                            struct mcc_media_info *out, struct mc_error *err)
{
	char *words = NULL;
	enum mc_err rc;
	espeak_ERROR e;
	ebur128_state *st = NULL;
	float *fl = NULL;

	memset(out, 0, sizeof(*out));
	words = mcc_viet_normalize(text ? text : "");
	if (!words)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	if (strlen(words) > SPEECH_MAX_BYTES) {
		free(words);
		return mc_error_set(err, MC_ERR_MEDIA,
		                    "văn bản quá dài để đọc / the text is too "
		                    "long to speak");
	}
	pthread_mutex_lock(&speech_lock);
	if (speech_rate == 0) {
		speech_rate =
		        espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, NULL,
		                          espeakINITIALIZE_DONT_EXIT);
		if (speech_rate > 0)
			espeak_SetSynthCallback(speech_block);
		else
			speech_rate = -1;
	}
	if (speech_rate < 0) {
		rc = mc_error_set(
		        err, MC_ERR_UNSUPPORTED,
		        "espeak-ng không chạy được / espeak-ng cannot "
		        "start (is espeak-ng-data installed?)");
		goto out;
	}
	if (!speech_voice) {
		if (espeak_SetVoiceByName("vi") != EE_OK) {
			rc = mc_error_set(
			        err, MC_ERR_UNSUPPORTED,
			        "thiếu giọng tiếng Việt / espeak-ng has "
			        "no Vietnamese voice 'vi'");
			goto out;
		}
		speech_voice = true;
	}
	speech_n = 0;
	speech_overflow = false;
	e = espeak_Synth(words, strlen(words) + 1, 0, POS_CHARACTER, 0,
	                 espeakCHARS_UTF8 | espeakENDPAUSE, NULL, NULL);
	if (speech_overflow) {
		rc = too_long(err, (double)speech_n / speech_rate);
		goto out;
	}
	if (e != EE_OK) {
		rc = mc_error_set(
		        err, MC_ERR_MEDIA,
		        "espeak-ng không đọc được văn bản / espeak-ng "
		        "failed (error %d)",
		        (int)e);
		goto out;
	}
	if ((int64_t)speech_n * 1000 / speech_rate < MCC_MEDIA_MIN_AUDIO_MS) {
		rc = mc_error_set(err, MC_ERR_MEDIA,
		                  "văn bản không tạo ra tiếng nói đủ dài / the "
		                  "text gives less than 0.5 s of speech");
		goto out;
	}
	rc = write_wav(out_path, speech_pcm, speech_n, speech_rate, err);
	if (rc != MC_OK)
		goto out;
	/* Measure what was written, from the samples at hand. */
	fl = malloc(speech_n * sizeof(*fl));
	st = ebur128_init(1, (unsigned long)speech_rate, EBUR128_MODE_I);
	if (!fl || !st) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < speech_n; i++)
		fl[i] = speech_pcm[i] / 32768.0f;
	ebur128_add_frames_float(st, fl, speech_n);
	rc = loudness_result(st, out, err);
	if (rc != MC_OK)
		goto out;
	snprintf(out->mime, sizeof(out->mime), "audio/wav");
	out->channels = 1;
	out->rate = speech_rate;
	out->duration_ms = (int64_t)speech_n * 1000 / speech_rate;
out:
	/* Keep the buffer small between syntheses. */
	if (speech_cap > 16u << 20) {
		MC_FREE(speech_pcm);
		speech_cap = 0;
	}
	speech_n = 0;
	pthread_mutex_unlock(&speech_lock);
	if (st)
		ebur128_destroy(&st);
	free(fl);
	free(words);
	if (rc != MC_OK)
		remove(out_path);
	return rc;
}
