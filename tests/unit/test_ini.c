/*
 * The INI syntax both configuration readers share (ini.h): lexing of
 * lines, values in quotes and comments, numbers with units, sizes, the
 * text check, and malformed, oversized and truncated lines.  What each
 * reader says about a line is tested with the reader
 * (test_player_config.c, test_ctl_core.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "minecast/ini.h"
#include "minecast/util.h"

/* One line and what mc_ini_lex must make of it; NULL = not checked. */
struct lex_case {
	const char *line;      /* as in the file, without '\n' */
	enum mc_ini_kind kind; /* what it is */
	const char *name;      /* section or key name */
	const char *value;     /* KEY: raw value; else the trimmed line */
};

/* Lex a copy of each case's line and compare. */
static void check_lex(const struct lex_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct lex_case *t = &cases[i];
		char *copy = strdup(t->line);
		struct mc_ini_line l;
		const char *v;

		assert_non_null(copy);
		mc_ini_lex(copy, &l);
		v = l.kind == MC_INI_KEY ? l.value : l.text;
		if (l.kind != t->kind ||
		    (t->name && (!l.name || strcmp(l.name, t->name) != 0)) ||
		    (t->value && strcmp(v, t->value) != 0))
			fail_msg("'%s': kind %d name '%s' value '%s'", t->line,
			         l.kind, l.name ? l.name : "(null)", v);
		free(copy);
	}
}

static void test_lex_kinds(void **state)
{
	static const struct lex_case cases[] = {
	        {"", MC_INI_BLANK, NULL, ""},
	        {" \t \r", MC_INI_BLANK, NULL, ""},
	        {"  # a comment = with [brackets]", MC_INI_BLANK, NULL, NULL},
	        {"; another", MC_INI_BLANK, NULL, NULL},
	        {"  [ mqtt ]  # the broker\r", MC_INI_SECTION, "mqtt", NULL},
	        {"[cache];x", MC_INI_SECTION, "cache", NULL},
	        {"\tkeepalive = 30s # half a minute\r", MC_INI_KEY, "keepalive",
	         " 30s # half a minute"},
	        /* The first '=' splits; the rest belongs to the value. */
	        {"hook = a=b", MC_INI_KEY, "hook", " a=b"},
	};

	(void)state;
	check_lex(cases, MC_ARRAY_LEN(cases));
}

static void test_lex_malformed(void **state)
{
	static const struct lex_case cases[] = {
	        /* A header cut short: the whole line is kept for messages. */
	        {"  [mqtt  ", MC_INI_UNCLOSED, NULL, "[mqtt"},
	        {"[", MC_INI_UNCLOSED, NULL, "["},
	        /* A '[' decides: "[a=b" is a header, not a key. */
	        {"[a=b", MC_INI_UNCLOSED, NULL, "[a=b"},
	        {"[node] id = x", MC_INI_AFTER_HEADER, "node", NULL},
	        {"[]", MC_INI_SECTION, "", NULL},
	        {"just words", MC_INI_NOT_SETTING, NULL, "just words"},
	        {" = value", MC_INI_KEY, "", " value"},
	        {"key =", MC_INI_KEY, "key", ""},
	};

	(void)state;
	check_lex(cases, MC_ARRAY_LEN(cases));
}

static void test_lex_oversized_line(void **state)
{
	size_t n = 100000;
	char *s = malloc(n + 16);
	char sb[MC_INI_SHOWN_BYTES];
	struct mc_ini_line l;
	const char *shown;

	(void)state;
	assert_non_null(s);
	memcpy(s, "k = ", 4);
	memset(s + 4, 'x', n);
	s[n + 4] = '\0';
	mc_ini_lex(s, &l);
	assert_int_equal(l.kind, MC_INI_KEY);
	assert_int_equal(strlen(l.value), n + 1);
	/* Quoted back cut to MC_INI_SHOWN_MAX bytes and "...". */
	shown = mc_ini_shown(l.value, sb);
	assert_int_equal(strlen(shown), MC_INI_SHOWN_MAX + 3);
	assert_string_equal(shown + MC_INI_SHOWN_MAX, "...");

	memset(s, 'y', n);
	s[n] = '\0';
	mc_ini_lex(s, &l);
	assert_int_equal(l.kind, MC_INI_NOT_SETTING);
	assert_int_equal(strlen(l.text), n);
	free(s);
}

