/*
 * Unit tests of the screen output (player/outputs/sdl.c) on SDL's
 * offscreen video driver with the software renderer: no display needed.
 *
 * What the screen shows is read from the window's framebuffer after each
 * present (the software renderer draws into it), i.e. the frames a
 * viewer would see: a crossfade never passes through black, a cut is on
 * screen as soon as start returns, a corrupt image leaves the previous
 * frame up, a portrait rotation draws portrait frames turned, the ticker
 * scrolls, the alert covers everything, and a static slide asks for no
 * more frames.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dlfcn.h>
#include <unistd.h>

#include <cmocka.h>

#include <SDL2/SDL.h>
#include <SDL2/SDL_image.h>

#include "minecast/util.h"

#include "outputs/output.h"

#define FONT "/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf"
#define W    480
#define H    270
/* img[0]: light, so that a crossfade from the red slide to it has two
 * clearly different brightnesses. */
#define C0 0x90caf9

#if defined(__x86_64__)
#define MC_MULTIARCH "x86_64-linux-gnu"
#elif defined(__aarch64__)
#define MC_MULTIARCH "aarch64-linux-gnu"
#else
#define MC_MULTIARCH "arm-linux-gnueabihf"
#endif

extern const struct mc_output_ops mc_output_sdl;

struct fx {
	char dir[64];                /* temp dir with the test images */
	struct mc_player_config cfg; /* only the [screen] part is used */
	struct mc_output o;          /* the output under test */
	struct mc_content img[4];    /* image contents */
	char path[4][128];           /* their files */
	struct mc_content slogan;    /* a slide */
	struct mc_content ticker;    /* a ticker slogan */
};

/* ---- pictures ---- */

/* Write a w×h PNG filled with rgb, with a w/8 × h/8 corner of corner. */
static void write_png(const char *path, int w, int h, uint32_t rgb,
                      uint32_t corner)
{
	SDL_Surface *s = SDL_CreateRGBSurfaceWithFormat(
	        0, w, h, 32, SDL_PIXELFORMAT_ARGB8888);
	SDL_Rect c = {0, 0, w / 8, h / 8};

	assert_non_null(s);
	SDL_FillRect(s, NULL, 0xff000000u | rgb);
	SDL_FillRect(s, &c, 0xff000000u | corner);
	assert_int_equal(IMG_SavePNG(s, path), 0);
	SDL_FreeSurface(s);
}

/* The screen's framebuffer: the window of the output under test. */
static SDL_Surface *screen(void)
{
	SDL_Window *win = NULL;

	for (Uint32 id = 1; id < 256; id++)
		if (SDL_GetWindowFromID(id))
			win = SDL_GetWindowFromID(id);
	assert_non_null(win);
	return SDL_GetWindowSurface(win);
}

static uint32_t pixel(SDL_Surface *s, int x, int y)
{
	Uint8 r, g, b;
	Uint32 v;

	SDL_LockSurface(s);
	v = *(Uint32 *)((Uint8 *)s->pixels + y * s->pitch + x * 4);
	SDL_UnlockSurface(s);
	SDL_GetRGB(v, s->format, &r, &g, &b);
	return ((uint32_t)r << 16) | ((uint32_t)g << 8) | b;
}

/* Colours within tol per channel. */
static bool near(uint32_t a, uint32_t b, int tol)
{
	for (int sh = 0; sh < 24; sh += 8) {
		int d = (int)((a >> sh) & 0xff) - (int)((b >> sh) & 0xff);

		if (d > tol || d < -tol)
			return false;
	}
	return true;
}

/* Mean luminance (0..255) of the screen, sampled every 4 pixels. */
static double luma(void)
{
	SDL_Surface *s = screen();
	double sum = 0;
	int n = 0;

	for (int y = 0; y < s->h; y += 4)
		for (int x = 0; x < s->w; x += 4) {
			uint32_t c = pixel(s, x, y);

			sum += 0.299 * (c >> 16) + 0.587 * ((c >> 8) & 0xff) +
			       0.114 * (c & 0xff);
			n++;
		}
	return sum / n;
}

