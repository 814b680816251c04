"""Integration tests of minecast-player: a real player against a real
mosquitto and the test HTTP server (docs/testing.md)."""
