#!/bin/bash
# RFC 5545 section 3.8.5.3: every RRULE example of the RFC, expanded by
# `minecastctl schedule expand --tz America/New_York` and compared with
# the occurrence list the RFC gives (transcribed into
# data/rfc5545/NN-name.txt: "dtstart", "rrule", optional "limit" for the
# "forever" rules, optional "deviation", then "expect" and the starts).
#
# A case marked "deviation" is one where libical's (correct) result differs
# from the RFC's printed list; it is reported as a known deviation and does
# not fail the run.  Every other mismatch fails, and so does a deviation
# case whose result changes (it then matches the RFC, or differs in a new
# way), so that the mark is revisited.
#
# Usage: 10-rfc5545-expand.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -u

build=$1
src=$2
scratch=$3
ctl=$build/controller/minecastctl
data=$src/tests/integration/data/rfc5545
mkdir -p "$scratch"

# What libical gives for the known deviations, so any change is noticed.
declare -A deviation_result=(
	[35-every-3-hours]="19970902T090000 19970902T120000"
)

pass=0
fail=0
known=0
for f in "$data"/*.txt; do
	name=$(basename "$f" .txt)
	dtstart=$(sed -n 's/^dtstart //p' "$f")
	rrule=$(sed -n 's/^rrule //p' "$f")
	limit=$(sed -n 's/^limit //p' "$f")
	deviation=$(sed -n 's/^deviation //p' "$f")
	sed -n '/^expect$/,$p' "$f" | tail -n +2 >"$scratch/$name.want"
	if [ -z "$limit" ]; then
		limit=$(wc -l <"$scratch/$name.want")
		limit=$((limit + 5)) # finite rules must stop by themselves
	fi
	if ! "$ctl" schedule expand --tz America/New_York \
		--dtstart "$dtstart" --rrule "$rrule" --limit "$limit" \
		>"$scratch/$name.got" 2>"$scratch/$name.err"; then
		echo "FAIL $name: minecastctl failed: $(cat "$scratch/$name.err")"
		fail=$((fail + 1))
		continue
	fi
	if cmp -s "$scratch/$name.want" "$scratch/$name.got"; then
		if [ -n "$deviation" ]; then
			echo "FAIL $name: marked as a libical deviation but now matches the RFC; remove the mark"
			fail=$((fail + 1))
		else
			echo "ok   $name"
			pass=$((pass + 1))
		fi
		continue
	fi
	got=$(tr '\n' ' ' <"$scratch/$name.got" | sed 's/ $//')
	if [ -n "$deviation" ] && [ "${deviation_result[$name]:-}" = "$got" ]; then
		echo "KNOWN $name: known libical deviation: $deviation"
		echo "      libical gives: $got"
		known=$((known + 1))
		continue
	fi
	echo "FAIL $name: $rrule"
	diff -u "$scratch/$name.want" "$scratch/$name.got" | sed 's/^/      /'
	fail=$((fail + 1))
done

echo "$pass passed, $fail failed ($known known libical deviation(s), counted as passed: $((pass + known)) of $((pass + known + fail)))"
[ "$fail" -eq 0 ]
