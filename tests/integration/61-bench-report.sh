#!/bin/bash
# bench/run's report writer on canned JSON (tests/integration/data/bench/:
# each benchmark script's output as it writes it, and a canned profile):
# `bench/run --self-check` renders docs/benchmarks.md's form and the JSON
# and checks that they hold together; here, besides, what a reader looks
# for: machine, date and commit; each figure beside its target and
# reference; plain "misses its target" notes with what limits it; a part
# whose JSON is broken reported as not measured instead of a crash; bad
# options refused.  No benchmark runs and no time is asserted.
# Usage: 61-bench-report.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -u
build=$1 src=$2 scratch=$3
. "$src/tests/integration/lib.sh"
rm -rf "$scratch" && mkdir -p "$scratch"
py=/usr/bin/python3
run=$src/bench/run
canned=$src/tests/integration/data/bench
md=$scratch/benchmarks.md
js=$scratch/benchmarks.json

$py "$run" --self-check --out-md "$md" --out-json "$js" >"$scratch/out" 2>&1
rc=$?
cat "$scratch/out"
check "the self-check passes" test $rc -eq 0
check "the page names the machine" \
	grep -q '^- \*\*Machine\*\*: .*, [0-9]* cores, [0-9]* GiB memory' "$md"
check "the page carries date and commit" \
	grep -q '^- \*\*Run\*\*: .*2000-01-01 00:00 UTC, commit 0000000000' "$md"
check "a figure sits beside its target and reference, with runs" \
	grep -qF '| player resident memory, 1080p, cycling panos and slogans | ≤ 60 MB | a browser-based Pi player: ~225 MB viewer alone | 52.0 MB (51.4–59.6, 3 runs) | meets |' "$md"
check "publish to 1,000 simulated nodes meets its target" \
	grep -qF '| publish → every node applied, 1,000 simulated nodes | ≤ 1 s | a signage CMS whose players collect every 300 s; another whose schedule changes land within about 60 s | 412 ms (380–455, 3 publishes) | meets |' "$md"
check "10,000 nodes not in the canned plan: said, not invented" \
	grep -q '^| publish → every node applied, 10,000 simulated nodes | .* | not measured: .* | not measured |$' "$md"
check "the API miss is said plainly, with the part's profile" \
	grep -q '^- \*\*API p99 latency, 50 concurrent clients misses its target\*\*: 64.6 ms (1 run) against ≤ 50 ms.*Profile (one more run.*minecast-controller 61 %' "$md"
check "the alert miss carries the fleet's own profile" \
	grep -q '^- \*\*urgent alert → node acknowledged (delivered), p99 over 1,000 nodes misses its target\*\*: .*minecast-sim the most' "$md"
check "messages the broker dropped are a plain miss" \
	grep -q "^- \*\*messages mosquitto dropped (a client's queue full; max_queued_messages 1,000, as in production) misses its target\*\*: 328 (0 at 1,000 nodes; 328 at 10,000 nodes) against none" "$md"
check "a soak that is not flat says so" \
	grep -q '| soak, 1,000 nodes, 1 min: controller CPU (% of one core) | flat | .* | not flat |' "$md"
check "the soak's samples are tabled" grep -q '^| 60 s | 4.0 % | 31.0 MB |$' "$md"

check "the JSON holds every figure with its verdict" $py - "$js" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["id"]: x for x in d["figures"]}
assert d["format"] == "minecast-benchmarks/1", d["format"]
assert d["meta"]["commit"] == "0000000000"
assert f["ctl.api.p99"]["verdict"] == "misses", f["ctl.api.p99"]
assert f["ctl.api.p99"]["runs"] == [64.556], f["ctl.api.p99"]
assert f["ctl.ingest"]["verdict"] == "meets"
assert f["player.audio_skew"]["n"] == 3
assert f["fleet.publish.10000"]["verdict"] == "not measured"
assert f["fleet.soak.rss"]["verdict"] == "flat"
assert d["counts"] == {"meet": 12, "miss": 4, "info": 11,
                       "not measured": 4}, d["counts"]
assert d["raw"]["player"]["sync_ideal_bytes"] == 140162
EOF

# A part whose JSON lacks what the report reads: not measured, no crash.
mkdir -p "$scratch/broken"
cp "$canned"/*.json "$scratch/broken/"
echo '{"machine": "x86_64", "p99_ms": {"median": "fast"}}' \
	>"$scratch/broken/ctl_api.json"
rm "$scratch/broken/profile.json"
$py "$run" --self-check --parts-dir "$scratch/broken" \
	--out-md "$scratch/broken.md" --out-json "$scratch/broken.json" \
	>"$scratch/broken.out" 2>&1
check "broken part JSON: the report is still written" test $? -eq 0
check "broken part JSON: its figures are not measured, with the reason" \
	grep -q "^| API p99 latency, C concurrent clients | .* | not measured: ctl_api's JSON could not be read" "$scratch/broken.md"

$py "$run" --only nothing >"$scratch/bad.out" 2>&1
check "an unknown part is refused with exit 2" test $? -eq 2
check "... naming the parts" grep -q 'no part nothing (parts: player, screen' "$scratch/bad.out"
$py "$run" --help >"$scratch/help.out" 2>&1
check "--help exits 0" test $? -eq 0
check "--help explains --quick" grep -q 'under 5 minutes' "$scratch/help.out"
check_summary 61-bench-report
