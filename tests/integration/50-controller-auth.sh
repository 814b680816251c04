#!/bin/bash
# Controller integration tests: login, sessions and CSRF, tokens, users,
# roles on every module's endpoints, bad bodies, /healthz, /metrics, backup.
# Usage: 50-controller-auth.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_auth "$@"
