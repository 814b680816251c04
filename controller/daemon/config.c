/*
 * minecast-controller — the INI configuration reader (config.h).
 *
 * The sections and keys are one fixed table (keys[] below): a row per key
 * with its section, name, kind, field, default and range.  Defaults are
 * applied by parsing each row's default text with the same code as the
 * file, so the table is the one place a default lives (docs/controller.md
 * copies it).  Every unknown name is an error; the reader keeps going
 * after a problem, so that --check-config lists every mistake in one run.
 *
 * Syntax:
 *   [section]
 *   key = value          # '#' after a blank starts a comment
 *   ; a whole-line comment may also start with ';' or '#'
 *   key = "value"        # double quotes keep blanks and '#'
 * Relative paths are taken from the directory of the file (from the
 * working directory for --set).  Durations take a unit (500ms, 30s, 5m,
 * 2h, 7d); a bare number is in the unit the key's name ends with.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/ini.h"
#include "minecast/log.h"
#include "minecast/util.h"

#include "config.h"

/* A controller.conf is a few kilobytes. */
#define CONF_MAX_BYTES (1024 * 1024)

/* Longest number read; a longer one is "not a whole number". */
#define DIGITS_MAX 15

/* Room for one formatted problem line. */
#define LINE_BYTES 512

/* How a value is read and which field type it fills. */
enum kind {
	K_STR,    /* char *: any text without control characters */
	K_SECRET, /* char *: like K_STR, never quoted back */
	K_PATH,   /* char *: relative to the file's directory */
	K_URL,    /* char *: http:// or https:// base, no trailing '/' */
	K_LISTEN, /* char *: "ADDR:PORT" or "[V6]:PORT" */
	K_HOST,   /* char *: a host name or address */
	K_LEVEL,  /* char *: debug|info|warn|error */
	K_INT,    /* int in [min, max] */
	K_INT64,  /* int64_t in [min, max] */
	K_DUR_S,  /* int64_t seconds; bare number = seconds */
	K_DUR_MS, /* int64_t milliseconds; bare number = ms */
	K_SIZE,   /* int64_t bytes, with K/M/G/T */
	K_DOUBLE  /* double in [min, max] */
};

/* One key of the file. */
struct key_def {
	const char *section; /* "controller", "mqtt", ... */
	const char *key;     /* name in the file */
	enum kind kind;      /* how the value is read */
	size_t off;          /* offsetof the field in struct mcc_config */
	const char *def;     /* default as it would be written; "" = unset */
	double min, max;     /* range of numbers (durations in their unit) */
	const char *expect;  /* what a good value looks like */
};

#define OFF(f) offsetof(struct mcc_config, f)
#define DAY_S  86400.0