/* A copy of the screen's pixels (caller frees). */
static Uint32 *grab(size_t *n)
{
	SDL_Surface *s = screen();
	Uint32 *px;

	*n = (size_t)s->w * (size_t)s->h;
	px = malloc(*n * 4);
	assert_non_null(px);
	SDL_LockSurface(s);
	for (int y = 0; y < s->h; y++)
		memcpy(px + (size_t)y * s->w, (Uint8 *)s->pixels + y * s->pitch,
		       (size_t)s->w * 4);
	SDL_UnlockSurface(s);
	return px;
}

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	static const uint32_t colours[4] = {C0, 0x2e7d32, 0xc62828, 0x1565c0};

	assert_non_null(f);
	setenv("SDL_VIDEODRIVER", "offscreen", 1);
	setenv("SDL_RENDER_DRIVER", "software", 1);
	strcpy(f->dir, "/tmp/mc-test-sdl-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->cfg.node_id = "pi-test-sdl";
	f->cfg.screen_width = W;
	f->cfg.screen_height = H;
	f->cfg.video_driver = "offscreen";
	f->cfg.font = FONT;
	f->cfg.crossfade_ms = 400;
	f->cfg.ticker_speed = 200;
	f->cfg.banner = true;
	for (int i = 0; i < 4; i++) {
		snprintf(f->path[i], sizeof(f->path[i]), "%s/img-%d.png",
		         f->dir, i);
		f->img[i].id = "img";
		f->img[i].type = MC_CONTENT_IMAGE;
		f->img[i].has_asset = true;
		f->img[i].fit = MC_FIT_STRETCH;
		snprintf(f->img[i].asset.sha256, 65, "%064d", i);
	}
	/* 0: light blue, 1: green, 2: red; 3: portrait blue with a red
	 * corner. */
	for (int i = 0; i < 3; i++)
		write_png(f->path[i], W, H, colours[i], colours[i]);
	write_png(f->path[3], H, W, 0x1565c0, 0xff0000);
	f->slogan.id = "slogan";
	f->slogan.type = MC_CONTENT_SLOGAN;
	f->slogan.text = "Kỷ niệm 87 năm Ngày Truyền thống công nhân Vùng mỏ";
	f->slogan.style.fg = 0xffd700;
	f->slogan.style.bg = 0xb71c1c;
	f->ticker = f->slogan;
	f->ticker.id = "ticker";
	f->ticker.style.ticker = true;
	f->ticker.style.fg = 0xffffff;
	f->ticker.style.bg = 0x102030;
	f->o.ops = &mc_output_sdl;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->o.priv)
		mc_output_sdl.uninit(&f->o);
	for (int i = 0; i < 4; i++)
		unlink(f->path[i]);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void up(struct fx *f)
{
	struct mc_error err = {0};
	enum mc_err rc = mc_output_sdl.init(&f->o, &f->cfg, &err);

	if (rc != MC_OK)
		fail_msg("init: %s", err.msg);
}

static struct mc_play play_of(const struct mc_content *c, const char *path,
                              enum mc_transition tr)
{
	struct mc_play p = {0};

	p.channel = MC_CH_SCREEN;
	p.content = c;
	p.path = path;
	p.text = c->text;
	p.transition = tr;
	p.start_ms = mc_now_ms();
	p.end_ms = p.start_ms + 10000;
	p.reason = "scheduled";
	return p;
}

static void start_ok(struct fx *f, const struct mc_content *c, const char *path,
                     enum mc_transition tr)
{
	struct mc_play p = play_of(c, path, tr);
	struct mc_error err = {0};

	if (mc_output_sdl.start(&f->o, &p, &err) != MC_OK)
		fail_msg("start %s: %s", c->id, err.msg);
}

/* Tick until the output stops animating (bounded); returns frames. */
static int settle(struct fx *f, int max_ms, double *min_luma)
{
	int64_t end = mc_mono_ms() + max_ms;
	int frames = 0, t;

	while (mc_mono_ms() < end) {
		t = mc_output_sdl.tick(&f->o, mc_now_ms());
		frames++;
		if (min_luma) {
			double l = luma();

			if (l < *min_luma)
				*min_luma = l;
		}
		if (t < 0)
			return frames;
		SDL_Delay(t > 20 ? 20 : (Uint32)t);
	}
	fail_msg("still animating after %d ms", max_ms);
	return frames;
}

