/*
 * Text hygiene (text.h): UTF-8 validation, control characters, NFC, the
 * length limit and id syntax.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "minecast/messages.h"
#include "minecast/text.h"

/* Fail unless the error has this code and its message names field. */
static void expect_error(enum mc_err rc, const struct mc_error *e,
                         enum mc_err code, const char *field)
{
	if (rc != code || e->code != code || !strstr(e->msg, field))
		fail_msg("got %d (%d) \"%s\", expected %d naming \"%s\"", rc,
		         e->code, e->msg, code, field);
}

static void test_nfc_composes_vietnamese(void **state)
{
	/* "Ệ" written as E + U+0323 (dot below) + U+0302 (circumflex). */
	const char in[] = "TI\xCC\x80"
	                  "E\xCC\xA3\xCC\x82"
	                  "N L\xC3\x8A"
	                  "N";
	struct mc_error e = {0};
	char *out = NULL;

	(void)state;
	assert_int_equal(mc_text_normalize(in, strlen(in), 100, "t", &out, &e),
	                 MC_OK);
	/* TÌ + U+1EC6 Ệ + N LÊN */
	assert_string_equal(out, "T\xC3\x8C\xE1\xBB\x86N L\xC3\x8AN");
	free(out);
}

static void test_composed_text_unchanged(void **state)
{
	const char *in = "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!\n"
	                 "\tNgười thợ mỏ";
	struct mc_error e = {0};
	char *out = NULL;

	(void)state;
	assert_int_equal(mc_text_normalize(in, strlen(in), 4000, "t", &out, &e),
	                 MC_OK);
	assert_string_equal(out, in);
	free(out);
}

static void test_empty_text(void **state)
{
	struct mc_error e = {0};
	char *out = NULL;

	(void)state;
	assert_int_equal(mc_text_normalize("", 0, 10, "t", &out, &e), MC_OK);
	assert_string_equal(out, "");
	free(out);
}

static void test_invalid_utf8(void **state)
{
	static const struct {
		const char *bytes;
		const char *what;
	} bad[] = {
	        {"ab\xC0\xAF", "overlong '/'"},
	        {"\xE0\x80\xAF", "overlong 3-byte"},
	        {"x\xED\xA0\x80y", "UTF-16 surrogate U+D800"},
	        {"Vi\xE1\xBB", "truncated 3-byte sequence"},
	        {"\x80", "lone continuation byte"},
	        {"\xF4\x90\x80\x80", "above U+10FFFF"},
	        {"\xFF", "0xFF byte"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct mc_error e = {0};
		char *out = (char *)"untouched";
		enum mc_err rc;

		rc = mc_text_normalize(bad[i].bytes, strlen(bad[i].bytes), 100,
		                       "content[3].text", &out, &e);
		if (rc != MC_ERR_UTF8)
			fail_msg("%s: got %d", bad[i].what, rc);
		expect_error(rc, &e, MC_ERR_UTF8, "content[3].text");
		assert_null(out);
	}
}

static void test_control_characters(void **state)
{
	static const char *const bad[] = {
	        "a\x01",  "bell\x07", "esc\x1b[2J",
	        "cr\r\n", "del\x7f",  "c1\xC2\x85" /* U+0085 NEL */};
	struct mc_error e = {0};
	char *out = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		enum mc_err rc = mc_text_normalize(bad[i], strlen(bad[i]), 100,
		                                   "alert.text", &out, &e);

		expect_error(rc, &e, MC_ERR_RANGE, "alert.text");
		assert_non_null(strstr(e.msg, "control character"));
		assert_null(out);
	}
	/* An embedded NUL counts as a control character too. */
	expect_error(mc_text_normalize("a\0b", 3, 100, "name", &out, &e), &e,
	             MC_ERR_RANGE, "name");
}

static void test_length_limit_after_nfc(void **state)
{
	/* Decomposed, 5 bytes; composed "Ệ" is 3 bytes. */
	const char in[] = "E\xCC\xA3\xCC\x82";
	struct mc_error e = {0};
	char *out = NULL;

	(void)state;
	assert_int_equal(mc_text_normalize(in, 5, 3, "t", &out, &e), MC_OK);
	assert_string_equal(out, "\xE1\xBB\x86");
	free(out);
	out = NULL;
	expect_error(mc_text_normalize("Việt Nam", strlen("Việt Nam"), 4,
	                               "content[0].name", &out, &e),
	             &e, MC_ERR_TOO_LARGE, "content[0].name");
	assert_null(out);
}

static void test_id_valid(void **state)
{
	char id[MC_ID_MAX + 2];

	(void)state;
	assert_true(mc_id_valid("pi-cua-lo-01"));
	assert_true(mc_id_valid("slogan_87.nam-A"));
	assert_false(mc_id_valid(""));
	assert_false(mc_id_valid(NULL));
	assert_false(mc_id_valid("cửa-lò"));
	assert_false(mc_id_valid("a b"));
	assert_false(mc_id_valid("a/b"));
	assert_false(mc_id_valid("+"));
	assert_false(mc_id_valid("#"));
	memset(id, 'x', MC_ID_MAX);
	id[MC_ID_MAX] = '\0';
	assert_true(mc_id_valid(id));
	id[MC_ID_MAX] = 'x';
	id[MC_ID_MAX + 1] = '\0';
	assert_false(mc_id_valid(id));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_nfc_composes_vietnamese),
	        cmocka_unit_test(test_composed_text_unchanged),
	        cmocka_unit_test(test_empty_text),
	        cmocka_unit_test(test_invalid_utf8),
	        cmocka_unit_test(test_control_characters),
	        cmocka_unit_test(test_length_limit_after_nfc),
	        cmocka_unit_test(test_id_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
