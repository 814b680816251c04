/*
 * minecast-player — the INI configuration reader (config.h).
 *
 * A small reader written for this one file, not a general INI library:
 * the sections and keys are a fixed table (keys[] below), so that every
 * unknown name is an error with a suggestion and every value is checked
 * by the kind of its key.  The file is read once at start; the reader
 * keeps going after a problem, so that --check-config lists every
 * mistake of a hand-edited file in one run instead of one per run.
 *
 * Syntax (docs/player.md says it for people):
 *   [section]
 *   key = value          # '#' after a blank starts a comment
 *   ; a whole-line comment may also start with ';'
 *   key = "value"        # double quotes keep blanks and '#' as they are
 * Keys that may repeat (broker, trusted) add one value per line.
 * Relative paths are taken from the directory of the file.
 *
 * Bounds: the file is at most MC_PLAYER_CONF_MAX_BYTES; lists are capped
 * (MAX_BROKERS, MAX_TRUSTED, MAX_TAGS); so a hostile file can make the
 * reader allocate only a small multiple of its own size.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/ini.h"
#include "minecast/log.h"
#include "minecast/text.h"
#include "minecast/util.h"

#include "config.h"

/* More brokers, key files or tags than any real node has. */
#define MAX_BROKERS 16
#define MAX_TRUSTED 32
#define MAX_TAGS    32

/* Longest password (and password file) accepted. */
#define MAX_PASSWORD_BYTES 1024

/* Longest number read: 18 digits keep every product with a unit in
 * range for the checks. */
#define DIGITS_MAX 18

/* Problems printed by mc_config_check before it only counts them. */
#define MAX_PRINTED 200

/* Room for one formatted problem line. */
#define LINE_MAX_BYTES 1024

/* How a key's value is read, and which field type it fills. */
enum kind {
	K_ID,      /* char *: mc_id_valid */
	K_TAGS,    /* char ** + size_t: comma-separated ids */
	K_STR,     /* char *: any text (user name, hook command line) */
	K_SECRET,  /* char *: like K_STR, never quoted back */
	K_PATH,    /* char *: a path, relative to the file's directory */
	K_TLSKEY,  /* char *: a path to a private key, not world-readable */
	K_PWFILE,  /* password_file: read into cfg->password */
	K_TRUSTED, /* trusted key file: appended, loaded into the keyring */
	K_BROKER,  /* struct mc_broker: appended */
	K_URL,     /* char *: http:// or https:// base URL */
	K_INT,     /* int in [min, max] */
	K_INT64,   /* int64_t in [min, max] */
	K_DUR_S,   /* int seconds, written as a duration */
	K_DUR_MS,  /* int milliseconds, written as a duration */
	K_SIZE,    /* int64_t bytes, written with K/M/G */
	K_BOOL,    /* bool */
	K_WINDOW,  /* window_start_min / window_end_min */
	K_OUTPUT,  /* char *: an output backend compiled in */
	K_CLOCK,   /* char *: auto, yes, no, file:PATH */
	K_LEVEL    /* int: enum mc_log_level */
};

/* One key of the file. */
struct key_def {
	const char *section; /* "node", "mqtt", ... */
	const char *key;     /* "id", "broker", ... */
	enum kind kind;      /* how to read the value */
	size_t off;          /* offsetof the field in mc_player_config */
	bool repeat;         /* may be given on several lines */
	bool optional;       /* an empty value means "not set" */
	int64_t min, max;    /* range of numbers, durations (ms), sizes */
	const char *expect;  /* what a good value looks like, for messages */
};

#define OFF(f) offsetof(struct mc_player_config, f)
#define KIB    ((int64_t)1024)
#define MIB    (KIB * 1024)
#define GIB    (MIB * 1024)
#define TIB    (GIB * 1024)

/*
 * Every key, in the order of docs/player.md.  Ranges say what a sane
 * node can use: beyond them is a typo (keepalive = 30m) more often than
 * a wish.
 */
