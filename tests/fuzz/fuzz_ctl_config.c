/*
 * Fuzz the controller's configuration reader (controller/daemon/config.c):
 * mcc_config_parse on arbitrary bytes, then, when the first line is a
 * comment ("#mqtt.port=1884"), the rest of it as a --set assignment.  A good
 * file must give a configuration whose values are inside their documented
 * ranges; any file must leave nothing behind after mcc_config_free (ASan checks
 * the leaks).  The reader never touches the file system.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/error.h"

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What mcc_config_parse promises of a good file. */
static void check(const struct mcc_config *cfg)
{
	if (!cfg->data_dir || !cfg->listen || !cfg->key_file ||
	    !cfg->trusted_keys || !cfg->log_level || !cfg->render_cmd ||
	    !cfg->mqtt_host || !cfg->mqtt_client_id || !cfg->node_mqtt_host)
		abort();
	if (cfg->http_threads < 1 || cfg->http_threads > 256 ||
	    cfg->mqtt_port < 1 || cfg->mqtt_port > 65535 ||
	    cfg->node_mqtt_port < 1 || cfg->node_mqtt_port > 65535 ||
	    cfg->max_upload_bytes < 1024 ||
	    cfg->resign_before_s >= cfg->pointer_ttl_s ||
	    cfg->disk_low_pct < 0 || cfg->disk_low_pct > 100 ||
	    cfg->hot_c < 0 || cfg->hot_c > 150 || cfg->stale_s < 5 ||
	    cfg->pop_retention_days < 1 || cfg->alert_lead_ms < 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mcc_config cfg;
	struct mc_error err;
	const char *nl = memchr(data, '\n', size);
	char *set = NULL;

	if (mcc_config_parse(&cfg, (const char *)data, size, "/etc/fuzz.conf",
	                     NULL, &err) == MC_OK) {
		check(&cfg);
		/* The first line as a --set assignment, NUL-free. */
		size_t n = nl ? (size_t)(nl - (const char *)data) : size;

		if (n > 1 && data[0] == '#' && !memchr(data, '\0', n)) {
			set = malloc(n);
			if (!set)
				abort();
			memcpy(set, data + 1, n - 1);
			set[n - 1] = '\0';
			if (mcc_config_set(&cfg, set, &err) == MC_OK)
				check(&cfg);
			free(set);
		}
	} else if (err.msg[0] == '\0' || err.code == MC_OK) {
		abort(); /* a problem must be named */
	}
	mcc_config_free(&cfg);
	return 0;
}
