/*
 * minecast-controller — setting up and tearing down struct mcc (mcc.h):
 * the data directories, the database, metrics and the signing key.  The
 * daemon (main.c) and the unit tests share this, so that a test runs
 * against the same start order as production.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "minecast/log.h"
#include "minecast/util.h"

#include "db.h"
#include "mcc.h"
#include "metrics.h"

/* mkdir -p one level with mode 0700; an existing directory is fine. */
static enum mc_err make_dir(const char *path, struct mc_error *err)
{
	struct stat st;

	if (mkdir(path, 0700) == 0)
		return MC_OK;
	if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return MC_OK;
	return mc_error_set(err, MC_ERR_IO, "%s: cannot create directory: %s",
	                    path, strerror(errno));
}

enum mc_err mcc_paths_init(struct mcc *c, struct mc_error *err)
{
	const char *d = c->cfg.data_dir;
	enum mc_err rc;

	if (!d || !*d)
		return mc_error_set(err, MC_ERR_MISSING,
		                    "[controller] data_dir: must be set");
	if ((rc = make_dir(d, err)) != MC_OK)
		return rc;
	free(c->db_path);
	free(c->blob_dir);
	free(c->tmp_dir);
	free(c->shot_dir);
	c->db_path = mc_printf("%s/minecast.db", d);
	c->blob_dir = mc_printf("%s/blobs", d);
	c->tmp_dir = mc_printf("%s/tmp", d);
	c->shot_dir = mc_printf("%s/screenshots", d);
	if (!c->db_path || !c->blob_dir || !c->tmp_dir || !c->shot_dir)
		return mc_error_set(err, MC_ERR_NOMEM, "out of memory");
	if ((rc = make_dir(c->blob_dir, err)) != MC_OK ||
	    (rc = make_dir(c->tmp_dir, err)) != MC_OK ||
	    (rc = make_dir(c->shot_dir, err)) != MC_OK)
		return rc;
	return MC_OK;
}

/* Does the public key file at path already list kid? */
static bool lists_kid(const char *path, const char *kid)
{
	struct mc_error e;
	char *text = NULL;
	size_t len;
	bool found;

	if (mc_read_file(path, MC_MAX_KEYFILE_BYTES, &text, &len, &e) != MC_OK)
		return false;
	found = strstr(text, kid) != NULL;
	free(text);
	return found;
}

/* Add the public line of key to the trusted file, creating it. */
static enum mc_err trust(struct mcc *c, struct mc_error *err)
{
	char line[MC_PUBLINE_SIZE];
	FILE *f;

	if (access(c->cfg.trusted_keys, F_OK) != 0) {
		enum mc_err rc =
		        mc_public_key_save(&c->key, c->cfg.trusted_keys, err);

		/* Public: whoever provisions nodes may read it (umask). */
		if (rc == MC_OK)
			chmod(c->cfg.trusted_keys, 0644);
		return rc;
	}
	if (lists_kid(c->cfg.trusted_keys, c->key.kid))
		return MC_OK;
	/* Keep the keys it lists: nodes may still need them (rotation). */
	mc_public_key_line(c->key.pk, line);
	f = fopen(c->cfg.trusted_keys, "a");
	if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0)
		return mc_error_set(err, MC_ERR_IO, "%s: cannot append: %s",
		                    c->cfg.trusted_keys, strerror(errno));
	return MC_OK;
}

/* Load the signing key, or make one on the first run. */
static enum mc_err load_key(struct mcc *c, struct mc_error *err)
{
	enum mc_err rc;

	if (access(c->cfg.key_file, F_OK) == 0) {
		rc = mc_secret_key_load(c->cfg.key_file, &c->key, err);
		if (rc != MC_OK)
			return rc;
		mc_log_info("key", "signing key %s loaded from %s", c->key.kid,
		            c->cfg.key_file);
	} else {
		rc = mc_secret_key_generate(&c->key, err);
		if (rc == MC_OK)
			rc = mc_secret_key_save(&c->key, c->cfg.key_file, err);
		if (rc != MC_OK)
			return rc;
		mc_log_info(
		        "key",
		        "no signing key yet: made key %s in %s (mode 0600; "
		        "back it up, whoever holds it can drive every node)",
		        c->key.kid, c->cfg.key_file);
	}
	rc = trust(c, err);
	if (rc != MC_OK)
		return rc;
	mc_log_info("key",
	            "nodes must trust key %s: its public line is in %s (node "
	            "bundles carry it)",
	            c->key.kid, c->cfg.trusted_keys);
	c->have_key = true;
	return MC_OK;
}

enum mc_err mcc_setup(struct mcc *c, struct mc_error *err)
{
	enum mc_err rc;

	c->started_ms = mc_now_ms();
	atomic_store(&c->stop, false);
	pthread_mutex_init(&c->publish_lock, NULL);
	if ((rc = mcc_paths_init(c, err)) != MC_OK)
		return rc;
	if ((rc = mcc_metrics_init(c)) != MC_OK)
		return mc_error_set(err, rc, "metrics: out of memory");
	if ((rc = mcc_db_init(c, err)) != MC_OK)
		return rc;
	if ((rc = load_key(c, err)) != MC_OK)
		return rc;
	return MC_OK;
}

void mcc_teardown(struct mcc *c)
{
	mcc_db_thread_end();
	mcc_metrics_free(c);
	mc_secret_key_wipe(&c->key);
	c->have_key = false;
	pthread_mutex_destroy(&c->publish_lock);
	MC_FREE(c->db_path);
	MC_FREE(c->blob_dir);
	MC_FREE(c->tmp_dir);
	MC_FREE(c->shot_dir);
	mcc_config_free(&c->cfg);
}
