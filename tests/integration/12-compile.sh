#!/bin/bash
# minecastctl compile: the November campaign becomes a manifest whose
# files are named by their sha256, which previews like the campaign; bad
# input is refused with a message naming what is wrong.
# Usage: 12-compile.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -euo pipefail
build=$1 src=$2 scratch=$3
ctl=$build/controller/minecastctl
rm -rf "$scratch" && mkdir -p "$scratch"
fail() { echo "FAIL: $*" >&2; exit 1; }

out=$("$ctl" compile "$build/playlists/november-2023.json" --node pi-cua-lo-01 \
	--out "$scratch/www")
read -r sha size <<<"$out"
man=$scratch/www/v1/manifests/$sha
[ -f "$man" ] || fail "no manifest at $man"
[ "$(sha256sum "$man" | cut -d' ' -f1)" = "$sha" ] || fail "manifest name is not its sha256"
[ "$(stat -c %s "$man")" = "$size" ] || fail "printed size $size is not the file's"
grep -q '"format":"minecast-manifest/1"' "$man" || fail "not a manifest"
grep -q '"node":"pi-cua-lo-01"' "$man" || fail "node missing"
! grep -q '"src"' "$man" || fail "src left in the manifest"
n=0
for f in "$scratch"/www/v1/content/*; do
	[ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] ||
		fail "$f is not named by its sha256"
	grep -q "\"/v1/content/$(basename "$f")\"" "$man" || fail "$f not in the manifest"
	n=$((n + 1))
done
[ "$n" -ge 10 ] || fail "only $n assets written"
"$ctl" schedule preview "$man" --date 2023-11-12 | grep -q "87 năm" ||
	fail "the compiled manifest does not preview the 87th anniversary"

# Bad input.
set +e
msg=$("$ctl" compile "$build/playlists/november-2023.json" --out "$scratch/x" 2>&1)
[ $? -eq 2 ] && grep -q -- "--node is required" <<<"$msg" || fail "missing --node: $msg"
msg=$("$ctl" compile "$build/playlists/november-2023.json" --node 'bad id' --out "$scratch/x" 2>&1)
[ $? -eq 1 ] && grep -q "not a node id" <<<"$msg" || fail "bad node id: $msg"
mkdir -p "$scratch/broken/assets"
sed 's/pano-vung-mo.png/missing.png/' "$build/playlists/november-2023.json" >"$scratch/broken/c.json"
cp "$build"/playlists/assets/* "$scratch/broken/assets/"
msg=$("$ctl" compile "$scratch/broken/c.json" --node n1 --out "$scratch/y" 2>&1)
[ $? -eq 1 ] && grep -q "content pano-vung-mo" <<<"$msg" && grep -q "missing.png" <<<"$msg" ||
	fail "missing asset: $msg"
set -e
echo "12-compile: ok ($n assets, manifest $sha)"
