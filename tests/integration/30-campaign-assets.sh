#!/usr/bin/env bash
# The sample campaign in the build tree is importable: the copied campaign
# equals the source one, every image and audio file it references was
# generated, images are 1920x1080 PNG, audio lasts what the campaign
# declares (within 50 ms), the attention tone is there for alerts, a second
# run of the generator changes nothing, and a missing tool is named.
#
#   bash 30-campaign-assets.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR
set -euo pipefail

build=$1
source=$2
scratch=$3
mkdir -p "$scratch"

fail() { printf '30-campaign-assets: FAIL: %s\n' "$*" >&2; exit 1; }
ok() { printf '30-campaign-assets: ok: %s\n' "$*"; }

for tool in jq identify soxi cmp; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "$tool not found (scripts/deps installs what the tests need)"
done

src_campaign=$source/playlists/november-2023.json
campaign=$build/playlists/november-2023.json
assets=$build/playlists/assets

[ -f "$campaign" ] || fail "$campaign missing: the campaign-assets target did not run"
cmp -s "$src_campaign" "$campaign" ||
  fail "$campaign differs from $src_campaign (rebuild to copy it)"
ok "copied campaign equals the source"

rows=$(jq -r '.content[] | select(.type == "image" or .type == "audio") |
  [.id, .type, .src, (.duration_ms // 0 | tostring)] | @tsv' "$campaign") ||
  fail "jq cannot read $campaign"
[ -n "$rows" ] || fail "$campaign references no image or audio"

n_img=0
n_aud=0
while IFS=$'\t' read -r id type src ms; do
  file=$build/playlists/$src
  [ -s "$file" ] || fail "content $id: $file missing or empty"
  case "$type" in
  image)
    got=$(identify -format '%m %wx%h\n' "$file" 2>&1 | head -n1) ||
      fail "content $id: identify cannot read $file: $got"
    [ "$got" = "PNG 1920x1080" ] ||
      fail "content $id: $file is \"$got\", want \"PNG 1920x1080\""
    n_img=$((n_img + 1))
    ;;
  audio)
    secs=$(soxi -D "$file" 2>&1) ||
      fail "content $id: soxi cannot read $file: $secs"
    got_ms=$(awk -v s="$secs" 'BEGIN { printf "%d", s * 1000 + 0.5 }')
    diff=$((got_ms - ms))
    [ "${diff#-}" -le 50 ] ||
      fail "content $id: $file lasts $got_ms ms, campaign declares $ms ms"
    n_aud=$((n_aud + 1))
    ;;
  esac
done <<<"$rows"
ok "$n_img images are 1920x1080 PNG, $n_aud audio files last their duration_ms"

tone=$assets/tone-attention.ogg
[ -s "$tone" ] || fail "$tone missing: alerts need the attention tone"
secs=$(soxi -D "$tone" 2>&1) || fail "soxi cannot read $tone: $secs"
awk -v s="$secs" 'BEGIN { exit !(s > 0.2 && s < 5) }' ||
  fail "$tone lasts $secs s, want a short tone"
ok "attention tone present ($secs s)"

# The build runs the generator every time; on an up-to-date tree it must
# make nothing.
out=$(bash "$source/playlists/gen-assets.sh" "$src_campaign" "$assets" 2>&1) ||
  fail "generator failed on an up-to-date tree: $out"
case "$out" in
*" 0 made,"*) ;;
*) fail "generator remade outputs on an up-to-date tree: $out" ;;
esac
ok "second run makes nothing"

# A missing tool stops the generator with its name, and writes nothing.
if out=$(env PATH=/nonexistent "$BASH" "$source/playlists/gen-assets.sh" \
  "$campaign" "$scratch/assets" 2>&1); then
  fail "generator succeeded with an empty PATH"
fi
case "$out" in
*"jq not found"*) ;;
*) fail "generator's message does not name the missing tool: $out" ;;
esac
[ ! -e "$scratch/assets" ] || fail "generator wrote $scratch/assets with no tools"
ok "missing tool is named: $out"
