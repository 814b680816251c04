#!/bin/bash
# docs/api.md matches the code: its "Every endpoint" table lists exactly
# the routes minecast-controller serves (--routes), with the same roles;
# and every route has a section of its own further down that names its
# path.
# Usage: 58-api-doc.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR (docs/testing.md)
set -u
build=$1 src=$2 scratch=$3
. "$src/tests/integration/lib.sh"
rm -rf "$scratch" && mkdir -p "$scratch"
doc=$src/docs/api.md

"$build/controller/minecast-controller" --routes |
	sed 's/,admin$//; s/,admin,node$/,node/' | sort >"$scratch/code"
check "the controller lists its routes" test -s "$scratch/code"
awk '/^## Every endpoint/ { on = 1; next } /^## / { on = 0 }
	on && /^\| [A-Z]+ \|/ { gsub(/`/, ""); print $2, $4, $6 }' "$doc" |
	sort >"$scratch/doc"
check "docs/api.md has the endpoint table" test -s "$scratch/doc"
if ! diff -u "$scratch/doc" "$scratch/code" >"$scratch/diff"; then
	echo "docs/api.md's endpoint table differs from the code (- doc, + code):"
	cat "$scratch/diff"
fi
check "the endpoint table equals minecast-controller --routes" \
	diff -q "$scratch/doc" "$scratch/code"

# Each route's path is described somewhere below the table: the path
# with {id} in any spelling ({id}, {name}, {sha256}, ...).
body=$scratch/body
awk '/^## Every endpoint/ { skip = 1; next } /^## / { skip = 0 } !skip' "$doc" >"$body"
missing=0
while read -r method path _; do
	re=$(printf '%s' "$path" | sed 's/[.]/[.]/g; s/{id}/({[^}]*}|[^ \/`]*)/g')
	if ! grep -Eq "$method[^|]*$re" "$body" &&
		! grep -Eq "$re" "$body"; then
		echo "not described below the table: $method $path"
		missing=$((missing + 1))
	fi
done <"$scratch/code"
check "every route is described in docs/api.md" test "$missing" -eq 0
check_summary
