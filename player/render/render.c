/*
 * minecast-player — drawing frames on SDL software surfaces.
 *
 * Every frame is an opaque ARGB8888 surface at the render size.  Text is
 * set with SDL2_ttf (TTF_RenderUTF8_Blended: anti-aliased, every
 * Vietnamese diacritic of the font), laid out by our own word wrap so that
 * a word is never split unless it alone is wider than its box, at the
 * largest point size whose block fits the box (a binary search over
 * sizes).  Images are decoded by SDL2_image and scaled with box-filter
 * halving followed by SDL's bilinear stretch, so that a 1920x1080 pano
 * shrunk to a 480x270 preview does not shimmer.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <SDL2/SDL.h>
#include <SDL2/SDL_image.h>
#include <SDL2/SDL_ttf.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "render.h"
#include "render_internal.h"

/* Where font families named in a style ("Noto Sans") are looked for. */
static const char *const font_dirs[] = {
        "/usr/share/fonts/truetype/noto",
        "/usr/share/fonts/opentype/noto",
        "/usr/share/fonts/truetype/dejavu",
        "/usr/share/fonts/truetype",
};

/* Decoded images larger than this on a side are refused (memory). */
#define MAX_IMAGE_SIDE 16384

struct mc_render {
	int w, h;        /* frame size */
	char *font_path; /* the default font file, or NULL (no text) */
	char *node;      /* node id for the built-in screen */
	TTF_Font *font;  /* the default font; NULL when font_path is */
	char *alt_name;  /* the last style font asked for, or NULL */
	TTF_Font *alt;   /* its font, or NULL when it fell back */
	bool ttf_init;   /* TTF_Init was called for this renderer */
};

/* ---- small helpers ------------------------------------------------- */

static SDL_Surface *new_frame(int w, int h)
{
	return SDL_CreateRGBSurfaceWithFormat(0, w, h, 32,
	                                      SDL_PIXELFORMAT_ARGB8888);
}

static Uint32 map_rgb(const SDL_Surface *s, uint32_t rgb)
{
	return SDL_MapRGBA(s->format, (rgb >> 16) & 0xff, (rgb >> 8) & 0xff,
	                   rgb & 0xff, 0xff);
}

static SDL_Color color_of(uint32_t rgb, Uint8 alpha)
{
	SDL_Color c = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff,
	               alpha};

	return c;
}

/* Perceived brightness 0..255 of 0xRRGGBB. */
static int brightness(uint32_t rgb)
{
	return (int)((((rgb >> 16) & 0xff) * 299 + ((rgb >> 8) & 0xff) * 587 +
	              (rgb & 0xff) * 114) /
	             1000);
}

/* Fill rect of s with rgb at alpha (blended when alpha < 255). */
static void fill(SDL_Surface *s, const SDL_Rect *rect, uint32_t rgb,
                 Uint8 alpha)
{
	SDL_Surface *t;
	SDL_Rect at;

	if (alpha == 0xff) {
		SDL_FillRect(s, rect, map_rgb(s, rgb));
		return;
	}
	at = rect ? *rect : (SDL_Rect){0, 0, s->w, s->h};
	t = new_frame(at.w, at.h);
	if (!t)
		return;
	SDL_FillRect(t, NULL,
	             SDL_MapRGBA(t->format, (rgb >> 16) & 0xff,
	                         (rgb >> 8) & 0xff, rgb & 0xff, alpha));
	SDL_SetSurfaceBlendMode(t, SDL_BLENDMODE_BLEND);
	SDL_BlitSurface(t, NULL, s, &at);
	SDL_FreeSurface(t);
}

/* ---- text layout --------------------------------------------------- */

void mc__layout_clear(struct mc__layout *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n_lines; i++)
		free(l->lines[i]);
	free(l->lines);
	memset(l, 0, sizeof(*l));
}

static bool push_line(struct mc__layout *l, const char *s, size_t n)
{
	char **grown = realloc(l->lines, (l->n_lines + 1) * sizeof(*grown));
	char *line;

	if (!grown)
		return false;
	l->lines = grown;
	line = malloc(n + 1);
	if (!line)
		return false;
	memcpy(line, s, n);
	line[n] = '\0';
	l->lines[l->n_lines++] = line;
	return true;
}

static int text_width(TTF_Font *font, const char *s)
{
	int w = 0, h = 0;

	if (!*s)
		return 0;
	if (TTF_SizeUTF8(font, s, &w, &h) != 0)
		return 0;
	return w;
}

/* Length of the UTF-8 sequence starting with byte c (1 for stray bytes). */
static size_t utf8_len(unsigned char c)
{
	if (c >= 0xf0)
		return 4;
	if (c >= 0xe0)
		return 3;
	if (c >= 0xc0)
		return 2;
	return 1;
}

/*
 * Split word (n bytes, wider than max_w) between characters: push every
 * full chunk and leave the last in cur (a buffer of at least n + 1).
 */
static bool split_word(TTF_Font *font, const char *word, size_t n, int max_w,
                       struct mc__layout *l, char *cur, size_t *cur_len)
{
	size_t start = 0, i = 0;