static const struct key_def keys[] = {
        {"node", "id", K_ID, OFF(node_id), false, false, 0, 0,
         "a node id such as pi-cua-lo-01"},
        {"node", "site", K_ID, OFF(site), false, true, 0, 0,
         "a site id such as cua-lo"},
        {"node", "tags", K_TAGS, OFF(tags), false, true, 0, 0,
         "ids separated by commas, e.g. nha-an, cong-chinh"},

        {"mqtt", "broker", K_BROKER, OFF(brokers), true, false, 0, 0,
         "mqtt://HOST:PORT or mqtts://HOST:PORT"},
        {"mqtt", "username", K_STR, OFF(username), false, true, 0, 0,
         "the broker user name"},
        {"mqtt", "password", K_SECRET, OFF(password), false, true, 0, 0,
         "the broker password"},
        {"mqtt", "password_file", K_PWFILE, OFF(password), false, true, 0, 0,
         "a file holding the password"},
        {"mqtt", "ca_file", K_PATH, OFF(ca_file), false, true, 0, 0,
         "a CA bundle file"},
        {"mqtt", "cert_file", K_PATH, OFF(cert_file), false, true, 0, 0,
         "a client certificate file"},
        {"mqtt", "key_file", K_TLSKEY, OFF(key_file), false, true, 0, 0,
         "a client key file"},
        {"mqtt", "keepalive", K_DUR_S, OFF(keepalive_s), false, false, 5000,
         3600000, "a duration such as 30s"},
        {"mqtt", "reconnect_min", K_DUR_MS, OFF(reconnect_min_ms), false, false,
         100, 60000, "a duration such as 500ms"},
        {"mqtt", "reconnect_max", K_DUR_MS, OFF(reconnect_max_ms), false, false,
         1000, 3600000, "a duration such as 60s"},

        {"http", "base", K_URL, OFF(http_base), false, false, 0, 0,
         "http://HOST:PORT or https://HOST:PORT"},
        {"http", "ca_file", K_PATH, OFF(http_ca_file), false, true, 0, 0,
         "a CA bundle file"},
        {"http", "timeout", K_DUR_S, OFF(http_timeout_s), false, false, 5000,
         600000, "a duration such as 30s"},

        {"cache", "dir", K_PATH, OFF(cache_dir), false, false, 0, 0,
         "a directory such as /var/cache/minecast"},
        {"cache", "state_dir", K_PATH, OFF(state_dir), false, false, 0, 0,
         "a directory such as /var/lib/minecast"},
        {"cache", "quota", K_SIZE, OFF(cache_quota_bytes), false, false, MIB,
         TIB, "a size such as 2G"},
        {"cache", "parallel", K_INT, OFF(download_parallel), false, false, 1,
         16, "a number of downloads, 1 to 16"},
        {"cache", "bandwidth", K_SIZE, OFF(bandwidth_bps), false, false, 0,
         10 * GIB, "bytes per second such as 512K, or 0 for no cap"},
        {"cache", "window", K_WINDOW, OFF(window_start_min), false, false, 0, 0,
         "HH:MM-HH:MM such as 01:00-05:00, or always"},

        {"channels", "screen", K_BOOL, OFF(screen), false, false, 0, 0,
         "yes or no"},
        {"channels", "speaker", K_BOOL, OFF(speaker), false, false, 0, 0,
         "yes or no"},
        {"channels", "screen_output", K_OUTPUT, OFF(screen_output), false,
         false, 0, 0, "an output name such as log"},
        {"channels", "speaker_output", K_OUTPUT, OFF(speaker_output), false,
         false, 0, 0, "an output name such as log"},
        {"channels", "log_output_file", K_PATH, OFF(log_output_file), false,
         true, 0, 0, "a file the log output writes to"},
        {"channels", "volume", K_INT, OFF(volume), false, false, 0, 100,
         "a percentage, 0 to 100"},

        {"screen", "width", K_INT, OFF(screen_width), false, false, 0, 7680,
         "pixels, 0 for the display's own mode"},
        {"screen", "height", K_INT, OFF(screen_height), false, false, 0, 4320,
         "pixels, 0 for the display's own mode"},
        {"screen", "rotation", K_INT, OFF(rotation), false, false, 0, 270,
         "0, 90, 180 or 270 degrees"},
        {"screen", "driver", K_STR, OFF(video_driver), false, false, 0, 0,
         "auto, kmsdrm, x11, wayland or offscreen"},
        {"screen", "font", K_PATH, OFF(font), false, false, 0, 0,
         "a font file such as /usr/share/fonts/truetype/noto/"
         "NotoSans-Bold.ttf"},
        {"screen", "crossfade", K_DUR_MS, OFF(crossfade_ms), false, false, 0,
         5000, "a duration such as 600ms"},
        {"screen", "ticker_speed", K_INT, OFF(ticker_speed), false, false, 10,
         2000, "pixels per second, 10 to 2000"},
        {"screen", "banner", K_BOOL, OFF(banner), false, false, 0, 0,
         "yes or no"},

        {"audio", "device", K_STR, OFF(audio_device), false, false, 0, 0,
         "an ALSA device such as default or hw:0,0"},
        {"audio", "sink", K_STR, OFF(audio_sink), false, false, 0, 0,
         "alsa, fake or file:PATH"},
        {"audio", "clock", K_STR, OFF(audio_clock), false, false, 0, 0,
         "realtime or net:HOST:PORT"},
        {"audio", "preroll", K_DUR_MS, OFF(preroll_ms), false, false, 100,
         60000, "a duration such as 1500ms"},
        {"audio", "voice", K_STR, OFF(voice), false, false, 0, 0,
         "an espeak-ng voice such as vi"},
        {"audio", "tone", K_PATH, OFF(tone_file), false, true, 0, 0,
         "an audio file played before alerts"},
        {"audio", "amp_lead", K_DUR_MS, OFF(amp_lead_ms), false, false, 0,
         60000, "a duration such as 2s"},
        {"audio", "amp_idle", K_DUR_MS, OFF(amp_idle_ms), false, false, 0,
         3600000, "a duration such as 60s"},

        {"keys", "trusted", K_TRUSTED, OFF(trusted_key_files), true, false, 0,
         0, "a public key file such as /etc/minecast/keys/controller.pub"},

        {"hooks", "reboot", K_STR, OFF(hook_reboot), false, true, 0, 0,
         "a command line such as systemctl reboot"},
        {"hooks", "screen_power", K_STR, OFF(hook_screen_power), false, true, 0,
         0, "a command line; on or off is appended"},
        {"hooks", "amplifier", K_STR, OFF(hook_amplifier), false, true, 0, 0,
         "a command line; on or off is appended"},
        {"hooks", "timeout", K_DUR_S, OFF(hook_timeout_s), false, false, 1000,
         600000, "a duration such as 20s"},

        {"health", "interval", K_DUR_S, OFF(health_interval_s), false, false,
         5000, 3600000, "a duration such as 30s"},
        {"health", "errors_kept", K_DUR_S, OFF(health_errors_kept_s), false,
         false, 60000, 604800000, "a duration such as 1h"},
        {"health", "proc_root", K_PATH, OFF(proc_root), false, false, 0, 0,
         "a directory, normally /proc"},
        {"health", "sys_root", K_PATH, OFF(sys_root), false, false, 0, 0,
         "a directory, normally /sys"},

        {"clock", "sync", K_CLOCK, OFF(clock_sync), false, false, 0, 0,
         "auto, yes, no or file:PATH"},

        {"pop", "batch_max", K_INT, OFF(pop_batch_max), false, false, 1, 1000,
         "a number of records, 1 to 1000"},
        {"pop", "resend", K_DUR_S, OFF(pop_resend_s), false, false, 5000,
         3600000, "a duration such as 60s"},
        {"pop", "outbox_max", K_INT64, OFF(pop_outbox_max), false, false, 1000,
         10000000, "a number of records, 1000 to 10000000"},

        {"log", "level", K_LEVEL, OFF(log_level), false, false, 0, 0,
         "error, warn, info or debug"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))

static const char *const sections[] = {
        "node", "mqtt",  "http",   "cache", "channels", "screen", "audio",
        "keys", "hooks", "health", "clock", "pop",      "log"};

/* Output backends compiled in; kept in step with player/outputs/. */
static const char *const outputs[] = {
        "log",
        "gstreamer",
        "sdl",
#ifdef MC_WITH_VLC
        "vlc",
#endif
};
#ifdef MC_WITH_VLC
#define OUTPUTS_VLC ", vlc" /* -DMC_WITH_VLC=OFF leaves it out */
#else
#define OUTPUTS_VLC ""
#endif
#define OUTPUTS_AVAILABLE "log, gstreamer, sdl" OUTPUTS_VLC

/* State of one read. */
struct ctx {
	struct mc_player_config *cfg; /* what is being filled */
	const char *name;             /* file name for messages */
	char *dir;                    /* base of relative paths; NULL = cwd */
	bool load_keys;               /* read key and password files */
	struct mc_error *err;         /* gets the first problem */
	enum mc_err first;            /* code of the first problem */
	FILE *out;                    /* mc_config_check: print each one */
	int problems;                 /* problems found so far */
	int line;                     /* line being read, from 1 */
	const char *section;          /* current section, NULL = none */
	bool skip;                    /* inside an unknown section */
	int seen[N_KEYS];             /* line each key was given on */
	bool bad[N_KEYS];             /* its value was refused */
};

/* ---- reporting ---- */

/*
 * Report one problem: "NAME:LINE: [section] key: what; expected".  line 0
 * leaves out the line, section/key NULL leave out those parts.  The
 * first problem goes into c->err; with c->out every one is printed.
 */
static void problem(struct ctx *c, enum mc_err code, int line,
                    const char *section, const char *key, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static void problem(struct ctx *c, enum mc_err code, int line,
                    const char *section, const char *key, const char *fmt, ...)
{
	char buf[LINE_MAX_BYTES];
	size_t n;
	va_list ap;

	if (line > 0)
		n = (size_t)snprintf(buf, sizeof(buf), "%s:%d: ", c->name,
		                     line);
	else
		n = (size_t)snprintf(buf, sizeof(buf), "%s: ", c->name);
	if (n < sizeof(buf) && section && key)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		                      "[%s] %s: ", section, key);
	else if (n < sizeof(buf) && section)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n,
		                      "[%s]: ", section);
	if (n < sizeof(buf)) {
		va_start(ap, fmt);
		vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
	}
	if (c->problems == 0) {
		c->first = code;
		mc_error_set(c->err, code, "%s", buf);
	}
	c->problems++;
	if (c->out && c->problems <= MAX_PRINTED)
		fprintf(c->out, "%s\n", buf);
	else if (c->out && c->problems == MAX_PRINTED + 1)
		fprintf(c->out, "%s: more problems follow; fix these first\n",
		        c->name);
}