static void test_shown_cuts_on_character(void **state)
{
	char sb[MC_INI_SHOWN_BYTES], v[64];
	const char *r;

	(void)state;
	assert_string_equal(mc_ini_shown("short", sb), "short");
	/* 39 ASCII bytes then "é" (2 bytes) straddling byte 40. */
	memset(v, 'a', 39);
	memcpy(v + 39, "\xC3\xA9zz", 5);
	r = mc_ini_shown(v, sb);
	assert_int_equal(strlen(r), 39 + 3);
	assert_memory_equal(r + 39, "...", 4);
	/* Exactly MC_INI_SHOWN_MAX bytes: as it is. */
	memset(v, 'b', MC_INI_SHOWN_MAX);
	v[MC_INI_SHOWN_MAX] = '\0';
	assert_ptr_equal(mc_ini_shown(v, sb), v);
}

static void test_unquote(void **state)
{
	static const struct {
		const char *raw;     /* text after '=' */
		const char *comment; /* comment characters */
		const char *value;   /* expected value, or NULL */
		const char *why;     /* expected reason, or NULL */
	} cases[] = {
	        {"  plain value  # comment", "#", "plain value", NULL},
	        /* '#' inside a word is kept; ';' only when asked. */
	        {" a#b ;c", "#", "a#b ;c", NULL},
	        {" a#b ;c", "#;", "a#b", NULL},
	        {"#all comment", "#", "", NULL},
	        {" \" keep # this \" # not this", "#", " keep # this ", NULL},
	        {"\"\" ; empty", "#", "", NULL},
	        /* Truncated and malformed quotes. */
	        {" \"never closed", "#", NULL,
	         "a value opened with \" is not closed"},
	        {"\"a\" b", "#;", NULL,
	         "text after the closing \"; quote the whole value"},
	};

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_LEN(cases); i++) {
		char buf[128], *v = NULL;
		const char *why;

		strcpy(buf, cases[i].raw);
		why = mc_ini_unquote(buf, cases[i].comment, &v);
		if (cases[i].why ? !why || strcmp(why, cases[i].why) != 0
		                 : why || strcmp(v, cases[i].value) != 0)
			fail_msg("'%s': value '%s', reason '%s'", cases[i].raw,
			         why ? "" : v, why ? why : "");
	}
}

static void test_digits(void **state)
{
	const char *s;
	int64_t v = -1;

	(void)state;
	s = "123abc";
	assert_true(mc_ini_digits(&s, 15, &v));
	assert_int_equal(v, 123);
	assert_string_equal(s, "abc");

	s = "123456789012345";
	assert_true(mc_ini_digits(&s, 15, &v));
	assert_int_equal(v, 123456789012345LL);
	s = "1234567890123456";
	assert_false(mc_ini_digits(&s, 15, &v));
	assert_string_equal(s, "1234567890123456"); /* not moved */
	assert_true(mc_ini_digits(&s, 18, &v));
	s = "999999999999999999";
	assert_true(mc_ini_digits(&s, 18, &v));
	assert_int_equal(v, 999999999999999999LL);

	s = "";
	assert_false(mc_ini_digits(&s, 18, &v));
	s = "-1";
	assert_false(mc_ini_digits(&s, 18, &v));
	s = " 1";
	assert_false(mc_ini_digits(&s, 18, &v));
}

