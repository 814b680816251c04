#!/bin/bash
# minecastctl schedule preview on the sample campaign: on 12/11/2023 the
# screens show the 87th-anniversary slogan of Mine-workers' Tradition Day
# (founded 1936, resolved from "{years}" with no yearly edit), and the
# loudspeakers play the three shift-change bulletins at 06:00, 14:00 and
# 22:00.  Also checks the clock-unsynchronised view, a bad date and --help.
#
# Usage: 11-preview.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -u

build=$1
src=$2
scratch=$3
ctl=$build/controller/minecastctl
campaign=$src/playlists/november-2023.json
mkdir -p "$scratch"
out=$scratch/preview.txt

. "$(dirname "$0")/lib.sh"

if ! "$ctl" schedule preview "$campaign" --date 2023-11-12 >"$out" \
	2>"$scratch/preview.err"; then
	echo "FAIL: preview exited non-zero: $(cat "$scratch/preview.err")"
	exit 1
fi
cat "$out"

# The [speaker] section: from its header to the end.
sed -n '/^\[speaker\]/,$p' "$out" >"$scratch/speaker.txt"
sed -n '/^\[screen\]/,/^\[speaker\]/p' "$out" >"$scratch/screen.txt"

check "screen shows the 87th anniversary slogan" \
	grep -q "87 năm" "$scratch/screen.txt"
check "the founding year is resolved ({since})" \
	grep -q "12/11/1936" "$scratch/screen.txt"
check "no unresolved {years} on 12/11" \
	bash -c "! grep -q '{years}' '$out'"
for at in 06:00:00 14:00:00 22:00:00; do
	check "speaker has a once segment starting at $at" \
		grep -Eq "^  $at–[0-9:.]+ +interrupt/[0-9]+ .*once" \
		"$scratch/speaker.txt"
	check "speaker plays an item at $at" \
		grep -Eq "^      $at " "$scratch/speaker.txt"
done
check "exactly three shift-change bulletins (ban-tin-*)" \
	test "$(grep -Ec '\(ban-tin-[0-9]+,' "$scratch/speaker.txt")" -eq 3
check "the day is covered from 00:00:00 to 24:00:00" \
	bash -c "grep -q '^  00:00:00–' '$scratch/screen.txt' &&
		 grep -q '–24:00:00 ' '$scratch/speaker.txt'"

# Dated entries wait for a synchronised clock: no bulletins, a reason.
"$ctl" schedule preview "$campaign" --date 2023-11-12 --clock-unsynced \
	>"$scratch/unsynced.txt" 2>&1
check "unsynced preview succeeds" test $? -eq 0
check "unsynced: no 87th anniversary slogan" \
	bash -c "! grep -q '87 năm' '$scratch/unsynced.txt'"
check "unsynced: bulletins wait" \
	bash -c "! grep -q 'ban-tin-0600' '$scratch/unsynced.txt'"

# On another day of November the anniversary entry is not on screen.
"$ctl" schedule preview "$campaign" --date 2023-11-05 \
	>"$scratch/nov5.txt" 2>&1
check "05/11 preview succeeds" test $? -eq 0
check "05/11: no Vùng mỏ anniversary" \
	bash -c "! grep -q 'slogan-vung-mo' '$scratch/nov5.txt'"

"$ctl" schedule preview "$campaign" --date 2023-02-30 >/dev/null 2>&1
check "an impossible --date is a usage error (2)" test $? -eq 2
"$ctl" schedule preview --help | grep -q -- "--clock-unsynced"
check "preview --help explains --clock-unsynced" test $? -eq 0

check_summary