/* Problem with the key being read on the current line. */
#define KEY_PROBLEM(c, k, code, ...)                                           \
	problem((c), (code), (c)->line, (k)->section, (k)->key, __VA_ARGS__)

/* ---- suggestions ---- */

/* tolower for ASCII letters only, whatever the locale. */
static int tolower_ascii(char ch)
{
	return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : (unsigned char)ch;
}

/* Longest name compared for suggestions; longer ones are not typos. */
#define SUGGEST_MAX 40

/*
 * Edit distance with transpositions (optimal string alignment),
 * ignoring case, so that "qouta" and "QUOTA" both find "quota".
 */
static int distance(const char *a, const char *b)
{
	int d[SUGGEST_MAX + 1][SUGGEST_MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > SUGGEST_MAX || lb > SUGGEST_MAX)
		return SUGGEST_MAX + 1;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower_ascii(a[i - 1]);
			int cb = tolower_ascii(b[j - 1]);
			int cost = ca != cb;
			int v = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < v)
				v = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && ca == tolower_ascii(b[j - 2]) &&
			    tolower_ascii(a[i - 2]) == cb &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* Is d small enough for word to be a typo of a known name? */
static bool close_enough(const char *word, int d)
{
	return d <= (strlen(word) <= 4 ? 1 : 2);
}

/* The known section nearest to name, or NULL. */
static const char *suggest_section(const char *name)
{
	const char *best = NULL;
	int best_d = SUGGEST_MAX + 1;

	for (size_t i = 0; i < MC_ARRAY_LEN(sections); i++) {
		int d = distance(name, sections[i]);

		if (d < best_d) {
			best_d = d;
			best = sections[i];
		}
	}
	return best && close_enough(name, best_d) ? best : NULL;
}

/*
 * The key nearest to name: in section when section is not NULL, else in
 * any section.  Exact matches count (distance 0), so that a key written
 * under the wrong header is found in its own.
 */
static const struct key_def *suggest_key(const char *section, const char *name,
                                         int *dist)
{
	const struct key_def *best = NULL;
	int best_d = SUGGEST_MAX + 1;

	for (size_t i = 0; i < N_KEYS; i++) {
		int d;

		if (section && strcmp(keys[i].section, section) != 0)
			continue;
		d = distance(name, keys[i].key);
		if (d < best_d) {
			best_d = d;
			best = &keys[i];
		}
	}
	*dist = best_d;
	return best && close_enough(name, best_d) ? best : NULL;
}

/* "a, b, c": the keys of section, into buf. */
static void list_keys(const char *section, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < N_KEYS && n < size; i++) {
		if (strcmp(keys[i].section, section) != 0)
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
		                      keys[i].key);
	}
}

/* Report a key that section does not have, with the likeliest fix. */
static void unknown_key(struct ctx *c, const char *name)
{
	const struct key_def *k;
	char list[256], sb[MC_INI_SHOWN_BYTES];
	int d;

	/* Distance 0 here is a difference of case only. */
	k = suggest_key(c->section, name, &d);
	if (k) {
		problem(c, MC_ERR_PARSE, c->line, c->section,
		        mc_ini_shown(name, sb), "unknown key; did you mean %s?",
		        k->key);
		return;
	}
	k = suggest_key(NULL, name, &d);
	if (k && d == 0) {
		problem(c, MC_ERR_PARSE, c->line, c->section,
		        mc_ini_shown(name, sb),
		        "unknown key here; %s belongs in [%s]", k->key,
		        k->section);
		return;
	}
	if (k) {
		problem(c, MC_ERR_PARSE, c->line, c->section,
		        mc_ini_shown(name, sb),
		        "unknown key; did you mean [%s] %s?", k->section,
		        k->key);
		return;
	}
	list_keys(c->section, list, sizeof(list));
	problem(c, MC_ERR_PARSE, c->line, c->section, mc_ini_shown(name, sb),
	        "unknown key; [%s] has %s", c->section, list);
}

/* ---- small value parsers ---- */

/* "30s", "500ms", "5m", "1h"; a bare number is seconds. */
static bool parse_duration(const char *s, int64_t *ms)
{
	static const struct mc_ini_unit units[] = {
	        {"", 1000},   {"ms", 1},      {"s", 1000},   {"sec", 1000},
	        {"m", 60000}, {"min", 60000}, {"h", 3600000}};
	int64_t n, mul;

	/* Bounded by the largest unit, whichever is written. */
	if (!mc_ini_number_unit(s, DIGITS_MAX, units, MC_ARRAY_LEN(units), &n,
	                        &mul) ||
	    n > INT64_MAX / 3600000)
		return false;
	*ms = n * mul;
	return true;
}

/* A duration for people: the largest unit that divides it. */
static const char *fmt_duration(int64_t ms, char buf[32])
{
	if (ms % 3600000 == 0 && ms)
		snprintf(buf, 32, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(buf, 32, "%lldm", (long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, 32, "%llds", (long long)(ms / 1000));
	else
		snprintf(buf, 32, "%lldms", (long long)ms);
	return buf;
}

/* A size for people: "512K", "2G", or bytes. */
static const char *fmt_size(int64_t b, char buf[32])
{
	if (b && b % TIB == 0)
		snprintf(buf, 32, "%lldT", (long long)(b / TIB));
	else if (b && b % GIB == 0)
		snprintf(buf, 32, "%lldG", (long long)(b / GIB));
	else if (b && b % MIB == 0)
		snprintf(buf, 32, "%lldM", (long long)(b / MIB));
	else if (b && b % KIB == 0)
		snprintf(buf, 32, "%lldK", (long long)(b / KIB));
	else
		snprintf(buf, 32, "%lld", (long long)b);
	return buf;
}

/* yes/no, true/false, on/off, 1/0, any case. */
static bool parse_bool(const char *s, bool *v)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < MC_ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*v = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*v = false;
			return true;
		}
	}
	return false;
}

/* "HH:MM" (H may be one digit) into minutes; 24:00 only if allow24. */
static bool parse_hhmm(const char **s, int *min, bool allow24)
{
	const char *p = *s;
	int h = 0, m;

	if (*p < '0' || *p > '9')
		return false;
	h = *p++ - '0';
	if (*p >= '0' && *p <= '9')
		h = h * 10 + (*p++ - '0');
	if (*p++ != ':')
		return false;
	if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
		return false;
	m = (p[0] - '0') * 10 + (p[1] - '0');
	p += 2;
	if (h > 24 || (h == 24 && (m != 0 || !allow24)))
		return false;
	*min = h * 60 + m;
	*s = p;
	return true;
}

/*
 * "01:00-05:00" into minutes of the day; the end may be before the start
 * (22:00-05:00 crosses midnight) and may be 24:00 (stored as 0).
 * "always" gives -1, -1.  Equal ends fail: is that never or always?
 */