/* Every key, in the order of docs/controller.md. */
static const struct key_def keys[] = {
        {"controller", "data_dir", K_PATH, OFF(data_dir), "/var/lib/minecast",
         0, 0, "a directory such as /var/lib/minecast"},
        {"controller", "listen", K_LISTEN, OFF(listen), "127.0.0.1:8080", 0, 0,
         "ADDR:PORT such as 0.0.0.0:8080 or [::1]:8080"},
        {"controller", "http_threads", K_INT, OFF(http_threads), "8", 1, 256,
         "a number of threads, 1 to 256"},
        {"controller", "public_url", K_URL, OFF(public_url), "", 0, 0,
         "http://HOST[:PORT] or https://..., or empty for relative URLs"},
        {"controller", "key_file", K_PATH, OFF(key_file), "", 0, 0,
         "a secret key file; default <data_dir>/signing.key"},
        {"controller", "trusted_keys", K_PATH, OFF(trusted_keys), "", 0, 0,
         "a public key file; default <data_dir>/trusted.pub"},
        {"controller", "log_level", K_LEVEL, OFF(log_level), "info", 0, 0,
         "error, warn, info or debug"},
        {"controller", "max_upload_bytes", K_SIZE, OFF(max_upload_bytes),
         "256M", 1024, 64.0 * 1024 * 1024 * 1024,
         "a size such as 256M (1K to 64G)"},
        {"controller", "render_cmd", K_STR, OFF(render_cmd), "minecast-player",
         0, 0, "the minecast-player program used for previews"},
        {"controller", "preview_cache", K_SIZE, OFF(preview_cache_bytes), "64M",
         0, 64.0 * 1024 * 1024 * 1024,
         "a size such as 64M (0 to 64G; 0 keeps only the latest preview)"},

        {"mqtt", "host", K_HOST, OFF(mqtt_host), "127.0.0.1", 0, 0,
         "a host name or address of the broker"},
        {"mqtt", "port", K_INT, OFF(mqtt_port), "1883", 1, 65535,
         "a port, 1 to 65535"},
        {"mqtt", "user", K_STR, OFF(mqtt_user), "", 0, 0,
         "the controller's broker user name, or empty for anonymous"},
        {"mqtt", "password", K_SECRET, OFF(mqtt_password), "", 0, 0,
         "the broker password"},
        {"mqtt", "cafile", K_PATH, OFF(mqtt_cafile), "", 0, 0,
         "a CA bundle; set it to use TLS"},
        {"mqtt", "client_id", K_STR, OFF(mqtt_client_id), "minecast-controller",
         0, 0, "an MQTT client id"},

        {"publish", "pointer_ttl_s", K_DUR_S, OFF(pointer_ttl_s), "30d", 3600,
         3650 * DAY_S, "a duration such as 30d (1h to 3650d)"},
        {"publish", "resign_before_s", K_DUR_S, OFF(resign_before_s), "7d", 60,
         3650 * DAY_S, "a duration such as 7d, shorter than pointer_ttl_s"},

        {"alerts", "alert_lead_ms", K_DUR_MS, OFF(alert_lead_ms), "500ms", 0,
         60000, "a duration such as 500ms (0 to 60s)"},
        {"alerts", "alert_ttl_s", K_DUR_S, OFF(alert_ttl_s), "1h", 10,
         30 * DAY_S, "a duration such as 1h (10s to 30d)"},

        {"fleet", "stale_s", K_DUR_S, OFF(stale_s), "120s", 5, DAY_S,
         "a duration such as 120s (5s to 1d)"},
        {"fleet", "sync_behind_s", K_DUR_S, OFF(sync_behind_s), "600s", 5,
         30 * DAY_S, "a duration such as 10m (5s to 30d)"},
        {"fleet", "disk_low_pct", K_DOUBLE, OFF(disk_low_pct), "10", 0, 100,
         "a percentage, 0 to 100"},
        {"fleet", "hot_c", K_DOUBLE, OFF(hot_c), "80", 0, 150,
         "degrees Celsius, 0 to 150"},
        {"fleet", "clock_offset_ms", K_DOUBLE, OFF(clock_offset_ms), "1000", 1,
         3600000, "milliseconds, 1 to 3600000"},
        {"fleet", "pop_retention_days", K_INT64, OFF(pop_retention_days), "400",
         1, 36500, "a number of days, 1 to 36500"},

        {"provision", "mosquitto_passwd", K_PATH, OFF(mosquitto_passwd), "", 0,
         0, "the mosquitto password file to maintain, or empty"},
        {"provision", "mosquitto_acl", K_PATH, OFF(mosquitto_acl), "", 0, 0,
         "the mosquitto ACL file to maintain, or empty"},
        {"provision", "mosquitto_reload", K_STR, OFF(mosquitto_reload), "", 0,
         0, "a command line such as systemctl reload mosquitto, or empty"},
        {"provision", "node_mqtt_host", K_HOST, OFF(node_mqtt_host), "", 0, 0,
         "the broker address nodes use; default [mqtt] host"},
        {"provision", "node_mqtt_port", K_INT, OFF(node_mqtt_port), "0", 0,
         65535, "a port; 0 = [mqtt] port"},
        {"provision", "node_http_base", K_URL, OFF(node_http_base), "", 0, 0,
         "http://HOST[:PORT] nodes fetch from; default public_url"},
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= 64, "cfg->given has 64 bits");

static const char *const sections[] = {"controller", "mqtt",  "publish",
                                       "alerts",     "fleet", "provision"};

/* Index of a key in keys[] (for cfg->given); N_KEYS when unknown. */
static size_t key_index(const char *section, const char *key)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0 &&
		    strcmp(keys[i].key, key) == 0)
			return i;
	return N_KEYS;
}