	while (i < n) {
		size_t k = utf8_len((unsigned char)word[i]);

		if (i + k > n)
			k = n - i;
		memcpy(cur, word + start, i + k - start);
		cur[i + k - start] = '\0';
		if (i > start && text_width(font, cur) > max_w) {
			if (!push_line(l, word + start, i - start))
				return false;
			start = i;
			continue;
		}
		i += k;
	}
	memcpy(cur, word + start, n - start);
	cur[n - start] = '\0';
	*cur_len = n - start;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* True if [p, q) is a lone dash: "-", "–" or "—". */
static bool is_dash(const char *p, const char *q)
{
	return (q - p == 1 && *p == '-') ||
	       (q - p == 3 && (memcmp(p, "\xe2\x80\x93", 3) == 0 ||
	                       memcmp(p, "\xe2\x80\x94", 3) == 0));
}

/*
 * The end of the word at p (before end).  A lone dash after a word stays
 * with it ("mỏ -"), so that no line starts with a dash.
 */
static const char *word_end(const char *p, const char *end)
{
	for (;;) {
		const char *q, *d;

		while (p < end && !is_blank(*p))
			p++;
		for (q = p; q < end && is_blank(*q); q++)
			;
		for (d = q; d < end && !is_blank(*d); d++)
			;
		if (q == p || q >= end || !is_dash(q, d))
			return p;
		p = d;
	}
}

bool mc__render_wrap(TTF_Font *font, const char *text, int max_w,
                     struct mc__layout *out)
{
	size_t tl = strlen(text);
	char *cur = malloc(tl + 2), *cand = malloc(tl + 2);
	const char *p = text;
	bool ok = false;

