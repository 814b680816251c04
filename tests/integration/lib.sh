# Shared by the integration scripts: `. "$(dirname "$0")/lib.sh"`.
#
# check WHAT CMD...  runs CMD and counts it as passed or failed, printing
#                    "FAIL: WHAT" on failure (the script goes on);
# check_summary [NAME] prints "[NAME: ]N passed, M failed" and returns non-zero
#                    when anything failed.

pass=0
fail=0

check() {
	local what=$1
	shift
	if "$@"; then
		pass=$((pass + 1))
	else
		echo "FAIL: $what"
		fail=$((fail + 1))
	fi
}

check_summary() {
	echo "${1:+$1: }$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
}
