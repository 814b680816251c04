/*
 * Unit tests of the player's content-addressed cache (player/cache.c):
 * commit and put with their hash and size checks, usage accounting,
 * LRU garbage collection with a keep set, stale part files, and sha256
 * strings that must never become paths.
 */
#include <fcntl.h>
#include <ftw.h>
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

#include "minecast/sign.h"
#include "minecast/util.h"

#include "cache.h"

struct fixture {
	char dir[64];       /* the cache directory (a fresh temp dir) */
	struct mc_cache *c; /* opened on dir */
};

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct mc_error err;

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/mc-cache-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	fx->c = mc_cache_open(fx->dir, 0, &err);
	assert_non_null(fx->c);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	mc_cache_close(fx->c);
	rm_rf(fx->dir);
	free(fx);
	return 0;
}

/* Fill buf with len bytes derived from seed; its sha256 into sha. */
static void make_data(unsigned char *buf, size_t len, unsigned seed,
                      char sha[MC_SHA256_HEX_SIZE])
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)((i * 131 + seed * 17 + (i >> 8)) &
		                         0xff);
	mc_sha256_hex(buf, len, sha);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void set_mtime(struct mc_cache *c, const char *sha, time_t t)
{
	char path[4096];
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	mc_cache_path(c, sha, path, sizeof(path));
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static void test_commit_ok(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[5000];
	char sha[MC_SHA256_HEX_SIZE], part[4096], blob[4096];
	struct mc_error err;

	make_data(data, sizeof(data), 1, sha);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	assert_non_null(strstr(part, "/tmp/"));
	assert_non_null(strstr(part, ".part"));
	write_file(part, data, sizeof(data));
	assert_false(mc_cache_has(fx->c, sha, -1));
	assert_int_equal(mc_cache_commit(fx->c, sha, sizeof(data), &err),
	                 MC_OK);
	assert_false(exists(part));
	mc_cache_path(fx->c, sha, blob, sizeof(blob));
	assert_true(exists(blob));
	assert_non_null(strstr(blob, "/blobs/"));
	assert_true(mc_cache_has(fx->c, sha, sizeof(data)));
	assert_true(mc_cache_has(fx->c, sha, -1));
	/* a blob of the wrong size is not the file wanted */
	assert_false(mc_cache_has(fx->c, sha, sizeof(data) + 1));
	assert_int_equal(mc_cache_usage(fx->c), sizeof(data));
}

static void test_commit_hash_mismatch(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[3000];
	char sha[MC_SHA256_HEX_SIZE], actual[MC_SHA256_HEX_SIZE];
	char part[4096];
	struct mc_error err;

	make_data(data, sizeof(data), 2, sha);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	data[100] ^= 1; /* one flipped bit */
	mc_sha256_hex(data, sizeof(data), actual);
	write_file(part, data, sizeof(data));
	assert_int_equal(mc_cache_commit(fx->c, sha, sizeof(data), &err),
	                 MC_ERR_HASH);
	assert_int_equal(err.code, MC_ERR_HASH);
	assert_non_null(strstr(err.msg, "hash mismatch"));
	assert_non_null(strstr(err.msg, sha));
	assert_non_null(strstr(err.msg, actual));
	assert_false(exists(part));
	assert_false(mc_cache_has(fx->c, sha, -1));
	assert_int_equal(mc_cache_usage(fx->c), 0);
}

static void test_commit_size_mismatch(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[3000];
	char sha[MC_SHA256_HEX_SIZE], part[4096];
	struct mc_error err;

	make_data(data, sizeof(data), 3, sha);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	write_file(part, data, sizeof(data));
	assert_int_equal(mc_cache_commit(fx->c, sha, sizeof(data) + 10, &err),
	                 MC_ERR_HASH);
	assert_non_null(strstr(err.msg, "size mismatch"));
	assert_non_null(strstr(err.msg, "3010"));
	assert_non_null(strstr(err.msg, "3000"));
	assert_false(exists(part));
	assert_false(mc_cache_has(fx->c, sha, -1));
}

static void test_commit_missing_part(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[10];
	char sha[MC_SHA256_HEX_SIZE];
	struct mc_error err;

	make_data(data, sizeof(data), 4, sha);
	assert_int_equal(mc_cache_commit(fx->c, sha, 10, &err),
	                 MC_ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, ".part"));
}

