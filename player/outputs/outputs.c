/* minecast-player — the table of compiled-in output backends. */
#include <string.h>

#include "output.h"

extern const struct mc_output_ops mc_output_log;
extern const struct mc_output_ops mc_output_gstreamer;
extern const struct mc_output_ops mc_output_sdl;
#ifdef MC_WITH_VLC
extern const struct mc_output_ops mc_output_vlc;
#endif

const struct mc_output_ops *const mc_output_backends[] = {
        &mc_output_log, &mc_output_gstreamer, &mc_output_sdl,
#ifdef MC_WITH_VLC
        &mc_output_vlc,
#endif
        NULL,
};

const struct mc_output_ops *mc_output_find(const char *name)
{
	for (size_t i = 0; name && mc_output_backends[i]; i++)
		if (strcmp(mc_output_backends[i]->name, name) == 0)
			return mc_output_backends[i];
	return NULL;
}
