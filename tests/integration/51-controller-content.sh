#!/bin/bash
# Controller integration tests: the content library — slogans, image and
# audio uploads (refused files leave nothing), loudness, generated speech,
# codec field errors, NFC, roles, paging, review, previews, minecastctl.
# Usage: 51-controller-content.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_content "$@"
