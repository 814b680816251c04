#!/bin/bash
# The README's main command, minus the install and build: scripts/demo
# brings up mosquitto, the controller, the people, the sample campaign
# (imported, approved, published) and a player, on free loopback ports,
# for a few seconds; the player must have applied the published version
# and played scheduled campaign items.  Run twice: the second run reuses
# what the first made (idempotent import, same node, nothing new to
# publish).
# Usage: 59-demo.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
set -u
build=$1 src=$2 scratch=$3
. "$src/tests/integration/lib.sh"
rm -rf "$scratch" && mkdir -p "$scratch"
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export MC_DEMO_MQTT_PORT=$(free_port) MC_DEMO_HTTP_PORT=$(free_port)

for run in 1 2; do
	out=$scratch/run$run.out
	timeout 240 bash "$src/scripts/demo" "$build" "$scratch/demo" \
		--seconds 8 --log-outputs >"$out" 2>&1
	check "run $run: scripts/demo exits 0" test $? -eq 0
	check "run $run: the player applied the published version" \
		grep -q 'version 1 applied\|"applied_version":1\|applied  *1  *1' "$out" "$scratch/demo/player.log"
	check "run $run: the player started a scheduled campaign item" \
		grep -q '"entry":"e-[a-z0-9-]*","event":"start".*"reason":"scheduled"' "$out"
	check "run $run: the fleet shows the node online" \
		grep -q '^demo-01 .* online' "$out"
	check "run $run: the rollout is complete" \
		grep -q '1 applied, 0 pending' "$out"
done
check "run 2: the import changed nothing" \
	grep -q 'content *0 created, 0 updated' "$scratch/run2.out"
check "run 2: nothing new to publish" \
	grep -q '0 new pointers' "$scratch/run2.out"
check_summary
