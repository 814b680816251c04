/*
 * minecast-player — the "log" output: records every start and stop with
 * its timestamps as one JSON line, instead of drawing or sounding.
 *
 * Tests and benchmarks read these lines to see exactly what a node played
 * and when; on a real node it is a cheap stand-in for a channel without
 * hardware.  Its screenshot is the frame the screen channel would show,
 * drawn by the render module (render/render.h) exactly as a real screen
 * draws it (at [screen] width x height, else 480x270), so that the
 * screenshot command has a real picture to upload.
 *
 * Line format (keys sorted): {"channel":"screen","content":"slogan-1",
 * "end_ms":...,"entry":"e-1","event":"start","fallback":false,
 * "reason":"scheduled","start_ms":...,"t_ms":...,"text":"..."}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <SDL2/SDL.h>
#include <jansson.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/util.h"

#include "../render/render.h"
#include "output.h"

/* Screenshot size when [screen] gives none. */
#define SHOT_W 480
#define SHOT_H 270

struct log_out {
	FILE *f;                /* where lines go */
	bool own_f;             /* f was opened here (not stdout) */
	char *node;             /* for the built-in screen */
	char *now[MC_CH_COUNT]; /* content id playing per channel, or NULL */
	char *identify;         /* identify text while shown */
	/* What the screen channel shows, copied (the manifest it came
	 * from may be replaced before a screenshot is asked for). */
	bool shot_on;                    /* a screen item is playing */
	struct mc_content shot;          /* its content: id, type, style, fit */
	char *shot_text;                 /* its resolved text */
	char *shot_path;                 /* its file, or NULL */
	char *shot_bg_path;              /* its background image, or NULL */
	char *shot_reason;               /* why it plays */
	bool alert_on;                   /* an alert holds the screen */
	enum mc_alert_level alert_level; /* its level */
	char *alert_text;                /* its text */
	struct mc_render *render;        /* made at the first screenshot */
	int shot_w, shot_h;              /* the frame size */
	char *font;                      /* [screen] font */
};

/* Forget the copied screen item. */
static void shot_clear(struct log_out *lo)
{
	MC_FREE(lo->shot.id);
	MC_FREE(lo->shot.style.font);
	MC_FREE(lo->shot_text);
	MC_FREE(lo->shot_path);
	MC_FREE(lo->shot_bg_path);
	MC_FREE(lo->shot_reason);
	memset(&lo->shot, 0, sizeof(lo->shot));
	lo->shot_on = false;
}

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
	lo->font = mc_strdup(cfg->font);
	lo->shot_w = cfg->screen_width > 0 ? cfg->screen_width : SHOT_W;
	lo->shot_h = cfg->screen_height > 0 ? cfg->screen_height : SHOT_H;
	if (cfg->rotation == 90 || cfg->rotation == 270) {
		int t = lo->shot_w;

		lo->shot_w = lo->shot_h;
		lo->shot_h = t;
	}
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
	shot_clear(lo);
	free(lo->alert_text);
	mc_render_free(lo->render);
	free(lo->font);
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
		shot_clear(lo);
		lo->shot_reason = mc_strdup(p->reason);
		if (p->content) {
			lo->shot = *p->content;
			lo->shot.id = mc_strdup(p->content->id);
			lo->shot.name = NULL;
			lo->shot.text = NULL;
			lo->shot.style.font = mc_strdup(p->content->style.font);
			lo->shot.style.bg_image = NULL;
			lo->shot.has_asset = false;
			memset(&lo->shot.asset, 0, sizeof(lo->shot.asset));
			lo->shot_text =
			        mc_strdup(p->text ? p->text : p->content->text);
			lo->shot_path = mc_strdup(p->path);
			lo->shot_bg_path = mc_strdup(p->bg_path);
			lo->shot_on = true;
		}
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
	if (ch == MC_CH_SCREEN)
		shot_clear(lo);
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
		lo->alert_on = false;
		MC_FREE(lo->alert_text);
		return MC_OK;
	}
	lo->alert_on = true;
	lo->alert_level = a->level;
	free(lo->alert_text);
	lo->alert_text = mc_strdup(a->text);
	emit(lo, "alert",
	     json_pack("{ss sI ss ss si sI sI}", "alert", a->id, "seq",
	               (json_int_t)a->seq, "level",
	               mc_alert_level_name(a->level), "text",
	               a->text ? a->text : "", "repeat", a->repeat,
	               "start_at_ms", (json_int_t)a->start_at_ms, "expires_ms",
	               (json_int_t)a->expires_ms));
	return MC_OK;
}

/* The renderer, made at the first screenshot; NULL after logging why. */
static struct mc_render *shot_render(struct log_out *lo, struct mc_error *err)
{
	struct mc_render_opts ro = {lo->shot_w, lo->shot_h, lo->font, lo->node};

	if (lo->render)
		return lo->render;
	lo->render = mc_render_new(&ro, err);
	if (!lo->render) {
		/* Without the font the screen still shows images. */
		mc_log_error("output", "log: screenshot: %s; text is left out",
		             err->msg);
		ro.font = NULL;
		lo->render = mc_render_new(&ro, err);
	}
	return lo->render;
}

static enum mc_err log_screenshot(struct mc_output *o, unsigned char **png,
                                  size_t *len, struct mc_error *err)
{
	struct log_out *lo = o->priv;
	struct mc_render *r;
	SDL_Surface *f = NULL;
	enum mc_err rc;

	*png = NULL;
	*len = 0;
	r = shot_render(lo, err);
	if (!r)
		return err->code ? err->code : MC_ERR_NOMEM;
	if (lo->alert_on) {
		struct mc_alert a = {0};

		a.level = lo->alert_level;
		a.text = lo->alert_text;
		f = mc_render_alert(r, &a);
	} else if (lo->shot_on) {
		struct mc_play p = {0};
		struct mc_error e2 = {0};

		p.channel = MC_CH_SCREEN;
		p.content = &lo->shot;
		p.text = lo->shot_text;
		p.path = lo->shot_path;
		p.bg_path = lo->shot_bg_path;
		p.reason = lo->shot_reason;
		f = mc_render_play(r, &p, &e2);
		if (!f)
			mc_log_warn("output", "log: screenshot: %s", e2.msg);
	}
	if (!f)
		f = mc_render_idle(r,
		                   lo->shot_reason ? lo->shot_reason : "idle");
	if (!f)
		return mc_error_set(err, MC_ERR_NOMEM, "screenshot: %s",
		                    SDL_GetError());
	if (lo->identify && !lo->alert_on)
		mc_render_identify(r, f, lo->identify);
	rc = mc_render_png(f, png, len, err);
	SDL_FreeSurface(f);
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
