#!/usr/bin/env bash
# Generate the binary assets of a sample campaign: pano images, spoken
# shift-change bulletins and the attention tone.  Nothing binary is kept in
# git; the build runs this script (playlists/CMakeLists.txt) and the
# integration test 30-campaign-assets.sh checks what it made.
#
#   gen-assets.sh CAMPAIGN.json OUTDIR
#
# Every image and audio content of the campaign must have its `src` under
# "assets/"; its file is written to OUTDIR/<basename of src>.
#   - audio: the content's `text` spoken by espeak-ng (Vietnamese voice),
#     converted by sox to Ogg Vorbis, mono 48 kHz, peak -3 dBFS, with 0.3 s
#     of lead-in, then padded with silence or cut to exactly the content's
#     `duration_ms`, so the duration the campaign declares is the true one
#     whatever espeak's speed.  The content "tone-attention" is a synthesised
#     four-note chime instead of speech.
#   - images: 1920x1080 PNG drawn by ImageMagick from the table below
#     (colours, big date line, title, subtitle) in Noto Sans.
#
# An output made from the same inputs by the same script is left alone (a
# hash of them is kept in OUTDIR/.keys/); new ones are written to a
# temporary name beside the final one and renamed into place.  A missing
# tool stops the script with a message that names it.
set -euo pipefail

prog=gen-assets
die() { printf '%s: %s\n' "$prog" "$*" >&2; exit 1; }
note() { printf '%s: %s\n' "$prog" "$*"; }

