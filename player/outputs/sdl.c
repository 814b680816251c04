/*
 * minecast-player — the "sdl" output: the screen, on SDL2.
 *
 * One full-screen window (KMSDRM on a Pi without X, X11 or Wayland on a
 * desktop, offscreen in tests) and one renderer, accelerated with vsync
 * when the platform has it, else the software renderer.  Frames are drawn
 * by the render module (player/render/render.h) at the logical size — a
 * portrait screen (rotation 90 or 270) gets portrait frames — uploaded as
 * textures and drawn rotated with SDL_RenderCopyEx.
 *
 * Never a black frame between items: a new item's frame is decoded and
 * uploaded before it replaces the old one (prepare() does it ahead of the
 * item's instant, start() otherwise), the old frame stays on screen until
 * then, and when the new item cannot be drawn the old frame stays and
 * start() returns the error.  A crossfade draws the old frame opaque and
 * the new one over it with a growing alpha, so that every frame in between
 * is a mix of the two.
 *
 * Nothing is presented while nothing changes: tick() presents only during
 * a crossfade, while a ticker scrolls, or when an overlay changed, and
 * otherwise asks not to be called back (a static slide costs no CPU).
 *
 * Layers, bottom to top: the item's frame, its ticker band, the overlay
 * (the "now broadcasting" banner and the identify text, drawn on one
 * transparent surface), the alert takeover.
 */
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <SDL2/SDL.h>

#include "minecast/codec.h"
#include "minecast/log.h"
#include "minecast/util.h"

#include "../render/render.h"
#include "output.h"

/* Size used when the config leaves it open and no display mode says. */
#define DEFAULT_W        1920
#define DEFAULT_H        1080
#define DESKTOP_WINDOW_W 1280 /* "auto" inside a desktop session */
#define DESKTOP_WINDOW_H 720
/* Presents that fail in a row before the renderer counts as dead. */
#define MAX_FAILURES 30
/* With vsync, wake this long before the next vblank to draw for it. */
#define VSYNC_MARGIN_US 4000
/* How often ticker frame pacing is logged while a ticker runs. */
#define PACING_LOG_US (60 * 1000000LL)

/* One item's pictures, ready to draw. */
struct frame {
	SDL_Texture *tex;   /* the frame at the logical size, or NULL */
	SDL_Texture *strip; /* ticker line, or NULL when not a ticker */
	int strip_w;        /* its size in pixels */
	int strip_h;
	uint32_t band_bg; /* ticker band colour, 0xRRGGBB */
	bool item;        /* content (not the built-in screen) */
	char *key;        /* what it shows (see play_key), owned */
	char *id;         /* content id for logs, owned; NULL = idle */
};

/* A deep copy of the item on screen, to draw it again after a re-init. */
struct held {
	bool on;
	struct mc_play p;    /* strings below are owned copies */
	struct mc_content c; /* p.content points here when has_c */
	bool has_c;
};

struct sdl_out {
	/* config */
	int cfg_w, cfg_h; /* [screen] width/height; 0 = display's */
	int rotation;     /* 0, 90, 180, 270 */
	char *driver;     /* [screen] driver */
	char *font;       /* default font file */
	char *node;       /* node id for the built-in screen */
	int crossfade_ms; /* crossfade length */
	int ticker_speed; /* pixels per second */
	bool banner_on;   /* show the "now broadcasting" banner */

	/* SDL */
	SDL_Window *win;
	SDL_Renderer *ren;
	bool vsync;        /* present waits for the vblank */
	int out_w, out_h;  /* renderer output size at init (physical) */
	int lw, lh;        /* logical frame size (rotated) */
	int64_t period_us; /* one refresh of the display */
	struct mc_render *r;

	/* what is shown */
	struct frame cur;      /* the item on screen */
	struct frame prev;     /* the item fading out, during a crossfade */
	struct frame prep;     /* the next item, prepared ahead */
	bool fading;           /* crossfade between prev and cur */
	uint64_t fade_t0;      /* its start, monotonic µs */
	uint64_t ticker_t0;    /* when cur's ticker started scrolling */
	uint64_t prev_tick_t0; /* and prev's, while it fades out */
	struct held held;      /* copy of the item in cur */

	/* overlays */
	char *banner;               /* banner text while a bulletin plays */
	char *ident;                /* identify text, or NULL */
	int64_t ident_until;        /* wall-clock end of identify */
	SDL_Texture *overlay;       /* banner + identify, transparent */
	bool overlay_dirty;         /* rebuild overlay before the next frame */
	SDL_Texture *alert;         /* the alert takeover, or NULL */
	int64_t alert_at;           /* wall-clock instant it shows from */
	bool alert_shown;           /* alert on screen now */
	struct mc_alert alert_copy; /* to draw it again after a re-init */

	/* health */
	bool dirty;         /* something changed: present */
	bool failed;        /* the renderer is dead */
	bool display_lost;  /* the display was unplugged */
	int failures;       /* draws failed in a row */
	bool logged_first;  /* first item frame logged */
	char font_err[256]; /* why the font is missing, "" if it is not */

	/* pacing */
	uint64_t last_present_us; /* monotonic */
	bool animating_last;      /* the previous present was animated */
	uint64_t pace_t0;         /* start of the pacing window */
	int64_t pace_frames;      /* animated presents in the window */
	int64_t pace_missed;      /* refreshes skipped in the window */
};

/* ---- small helpers ---- */

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void frame_clear(struct frame *f)
{
	if (f->tex)
		SDL_DestroyTexture(f->tex);
	if (f->strip)
		SDL_DestroyTexture(f->strip);
	free(f->key);
	free(f->id);
	memset(f, 0, sizeof(*f));
}

