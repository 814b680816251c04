#!/bin/bash
# Player integration tests: a full disk (the cache on a 2 MiB tmpfs).
# Usage: 41-player-disk.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/player/run.sh" test_disk "$@"
