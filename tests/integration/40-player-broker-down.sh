#!/bin/bash
# Player integration tests: broker down for minutes (MC_TEST_BROKER_DOWN_S, default 120).
# Usage: 40-player-broker-down.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_broker_down "$@"
