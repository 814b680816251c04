#!/bin/bash
# Controller integration tests: the fleet over real MQTT and real players —
# refused MQTT messages (malformed, oversized, unknown topics, forged,
# unregistered), node status and flags, proof of play into the CSV report,
# commands with results, screenshots, offline through the will.
# Usage: 57-controller-fleet.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_fleet "$@"
