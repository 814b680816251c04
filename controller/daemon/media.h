/*
 * Validating and measuring uploaded media, and making speech.
 *
 * Images are decoded (SDL2_image) and limited in pixels; audio is probed
 * with GStreamer's discoverer (container, codec, duration, channels) and
 * decoded once to measure its loudness with libebur128 (EBU R 128
 * integrated loudness; gain_db brings it to -23 LUFS, clamped ±20 dB).
 * Speech is made with espeak-ng (Vietnamese voice) from text first
 * normalised by viet.h, written as 16-bit WAV.
 *
 * Error messages are for staff, Vietnamese first with the English after
 * a " / ": "ảnh không giải mã được / image cannot be decoded: ...".
 */
#ifndef MCC_MEDIA_H
#define MCC_MEDIA_H

#include <stdint.h>

#include "minecast/error.h"

struct mcc_media_info {
	char mime[64];       /* image/png, image/jpeg, audio/ogg, audio/mpeg,
	                        audio/wav */
	int width, height;   /* images */
	int64_t duration_ms; /* audio */
	int channels, rate;  /* audio */
	double lufs;         /* audio: integrated loudness */
	double gain_db;      /* audio: to -23 LUFS */
};

enum mc_err mcc_media_probe_image(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err);
enum mc_err mcc_media_probe_audio(const char *path, struct mcc_media_info *out,
                                  struct mc_error *err);

/* Speak text (after viet normalisation) into a WAV at out_path. */
enum mc_err mcc_media_speak(const char *text, const char *out_path,
                            struct mcc_media_info *out, struct mc_error *err);

#endif
