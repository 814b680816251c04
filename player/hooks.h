/*
 * minecast-player — hooks: the configured commands that reach hardware
 * this program does not drive itself (reboot, HDMI-CEC screen power, the
 * amplifier's GPIO relay).
 *
 * A hook is a command line run with /bin/sh -c, the action appended as
 * arguments ("on", "off"), in its own process group, killed after the
 * timeout.  It runs on a thread of its own so the main loop never waits;
 * its outcome is one MC_EV_HOOK_DONE event carrying tag.
 */
#ifndef MC_PLAYER_HOOKS_H
#define MC_PLAYER_HOOKS_H

#include "evq.h"

/*
 * Run cmdline with the NULL-terminated args, report to q with tag.
 * rc MC_OK when the command exited 0; otherwise MC_ERR_IO with text
 * holding the exit status and the last line of its output.
 */
void mc_hook_run(struct mc_evq *q, const char *cmdline, const char *const *args,
                 int timeout_s, const char *tag);

#endif
