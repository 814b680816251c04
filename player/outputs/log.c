/*
 * minecast-player — the "log" output: records every start and stop with
 * its timestamps as one JSON line, instead of drawing or sounding.
 *
 * Tests and benchmarks read these lines to see exactly what a node played
 * and when; on a real node it is a cheap stand-in for a channel without
 * hardware.  Its screenshot is a small PNG card naming what the screen
 * channel would show, drawn with SDL2_ttf and saved with SDL2_image, so
 * that the screenshot command has a real picture to upload.
 *
 * Line format (keys sorted): {"channel":"screen","content":"slogan-1",
 * "end_ms":...,"entry":"e-1","event":"start","fallback":false,
 * "reason":"scheduled","start_ms":...,"t_ms":...,"text":"..."}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL2/SDL.h>
#include <SDL2/SDL_image.h>
#include <SDL2/SDL_ttf.h>
#include <jansson.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/util.h"

#include "output.h"

#define CARD_W    480
#define CARD_H    270
#define CARD_FONT "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf"

struct log_out {
	FILE *f;                /* where lines go */
	bool own_f;             /* f was opened here (not stdout) */
	char *node;             /* for the screenshot card */
	char *now[MC_CH_COUNT]; /* content id playing per channel, or NULL */
	char *text;             /* screen text playing, for the card */
	uint32_t bg;            /* screen slogan background, for the card */
	char *identify;         /* identify text while shown */
};

/* Write one event line; fields is consumed. */
static void emit(struct log_out *lo, const char *event, json_t *fields)
{
	char *line;

	json_object_set_new(fields, "event", json_string(event));
	json_object_set_new(fields, "t_ms", json_integer(mc_now_ms()));
	line = json_dumps(fields, JSON_COMPACT | JSON_SORT_KEYS);
	if (line) {
		fprintf(lo->f, "%s\n", line);
		fflush(lo->f);
	}
	free(line);
	json_decref(fields);
}

static enum mc_err log_init(struct mc_output *o,
                            const struct mc_player_config *cfg,
                            struct mc_error *err)
{
	struct log_out *lo = calloc(1, sizeof(*lo));

	if (!lo)
		return mc_error_set(err, MC_ERR_NOMEM, "log output: no memory");
	lo->f = stdout;
	if (cfg->log_output_file) {
		lo->f = fopen(cfg->log_output_file, "ae");
		if (!lo->f) {
			free(lo);
			return mc_error_set(
			        err, MC_ERR_IO, "log output: %s: %s",
			        cfg->log_output_file, strerror(errno));
		}
		lo->own_f = true;
	}
	lo->node = mc_strdup(cfg->node_id);
	lo->bg = 0x202020;
	o->priv = lo;
	return MC_OK;
}

static void log_uninit(struct mc_output *o)
{
	struct log_out *lo = o->priv;

	if (!lo)
		return;
	if (lo->own_f)
		fclose(lo->f);
	for (int ch = 0; ch < MC_CH_COUNT; ch++)
		free(lo->now[ch]);
	free(lo->text);
	free(lo->node);
	free(lo->identify);
	free(lo);
	o->priv = NULL;
}

static enum mc_err log_start(struct mc_output *o, const struct mc_play *p,
                             struct mc_error *err)
{
	struct log_out *lo = o->priv;
	const char *id = p->content ? p->content->id : NULL;

	emit(lo, "start",
	     json_pack("{s:s, s:s?, s:s?, s:I, s:I, s:s?, s:b, s:s, s:i, s:s?}",
	               "channel", mc_channel_name(p->channel), "content", id,
	               "entry", p->entry_id, "start_ms",
	               (json_int_t)p->start_ms, "end_ms", (json_int_t)p->end_ms,
	               "text", p->text, "fallback", p->fallback, "reason",
	               p->reason ? p->reason : "scheduled", "volume", p->volume,
	               "sha256",
	               p->content && p->content->has_asset
	                       ? p->content->asset.sha256
	                       : NULL));
	free(lo->now[p->channel]);
	lo->now[p->channel] = mc_strdup(id);
	if (p->channel == MC_CH_SCREEN) {
		free(lo->text);
		lo->text = mc_strdup(p->text);
		lo->bg = p->content && p->content->type == MC_CONTENT_SLOGAN
		                 ? p->content->style.bg
		                 : 0x202020;
	}
	return MC_OK;
}

