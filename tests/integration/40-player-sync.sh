#!/bin/bash
# Player integration tests: first sync, boot offline from cache, kill -9 during a download.
# Usage: 40-player-sync.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_sync "$@"