/* ---- tests ---- */

static void test_crossfade_never_black(void **state)
{
	struct fx *f = *state;
	double ls, li, lo = 1e9, prev = -1;
	int frames = 0, mixes = 0, t;
	int64_t end;

	up(f);
	assert_int_equal(screen()->w, W);
	assert_int_equal(screen()->h, H);
	start_ok(f, &f->slogan, NULL, MC_TRANSITION_CUT);
	settle(f, 2000, NULL);
	ls = luma();
	assert_true(near(pixel(screen(), 2, 2), 0xb71c1c, 4));

	start_ok(f, &f->img[0], f->path[0], MC_TRANSITION_CROSSFADE);
	/* start returned: the old frame is still fully up. */
	assert_true(near(pixel(screen(), 2, 2), 0xb71c1c, 4));
	end = mc_mono_ms() + 3000;
	do {
		double l;

		t = mc_output_sdl.tick(&f->o, mc_now_ms());
		l = luma();
		frames++;
		if (l < lo)
			lo = l;
		if (prev >= 0 && l != prev)
			mixes++;
		prev = l;
		if (t >= 0)
			SDL_Delay(t > 20 ? 20 : (Uint32)t);
	} while (t >= 0 && mc_mono_ms() < end);
	assert_true(t < 0); /* the fade ended */
	li = luma();
	assert_true(near(pixel(screen(), 2, 2), C0, 4));
	print_message("crossfade: %d frames, luma slogan %.1f image %.1f, "
	              "lowest %.1f\n",
	              frames, ls, li, lo);
	/* Several in-between frames, none darker than the darker slide. */
	assert_true(frames >= 5);
	assert_true(mixes >= 3);
	assert_true(lo >= (ls < li ? ls : li) - 3.0);
}

static void test_cut_is_one_frame(void **state)
{
	struct fx *f = *state;

	up(f);
	start_ok(f, &f->img[0], f->path[0], MC_TRANSITION_CUT);
	assert_true(near(pixel(screen(), W / 2, H / 2), C0, 4));
	start_ok(f, &f->img[1], f->path[1], MC_TRANSITION_CUT);
	/* On screen when start returns, with no tick in between. */
	assert_true(near(pixel(screen(), W / 2, H / 2), 0x2e7d32, 4));
	assert_true(near(pixel(screen(), 0, 0), 0x2e7d32, 4));
	assert_int_equal(mc_output_sdl.tick(&f->o, mc_now_ms()), -1);
}

static void test_corrupt_keeps_old_frame(void **state)
{
	struct fx *f = *state;
	struct mc_error err = {0};
	struct mc_play p;
	Uint32 *before, *after;
	size_t n, n2;
	FILE *fh;

	up(f);
	start_ok(f, &f->img[2], f->path[2], MC_TRANSITION_CUT);
	settle(f, 1000, NULL);
	before = grab(&n);
	fh = fopen(f->path[1], "wb");
	assert_non_null(fh);
	fputs("\x89PNG\r\n\x1a\nthis is not an image at all", fh);
	fclose(fh);
	for (int tr = 0; tr < 2; tr++) {
		p = play_of(&f->img[1], f->path[1], (enum mc_transition)tr);
		memset(&err, 0, sizeof(err));
		assert_int_not_equal(mc_output_sdl.start(&f->o, &p, &err),
		                     MC_OK);
		assert_true(err.msg[0] != '\0');
		print_message("corrupt image: %s\n", err.msg);
		settle(f, 1000, NULL);
		after = grab(&n2);
		assert_int_equal(n, n2);
		assert_memory_equal(before, after, n * 4);
		free(after);
	}
	/* A missing file too. */
	p = play_of(&f->img[1], "/nonexistent/minecast.png", MC_TRANSITION_CUT);
	assert_int_not_equal(mc_output_sdl.start(&f->o, &p, &err), MC_OK);
	assert_true(near(pixel(screen(), W / 2, H / 2), 0xc62828, 4));
	assert_true(mc_output_sdl.alive(&f->o));
	free(before);
}