static bool parse_window(const char *s, int *start, int *end, bool *equal)
{
	*equal = false;
	if (strcasecmp(s, "always") == 0) {
		*start = *end = -1;
		return true;
	}
	if (!parse_hhmm(&s, start, false))
		return false;
	while (*s == ' ')
		s++;
	if (*s++ != '-')
		return false;
	while (*s == ' ')
		s++;
	if (!parse_hhmm(&s, end, true) || *s)
		return false;
	*end %= 24 * 60;
	if (*start == *end) {
		*equal = true;
		return false;
	}
	return true;
}

/*
 * A host name or IPv4 address: 1..253 bytes of letters, digits, '-' and
 * '.'.  (Whether it resolves is the link's business at run time.)
 */
static bool host_name_ok(const char *h, size_t n)
{
	if (n == 0 || n > 253 || h[0] == '-' || h[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.'))
			return false;
	}
	return true;
}

/*
 * Parse "HOST[:PORT]" at s, HOST a name, an IPv4 address or a bracketed
 * IPv6 literal.  On success *host is malloc'd (brackets removed), *port
 * set when given (else left), *rest points after it.  On failure why
 * says what is wrong.
 */
static bool parse_hostport(const char *s, char **host, int *port,
                           const char **rest, const char **why)
{
	const char *h = s, *e;
	size_t hn;
	int64_t pv;

	*host = NULL;
	if (*s == '[') {
		char lit[INET6_ADDRSTRLEN + 1];
		unsigned char bin[16];

		e = strchr(s, ']');
		if (!e) {
			*why = "an IPv6 address needs its closing ']'";
			return false;
		}
		h = s + 1;
		hn = (size_t)(e - h);
		if (hn == 0 || hn >= sizeof(lit)) {
			*why = "the IPv6 address between [ ] is not valid";
			return false;
		}
		memcpy(lit, h, hn);
		lit[hn] = '\0';
		if (inet_pton(AF_INET6, lit, bin) != 1) {
			*why = "the IPv6 address between [ ] is not valid";
			return false;
		}
		s = e + 1;
	} else {
		e = s + strcspn(s, ":/");
		hn = (size_t)(e - h);
		if (*e == ':' && strchr(e + 1, ':')) {
			*why = "an IPv6 address needs brackets, e.g. [::1]";
			return false;
		}
		if (!host_name_ok(h, hn)) {
			*why = "the host is missing or has characters a host "
			       "name cannot have";
			return false;
		}
		s = e;
	}
	if (*s == ':') {
		s++;
		if (!mc_ini_digits(&s, DIGITS_MAX, &pv) || pv < 1 ||
		    pv > 65535) {
			*why = "the port must be a number from 1 to 65535";
			return false;
		}
		*port = (int)pv;
	}
	*host = strndup(h, hn);
	if (!*host) {
		*why = "out of memory";
		return false;
	}
	*rest = s;
	return true;
}

/* ---- setting fields ---- */

/* The field of cfg that key k fills, as a pointer of type T. */
#define FIELD(c, k, T) ((T *)(void *)((char *)(c)->cfg + (k)->off))

/* Replace the string field of k with v (owned). */
static void set_str(struct ctx *c, const struct key_def *k, char *v)
{
	char **f = FIELD(c, k, char *);

	free(*f);
	*f = v;
}

/* A copy of s; reports running out of memory. */
static char *dup_or_report(struct ctx *c, const struct key_def *k,
                           const char *s)
{
	char *d = strdup(s);

	if (!d)
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
	return d;
}

/* path as the player will open it: relative to the file's directory. */
static char *resolve(struct ctx *c, const struct key_def *k, const char *path)
{
	char *r = mc_ini_resolve(c->dir, path);

	if (!r)
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
	return r;
}

/*
 * With load_keys: path must be a regular file, and (private) not
 * readable by other users, and (trust) not writable by them.  Reports
 * and returns false otherwise.
 */
static bool check_file(struct ctx *c, const struct key_def *k, const char *path,
                       bool private, bool trust)
{
	struct stat st;

	if (!c->load_keys)
		return true;
	if (stat(path, &st) < 0) {
		KEY_PROBLEM(c, k, MC_ERR_IO, "%s: %s; expected %s", path,
		            strerror(errno), k->expect);
		return false;
	}
	if (!S_ISREG(st.st_mode)) {
		KEY_PROBLEM(c, k, MC_ERR_IO,
		            "%s: not a regular file; "
		            "expected %s",
		            path, k->expect);
		return false;
	}
	if (private && (st.st_mode & S_IROTH)) {
		KEY_PROBLEM(c, k, MC_ERR_KEY,
		            "%s: every user can read it (mode %04o); "
		            "chmod 640 it, group minecast",
		            path, (unsigned)(st.st_mode & 07777));
		return false;
	}
	if (trust && (st.st_mode & S_IWOTH)) {
		KEY_PROBLEM(c, k, MC_ERR_KEY,
		            "%s: every user can change it (mode %04o), so "
		            "anyone could add a key; chmod 644 it",
		            path, (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

/* Overwrite and free a secret. */
static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

/* Read the password file path into cfg->password. */
static void read_password(struct ctx *c, const struct key_def *k,
                          const char *path)
{
	char buf[MAX_PASSWORD_BYTES + 2];
	size_t n = 0;
	ssize_t r;
	int fd = -1;
	char *pw;

	if (!check_file(c, k, path, true, false) || !c->load_keys)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		KEY_PROBLEM(c, k, MC_ERR_IO, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (n < sizeof(buf) - 1) {
		r = read(fd, buf + n, sizeof(buf) - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			KEY_PROBLEM(c, k, MC_ERR_IO, "%s: %s", path,
			            strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n > MAX_PASSWORD_BYTES) {
		KEY_PROBLEM(c, k, MC_ERR_TOO_LARGE,
		            "%s: longer than %d bytes; expected one line "
		            "holding the password",
		            path, MAX_PASSWORD_BYTES);
		goto out;
	}
	if (n == 0 || memchr(buf, '\0', n) || memchr(buf, '\n', n)) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE,
		            "%s: %s; expected one line holding the password",
		            path, n ? "more than one line" : "empty");
		goto out;
	}
	pw = strdup(buf);
	if (!pw) {
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		goto out;
	}
	free_secret(c->cfg->password);
	c->cfg->password = pw;
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
}

/* [keys] trusted: append the path, load its keys. */
static void add_trusted(struct ctx *c, const struct key_def *k, const char *v)
{
	struct mc_player_config *cfg = c->cfg;
	struct mc_error e;
	char **grown, *path;

	if (cfg->n_trusted_key_files >= MAX_TRUSTED) {
		KEY_PROBLEM(c, k, MC_ERR_RANGE,
		            "more than %d key files; put several keys in "
		            "one file",
		            MAX_TRUSTED);
		return;
	}
	path = resolve(c, k, v);
	if (!path)
		return;
	grown = realloc(cfg->trusted_key_files,
	                (cfg->n_trusted_key_files + 1) * sizeof(*grown));
	if (!grown) {
		free(path);
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		return;
	}
	cfg->trusted_key_files = grown;
	grown[cfg->n_trusted_key_files++] = path;
	if (!check_file(c, k, path, false, true) || !c->load_keys)
		return;
	mc_error_clear(&e);
	if (mc_keyring_load(&cfg->keyring, path, &e) != MC_OK)
		KEY_PROBLEM(c, k, e.code == MC_ERR_NOMEM ? e.code : MC_ERR_KEY,
		            "cannot trust it: %s; expected %s", e.msg,
		            "a minecast-ed25519-public key file");
}

/* [mqtt] broker: append one parsed broker URL. */
static void add_broker(struct ctx *c, const struct key_def *k, const char *v)
{
	struct mc_player_config *cfg = c->cfg;
	struct mc_broker b = {NULL, 1883, false}, *grown;
	const char *rest, *why = NULL, *p = v;
	char sb[MC_INI_SHOWN_BYTES];

	if (strncasecmp(p, "mqtts://", 8) == 0) {
		b.tls = true;
		b.port = 8883;
		p += 8;
	} else if (strncasecmp(p, "mqtt://", 7) == 0) {
		p += 7;
	} else {
		KEY_PROBLEM(c, k, MC_ERR_PARSE,
		            "'%s' is not a broker URL; use %s",
		            mc_ini_shown(v, sb), k->expect);
		return;
	}
	if (strchr(p, '@'))
		why = "a user name goes in username, a password in password "
		      "or password_file, not in the URL";
	else if (!parse_hostport(p, &b.host, &b.port, &rest, &why))
		;
	else if (*rest && strcmp(rest, "/") != 0)
		why = "a broker URL has no path";
	if (why) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE, "'%s': %s; use %s",
		            mc_ini_shown(v, sb), why, k->expect);
		goto fail;
	}
	if (cfg->n_brokers >= MAX_BROKERS) {
		KEY_PROBLEM(c, k, MC_ERR_RANGE, "more than %d brokers",
		            MAX_BROKERS);
		goto fail;
	}
	grown = realloc(cfg->brokers, (cfg->n_brokers + 1) * sizeof(*grown));
	if (!grown) {
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		goto fail;
	}
	cfg->brokers = grown;
	grown[cfg->n_brokers++] = b;
	return;
fail:
	free(b.host);
}

/* [http] base: check, and keep without a trailing '/'. */
static void set_url(struct ctx *c, const struct key_def *k, const char *v)
{
	const char *p = v, *rest, *why = NULL;
	char *host = NULL, *url, sb[MC_INI_SHOWN_BYTES];
	int port = 0;
	size_t n;

	if (strncasecmp(p, "https://", 8) == 0)
		p += 8;
	else if (strncasecmp(p, "http://", 7) == 0)
		p += 7;
	else {
		KEY_PROBLEM(c, k, MC_ERR_PARSE,
		            "'%s' is not an HTTP URL; use %s",
		            mc_ini_shown(v, sb), k->expect);
		return;
	}
	if (strchr(p, '@'))
		why = "credentials do not belong in the URL";
	else if (!parse_hostport(p, &host, &port, &rest, &why))
		;
	else if (*rest && *rest != '/')
		why = "unexpected text after the host";
	else if (strpbrk(rest, " \t?#"))
		why = "the path may not hold blanks, '?' or '#'";
	free(host);
	if (why) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE, "'%s': %s; use %s",
		            mc_ini_shown(v, sb), why, k->expect);
		return;
	}
	n = strlen(v);
	while (n > 0 && v[n - 1] == '/')
		n--;
	url = strndup(v, n);
	if (!url) {
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		return;
	}
	set_str(c, k, url);
}

/* [node] tags: "a, b, c". */
static void set_tags(struct ctx *c, const struct key_def *k, char *v)
{
	struct mc_player_config *cfg = c->cfg;
	char **tags = NULL, *save = NULL, *tok, sb[MC_INI_SHOWN_BYTES];
	size_t n = 0;

	/* Count first, so that one allocation holds every tag. */
	for (const char *p = v; *p; p++)
		n += *p == ',';
	if (n + 1 > MAX_TAGS) {
		KEY_PROBLEM(c, k, MC_ERR_RANGE, "more than %d tags", MAX_TAGS);
		return;
	}
	tags = calloc(n + 1, sizeof(*tags));
	if (!tags) {
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		return;
	}
	n = 0;
	if (v[0] == ',' || v[strlen(v) - 1] == ',' || strstr(v, ",,"))
		goto empty;
	for (tok = strtok_r(v, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		tok = mc_ini_trim(tok);
		if (!*tok)
			goto empty;
		if (!mc_id_valid(tok)) {
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not a valid tag; use 1 to 64 of "
			            "A-Z a-z 0-9 . _ -, separated by commas",
			            mc_ini_shown(tok, sb));
			goto fail;
		}
		tags[n] = strdup(tok);
		if (!tags[n]) {
			KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
			goto fail;
		}
		n++;
	}
	cfg->tags = tags;
	cfg->n_tags = n;
	return;
empty:
	KEY_PROBLEM(c, k, MC_ERR_PARSE, "an empty tag; use %s", k->expect);
fail:
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

/* [clock] sync. */
static void set_clock(struct ctx *c, const struct key_def *k, const char *v)
{
	char sb[MC_INI_SHOWN_BYTES], *path, *mode;

	if (strcmp(v, "auto") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "no") == 0) {
		mode = dup_or_report(c, k, v);
		if (mode)
			set_str(c, k, mode);
		return;
	}
	if (strncmp(v, "file:", 5) != 0 || !v[5]) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE,
		            "'%s' is not a sync mode; use %s",
		            mc_ini_shown(v, sb), k->expect);
		return;
	}
	path = resolve(c, k, v + 5);
	if (!path)
		return;
	mode = mc_printf("file:%s", path);
	free(path);
	if (!mode) {
		KEY_PROBLEM(c, k, MC_ERR_NOMEM, "out of memory");
		return;
	}
	set_str(c, k, mode);
}