static void held_clear(struct held *h)
{
	free((char *)h->p.path);
	free((char *)h->p.bg_path);
	free((char *)h->p.text);
	free((char *)h->p.entry_id);
	free((char *)h->p.reason);
	if (h->has_c) {
		free(h->c.id);
		free(h->c.name);
		free(h->c.text);
		free(h->c.style.font);
		free(h->c.style.bg_image);
		free(h->c.asset.src);
		free(h->c.asset.url);
		free(h->c.asset.mime);
	}
	memset(h, 0, sizeof(*h));
}

/* Copy p (and its content) so that it can be drawn again later. */
static void held_set(struct held *h, const struct mc_play *p)
{
	held_clear(h);
	h->p = *p;
	h->p.path = mc_strdup(p->path);
	h->p.bg_path = mc_strdup(p->bg_path);
	h->p.text = mc_strdup(p->text);
	h->p.entry_id = mc_strdup(p->entry_id);
	h->p.reason = mc_strdup(p->reason);
	h->p.content = NULL;
	if (p->content) {
		h->c = *p->content;
		h->c.id = mc_strdup(p->content->id);
		h->c.name = mc_strdup(p->content->name);
		h->c.text = mc_strdup(p->content->text);
		h->c.style.font = mc_strdup(p->content->style.font);
		h->c.style.bg_image = mc_strdup(p->content->style.bg_image);
		h->c.asset.src = mc_strdup(p->content->asset.src);
		h->c.asset.url = mc_strdup(p->content->asset.url);
		h->c.asset.mime = mc_strdup(p->content->asset.mime);
		h->has_c = true;
		h->p.content = &h->c;
	}
	h->on = true;
}

static bool is_ticker(const struct mc_play *p)
{
	return p->content && p->content->type == MC_CONTENT_SLOGAN &&
	       p->content->style.ticker;
}

/*
 * Everything a frame depends on, as one string: a prepared frame is used
 * by start only when its key is the same.
 */
static char *play_key(const struct mc_play *p)
{
	const struct mc_content *c = p->content;

	if (!c)
		return mc_printf("idle\x1f%s", p->reason ? p->reason : "");
	return mc_printf("%s\x1f%d\x1f%s\x1f%s\x1f%s\x1f%s\x1f%06" PRIx32
	                 "\x1f%06" PRIx32 "\x1f%d\x1f%d\x1f%d\x1f%s\x1f%d",
	                 c->id, (int)c->type, p->text ? p->text : "",
	                 p->path ? p->path : "", p->bg_path ? p->bg_path : "",
	                 c->style.font ? c->style.font : "", c->style.fg,
	                 c->style.bg, (int)c->style.align, (int)c->style.effect,
	                 (int)c->style.ticker, c->asset.sha256, (int)c->fit);
}

/* ---- geometry: logical (rotated) coordinates to the output ---- */

/* Scale from init-time output size to the current one (window resized). */
static void out_scale(struct sdl_out *s, float *sx, float *sy)
{
	int w = s->out_w, h = s->out_h;

	SDL_GetRendererOutputSize(s->ren, &w, &h);
	*sx = s->out_w ? (float)w / (float)s->out_w : 1.0f;
	*sy = s->out_h ? (float)h / (float)s->out_h : 1.0f;
}

/* Map logical point (x, y) to output coordinates (before scaling). */
static void map_point(const struct sdl_out *s, float x, float y, float *px,
                      float *py)
{
	switch (s->rotation) {
	case 90:
		*px = (float)s->out_w - y;
		*py = x;
		break;
	case 180:
		*px = (float)s->out_w - x;
		*py = (float)s->out_h - y;
		break;
	case 270:
		*px = y;
		*py = (float)s->out_h - x;
		break;
	default: *px = x; *py = y;
	}
}

/*
 * Draw tex (src: part of it, NULL = all) into the logical rect r, rotated
 * with the screen: the rect's centre is mapped, and the texture turned
 * about it by the rotation.
 */
static int put(struct sdl_out *s, SDL_Texture *tex, const SDL_Rect *src,
               SDL_FRect r)
{
	float cx, cy, sx, sy;
	SDL_FRect d;

	out_scale(s, &sx, &sy);
	map_point(s, r.x + r.w / 2, r.y + r.h / 2, &cx, &cy);
	/* Before the turn, the rect keeps its logical width and height;
	 * the output scale applies along the output's axes. */
	if (s->rotation == 90 || s->rotation == 270) {
		d.w = r.w * sy;
		d.h = r.h * sx;
	} else {
		d.w = r.w * sx;
		d.h = r.h * sy;
	}
	d.x = cx * sx - d.w / 2;
	d.y = cy * sy - d.h / 2;
	/* The software renderer takes a slow rotating path for any
	 * RenderCopyEx, even at 0 degrees: a plain copy when unturned. */
	if (s->rotation == 0)
		return SDL_RenderCopyF(s->ren, tex, src, &d);
	return SDL_RenderCopyExF(s->ren, tex, src, &d, (double)s->rotation,
	                         NULL, SDL_FLIP_NONE);
}

