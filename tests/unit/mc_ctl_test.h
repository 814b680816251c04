/*
 * The fixture the controller's unit tests share: a struct mcc on a fresh
 * data directory under /tmp.  Include after <cmocka.h>; every function is
 * static, since each test file is its own executable.
 */
#ifndef MC_CTL_TEST_H
#define MC_CTL_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "minecast/error.h"

#include "db.h"
#include "mcc.h"

/* Apply one "--set section.key=value" (printf-style); fail the test when
 * the configuration refuses it. */
static inline void mcct_set(struct mcc *c, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static inline void mcct_set(struct mcc *c, const char *fmt, ...)
{
	struct mc_error err;
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (mcc_config_set(&c->cfg, buf, &err) != MC_OK)
		fail_msg("--set %s: %s", buf, err.msg);
}

/*
 * Set c up on the default configuration with its data in a new directory
 * /tmp/mc-<name>-XXXXXX/data (the directory's name is written to dir, of
 * len bytes; the caller removes it).  Returns this thread's database.
 */
static inline sqlite3 *mcct_open(struct mcc *c, char *dir, size_t len,
                                 const char *name)
{
	struct mc_error err;
	sqlite3 *db;

	snprintf(dir, len, "/tmp/mc-%s-XXXXXX", name);
	assert_non_null(mkdtemp(dir));
	if (mcc_config_load(&c->cfg, NULL, &err) != MC_OK)
		fail_msg("config: %s", err.msg);
	mcct_set(c, "controller.data_dir=%s/data", dir);
	if (mcc_setup(c, &err) != MC_OK)
		fail_msg("setup: %s", err.msg);
	db = mcc_db(c);
	assert_non_null(db);
	return db;
}

#endif
