#!/bin/bash
# Player integration tests: hash mismatch, rollback, bad pointers, commands, alerts and acks.
# Usage: 40-player-reject.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_reject "$@"