/* State of one read. */
struct ctx {
	struct mcc_config *cfg; /* what is being filled */
	const char *name;       /* file name for messages */
	char *dir;              /* base of relative paths; NULL = as given */
	struct mc_error *err;   /* collects problems, one per line */
	FILE *out;              /* print every problem here (may be NULL) */
	enum mc_err first;      /* code of the first problem */
	int problems;           /* count */
	int line;               /* line being read; 0 = not in a file */
	const char *section;    /* current section; NULL = none */
	bool skip;              /* inside an unknown section */
	int seen[N_KEYS];       /* line each key was given on */
};

/* ---- reporting ---- */

static void problem(struct ctx *c, enum mc_err code, const char *section,
                    const char *key, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

/*
 * "FILE:LINE [section] key: reason".  The first problem's code is the
 * result; every problem is appended to err's message while it has room
 * and printed to c->out.
 */
static void problem(struct ctx *c, enum mc_err code, const char *section,
                    const char *key, const char *fmt, ...)
{
	char buf[LINE_BYTES];
	size_t n;
	va_list ap;

	if (c->line > 0)
		n = (size_t)snprintf(buf, sizeof(buf), "%s:%d", c->name,
		                     c->line);
	else
		n = (size_t)snprintf(buf, sizeof(buf), "%s", c->name);
	if (n < sizeof(buf) && section)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " [%s]",
		                      section);
	if (n < sizeof(buf) && key)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s", key);
	if (n < sizeof(buf))
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, ": ");
	if (n < sizeof(buf)) {
		va_start(ap, fmt);
		vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
		va_end(ap);
	}
	if (c->problems == 0) {
		c->first = code;
		mc_error_set(c->err, code, "%s", buf);
	} else if (c->err) {
		size_t used = strlen(c->err->msg);
		size_t room = sizeof(c->err->msg) - used;
		size_t bl = strlen(buf);

		/* What does not fit is cut; --check-config prints all. */
		if (room > 2) {
			c->err->msg[used] = '\n';
			if (bl > room - 2)
				bl = room - 2;
			memcpy(c->err->msg + used + 1, buf, bl);
			c->err->msg[used + 1 + bl] = '\0';
		}
	}
	c->problems++;
	if (c->out)
		fprintf(c->out, "%s\n", buf);
}

/* ---- value parsers ---- */

/* A duration in ms; a bare number is in bare_ms units. */
static bool parse_duration(const char *s, int64_t bare_ms, int64_t *ms)
{
	const struct mc_ini_unit units[] = {
	        {"", bare_ms},     {"ms", 1},         {"s", 1000},
	        {"sec", 1000},     {"m", 60000},      {"min", 60000},
	        {"h", 3600000},    {"d", 86400000LL}, {"day", 86400000},
	        {"days", 86400000}};
	int64_t n, mul;

	if (!mc_ini_number_unit(s, DIGITS_MAX, units, MC_ARRAY_LEN(units), &n,
	                        &mul) ||
	    n > INT64_MAX / mul)
		return false;
	*ms = n * mul;
	return true;
}

/* A decimal number, optionally signed, with an optional fraction. */
static bool parse_double(const char *s, double *v)
{
	char *end;

	if (!*s || strlen(s) > 32)
		return false;
	errno = 0;
	*v = strtod(s, &end);
	if (errno || *end || end == s || *v != *v) /* NaN */
		return false;
	/* strtod takes "inf", hex and exponents; a person writes digits. */
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789.-+", *p))
			return false;
	return true;
}

/* Letters, digits, '-', '.', ':' (a v6 literal): a host to connect to. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h);

	if (n == 0 || n > 253 || h[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		      ch == ':' || ch == '_'))
			return false;
	}
	return true;
}

/*
 * "ADDR:PORT": ADDR an IPv4 literal, "*" (every address) or "[V6]"; port
 * 0..65535 (0 = any free port, for tests).
 */
static bool listen_ok(const char *s)
{
	const char *colon;
	char addr[64];
	unsigned char bin[16];
	int64_t port;
	size_t n;

	if (*s == '[') {
		const char *e = strchr(s, ']');

		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof(addr))
			return false;
		n = (size_t)(e - s - 1);
		memcpy(addr, s + 1, n);
		addr[n] = '\0';
		if (inet_pton(AF_INET6, addr, bin) != 1)
			return false;
		colon = e + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof(addr))
			return false;
		n = (size_t)(colon - s);
		memcpy(addr, s, n);
		addr[n] = '\0';
		if (strcmp(addr, "*") != 0 &&
		    inet_pton(AF_INET, addr, bin) != 1)
			return false;
	}
	s = colon + 1;
	if (!mc_ini_digits(&s, DIGITS_MAX, &port) || *s || port > 65535)
		return false;
	return true;
}

