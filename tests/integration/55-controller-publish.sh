#!/bin/bash
# Controller publishing: provision → publish → players apply; republish only what changed; shared manifests; refusals.
# Usage: 55-controller-publish.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_publish "$@"