static void log_stop(struct mc_output *o, enum mc_channel ch, bool completed)
{
	struct log_out *lo = o->priv;

	emit(lo, "stop",
	     json_pack("{s:s, s:s?, s:b}", "channel", mc_channel_name(ch),
	               "content", lo->now[ch], "completed", completed));
	MC_FREE(lo->now[ch]);
}

static void log_set_volume(struct mc_output *o, int percent)
{
	emit(o->priv, "volume", json_pack("{si}", "volume", percent));
}

static void log_identify(struct mc_output *o, const char *text,
                         int64_t until_ms)
{
	struct log_out *lo = o->priv;

	free(lo->identify);
	lo->identify = mc_strdup(text);
	emit(lo, text ? "identify" : "identify_end",
	     json_pack("{s:s?, s:I}", "text", text, "until_ms",
	               (json_int_t)until_ms));
}

static enum mc_err log_alert(struct mc_output *o, const struct mc_alert *a,
                             struct mc_error *err)
{
	struct log_out *lo = o->priv;

	if (!a) {
		emit(lo, "alert_end", json_object());
		return MC_OK;
	}
	emit(lo, "alert",
	     json_pack("{ss sI ss ss si sI sI}", "alert", a->id, "seq",
	               (json_int_t)a->seq, "level",
	               mc_alert_level_name(a->level), "text",
	               a->text ? a->text : "", "repeat", a->repeat,
	               "start_at_ms", (json_int_t)a->start_at_ms, "expires_ms",
	               (json_int_t)a->expires_ms));
	return MC_OK;
}

/* Draw one line of text at y; a missing font just leaves the card plain. */
static void card_line(SDL_Surface *card, TTF_Font *font, const char *text,
                      int y)
{
	SDL_Color white = {255, 255, 255, 255};
	SDL_Surface *s;
	SDL_Rect at = {12, y, 0, 0};

	if (!font || !text || !*text)
		return;
	s = TTF_RenderUTF8_Blended_Wrapped(font, text, white, CARD_W - 24);
	if (!s)
		return;
	SDL_BlitSurface(s, NULL, card, &at);
	SDL_FreeSurface(s);
}

static enum mc_err log_screenshot(struct mc_output *o, unsigned char **png,
                                  size_t *len, struct mc_error *err)
{
	struct log_out *lo = o->priv;
	char path[] = "/tmp/minecast-shot-XXXXXX";
	SDL_Surface *card;
	TTF_Font *font = NULL;
	enum mc_err rc = MC_ERR_IO;
	char *title;
	int fd;

	*png = NULL;
	*len = 0;
	card = SDL_CreateRGBSurfaceWithFormat(0, CARD_W, CARD_H, 32,
	                                      SDL_PIXELFORMAT_ARGB8888);
	if (!card)
		return mc_error_set(err, MC_ERR_NOMEM, "screenshot: %s",
		                    SDL_GetError());
	SDL_FillRect(card, NULL,
	             SDL_MapRGB(card->format, (lo->bg >> 16) & 0xff,
	                        (lo->bg >> 8) & 0xff, lo->bg & 0xff));
	if (TTF_WasInit() || TTF_Init() == 0)
		font = TTF_OpenFont(CARD_FONT, 18);
	title = mc_printf("%s — %s", lo->node ? lo->node : "?",
	                  lo->now[MC_CH_SCREEN] ? lo->now[MC_CH_SCREEN]
	                                        : "(nothing)");
	card_line(card, font, title, 12);
	card_line(card, font, lo->identify ? lo->identify : lo->text, 48);
	free(title);
	if (font)
		TTF_CloseFont(font);
	fd = mkstemp(path);
	if (fd < 0) {
		mc_error_set(err, rc, "screenshot: %s", strerror(errno));
		goto out;
	}
	close(fd);
	if (IMG_SavePNG(card, path) != 0) {
		mc_error_set(err, rc, "screenshot: %s", IMG_GetError());
		goto out_unlink;
	}
	rc = mc_read_file(path, 16 * 1024 * 1024, (char **)png, len, err);
out_unlink:
	unlink(path);
out:
	SDL_FreeSurface(card);
	return rc;
}

const struct mc_output_ops mc_output_log = {
        .name = "log",
        .channels = (1u << MC_CH_SCREEN) | (1u << MC_CH_SPEAKER),
        .init = log_init,
        .uninit = log_uninit,
        .start = log_start,
        .stop = log_stop,
        .set_volume = log_set_volume,
        .identify = log_identify,
        .alert = log_alert,
        .screenshot = log_screenshot,
};
