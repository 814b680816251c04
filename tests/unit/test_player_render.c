/*
 * Unit tests of the render module (player/render/render.c): golden
 * images of what a screen shows (the 12/11 slogan of the November
 * campaign with its diacritics, a pano in contain/cover/stretch, a
 * portrait slogan, a slogan on a pano, the alert takeover at every level,
 * the built-in screen, the overlays, a ticker line), and the rules behind
 * them: word wrap never splits a word, text is sized to fill its box, a
 * corrupt image or a missing font is an error naming the file.
 *
 * Goldens are the PNG files in tests/golden/; its README.md says how they
 * are compared and regenerated (MC_GOLDEN_UPDATE=1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <SDL2/SDL.h>
#include <SDL2/SDL_image.h>
#include <SDL2/SDL_ttf.h>

#include "minecast/codec.h"
#include "minecast/sched.h"
#include "minecast/util.h"

#include "config.h"
#include "outputs/output.h"
#include "render/render.h"
#include "render/render_internal.h"

#define FONT     "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"
#define CAMPAIGN MC_SOURCE_DIR "/playlists/november-2023.json"
#define GOLDEN   MC_SOURCE_DIR "/tests/golden"
#define OUTDIR   MC_BINARY_DIR "/tests/golden-out"

/* Tolerances: fonts and scalers may differ by a hair between builds. */
#define MAX_MEAN_DIFF  1.0
#define MAX_PIXEL_DIFF 32

static char tmpdir[64];   /* scratch files of this run */
static char test_png[96]; /* the generated 400x400 test pattern */

/* ---- helpers ------------------------------------------------------- */

static struct mc_render *new_render(int w, int h)
{
	struct mc_render_opts o = {w, h, FONT, "pi-cua-lo-01"};
	struct mc_error err = {0};
	struct mc_render *r = mc_render_new(&o, &err);

	if (!r)
		fail_msg("mc_render_new: %s", err.msg);
	return r;
}

static Uint32 pixel(SDL_Surface *s, int x, int y)
{
	return ((Uint32 *)((Uint8 *)s->pixels + y * s->pitch))[x] & 0xffffff;
}

static SDL_Surface *argb(SDL_Surface *s)
{
	SDL_Surface *c =
	        SDL_ConvertSurfaceFormat(s, SDL_PIXELFORMAT_ARGB8888, 0);

	assert_non_null(c);
	return c;
}

static void save_png(SDL_Surface *s, const char *path)
{
	unsigned char *png;
	size_t len;
	struct mc_error err = {0};

	assert_int_equal(mc_render_png(s, &png, &len, &err), MC_OK);
	assert_int_equal(mc_write_file_atomic(path, png, len, 0644, &err),
	                 MC_OK);
	free(png);
}

/*
 * Compare frame with tests/golden/<name>.png.  On a mismatch write
 * <name>.actual.png and <name>.diff.png (differences, amplified) under
 * OUTDIR and fail naming them.  MC_GOLDEN_UPDATE=1 rewrites the golden.
 */
