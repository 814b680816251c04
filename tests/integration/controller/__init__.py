"""Integration tests of minecast-controller: the real daemon over real
HTTP, with a real mosquitto and, end to end, real players
(docs/testing.md).  The harness is ctlharness.py."""