	memset(out, 0, sizeof(*out));
	if (!cur || !cand)
		goto done;
	for (;;) { /* one paragraph per turn */
		const char *end = strchr(p, '\n');
		size_t cur_len = 0;

		if (!end)
			end = p + strlen(p);
		cur[0] = '\0';
		while (p < end) {
			const char *w;
			size_t wn;

			while (p < end && is_blank(*p))
				p++;
			if (p >= end)
				break;
			w = p;
			p = word_end(p, end);
			wn = (size_t)(p - w);
			if (cur_len) {
				memcpy(cand, cur, cur_len);
				cand[cur_len] = ' ';
				memcpy(cand + cur_len + 1, w, wn);
				cand[cur_len + 1 + wn] = '\0';
				if (text_width(font, cand) <= max_w) {
					memcpy(cur, cand, cur_len + 1 + wn + 1);
					cur_len += 1 + wn;
					continue;
				}
				if (!push_line(out, cur, cur_len))
					goto done;
			}
			memcpy(cur, w, wn);
			cur[wn] = '\0';
			cur_len = wn;
			if (text_width(font, cur) > max_w) {
				out->broke_word = true;
				if (!split_word(font, w, wn, max_w, out, cur,
				                &cur_len))
					goto done;
			}
		}
		if (!push_line(out, cur, cur_len))
			goto done;
		if (!*end)
			break;
		p = end + 1;
	}
	out->pt = 0;
	out->line_skip = TTF_FontLineSkip(font);
	out->height =
	        (int)(out->n_lines - 1) * out->line_skip + TTF_FontHeight(font);
	for (size_t i = 0; i < out->n_lines; i++) {
		int lw = text_width(font, out->lines[i]);

		if (lw > out->width)
			out->width = lw;
	}
	ok = true;
done:
	if (!ok)
		mc__layout_clear(out);
	free(cur);
	free(cand);
	return ok;
}

/* Lay out at pt; *fits when the block fits the box with no split word. */
static bool layout_at(TTF_Font *font, const char *text, int box_w, int box_h,
                      int pt, struct mc__layout *out, bool *fits)
{
	if (TTF_SetFontSize(font, pt) != 0)
		return false;
	if (!mc__render_wrap(font, text, box_w, out))
		return false;
	out->pt = pt;
	*fits = !out->broke_word && out->height <= box_h && out->width <= box_w;
	return true;
}

bool mc__render_fit(TTF_Font *font, const char *text, int box_w, int box_h,
                    int max_pt, struct mc__layout *out)
{
	int lo = MC__RENDER_MIN_PT, hi = max_pt, best = 0;
	bool fits;

	memset(out, 0, sizeof(*out));
	if (hi > MC__RENDER_MAX_PT)
		hi = MC__RENDER_MAX_PT;
	if (hi < lo)
		hi = lo;
	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct mc__layout l;

		if (!layout_at(font, text, box_w, box_h, mid, &l, &fits))
			return false;
		mc__layout_clear(&l);
		if (fits) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	if (!best)
		best = MC__RENDER_MIN_PT;
	if (!layout_at(font, text, box_w, box_h, best, out, &fits))
		return false;
	if (fits && out->n_lines > 1) {
		/* Balance the lines: the narrowest wrap with as many lines,
		 * so that a last word is not left alone. */
		int wlo = 1, whi = out->width;

		while (wlo < whi) {
			int mid = wlo + (whi - wlo) / 2;
			struct mc__layout l;

			if (!mc__render_wrap(font, text, mid, &l))
				return false;
			if (!l.broke_word && l.n_lines == out->n_lines)
				whi = mid;
			else
				wlo = mid + 1;
			mc__layout_clear(&l);
		}
		if (whi < out->width) {
			struct mc__layout l;

			if (!mc__render_wrap(font, text, whi, &l))
				return false;
			mc__layout_clear(out);
			*out = l;
			out->pt = best;
		}
	}
	return true;
}

/* ---- drawing text -------------------------------------------------- */

/* How a block of text is drawn. */
struct text_look {
	uint32_t fg;           /* text colour */
	enum mc_align align;   /* line alignment in the box */
	enum mc_effect effect; /* outline, shadow or none */
};

/* Blit one rendered line; the blit clips at the frame's edges. */
static void blit_at(SDL_Surface *s, SDL_Surface *dst, int x, int y)
{
	SDL_Rect at = {x, y, 0, 0};

	if (s)
		SDL_BlitSurface(s, NULL, dst, &at);
}

/* Draw one line at (x, y) (top left of its unoutlined box). */
static void draw_line(SDL_Surface *dst, TTF_Font *font, const char *line, int x,
                      int y, const struct text_look *look, int pt)
{
	SDL_Color fg = color_of(look->fg, 0xff);
	SDL_Color dark = brightness(look->fg) > 100 ? color_of(0x000000, 0xff)
	                                            : color_of(0xffffff, 0xff);
	SDL_Surface *s;

	if (!*line)
		return;
	if (look->effect == MC_EFFECT_OUTLINE) {
		int o = pt / 16 > 1 ? pt / 16 : 1;

		TTF_SetFontOutline(font, o);
		s = TTF_RenderUTF8_Blended(font, line, dark);
		TTF_SetFontOutline(font, 0);
		blit_at(s, dst, x - o, y - o);
		SDL_FreeSurface(s);
	} else if (look->effect == MC_EFFECT_SHADOW) {
		int d = pt / 14 > 1 ? pt / 14 : 1;

		s = TTF_RenderUTF8_Blended(font, line, color_of(0, 0xff));
		if (s)
			SDL_SetSurfaceAlphaMod(s, 170);
		blit_at(s, dst, x + d, y + d);
		SDL_FreeSurface(s);
	}
	s = TTF_RenderUTF8_Blended(font, line, fg);
	blit_at(s, dst, x, y);
	SDL_FreeSurface(s);
}

/* Room an effect needs around the glyphs at about max_pt. */
static int effect_margin(enum mc_effect effect, int box_h)
{
	if (effect == MC_EFFECT_NONE)
		return 0;
	return box_h / 40 > 1 ? box_h / 40 : 1;
}

/* Draw a laid-out block centred vertically in box. */
static void draw_layout(SDL_Surface *dst, TTF_Font *font,
                        const struct mc__layout *l, const SDL_Rect *box,
                        const struct text_look *look)
{
	int y = box->y + (box->h - l->height) / 2;

	for (size_t i = 0; i < l->n_lines; i++, y += l->line_skip) {
		int lw = text_width(font, l->lines[i]), x;

		switch (look->align) {
		case MC_ALIGN_LEFT: x = box->x; break;
		case MC_ALIGN_RIGHT: x = box->x + box->w - lw; break;
		default: x = box->x + (box->w - lw) / 2; break;
		}
		draw_line(dst, font, l->lines[i], x, y, look, l->pt);
	}
}

/*
 * Set text as large as fits box (no larger than max_pt; 0 = the box's
 * height) and draw it.  A NULL font draws nothing.
 */
static void draw_text_box(SDL_Surface *dst, TTF_Font *font, const char *text,
                          const SDL_Rect *box, const struct text_look *look,
                          int max_pt)
{
	struct mc__layout l;
	int m = effect_margin(look->effect, box->h);
	SDL_Rect inner = {box->x + m, box->y + m, box->w - 2 * m,
	                  box->h - 2 * m};

	if (!font || !text || !*text || inner.w < 4 || inner.h < 4)
		return;
	if (!mc__render_fit(font, text, inner.w, inner.h,
	                    max_pt > 0 ? max_pt : inner.h, &l)) {
		mc_log_error("render", "out of memory laying out text");
		return;
	}
	if (l.broke_word)
		mc_log_warn("render",
		            "a word is wider than its %dx%d box even at %d pt; "
		            "split between letters",
		            inner.w, inner.h, l.pt);
	draw_layout(dst, font, &l, &inner, look);
	mc__layout_clear(&l);
}

/*
 * Largest size at which one line of text fits w x h (the height bound
 * is the font's height); at least MC__RENDER_MIN_PT.
 */
static int fit_line(TTF_Font *font, const char *text, int w, int h)
{
	int lo = MC__RENDER_MIN_PT, hi = h, best = MC__RENDER_MIN_PT;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;

		TTF_SetFontSize(font, mid);
		if (TTF_FontHeight(font) <= h &&
		    (w <= 0 || text_width(font, text) <= w)) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	TTF_SetFontSize(font, best);
	return best;
}

/* A copy of s with newlines and tabs turned into spaces (NULL = OOM). */
static char *one_line(const char *s)
{
	char *t = mc_strdup(s ? s : "");

	for (char *p = t; p && *p; p++)
		if (*p == '\n' || *p == '\t' || *p == '\r')
			*p = ' ';
	return t;
}

/* Cut t (one line) with "…" until it fits w at the font's size. */
static void truncate_to(TTF_Font *font, char *t, int w)
{
	size_t n = strlen(t);
	char *buf = malloc(n + 4);

	if (!buf)
		return;
	while (n > 0 && text_width(font, t) > w) {
		do
			n--;
		while (n > 0 && ((unsigned char)t[n] & 0xc0) == 0x80);
		memcpy(buf, t, n);
		memcpy(buf + n, "\xe2\x80\xa6", 4);
		if (text_width(font, buf) <= w || n == 0) {
			memcpy(t, buf, n + 4);
			break;
		}
	}
	free(buf);
}

/* ---- images -------------------------------------------------------- */

/* Decode path into an ARGB8888 surface; NULL with err naming the file. */
static SDL_Surface *load_image(const char *path, struct mc_error *err)
{
	SDL_Surface *raw, *s = NULL;

	if (!path) {
		mc_error_set(err, MC_ERR_MISSING, "image: no file");
		return NULL;
	}
	if (access(path, R_OK) != 0) {
		mc_error_set(err, MC_ERR_NOTFOUND, "image %s: cannot read it",
		             path);
		return NULL;
	}
	raw = IMG_Load(path);
	if (!raw) {
		mc_error_set(err, MC_ERR_PARSE, "image %s: cannot decode: %s",
		             path, IMG_GetError());
		return NULL;
	}
	if (raw->w > MAX_IMAGE_SIDE || raw->h > MAX_IMAGE_SIDE) {
		mc_error_set(err, MC_ERR_TOO_LARGE,
		             "image %s: %dx%d is larger than %d on a side",
		             path, raw->w, raw->h, MAX_IMAGE_SIDE);
		goto out;
	}
	s = SDL_ConvertSurfaceFormat(raw, SDL_PIXELFORMAT_ARGB8888, 0);
	if (!s)
		mc_error_set(err, MC_ERR_NOMEM, "image %s: %s", path,
		             SDL_GetError());
	else
		SDL_SetSurfaceBlendMode(s, SDL_BLENDMODE_NONE);
out:
	SDL_FreeSurface(raw);
	return s;
}

/*
 * rc of src averaged over 2x1, 1x2 or 2x2 blocks (a box filter), so that
 * large reductions do not skip pixels.
 */
static SDL_Surface *halve(SDL_Surface *src, const SDL_Rect *rc, bool hx,
                          bool hy)
{
	int fx = hx ? 2 : 1, fy = hy ? 2 : 1, n = fx * fy;
	int w = rc->w / fx, h = rc->h / fy;
	SDL_Surface *d = new_frame(w, h);

	if (!d)
		return NULL;
	for (int y = 0; y < h; y++) {
		Uint32 *out = (Uint32 *)((Uint8 *)d->pixels + y * d->pitch);

		for (int x = 0; x < w; x++) {
			unsigned a = 0, r = 0, g = 0, b = 0;

			for (int j = 0; j < fy; j++) {
				const Uint32 *in =
				        (const Uint32 *)((const Uint8 *)
				                                 src->pixels +
				                         (rc->y + y * fy + j) *
				                                 src->pitch) +
				        rc->x + x * fx;

				for (int i = 0; i < fx; i++) {
					a += in[i] >> 24;
					r += (in[i] >> 16) & 0xff;
					g += (in[i] >> 8) & 0xff;
					b += in[i] & 0xff;
				}
			}
			out[x] = (a / n) << 24 | (r / n) << 16 | (g / n) << 8 |
			         b / n;
		}
	}
	return d;
}

/* Scale srect of src into drect of dst, blending over what is there. */
static void draw_scaled(SDL_Surface *src, const SDL_Rect *srect,
                        SDL_Surface *dst, const SDL_Rect *drect)
{
	SDL_Surface *cur = src, *t;
	SDL_Rect sr = *srect, dr = *drect;

	if (sr.w < 1 || sr.h < 1 || dr.w < 1 || dr.h < 1)
		return;
	for (;;) {
		bool hx = sr.w >= 2 * dr.w, hy = sr.h >= 2 * dr.h;
		SDL_Surface *n;

		if (!hx && !hy)
			break;
		n = halve(cur, &sr, hx, hy);
		if (!n)
			break;
		if (cur != src)
			SDL_FreeSurface(cur);
		cur = n;
		sr = (SDL_Rect){0, 0, n->w, n->h};
	}
	if (sr.w == dr.w && sr.h == dr.h) {
		/* Nothing left to scale: blend straight in, without the
		 * frame-sized intermediate (8 MB at 1080p). */
		SDL_BlendMode was = SDL_BLENDMODE_NONE;

		SDL_GetSurfaceBlendMode(cur, &was);
		SDL_SetSurfaceBlendMode(cur, SDL_BLENDMODE_BLEND);
		SDL_BlitSurface(cur, &sr, dst, &dr);
		SDL_SetSurfaceBlendMode(cur, was);
		t = NULL;
	} else {
		t = new_frame(dr.w, dr.h);
	}
	if (t) {
		if (SDL_SoftStretchLinear(cur, &sr, t, NULL) != 0)
			SDL_BlitScaled(cur, &sr, t, NULL);
		SDL_SetSurfaceBlendMode(t, SDL_BLENDMODE_BLEND);
		SDL_BlitSurface(t, NULL, dst, &dr);
		SDL_FreeSurface(t);
	}
	if (cur != src)
		SDL_FreeSurface(cur);
}

/*
 * img (ARGB8888, from load_image) as drawn over black: translucent pixels
 * darkened by their alpha and made opaque, like a blend onto a black frame.
 */
static void onto_black(SDL_Surface *img)
{
	for (int y = 0; y < img->h; y++) {
		Uint32 *px = (Uint32 *)((Uint8 *)img->pixels + y * img->pitch);

		for (int x = 0; x < img->w; x++) {
			Uint32 v = px[x], a = v >> 24;

			if (a == 0xff)
				continue;
			px[x] = 0xff000000u |
			        (((v >> 16 & 0xff) * a + 127) / 255) << 16 |
			        (((v >> 8 & 0xff) * a + 127) / 255) << 8 |
			        ((v & 0xff) * a + 127) / 255;
		}
	}
	SDL_SetSurfaceBlendMode(img, SDL_BLENDMODE_BLEND);
}

/* Draw img over the whole of dst by fit. */
static void draw_fit(SDL_Surface *dst, SDL_Surface *img, enum mc_fit fit)
{
	SDL_Rect sr = {0, 0, img->w, img->h}, dr = {0, 0, dst->w, dst->h};
	int64_t iw = img->w, ih = img->h, dw = dst->w, dh = dst->h;

	switch (fit) {
	case MC_FIT_COVER:
		/* Crop the source to the frame's aspect, centred. */
		if (iw * dh > ih * dw) {
			sr.w = (int)((ih * dw + dh / 2) / dh);
			sr.x = (img->w - sr.w) / 2;
		} else {
			sr.h = (int)((iw * dh + dw / 2) / dw);
			sr.y = (img->h - sr.h) / 2;
		}
		break;
	case MC_FIT_CONTAIN:
		if (iw * dh > ih * dw) {
			dr.h = (int)((ih * dw + iw / 2) / iw);
			dr.y = (dst->h - dr.h) / 2;
		} else {
			dr.w = (int)((iw * dh + ih / 2) / ih);
			dr.x = (dst->w - dr.w) / 2;
		}
		break;
	default: break;
	}
	draw_scaled(img, &sr, dst, &dr);
}

/* ---- fonts --------------------------------------------------------- */

static TTF_Font *open_font(const char *path)
{
	TTF_Font *f = TTF_OpenFont(path, 32);

	if (f) {
		TTF_SetFontHinting(f, TTF_HINTING_LIGHT);
		TTF_SetFontKerning(f, 1);
	}
	return f;
}

/* "Noto Sans" -> "NotoSans"; NULL when it holds nothing usable. */
static char *family_file_stem(const char *family)
{
	char *s = malloc(strlen(family) + 1), *o = s;

	if (!s)
		return NULL;
	for (const char *p = family; *p; p++) {
		if (*p == '/' || *p == '.')
			goto bad;
		if (*p != ' ')
			*o++ = *p;
	}
	*o = '\0';
	if (o > s)
		return s;
bad:
	free(s);
	return NULL;
}

/*
 * The file of a style's font: a path as given, or a family name looked
 * up as <Family>-Bold.ttf then <Family>-Regular.ttf in font_dirs.  *same
 * is set when it names the default font's family.  NULL = not found.
 */
static char *resolve_font(const struct mc_render *r, const char *name,
                          bool *same)
{
	static const char *const styles[] = {"-Bold.ttf", "-Regular.ttf",
	                                     ".ttf", "-Bold.otf",
	                                     "-Regular.otf"};
	const char *base;
	char *stem, *found = NULL;

	*same = false;
	if (strchr(name, '/'))
		return access(name, R_OK) == 0 ? mc_strdup(name) : NULL;
	stem = family_file_stem(name);
	if (!stem)
		return NULL;
	base = strrchr(r->font_path, '/');
	base = base ? base + 1 : r->font_path;
	if (strncmp(base, stem, strlen(stem)) == 0 &&
	    base[strlen(stem)] == '-') {
		*same = true;
		goto out;
	}
	for (size_t d = 0; d < MC_ARRAY_LEN(font_dirs) && !found; d++)
		for (size_t i = 0; i < MC_ARRAY_LEN(styles) && !found; i++) {
			char *p = mc_printf("%s/%s%s", font_dirs[d], stem,
			                    styles[i]);

			if (p && access(p, R_OK) == 0)
				found = p;
			else
				free(p);
		}
out:
	free(stem);
	return found;
}

/* The font a slogan's style asks for, or the default one. */
static TTF_Font *style_font(struct mc_render *r, const char *name)
{
	char *path;
	bool same;

	if (!r->font || !name || !*name)
		return r->font;
	if (r->alt_name && strcmp(r->alt_name, name) == 0)
		return r->alt ? r->alt : r->font;
	free(r->alt_name);
	if (r->alt)
		TTF_CloseFont(r->alt);
	r->alt = NULL;
	r->alt_name = mc_strdup(name);
	path = resolve_font(r, name, &same);
	if (same || (path && strcmp(path, r->font_path) == 0)) {
		free(path);
		return r->font;
	}
	if (path)
		r->alt = open_font(path);
	if (!r->alt)
		mc_log_warn("render",
		            "font \"%s\" %s; slogans that ask for it use %s",
		            name,
		            path ? "cannot be loaded" : "is not installed",
		            r->font_path);
	else
		mc_log_info("render", "font \"%s\": %s", name, path);
	free(path);
	return r->alt ? r->alt : r->font;
}

/* ---- the renderer -------------------------------------------------- */

struct mc_render *mc_render_new(const struct mc_render_opts *o,
                                struct mc_error *err)
{
	struct mc_render *r = NULL;

