#!/bin/bash
# Player integration tests: each command's round trip, an alert, the systemd watchdog.
# Usage: 40-player-commands.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_commands "$@"