/* "http://host[:port][/path]" without a trailing '/', no blanks. */
static bool url_ok(const char *s)
{
	size_t n = strlen(s);
	const char *host;

	if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else
		return false;
	if (!*host || *host == '/' || s[n - 1] == '/')
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == '"' || *p == '\\')
			return false;
	return true;
}

/* No control characters (the reader already checked UTF-8). */
static bool text_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* ---- setting values ---- */

static char **str_field(struct mcc_config *cfg, const struct key_def *k)
{
	return (char **)(void *)((char *)cfg + k->off);
}

/*
 * Set key k to v (a trimmed, unquoted value).  Reports and returns false
 * when v is refused; the field keeps its previous value.
 */
static bool set_value(struct ctx *c, const struct key_def *k, const char *v)
{
	char sb[MC_INI_SHOWN_BYTES];
	char *copy = NULL, **sf;
	int64_t n = 0;
	double d = 0;
	const char *show =
	        k->kind == K_SECRET ? "(hidden)" : mc_ini_shown(v, sb);

	switch (k->kind) {
	case K_STR:
	case K_SECRET:
	case K_PATH:
	case K_URL:
	case K_LISTEN:
	case K_HOST:
	case K_LEVEL:
		sf = str_field(c->cfg, k);
		if (!*v) {
			/* Empty means "not set" (or the derived default). */
			if (k->def[0]) {
				problem(c, MC_ERR_MISSING, k->section, k->key,
				        "empty; expected %s", k->expect);
				return false;
			}
			MC_FREE(*sf);
			return true;
		}
		if (!text_ok(v)) {
			problem(c, MC_ERR_PARSE, k->section, k->key,
			        "holds a control character; expected %s",
			        k->expect);
			return false;
		}
		if ((k->kind == K_URL && !url_ok(v)) ||
		    (k->kind == K_LISTEN && !listen_ok(v)) ||
		    (k->kind == K_HOST && !host_ok(v)) ||
		    (k->kind == K_LEVEL && mc_log_level_parse(v) < 0)) {
			problem(c, MC_ERR_RANGE, k->section, k->key,
			        "'%s' is not valid; expected %s", show,
			        k->expect);
			return false;
		}
		copy = k->kind == K_PATH ? mc_ini_resolve(c->dir, v)
		                         : strdup(v);
		if (!copy) {
			problem(c, MC_ERR_NOMEM, k->section, k->key,
			        "out of memory");
			return false;
		}
		free(*sf);
		*sf = copy;
		return true;
	case K_INT:
	case K_INT64: {
		const char *p = v;

		if (!mc_ini_digits(&p, DIGITS_MAX, &n) || *p) {
			problem(c, MC_ERR_TYPE, k->section, k->key,
			        "'%s' is not a whole number; expected %s", show,
			        k->expect);
			return false;
		}
		d = (double)n;
		break;
	}
	case K_DUR_S:
	case K_DUR_MS:
		if (!parse_duration(v, k->kind == K_DUR_S ? 1000 : 1, &n) ||
		    (k->kind == K_DUR_S && n % 1000 != 0)) {
			problem(c, MC_ERR_TYPE, k->section, k->key,
			        "'%s' is not a duration; expected %s", show,
			        k->expect);
			return false;
		}
		if (k->kind == K_DUR_S)
			n /= 1000;
		d = (double)n;
		break;
	case K_SIZE:
		if (!mc_ini_parse_size(v, DIGITS_MAX, &n)) {
			problem(c, MC_ERR_TYPE, k->section, k->key,
			        "'%s' is not a size; expected %s", show,
			        k->expect);
			return false;
		}
		d = (double)n;
		break;
	case K_DOUBLE:
		if (!parse_double(v, &d)) {
			problem(c, MC_ERR_TYPE, k->section, k->key,
			        "'%s' is not a number; expected %s", show,
			        k->expect);
			return false;
		}
		break;
	}
	if (d < k->min || d > k->max) {
		problem(c, MC_ERR_RANGE, k->section, k->key,
		        "'%s' is out of range; expected %s", show, k->expect);
		return false;
	}
	switch (k->kind) {
	case K_INT: *(int *)(void *)((char *)c->cfg + k->off) = (int)n; break;
	case K_DOUBLE: *(double *)(void *)((char *)c->cfg + k->off) = d; break;
	default: *(int64_t *)(void *)((char *)c->cfg + k->off) = n; break;
	}
	return true;
}

