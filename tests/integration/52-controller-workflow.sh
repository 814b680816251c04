#!/bin/bash
# Controller integration tests: the editorial workflow (submit, approve,
# reject, self-approval refused, edit of approved work back to review,
# references, the review queue, audit) and minecastctl review/approve.
# Usage: 52-controller-workflow.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_workflow "$@"