static void test_prepared_ahead(void **state)
{
	struct fx *f = *state;
	struct mc_play p = play_of(&f->img[1], f->path[1], MC_TRANSITION_CUT);
	struct mc_error err = {0};
	char moved[160];

	up(f);
	start_ok(f, &f->img[0], f->path[0], MC_TRANSITION_CUT);
	assert_int_equal(mc_output_sdl.prepare(&f->o, &p, &err), MC_OK);
	/* Decoded already: start no longer needs the file. */
	snprintf(moved, sizeof(moved), "%s.away", f->path[1]);
	assert_int_equal(rename(f->path[1], moved), 0);
	assert_true(near(pixel(screen(), W / 2, H / 2), C0, 4));
	if (mc_output_sdl.start(&f->o, &p, &err) != MC_OK)
		fail_msg("start of the prepared item: %s", err.msg);
	assert_true(near(pixel(screen(), W / 2, H / 2), 0x2e7d32, 4));
	assert_int_equal(rename(moved, f->path[1]), 0);
}

static void test_rotation_90(void **state)
{
	struct fx *f = *state;
	struct mc_error err = {0};
	unsigned char *png = NULL;
	size_t len = 0;
	SDL_Surface *shot, *s;

	f->cfg.rotation = 90;
	up(f);
	start_ok(f, &f->img[3], f->path[3], MC_TRANSITION_CUT);
	s = screen();
	assert_int_equal(s->w, W);
	assert_int_equal(s->h, H);
	/* The portrait frame's top-left corner (red) is drawn turned
	 * clockwise: at the screen's top right. */
	assert_true(near(pixel(s, W - 5, 5), 0xff0000, 8));
	assert_true(near(pixel(s, 5, 5), 0x1565c0, 8));
	assert_true(near(pixel(s, W - 5, H - 5), 0x1565c0, 8));
	/* The screenshot is the logical (portrait) frame. */
	assert_int_equal(mc_output_sdl.screenshot(&f->o, &png, &len, &err),
	                 MC_OK);
	shot = IMG_Load_RW(SDL_RWFromConstMem(png, (int)len), 1);
	assert_non_null(shot);
	assert_int_equal(shot->w, H);
	assert_int_equal(shot->h, W);
	{
		SDL_Surface *c = SDL_ConvertSurfaceFormat(
		        shot, SDL_PIXELFORMAT_ARGB8888, 0);

		assert_true(near(pixel(c, 5, 5), 0xff0000, 8));
		assert_true(near(pixel(c, H - 5, W - 5), 0x1565c0, 8));
		SDL_FreeSurface(c);
	}
	SDL_FreeSurface(shot);
	free(png);
}

static void test_ticker_scrolls(void **state)
{
	struct fx *f = *state;
	Uint32 *a, *b;
	size_t n, band0 = (size_t)(H - H / 8 - 2) * W;
	int t;

	up(f);
	start_ok(f, &f->ticker, NULL, MC_TRANSITION_CUT);
	t = mc_output_sdl.tick(&f->o, mc_now_ms());
	/* Animating: asks to be called back within a refresh. */
	assert_true(t >= 0 && t <= 17);
	SDL_Delay(300);
	mc_output_sdl.tick(&f->o, mc_now_ms());
	a = grab(&n);
	SDL_Delay(150);
	mc_output_sdl.tick(&f->o, mc_now_ms());
	b = grab(&n);
	/* The band along the bottom moved; the slide above did not. */
	assert_memory_equal(a, b, band0 * 4);
	assert_memory_not_equal(a + band0, b + band0, (n - band0) * 4);
	assert_true(near(a[(size_t)(H / 2) * W + 3], 0x102030, 4));
	free(a);
	free(b);
}