	if (o->width < 16 || o->height < 16 || o->width > 16384 ||
	    o->height > 16384) {
		mc_error_set(err, MC_ERR_RANGE,
		             "render size %dx%d: expected 16..16384 a side",
		             o->width, o->height);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		mc_error_set(err, MC_ERR_NOMEM, "render: no memory");
		return NULL;
	}
	r->w = o->width;
	r->h = o->height;
	r->node = mc_strdup(o->node ? o->node : "minecast");
	IMG_Init(IMG_INIT_PNG | IMG_INIT_JPG | IMG_INIT_WEBP);
	if (!o->font)
		return r; /* images and colours only */
	if (TTF_Init() != 0) {
		mc_error_set(err, MC_ERR_UNSUPPORTED, "font engine: %s",
		             TTF_GetError());
		goto fail;
	}
	r->ttf_init = true;
	r->font_path = mc_strdup(o->font);
	if (access(o->font, R_OK) != 0) {
		mc_error_set(err, MC_ERR_NOTFOUND,
		             "font %s: cannot read it (install fonts-noto-core "
		             "or set [screen] font)",
		             o->font);
		goto fail;
	}
	r->font = open_font(o->font);
	if (!r->font) {
		mc_error_set(err, MC_ERR_PARSE, "font %s: cannot load: %s",
		             o->font, TTF_GetError());
		goto fail;
	}
	return r;
fail:
	mc_render_free(r);
	return NULL;
}

void mc_render_free(struct mc_render *r)
{
	if (!r)
		return;
	if (r->alt)
		TTF_CloseFont(r->alt);
	if (r->font)
		TTF_CloseFont(r->font);
	if (r->ttf_init)
		TTF_Quit();
	free(r->alt_name);
	free(r->font_path);
	free(r->node);
	free(r);
}

TTF_Font *mc__render_font(struct mc_render *r)
{
	return r->font;
}

/* The slogan's text box: the frame less 8 % on every side. */
static SDL_Rect slogan_box(const struct mc_render *r)
{
	int px = r->w * 8 / 100, py = r->h * 8 / 100;

	return (SDL_Rect){px, py, r->w - 2 * px, r->h - 2 * py};
}

static SDL_Surface *render_slogan(struct mc_render *r, const struct mc_play *p,
                                  struct mc_error *err)
{
	const struct mc_content *c = p->content;
	const struct mc_style *st = &c->style;
	SDL_Surface *f = new_frame(r->w, r->h);
	struct text_look look = {st->fg, st->align, st->effect};
	SDL_Rect box = slogan_box(r);