static void test_number_unit(void **state)
{
	static const struct mc_ini_unit units[] = {
	        {"", 1000}, {"ms", 1}, {"s", 1000}, {"h", 3600000}};
	int64_t n = 0, mul = 0;

	(void)state;
	assert_true(mc_ini_number_unit("30", 18, units, MC_ARRAY_LEN(units), &n,
	                               &mul));
	assert_int_equal(n, 30);
	assert_int_equal(mul, 1000);
	assert_true(mc_ini_number_unit("500  MS", 18, units,
	                               MC_ARRAY_LEN(units), &n, &mul));
	assert_int_equal(n, 500);
	assert_int_equal(mul, 1);
	assert_true(mc_ini_number_unit("2h", 18, units, MC_ARRAY_LEN(units), &n,
	                               &mul));
	assert_int_equal(mul, 3600000);

	assert_false(mc_ini_number_unit("2d", 18, units, MC_ARRAY_LEN(units),
	                                &n, &mul));
	assert_false(mc_ini_number_unit("2 h x", 18, units, MC_ARRAY_LEN(units),
	                                &n, &mul));
	assert_false(mc_ini_number_unit("1.5s", 18, units, MC_ARRAY_LEN(units),
	                                &n, &mul));
	assert_false(mc_ini_number_unit("s", 18, units, MC_ARRAY_LEN(units), &n,
	                                &mul));
	assert_false(mc_ini_number_unit("", 18, units, MC_ARRAY_LEN(units), &n,
	                                &mul));
	/* Too many digits for the reader's limit. */
	assert_false(mc_ini_number_unit("1234567890123456ms", 15, units,
	                                MC_ARRAY_LEN(units), &n, &mul));
	/* Without a unit named "", a bare number is refused. */
	assert_false(mc_ini_number_unit("30", 18, units + 1,
	                                MC_ARRAY_LEN(units) - 1, &n, &mul));
}

static void test_parse_size(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} good[] = {
	        {"0", 0},
	        {"4096", 4096},
	        {"4096B", 4096},
	        {"512K", 512 * 1024},
	        {"512 kb", 512 * 1024},
	        {"10MiB", 10 * 1024 * 1024},
	        {"2G", 2LL * 1024 * 1024 * 1024},
	        {"1t", 1024LL * 1024 * 1024 * 1024},
	        {"8388607T", 8388607LL * 1024 * 1024 * 1024 * 1024},
	};
	static const char *const bad[] = {
	        "",
	        "K",
	        "1.5G",
	        "-1",
	        "2 G B",
	        "10iB",
	        "10Mx",
	        "1P",
	        "8388608T",            /* past INT64_MAX */
	        "1000000000000000000", /* 19 digits */
	};
	int64_t b;

	(void)state;
	for (size_t i = 0; i < MC_ARRAY_LEN(good); i++) {
		b = -1;
		if (!mc_ini_parse_size(good[i].text, 18, &b) ||
		    b != good[i].bytes)
			fail_msg("'%s': got %lld", good[i].text, (long long)b);
	}
	for (size_t i = 0; i < MC_ARRAY_LEN(bad); i++)
		if (mc_ini_parse_size(bad[i], 18, &b))
			fail_msg("'%s' accepted", bad[i]);
	/* The controller's 15 digits. */
	assert_false(mc_ini_parse_size("1234567890123456", 15, &b));
	assert_true(mc_ini_parse_size("123456789012345", 15, &b));
}

static void test_trim(void **state)
{
	char buf[32];

	(void)state;
	strcpy(buf, " \t a b \t\r");
	assert_string_equal(mc_ini_trim(buf), "a b");
	/* A CR is trimmed at the end only. */
	strcpy(buf, "\ra\r");
	assert_string_equal(mc_ini_trim(buf), "\ra");
	strcpy(buf, "   ");
	assert_string_equal(mc_ini_trim(buf), "");
}

static void test_next_line(void **state)
{
	char text[] = "a\n\nb\r\nc", *cur = text, *l;
	char one[] = "x\n", *cur1 = one;
	char none[] = "", *cur0 = none;

	(void)state;
	assert_string_equal(mc_ini_next_line(&cur), "a");
	assert_string_equal(mc_ini_next_line(&cur), "");
	assert_string_equal(mc_ini_next_line(&cur), "b\r");
	/* A text cut without its final '\n' still gives its last line. */
	assert_string_equal(mc_ini_next_line(&cur), "c");
	assert_null(mc_ini_next_line(&cur));
	assert_null(mc_ini_next_line(&cur));

	assert_string_equal(mc_ini_next_line(&cur1), "x");
	l = mc_ini_next_line(&cur1);
	assert_null(l);
	assert_null(mc_ini_next_line(&cur0));
}

static void test_skip_bom(void **state)
{
	const char *t = "\xEF\xBB\xBF[node]";
	size_t n = strlen(t);

	(void)state;
	mc_ini_skip_bom(&t, &n);
	assert_int_equal(n, 6);
	assert_string_equal(t, "[node]");
	mc_ini_skip_bom(&t, &n);
	assert_int_equal(n, 6);
	t = "\xEF\xBB";
	n = 2;
	mc_ini_skip_bom(&t, &n);
	assert_int_equal(n, 2);
}