static void check_golden(SDL_Surface *frame, const char *name)
{
	char *gpath = mc_printf("%s/%s.png", GOLDEN, name);
	char *apath = mc_printf("%s/%s.actual.png", OUTDIR, name);
	char *dpath = mc_printf("%s/%s.diff.png", OUTDIR, name);
	const char *update = getenv("MC_GOLDEN_UPDATE");
	SDL_Surface *raw, *g = NULL, *a = argb(frame), *d = NULL;
	double sum = 0, mean;
	int maxd = 0;

	assert_non_null(frame);
	if (update && strcmp(update, "1") == 0) {
		save_png(frame, gpath);
		fprintf(stderr, "golden %s rewritten\n", gpath);
		goto out;
	}
	raw = IMG_Load(gpath);
	if (!raw)
		fail_msg("golden %s: %s (MC_GOLDEN_UPDATE=1 writes it)", gpath,
		         IMG_GetError());
	g = argb(raw);
	SDL_FreeSurface(raw);
	d = SDL_CreateRGBSurfaceWithFormat(0, a->w, a->h, 32,
	                                   SDL_PIXELFORMAT_ARGB8888);
	assert_non_null(d);
	if (g->w != a->w || g->h != a->h) {
		mkdir(MC_BINARY_DIR "/tests", 0755);
		mkdir(OUTDIR, 0755);
		save_png(frame, apath);
		fail_msg("%s: size %dx%d, golden %s is %dx%d; actual in %s",
		         name, a->w, a->h, gpath, g->w, g->h, apath);
	}
	for (int y = 0; y < a->h; y++)
		for (int x = 0; x < a->w; x++) {
			Uint32 p = pixel(a, x, y), q = pixel(g, x, y), o = 0;

			for (int sh = 0; sh < 24; sh += 8) {
				int dv = abs((int)((p >> sh) & 0xff) -
				             (int)((q >> sh) & 0xff));

				sum += dv;
				if (dv > maxd)
					maxd = dv;
				o |= (Uint32)(dv * 4 > 255 ? 255 : dv * 4)
				     << sh;
			}
			((Uint32 *)((Uint8 *)d->pixels + y * d->pitch))[x] =
			        0xff000000u | o;
		}
	mean = sum / ((double)a->w * a->h * 3);
	if (mean >= MAX_MEAN_DIFF || maxd >= MAX_PIXEL_DIFF) {
		mkdir(MC_BINARY_DIR "/tests", 0755);
		mkdir(OUTDIR, 0755);
		save_png(frame, apath);
		save_png(d, dpath);
		fail_msg("%s differs from %s: mean %.3f (limit %.1f), max %d "
		         "(limit %d); actual %s, diff %s",
		         name, gpath, mean, MAX_MEAN_DIFF, maxd, MAX_PIXEL_DIFF,
		         apath, dpath);
	}
out:
	SDL_FreeSurface(a);
	SDL_FreeSurface(g);
	SDL_FreeSurface(d);
	free(gpath);
	free(apath);
	free(dpath);
}

/*
 * A 400x400 test pattern: a magenta border, four coloured quadrants, a
 * white cross and a black square in the middle.
 */
static void make_test_png(const char *path)
{
	SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(
	        0, 400, 400, 32, SDL_PIXELFORMAT_ARGB8888);
	SDL_Rect r;

	assert_non_null(s);
	SDL_FillRect(s, NULL, 0xffff00ff);
	r = (SDL_Rect){20, 20, 180, 180};
	SDL_FillRect(s, &r, 0xffd32f2f);
	r = (SDL_Rect){200, 20, 180, 180};
	SDL_FillRect(s, &r, 0xff388e3c);
	r = (SDL_Rect){20, 200, 180, 180};
	SDL_FillRect(s, &r, 0xff1976d2);
	r = (SDL_Rect){200, 200, 180, 180};
	SDL_FillRect(s, &r, 0xfffbc02d);
	r = (SDL_Rect){190, 20, 20, 360};
	SDL_FillRect(s, &r, 0xffffffff);
	r = (SDL_Rect){20, 190, 360, 20};
	SDL_FillRect(s, &r, 0xffffffff);
	r = (SDL_Rect){170, 170, 60, 60};
	SDL_FillRect(s, &r, 0xff000000);
	assert_int_equal(IMG_SavePNG(s, path), 0);
	SDL_FreeSurface(s);
}

static struct mc_manifest *campaign(void)
{
	struct mc_manifest *m = NULL;
	struct mc_error err = {0};

	if (mc_manifest_load(CAMPAIGN, MC_DOC_CAMPAIGN, &m, &err) != MC_OK)
		fail_msg("%s", err.msg);
	return m;
}

static const struct mc_content *content(const struct mc_manifest *m,
                                        const char *id)
{
	const struct mc_content *c = mc_manifest_content(m, id);

	if (!c)
		fail_msg("%s: no content %s", CAMPAIGN, id);
	return c;
}

static SDL_Surface *play(struct mc_render *r, const struct mc_content *c,
                         const char *text, const char *path,
                         const char *bg_path)
{
	struct mc_play p = {0};
	struct mc_error err = {0};
	SDL_Surface *f;

	p.channel = MC_CH_SCREEN;
	p.content = c;
	p.text = text ? text : c->text;
	p.path = path;
	p.bg_path = bg_path;
	f = mc_render_play(r, &p, &err);
	if (!f)
		fail_msg("mc_render_play %s: %s", c->id, err.msg);
	return f;
}

/* ---- fixtures ------------------------------------------------------ */

