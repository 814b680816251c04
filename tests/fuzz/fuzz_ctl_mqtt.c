/*
 * Fuzz the controller's MQTT intake (controller/daemon/mqtt.c,
 * mcc_mqtt_intake): the first line of the input is the topic, the rest
 * the payload, handed over as the broker would.  Behind it run the
 * checks (topic, size, registration, codec, node), the fleet's state,
 * health and proof-of-play ingest into a real SQLite database, command
 * results and alert acknowledgements.  Whatever comes in, nothing may be
 * stored for a node that is not registered, and nothing may crash or
 * leak (ASan).  The database lives in a temporary directory made at the
 * first input and removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "minecast/error.h"
#include "minecast/log.h"

#include "db.h"
#include "mcc.h"
#include "mqtt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mcc ctl;
static char dir[64];
static sqlite3 *db;

static void cleanup(void)
{
	char cmd[128];

	mcc_db_thread_end();
	mcc_teardown(&ctl);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_ctl_mqtt: cannot remove %s\n", dir);
}

static void init(void)
{
	struct mc_error err;
	char set[128];

	mc_log_set_level(MC_LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/mc-fuzz-mqtt-XXXXXX");
	if (!mkdtemp(dir))
		abort();
	snprintf(set, sizeof(set), "controller.data_dir=%s", dir);
	if (mcc_config_load(&ctl.cfg, NULL, &err) != MC_OK ||
	    mcc_config_set(&ctl.cfg, set, &err) != MC_OK ||
	    mcc_setup(&ctl, &err) != MC_OK) {
		fprintf(stderr, "fuzz_ctl_mqtt: %s\n", err.msg);
		abort();
	}
	db = mcc_db(&ctl);
	if (!db ||
	    sqlite3_exec(db,
	                 "INSERT INTO sites(id, name, created_ms) VALUES"
	                 " ('cua-lo', 'Cửa Lò', 0);"
	                 "INSERT INTO nodes(id, site_id, created_ms) VALUES"
	                 " ('pi-1', 'cua-lo', 0), ('pi-2', 'cua-lo', 0);",
	                 NULL, NULL, NULL) != SQLITE_OK)
		abort();
	atexit(cleanup);
}

/* Rows of unregistered nodes anywhere the intake writes. */
static int64_t strangers(void)
{
	static const char *const q[] = {
	        "SELECT COUNT(*) FROM pop WHERE node_id NOT IN ('pi-1', "
	        "'pi-2')",
	        "SELECT COUNT(*) FROM node_live WHERE node_id NOT IN"
	        " ('pi-1', 'pi-2')",
	};
	int64_t n = 0;

	for (size_t i = 0; i < 2; i++) {
		sqlite3_stmt *st = mcc_db_prepare(db, q[i]);

		if (!st)
			abort();
		if (sqlite3_step(st) == SQLITE_ROW)
			n += sqlite3_column_int64(st, 0);
		mcc_db_done(st);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const uint8_t *nl;
	char *topic;
	size_t tlen;

	if (!ready) {
		init();
		ready = 1;
	}
	nl = memchr(data, '\n', size);
	tlen = nl ? (size_t)(nl - data) : size;
	if (tlen > 1024 || memchr(data, '\0', tlen))
		return 0; /* MQTT topics are short UTF-8 without NUL */
	topic = malloc(tlen + 1);
	if (!topic)
		abort();
	memcpy(topic, data, tlen);
	topic[tlen] = '\0';
	if (nl)
		mcc_mqtt_intake(&ctl, topic, nl + 1, size - tlen - 1,
		                size % 2 == 0);
	else
		mcc_mqtt_intake(&ctl, topic, "", 0, size % 2 == 0);
	free(topic);
	if (strangers() != 0)
		abort();
	return 0;
}
