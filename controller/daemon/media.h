/*
 * Validating and measuring uploaded media, and making speech.
 *
 * The kind of a file is decided by its first bytes, never by its name.
 * Images (PNG, JPEG, WebP) are limited by their header first — at most
 * MCC_MEDIA_MAX_SIDE pixels a side and MCC_MEDIA_MAX_PIXELS in all, at
 * most MCC_MEDIA_MAX_IMAGE_BYTES — and then decoded (SDL2_image).  Audio
 * (Ogg Vorbis/Opus, MP3, WAV, FLAC) is probed with GStreamer's discoverer
 * (an audio stream, no video, duration MCC_MEDIA_MIN_AUDIO_MS ..
 * MCC_MEDIA_MAX_AUDIO_MS) and decoded once to measure its loudness with
 * libebur128 (EBU R 128 integrated loudness; gain_db brings it to -23
 * LUFS, clamped to ±20 dB, one decimal).  Speech is made with espeak-ng's
 * Vietnamese voice from text first rewritten by viet.h, into a 16-bit
 * mono WAV, measured the same way.
 *
 * Errors (err->msg) are for staff, Vietnamese first with the English
 * after " / ": "tệp không phải ảnh PNG/JPEG/WebP / not a PNG, JPEG or
 * WebP image".  Codes: MC_ERR_UNSUPPORTED — the file is not of an
 * accepted kind at all (HTTP 415); MC_ERR_MEDIA — it is, but cannot be
 * decoded or breaks a limit (422); MC_ERR_IO — it cannot be read or
 * written; MC_ERR_NOMEM.
 *
 * Every function may be called from several threads at once (GStreamer
 * and SDL2_image are set up once; espeak-ng runs one text at a time).
 */
#ifndef MCC_MEDIA_H
#define MCC_MEDIA_H

#include <stdint.h>

#include "minecast/error.h"

#define MCC_MEDIA_MAX_SIDE        16384                       /* px */
#define MCC_MEDIA_MAX_PIXELS      (INT64_C(64) * 1024 * 1024) /* 64 MiP */
#define MCC_MEDIA_MAX_IMAGE_BYTES (INT64_C(50) * 1024 * 1024) /* 50 MiB */
#define MCC_MEDIA_MIN_AUDIO_MS    500                         /* 0.5 s */
#define MCC_MEDIA_MAX_AUDIO_MS    (INT64_C(60) * 60 * 1000)   /* 60 min */
#define MCC_MEDIA_TARGET_LUFS     (-23.0)
#define MCC_MEDIA_MAX_GAIN_DB     20.0

struct mcc_media_info {
	char mime[64];       /* by content: image/png, image/jpeg, image/webp,
	                        audio/ogg, audio/mpeg, audio/wav, audio/flac */
	int width, height;   /* images: pixels */
	int64_t duration_ms; /* audio: length, from the decoded samples */
	int channels, rate;  /* audio: as decoded */
	double lufs;         /* audio: integrated loudness, LUFS */
	double gain_db;      /* audio: -23 - lufs, clamped ±20, one decimal */
};

/* Check an image file; out is filled on MC_OK. */
enum mc_err mcc_media_probe_image(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err);

/* Check an audio file and measure it; out is filled on MC_OK. */
enum mc_err mcc_media_probe_audio(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err);

/*
 * Speak text (UTF-8; first rewritten by mcc_viet_normalize) with the
 * Vietnamese voice into a 16-bit mono WAV file at out_path (created or
 * replaced; removed again on failure), and measure it into out.
 * MC_ERR_MEDIA when no sound comes
 * out or it is longer than MCC_MEDIA_MAX_AUDIO_MS; MC_ERR_UNSUPPORTED
 * when espeak-ng or its Vietnamese voice is missing.
 */
enum mc_err mcc_media_speak(const char *text, const char *out_path,
                            struct mcc_media_info *out, struct mc_error *err);

#endif
