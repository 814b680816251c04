/*
 * minecast-player — the render module's text layout, shared with its
 * unit tests (tests/unit/test_player_render.c) so that wrapping and
 * sizing can be checked on their own, without reading pixels.
 */
#ifndef MC_PLAYER_RENDER_INTERNAL_H
#define MC_PLAYER_RENDER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <SDL2/SDL_ttf.h>

#include "render.h"

/* Smallest and largest point sizes text is ever set at. */
#define MC__RENDER_MIN_PT 6
#define MC__RENDER_MAX_PT 1000

/* Text laid out in a box: wrapped lines at one point size. */
struct mc__layout {
	char **lines;    /* the lines, owned; "" for an empty paragraph */
	size_t n_lines;  /* how many */
	int pt;          /* the point size they were laid out at */
	int width;       /* the widest line, pixels */
	int height;      /* the block: (n - 1) line skips + one font height */
	int line_skip;   /* distance between baselines, pixels */
	bool broke_word; /* a word wider than the box had to be split */
};

/* Free what a layout owns and zero it.  NULL is allowed. */
void mc__layout_clear(struct mc__layout *l);

/*
 * Wrap text (UTF-8; '\n' starts a new line) to max_w pixels at font's
 * current size: greedy, at spaces only; a single word wider than max_w
 * is split between characters (out->broke_word).  Returns false only
 * when out of memory.
 */
bool mc__render_wrap(TTF_Font *font, const char *text, int max_w,
                     struct mc__layout *out);

/*
 * Lay text out at the largest point size (at most max_pt) at which its
 * wrapped block fits box_w x box_h without splitting a word; when even
 * MC__RENDER_MIN_PT does not fit, at that size with words split.  font's
 * size is left at out->pt.  Returns false only when out of memory.
 */
bool mc__render_fit(TTF_Font *font, const char *text, int box_w, int box_h,
                    int max_pt, struct mc__layout *out);

/* The default font of r (NULL when r draws no text). */
TTF_Font *mc__render_font(struct mc_render *r);

#endif