/*
 * Read value v (unquoted, trimmed, not empty) for key k.  Returns false
 * when the value was refused (reported).
 */
static bool set_value(struct ctx *c, const struct key_def *k, char *v)
{
	char sb[MC_INI_SHOWN_BYTES], a[32], b[32], *s;
	int before = c->problems;
	int64_t n;
	bool eq;

	switch (k->kind) {
	case K_ID:
		if (!mc_id_valid(v)) {
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not a valid id; use 1 to 64 of "
			            "A-Z a-z 0-9 . _ - (e.g. %s)",
			            mc_ini_shown(v, sb),
			            strcmp(k->key, "id") == 0 ? "pi-cua-lo-01"
			                                      : "cua-lo");
			break;
		}
		if ((s = dup_or_report(c, k, v)))
			set_str(c, k, s);
		break;
	case K_TAGS: set_tags(c, k, v); break;
	case K_STR:
		if ((s = dup_or_report(c, k, v)))
			set_str(c, k, s);
		break;
	case K_SECRET:
		if ((s = dup_or_report(c, k, v))) {
			free_secret(*FIELD(c, k, char *));
			*FIELD(c, k, char *) = s;
		}
		break;
	case K_PATH:
	case K_TLSKEY:
		if (!(s = resolve(c, k, v)))
			break;
		set_str(c, k, s);
		/* Files the player will open: say now if they are not
		 * there; directories are made by systemd at start. */
		if (strcmp(k->key, "ca_file") == 0 ||
		    strcmp(k->key, "cert_file") == 0 || k->kind == K_TLSKEY)
			check_file(c, k, s, k->kind == K_TLSKEY, false);
		break;
	case K_PWFILE:
		if ((s = resolve(c, k, v))) {
			read_password(c, k, s);
			free(s);
		}
		break;
	case K_TRUSTED: add_trusted(c, k, v); break;
	case K_BROKER: add_broker(c, k, v); break;
	case K_URL: set_url(c, k, v); break;
	case K_INT:
	case K_INT64:
		s = v;
		if (*s == '+')
			s++;
		if (!mc_ini_digits((const char **)&s, DIGITS_MAX, &n) || *s) {
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not a number; expected %s",
			            mc_ini_shown(v, sb), k->expect);
			break;
		}
		if (n < k->min || n > k->max) {
			KEY_PROBLEM(c, k, MC_ERR_RANGE,
			            "%lld is out of range; expected %s",
			            (long long)n, k->expect);
			break;
		}
		if (k->kind == K_INT)
			*FIELD(c, k, int) = (int)n;
		else
			*FIELD(c, k, int64_t) = n;
		break;
	case K_DUR_S:
	case K_DUR_MS:
		if (!parse_duration(v, &n)) {
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not a duration; use a number with "
			            "ms, s, m or h (e.g. %s)",
			            mc_ini_shown(v, sb),
			            fmt_duration(k->min, a));
			break;
		}
		if (n < k->min || n > k->max) {
			KEY_PROBLEM(c, k, MC_ERR_RANGE,
			            "%s is out of range; use %s to %s",
			            mc_ini_shown(v, sb),
			            fmt_duration(k->min, a),
			            fmt_duration(k->max, b));
			break;
		}
		if (k->kind == K_DUR_S && n % 1000) {
			KEY_PROBLEM(c, k, MC_ERR_RANGE,
			            "%s is not a whole number of seconds",
			            mc_ini_shown(v, sb));
			break;
		}
		*FIELD(c, k, int) = (int)(k->kind == K_DUR_S ? n / 1000 : n);
		break;
	case K_SIZE:
		if (!mc_ini_parse_size(v, DIGITS_MAX, &n)) {
			KEY_PROBLEM(
			        c, k, MC_ERR_PARSE,
			        "'%s' is not a size; use a number with K, M "
			        "or G (e.g. %s)",
			        mc_ini_shown(v, sb),
			        strcmp(k->key, "quota") == 0 ? "2G" : "512K");
			break;
		}
		if (n < k->min || n > k->max) {
			KEY_PROBLEM(c, k, MC_ERR_RANGE,
			            "%s is out of range; use %s to %s",
			            mc_ini_shown(v, sb), fmt_size(k->min, a),
			            fmt_size(k->max, b));
			break;
		}
		*FIELD(c, k, int64_t) = n;
		break;
	case K_BOOL:
		if (!parse_bool(v, FIELD(c, k, bool)))
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not yes or no; use yes/no, "
			            "true/false, on/off or 1/0",
			            mc_ini_shown(v, sb));
		break;
	case K_WINDOW:
		if (!parse_window(v, &c->cfg->window_start_min,
		                  &c->cfg->window_end_min, &eq))
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            eq ? "'%s' starts and ends at the same "
			                 "time; use always for no window"
			               : "'%s' is not a time window; use "
			                 "HH:MM-HH:MM (e.g. 01:00-05:00) or "
			                 "always",
			            mc_ini_shown(v, sb));
		break;
	case K_OUTPUT:
		for (size_t i = 0; i < MC_ARRAY_LEN(outputs); i++) {
			if (strcmp(v, outputs[i]) == 0) {
				if ((s = dup_or_report(c, k, v)))
					set_str(c, k, s);
				return c->problems == before;
			}
		}
		KEY_PROBLEM(
		        c, k, MC_ERR_UNSUPPORTED,
		        "'%s' is not built in; available: " OUTPUTS_AVAILABLE,
		        mc_ini_shown(v, sb));
		break;
	case K_CLOCK: set_clock(c, k, v); break;
	case K_LEVEL:
		if ((*FIELD(c, k, int) = mc_log_level_parse(v)) < 0) {
			*FIELD(c, k, int) = MC_LOG_INFO;
			KEY_PROBLEM(c, k, MC_ERR_PARSE,
			            "'%s' is not a log level; use %s",
			            mc_ini_shown(v, sb), k->expect);
		}
		break;
	}
	return c->problems == before;
}