/* Fill the logical rect r with colour rgb. */
static int fill(struct sdl_out *s, SDL_FRect r, uint32_t rgb, Uint8 a)
{
	float x0, y0, x1, y1, sx, sy;
	SDL_FRect d;

	out_scale(s, &sx, &sy);
	map_point(s, r.x, r.y, &x0, &y0);
	map_point(s, r.x + r.w, r.y + r.h, &x1, &y1);
	d.x = fminf(x0, x1) * sx;
	d.y = fminf(y0, y1) * sy;
	d.w = fabsf(x1 - x0) * sx;
	d.h = fabsf(y1 - y0) * sy;
	SDL_SetRenderDrawBlendMode(s->ren, a == 255 ? SDL_BLENDMODE_NONE
	                                            : SDL_BLENDMODE_BLEND);
	SDL_SetRenderDrawColor(s->ren, (rgb >> 16) & 0xff, (rgb >> 8) & 0xff,
	                       rgb & 0xff, a);
	return SDL_RenderFillRectF(s->ren, &d);
}

/* ---- frames ---- */

static SDL_Texture *upload(struct sdl_out *s, SDL_Surface *surf,
                           struct mc_error *err)
{
	SDL_Texture *t = SDL_CreateTextureFromSurface(s->ren, surf);

	if (!t)
		mc_error_set(err, MC_ERR_NOMEM,
		             "screen: cannot upload a %dx%d "
		             "frame: %s",
		             surf->w, surf->h, SDL_GetError());
	return t;
}

/* Draw p into f (decoded and uploaded); f is left empty on failure. */
static enum mc_err make_frame(struct sdl_out *s, const struct mc_play *p,
                              struct frame *f, struct mc_error *err)
{
	struct frame n = {0};
	SDL_Surface *surf = NULL, *strip = NULL;
	enum mc_err rc = MC_OK;

	memset(f, 0, sizeof(*f));
	if (!s->r)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "screen: no renderer (font missing)");
	if (p->content && p->content->type == MC_CONTENT_SLOGAN &&
	    s->font_err[0])
		return mc_error_set(err, MC_ERR_NOTFOUND,
		                    "screen: %s: cannot draw its text: %s",
		                    p->content->id, s->font_err);
	if (p->content)
		surf = mc_render_play(s->r, p, err);
	else
		surf = mc_render_idle(s->r, p->reason ? p->reason : "idle");
	if (!surf) {
		if (!err->code || !err->msg[0])
			mc_error_set(err, MC_ERR_IO, "screen: cannot draw %s",
			             p->content ? p->content->id
			                        : "the idle "
			                          "screen");
		rc = err->code;
		goto fail;
	}
	n.tex = upload(s, surf, err);
	if (!n.tex) {
		rc = err->code;
		goto fail;
	}
	if (is_ticker(p)) {
		n.strip_h = s->lh / 8 < 24 ? 24 : s->lh / 8;
		strip = mc_render_ticker_strip(
		        s->r, p->content, p->text ? p->text : "", n.strip_h);
		if (strip) {
			n.strip = upload(s, strip, err);
			n.strip_w = strip->w;
			n.strip_h = strip->h;
		}
		if (!n.strip) {
			mc_log_warn("sdl",
			            "%s: ticker line not drawn (%s); "
			            "showing its background only",
			            p->content->id, SDL_GetError());
			memset(err, 0, sizeof(*err));
		}
		n.band_bg = p->content->style.bg;
	}
	SDL_SetTextureBlendMode(n.tex, SDL_BLENDMODE_NONE);
	n.item = p->content != NULL;
	n.key = play_key(p);
	n.id = mc_strdup(p->content ? p->content->id : NULL);
	*f = n;
	memset(&n, 0, sizeof(n)); /* now f's */
fail:
	frame_clear(&n);
	if (surf)
		SDL_FreeSurface(surf);
	if (strip)
		SDL_FreeSurface(strip);
	return rc;
}

/* Rebuild the overlay texture from the banner and identify texts. */
static void make_overlay(struct sdl_out *s)
{
	SDL_Surface *surf;

	s->overlay_dirty = false;
	if (s->overlay) {
		SDL_DestroyTexture(s->overlay);
		s->overlay = NULL;
	}
	if ((!s->banner && !s->ident) || !s->r)
		return;
	surf = SDL_CreateRGBSurfaceWithFormat(0, s->lw, s->lh, 32,
	                                      SDL_PIXELFORMAT_ARGB8888);
	if (!surf) {
		mc_log_error("sdl", "overlay: %s", SDL_GetError());
		return;
	}
	SDL_FillRect(surf, NULL, 0);
	if (s->banner)
		mc_render_banner(s->r, surf, s->banner);
	if (s->ident)
		mc_render_identify(s->r, surf, s->ident);
	s->overlay = SDL_CreateTextureFromSurface(s->ren, surf);
	if (s->overlay)
		SDL_SetTextureBlendMode(s->overlay, SDL_BLENDMODE_BLEND);
	else
		mc_log_error("sdl", "overlay: %s", SDL_GetError());
	SDL_FreeSurface(surf);
}

/* ---- drawing one output frame ---- */

/* The ticker band of f, scrolled to where it is at time t. */
static int draw_ticker(struct sdl_out *s, const struct frame *f, uint64_t t0,
                       uint64_t t, Uint8 alpha)
{
	double secs = t > t0 ? (double)(t - t0) / 1e6 : 0;
	double cycle = (double)f->strip_w + s->lw;
	float y = (float)(s->lh - f->strip_h);
	float x;
	int rc;

	rc = fill(s, (SDL_FRect){0, y, (float)s->lw, (float)f->strip_h},
	          f->band_bg, alpha);
	if (!f->strip)
		return rc;
	x = (float)floor(s->lw - fmod(secs * s->ticker_speed, cycle));
	SDL_SetTextureBlendMode(f->strip, SDL_BLENDMODE_BLEND);
	SDL_SetTextureAlphaMod(f->strip, alpha);
	return rc |
	       put(s, f->strip, NULL,
	           (SDL_FRect){x, y, (float)f->strip_w, (float)f->strip_h});
}

