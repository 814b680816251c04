#!/bin/bash
# minecast-sim against the real controller and mosquitto, a few tens of
# nodes: registration, publish applied everywhere, an alert acknowledged
# by exactly its targets, commands, proof of play with nothing lost,
# health, a forged pointer refused, clean stop offline; provisioning with
# broker passwords; bad command lines (exit 2).  No timing is asserted.
# Usage: 60-sim.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_sim "$@"