/* ---- lines ---- */

/* A "[section]" line, lexed. */
static void section_line(struct ctx *c, const struct mc_ini_line *l)
{
	const char *best, *name = l->name;
	char sb[MC_INI_SHOWN_BYTES];

	c->section = NULL;
	c->skip = true;
	if (l->kind == MC_INI_UNCLOSED) {
		problem(c, MC_ERR_PARSE, c->line, NULL, NULL,
		        "'%s' has no closing ']'; a section header looks like "
		        "[node]",
		        mc_ini_shown(l->text, sb));
		return;
	}
	if (l->kind == MC_INI_AFTER_HEADER) {
		problem(c, MC_ERR_PARSE, c->line, name, NULL,
		        "text after the section header; a header is alone on "
		        "its line");
		return;
	}
	for (size_t i = 0; i < MC_ARRAY_LEN(sections); i++) {
		if (strcmp(name, sections[i]) == 0) {
			c->section = sections[i];
			c->skip = false;
			return;
		}
	}
	best = suggest_section(name);
	if (best)
		problem(c, MC_ERR_PARSE, c->line, mc_ini_shown(name, sb), NULL,
		        "unknown section; did you mean [%s]?", best);
	else
		problem(c, MC_ERR_PARSE, c->line, mc_ini_shown(name, sb), NULL,
		        "unknown section; known are node, mqtt, http, cache, "
		        "channels, keys, hooks, health, clock, pop, log");
}

/* A "key = value" line, lexed. */
static void key_line(struct ctx *c, const struct mc_ini_line *l)
{
	const struct key_def *k = NULL;
	const char *why, *name = l->name;
	char *v = NULL, sb[MC_INI_SHOWN_BYTES];
	size_t i;
	int d;

	if (c->skip)
		return; /* the unknown section was reported already */
	if (!*name) {
		problem(c, MC_ERR_PARSE, c->line, c->section, NULL,
		        "'=' without a key; a setting looks like key = value");
		return;
	}
	if (!c->section) {
		k = suggest_key(NULL, name, &d);
		problem(c, MC_ERR_PARSE, c->line, NULL, NULL,
		        "'%s' is outside any section; put it under its header "
		        "(%s%s%s)",
		        mc_ini_shown(name, sb), k ? "[" : "e.g. [",
		        k ? k->section : "node", "]");
		return;
	}
	for (i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].section, c->section) == 0 &&
		    strcmp(keys[i].key, name) == 0) {
			k = &keys[i];
			break;
		}
	}
	if (!k) {
		unknown_key(c, name);
		return;
	}
	why = mc_ini_unquote(l->value, "#", &v);
	if (why) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE, "%s", why);
		c->seen[i] = c->line;
		c->bad[i] = true;
		return;
	}
	if (!k->repeat && c->seen[i]) {
		KEY_PROBLEM(c, k, MC_ERR_PARSE,
		            "given twice (first on line %d); keep one",
		            c->seen[i]);
		return;
	}
	c->seen[i] = c->line;
	if (!*v) {
		if (k->optional) {
			if (k->kind == K_SECRET || k->kind == K_PWFILE)
				return; /* a password stays unset */
			if (k->kind == K_TAGS)
				return;
			set_str(c, k, NULL);
			return;
		}
		KEY_PROBLEM(c, k, MC_ERR_MISSING, "empty; expected %s",
		            k->expect);
		c->bad[i] = true;
		return;
	}
	if (!set_value(c, k, v))
		c->bad[i] = true;
}

