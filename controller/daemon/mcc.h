/*
 * minecast-controller — the daemon's shared context.
 *
 * One struct mcc lives for the life of the process.  The HTTP threads, the
 * MQTT thread and the tick thread all read it; what they change in it is
 * guarded by the locks named beside the fields.  Everything persistent is
 * in SQLite (db.h); this struct holds configuration and live handles.
 *
 * Module map (one file each, one header each):
 *   config.c   the INI configuration file            config.h
 *   db.c       SQLite: per-thread connections, migrations, backup  db.h
 *   http.c     libmicrohttpd: routing, bodies, auth, files, latency http.h
 *   auth.c     users, argon2id, sessions, CSRF, API tokens, roles   auth.h
 *   audit.c    the append-only audit log                 audit.h
 *   blob.c     the content-addressed blob store          blob.h
 *   media.c    image/audio validation, loudness, speech  media.h
 *   viet.c     Vietnamese text to words for speech       viet.h
 *   content.c  content library endpoints                 content.h
 *   workflow.c draft → submitted → approved | rejected   workflow.h
 *   calendar.c playlists, entries, import/export, preview calendar.h
 *   org.c      groups, companies, sites, nodes, tags     org.h
 *   provision.c node credentials, ACL, config bundle     provision.h
 *   publish.c  compile, sign, publish, rollout           publish.h
 *   mqtt.c     the controller's MQTT client              mqtt.h
 *   fleet.c    state/health/pop/acks ingest, node status fleet.h
 *   alerts.c   urgent broadcast                          alerts.h
 *   commands.c node commands, screenshots                commands.h
 *   reports.c  proof-of-play reports, CSV                reports.h
 *   metrics.c  /metrics, /healthz                        metrics.h
 *   routes.c   the table of every module's routes
 *   mcc.c      setting up and tearing down struct mcc
 *   main.c     the daemon: options, start order, signals, tick thread
 */
#ifndef MCC_H
#define MCC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "minecast/error.h"
#include "minecast/sign.h"

#include "config.h"

struct mcc_http;
struct mcc_mqtt;
struct mcc_metrics;

struct mcc {
	struct mcc_config cfg;        /* read once at start, then read-only */
	char *db_path;                /* <data_dir>/minecast.db */
	char *blob_dir;               /* <data_dir>/blobs */
	char *tmp_dir;                /* <data_dir>/tmp: upload spool */
	char *shot_dir;               /* <data_dir>/screenshots */
	struct mc_secret_key key;     /* the signing key (cfg.key_file) */
	bool have_key;                /* false: publishing is refused */
	struct mcc_http *http;        /* NULL until mcc_http_start() */
	struct mcc_mqtt *mqtt;        /* NULL until mcc_mqtt_start() */
	struct mcc_metrics *metrics;  /* counters for /metrics */
	pthread_mutex_t publish_lock; /* one publish at a time */
	atomic_bool stop;             /* set by SIGTERM/SIGINT */
	int64_t started_ms;           /* wall clock at start */
};

/*
 * Paths under cfg.data_dir (db_path, blob_dir, tmp_dir, shot_dir) and
 * the directories themselves (mode 0700).  mcc_db_init calls it when
 * db_path is NULL.
 */
enum mc_err mcc_paths_init(struct mcc *c, struct mc_error *err);

/*
 * Everything but the network: paths and directories, the publish lock,
 * metrics, the database with its migrations, and the signing key
 * (cfg.key_file; generated with mode 0600 when missing, its public line
 * then written to cfg.trusted_keys).  c->cfg must be loaded.  Unit tests
 * use it too:
 *   struct mcc c = {0};
 *   mcc_config_load(&c.cfg, NULL, &err);
 *   mcc_config_set(&c.cfg, "controller.data_dir=/tmp/x", &err);
 *   mcc_setup(&c, &err); ... mcc_teardown(&c);
 */
enum mc_err mcc_setup(struct mcc *c, struct mc_error *err);

/* Undo mcc_setup (after http and mqtt are stopped) and free the config. */
void mcc_teardown(struct mcc *c);

#endif