static int group_setup(void **state)
{
	(void)state;
	if (access(FONT, R_OK) != 0) {
		fprintf(stderr, "%s missing: install fonts-noto-core\n", FONT);
		return -1;
	}
	strcpy(tmpdir, "/tmp/mc-render-test-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(test_png, sizeof(test_png), "%s/pattern.png", tmpdir);
	make_test_png(test_png);
	return 0;
}

static int group_teardown(void **state)
{
	char *p = mc_printf("%s/corrupt.png", tmpdir);

	(void)state;
	unlink(test_png);
	unlink(p);
	free(p);
	rmdir(tmpdir);
	return 0;
}

/* ---- goldens ------------------------------------------------------- */

/* (a) What the campaign shows on 12/11/2023 at 00:00:25, 1920x1080. */
static void test_golden_slogan_12_11(void **state)
{
	struct mc_manifest *m = campaign();
	struct mc_error err = {0};
	struct mc_sched *s = mc_sched_new(m, &err);
	struct mc_now now = {0};
	struct mc_render *r = new_render(1920, 1080);
	SDL_Surface *f;
	/* 2023-11-12T00:00:25+07:00: the 12/11 playlist's second item. */
	int64_t t = 1699722025000;

	(void)state;
	assert_non_null(s);
	assert_int_equal(mc_sched_now(s, NULL, MC_CH_SCREEN, t, NULL, &now),
	                 MC_OK);
	assert_int_equal(now.kind, MC_NOW_SCHEDULED);
	assert_string_equal(now.content->id, "slogan-vung-mo");
	assert_non_null(strstr(now.text, "87 năm"));
	assert_non_null(strstr(now.text, "(12/11/1936 – 12/11/2023)"));
	f = play(r, now.content, now.text, NULL, NULL);
	assert_int_equal(f->w, 1920);
	assert_int_equal(f->h, 1080);
	check_golden(f, "slogan-12-11-1920x1080");
	SDL_FreeSurface(f);
	mc_render_free(r);
	mc_now_clear(&now);
	mc_sched_free(s);
	mc_manifest_free(m);
}

/*
 * A frame-sized image is drawn as itself, whatever the fit, and a
 * translucent one as over black: the same as a blend onto a black frame.
 */
static void test_frame_sized_image(void **state)
{
	static const enum mc_fit fits[] = {MC_FIT_CONTAIN, MC_FIT_COVER,
	                                   MC_FIT_STRETCH};
	struct mc_render *r = new_render(480, 270);
	SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(
	        0, 480, 270, 32, SDL_PIXELFORMAT_ARGB8888);
	char path[160];
	SDL_Rect half = {240, 0, 240, 270};

	(void)state;
	assert_non_null(s);
	/* Left half opaque orange, right half orange at alpha 0x80. */
	SDL_FillRect(s, NULL, 0xffff8000);
	SDL_FillRect(s, &half, 0x80ff8000);
	snprintf(path, sizeof(path), "%s/frame-sized.png", tmpdir);
	assert_int_equal(IMG_SavePNG(s, path), 0);
	SDL_FreeSurface(s);
	for (size_t i = 0; i < MC_ARRAY_LEN(fits); i++) {
		struct mc_content c = {0};
		SDL_Surface *f;

		c.id = (char *)"pano-frame";
		c.type = MC_CONTENT_IMAGE;
		c.fit = fits[i];
		c.has_asset = true;
		f = play(r, &c, NULL, path, NULL);
		assert_int_equal(f->w, 480);
		assert_int_equal(f->h, 270);
		assert_int_equal(f->format->format, SDL_PIXELFORMAT_ARGB8888);
		assert_int_equal(pixel(f, 0, 0), 0xff8000);
		assert_int_equal(pixel(f, 239, 269), 0xff8000);
		/* 0xff * 0x80 / 0xff = 0x80; 0x80 * 0x80 / 0xff = 0x40. */
		assert_int_equal(pixel(f, 240, 0), 0x804000);
		assert_int_equal(pixel(f, 479, 269), 0x804000);
		/* Opaque, as every frame is. */
		assert_int_equal(((Uint32 *)f->pixels)[479] >> 24, 0xff);
		SDL_FreeSurface(f);
	}
	mc_render_free(r);
}

/* (b) A square test pattern on a 16:9 screen, each fit. */
static void fit_case(enum mc_fit fit, const char *golden)
{
	struct mc_render *r = new_render(480, 270);
	struct mc_content c = {0};
	SDL_Surface *f;

	c.id = (char *)"pano-test";
	c.type = MC_CONTENT_IMAGE;
	c.fit = fit;
	c.has_asset = true;
	f = play(r, &c, NULL, test_png, NULL);
	switch (fit) {
	case MC_FIT_CONTAIN:
		/* Pillarboxed: black bars left and right, the whole square
		 * (magenta border top and bottom) in the middle 270x270. */
		assert_int_equal(pixel(f, 10, 135), 0x000000);
		assert_int_equal(pixel(f, 470, 135), 0x000000);
		assert_int_equal(pixel(f, 240, 3), 0xff00ff);
		assert_int_equal(pixel(f, 106, 135), 0xff00ff);
		break;
	case MC_FIT_COVER:
		/* Cropped top and bottom: no bars, no border at the top. */
		assert_int_equal(pixel(f, 3, 135), 0xff00ff);
		assert_int_not_equal(pixel(f, 100, 3), 0xff00ff);
		assert_int_equal(pixel(f, 100, 3), 0xd32f2f);
		break;
	default:
		/* Everything, squeezed: the border on all four sides. */
		assert_int_equal(pixel(f, 3, 135), 0xff00ff);
		assert_int_equal(pixel(f, 240, 3), 0xff00ff);
		assert_int_equal(pixel(f, 476, 135), 0xff00ff);
		break;
	}
	check_golden(f, golden);
	SDL_FreeSurface(f);
	mc_render_free(r);
}

static void test_golden_fit_contain(void **state)
{
	(void)state;
	fit_case(MC_FIT_CONTAIN, "fit-contain-480x270");
}

static void test_golden_fit_cover(void **state)
{
	(void)state;
	fit_case(MC_FIT_COVER, "fit-cover-480x270");
}

static void test_golden_fit_stretch(void **state)
{
	(void)state;
	fit_case(MC_FIT_STRETCH, "fit-stretch-480x270");
}

/* (c) A portrait screen: the long quotation with its line break. */
static void test_golden_portrait(void **state)
{
	struct mc_manifest *m = campaign();
	struct mc_render *r = new_render(270, 480);
	SDL_Surface *f;

	(void)state;
	f = play(r, content(m, "slogan-loi-bac-1968"), NULL, NULL, NULL);
	assert_int_equal(f->w, 270);
	assert_int_equal(f->h, 480);
	check_golden(f, "portrait-loi-bac-270x480");
	SDL_FreeSurface(f);
	mc_render_free(r);
	mc_manifest_free(m);
}

/* An outlined slogan on a busy background image (cover). */
static void test_golden_slogan_on_pano(void **state)
{
	struct mc_manifest *m = campaign();
	struct mc_render *r = new_render(480, 270);
	SDL_Surface *f;

	(void)state;
	f = play(r, content(m, "slogan-ky-luat"), NULL, NULL, test_png);
	/* The pattern is behind (cover: its white cross at the centre
	 * column, under the text or beside it), not the plain colour. */
	assert_int_not_equal(pixel(f, 3, 135), 0x263238);
	check_golden(f, "slogan-on-pano-480x270");
	SDL_FreeSurface(f);
	mc_render_free(r);
	mc_manifest_free(m);
}

/* (d) The alert takeover, every level. */
static void alert_case(enum mc_alert_level level, const char *text,
                       const char *golden, Uint32 bg)
{
	struct mc_render *r = new_render(480, 270);
	struct mc_alert a = {0};
	SDL_Surface *f;

	a.level = level;
	a.text = (char *)text;
	f = mc_render_alert(r, &a);
	assert_non_null(f);
	/* The level's colour fills the screen below the band. */
	assert_int_equal(pixel(f, 8, 262), bg);
	check_golden(f, golden);
	SDL_FreeSurface(f);
	mc_render_free(r);
}

static void test_golden_alerts(void **state)
{
	(void)state;
	alert_case(MC_ALERT_INFO, "Diễn tập phòng cháy lúc 14 giờ hôm nay.",
	           "alert-info-480x270", 0x0d47a1);
	alert_case(MC_ALERT_WARNING,
	           "Mưa lớn: dừng vận chuyển trên tuyến băng tải số 2.",
	           "alert-warning-480x270", 0xffb300);
	alert_case(MC_ALERT_DANGER,
	           "Khí mê-tan vượt ngưỡng tại lò chợ 3. Cắt điện, rút người "
	           "theo lối thoát hiểm.",
	           "alert-danger-480x270", 0xb71c1c);
	alert_case(MC_ALERT_EVACUATE,
	           "Sạt lở tại moong khai thác số 3. Toàn bộ người và thiết "
	           "bị rút khỏi khu vực ngay lập tức.",
	           "alert-evacuate-480x270", 0xd50000);
}

/* (e) The built-in screen: never black, node id and reason. */
static void test_golden_idle(void **state)
{
	struct mc_render *r = new_render(480, 270);
	SDL_Surface *f = mc_render_idle(r, "idle");
	SDL_Surface *g = mc_render_idle(r, "clock");
	long lit = 0;

	(void)state;
	assert_non_null(f);
	assert_non_null(g);
	for (int y = 0; y < f->h; y++)
		for (int x = 0; x < f->w; x++)
			lit += pixel(f, x, y) != 0;
	assert_int_equal(lit, (long)f->w * f->h); /* no black pixel */
	check_golden(f, "idle-480x270");
	check_golden(g, "idle-clock-480x270");
	SDL_FreeSurface(f);
	SDL_FreeSurface(g);
	mc_render_free(r);
}

/* The broadcast banner and the identify box over a slogan. */
static void test_golden_overlays(void **state)
{
	struct mc_manifest *m = campaign();
	struct mc_render *r = new_render(480, 270);
	SDL_Surface *f;

	(void)state;
	f = play(r, content(m, "slogan-nguoi-tho-mo"), NULL, NULL, NULL);
	mc_render_banner(r, f, "Bản tin giao ca 06:00");
	check_golden(f, "banner-480x270");
	mc_render_identify(
	        r, f, "pi-cua-lo-01\n192.168.1.41  fe80::1c2:3ff:fe4a:5b6c");
	check_golden(f, "identify-480x270");
	SDL_FreeSurface(f);
	/* A bulletin name too long for the bar is cut, never wrapped. */
	f = play(r, content(m, "slogan-nguoi-tho-mo"), NULL, NULL, NULL);
	mc_render_banner(r, f,
	                 "Bản tin giao ca sáng: chào mừng các đồng chí vào ca "
	                 "một, kiểm tra đèn lò và bình tự cứu");
	check_golden(f, "banner-long-480x270");
	SDL_FreeSurface(f);
	mc_render_free(r);
	mc_manifest_free(m);
}

/* A ticker slogan: its static frame and its one-line strip. */
static void test_golden_ticker(void **state)
{
	struct mc_manifest *m = campaign();
	struct mc_render *r = new_render(480, 270);
	const struct mc_content *c = content(m, "ticker-loi-bac-1968");
	SDL_Surface *f, *s;

	(void)state;
	f = play(r, c, NULL, NULL, NULL);
	/* The slide is the background only: the line scrolls separately. */
	assert_int_equal(pixel(f, 240, 135), 0x8e0000);
	s = mc_render_ticker_strip(r, c,
	                           "Kỷ luật và Đồng tâm - Chúng ta "
	                           "nhất định thắng!",
	                           40);
	assert_non_null(s);
	assert_int_equal(s->h, 40);
	assert_true(s->w > 400);
	check_golden(s, "ticker-strip-h40");
	SDL_FreeSurface(s);
	/* The whole quotation makes one long row. */
	s = mc_render_ticker_strip(r, c, NULL, 40);
	assert_non_null(s);
	assert_true(s->w > 5000);
	SDL_FreeSurface(s);
	SDL_FreeSurface(f);
	mc_render_free(r);
	mc_manifest_free(m);
}

/* ---- layout rules -------------------------------------------------- */

/* Join a layout's lines with single spaces. */
static char *joined(const struct mc__layout *l, const char *sep)
{
	size_t n = 1;
	char *s;

	for (size_t i = 0; i < l->n_lines; i++)
		n += strlen(l->lines[i]) + strlen(sep);
	s = calloc(1, n);
	assert_non_null(s);
	for (size_t i = 0; i < l->n_lines; i++) {
		if (i)
			strcat(s, sep);
		strcat(s, l->lines[i]);
	}
	return s;
}

static void test_wrap_never_splits_words(void **state)
{
	static const char *const texts[] = {
	        ("Nhiệt liệt chào mừng kỷ niệm 87 năm Ngày Truyền thống công "
	         "nhân Vùng mỏ – Truyền thống ngành Than (12/11/1936 – "
	         "12/11/2023)"),
	        "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!",
	        ("TKV - trụ cột góp phần quan trọng đảm bảo an ninh năng lượng "
	         "Quốc gia"),
	};
	struct mc_render *r = new_render(480, 270);
	TTF_Font *font = mc__render_font(r);

	(void)state;
	for (size_t t = 0; t < MC_ARRAY_LEN(texts); t++)
		for (int pt = 12; pt <= 60; pt += 6)
			for (int w = 160; w <= 800; w += 80) {
				struct mc__layout l;
				char *j;

				TTF_SetFontSize(font, pt);
				assert_true(
				        mc__render_wrap(font, texts[t], w, &l));
				if (l.broke_word) {
					mc__layout_clear(&l);
					continue; /* a word wider than w */
				}
				j = joined(&l, " ");
				/* Every break was at a space: the lines
				 * joined give back the text. */
				assert_string_equal(j, texts[t]);
				for (size_t i = 0; i < l.n_lines; i++) {
					int lw = 0, lh = 0;

					TTF_SizeUTF8(font, l.lines[i], &lw,
					             &lh);
					assert_true(lw <= w);
					/* No line starts or ends blank. */
					assert_true(l.lines[i][0] != ' ');
					assert_true(
					        l.lines[i][strlen(l.lines[i]) -
					                   1] != ' ');
				}
				free(j);
				mc__layout_clear(&l);
			}
	/* A word wider than the box is split between letters, and only
	 * then; the pieces give the word back. */
	{
		struct mc__layout l;
		char *j;

		TTF_SetFontSize(font, 40);
		assert_true(mc__render_wrap(font,
		                            "Đồng tâm Supercalifragilistic"
		                            "expialidocious",
		                            200, &l));
		assert_true(l.broke_word);
		assert_string_equal(l.lines[0], "Đồng tâm");
		j = joined(&l, "");
		assert_string_equal(
		        j, "Đồng tâmSupercalifragilisticexpialidocious");
		free(j);
		mc__layout_clear(&l);
	}
	/* Newlines start lines; blank ones are kept. */
	{
		struct mc__layout l;

		TTF_SetFontSize(font, 20);
		assert_true(mc__render_wrap(font, "Một\n\nHai", 400, &l));
		assert_int_equal(l.n_lines, 3);
		assert_string_equal(l.lines[1], "");
		mc__layout_clear(&l);
	}
	mc_render_free(r);
}

static void test_autosize_fills_box(void **state)
{
	struct mc_render *r = new_render(1920, 1080);
	TTF_Font *font = mc__render_font(r);
	struct mc__layout l, bigger;
	int bw = 1920 - 2 * 153, bh = 1080 - 2 * 86;
	bool fits;

	(void)state;
	assert_true(
	        mc__render_fit(font, "An toàn là trên hết", bw, bh, bh, &l));
	assert_false(l.broke_word);
	assert_true(l.height <= bh);
	assert_true(l.width <= bw);
	/* A short slogan fills the box: most of its height. */
	if (l.height < bh * 60 / 100)
		fail_msg("text %d px high in a %d px box (%d pt, %zu lines)",
		         l.height, bh, l.pt, l.n_lines);
	/* And it is the largest size that fits. */
	TTF_SetFontSize(font, l.pt + 1);
	assert_true(mc__render_wrap(font, "An toàn là trên hết", bw, &bigger));
	fits = !bigger.broke_word && bigger.height <= bh && bigger.width <= bw;
	assert_false(fits);
	mc__layout_clear(&bigger);
	mc__layout_clear(&l);
	/* A long text gets smaller, never split or overflowing. */
	assert_true(mc__render_fit(font,
	                           "Ngành sản xuất than cũng như quân đội đánh "
	                           "giặc, toàn thể công nhân, cán bộ phải có "
	                           "tinh thần yêu nước rất cao, ý chí quyết "
	                           "chiến, quyết thắng rất vững",
	                           bw, bh, bh, &l));
	assert_false(l.broke_word);
	assert_true(l.height <= bh);
	assert_true(l.n_lines > 2);
	mc__layout_clear(&l);
	mc_render_free(r);
}

/* ---- failures ------------------------------------------------------ */

static void test_corrupt_image_is_an_error(void **state)
{
	static const unsigned char junk[] = {0x89, 'P',  'N', 'G', '\r', '\n',
	                                     0x1a, '\n', 0,   0,   0,    13,
	                                     'I',  'H',  'D', 'R', 0xde, 0xad};
	struct mc_render *r = new_render(480, 270);
	char *path = mc_printf("%s/corrupt.png", tmpdir);
	struct mc_content c = {0};
	struct mc_play p = {0};
	struct mc_error err = {0};
	FILE *f = fopen(path, "wb");

	(void)state;
	assert_non_null(f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	c.id = (char *)"pano-hong";
	c.type = MC_CONTENT_IMAGE;
	c.has_asset = true;
	p.channel = MC_CH_SCREEN;
	p.content = &c;
	p.path = path;
	assert_null(mc_render_play(r, &p, &err));
	assert_int_not_equal(err.code, MC_OK);
	assert_non_null(strstr(err.msg, path));
	assert_non_null(strstr(err.msg, "pano-hong"));
	/* A missing file too. */
	p.path = "/nonexistent/pano.png";
	mc_error_clear(&err);
	assert_null(mc_render_play(r, &p, &err));
	assert_non_null(strstr(err.msg, "/nonexistent/pano.png"));
	/* A corrupt background image leaves the slogan on its colour. */
	{
		struct mc_content s = {0};
		SDL_Surface *fr;

		s.id = (char *)"slogan";
		s.type = MC_CONTENT_SLOGAN;
		s.text = (char *)"An toàn";
		s.style.fg = 0xffffff;
		s.style.bg = 0x1a237e;
		fr = play(r, &s, NULL, NULL, path);
		assert_int_equal(pixel(fr, 2, 2), 0x1a237e);
		SDL_FreeSurface(fr);
	}
	/* Audio has no picture. */
	c.type = MC_CONTENT_AUDIO;
	p.path = test_png;
	assert_null(mc_render_play(r, &p, &err));
	free(path);
	mc_render_free(r);
}

static void test_missing_font_is_an_error(void **state)
{
	struct mc_render_opts o = {480, 270, "/nonexistent/NotoSans-Bold.ttf",
	                           "n1"};
	struct mc_error err = {0};
	struct mc_render *r;
	struct mc_content c = {0};
	SDL_Surface *f;

	(void)state;
	assert_null(mc_render_new(&o, &err));
	assert_int_not_equal(err.code, MC_OK);
	assert_non_null(strstr(err.msg, "/nonexistent/NotoSans-Bold.ttf"));
	/* A file that is not a font. */
	o.font = test_png;
	mc_error_clear(&err);
	assert_null(mc_render_new(&o, &err));
	assert_non_null(strstr(err.msg, test_png));
	/* Without a font: images and colours still draw. */
	o.font = NULL;
	r = mc_render_new(&o, &err);
	assert_non_null(r);
	c.id = (char *)"pano";
	c.type = MC_CONTENT_IMAGE;
	c.fit = MC_FIT_STRETCH;
	c.has_asset = true;
	f = play(r, &c, NULL, test_png, NULL);
	assert_int_equal(pixel(f, 3, 135), 0xff00ff);
	SDL_FreeSurface(f);
	f = mc_render_idle(r, "idle");
	assert_non_null(f);
	assert_int_not_equal(pixel(f, 0, 0), 0);
	SDL_FreeSurface(f);
	mc_render_free(r);
}

/* A style naming an unknown font draws with the default one. */
static void test_style_font(void **state)
{
	struct mc_render *r = new_render(480, 270);
	struct mc_content c = {0};
	SDL_Surface *a, *b, *d;
	size_t differ = 0;

	(void)state;
	c.id = (char *)"s";
	c.type = MC_CONTENT_SLOGAN;
	c.text = (char *)"Người Thợ mỏ";
	c.style.fg = 0xffffff;
	c.style.bg = 0xb71c1c;
	a = play(r, &c, NULL, NULL, NULL);
	c.style.font = (char *)"Không Có Phông";
	b = play(r, &c, NULL, NULL, NULL);
	c.style.font = (char *)"Noto Sans Display";
	d = play(r, &c, NULL, NULL, NULL);
	for (int y = 0; y < a->h; y++)
		assert_memory_equal((Uint8 *)a->pixels + y * a->pitch,
		                    (Uint8 *)b->pixels + y * b->pitch,
		                    (size_t)a->w * 4);
	for (int y = 0; y < a->h; y++)
		for (int x = 0; x < a->w; x++)
			differ += pixel(a, x, y) != pixel(d, x, y);
	assert_true(differ > 100); /* another font really was used */
	SDL_FreeSurface(a);
	SDL_FreeSurface(b);
	SDL_FreeSurface(d);
	mc_render_free(r);
}

static void test_png_round_trip(void **state)
{
	struct mc_render *r = new_render(320, 180);
	SDL_Surface *f = mc_render_idle(r, "clock"), *back, *b2;
	unsigned char *png;
	size_t len;
	struct mc_error err = {0};

	(void)state;
	assert_int_equal(mc_render_png(f, &png, &len, &err), MC_OK);
	assert_true(len > 100);
	assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
	back = IMG_Load_RW(SDL_RWFromConstMem(png, (int)len), 1);
	assert_non_null(back);
	b2 = argb(back);
	assert_int_equal(b2->w, 320);
	assert_int_equal(b2->h, 180);
	for (int y = 0; y < 180; y += 7)
		for (int x = 0; x < 320; x += 5)
			assert_int_equal(pixel(b2, x, y), pixel(f, x, y));
	SDL_FreeSurface(back);
	SDL_FreeSurface(b2);
	SDL_FreeSurface(f);
	free(png);
	mc_render_free(r);
}

/* The log output's screenshot is the frame the screen would show. */
static Uint32 shot_pixel(struct mc_output *o, int x, int y)
{
	unsigned char *png;
	size_t len;
	struct mc_error err = {0};
	SDL_Surface *s, *a;
	Uint32 v;

	assert_int_equal(o->ops->screenshot(o, &png, &len, &err), MC_OK);
	s = IMG_Load_RW(SDL_RWFromConstMem(png, (int)len), 1);
	assert_non_null(s);
	a = argb(s);
	assert_int_equal(a->w, 480);
	assert_int_equal(a->h, 270);
	v = pixel(a, x, y);
	SDL_FreeSurface(s);
	SDL_FreeSurface(a);
	free(png);
	return v;
}

static void test_log_screenshot(void **state)
{
	struct mc_player_config cfg = {0};
	struct mc_output o = {0};
	struct mc_error err = {0};
	struct mc_manifest *m = campaign();
	struct mc_play p = {0};
	struct mc_alert a = {0};
	char *lines = mc_printf("%s/log-output.jsonl", tmpdir);

	(void)state;
	cfg.node_id = (char *)"pi-cua-lo-01";
	cfg.font = (char *)FONT;
	cfg.log_output_file = lines;
	o.ops = mc_output_find("log");
	assert_non_null(o.ops);
	assert_int_equal(o.ops->init(&o, &cfg, &err), MC_OK);
	/* Nothing yet: the built-in screen. */
	assert_int_equal(shot_pixel(&o, 2, 2), 0x1c262b);
	p.channel = MC_CH_SCREEN;
	p.content = content(m, "slogan-nguoi-tho-mo");
	p.text = p.content->text;
	assert_int_equal(o.ops->start(&o, &p, &err), MC_OK);
	/* The manifest may go away: the output keeps its own copy. */
	mc_manifest_free(m);
	m = NULL;
	assert_int_equal(shot_pixel(&o, 2, 2), 0xb71c1c);
	o.ops->identify(&o, "pi-cua-lo-01", 0);
	assert_int_equal(shot_pixel(&o, 60, 135), 0x000000);
	o.ops->identify(&o, NULL, 0);
	a.id = (char *)"a1";
	a.level = MC_ALERT_INFO;
	a.text = (char *)"Diễn tập";
	assert_int_equal(o.ops->alert(&o, &a, &err), MC_OK);
	assert_int_equal(shot_pixel(&o, 8, 262), 0x0d47a1);
	assert_int_equal(o.ops->alert(&o, NULL, &err), MC_OK);
	assert_int_equal(shot_pixel(&o, 2, 2), 0xb71c1c);
	o.ops->stop(&o, MC_CH_SCREEN, true);
	assert_int_equal(shot_pixel(&o, 2, 2), 0x1c262b);
	o.ops->uninit(&o);
	unlink(lines);
	free(lines);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_golden_slogan_12_11),
	        cmocka_unit_test(test_golden_fit_contain),
	        cmocka_unit_test(test_golden_fit_cover),
	        cmocka_unit_test(test_golden_fit_stretch),
	        cmocka_unit_test(test_frame_sized_image),
	        cmocka_unit_test(test_golden_portrait),
	        cmocka_unit_test(test_golden_slogan_on_pano),
	        cmocka_unit_test(test_golden_alerts),
	        cmocka_unit_test(test_golden_idle),
	        cmocka_unit_test(test_golden_overlays),
	        cmocka_unit_test(test_golden_ticker),
	        cmocka_unit_test(test_wrap_never_splits_words),
	        cmocka_unit_test(test_autosize_fills_box),
	        cmocka_unit_test(test_corrupt_image_is_an_error),
	        cmocka_unit_test(test_missing_font_is_an_error),
	        cmocka_unit_test(test_style_font),
	        cmocka_unit_test(test_png_round_trip),
	        cmocka_unit_test(test_log_screenshot),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
