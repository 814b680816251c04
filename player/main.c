/*
 * minecast-player — the node daemon's entry point.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "minecast/log.h"

#include "player.h"
#include "render/render.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "Usage: minecast-player [--config FILE] [--log-level LEVEL]\n"
	        "       minecast-player --check-config FILE\n"
	        "       minecast-player render --help   (draw one frame to a "
	        "PNG)\n"
	        "\n"
	        "The minecast node daemon: keeps this screen and loudspeaker "
	        "playing the\n"
	        "schedule the controller publishes, from its own cache, with "
	        "or without a\n"
	        "link, and reports health and proof of play.\n"
	        "\n"
	        "  --config FILE        configuration (default %s)\n"
	        "  --check-config FILE  check FILE, print every problem, and "
	        "exit\n"
	        "                       (0 when it is fine, 1 otherwise)\n"
	        "  --log-level LEVEL    error, warn, info (default) or debug; "
	        "overrides\n"
	        "                       [log] level\n"
	        "  --help               this text\n"
	        "  --version            print the version\n"
	        "\n"
	        "docs/player.md describes every setting; under systemd the "
	        "player is\n"
	        "Type=notify with a watchdog (firmware-notes/"
	        "minecast-player.service).\n",
	        MC_PLAYER_CONF_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"check-config", required_argument, NULL, 'k'},
	        {"log-level", required_argument, NULL, 'l'},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	const char *config = MC_PLAYER_CONF_DEFAULT;
	int level = -1, c, code;
	struct mc_player *p;
	struct mc_error err = {0};

	/* The render subcommand draws one frame and needs no daemon. */
	if (argc > 1 && strcmp(argv[1], "render") == 0)
		return mc_render_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'k': return mc_config_check(optarg, stdout) == 0 ? 0 : 1;
		case 'l':
			level = mc_log_level_parse(optarg);
			if (level < 0) {
				fprintf(stderr,
				        "minecast-player: --log-level: '%s' is "
				        "not one of error, warn, info, debug\n",
				        optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("minecast-player %s\n", MC_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "minecast-player: unexpected argument '%s'\n",
		        argv[optind]);
		return 2;
	}
	p = calloc(1, sizeof(*p));
	if (!p)
		return 1;
	if (mc_player_init(p, config, &err) != MC_OK) {
		fprintf(stderr, "minecast-player: %s\n", err.msg);
		mc_player_fini(p);
		free(p);
		return 1;
	}
	if (level >= 0)
		mc_log_set_level((enum mc_log_level)level);
	code = mc_player_run(p);
	mc_player_fini(p);
	free(p);
	return code;
}
