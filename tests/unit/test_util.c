/* Unit tests: error helpers, files, targeting and enum names. */
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

#include "minecast/error.h"
#include "minecast/model.h"
#include "minecast/util.h"

static void test_error_set_names_field(void **state)
{
	struct mc_error err;

	assert_int_equal(mc_error_set(&err, MC_ERR_MISSING, "%s: required",
	                              "entries[2].playlist"),
	                 MC_ERR_MISSING);
	assert_int_equal(err.code, MC_ERR_MISSING);
	assert_string_equal(err.msg, "entries[2].playlist: required");
	mc_error_clear(&err);
	assert_int_equal(err.code, MC_OK);
	assert_string_equal(err.msg, "");
	/* A NULL error is allowed and the code still comes back. */
	assert_int_equal(mc_error_set(NULL, MC_ERR_SIG, "x"), MC_ERR_SIG);
	assert_string_equal(mc_strerror(MC_ERR_SIG),
	                    "signature does not verify");
	assert_string_equal(mc_strerror((enum mc_err)999), "unknown error");

	/* A byte limit that cuts "ệ" (3 bytes) leaves no broken sequence. */
	mc_error_set(&err, MC_ERR_RANGE, "id: \"%.3s\" is bad", "aệb");
	assert_string_equal(err.msg, "id: \"a\" is bad");
	mc_error_set(&err, MC_ERR_RANGE, "id: \"%.4s\"", "aệ");
	assert_string_equal(err.msg, "id: \"aệ\"");
}

static void test_atomic_write_then_read(void **state)
{
	char dir[] = "/tmp/mc-test-util-XXXXXX";
	struct mc_error err;
	char *path, *buf = NULL;
	size_t len = 0;
	struct stat st;

	assert_non_null(mkdtemp(dir));
	path = mc_printf("%s/f.json", dir);
	assert_int_equal(mc_write_file_atomic(path, "{\"a\":1}", 7, 0600, &err),
	                 MC_OK);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(mc_read_file(path, 100, &buf, &len, &err), MC_OK);
	assert_int_equal(len, 7);
	assert_string_equal(buf, "{\"a\":1}");
	free(buf);

	/* Over the limit: refused before reading, nothing allocated. */
	assert_int_equal(mc_read_file(path, 6, &buf, &len, &err),
	                 MC_ERR_TOO_LARGE);
	assert_null(buf);
	assert_non_null(strstr(err.msg, "limit of 6"));

	assert_int_equal(unlink(path), 0);
	assert_int_equal(mc_read_file(path, 100, &buf, &len, &err), MC_ERR_IO);
	assert_non_null(strstr(err.msg, "f.json"));
	/* A directory is not a file to read. */
	assert_int_equal(mc_read_file(dir, 100, &buf, &len, &err), MC_ERR_IO);
	/* Writing into a missing directory fails and leaves no temp file. */
	free(path);
	path = mc_printf("%s/missing/f", dir);
	assert_int_equal(mc_write_file_atomic(path, "x", 1, 0644, &err),
	                 MC_ERR_IO);
	free(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_targets(void **state)
{
	char *sites[] = {"cua-lo"}, *tags[] = {"nha-an", "cong-mo"},
	     *nodes[] = {"pi-07"};
	struct mc_targets none = {0};
	struct mc_targets t = {sites, 1, tags, 2, nodes, 1};
	const char *mytags[] = {"cong-mo"};
	struct mc_who at_site = {"pi-01", "cua-lo", NULL, 0};
	struct mc_who tagged = {"pi-02", "vang-danh", mytags, 1};
	struct mc_who named = {"pi-07", NULL, NULL, 0};
	struct mc_who other = {"pi-03", "vang-danh", NULL, 0};

	assert_true(mc_targets_match(&none, &other));
	assert_true(mc_targets_match(&t, &at_site));
	assert_true(mc_targets_match(&t, &tagged));
	assert_true(mc_targets_match(&t, &named));
	assert_false(mc_targets_match(&t, &other));
}

static void test_enum_names(void **state)
{
	assert_string_equal(mc_channel_name(MC_CH_SPEAKER), "speaker");
	assert_int_equal(mc_channel_parse("screen"), MC_CH_SCREEN);
	assert_int_equal(mc_channel_parse("Screen"), -1);
	assert_int_equal(mc_channel_parse(NULL), -1);
	assert_int_equal(mc_layer_parse("interrupt"), MC_LAYER_INTERRUPT);
	assert_int_equal(mc_mode_parse("once"), MC_MODE_ONCE);
	assert_int_equal(mc_content_type_parse("speech"), MC_CONTENT_SPEECH);
	assert_int_equal(mc_transition_parse("crossfade"),
	                 MC_TRANSITION_CROSSFADE);
	assert_int_equal(mc_fit_parse("cover"), MC_FIT_COVER);
	assert_string_equal(mc_fit_name((enum mc_fit)42), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_error_set_names_field),
	        cmocka_unit_test(test_atomic_write_then_read),
	        cmocka_unit_test(test_targets),
	        cmocka_unit_test(test_enum_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