/* One line, NUL-terminated, without its '\n'. */
static void parse_line(struct ctx *c, char *s)
{
	struct mc_ini_line l;
	char sb[MC_INI_SHOWN_BYTES];

	/* A CR is in the text only before a '\n'; the lexer trims it. */
	mc_ini_lex(s, &l);
	switch (l.kind) {
	case MC_INI_BLANK: break;
	case MC_INI_SECTION:
	case MC_INI_UNCLOSED:
	case MC_INI_AFTER_HEADER: section_line(c, &l); break;
	case MC_INI_KEY: key_line(c, &l); break;
	case MC_INI_NOT_SETTING:
		problem(c, MC_ERR_PARSE, c->line, c->skip ? NULL : c->section,
		        NULL, "'%s' is not a setting; use key = value",
		        mc_ini_shown(l.text, sb));
		break;
	}
}

/* ---- whole file ---- */

/* Defaults of every key, as config.h documents them. */
static enum mc_err set_defaults(struct mc_player_config *cfg)
{
	cfg->keepalive_s = 30;
	cfg->reconnect_min_ms = 500;
	cfg->reconnect_max_ms = 60000;
	cfg->http_timeout_s = 30;
	cfg->cache_quota_bytes = GIB;
	cfg->download_parallel = 2;
	cfg->bandwidth_bps = 0;
	cfg->window_start_min = -1;
	cfg->window_end_min = -1;
	cfg->hook_timeout_s = 20;
	cfg->health_interval_s = 30;
	cfg->health_errors_kept_s = 3600;
	cfg->pop_batch_max = 200;
	cfg->pop_resend_s = 60;
	cfg->pop_outbox_max = 100000;
	cfg->log_level = MC_LOG_INFO;
	cfg->volume = 80;
	cfg->cache_dir = strdup("/var/cache/minecast");
	cfg->state_dir = strdup("/var/lib/minecast");
	cfg->screen_output = strdup("log");
	cfg->speaker_output = strdup("log");
	cfg->proc_root = strdup("/proc");
	cfg->sys_root = strdup("/sys");
	cfg->clock_sync = strdup("auto");
	cfg->rotation = 0;
	cfg->video_driver = strdup("auto");
	cfg->font = strdup("/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf");
	cfg->crossfade_ms = 600;
	cfg->ticker_speed = 120;
	cfg->banner = true;
	cfg->audio_device = strdup("default");
	cfg->audio_sink = strdup("alsa");
	cfg->audio_clock = strdup("realtime");
	cfg->preroll_ms = 1500;
	cfg->voice = strdup("vi");
	cfg->amp_lead_ms = 2000;
	cfg->amp_idle_ms = 60000;
	if (!cfg->cache_dir || !cfg->state_dir || !cfg->screen_output ||
	    !cfg->speaker_output || !cfg->proc_root || !cfg->sys_root ||
	    !cfg->clock_sync || !cfg->video_driver || !cfg->font ||
	    !cfg->audio_device || !cfg->audio_sink || !cfg->audio_clock ||
	    !cfg->voice)
		return MC_ERR_NOMEM;
	return MC_OK;
}

/* Index of section/key in keys[]. */
static size_t key_index(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].key, key) == 0)
			break;
	return i;
}

/* What a node cannot do without, and settings that contradict. */
static void finish(struct ctx *c)
{
	struct mc_player_config *cfg = c->cfg;
	size_t pw = key_index("mqtt", "password");
	size_t pwf = key_index("mqtt", "password_file");
	size_t cert = key_index("mqtt", "cert_file");
	size_t key = key_index("mqtt", "key_file");
	size_t rmin = key_index("mqtt", "reconnect_min");
	size_t rmax = key_index("mqtt", "reconnect_max");
	size_t scr = key_index("channels", "screen");
	size_t spk = key_index("channels", "speaker");

	if (!c->seen[key_index("node", "id")])
		problem(c, MC_ERR_MISSING, 0, "node", "id",
		        "missing; every node needs its id, e.g. "
		        "id = pi-cua-lo-01");
	if (!c->seen[key_index("mqtt", "broker")])
		problem(c, MC_ERR_MISSING, 0, "mqtt", "broker",
		        "missing; expected at least one broker = "
		        "mqtt://HOST:PORT");
	if (!c->seen[key_index("http", "base")])
		problem(c, MC_ERR_MISSING, 0, "http", "base",
		        "missing; expected the controller's URL, e.g. "
		        "base = http://HOST:PORT");
	if (!c->seen[key_index("keys", "trusted")])
		problem(c, MC_ERR_MISSING, 0, "keys", "trusted",
		        "missing; without a trusted key the node accepts no "
		        "schedule; expected trusted = PATH.pub");
	if (!cfg->screen && !cfg->speaker && !c->bad[scr] && !c->bad[spk])
		problem(c, MC_ERR_MISSING,
		        c->seen[scr] ? c->seen[scr] : c->seen[spk], "channels",
		        "screen",
		        "no channel is enabled; set screen = yes "
		        "and/or speaker = yes");
	if (c->seen[pw] && c->seen[pwf])
		problem(c, MC_ERR_INVAL, c->seen[pwf], "mqtt", "password_file",
		        "password is set too (line %d); keep one of them",
		        c->seen[pw]);
	if (c->seen[cert] && !c->seen[key] && cfg->cert_file)
		problem(c, MC_ERR_MISSING, c->seen[cert], "mqtt", "cert_file",
		        "set without key_file; a client certificate needs "
		        "its key");
	if (c->seen[key] && !c->seen[cert] && cfg->key_file)
		problem(c, MC_ERR_MISSING, c->seen[key], "mqtt", "key_file",
		        "set without cert_file; a client key needs its "
		        "certificate");
	if (cfg->reconnect_min_ms > cfg->reconnect_max_ms)
		problem(c, MC_ERR_RANGE,
		        c->seen[rmin] ? c->seen[rmin] : c->seen[rmax], "mqtt",
		        c->seen[rmin] ? "reconnect_min" : "reconnect_max",
		        "reconnect_min (%d ms) is above reconnect_max (%d ms); "
		        "the first delay must not exceed the ceiling",
		        cfg->reconnect_min_ms, cfg->reconnect_max_ms);
	if (cfg->rotation % 90 != 0)
		problem(c, MC_ERR_RANGE,
		        c->seen[key_index("screen", "rotation")], "screen",
		        "rotation",
		        "%d is not a quarter turn; use 0, 90, 180 or 270",
		        cfg->rotation);
	if (strcmp(cfg->audio_sink, "alsa") != 0 &&
	    strcmp(cfg->audio_sink, "fake") != 0 &&
	    strncmp(cfg->audio_sink, "file:", 5) != 0)
		problem(c, MC_ERR_RANGE, c->seen[key_index("audio", "sink")],
		        "audio", "sink",
		        "'%.40s' is not a sink; use alsa, fake or file:PATH",
		        cfg->audio_sink);
	if (strcmp(cfg->audio_clock, "realtime") != 0 &&
	    strncmp(cfg->audio_clock, "net:", 4) != 0)
		problem(c, MC_ERR_RANGE, c->seen[key_index("audio", "clock")],
		        "audio", "clock",
		        "'%.40s' is not a clock; use realtime or net:HOST:PORT",
		        cfg->audio_clock);
	if (!cfg->username && cfg->node_id) {
		cfg->username = strdup(cfg->node_id);
		if (!cfg->username)
			problem(c, MC_ERR_NOMEM, 0, NULL, NULL,
			        "out of memory");
	}
}