[ $# -eq 2 ] || { echo "usage: $0 CAMPAIGN.json OUTDIR" >&2; exit 2; }
campaign=$1
outdir=$2
[ -r "$campaign" ] || die "cannot read campaign file $campaign"
self=${BASH_SOURCE[0]}

FONT_BOLD=/usr/share/fonts/truetype/noto/NotoSans-Bold.ttf
FONT_REG=/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf
RATE=48000

# --- tools ---------------------------------------------------------------

need() {
  command -v "$1" >/dev/null 2>&1 ||
    die "$1 not found: install the Debian package $2 (scripts/deps installs it)"
}
need jq jq
need espeak-ng espeak-ng
need sox sox
need soxi sox

# Some machines carry a stand-in `convert` that only converts PNG to PPM;
# take the first candidate that reports itself as real ImageMagick.
IM=
for c in magick convert-im6.q16 convert-im6 /usr/bin/convert convert; do
  if command -v "$c" >/dev/null 2>&1 &&
    "$c" -version 2>/dev/null | head -n1 | grep -q '^Version: ImageMagick'; then
    IM=$c
    break
  fi
done
[ -n "$IM" ] || die "ImageMagick (convert) not found: install the Debian package imagemagick"
sox -h 2>/dev/null | grep -q 'AUDIO FILE FORMATS:.* vorbis' ||
  die "sox cannot write Ogg Vorbis: install the Debian package libsox-fmt-base"
espeak-ng --voices=vi 2>/dev/null | grep -q ' vi ' ||
  die "espeak-ng has no Vietnamese voice (vi): install the Debian package espeak-ng-data"
for f in "$FONT_BOLD" "$FONT_REG"; do
  [ -r "$f" ] || die "font $f not found: install the Debian package fonts-noto-core"
done

mkdir -p "$outdir"
tmpdir=$(mktemp -d "${TMPDIR:-/tmp}/gen-assets.XXXXXX")
# Work files go to tmpdir; a finished output is first written beside its
# final name (same file system, so the rename is atomic) as $pending.
pending=
trap 'rm -rf "$tmpdir"; [ -z "$pending" ] || rm -f "$pending"' EXIT

# commit TMP OUT: rename a finished output into place.
commit() {
  mv -f "$1" "$2"
  pending=
}

# An output is up to date when it exists and the key recorded beside it
# (in OUTDIR/.keys/) equals the hash of what it is made from: this script
# and the output's own inputs (its table line, or its text and duration).
# Unlike file times, this holds across checkouts and other campaign files.
self_sum=$(sha256sum <"$self" | cut -c1-64)
mkdir -p "$outdir/.keys"

# key_of ARGS...: print the key of an output made from ARGS.
key_of() {
  printf '%s\n' "$self_sum" "$@" | sha256sum | cut -c1-64
}

# up_to_date OUT KEY: true when OUT exists and was made with KEY.
up_to_date() {
  local keyfile="$outdir/.keys/${1##*/}"
  [ -s "$1" ] && [ -f "$keyfile" ] && [ "$(cat "$keyfile")" = "$2" ]
}

# record_key OUT KEY: note what OUT was made from (after it is in place).
record_key() {
  local keyfile="$outdir/.keys/${1##*/}"
  printf '%s\n' "$2" >"$keyfile.tmp$$"
  mv -f "$keyfile.tmp$$" "$keyfile"
}

# --- images --------------------------------------------------------------

# id | top colour | bottom colour | accent | date line | title | subtitle
# An empty date line and title give a plain background for slogans.  A
# title may force a line break with \n (ImageMagick reads the escape).
IMAGES=$(cat <<'EOF'
bg-than|#37474F|#0B1013|#FFD700|||
pano-thang-11|#263238|#050709|#FFD700|THÁNG 11/2023|Thi đua lao động sản xuất,\nphấn đấu hoàn thành kế hoạch\nquý IV và cả năm 2023|TKV – trụ cột đảm bảo an ninh năng lượng Quốc gia
pano-lang-son|#2E7D32|#0B2E0E|#FFD700|04/11|Ngày thành lập tỉnh Lạng Sơn|04/11/1831
pano-phap-luat|#1565C0|#06204A|#FFD700|09/11|Ngày Pháp luật nước Cộng hòa\nxã hội chủ nghĩa Việt Nam|Hưởng ứng Ngày Pháp luật Việt Nam
pano-vung-mo|#C62828|#4A0505|#FFD700|12/11|Ngày Truyền thống công nhân Vùng mỏ\n– Truyền thống ngành Than|Kỷ luật và Đồng tâm - Chúng ta nhất định thắng!
pano-bac-ho-1968|#A31515|#3A0000|#FFD700|15/11|Ngày Bác Hồ gặp mặt Đoàn đại biểu công nhân cán bộ ngành Than|Phủ Chủ tịch, 15/11/1968
pano-mat-tran|#D32F2F|#5C0A0A|#FFD700|18/11|Ngày thành lập\nMặt trận Tổ quốc Việt Nam|18/11/1930
pano-nha-giao|#00796B|#002B25|#FFE082|20/11|Ngày Nhà giáo Việt Nam|Tri ân thầy cô giáo
EOF
)

# image_spec ID: print the table line of ID, or nothing.
image_spec() {
  local line
  while IFS= read -r line; do
    [ "${line%%|*}" = "$1" ] && { printf '%s\n' "$line"; return 0; }
  done <<<"$IMAGES"
  return 0
}

# draw_image OUT SPEC: render one 1920x1080 PNG.
draw_image() {
  local out=$1 id c1 c2 accent top title sub tmp
  IFS='|' read -r id c1 c2 accent top title sub <<<"$2"
  tmp="$out.tmp$$"
  pending=$tmp
  local args=(
    -size 1920x1080 "gradient:$c1-$c2"
    # a soft light from the upper middle, so the flat gradient has depth
    # (a square centred on the top edge: it fades to nothing before
    # its own border, so no seam shows)
    \( -size 1600x1600 radial-gradient:'rgba(255,255,255,0.22)-rgba(255,255,255,0)'
       \) -geometry +160-800 -compose screen -composite -compose over
    # accent bands top and bottom
    -fill "$accent" -draw 'rectangle 0,0 1919,11'
    -draw 'rectangle 0,1068 1919,1079'
  )
  if [ -n "$top" ]; then
    # The title is set apart, wrapped to 1640 px at a size that
    # keeps it within three lines, and given a soft shadow.
    # (ImageMagick 6's own fitting, pointsize 0, fails on long
    # titles with "width or height exceeds limit".)
    local pt=104
    [ "${#title}" -le 40 ] || pt=92
    [ "${#title}" -le 60 ] || pt=80
    "$IM" -size 1640x -background none -fill white \
      -font "$FONT_BOLD" -pointsize "$pt" -gravity center \
      "caption:$title" \
      \( +clone -background black -shadow 70x6+4+4 \) \
      +swap -background none -layers merge +repage \
      "png32:$tmpdir/$id-title.png" ||
      die "ImageMagick failed to set the title of $id"
    args+=(
      -font "$FONT_BOLD" -gravity north
      -fill '#00000066' -pointsize 190 -annotate +6+86 "$top"
      -fill "$accent" -annotate +0+80 "$top"
      -draw 'rectangle 660,352 1260,358'
      "$tmpdir/$id-title.png"
      -gravity north -geometry +0+400 -compose over -composite
      -font "$FONT_REG" -pointsize 54 -fill "$accent" -gravity south
      -annotate +0+170 "$sub"
      -font "$FONT_BOLD" -pointsize 34 -fill '#FFFFFFCC'
      -annotate +0+60 'TẬP ĐOÀN CÔNG NGHIỆP THAN - KHOÁNG SẢN VIỆT NAM'
    )
  fi
  args+=(-gravity center -extent 1920x1080 -strip "png24:$tmp")
  "$IM" "${args[@]}" || die "ImageMagick failed to draw $id"
  commit "$tmp" "$out"
}

# --- audio ---------------------------------------------------------------

# fit_audio IN OUT DURATION_MS ID: convert IN to Ogg Vorbis of exactly the
# given length (0.3 s lead-in, silence after, cut if too long).
fit_audio() {
  local in=$1 out=$2 ms=$3 id=$4 natural_ms samples tmp
  samples=$((ms * RATE / 1000))
  natural_ms=$(soxi -D "$in" | awk '{ printf "%d", $1 * 1000 + 300 }')
  if [ "$natural_ms" -gt "$ms" ]; then
    printf '%s: warning: %s: %s %d ms, longer than its duration_ms %d;%s\n' \
      "$prog" "$id" "spoken text is" "$natural_ms" "$ms" \
      " cut to fit (raise duration_ms in the campaign)" >&2
  fi
  tmp="$out.tmp$$"
  pending=$tmp
  sox -V1 -q "$in" -C 4 -c 1 -t ogg "$tmp" \
    norm -3 rate -v "$RATE" pad 0.3 "$(( ms / 1000 + 1 ))" trim 0 "${samples}s" ||
    die "sox failed to encode $id"
  commit "$tmp" "$out"
}

speak() {
  local out=$1 ms=$2 id=$3 text=$4
  espeak-ng -v vi -s 150 -w "$tmpdir/$id.wav" "$text" ||
    die "espeak-ng failed to speak $id"
  fit_audio "$tmpdir/$id.wav" "$out" "$ms" "$id"
}

# Four rising chime notes (C5 E5 G5 C6), each struck and decaying.
tone() {
  local out=$1 ms=$2 id=$3 f i=0 parts=()
  for f in 523.25 659.25 783.99 1046.50; do
    sox -q -n -r "$RATE" -c 1 "$tmpdir/note$i.wav" \
      synth 0.3 sine "$f" fade l 0.005 0.3 0.22 vol 0.6 ||
      die "sox failed to synthesise the attention tone"
    parts+=("$tmpdir/note$i.wav")
    i=$((i + 1))
  done
  sox -q "${parts[@]}" "$tmpdir/chime.wav" || die "sox failed to join the tone"
  # The chime starts at once: no speech lead-in.
  local tmp="$out.tmp$$" samples=$((ms * RATE / 1000))
  pending=$tmp
  sox -V1 -q "$tmpdir/chime.wav" -C 4 -t ogg "$tmp" \
    pad 0 "$(( ms / 1000 + 1 ))" trim 0 "${samples}s" ||
    die "sox failed to encode the attention tone"
  commit "$tmp" "$out"
}

# --- walk the campaign ---------------------------------------------------

made=0
kept=0
tone_done=0
# One tab-separated line per asset: id, type, src, duration_ms, text.
# Newlines and tabs in the text are flattened for the line format; espeak
# reads them as pauses anyway.
rows=$(jq -r '.content[] | select(.type == "image" or .type == "audio") |
  [.id, .type, (.src // ""), (.duration_ms // 0 | tostring),
   ((.text // "") | gsub("[\t\n]"; " "))] | @tsv' "$campaign") ||
  die "cannot read $campaign with jq"

while IFS=$'\t' read -r id type src ms text; do
  case "$src" in
  assets/?*) ;;
  *) die "content $id: src \"$src\" is not under assets/" ;;
  esac
  out="$outdir/${src#assets/}"
  if [ "$type" = image ]; then
    spec=$(image_spec "$id")
    [ -n "$spec" ] ||
      die "content $id: no drawing for this image in $self (add it to IMAGES)"
    key=$(key_of image "$spec")
  elif [ "$id" = tone-attention ]; then
    key=$(key_of tone "$ms")
    tone_done=1
  else
    key=$(key_of speech "$ms" "$text")
  fi
  if up_to_date "$out" "$key"; then
    kept=$((kept + 1))
    continue
  fi
  if [ "$type" = image ]; then
    draw_image "$out" "$spec"
  else
    [ "$ms" -ge 1 ] || die "content $id: audio needs duration_ms"
    if [ "$id" = tone-attention ]; then
      tone "$out" "$ms" "$id"
    else
      [ -n "$text" ] || die "content $id: audio needs a text to speak"
      speak "$out" "$ms" "$id" "$text"
    fi
  fi
  record_key "$out" "$key"
  note "made $out"
  made=$((made + 1))
done <<<"$rows"

# Alerts will need the tone even when a campaign does not play it.
if [ "$tone_done" -eq 0 ]; then
  out="$outdir/tone-attention.ogg"
  key=$(key_of tone 1200)
  if up_to_date "$out" "$key"; then
    kept=$((kept + 1))
  else
    tone "$out" 1200 tone-attention
    record_key "$out" "$key"
    note "made $out"
    made=$((made + 1))
  fi
fi

note "$made made, $kept up to date in $outdir"
