/*
 * Fuzz the INI syntax both configuration readers share (common/src/ini.c)
 * on its own: the text check in both modes, then, line by line, the lexer,
 * the value unquoting with either set of comment characters, and the
 * number, duration and size parsers on every value.  The readers'
 * harnesses (fuzz_config.c, fuzz_ctl_config.c) reach the same code only
 * through their key tables; this one also feeds the parsers values no key
 * would, and checks what ini.h promises: every pointer stays inside the
 * line, a quoted-back value is at most MC_INI_SHOWN_MAX bytes and "...".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/ini.h"
#include "minecast/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort unless p points into [lo, hi]. */
static void inside(const char *p, const char *lo, const char *hi)
{
	if (p && (p < lo || p > hi))
		abort();
}

/* Every parser on one value; results are only checked for sanity. */
static void values(const char *v)
{
	static const struct mc_ini_unit units[] = {
	        {"", 1000}, {"ms", 1}, {"s", 1000}, {"h", 3600000}};
	char sb[MC_INI_SHOWN_BYTES];
	const char *p = v, *shown;
	int64_t n, mul, bytes;

	if (mc_ini_digits(&p, 18, &n) && (n < 0 || p == v))
		abort();
	if (mc_ini_number_unit(v, 18, units, MC_ARRAY_LEN(units), &n, &mul) &&
	    (n < 0 || mul < 1))
		abort();
	if (mc_ini_parse_size(v, 15, &bytes) && bytes < 0)
		abort();
	shown = mc_ini_shown(v, sb);
	if (strlen(shown) > MC_INI_SHOWN_MAX + 3)
		abort();
}

static void one_line(char *s, size_t n)
{
	struct mc_ini_line l;
	char *copy = strndup(s, n), *v;
	const char *why;

	if (!copy)
		return;
	mc_ini_lex(s, &l);
	inside(l.text, s, s + n);
	inside(l.name, s, s + n);
	inside(l.value, s, s + n);
	if (l.kind == MC_INI_KEY) {
		/* The same value read as each reader reads it. */
		strcpy(copy, l.value);
		why = mc_ini_unquote(copy, "#;", &v);
		if (!why) {
			inside(v, copy, copy + strlen(l.value));
			values(v);
		}
		why = mc_ini_unquote(l.value, "#", &v);
		if (!why)
			values(v);
	} else if (l.text) {
		values(l.text);
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct mc_ini_bad bad;
	char *buf, *cursor, *line;
	bool lenient;

	mc_ini_skip_bom(&text, &size);
	lenient = mc_ini_text_ok(text, size, false, &bad);
	/* The strict check refuses a superset. */
	if (mc_ini_text_ok(text, size, true, &bad) && !lenient)
		abort();
	if (!lenient)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, text, size);
	buf[size] = '\0';
	cursor = buf;
	while ((line = mc_ini_next_line(&cursor))) {
		if (cursor && cursor[-1] != '\0')
			abort();
		one_line(line, strlen(line));
	}
	free(buf);
	return 0;
}