/* "controller, mqtt, ..." for messages. */
static void list_sections(char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < MC_ARRAY_LEN(sections) && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s[%s]",
		                      i ? ", " : "", sections[i]);
}

/* A "[section]" line, lexed; an unknown one skips its keys. */
static void section_line(struct ctx *c, const struct mc_ini_line *l)
{
	char sb[MC_INI_SHOWN_BYTES], list[128];

	c->section = NULL;
	c->skip = true;
	if (l->kind == MC_INI_UNCLOSED) {
		problem(c, MC_ERR_PARSE, NULL, NULL,
		        "'%s' has no closing ']'; a section header looks like "
		        "[controller]",
		        mc_ini_shown(l->text, sb));
		return;
	}
	if (l->kind == MC_INI_AFTER_HEADER) {
		problem(c, MC_ERR_PARSE, mc_ini_shown(l->name, sb), NULL,
		        "text after the section header; a header is alone on "
		        "its line");
		return;
	}
	for (size_t i = 0; i < MC_ARRAY_LEN(sections); i++) {
		if (strcmp(l->name, sections[i]) == 0) {
			c->section = sections[i];
			c->skip = false;
			return;
		}
	}
	list_sections(list, sizeof(list));
	problem(c, MC_ERR_PARSE, mc_ini_shown(l->name, sb), NULL,
	        "unknown section; known are %s", list);
}

/* The key of this name in another section, for a hint. */
static const struct key_def *elsewhere(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].key, name) == 0)
			return &keys[i];
	return NULL;
}

static void unknown_key(struct ctx *c, const char *section, const char *name)
{
	const struct key_def *k = elsewhere(name);
	char list[512], sb[MC_INI_SHOWN_BYTES];
	size_t n = 0;

	if (k) {
		problem(c, MC_ERR_PARSE, section, mc_ini_shown(name, sb),
		        "unknown key here; it belongs in [%s]", k->section);
		return;
	}
	list[0] = '\0';
	for (size_t i = 0; i < N_KEYS && n < sizeof(list); i++)
		if (strcmp(keys[i].section, section) == 0)
			n += (size_t)snprintf(list + n, sizeof(list) - n,
			                      "%s%s", n ? ", " : "",
			                      keys[i].key);
	problem(c, MC_ERR_PARSE, section, mc_ini_shown(name, sb),
	        "unknown key; [%s] has %s", section, list);
}

/* Key i was set: given, or (empty value) back to its default. */
static void mark_given(struct mcc_config *cfg, size_t i, bool given)
{
	if (given)
		cfg->given |= (uint64_t)1 << i;
	else
		cfg->given &= ~((uint64_t)1 << i);
}

/* A "key = value" line, lexed. */
static void key_line(struct ctx *c, const struct mc_ini_line *l)
{
	const char *why, *name = l->name;
	char *v = NULL, sb[MC_INI_SHOWN_BYTES];
	size_t i;

	if (!*name) {
		problem(c, MC_ERR_PARSE, c->section, NULL,
		        "'=' without a key; a setting looks like key = value");
		return;
	}
	if (!c->section) {
		if (c->skip)
			return; /* the unknown section was reported */
		problem(c, MC_ERR_PARSE, NULL, mc_ini_shown(name, sb),
		        "outside any section; put it under its header, e.g. "
		        "[controller]");
		return;
	}
	i = key_index(c->section, name);
	if (i == N_KEYS) {
		unknown_key(c, c->section, name);
		return;
	}
	why = mc_ini_unquote(l->value, "#;", &v);
	if (why) {
		problem(c, MC_ERR_PARSE, c->section, name, "%s", why);
		return;
	}
	if (c->seen[i]) {
		problem(c, MC_ERR_PARSE, c->section, name,
		        "given twice (first on line %d); keep one", c->seen[i]);
		return;
	}
	c->seen[i] = c->line;
	/* An empty value asks for the default, derived ones included. */
	if (set_value(c, &keys[i], v))
		mark_given(c->cfg, i, *v != '\0');
}

