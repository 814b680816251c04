#!/bin/bash
# Player integration tests: clock not synchronised.
# Usage: 40-player-clock.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_clock "$@"