static int draw_frame(struct sdl_out *s, const struct frame *f, uint64_t t0,
                      uint64_t t, Uint8 alpha)
{
	int rc;

	if (!f->tex)
		return 0;
	SDL_SetTextureBlendMode(f->tex, alpha == 255 ? SDL_BLENDMODE_NONE
	                                             : SDL_BLENDMODE_BLEND);
	SDL_SetTextureAlphaMod(f->tex, alpha);
	rc = put(s, f->tex, NULL,
	         (SDL_FRect){0, 0, (float)s->lw, (float)s->lh});
	if (f->strip_h)
		rc |= draw_ticker(s, f, t0, t, alpha);
	return rc;
}

/* Draw the whole scene into the back buffer (no present). */
static int draw(struct sdl_out *s)
{
	uint64_t t = mono_us();
	int rc = 0;

	SDL_SetRenderDrawBlendMode(s->ren, SDL_BLENDMODE_NONE);
	SDL_SetRenderDrawColor(s->ren, 0, 0, 0, 255);
	rc |= SDL_RenderClear(s->ren);
	if (s->alert_shown && s->alert) {
		SDL_SetTextureBlendMode(s->alert, SDL_BLENDMODE_NONE);
		return rc | put(s, s->alert, NULL,
		                (SDL_FRect){0, 0, (float)s->lw, (float)s->lh});
	}
	if (s->fading) {
		double a = (double)(t - s->fade_t0) / 1000.0 / s->crossfade_ms;

		if (a >= 1.0) {
			s->fading = false;
			frame_clear(&s->prev);
		} else {
			rc |= draw_frame(s, &s->prev, s->prev_tick_t0, t, 255);
			rc |= draw_frame(s, &s->cur, s->ticker_t0, t,
			                 (Uint8)(a * 255.0));
		}
	}
	if (!s->fading)
		rc |= draw_frame(s, &s->cur, s->ticker_t0, t, 255);
	if (s->overlay_dirty)
		make_overlay(s);
	if (s->overlay)
		rc |= put(s, s->overlay, NULL,
		          (SDL_FRect){0, 0, (float)s->lw, (float)s->lh});
	return rc;
}

static bool animating(const struct sdl_out *s)
{
	return !s->failed && !s->alert_shown &&
	       (s->fading || (s->cur.strip_h && s->ticker_speed > 0));
}

/* Account one animated present for the ticker pacing figures. */
static void pace(struct sdl_out *s, uint64_t t)
{
	int64_t gap;

	if (!s->animating_last || !s->last_present_us) {
		s->pace_t0 = s->pace_t0 ? s->pace_t0 : t;
		return;
	}
	s->pace_frames++;
	gap = (int64_t)(t - s->last_present_us);
	/* A gap of n refreshes (rounded) skipped n - 1 of them. */
	if (gap > s->period_us * 3 / 2)
		s->pace_missed += (gap + s->period_us / 2) / s->period_us - 1;
	if (t - s->pace_t0 >= (uint64_t)PACING_LOG_US) {
		mc_log_info("sdl",
		            "frame pacing: %" PRId64
		            " animated frames, %" PRId64
		            " refreshes missed in the last %.0f s "
		            "(refresh %.1f Hz)",
		            s->pace_frames, s->pace_missed,
		            (double)(t - s->pace_t0) / 1e6,
		            1e6 / (double)s->period_us);
		s->pace_t0 = t;
		s->pace_frames = 0;
		s->pace_missed = 0;
	}
}

static void present(struct sdl_out *s)
{
	uint64_t t;
	bool anim;

	if (s->failed)
		return;
	if (draw(s) < 0) {
		if (++s->failures == 1 || s->failures == MAX_FAILURES)
			mc_log_error("sdl", "drawing failed: %s%s",
			             SDL_GetError(),
			             s->failures >= MAX_FAILURES
			                     ? "; the screen output is dead "
			                       "(the watchdog restarts the "
			                       "player)"
			                     : "");
		if (s->failures >= MAX_FAILURES)
			s->failed = true;
	} else {
		s->failures = 0;
	}
	SDL_RenderPresent(s->ren);
	t = mono_us();
	anim = animating(s);
	if (anim)
		pace(s, t);
	s->animating_last = anim;
	s->last_present_us = t;
	s->dirty = false;
	if (!s->logged_first && s->cur.item) {
		s->logged_first = true;
		mc_log_info("sdl",
		            "first item frame presented (%s) at monotonic "
		            "%" PRId64 " ms",
		            s->cur.id, (int64_t)(t / 1000));
	}
}

/* ---- bring-up ---- */

static bool kms_present(void)
{
	char path[32];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/dev/dri/card%d", i);
		if (access(path, F_OK) == 0)
			return true;
	}
	return false;
}

/* Window and renderer for the driver SDL runs on. */
static enum mc_err open_display(struct sdl_out *s, struct mc_error *err)
{
	const char *drv = SDL_GetCurrentVideoDriver();
	bool desktop = strcmp(s->driver, "auto") == 0 && drv &&
	               (strcmp(drv, "x11") == 0 || strcmp(drv, "wayland") == 0);
	bool plain = drv && (strcmp(drv, "offscreen") == 0 ||
	                     strcmp(drv, "dummy") == 0);
	Uint32 flags = SDL_WINDOW_SHOWN;
	SDL_DisplayMode mode = {0};
	SDL_RendererInfo info = {0};
	int w = s->cfg_w, h = s->cfg_h;