static void test_alert_takeover(void **state)
{
	struct fx *f = *state;
	struct mc_alert a = {0};
	struct mc_error err = {0};
	SDL_Surface *s;
	int blue = 0, t;

	up(f);
	start_ok(f, &f->img[0], f->path[0], MC_TRANSITION_CUT);
	mc_output_sdl.identify(&f->o, "pi-test-sdl 127.0.0.1",
	                       mc_now_ms() + 60000);
	a.id = "al-1";
	a.seq = 1;
	a.level = MC_ALERT_DANGER;
	a.text = "Sơ tán khỏi khu vực lò chợ ngay";
	a.repeat = 1;
	a.start_at_ms = mc_now_ms() + 300;
	a.expires_ms = mc_now_ms() + 60000;
	assert_int_equal(mc_output_sdl.alert(&f->o, &a, &err), MC_OK);
	/* Not before its instant. */
	t = mc_output_sdl.tick(&f->o, mc_now_ms());
	assert_true(t > 0 && t <= 300);
	assert_true(near(pixel(screen(), 2, H - 3), C0, 4));
	SDL_Delay((Uint32)t + 5);
	mc_output_sdl.tick(&f->o, mc_now_ms());
	s = screen();
	for (int y = 0; y < H; y += 3)
		for (int x = 0; x < W; x += 3)
			blue += near(pixel(s, x, y), C0, 4);
	assert_int_equal(blue, 0); /* nothing of the slide shows */
	/* Items started meanwhile stay under it. */
	start_ok(f, &f->img[1], f->path[1], MC_TRANSITION_CROSSFADE);
	mc_output_sdl.tick(&f->o, mc_now_ms());
	assert_false(near(pixel(screen(), W / 2, H - 3), 0x2e7d32, 4));
	assert_int_equal(mc_output_sdl.alert(&f->o, NULL, &err), MC_OK);
	mc_output_sdl.identify(&f->o, NULL, 0);
	settle(f, 2000, NULL);
	assert_true(near(pixel(screen(), W / 2, H / 2), 0x2e7d32, 4));
	assert_true(near(pixel(screen(), 2, 2), 0x2e7d32, 4));
}

static void test_banner_and_identify(void **state)
{
	struct fx *f = *state;
	Uint32 *plain, *with;
	size_t n;

	up(f);
	start_ok(f, &f->img[1], f->path[1], MC_TRANSITION_CUT);
	plain = grab(&n);
	mc_output_sdl.banner(&f->o, "Bản tin 6 giờ");
	assert_false(near(pixel(screen(), W / 2, 3), 0x2e7d32, 4));
	assert_true(near(pixel(screen(), W / 2, H - 3), 0x2e7d32, 4));
	mc_output_sdl.banner(&f->o, NULL);
	with = grab(&n);
	assert_memory_equal(plain, with, n * 4);
	free(with);
	/* identify ends by itself at its instant. */
	mc_output_sdl.identify(&f->o, "pi-test-sdl", mc_now_ms() + 200);
	assert_false(near(pixel(screen(), W / 2, H / 2), 0x2e7d32, 4));
	settle(f, 2000, NULL);
	with = grab(&n);
	assert_memory_equal(plain, with, n * 4);
	free(with);
	/* Banner off in the config: nothing drawn. */
	mc_output_sdl.uninit(&f->o);
	f->cfg.banner = false;
	up(f);
	start_ok(f, &f->img[1], f->path[1], MC_TRANSITION_CUT);
	mc_output_sdl.banner(&f->o, "Bản tin 6 giờ");
	assert_true(near(pixel(screen(), W / 2, 3), 0x2e7d32, 4));
	free(plain);
}

static void test_static_slide_idles(void **state)
{
	struct fx *f = *state;

	up(f);
	start_ok(f, &f->slogan, NULL, MC_TRANSITION_CUT);
	/* No frame wanted: the main loop sleeps until something
	 * happens. */
	assert_int_equal(mc_output_sdl.tick(&f->o, mc_now_ms()), -1);
	assert_int_equal(mc_output_sdl.tick(&f->o, mc_now_ms()), -1);
	assert_true(mc_output_sdl.alive(&f->o));
}