static void parse_line(struct ctx *c, char *s)
{
	struct mc_ini_line l;
	char sb[MC_INI_SHOWN_BYTES];

	mc_ini_lex(s, &l);
	switch (l.kind) {
	case MC_INI_BLANK: break;
	case MC_INI_SECTION:
	case MC_INI_UNCLOSED:
	case MC_INI_AFTER_HEADER: section_line(c, &l); break;
	case MC_INI_KEY: key_line(c, &l); break;
	case MC_INI_NOT_SETTING:
		problem(c, MC_ERR_PARSE, c->section, NULL,
		        "'%s' is not a setting; use key = value",
		        mc_ini_shown(l.text, sb));
		break;
	}
}

/* ---- defaults and the whole read ---- */

static enum mc_err set_defaults(struct mcc_config *cfg)
{
	struct ctx c;
	struct mc_error e;

	memset(&c, 0, sizeof(c));
	c.cfg = cfg;
	c.name = "(defaults)";
	c.err = &e;
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].def[0] && !set_value(&c, &keys[i], keys[i].def))
			return MC_ERR_NOMEM; /* the table is tested */
	cfg->given = 0;
	return MC_OK;
}

/* Derived defaults; replaces those not given explicitly. */
static void derive(struct mcc_config *cfg, const char *section, const char *key,
                   char **field, char *value)
{
	if (cfg->given & ((uint64_t)1 << key_index(section, key))) {
		free(value);
		return;
	}
	free(*field);
	*field = value;
}

enum mc_err mcc_config_finish(struct mcc_config *cfg, struct mc_error *err)
{
	if (!cfg->data_dir || !cfg->data_dir[0])
		return mc_error_set(err, MC_ERR_MISSING,
		                    "[controller] data_dir: must be set");
	derive(cfg, "controller", "key_file", &cfg->key_file,
	       mc_printf("%s/signing.key", cfg->data_dir));
	derive(cfg, "controller", "trusted_keys", &cfg->trusted_keys,
	       mc_printf("%s/trusted.pub", cfg->data_dir));
	derive(cfg, "provision", "node_mqtt_host", &cfg->node_mqtt_host,
	       mc_strdup(cfg->mqtt_host));
	derive(cfg, "provision", "node_http_base", &cfg->node_http_base,
	       mc_strdup(cfg->public_url));
	if (!(cfg->given &
	      ((uint64_t)1 << key_index("provision", "node_mqtt_port"))) ||
	    cfg->node_mqtt_port == 0)
		cfg->node_mqtt_port = cfg->mqtt_port;
	if (!cfg->key_file || !cfg->trusted_keys || !cfg->node_mqtt_host)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	if (cfg->resign_before_s >= cfg->pointer_ttl_s)
		return mc_error_set(err, MC_ERR_RANGE,
		                    "[publish] resign_before_s: %lld must be "
		                    "shorter than pointer_ttl_s (%lld)",
		                    (long long)cfg->resign_before_s,
		                    (long long)cfg->pointer_ttl_s);
	return MC_OK;
}

enum mc_err mcc_config_parse(struct mcc_config *cfg, const char *text,
                             size_t len, const char *name, FILE *out,
                             struct mc_error *err)
{
	struct ctx c;
	char *buf = NULL, *p, *cursor;
	struct mc_ini_bad bad;
	enum mc_err rc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&c, 0, sizeof(c));
	mc_error_clear(err);
	c.cfg = cfg;
	c.name = name ? name : "(config)";
	c.err = err;
	c.out = out;
	if (set_defaults(cfg) != MC_OK) {
		problem(&c, MC_ERR_NOMEM, NULL, NULL, "out of memory");
		goto done;
	}
	if (len > CONF_MAX_BYTES) {
		problem(&c, MC_ERR_TOO_LARGE, NULL, NULL,
		        "%zu bytes, larger than the limit of %d", len,
		        CONF_MAX_BYTES);
		goto done;
	}
	mc_ini_skip_bom(&text, &len);
	if (!mc_ini_text_ok(text, len, false, &bad)) {
		c.line = bad.line;
		problem(&c, MC_ERR_UTF8, NULL, NULL,
		        "not valid UTF-8 text (or a control character); save "
		        "the file as plain UTF-8");
		goto done;
	}
	c.dir = name ? mc_ini_dir_of(name) : NULL;
	buf = malloc(len + 1);
	if (!buf) {
		problem(&c, MC_ERR_NOMEM, NULL, NULL, "out of memory");
		goto done;
	}
	memcpy(buf, text, len);
	buf[len] = '\0';
	cursor = buf;
	while ((p = mc_ini_next_line(&cursor))) {
		c.line++;
		parse_line(&c, p);
	}
	c.line = 0;
	if (c.problems == 0) {
		struct mc_error e;

		rc = mcc_config_finish(cfg, &e);
		/* Its message names section and key already. */
		if (rc != MC_OK) {
			c.problems++;
			c.first = rc;
			mc_error_set(err, rc, "%s %s", c.name, e.msg);
			if (out)
				fprintf(out, "%s %s\n", c.name, e.msg);
		}
	}