/* text_ok on a literal (which may hold NUL bytes). */
#define TEXT_OK(lit, strict, bad)                                              \
	mc_ini_text_ok((lit), sizeof(lit) - 1, (strict), (bad))

static void test_text_ok(void **state)
{
	struct mc_ini_bad bad;

	(void)state;
	assert_true(TEXT_OK("[node]\r\nid = pi\t# x\n\xC3\xA9\n", true, &bad));
	assert_true(TEXT_OK("", true, &bad));

	/* A NUL on line 2, column 3. */
	assert_false(TEXT_OK("a\nbc\0d", false, &bad));
	assert_int_equal(bad.line, 2);
	assert_int_equal(bad.col, 3);
	assert_int_equal(bad.byte, 0);
	assert_false(TEXT_OK("a\x1b", false, &bad));
	assert_false(TEXT_OK("a\x7f", false, &bad));

	/* A CR inside a line: the controller's file takes it. */
	assert_true(TEXT_OK("a\rb\n", false, &bad));
	assert_false(TEXT_OK("a\rb\n", true, &bad));
	assert_int_equal(bad.col, 2);
	assert_int_equal(bad.byte, '\r');
	/* A CR as the very last byte is not a line end. */
	assert_false(TEXT_OK("a\r", true, &bad));

	/* C1 controls (U+0085) only in the strict mode. */
	assert_true(TEXT_OK("\xC2\x85", false, &bad));
	assert_false(TEXT_OK("\xC2\x85", true, &bad));
	assert_int_equal(bad.byte, 0xC2);

	/* Overlong, surrogate, past U+10FFFF, stray continuation. */
	assert_false(TEXT_OK("\xC0\xAF", false, &bad));
	assert_false(TEXT_OK("\xE0\x80\xAF", false, &bad));
	assert_false(TEXT_OK("\xED\xA0\x80", false, &bad));
	assert_false(TEXT_OK("\xF4\x90\x80\x80", false, &bad));
	assert_false(TEXT_OK("x\x80", false, &bad));
	assert_int_equal(bad.col, 2);
	assert_true(TEXT_OK("\xF0\x9F\x98\x80", true, &bad));
}

static void test_text_ok_truncated(void **state)
{
	struct mc_ini_bad bad;

	(void)state;
	/* A character cut by the end of the text. */
	assert_false(TEXT_OK("ok\n\xE1\xBB", false, &bad));
	assert_int_equal(bad.line, 2);
	assert_int_equal(bad.col, 1);
	assert_int_equal(bad.byte, 0xE1);
	assert_false(TEXT_OK("\xF0\x9F\x98", true, &bad));
	assert_false(TEXT_OK("\xC3", true, &bad));
	/* Cut by a newline. */
	assert_false(TEXT_OK("\xC3\nx", true, &bad));
	assert_int_equal(bad.line, 1);
}

static void test_paths(void **state)
{
	char *s;

	(void)state;
	assert_null(mc_ini_dir_of("player.conf"));
	s = mc_ini_dir_of("/player.conf");
	assert_string_equal(s, "/");
	free(s);
	s = mc_ini_dir_of("/etc/minecast/player.conf");
	assert_string_equal(s, "/etc/minecast");
	free(s);

	s = mc_ini_resolve("/etc/minecast", "keys/a.pub");
	assert_string_equal(s, "/etc/minecast/keys/a.pub");
	free(s);
	s = mc_ini_resolve("/etc/minecast", "/abs.pub");
	assert_string_equal(s, "/abs.pub");
	free(s);
	s = mc_ini_resolve(NULL, "rel.pub");
	assert_string_equal(s, "rel.pub");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_lex_kinds),
	        cmocka_unit_test(test_lex_malformed),
	        cmocka_unit_test(test_lex_oversized_line),
	        cmocka_unit_test(test_shown_cuts_on_character),
	        cmocka_unit_test(test_unquote),
	        cmocka_unit_test(test_digits),
	        cmocka_unit_test(test_number_unit),
	        cmocka_unit_test(test_parse_size),
	        cmocka_unit_test(test_trim),
	        cmocka_unit_test(test_next_line),
	        cmocka_unit_test(test_skip_bom),
	        cmocka_unit_test(test_text_ok),
	        cmocka_unit_test(test_text_ok_truncated),
	        cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