static void test_put(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[2048];
	char sha[MC_SHA256_HEX_SIZE], other[MC_SHA256_HEX_SIZE];
	char blob[4096];
	struct mc_error err;

	make_data(data, sizeof(data), 5, sha);
	assert_int_equal(mc_cache_put(fx->c, sha, data, sizeof(data), &err),
	                 MC_OK);
	assert_true(mc_cache_has(fx->c, sha, sizeof(data)));
	assert_int_equal(mc_cache_usage(fx->c), sizeof(data));
	/* the same blob again: no double counting */
	assert_int_equal(mc_cache_put(fx->c, sha, data, sizeof(data), &err),
	                 MC_OK);
	assert_int_equal(mc_cache_usage(fx->c), sizeof(data));

	/* bytes that do not match never land */
	make_data(data, sizeof(data), 6, other);
	assert_int_equal(mc_cache_put(fx->c, sha, data, 100, &err),
	                 MC_ERR_HASH);
	assert_non_null(strstr(err.msg, sha));
	mc_cache_path(fx->c, sha, blob, sizeof(blob));
	assert_true(exists(blob)); /* the good copy is untouched */
	assert_int_equal(mc_cache_usage(fx->c), sizeof(data));

	/* an empty file is a valid blob */
	mc_sha256_hex("", 0, other);
	assert_int_equal(mc_cache_put(fx->c, other, "", 0, &err), MC_OK);
	assert_true(mc_cache_has(fx->c, other, 0));
}

static void test_usage_scan_at_open(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[4000];
	char sha[MC_SHA256_HEX_SIZE], part[4096], junk[4096];
	struct mc_error err;
	int i;

	for (i = 0; i < 3; i++) {
		make_data(data, 1000 + (size_t)i * 1000, 10 + (unsigned)i, sha);
		assert_int_equal(mc_cache_put(fx->c, sha, data,
		                              1000 + (size_t)i * 1000, &err),
		                 MC_OK);
	}
	assert_int_equal(mc_cache_usage(fx->c), 6000);
	/* a part file counts as usage too */
	make_data(data, 700, 20, sha);
	mc_cache_part_path(fx->c, sha, part, sizeof(part));
	write_file(part, data, 700);
	assert_int_equal(mc_cache_usage(fx->c), 6700);
	/* a file under blobs/ that is not a blob name is not counted */
	snprintf(junk, sizeof(junk), "%s/blobs/README", fx->dir);
	write_file(junk, data, 50);

	mc_cache_close(fx->c);
	fx->c = mc_cache_open(fx->dir, 12345, &err);
	assert_non_null(fx->c);
	assert_int_equal(mc_cache_usage(fx->c), 6700);
	assert_int_equal(mc_cache_quota(fx->c), 12345);
}

static void test_gc_lru_and_keep(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[1000];
	char sha[5][MC_SHA256_HEX_SIZE];
	const char *keep[1];
	struct mc_error err;
	int64_t freed = -1;
	time_t base = 1700000000;
	int i;

	mc_cache_close(fx->c);
	fx->c = mc_cache_open(fx->dir, 2500, &err);
	assert_non_null(fx->c);
	for (i = 0; i < 5; i++) {
		make_data(data, sizeof(data), 30 + (unsigned)i, sha[i]);
		assert_int_equal(
		        mc_cache_put(fx->c, sha[i], data, sizeof(data), &err),
		        MC_OK);
		/* sha[0] oldest ... sha[4] newest */
		set_mtime(fx->c, sha[i], base + i * 100);
	}
	/* sha[1] was just played: it becomes the newest */
	mc_cache_touch(fx->c, sha[1]);
	/* sha[0] is oldest but kept */
	keep[0] = sha[0];
	assert_int_equal(mc_cache_usage(fx->c), 5000);
	assert_int_equal(mc_cache_gc(fx->c, keep, 1, false, &freed, &err),
	                 MC_OK);
	/* 5000 over 2500: three unkept blobs go, oldest first: 2, 3, 4 */
	assert_int_equal(freed, 3000);
	assert_true(mc_cache_has(fx->c, sha[0], -1));
	assert_true(mc_cache_has(fx->c, sha[1], -1));
	assert_false(mc_cache_has(fx->c, sha[2], -1));
	assert_false(mc_cache_has(fx->c, sha[3], -1));
	assert_false(mc_cache_has(fx->c, sha[4], -1));
	assert_int_equal(mc_cache_usage(fx->c), 2000);

	/* under quota: nothing more goes */
	assert_int_equal(mc_cache_gc(fx->c, keep, 1, false, &freed, &err),
	                 MC_OK);
	assert_int_equal(freed, 0);
	assert_true(mc_cache_has(fx->c, sha[1], -1));

	/* force: every unkept blob goes, the kept one stays */
	assert_int_equal(mc_cache_gc(fx->c, keep, 1, true, &freed, &err),
	                 MC_OK);
	assert_int_equal(freed, 1000);
	assert_true(mc_cache_has(fx->c, sha[0], -1));
	assert_false(mc_cache_has(fx->c, sha[1], -1));
	assert_int_equal(mc_cache_usage(fx->c), 1000);
}

