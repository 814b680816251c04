#!/bin/bash
# Controller urgent alerts: one signed alert reaches exactly the targeted players; acks, clear, expiry; refusals.
# Usage: 56-controller-alerts.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_alerts "$@"
