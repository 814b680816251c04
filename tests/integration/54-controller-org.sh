#!/bin/bash
# Controller integration tests: groups, companies, sites and nodes (CRUD,
# filters, bad input, roles, minecastctl), and provisioning with a real
# mosquitto, its password and ACL files, and a real player.
# Usage: 54-controller-org.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_org "$@"
