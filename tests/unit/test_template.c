/*
 * Text templates (template.h), docs/schedule.md rule 9: {years}, {since},
 * {date}; unknown names and stray braces stay as written.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "minecast/template.h"

static void check(const char *text, int founded, int y, int m, int d,
                  const char *want)
{
	struct mc_template_ctx ctx = {founded, y, m, d};
	char *got = mc_template_resolve(text, &ctx);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void resolves_anniversary(void **state)
{
	(void)state;
	check("Kỷ niệm {years} năm", 1936, 2023, 11, 12, "Kỷ niệm 87 năm");
	check("Kỷ niệm {years} năm Ngày Truyền thống công nhân Vùng mỏ "
	      "({since}–2023)",
	      1936, 2023, 11, 12,
	      "Kỷ niệm 87 năm Ngày Truyền thống công nhân Vùng mỏ "
	      "(1936–2023)");
	check("{date}", 0, 2023, 11, 2, "02/11/2023");
	check("{years}{years}{since}{date}", 2000, 2023, 1, 9,
	      "23232000"
	      "09/01/2023");
}

static void leaves_unknown_and_stray_braces(void **state)
{
	(void)state;
	check("{unknown} {YEARS} { years} {years", 1936, 2023, 11, 12,
	      "{unknown} {YEARS} { years} {years");
	check("}{}{", 1936, 2023, 11, 12, "}{}{");
	check("{{years}}", 1936, 2023, 11, 12, "{87}");
	check("", 1936, 2023, 11, 12, "");
}

static void no_founded_year_leaves_years_and_since(void **state)
{
	(void)state;
	check("{years} năm từ {since}, hôm nay {date}", 0, 2023, 11, 12,
	      "{years} năm từ {since}, hôm nay 12/11/2023");
}

static void null_text_is_null(void **state)
{
	struct mc_template_ctx ctx = {1936, 2023, 11, 12};

	(void)state;
	assert_null(mc_template_resolve(NULL, &ctx));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(resolves_anniversary),
	        cmocka_unit_test(leaves_unknown_and_stray_braces),
	        cmocka_unit_test(no_founded_year_leaves_years_and_since),
	        cmocka_unit_test(null_text_is_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