	if (desktop) {
		/* The README's demo: a window on the desktop, not a
		 * takeover of the user's screen. */
		w = w ? w : DESKTOP_WINDOW_W;
		h = h ? h : DESKTOP_WINDOW_H;
		flags |= SDL_WINDOW_RESIZABLE;
	} else if (plain) {
		w = w ? w : DEFAULT_W;
		h = h ? h : DEFAULT_H;
	} else if (w && h) {
		flags |= SDL_WINDOW_FULLSCREEN;
	} else {
		flags |= SDL_WINDOW_FULLSCREEN_DESKTOP;
		if (SDL_GetDesktopDisplayMode(0, &mode) == 0) {
			w = mode.w;
			h = mode.h;
		} else {
			w = DEFAULT_W;
			h = DEFAULT_H;
		}
	}
	s->win = SDL_CreateWindow("minecast", SDL_WINDOWPOS_CENTERED,
	                          SDL_WINDOWPOS_CENTERED, w, h, flags);
	if (!s->win)
		return mc_error_set(err, MC_ERR_IO,
		                    "screen: cannot open a %dx%d window on %s: "
		                    "%s",
		                    w, h, drv ? drv : "?", SDL_GetError());
	s->ren = SDL_CreateRenderer(s->win, -1,
	                            SDL_RENDERER_ACCELERATED |
	                                    SDL_RENDERER_PRESENTVSYNC);
	if (!s->ren) {
		mc_log_warn("sdl",
		            "no accelerated renderer (%s); using the software "
		            "renderer",
		            SDL_GetError());
		s->ren = SDL_CreateRenderer(s->win, -1, SDL_RENDERER_SOFTWARE);
	}
	if (!s->ren)
		return mc_error_set(err, MC_ERR_IO,
		                    "screen: no renderer on %s: %s",
		                    drv ? drv : "?", SDL_GetError());
	SDL_GetRendererInfo(s->ren, &info);
	s->vsync = (info.flags & SDL_RENDERER_PRESENTVSYNC) != 0;
	if (SDL_GetRendererOutputSize(s->ren, &s->out_w, &s->out_h) != 0 ||
	    s->out_w <= 0 || s->out_h <= 0) {
		s->out_w = w;
		s->out_h = h;
	}
	s->period_us = 1000000 / 60;
	if (SDL_GetWindowDisplayMode(s->win, &mode) == 0 &&
	    mode.refresh_rate > 0)
		s->period_us = 1000000 / mode.refresh_rate;
	SDL_ShowCursor(SDL_DISABLE);
	mc_log_info("sdl",
	            "screen %dx%d on %s, renderer %s%s, refresh %.0f Hz, "
	            "rotation %d",
	            s->out_w, s->out_h, drv ? drv : "?",
	            info.name ? info.name : "?", s->vsync ? " with vsync" : "",
	            1e6 / (double)s->period_us, s->rotation);
	return MC_OK;
}

static void close_display(struct sdl_out *s)
{
	frame_clear(&s->cur);
	frame_clear(&s->prev);
	frame_clear(&s->prep);
	s->fading = false;
	if (s->overlay)
		SDL_DestroyTexture(s->overlay);
	s->overlay = NULL;
	if (s->alert)
		SDL_DestroyTexture(s->alert);
	s->alert = NULL;
	if (s->ren)
		SDL_DestroyRenderer(s->ren);
	s->ren = NULL;
	if (s->win)
		SDL_DestroyWindow(s->win);
	s->win = NULL;
}

static void show_alert_texture(struct sdl_out *s);

/*
 * Open the window again (display re-plugged, renderer reset) and draw
 * what was on screen.
 */
static void reopen(struct sdl_out *s, const char *why)
{
	struct mc_error err = {0};
	int ow = s->out_w, oh = s->out_h;

	mc_log_warn("sdl", "%s: opening the screen again", why);
	close_display(s);
	if (open_display(s, &err) != MC_OK) {
		mc_log_error("sdl", "%s", err.msg);
		s->failed = true;
		return;
	}
	if (s->out_w != ow || s->out_h != oh)
		mc_log_warn("sdl",
		            "the screen is now %dx%d (was %dx%d); frames are "
		            "scaled until the player restarts",
		            s->out_w, s->out_h, ow, oh);
	/* Frames keep their size: draw them scaled to the new output. */
	s->out_w = ow;
	s->out_h = oh;
	if (s->held.on && make_frame(s, &s->held.p, &s->cur, &err) != MC_OK)
		mc_log_error("sdl", "cannot draw the item again: %s", err.msg);
	s->ticker_t0 = mono_us();
	s->overlay_dirty = true;
	if (s->alert_copy.id)
		show_alert_texture(s);
	s->failed = false;
	s->failures = 0;
	s->dirty = true;
}

static void sdl_uninit(struct mc_output *o);

static enum mc_err sdl_init(struct mc_output *o,
                            const struct mc_player_config *cfg,
                            struct mc_error *err)
{
	struct sdl_out *s = calloc(1, sizeof(*s));
	struct mc_render_opts ro = {0};
	struct mc_play idle = {0};
	struct frame f = {0};
	const char *drv;
	enum mc_err rc;

