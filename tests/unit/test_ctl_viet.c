/*
 * Vietnamese text for speech (controller/daemon/viet.c): numbers by the
 * Vietnamese reading rules, dates, times, percentages, ranges, Roman
 * numerals after their words, and the abbreviation table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <utf8proc.h>

#include "mc_test.h"
#include "viet.h"

struct pair {
	const char *in;
	const char *want;
};

static void check_number(int64_t n, const char *want)
{
	char *got = mcc_viet_number(n);

	if (!got || strcmp(got, want) != 0)
		fail_msg("%lld: got \"%s\", want \"%s\"", (long long)n,
		         got ? got : "(null)", want);
	free(got);
}

static void check_pairs(const struct pair *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char *got = mcc_viet_normalize(p[i].in);

		if (!got || strcmp(got, p[i].want) != 0)
			fail_msg("\"%s\":\n  got  \"%s\"\n  want \"%s\"",
			         p[i].in, got ? got : "(null)", p[i].want);
		free(got);
	}
}

static void test_numbers(void **state)
{
	static const struct {
		int64_t n;
		const char *w;
	} cases[] = {
	        {0, "không"},
	        {1, "một"},
	        {4, "bốn"},
	        {5, "năm"},
	        {10, "mười"},
	        {11, "mười một"},
	        {14, "mười bốn"},
	        {15, "mười lăm"},
	        {20, "hai mươi"},
	        {21, "hai mươi mốt"},
	        {24, "hai mươi tư"},
	        {25, "hai mươi lăm"},
	        {31, "ba mươi mốt"},
	        {55, "năm mươi lăm"},
	        {87, "tám mươi bảy"},
	        {99, "chín mươi chín"},
	        {100, "một trăm"},
	        {101, "một trăm linh một"},
	        {104, "một trăm linh bốn"},
	        {105, "một trăm linh năm"},
	        {110, "một trăm mười"},
	        {111, "một trăm mười một"},
	        {115, "một trăm mười lăm"},
	        {121, "một trăm hai mươi mốt"},
	        {500, "năm trăm"},
	        {1000, "một nghìn"},
	        {1001, "một nghìn không trăm linh một"},
	        {1005, "một nghìn không trăm linh năm"},
	        {1010, "một nghìn không trăm mười"},
	        {1050, "một nghìn không trăm năm mươi"},
	        {1936, "một nghìn chín trăm ba mươi sáu"},
	        {2000, "hai nghìn"},
	        {2023, "hai nghìn không trăm hai mươi ba"},
	        {10000, "mười nghìn"},
	        {15000, "mười lăm nghìn"},
	        {21000, "hai mươi mốt nghìn"},
	        {100000, "một trăm nghìn"},
	        {1000000, "một triệu"},
	        {1000005, "một triệu không trăm linh năm"},
	        {1005000, "một triệu không trăm linh năm nghìn"},
	        {2500000, "hai triệu năm trăm nghìn"},
	        {1000000000, "một tỷ"},
	        {1000000005, "một tỷ không trăm linh năm"},
	        {1005000000, "một tỷ không trăm linh năm triệu"},
	        {INT64_C(1000000000000), "một nghìn tỷ"},
	        {INT64_C(1000500000000), "một nghìn tỷ năm trăm triệu"},
	        {INT64_C(999999999999999),
	         "chín trăm chín mươi chín nghìn chín trăm chín mươi chín tỷ "
	         "chín trăm chín mươi chín triệu chín trăm chín mươi chín "
	         "nghìn chín trăm chín mươi chín"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_number(cases[i].n, cases[i].w);
	assert_null(mcc_viet_number(-1));
	assert_null(mcc_viet_number(INT64_C(1000000000000000)));
}

static void test_dates(void **state)
{
	static const struct pair p[] = {
	        /* The example of the issue. */
	        {"12/11", "ngày mười hai tháng mười một"},
	        {"12/11/2023",
	         "ngày mười hai tháng mười một năm hai nghìn không trăm hai "
	         "mươi ba"},
	        {"12-11-2023",
	         "ngày mười hai tháng mười một năm hai nghìn không trăm hai "
	         "mươi ba"},
	        {"12.11.2023",
	         "ngày mười hai tháng mười một năm hai nghìn không trăm hai "
	         "mươi ba"},
	        {"2023-11-12",
	         "ngày mười hai tháng mười một năm hai nghìn không trăm hai "
	         "mươi ba"},
	        {"Ngày 12/11/1936 là Ngày truyền thống",
	         "Ngày mười hai tháng mười một năm một nghìn chín trăm ba mươi "
	         "sáu là Ngày truyền thống"},
	        {"ngày 05/3/2024", "ngày năm tháng ba năm hai nghìn không trăm "
	                           "hai mươi tư"},
	        {"ngày 12-11", "ngày mười hai tháng mười một"},
	        {"30/4", "ngày ba mươi tháng tư"},
	        {"29/2/2024", "ngày hai mươi chín tháng hai năm hai nghìn "
	                      "không trăm hai mươi tư"},
	        {"tháng 11", "tháng mười một"},
	        {"tháng 4", "tháng tư"},
	        {"tháng 11/2023", "tháng mười một năm hai nghìn không trăm hai "
	                          "mươi ba"},
	        {"11/2023", "tháng mười một năm hai nghìn không trăm hai mươi "
	                    "ba"},
	        {"năm 2023", "năm hai nghìn không trăm hai mươi ba"},
	        {"thứ 2, thứ 4, thứ 1", "thứ hai, thứ tư, thứ nhất"},
	        /* Not dates: read as numbers. */
	        {"31/2", "ba mươi mốt/ hai"},
	        {"483/KH", "bốn trăm tám mươi ba/KH"},
	};

	(void)state;
	check_pairs(p, sizeof(p) / sizeof(p[0]));
}

