#!/bin/bash
# minecast-player render on the sample campaign and on a manifest built
# from it: what the schedule shows at an instant (12/11/2023: the pano,
# then the 87th-anniversary slogan), one item, an alert, the built-in
# screen; a manifest's files found in a player cache; a corrupt image and
# a missing font fail naming the file; usage errors exit 2 naming the
# option.  Pixels are checked by the golden tests
# (tests/unit/test_player_render.c); this checks the command around them.
#
# Usage: 42-render.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -u

build=$1
src=$2
scratch=$3
player=$build/player/minecast-player
campaign=$build/playlists/november-2023.json
assets=$build/playlists/assets
rm -rf "$scratch"
mkdir -p "$scratch"

. "$(dirname "$0")/lib.sh"

for f in "$player" "$campaign" "$assets/pano-vung-mo.png"; do
	[ -e "$f" ] || { echo "FAIL: $f is not built"; exit 1; }
done

# png_size FILE: print "WxH" from the PNG header.
png_size() {
	/usr/bin/python3 - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read(24)
assert d[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
print("%dx%d" % struct.unpack(">II", d[16:24]))
EOF
}

# run NAME EXPECTED_RC ARGS...: run render, keep stdout/stderr.
run() {
	local name=$1 want=$2 rc
	shift 2
	"$player" render "$@" >"$scratch/$name.out" 2>"$scratch/$name.err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: $name: exit $rc, expected $want"
		cat "$scratch/$name.out" "$scratch/$name.err"
		fail=$((fail + 1))
		return 1
	fi
	pass=$((pass + 1))
}

has() { grep -q -- "$2" "$scratch/$1"; }

# The schedule at two instants of 12/11/2023 (local time of the campaign).
run pano 0 --manifest "$campaign" --at 20231112T000005 --size 480x270 \
	--out "$scratch/pano.png" &&
	check "pano at 00:00:05" has pano.out "pano-vung-mo (entry e-12-11)" &&
	check "pano size" [ "$(png_size "$scratch/pano.png")" = 480x270 ]
run slogan 0 --manifest "$campaign" --at 2023-11-12T00:00:25+07:00 \
	--out "$scratch/slogan.png" &&
	check "slogan at 00:00:25" has slogan.out "slogan-vung-mo" &&
	check "slogan default size" \
		[ "$(png_size "$scratch/slogan.png")" = 1920x1080 ]
# Targets: 04/11 is for Lạng Sơn nodes only.
run ls 0 --manifest "$campaign" --at 2023-11-04T10:00:00+07:00 \
	--tags lang-son --size 320x180 --out "$scratch/ls.png" &&
	check "tagged node sees 04/11" has ls.out "e-04-11"
run other 0 --manifest "$campaign" --at 2023-11-04T10:00:00+07:00 \
	--node pi-1 --site cua-lo --size 320x180 --out "$scratch/other.png" &&
	check "other node sees the month" has other.out "e-thang-11"
# One item, portrait; an alert; the built-in screen.
run item 0 --manifest "$campaign" --item slogan-loi-bac-1968 \
	--size 1080x1920 --out "$scratch/item.png" &&
	check "portrait size" [ "$(png_size "$scratch/item.png")" = 1080x1920 ]
run alert 0 --alert "Sơ tán ngay" --level evacuate --size 480x270 \
	--out "$scratch/alert.png" &&
	check "alert" has alert.out "alert (evacuate)"
cat >"$scratch/empty.json" <<'EOF'
{"format": "minecast-campaign/1", "name": "trống",
 "content": [{"id": "s", "type": "slogan", "text": "x",
              "style": {"fg": "#FFFFFF", "bg": "#000000"}}],
 "playlists": [{"id": "p", "items": [{"content": "s"}]}],
 "entries": [{"id": "e", "playlist": "p", "channel": "screen",
              "dtstart": "20300101T000000", "duration": "PT1H"}]}
EOF
run idle 0 --manifest "$scratch/empty.json" --at 2023-11-12T00:00:00Z \
	--node pi-1 --size 480x270 --out "$scratch/idle.png" &&
	check "built-in screen" has idle.out "built-in screen (idle)"

# A manifest: files by sha256 in a player cache.
mkdir -p "$scratch/cache/blobs"
sha=$(sha256sum "$assets/pano-vung-mo.png" | cut -c1-64)
size=$(stat -c %s "$assets/pano-vung-mo.png")
cp "$assets/pano-vung-mo.png" "$scratch/cache/blobs/$sha"
cat >"$scratch/manifest.json" <<EOF
{"format": "minecast-manifest/1", "name": "m", "node": "pi-cua-lo-01",
 "timezone": "Asia/Ho_Chi_Minh",
 "content": [
  {"id": "pano", "type": "image", "fit": "contain", "sha256": "$sha",
   "size": $size, "url": "/v1/content/$sha", "mime": "image/png"},
  {"id": "s", "type": "slogan", "text": "Kỷ luật và Đồng tâm",
   "style": {"fg": "#FFD700", "bg": "#263238", "bg_image": "pano",
             "effect": "outline"}}],
 "playlists": [{"id": "p", "items": [{"content": "pano"},
                                      {"content": "s"}]}],
 "entries": [{"id": "e", "playlist": "p", "channel": "screen"}]}
EOF
run manifest 0 --manifest "$scratch/manifest.json" --item pano \
	--cache "$scratch/cache" --size 480x270 --out "$scratch/m.png" &&
	check "manifest image" has manifest.out "pano"
run bg 0 --manifest "$scratch/manifest.json" --item s \
	--cache "$scratch/cache" --size 480x270 --out "$scratch/bg.png"
run nocache 1 --manifest "$scratch/manifest.json" --item pano \
	--size 480x270 --out "$scratch/x.png" &&
	check "no --cache named" has nocache.err "\-\-cache"

# A corrupt image fails, naming the file; nothing is written.
printf '\x89PNG\r\n\x1a\nnot really' >"$scratch/cache/blobs/$sha"
run corrupt 1 --manifest "$scratch/manifest.json" --item pano \
	--cache "$scratch/cache" --size 480x270 --out "$scratch/c.png" &&
	check "corrupt image named" has corrupt.err "blobs/$sha" &&
	check "no output for a corrupt image" [ ! -e "$scratch/c.png" ]
run nofont 1 --alert x --font "$scratch/none.ttf" --out "$scratch/f.png" &&
	check "missing font named" has nofont.err "none.ttf"

# Usage errors name the option.
run u1 2 --manifest "$campaign" &&
	check "--out required" has u1.err "\-\-out"
run u2 2 --manifest "$campaign" --size 100 --out "$scratch/x.png" &&
	check "--size named" has u2.err "\-\-size"
run u3 2 --alert x --level loud --out "$scratch/x.png" &&
	check "--level named" has u3.err "\-\-level"
run u4 2 --manifest "$campaign" --frobnicate --out "$scratch/x.png" &&
	check "unknown option named" has u4.err "\-\-frobnicate"
run u5 2 --manifest "$campaign" --at tomorrow --out "$scratch/x.png" &&
	check "--at named" has u5.err "\-\-at"
run help 0 --help && check "help" has help.out "--manifest FILE"

check_summary render