	if (!s)
		return mc_error_set(err, MC_ERR_NOMEM, "screen: no memory");
	o->priv = s;
	s->cfg_w = cfg->screen_width;
	s->cfg_h = cfg->screen_height;
	s->rotation = ((cfg->rotation % 360) + 360) % 360;
	s->driver = mc_strdup(cfg->video_driver ? cfg->video_driver : "auto");
	s->font = mc_strdup(cfg->font);
	s->node = mc_strdup(cfg->node_id);
	s->crossfade_ms = cfg->crossfade_ms;
	s->ticker_speed = cfg->ticker_speed;
	s->banner_on = cfg->banner;

	/*
	 * Frames are megabytes each (8 MB at 1080p) and come and go with
	 * every item: keep such blocks in their own mappings, so that a
	 * freed frame goes back to the kernel instead of staying in the
	 * heap (glibc would otherwise raise its mmap threshold to the
	 * frame size after the first free).
	 */
	mallopt(M_MMAP_THRESHOLD, 1024 * 1024);
	/* The player handles SIGINT/SIGTERM itself. */
	SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
	/* A screen stays on whatever the input devices do. */
	SDL_SetHint(SDL_HINT_VIDEO_ALLOW_SCREENSAVER, "0");
	if (strcmp(s->driver, "auto") != 0)
		SDL_SetHint(SDL_HINT_VIDEODRIVER, s->driver);
	if (SDL_InitSubSystem(SDL_INIT_VIDEO) != 0) {
		rc = mc_error_set(
		        err, MC_ERR_IO,
		        "screen: no display (video driver %s): %s%s", s->driver,
		        SDL_GetError(),
		        strcmp(s->driver, "auto") == 0 && !getenv("DISPLAY") &&
		                        !getenv("WAYLAND_DISPLAY") &&
		                        !kms_present()
		                ? "; no desktop session and no KMS device "
		                  "(/dev/dri/card*): is the HDMI cable in and "
		                  "the KMS driver (vc4-kms-v3d) enabled?"
		                : "");
		free(s->driver);
		s->driver = NULL;
		goto fail_noinit;
	}
	drv = SDL_GetCurrentVideoDriver();
	if ((rc = open_display(s, err)) != MC_OK)
		goto fail;
	if (s->rotation == 90 || s->rotation == 270) {
		s->lw = s->out_h;
		s->lh = s->out_w;
	} else {
		s->lw = s->out_w;
		s->lh = s->out_h;
	}
	ro.width = s->lw;
	ro.height = s->lh;
	ro.font = s->font;
	ro.node = s->node;
	s->r = mc_render_new(&ro, err);
	if (!s->r && s->font) {
		/* No font: images still show; slogans fail (and say why)
		 * so that health reports it. */
		snprintf(s->font_err, sizeof(s->font_err), "%s", err->msg);
		mc_log_error("sdl", "%s; only images are shown", err->msg);
		memset(err, 0, sizeof(*err));
		ro.font = NULL;
		s->r = mc_render_new(&ro, err);
	}
	if (!s->r) {
		char why[sizeof(err->msg)];

		rc = err->code ? err->code : MC_ERR_IO;
		snprintf(why, sizeof(why), "%s", err->msg);
		mc_error_set(err, rc, "screen: %s", why);
		goto fail;
	}
	/* Something to look at while the player loads its cache. */
	idle.reason = "starting";
	if (make_frame(s, &idle, &f, err) == MC_OK) {
		s->cur = f;
		held_set(&s->held, &idle);
	} else {
		mc_log_warn("sdl", "built-in screen: %s", err->msg);
		memset(err, 0, sizeof(*err));
	}
	present(s);
	mc_log_info("sdl", "screen output up on %s (frames %dx%d)",
	            drv ? drv : "?", s->lw, s->lh);
	return MC_OK;
fail:
	mc_log_error("sdl", "%s", err->msg);
	sdl_uninit(o);
	return rc;
fail_noinit:
	mc_log_error("sdl", "%s", err->msg);
	free(s->font);
	free(s->node);
	free(s);
	o->priv = NULL;
	return rc;
}

static void sdl_uninit(struct mc_output *o)
{
	struct sdl_out *s = o->priv;

	if (!s)
		return;
	close_display(s);
	if (s->r)
		mc_render_free(s->r);
	held_clear(&s->held);
	mc_alert_clear(&s->alert_copy);
	free(s->banner);
	free(s->ident);
	free(s->driver);
	free(s->font);
	free(s->node);
	free(s);
	o->priv = NULL;
	SDL_QuitSubSystem(SDL_INIT_VIDEO);
}

/* ---- items ---- */

static enum mc_err sdl_prepare(struct mc_output *o, const struct mc_play *p,
                               struct mc_error *err)
{
	struct sdl_out *s = o->priv;
	char *key;
	enum mc_err rc;

	if (p->channel != MC_CH_SCREEN)
		return MC_OK;
	key = play_key(p);
	if (s->prep.key && key && strcmp(s->prep.key, key) == 0) {
		free(key);
		return MC_OK; /* already */
	}
	free(key);
	frame_clear(&s->prep);
	rc = make_frame(s, p, &s->prep, err);
	if (rc != MC_OK)
		mc_log_warn("sdl", "cannot prepare %s: %s",
		            p->content ? p->content->id : "(idle)", err->msg);
	return rc;
}

static enum mc_err sdl_start(struct mc_output *o, const struct mc_play *p,
                             struct mc_error *err)
{
	struct sdl_out *s = o->priv;
	struct frame f = {0};
	char *key;
	bool fade;
	enum mc_err rc;

