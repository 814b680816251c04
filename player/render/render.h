/*
 * minecast-player — drawing what a screen shows, without a display.
 *
 * The sdl output, the `minecast-player render` command (previews and
 * golden-image tests) and screenshots all draw with this module, so a
 * preview is exactly what a screen shows.  Frames are SDL surfaces in
 * ARGB8888 at the render size (the logical size: a portrait screen is
 * rendered portrait and rotated by the output).
 *
 * Text is Vietnamese first: SDL2_ttf with a font that has every
 * diacritic (Noto Sans by default), sized to fill its box, wrapped at
 * word boundaries.  Images are decoded with SDL2_image (PNG, JPEG, WebP).
 * Nothing here touches the network, the schedule or the cache.
 */
#ifndef MC_PLAYER_RENDER_H
#define MC_PLAYER_RENDER_H

#include <stddef.h>

#include <SDL2/SDL.h>

#include "minecast/error.h"
#include "minecast/messages.h"

#include "../outputs/output.h"

struct mc_render_opts {
	int width; /* frame size in pixels */
	int height;
	const char *font; /* default font file (slogans may name another);
	                   * NULL = no text at all: images and colours
	                   * only, for a node whose font is missing */
	const char *node; /* node id, for the built-in screen */
};

struct mc_render;

/*
 * Load the default font.  A missing font is an error here (err names the
 * file); the caller reports it in health and shows images only.
 */
struct mc_render *mc_render_new(const struct mc_render_opts *o,
                                struct mc_error *err);
void mc_render_free(struct mc_render *r);

/*
 * The frame of a slogan or image item (p->content, p->text resolved,
 * p->path / p->bg_path the verified files).  Returns a new surface the
 * caller frees with SDL_FreeSurface, or NULL with err set when the image
 * cannot be decoded (the caller skips to the next item; never a crash).
 * A ticker slogan returns its static frame (background only); the
 * scrolling line is mc_render_ticker_strip.
 */
SDL_Surface *mc_render_play(struct mc_render *r, const struct mc_play *p,
                            struct mc_error *err);

/*
 * The built-in screen: shown when nothing is scheduled and there is no
 * fallback, or before the first manifest — the node id and why (reason),
 * never a black screen.
 */
SDL_Surface *mc_render_idle(struct mc_render *r, const char *reason);

/* The urgent-alert takeover: full screen, high contrast, level colour. */
SDL_Surface *mc_render_alert(struct mc_render *r, const struct mc_alert *a);

/* Draw the identify overlay (node id, addresses) onto dst. */
void mc_render_identify(struct mc_render *r, SDL_Surface *dst,
                        const char *text);

/* Draw the "now broadcasting" banner (text: the bulletin) onto dst. */
void mc_render_banner(struct mc_render *r, SDL_Surface *dst, const char *text);

/*
 * The ticker line (chữ chạy) of slogan c: the whole text in one row of
 * the given height, in c's colours, for the output to scroll.
 */
SDL_Surface *mc_render_ticker_strip(struct mc_render *r,
                                    const struct mc_content *c,
                                    const char *text, int height);

/* Encode s as PNG into *png (malloc'd, caller frees). */
enum mc_err mc_render_png(SDL_Surface *s, unsigned char **png, size_t *len,
                          struct mc_error *err);

/*
 * `minecast-player render ...`: argv[0] is "render".  Returns the exit
 * code (0 written, 1 failed, 2 usage).
 */
int mc_render_main(int argc, char **argv);

#endif
