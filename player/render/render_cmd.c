/*
 * minecast-player render: draw one frame to a PNG without a display.
 * (First cut: the full command follows with the render module.)
 */
#include <stdio.h>

#include "render.h"

int mc_render_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "minecast-player: render: not built yet\n");
	return 1;
}