	if (p->channel != MC_CH_SCREEN)
		return MC_OK;
	if (s->failed)
		return mc_error_set(err, MC_ERR_IO,
		                    "screen: the renderer failed; nothing is "
		                    "drawn");
	key = play_key(p);
	if (key && s->prep.key && strcmp(key, s->prep.key) == 0) {
		f = s->prep;
		memset(&s->prep, 0, sizeof(s->prep));
	} else {
		rc = make_frame(s, p, &f, err);
		if (rc != MC_OK) {
			/* The old frame stays on screen. */
			free(key);
			return rc;
		}
	}
	free(key);
	fade = p->transition == MC_TRANSITION_CROSSFADE &&
	       s->crossfade_ms > 0 && s->cur.tex && !s->alert_shown;
	frame_clear(&s->prev);
	if (fade) {
		s->prev = s->cur;
		s->prev_tick_t0 = s->ticker_t0;
		s->fading = true;
		s->fade_t0 = mono_us();
	} else {
		s->fading = false;
		frame_clear(&s->cur);
	}
	s->cur = f;
	s->ticker_t0 = mono_us();
	held_set(&s->held, p);
	s->dirty = true;
	/* A cut is on screen at once; a crossfade runs from tick(). */
	if (!fade)
		present(s);
	if (s->display_lost)
		return mc_error_set(err, MC_ERR_IO,
		                    "screen: the display is disconnected (HDMI "
		                    "unplugged?)");
	return MC_OK;
}

static void sdl_stop(struct mc_output *o, enum mc_channel ch, bool completed)
{
	(void)o;
	(void)ch;
	(void)completed;
	/* The last frame stays up until something replaces it: never a
	 * black screen between items. */
}

/* ---- overlays ---- */

static void sdl_banner(struct mc_output *o, const char *text)
{
	struct sdl_out *s = o->priv;

	if (!s->banner_on)
		return;
	if ((!text && !s->banner) ||
	    (text && s->banner && strcmp(text, s->banner) == 0))
		return;
	free(s->banner);
	s->banner = mc_strdup(text);
	s->overlay_dirty = true;
	s->dirty = true;
	present(s);
}

static void sdl_identify(struct mc_output *o, const char *text,
                         int64_t until_ms)
{
	struct sdl_out *s = o->priv;

	free(s->ident);
	s->ident = mc_strdup(text);
	s->ident_until = text ? until_ms : 0;
	s->overlay_dirty = true;
	s->dirty = true;
	present(s);
}

static void show_alert_texture(struct sdl_out *s)
{
	SDL_Surface *surf;

	if (s->alert)
		SDL_DestroyTexture(s->alert);
	s->alert = NULL;
	surf = mc_render_alert(s->r, &s->alert_copy);
	if (!surf)
		return;
	s->alert = SDL_CreateTextureFromSurface(s->ren, surf);
	SDL_FreeSurface(surf);
}

static enum mc_err sdl_alert(struct mc_output *o, const struct mc_alert *a,
                             struct mc_error *err)
{
	struct sdl_out *s = o->priv;
	struct mc_alert *c = &s->alert_copy;

	if (!a) {
		if (s->alert_copy.id)
			mc_log_info("sdl", "alert %s ended on screen",
			            s->alert_copy.id);
		mc_alert_clear(c);
		if (s->alert)
			SDL_DestroyTexture(s->alert);
		s->alert = NULL;
		s->alert_shown = false;
		s->dirty = true;
		present(s);
		return MC_OK;
	}
	if (!s->r)
		return mc_error_set(err, MC_ERR_UNSUPPORTED,
		                    "screen: no renderer (font missing)");
	mc_alert_clear(c);
	c->id = mc_strdup(a->id);
	c->seq = a->seq;
	c->level = a->level;
	c->text = mc_strdup(a->text);
	c->repeat = a->repeat;
	c->start_at_ms = a->start_at_ms;
	c->issued_ms = a->issued_ms;
	c->expires_ms = a->expires_ms;
	show_alert_texture(s);
	if (!s->alert)
		return mc_error_set(err, MC_ERR_IO,
		                    "screen: cannot draw alert %s: %s", a->id,
		                    SDL_GetError());
	s->alert_at = a->start_at_ms;
	s->alert_shown = mc_now_ms() >= s->alert_at;
	if (s->alert_shown) {
		s->dirty = true;
		present(s);
	}
	return MC_OK;
}

/* ---- screenshot ---- */

/* The output's pixels turned back to the logical orientation. */
static SDL_Surface *unrotate(const struct sdl_out *s, SDL_Surface *phys)
{
	bool turn = s->rotation == 90 || s->rotation == 270;
	int lw = turn ? phys->h : phys->w, lh = turn ? phys->w : phys->h;
	SDL_Surface *l;

	if (s->rotation == 0)
		return phys;
	l = SDL_CreateRGBSurfaceWithFormat(0, lw, lh, 32,
	                                   SDL_PIXELFORMAT_ARGB8888);
	if (!l)
		return NULL;
	for (int y = 0; y < lh; y++) {
		Uint32 *row = (Uint32 *)((Uint8 *)l->pixels + y * l->pitch);

		for (int x = 0; x < lw; x++) {
			int px, py;

			switch (s->rotation) {
			case 90:
				px = phys->w - 1 - y;
				py = x;
				break;
			case 180:
				px = phys->w - 1 - x;
				py = phys->h - 1 - y;
				break;
			default: /* 270 */ px = y; py = phys->h - 1 - x;
			}
			row[x] = *(Uint32 *)((Uint8 *)phys->pixels +
			                     py * phys->pitch + px * 4);
		}
	}
	SDL_FreeSurface(phys);
	return l;
}