	if (!f) {
		mc_error_set(err, MC_ERR_NOMEM, "%s: %s", c->id,
		             SDL_GetError());
		return NULL;
	}
	fill(f, NULL, st->bg, 0xff);
	if (p->bg_path) {
		struct mc_error e2 = {0};
		SDL_Surface *bg = load_image(p->bg_path, &e2);

		/* The slogan still shows, on its colour. */
		if (bg)
			draw_fit(f, bg, MC_FIT_COVER);
		else
			mc_log_warn("render",
			            "%s: background %s; drawn on its colour",
			            c->id, e2.msg);
		SDL_FreeSurface(bg);
	}
	if (!st->ticker)
		draw_text_box(f, style_font(r, st->font),
		              p->text ? p->text : c->text, &box, &look, 0);
	return f;
}

SDL_Surface *mc_render_play(struct mc_render *r, const struct mc_play *p,
                            struct mc_error *err)
{
	const struct mc_content *c = p->content;
	SDL_Surface *f, *img;
	struct mc_error e2 = {0};

	if (!c)
		return mc_render_idle(r, p->reason);
	switch (c->type) {
	case MC_CONTENT_SLOGAN: return render_slogan(r, p, err);
	case MC_CONTENT_IMAGE:
		img = load_image(p->path, &e2);
		if (!img) {
			mc_error_set(err, e2.code, "%s: %s", c->id, e2.msg);
			return NULL;
		}
		if (img->w == r->w && img->h == r->h) {
			/* Frame-sized: every fit is the picture itself on
			 * black, drawn in place rather than copied. */
			onto_black(img);
			return img;
		}
		f = new_frame(r->w, r->h);
		if (f) {
			fill(f, NULL, 0x000000, 0xff);
			draw_fit(f, img, c->fit);
		} else {
			mc_error_set(err, MC_ERR_NOMEM, "%s: %s", c->id,
			             SDL_GetError());
		}
		SDL_FreeSurface(img);
		return f;
	default:
		mc_error_set(err, MC_ERR_INVAL, "%s: %s content has no picture",
		             c->id, mc_content_type_name(c->type));
		return NULL;
	}
}

/* What the built-in screen says for a reason, in Vietnamese and English. */
static void idle_words(const char *reason, const char **vi, const char **en)
{
	static const struct {
		const char *reason, *vi, *en;
	} words[] = {
	        {"idle", "Chưa có lịch phát", "nothing scheduled"},
	        {"fallback", "Chưa có lịch phát", "nothing scheduled"},
	        {"clock", "Đang chờ đồng bộ đồng hồ",
	         "waiting for the clock to be synchronised"},
	        {"no manifest", "Chưa nhận được lịch phát",
	         "no schedule received yet"},
	        {"late", "Chưa có lịch phát", "nothing scheduled"},
	        {"not present", "Chưa có lịch phát", "nothing scheduled"},
	};

	*vi = "Không có nội dung để phát";
	*en = reason && *reason ? reason : "nothing to show";
	if (!reason || !*reason)
		reason = "idle";
	for (size_t i = 0; i < MC_ARRAY_LEN(words); i++)
		if (strcmp(words[i].reason, reason) == 0) {
			*vi = words[i].vi;
			*en = words[i].en;
		}
}

SDL_Surface *mc_render_idle(struct mc_render *r, const char *reason)
{
	SDL_Surface *f = new_frame(r->w, r->h);
	const char *vi, *en;
	int w = r->w, h = r->h;
	SDL_Rect brand = {w / 10, h * 6 / 100, w * 8 / 10, h * 7 / 100};
	SDL_Rect node = {w / 10, h * 26 / 100, w * 8 / 10, h * 22 / 100};
	SDL_Rect rule = {w * 3 / 10, h * 53 / 100, w * 4 / 10,
	                 h / 180 > 1 ? h / 180 : 1};
	SDL_Rect vbox = {w / 10, h * 58 / 100, w * 8 / 10, h * 12 / 100};
	SDL_Rect ebox = {w / 10, h * 71 / 100, w * 8 / 10, h * 7 / 100};
	struct text_look look = {0xeceff1, MC_ALIGN_CENTER, MC_EFFECT_NONE};

	if (!f)
		return NULL;
	idle_words(reason, &vi, &en);
	fill(f, NULL, 0x1c262b, 0xff);
	fill(f, &rule, 0xffc107, 0xff);
	look.fg = 0x78909c;
	draw_text_box(f, r->font, "minecast", &brand, &look, 0);
	look.fg = 0xffffff;
	draw_text_box(f, r->font, r->node, &node, &look, 0);
	look.fg = 0xffd54f;
	draw_text_box(f, r->font, vi, &vbox, &look, 0);
	look.fg = 0xb0bec5;
	draw_text_box(f, r->font, en, &ebox, &look, 0);
	return f;
}

SDL_Surface *mc_render_alert(struct mc_render *r, const struct mc_alert *a)
{
	static const struct {
		const char *word; /* the level, in Vietnamese */
		uint32_t bg;      /* the screen */
		uint32_t fg;      /* the alert's text */
		uint32_t band;    /* the level's band */
		uint32_t word_fg; /* the level word */
	} levels[] = {
	        [MC_ALERT_INFO] = {"THÔNG BÁO", 0x0d47a1, 0xffffff, 0x062a63,
	                           0xffffff},
	        [MC_ALERT_WARNING] = {"CẢNH BÁO", 0xffb300, 0x000000, 0x000000,
	                              0xffc107},
	        [MC_ALERT_DANGER] = {"NGUY HIỂM", 0xb71c1c, 0xffffff, 0x6d0000,
	                             0xffeb3b},
	        [MC_ALERT_EVACUATE] = {"SƠ TÁN", 0xd50000, 0xffffff, 0xffffff,
	                               0xd50000},
	};
	unsigned lv = a && (unsigned)a->level < MC_ARRAY_LEN(levels)
	                      ? (unsigned)a->level
	                      : MC_ALERT_DANGER;
	SDL_Surface *f = new_frame(r->w, r->h);
	int w = r->w, h = r->h, bh = h * 24 / 100;
	int edge = lv == MC_ALERT_EVACUATE ? (h / 60 > 2 ? h / 60 : 2) : 0;
	SDL_Rect band = {0, 0, w, bh};
	SDL_Rect wbox = {w * 6 / 100, bh * 12 / 100, w * 88 / 100,
	                 bh * 76 / 100};
	SDL_Rect body = {w * 6 / 100, bh + h * 5 / 100, w * 88 / 100,
	                 h - bh - h * 10 / 100};
	struct text_look look = {levels[lv].word_fg, MC_ALIGN_CENTER,
	                         MC_EFFECT_NONE};

	if (!f)
		return NULL;
	fill(f, NULL, levels[lv].bg, 0xff);
	if (edge) {
		/* Evacuate: a white frame round the red, like a sign. */
		SDL_Rect in = {edge, edge, w - 2 * edge, h - 2 * edge};

		fill(f, NULL, 0xffffff, 0xff);
		fill(f, &in, levels[lv].bg, 0xff);
		band = (SDL_Rect){edge, edge, w - 2 * edge, bh - edge};
	}
	fill(f, &band, levels[lv].band, 0xff);
	draw_text_box(f, r->font, levels[lv].word, &wbox, &look, 0);
	look.fg = levels[lv].fg;
	if (a && a->text)
		draw_text_box(f, r->font, a->text, &body, &look, h / 6);
	return f;
}

void mc_render_identify(struct mc_render *r, SDL_Surface *dst, const char *text)
{
	int w = dst->w, h = dst->h, b = h / 200 > 2 ? h / 200 : 2;
	SDL_Rect box = {w / 10, h / 4, w * 8 / 10, h / 2};
	SDL_Rect in = {box.x + b, box.y + b, box.w - 2 * b, box.h - 2 * b};
	SDL_Rect tbox = {box.x + box.w / 16, box.y + box.h / 10,
	                 box.w - box.w / 8, box.h - box.h / 5};
	struct text_look look = {0xffffff, MC_ALIGN_CENTER, MC_EFFECT_NONE};

	fill(dst, &box, 0xffc107, 0xff);
	fill(dst, &in, 0x000000, 0xff);
	draw_text_box(dst, r->font, text ? text : r->node, &tbox, &look, h / 8);
}

void mc_render_banner(struct mc_render *r, SDL_Surface *dst, const char *text)
{
	int bh = dst->h * 8 / 100 > 24 ? dst->h * 8 / 100 : 24;
	int pad = bh / 3, pt_h, pt;
	SDL_Rect bar = {0, 0, dst->w, bh};
	char *line, *t;
	struct text_look look = {0xffffff, MC_ALIGN_LEFT, MC_EFFECT_NONE};
	int tw;

	fill(dst, &bar, 0xb71c1c, 0xe6);
	bar.h = bh / 14 > 1 ? bh / 14 : 1;
	bar.y = bh - bar.h;
	fill(dst, &bar, 0xffd54f, 0xff);
	if (!r->font)
		return;
	t = one_line(text);
	line = mc_printf("ĐANG PHÁT THANH: %s", t ? t : "");
	free(t);
	if (!line)
		return;
	/* As large as the bar allows; smaller (to 60 %) to fit a long
	 * name, then cut with an ellipsis. */
	pt_h = fit_line(r->font, line, 0, bh * 80 / 100);
	pt = fit_line(r->font, line, dst->w - 2 * pad, bh * 80 / 100);
	if (pt < pt_h * 6 / 10)
		pt = pt_h * 6 / 10 > MC__RENDER_MIN_PT ? pt_h * 6 / 10
		                                       : MC__RENDER_MIN_PT;
	TTF_SetFontSize(r->font, pt);
	truncate_to(r->font, line, dst->w - 2 * pad);
	tw = TTF_FontHeight(r->font);
	draw_line(dst, r->font, line, pad, (bh - bar.h - tw) / 2, &look, pt);
	free(line);
}

SDL_Surface *mc_render_ticker_strip(struct mc_render *r,
                                    const struct mc_content *c,
                                    const char *text, int height)
{
	TTF_Font *font = style_font(r, c ? c->style.font : NULL);
	struct text_look look = {c ? c->style.fg : 0xffffff, MC_ALIGN_LEFT,
	                         c ? c->style.effect : MC_EFFECT_NONE};
	char *line = one_line(text ? text : c ? c->text : "");
	SDL_Surface *f = NULL;
	int pt, tw, fh, pad = height / 2;

	if (!line || height < 4)
		goto out;
	if (!font) {
		f = new_frame(height, height);
		if (f)
			fill(f, NULL, c ? c->style.bg : 0, 0xff);
		goto out;
	}
	pt = fit_line(font, line, 0, height * 80 / 100);
	tw = text_width(font, line);
	fh = TTF_FontHeight(font);
	f = new_frame(tw + 2 * pad, height);
	if (!f)
		goto out;
	fill(f, NULL, c ? c->style.bg : 0x000000, 0xff);
	draw_line(f, font, line, pad, (height - fh) / 2, &look, pt);
out:
	free(line);
	return f;
}

/* ---- PNG into memory ----------------------------------------------- */

/* A growable buffer behind an SDL_RWops. */
struct membuf {
	unsigned char *p; /* the bytes */
	size_t len;       /* bytes written (the file's size) */
	size_t cap;       /* allocated */
	size_t pos;       /* the write position */
	bool oom;         /* an allocation failed */
};

static size_t SDLCALL mem_write(SDL_RWops *rw, const void *ptr, size_t size,
                                size_t num)
{
	struct membuf *m = rw->hidden.unknown.data1;
	size_t n = size * num;

	if (num && n / num != size)
		return 0;
	if (m->pos + n > m->cap) {
		size_t cap = m->cap ? m->cap : 64 * 1024;
		unsigned char *p;

		while (cap < m->pos + n)
			cap *= 2;
		p = realloc(m->p, cap);
		if (!p) {
			m->oom = true;
			return 0;
		}
		m->p = p;
		m->cap = cap;
	}
	memcpy(m->p + m->pos, ptr, n);
	m->pos += n;
	if (m->pos > m->len)
		m->len = m->pos;
	return num;
}

static size_t SDLCALL mem_read(SDL_RWops *rw, void *ptr, size_t size,
                               size_t num)
{
	(void)rw;
	(void)ptr;
	(void)size;
	(void)num;
	return 0;
}

static Sint64 SDLCALL mem_seek(SDL_RWops *rw, Sint64 off, int whence)
{
	struct membuf *m = rw->hidden.unknown.data1;
	Sint64 base = whence == RW_SEEK_SET   ? 0
	              : whence == RW_SEEK_CUR ? (Sint64)m->pos
	                                      : (Sint64)m->len;

	if (base + off < 0 || base + off > (Sint64)m->len)
		return -1;
	m->pos = (size_t)(base + off);
	return (Sint64)m->pos;
}

static Sint64 SDLCALL mem_size(SDL_RWops *rw)
{
	return (Sint64)((struct membuf *)rw->hidden.unknown.data1)->len;
}

static int SDLCALL mem_close(SDL_RWops *rw)
{
	SDL_FreeRW(rw);
	return 0;
}

enum mc_err mc_render_png(SDL_Surface *s, unsigned char **png, size_t *len,
                          struct mc_error *err)
{
	struct membuf m = {0};
	SDL_Surface *rgb;
	SDL_RWops *rw;
	enum mc_err rc = MC_OK;

	*png = NULL;
	*len = 0;
	/* Frames are opaque: RGB makes the file a quarter smaller. */
	rgb = SDL_ConvertSurfaceFormat(s, SDL_PIXELFORMAT_RGB24, 0);
	if (!rgb)
		return mc_error_set(err, MC_ERR_NOMEM, "png: %s",
		                    SDL_GetError());
	rw = SDL_AllocRW();
	if (!rw) {
		rc = mc_error_set(err, MC_ERR_NOMEM, "png: %s", SDL_GetError());
		goto out;
	}
	rw->type = SDL_RWOPS_UNKNOWN;
	rw->hidden.unknown.data1 = &m;
	rw->write = mem_write;
	rw->read = mem_read;
	rw->seek = mem_seek;
	rw->size = mem_size;
	rw->close = mem_close;
	if (IMG_SavePNG_RW(rgb, rw, 1) != 0 || m.oom) {
		rc = mc_error_set(err, m.oom ? MC_ERR_NOMEM : MC_ERR_IO,
		                  "png: %s",
		                  m.oom ? "no memory" : IMG_GetError());
		free(m.p);
		goto out;
	}
	*png = m.p;
	*len = m.len;
out:
	SDL_FreeSurface(rgb);
	return rc;
}
