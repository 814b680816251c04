#!/bin/bash
# Player integration tests: a full disk (the cache on a 2 MiB tmpfs).
# A real minecast-player against a real mosquitto and tests/tools/httpd.py;
# see docs/testing.md.  Usage: 41-player-disk.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -eu
[ $# -eq 3 ] || { echo "usage: $0 BUILD_DIR SOURCE_DIR SCRATCH_DIR" >&2; exit 2; }
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
rm -rf "$3"
mkdir -p "$3"
scratch=$(cd "$3" && pwd)
/usr/bin/python3 -c 'import paho.mqtt.client' || {
	echo "$0: /usr/bin/python3 has no paho-mqtt (apt-get install python3-paho-mqtt)" >&2
	exit 1
}
cd "$src/tests/integration"
export MC_BUILD_DIR=$build MC_SOURCE_DIR=$src MC_SCRATCH_DIR=$scratch
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m unittest -v player.test_disk