static enum mc_err sdl_screenshot(struct mc_output *o, unsigned char **png,
                                  size_t *len, struct mc_error *err)
{
	struct sdl_out *s = o->priv;
	SDL_Surface *phys = NULL, *shot = NULL;
	enum mc_err rc;
	int w, h;

	*png = NULL;
	*len = 0;
	if (s->failed)
		return mc_error_set(err, MC_ERR_IO,
		                    "screenshot: the renderer failed");
	if (SDL_GetRendererOutputSize(s->ren, &w, &h) != 0)
		return mc_error_set(err, MC_ERR_IO, "screenshot: %s",
		                    SDL_GetError());
	phys = SDL_CreateRGBSurfaceWithFormat(0, w, h, 32,
	                                      SDL_PIXELFORMAT_ARGB8888);
	if (!phys)
		return mc_error_set(err, MC_ERR_NOMEM, "screenshot: %s",
		                    SDL_GetError());
	/* The back buffer's content after a present is undefined: draw
	 * the scene again and read it before presenting. */
	draw(s);
	if (SDL_RenderReadPixels(s->ren, NULL, SDL_PIXELFORMAT_ARGB8888,
	                         phys->pixels, phys->pitch) != 0) {
		rc = mc_error_set(err, MC_ERR_IO, "screenshot: %s",
		                  SDL_GetError());
		SDL_FreeSurface(phys);
		return rc;
	}
	/* What was read is the scene: show it (same as on screen). */
	SDL_RenderPresent(s->ren);
	s->last_present_us = mono_us();
	shot = unrotate(s, phys);
	if (!shot) {
		SDL_FreeSurface(phys);
		return mc_error_set(err, MC_ERR_NOMEM, "screenshot: %s",
		                    SDL_GetError());
	}
	rc = mc_render_png(shot, png, len, err);
	SDL_FreeSurface(shot);
	return rc;
}

/* ---- the loop ---- */

static void events(struct sdl_out *s)
{
	SDL_Event ev;

	while (SDL_PollEvent(&ev)) {
		switch (ev.type) {
		case SDL_QUIT:
			break; /* a screen is closed by stopping the player */
		case SDL_WINDOWEVENT:
			if (ev.window.event == SDL_WINDOWEVENT_EXPOSED ||
			    ev.window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
				s->dirty = true;
			break;
		case SDL_DISPLAYEVENT:
			if (ev.display.event == SDL_DISPLAYEVENT_DISCONNECTED) {
				mc_log_error("sdl",
				             "display %" PRIu32 " disconnected "
				             "(HDMI unplugged?); the player "
				             "keeps running and reports it",
				             ev.display.display);
				s->display_lost = true;
			} else if (ev.display.event ==
			           SDL_DISPLAYEVENT_CONNECTED) {
				mc_log_info("sdl",
				            "display %" PRIu32 " connected",
				            ev.display.display);
				if (s->display_lost) {
					s->display_lost = false;
					reopen(s, "display re-plugged");
				}
			}
			break;
		case SDL_RENDER_DEVICE_RESET:
			reopen(s, "the graphics device was reset");
			break;
		default: break;
		}
	}
}

static int sdl_tick(struct mc_output *o, int64_t now_ms)
{
	struct sdl_out *s = o->priv;
	int64_t wait = -1, left;
	uint64_t t;

	if (!s || !s->ren)
		return -1;
	events(s);
	if (s->failed)
		return -1;
	if (s->ident && s->ident_until && now_ms >= s->ident_until) {
		MC_FREE(s->ident);
		s->ident_until = 0;
		s->overlay_dirty = true;
		s->dirty = true;
	}
	if (s->alert && !s->alert_shown && now_ms >= s->alert_at) {
		s->alert_shown = true;
		s->dirty = true;
	}
	/* Other wake-ups of the main loop do not draw extra frames. */
	if (s->dirty ||
	    (animating(s) &&
	     mono_us() + 2000 >= s->last_present_us + (uint64_t)s->period_us))
		present(s);
	if (animating(s)) {
		/* The next refresh; with vsync, present waits for it, so
		 * wake a little early to draw in time. */
		t = mono_us();
		left = (int64_t)(s->last_present_us + (uint64_t)s->period_us) -
		       (int64_t)t - (s->vsync ? VSYNC_MARGIN_US : 0);
		wait = left > 0 ? left / 1000 : 0;
	} else {
		s->animating_last = false;
	}
	if (s->alert && !s->alert_shown) {
		left = s->alert_at - now_ms;
		if (wait < 0 || left < wait)
			wait = left > 0 ? left : 0;
	}
	if (s->ident && s->ident_until) {
		left = s->ident_until - now_ms;
		if (wait < 0 || left < wait)
			wait = left > 0 ? left : 0;
	}
	return wait > INT32_MAX ? INT32_MAX : (int)wait;
}

static bool sdl_alive(struct mc_output *o)
{
	struct sdl_out *s = o->priv;

	return s && !s->failed;
}

const struct mc_output_ops mc_output_sdl = {
        .name = "sdl",
        .channels = 1u << MC_CH_SCREEN,
        .init = sdl_init,
        .uninit = sdl_uninit,
        .prepare = sdl_prepare,
        .start = sdl_start,
        .stop = sdl_stop,
        .banner = sdl_banner,
        .identify = sdl_identify,
        .alert = sdl_alert,
        .screenshot = sdl_screenshot,
        .tick = sdl_tick,
        .alive = sdl_alive,
};