static void test_times_units(void **state)
{
	static const struct pair p[] = {
	        {"6h30", "sáu giờ ba mươi phút"},
	        {"06:30", "sáu giờ ba mươi phút"},
	        {"6h30p", "sáu giờ ba mươi phút"},
	        {"6h05", "sáu giờ năm phút"},
	        {"14h", "mười bốn giờ"},
	        {"14h00", "mười bốn giờ"},
	        {"06:30:15", "sáu giờ ba mươi phút mười lăm giây"},
	        {"lúc 22h", "lúc hai mươi hai giờ"},
	        {"15%", "mười lăm phần trăm"},
	        {"15 %", "mười lăm phần trăm"},
	        {"2,5%", "hai phẩy năm phần trăm"},
	        {"0,05", "không phẩy không năm"},
	        {"1.000.000 tấn", "một triệu tấn"},
	        {"1.500.000 đồng", "một triệu năm trăm nghìn đồng"},
	        {"1.000,5", "một nghìn phẩy năm"},
	        {"4.0", "bốn chấm không"},
	        {"mục 2.1", "mục hai chấm một"},
	        {"-5°C", "âm năm độ C"},
	        {"30°C", "ba mươi độ C"},
	        {"5km", "năm ki lô mét"},
	        {"5 m3 đất", "năm mét khối đất"},
	        {"5ha", "năm héc ta"},
	        {"100.000đ", "một trăm nghìn đồng"},
	        {"0912345678", "không chín một hai ba bốn năm sáu bảy tám"},
	        {"A1", "A một"},
	        /* Not units: the letters run on into a word. */
	        {"5 mỏ", "năm mỏ"},
	        {"5hai", "năm hai"},
	};

	(void)state;
	check_pairs(p, sizeof(p) / sizeof(p[0]));
}

static void test_ranges(void **state)
{
	static const struct pair p[] = {
	        {"(1936–2023)",
	         "(từ một nghìn chín trăm ba mươi sáu đến hai nghìn không "
	         "trăm hai mươi ba)"},
	        {"1936 - 2023", "từ một nghìn chín trăm ba mươi sáu đến hai "
	                        "nghìn không trăm hai mươi ba"},
	        {"2020-2025", "từ hai nghìn không trăm hai mươi đến hai nghìn "
	                      "không trăm hai mươi lăm"},
	        {"ca 1-2", "ca từ một đến hai"},
	        {"từ 6h-8h", "từ sáu giờ đến tám giờ"},
	        {"12/11–15/11", "từ ngày mười hai tháng mười một đến ngày mười "
	                        "lăm tháng mười một"},
	        {"10–15%", "từ mười đến mười lăm phần trăm"},
	        /* A hyphen that is not a range. */
	        {"112-CV", "một trăm mười hai-CV"},
	        {"12-11", "mười hai- mười một"},
	};

	(void)state;
	check_pairs(p, sizeof(p) / sizeof(p[0]));
}