done:
	free(buf);
	free(c.dir);
	return c.problems ? c.first : MC_OK;
}

enum mc_err mcc_config_load_report(struct mcc_config *cfg, const char *path,
                                   FILE *out, struct mc_error *err)
{
	struct mc_error e;
	char *text = NULL;
	size_t len = 0;
	enum mc_err rc;

	if (!path) {
		rc = mcc_config_parse(cfg, "", 0, NULL, out, err);
		return rc;
	}
	rc = mc_read_file(path, CONF_MAX_BYTES, &text, &len, &e);
	if (rc != MC_OK) {
		memset(cfg, 0, sizeof(*cfg));
		set_defaults(cfg);
		mc_error_set(err, rc, "%s: cannot read: %s", path,
		             rc == MC_ERR_TOO_LARGE ? "larger than 1 MiB"
		                                    : strerror(errno));
		if (out)
			fprintf(out, "%s\n", err->msg);
		return rc;
	}
	rc = mcc_config_parse(cfg, text, len, path, out, err);
	free(text);
	return rc;
}

enum mc_err mcc_config_load(struct mcc_config *cfg, const char *path,
                            struct mc_error *err)
{
	return mcc_config_load_report(cfg, path, NULL, err);
}

enum mc_err mcc_config_set(struct mcc_config *cfg, const char *assignment,
                           struct mc_error *err)
{
	struct ctx c;
	char *copy = strdup(assignment), *dot, *eq, *section, *key, *v = NULL;
	const char *why;
	size_t i;
	enum mc_err rc;

	memset(&c, 0, sizeof(c));
	mc_error_clear(err);
	c.cfg = cfg;
	c.name = "--set";
	c.err = err;
	if (!copy)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	eq = strchr(copy, '=');
	dot = strchr(copy, '.');
	if (!eq || !dot || dot > eq) {
		problem(&c, MC_ERR_PARSE, NULL, NULL,
		        "'%s': expected section.key=value, e.g. "
		        "controller.listen=127.0.0.1:8080",
		        assignment);
		goto done;
	}
	*dot = '\0';
	*eq = '\0';
	section = mc_ini_trim(copy);
	key = mc_ini_trim(dot + 1);
	i = key_index(section, key);
	if (i == N_KEYS) {
		bool known = false;

		for (size_t j = 0; j < MC_ARRAY_LEN(sections); j++)
			known = known || strcmp(sections[j], section) == 0;
		if (known)
			unknown_key(&c, section, key);
		else
			problem(&c, MC_ERR_PARSE, section, NULL,
			        "unknown section");
		goto done;
	}
	why = mc_ini_unquote(eq + 1, "#;", &v);
	if (why) {
		problem(&c, MC_ERR_PARSE, section, key, "%s", why);
		goto done;
	}
	if (set_value(&c, &keys[i], v))
		mark_given(cfg, i, *v != '\0');
done:
	free(copy);
	if (c.problems)
		return c.first;
	rc = mcc_config_finish(cfg, err);
	return rc;
}

void mcc_config_print_keys(FILE *out)
{
	const char *section = NULL;

	for (size_t i = 0; i < N_KEYS; i++) {
		const struct key_def *k = &keys[i];

		if (!section || strcmp(section, k->section) != 0) {
			section = k->section;
			fprintf(out, "  [%s]\n", section);
		}
		fprintf(out, "    %-20s %s%s%s\n", k->key, k->expect,
		        k->def[0] ? "; default " : "", k->def);
	}
}

void mcc_config_free(struct mcc_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < N_KEYS; i++) {
		switch (keys[i].kind) {
		case K_STR:
		case K_SECRET:
		case K_PATH:
		case K_URL:
		case K_LISTEN:
		case K_HOST:
		case K_LEVEL: MC_FREE(*str_field(cfg, &keys[i])); break;
		default: break;
		}
	}
}
