/*
 * Helpers shared by the unit tests.  Include after <cmocka.h>; every
 * function is static, since each test file is its own executable.
 */
#ifndef MC_TEST_H
#define MC_TEST_H

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/error.h"

/* Run a shell command (printf-style); fail the test when it fails. */
static inline void mc_test_sh(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));
static inline void mc_test_sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/*
 * Assert that rc and e carry code and that the message names field; what
 * says which case failed.
 */
static inline void mc_test_expect_error(enum mc_err rc,
                                        const struct mc_error *e,
                                        enum mc_err code, const char *field,
                                        const char *what)
{
	if (rc != code || e->code != code || !strstr(e->msg, field))
		fail_msg("%s: got %d (%d) \"%s\", expected %d naming \"%s\"",
		         what, rc, e->code, e->msg, code, field);
}

/*
 * Set (or, with value NULL, delete) the member at a dotted path such as
 * "entries.0.targets.sites" in a copy of the JSON text base, and return
 * the new JSON text (caller frees).  value is JSON text ("42", "\"x\"").
 */
static inline char *mc_test_patch(const char *base, const char *path,
                                  const char *value)
{
	json_t *root = json_loads(base, 0, NULL), *cur = root, *v = NULL;
	char *copy = strdup(path), *save = NULL, *tok, *next;
	char *out;

	assert_non_null(root);
	if (value) {
		v = json_loads(value, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (!v)
			fail_msg("bad test value %s", value);
	}
	tok = strtok_r(copy, ".", &save);
	while ((next = strtok_r(NULL, ".", &save))) {
		cur = json_is_array(cur) ? json_array_get(cur, atoi(tok))
		                         : json_object_get(cur, tok);
		if (!cur)
			fail_msg("test path %s not in fixture", path);
		tok = next;
	}
	if (json_is_array(cur))
		json_array_set_new(cur, (size_t)atoi(tok), v);
	else if (v)
		json_object_set_new(cur, tok, v);
	else
		json_object_del(cur, tok);
	out = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	free(copy);
	return out;
}

#endif
