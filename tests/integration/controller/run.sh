#!/bin/bash
# Run one module of the controller integration tests (docs/testing.md):
#   controller/run.sh MODULE BUILD_DIR SOURCE_DIR SCRATCH_DIR
# The 5N-controller-*.sh wrappers that ctest registers call this.
set -eu
[ $# -eq 4 ] || { echo "usage: $0 MODULE BUILD_DIR SOURCE_DIR SCRATCH_DIR" >&2; exit 2; }
module=$1
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
rm -rf "$4"
mkdir -p "$4"
scratch=$(cd "$4" && pwd)
/usr/bin/python3 -c 'import paho.mqtt.client' || {
	echo "$0: /usr/bin/python3 has no paho-mqtt (apt-get install python3-paho-mqtt)" >&2
	exit 1
}
cd "$src/tests/integration"
export MC_BUILD_DIR=$build MC_SOURCE_DIR=$src MC_SCRATCH_DIR=$scratch
export PYTHONDONTWRITEBYTECODE=1
exec /usr/bin/python3 -m unittest -v "controller.$module"
