/*
 * Fuzz the player's configuration reader: mc_config_parse on arbitrary
 * bytes, without loading key or password files (load_keys false), so
 * that the harness never touches the file system.  A good file must
 * give a config whose required fields are set; a bad one must leave
 * nothing behind after mc_config_free (ASan checks the leaks).
 *
 * The reader is compiled into this harness from its source, since the
 * fuzz targets link only libminecast and the player's library pulls in
 * libmosquitto, libcurl and SDL2, none of which the reader needs.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../player/config.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mc_player_config cfg;
	struct mc_error err;
	enum mc_err rc;

	rc = mc_config_parse((const char *)data, size, "fuzz.conf", false, &cfg,
	                     &err);
	if (rc == MC_OK) {
		/* What mc_config_parse promises of a good file. */
		if (!cfg.node_id || !mc_id_valid(cfg.node_id) ||
		    cfg.n_brokers < 1 || !cfg.http_base ||
		    cfg.n_trusted_key_files < 1 ||
		    !(cfg.screen || cfg.speaker) || !cfg.username ||
		    cfg.download_parallel < 1 || cfg.download_parallel > 16 ||
		    cfg.reconnect_min_ms > cfg.reconnect_max_ms)
			abort();
		for (size_t i = 0; i < cfg.n_brokers; i++)
			if (!cfg.brokers[i].host || cfg.brokers[i].port < 1 ||
			    cfg.brokers[i].port > 65535)
				abort();
	} else if (err.code != rc || !err.msg[0] ||
	           strncmp(err.msg, "fuzz.conf:", 10) != 0) {
		abort();
	}
	mc_config_free(&cfg);
	return 0;
}