static void test_abbreviations(void **state)
{
	static const struct pair p[] = {
	        {"TKV", "Tập đoàn Than – Khoáng sản Việt Nam"},
	        {"CNVC-LĐ TKV", "công nhân viên chức lao động Tập đoàn Than – "
	                        "Khoáng sản Việt Nam"},
	        {"CNVCLĐ", "công nhân viên chức lao động"},
	        {"UBND tỉnh", "Ủy ban nhân dân tỉnh"},
	        {"HĐND", "Hội đồng nhân dân"},
	        {"Tháng hành động về ATLĐ", "Tháng hành động về an toàn lao "
	                                    "động"},
	        {"BCH TW", "Ban Chấp hành Trung ương"},
	        {"BCH TƯ", "Ban Chấp hành Trung ương"},
	        {"Kết luận 100-KL/TW", "Kết luận một trăm-KL/ Trung ương"},
	        {"CĐ TKV", "Công đoàn Tập đoàn Than – Khoáng sản Việt Nam"},
	        {"CĐTKV", "Công đoàn Than – Khoáng sản Việt Nam"},
	        {"các đ/c", "các đồng chí"},
	        /* Only whole tokens: CĐ inside other words stays. */
	        {"ACĐ", "ACĐ"},
	        {"CĐX", "CĐX"},
	        {"TKVN", "TKVN"},
	        {"Tw", "Tw"},
	        /* Roman numerals after their words only. */
	        {"Đại hội XIII", "Đại hội mười ba"},
	        {"khóa XII", "khóa mười hai"},
	        {"lần thứ III", "lần thứ ba"},
	        {"thứ IV", "thứ tư"},
	        {"thế kỷ XXI", "thế kỷ hai mươi mốt"},
	        {"I love XIII", "I love XIII"},
	        {"khóa IIII", "khóa IIII"},
	};

	(void)state;
	check_pairs(p, sizeof(p) / sizeof(p[0]));
}

static void test_text_kept(void **state)
{
	static const struct pair p[] = {
	        {"", ""},
	        {"Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!",
	         "Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!"},
	        {"Dòng một\nDòng hai", "Dòng một\nDòng hai"},
	        /* NFD in, NFC out (abbreviations match either). */
	        {"BCH TU\xcc\x9b ngu\xcc\x9bo\xcc\x9b\xcc\x80i",
	         "Ban Chấp hành Trung ương người"},
	        {"Chào mừng 87 năm Ngày truyền thống Công nhân vùng mỏ "
	         "(12/11/1936–12/11/2023)",
	         "Chào mừng tám mươi bảy năm Ngày truyền thống Công nhân vùng "
	         "mỏ (từ ngày mười hai tháng mười một năm một nghìn chín trăm "
	         "ba mươi sáu đến ngày mười hai tháng mười một năm hai nghìn "
	         "không trăm hai mươi ba)"},
	};

	(void)state;
	check_pairs(p, sizeof(p) / sizeof(p[0]));
}

/* Invalid bytes are copied through; nothing is read past the end. */
static void test_bad_bytes(void **state)
{
	static const char *const bad[] = {
	        "\xff\xfe 12/11",
	        "12\xc3",
	        "TK\xe2\x80",
	        "\xe2\x88",
	        "-",
	        "\xe2\x88\x92",
	        "1.",
	        "1,",
	        "6h",
	        "12/",
	        "12/11/",
	        "99999999999999999999",
	        "1.000.000.000.000.000.000",
	        "(1936\xe2\x80\x93",
	        "ngày 1-",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *got = mcc_viet_normalize(bad[i]);

		assert_non_null(got);
		free(got);
	}
	assert_null(mcc_viet_normalize(NULL));
	{
		char *got = mcc_viet_normalize("a\xff"
		                               "b 5");

		assert_string_equal(got, "a\xff"
		                         "b năm");
		free(got);
	}
	{
		char *got = mcc_viet_normalize("99999999999999999999");

		assert_string_equal(got,
		                    "chín chín chín chín chín chín chín chín "
		                    "chín chín chín chín chín chín chín chín "
		                    "chín chín chín chín");
		free(got);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numbers),
	        cmocka_unit_test(test_dates),
	        cmocka_unit_test(test_times_units),
	        cmocka_unit_test(test_ranges),
	        cmocka_unit_test(test_abbreviations),
	        cmocka_unit_test(test_text_kept),
	        cmocka_unit_test(test_bad_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