/* Parse text into cfg, reporting through c. */
static void parse_all(struct ctx *c, const char *text, size_t len)
{
	char *buf = NULL, *p, *cursor;
	struct mc_ini_bad bad;

	if (len > MC_PLAYER_CONF_MAX_BYTES) {
		problem(c, MC_ERR_TOO_LARGE, 0, NULL, NULL,
		        "%zu bytes, larger than the limit of %d; a "
		        "player.conf is a few kilobytes",
		        len, MC_PLAYER_CONF_MAX_BYTES);
		return;
	}
	/* A byte order mark from a Windows editor is harmless. */
	mc_ini_skip_bom(&text, &len);
	if (!mc_ini_text_ok(text, len, true, &bad)) {
		if (bad.byte < 0x80)
			problem(c, MC_ERR_PARSE, bad.line, NULL, NULL,
			        "byte 0x%02X at column %d is a control "
			        "character; save the file as plain text",
			        bad.byte, bad.col);
		else
			problem(c, MC_ERR_UTF8, bad.line, NULL, NULL,
			        "byte 0x%02X at column %d is not valid UTF-8; "
			        "save the file as UTF-8",
			        bad.byte, bad.col);
		return;
	}
	buf = malloc(len + 1);
	if (!buf) {
		problem(c, MC_ERR_NOMEM, 0, NULL, NULL, "out of memory");
		return;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	cursor = buf;
	while ((p = mc_ini_next_line(&cursor))) {
		c->line++;
		parse_line(c, p);
	}
	finish(c);
	free(buf);
}

/*
 * The one reader behind load, parse and check.  text NULL means read
 * path.  Returns the code of the first problem (MC_OK when none) and the
 * count in *problems.
 */
static enum mc_err run(const char *path, const char *text, size_t len,
                       bool load_keys, struct mc_player_config *cfg,
                       struct mc_error *err, FILE *out, int *problems)
{
	struct ctx c;
	char *file = NULL;
	struct stat st;
	enum mc_err rc;

	memset(cfg, 0, sizeof(*cfg));
	mc_keyring_init(&cfg->keyring);
	memset(&c, 0, sizeof(c));
	mc_error_clear(err);
	c.cfg = cfg;
	c.name = path ? path : "(config)";
	c.load_keys = load_keys;
	c.err = err;
	c.out = out;
	cfg->path = strdup(c.name);
	c.dir = mc_ini_dir_of(c.name);
	if (!cfg->path || set_defaults(cfg) != MC_OK) {
		problem(&c, MC_ERR_NOMEM, 0, NULL, NULL, "out of memory");
		goto out;
	}
	if (!text) {
		struct mc_error e;

		mc_error_clear(&e);
		rc = mc_read_file(path, MC_PLAYER_CONF_MAX_BYTES, &file, &len,
		                  &e);
		if (rc == MC_ERR_TOO_LARGE) {
			problem(&c, rc, 0, NULL, NULL,
			        "larger than the limit of %d bytes; a "
			        "player.conf is a few kilobytes",
			        MC_PLAYER_CONF_MAX_BYTES);
			goto out;
		}
		if (rc != MC_OK) {
			problem(&c, rc, 0, NULL, NULL, "cannot read: %s",
			        strncmp(e.msg, path, strlen(path)) == 0 &&
			                        e.msg[strlen(path)] == ':'
			                ? e.msg + strlen(path) + 2
			                : e.msg);
			goto out;
		}
		/* The file chooses which keys to trust. */
		if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
			problem(&c, MC_ERR_KEY, 0, NULL, NULL,
			        "every user can change this file (mode %04o), "
			        "so anyone could choose the trusted keys; "
			        "chmod 644 it",
			        (unsigned)(st.st_mode & 07777));
		text = file;
	}
	parse_all(&c, text, len);
out:
	free(file);
	free(c.dir);
	*problems = c.problems;
	return c.problems ? c.first : MC_OK;
}

enum mc_err mc_config_load(const char *path, struct mc_player_config *cfg,
                           struct mc_error *err)
{
	int n;

	return run(path, NULL, 0, true, cfg, err, NULL, &n);
}

enum mc_err mc_config_parse(const char *text, size_t len, const char *name,
                            bool load_keys, struct mc_player_config *cfg,
                            struct mc_error *err)
{
	int n;

	return run(name, text ? text : "", text ? len : 0, load_keys, cfg, err,
	           NULL, &n);
}

int mc_config_check(const char *path, FILE *out)
{
	struct mc_player_config cfg;
	int n = 0;

	run(path, NULL, 0, true, &cfg, NULL, out, &n);
	if (n == 0)
		fprintf(out, "%s: ok\n", path);
	else
		fprintf(out, "%s: %d problem%s\n", path, n, n == 1 ? "" : "s");
	mc_config_free(&cfg);
	return n;
}

void mc_config_free(struct mc_player_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->node_id);
	free(cfg->site);
	for (size_t i = 0; i < cfg->n_tags; i++)
		free(cfg->tags[i]);
	free(cfg->tags);
	for (size_t i = 0; i < cfg->n_brokers; i++)
		free(cfg->brokers[i].host);
	free(cfg->brokers);
	free(cfg->username);
	free_secret(cfg->password);
	free(cfg->ca_file);
	free(cfg->cert_file);
	free(cfg->key_file);
	free(cfg->http_base);
	free(cfg->http_ca_file);
	free(cfg->cache_dir);
	free(cfg->state_dir);
	free(cfg->video_driver);
	free(cfg->font);
	free(cfg->audio_device);
	free(cfg->audio_sink);
	free(cfg->audio_clock);
	free(cfg->voice);
	free(cfg->tone_file);
	free(cfg->screen_output);
	free(cfg->speaker_output);
	free(cfg->log_output_file);
	for (size_t i = 0; i < cfg->n_trusted_key_files; i++)
		free(cfg->trusted_key_files[i]);
	free(cfg->trusted_key_files);
	mc_keyring_clear(&cfg->keyring);
	free(cfg->hook_reboot);
	free(cfg->hook_screen_power);
	free(cfg->hook_amplifier);
	free(cfg->proc_root);
	free(cfg->sys_root);
	free(cfg->clock_sync);
	memset(cfg, 0, sizeof(*cfg));
}
