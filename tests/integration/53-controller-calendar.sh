#!/bin/bash
# Controller integration tests: playlists and entries checked by the codec,
# schedule settings, campaign import through minecastctl (idempotent),
# export, iCalendar import/export, bad calendars refused, day preview.
# Usage: 53-controller-calendar.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
exec bash "$(dirname "$0")/controller/run.sh" test_calendar "$@"