static void test_screenshot_png(void **state)
{
	struct fx *f = *state;
	struct mc_error err = {0};
	unsigned char *png = NULL;
	size_t len = 0;
	SDL_Surface *shot, *c;

	up(f);
	start_ok(f, &f->img[2], f->path[2], MC_TRANSITION_CUT);
	assert_int_equal(mc_output_sdl.screenshot(&f->o, &png, &len, &err),
	                 MC_OK);
	assert_true(len > 8 && memcmp(png, "\x89PNG", 4) == 0);
	shot = IMG_Load_RW(SDL_RWFromConstMem(png, (int)len), 1);
	assert_non_null(shot);
	assert_int_equal(shot->w, W);
	assert_int_equal(shot->h, H);
	c = SDL_ConvertSurfaceFormat(shot, SDL_PIXELFORMAT_ARGB8888, 0);
	assert_true(near(pixel(c, W / 2, H / 2), 0xc62828, 4));
	SDL_FreeSurface(c);
	SDL_FreeSurface(shot);
	free(png);
	/* The screen still shows it after the read-back. */
	assert_true(near(pixel(screen(), W / 2, H / 2), 0xc62828, 4));
}

static void test_idle_screen_never_black(void **state)
{
	struct fx *f = *state;
	struct mc_play p = {0};
	struct mc_error err = {0};

	up(f);
	/* Before the first item: the built-in screen, not black. */
	assert_true(luma() > 10.0);
	p.channel = MC_CH_SCREEN;
	p.reason = "no manifest";
	assert_int_equal(mc_output_sdl.start(&f->o, &p, &err), MC_OK);
	assert_true(luma() > 10.0);
	/* stop leaves the last frame up. */
	mc_output_sdl.stop(&f->o, MC_CH_SCREEN, true);
	mc_output_sdl.tick(&f->o, mc_now_ms());
	assert_true(luma() > 10.0);
}

static void test_no_display_fails_cleanly(void **state)
{
	struct fx *f = *state;
	struct mc_error err = {0};

	/* A Wayland session that is not there. */
	unsetenv("SDL_VIDEODRIVER");
	setenv("WAYLAND_DISPLAY", "minecast-test-no-such-display", 1);
	f->cfg.video_driver = "wayland";
	assert_int_not_equal(mc_output_sdl.init(&f->o, &f->cfg, &err), MC_OK);
	print_message("no display: %s\n", err.msg);
	assert_non_null(strstr(err.msg, "screen: "));
	assert_null(f->o.priv);
	unsetenv("WAYLAND_DISPLAY");
	setenv("SDL_VIDEODRIVER", "offscreen", 1);
	/* And the next init works. */
	f->cfg.video_driver = "offscreen";
	up(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	        T(test_crossfade_never_black),
	        T(test_cut_is_one_frame),
	        T(test_corrupt_keeps_old_frame),
	        T(test_prepared_ahead),
	        T(test_rotation_90),
	        T(test_ticker_scrolls),
	        T(test_alert_takeover),
	        T(test_banner_and_identify),
	        T(test_static_slide_idles),
	        T(test_screenshot_png),
	        T(test_idle_screen_never_black),
	        T(test_no_display_fails_cleanly),
#undef T
	};

	/*
	 * SDL's offscreen driver loads Mesa's EGL at every video init and
	 * unloads it at quit; what Mesa keeps in globals then becomes
	 * unreachable and LeakSanitizer reports it as our leak.  Keeping
	 * the libraries loaded keeps it reachable (the Wayland ones: the same
	 * for the no-display test).
	 */
	static const char *const keep[] = {
	        "libEGL.so.1",
	        "libEGL_mesa.so.0",
	        "libwayland-client.so.0",
	        "libwayland-egl.so.1",
	        "libwayland-cursor.so.0",
	        "libxkbcommon.so.0",
	        "libdecor-0.so.0",
	        "libGL.so.1",
	        "libGLX.so.0",
	        "libGLX_mesa.so.0",
	        "/usr/lib/" MC_MULTIARCH "/dri/swrast_dri.so",
	};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		dlopen(keep[i], RTLD_NOW | RTLD_NODELETE);

	return cmocka_run_group_tests(tests, NULL, NULL);
}