static void test_gc_never_deletes_kept_over_quota(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[1000];
	char sha[3][MC_SHA256_HEX_SIZE];
	const char *keep[3];
	struct mc_error err;
	int64_t freed = -1;
	int i;

	mc_cache_close(fx->c);
	fx->c = mc_cache_open(fx->dir, 500, &err);
	assert_non_null(fx->c);
	for (i = 0; i < 3; i++) {
		make_data(data, sizeof(data), 40 + (unsigned)i, sha[i]);
		assert_int_equal(
		        mc_cache_put(fx->c, sha[i], data, sizeof(data), &err),
		        MC_OK);
		keep[i] = sha[i];
	}
	assert_int_equal(mc_cache_gc(fx->c, keep, 3, true, &freed, &err),
	                 MC_OK);
	assert_int_equal(freed, 0);
	for (i = 0; i < 3; i++)
		assert_true(mc_cache_has(fx->c, sha[i], -1));
	/* no quota: gc without force removes nothing */
	mc_cache_close(fx->c);
	fx->c = mc_cache_open(fx->dir, 0, &err);
	assert_non_null(fx->c);
	assert_int_equal(mc_cache_gc(fx->c, NULL, 0, false, &freed, &err),
	                 MC_OK);
	assert_int_equal(freed, 0);
	assert_int_equal(mc_cache_usage(fx->c), 3000);
}

static void test_gc_stale_parts(void **state)
{
	struct fixture *fx = *state;
	unsigned char data[600];
	char kept[MC_SHA256_HEX_SIZE], stale[MC_SHA256_HEX_SIZE];
	char kpart[4096], spart[4096], junk[4096];
	const char *keep[1];
	struct mc_error err;
	int64_t freed = -1;

	make_data(data, sizeof(data), 50, kept);
	make_data(data, sizeof(data), 51, stale);
	mc_cache_part_path(fx->c, kept, kpart, sizeof(kpart));
	mc_cache_part_path(fx->c, stale, spart, sizeof(spart));
	write_file(kpart, data, 300);
	write_file(spart, data, 200);
	snprintf(junk, sizeof(junk), "%s/tmp/%s.put.1.0", fx->dir, stale);
	write_file(junk, data, 100);
	keep[0] = kept;
	assert_int_equal(mc_cache_gc(fx->c, keep, 1, false, &freed, &err),
	                 MC_OK);
	assert_int_equal(freed, 300);
	assert_true(exists(kpart));
	assert_false(exists(spart));
	assert_false(exists(junk));
	assert_int_equal(mc_cache_usage(fx->c), 300);
}

static void test_bad_sha_strings(void **state)
{
	struct fixture *fx = *state;
	static const char *const bad[] = {
	        "",
	        "abc",
	        /* 63 digits */
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "5",
	        /* 65 digits */
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "555",
	        /* upper case */
	        "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B8"
	        "55",
	        /* a path */
	        "../../../../../../../../../../../../../../../../etc/passwd/"
	        "....",
	        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "/",
	        "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8"
	        "55",
	};
	char buf[4096];
	struct mc_error err;
	size_t i;

	for (i = 0; i < MC_ARRAY_LEN(bad); i++) {
		assert_false(mc_cache_has(fx->c, bad[i], -1));
		assert_string_equal(
		        mc_cache_path(fx->c, bad[i], buf, sizeof(buf)), "");
		assert_string_equal(
		        mc_cache_part_path(fx->c, bad[i], buf, sizeof(buf)),
		        "");
		assert_int_equal(mc_cache_commit(fx->c, bad[i], 1, &err),
		                 MC_ERR_INVAL);
		assert_int_equal(mc_cache_put(fx->c, bad[i], "x", 1, &err),
		                 MC_ERR_INVAL);
		mc_cache_touch(fx->c, bad[i]); /* harmless */
	}
	assert_false(mc_cache_has(fx->c, NULL, -1));
	assert_int_equal(mc_cache_commit(fx->c, NULL, 1, &err), MC_ERR_INVAL);
	/* a buffer too small for the path gives "" rather than a prefix */
	assert_string_equal(
	        mc_cache_path(fx->c,
	                      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934"
	                      "ca495991b7852b855",
	                      buf, 20),
	        "");
}

static void test_open_errors(void **state)
{
	struct fixture *fx = *state;
	char file[4096];
	struct mc_error err;

	assert_null(mc_cache_open(NULL, 0, &err));
	assert_int_equal(err.code, MC_ERR_INVAL);
	snprintf(file, sizeof(file), "%s/plainfile", fx->dir);
	write_file(file, "x", 1);
	assert_null(mc_cache_open(file, 0, &err));
	assert_int_equal(err.code, MC_ERR_IO);
	assert_non_null(strstr(err.msg, "plainfile"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_commit_ok, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_commit_hash_mismatch,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit_size_mismatch,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_commit_missing_part, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_put, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_usage_scan_at_open, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_gc_lru_and_keep, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(
	                test_gc_never_deletes_kept_over_quota, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_gc_stale_parts, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bad_sha_strings, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_open_errors, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
