#!/usr/bin/env bash
# 20-sign-cli: minecastctl keygen, sign and verify driven as an operator
# would, and every way a signed pointer or alert is refused.
# Arguments: BUILD_DIR SOURCE_DIR SCRATCH_DIR (tests/integration/CMakeLists.txt).
set -euo pipefail

build=$1
work=$3
ctl="$build/controller/minecastctl"
[[ -x $ctl ]] || { echo "FAIL: $ctl not built" >&2; exit 1; }

rm -rf "$work"
mkdir -p "$work"
cd "$work"

# 2023-11-12T00:00:00Z; the pointer below is valid for a week from here.
now=1699747200000
checks=0

die() {
	echo "FAIL: $*" >&2
	for f in out err; do
		[[ -f $f ]] && { echo "--- $f:" >&2; cat "$f" >&2; }
	done
	exit 1
}

# run WANT_RC CMD...: run CMD with stdout in ./out, stderr in ./err, and
# fail unless it exits with WANT_RC.
run() {
	local want=$1 rc=0
	shift
	"$@" >out 2>err || rc=$?
	[[ $rc == "$want" ]] || die "exit $rc, wanted $want: $*"
	checks=$((checks + 1))
}

# has FILE TEXT: fail unless FILE contains TEXT (fixed string).
has() {
	grep -qF -- "$2" "$1" || die "$1 lacks '$2'"
}

# refused PATTERN CMD...: CMD must exit 1 and say why on stderr in the
# "minecastctl: verify: <reason>" form, with nothing on stdout.
refused() {
	local pattern=$1
	shift
	run 1 "$@"
	has err "minecastctl: "
	has err "$pattern"
	[[ ! -s out ]] || die "stdout not empty on refusal: $*"
}

# ---- keygen ----
run 0 "$ctl" keygen --help
has out "--out PREFIX"
has out "--force"
run 2 "$ctl" keygen
has err "minecastctl: keygen: --out PREFIX is required"
run 2 "$ctl" keygen --out x --bogus
has err "unknown option '--bogus'"

run 0 "$ctl" keygen --out ctl
kid_old=$(cat out)
[[ $kid_old =~ ^[0-9a-f]{16}$ ]] || die "kid '$kid_old' is not 16 hex digits"
[[ $(stat -c %a ctl.key) == 600 ]] || die "ctl.key mode $(stat -c %a ctl.key), wanted 600"
has ctl.pub "minecast-ed25519-public $kid_old "
has ctl.key "minecast-ed25519-secret $kid_old "

# No silent overwrite of a signing key.
cp ctl.key ctl.key.orig
run 1 "$ctl" keygen --out ctl
has err "already exists"
cmp -s ctl.key ctl.key.orig || die "keygen overwrote ctl.key without --force"
run 0 "$ctl" keygen --out ctl --force
kid=$(cat out)
[[ $kid != "$kid_old" ]] || die "--force did not make a new key"
has ctl.pub "$kid"

# ---- sign ----
cat >pointer.json <<'EOF'
{"v":1,"node":"pi-cua-lo-01","version":7,"manifest_sha256":"3f2a0000000000000000000000000000000000000000000000000000000000aa","manifest_size":5120,"manifest_url":"/v1/manifests/3f2a0000000000000000000000000000000000000000000000000000000000aa","issued_ms":1699743600000,"expires_ms":1700352000000}
EOF
run 0 "$ctl" sign --help
has out "--purpose"
run 2 "$ctl" sign --purpose pointer pointer.json
has err "--key FILE.key is required"
run 2 "$ctl" sign --key ctl.key --purpose manifest pointer.json
has err "not pointer, alert or command"

run 0 "$ctl" sign --key ctl.key --purpose pointer --out p.env pointer.json
has p.env '"format":"minecast-signed/1"'
has p.env "\"kid\":\"$kid\""
has p.env '"purpose":"pointer"'

# From stdin to stdout gives the same envelope (ed25519 is deterministic).
run 0 "$ctl" sign --key ctl.key --purpose pointer - <pointer.json
cmp -s out p.env || die "stdin signing differs from file signing"

# Nobody signs garbage: not JSON, or JSON that is not a pointer.
echo 'not json' >garbage.json
refused "is not a valid pointer" "$ctl" sign --key ctl.key --purpose pointer garbage.json
echo '{"hello":"world"}' >hello.json
refused "is not a valid pointer" "$ctl" sign --key ctl.key --purpose pointer hello.json
# A pointer is not an alert.
refused "is not a valid alert" "$ctl" sign --key ctl.key --purpose alert pointer.json

# A readable secret key is refused.
cp ctl.key loose.key
chmod 644 loose.key
refused "chmod 600" "$ctl" sign --key loose.key --purpose pointer pointer.json

# ---- verify: accepted ----
vargs=(--pub ctl.pub --node pi-cua-lo-01 --applied-version 6 --now "$now")
run 0 "$ctl" verify --help
has out "--applied-version"
run 0 "$ctl" verify "${vargs[@]}" p.env
[[ $(head -n1 out) == "ok: pointer signed by $kid" ]] || die "first line '$(head -n1 out)'"
[[ $(sed -n 2p out) == "$(cat pointer.json)" ]] || die "body not echoed exactly"
run 0 "$ctl" verify "${vargs[@]}" --purpose pointer - <p.env
has out "ok: pointer signed by $kid"

# ---- verify: refused ----
# Tampered body: the version bumped by someone without the key.
sed 's/\\"version\\":7/\\"version\\":8/' p.env >tampered.env
cmp -s p.env tampered.env && die "tampering sed did not change the envelope"
refused "minecastctl: verify: sig: signature by key $kid does not verify" \
	"$ctl" verify "${vargs[@]}" tampered.env
# Relabelled purpose.
sed 's/"purpose":"pointer"/"purpose":"alert"/' p.env >relabelled.env
refused "does not verify" "$ctl" verify --pub ctl.pub --now "$now" relabelled.env
# Wrong purpose asked for.
refused "purpose: signed for pointer, expected alert" \
	"$ctl" verify --pub ctl.pub --purpose alert --now "$now" p.env
# Another node's pointer.
refused "node: pointer is for 'pi-cua-lo-01', this node is 'pi-mong-duong-02'" \
	"$ctl" verify --pub ctl.pub --node pi-mong-duong-02 --now "$now" p.env
# Replay of the applied version, and a rollback to an older one.
refused "version: 7 is not newer than the applied version 7" \
	"$ctl" verify --pub ctl.pub --node pi-cua-lo-01 --applied-version 7 --now "$now" p.env
refused "not newer than the applied version 12" \
	"$ctl" verify --pub ctl.pub --node pi-cua-lo-01 --applied-version 12 --now "$now" p.env
# Expired (expires_ms is exclusive).
refused "expires_ms: pointer expired" \
	"$ctl" verify "${vargs[@]/$now/1700352000000}" p.env
# Signed by a key the player does not trust.
run 0 "$ctl" keygen --out other
kid_other=$(cat out)
refused "kid: $kid is not a trusted key" \
	"$ctl" verify --pub other.pub --now "$now" p.env
# Trusting both (rotation window) accepts it.
run 0 "$ctl" verify --pub other.pub --pub ctl.pub --now "$now" p.env
has out "ok: pointer signed by $kid"
# A key line whose kid does not belong to its key is refused.
printf 'minecast-ed25519-public %s %s\n' "$kid_old" \
	"$(awk '/^minecast/ {print $3}' ctl.pub)" >mismatch.pub
refused "does not match the key" "$ctl" verify --pub mismatch.pub --now "$now" p.env
# A secret key given as trusted keys, a missing file.
refused "SECRET" "$ctl" verify --pub ctl.key --now "$now" p.env
refused "nope.pub" "$ctl" verify --pub nope.pub --now "$now" p.env
# Malformed and oversize envelopes.
echo '{"format":"minecast-signed/1"' >broken.env
refused "envelope: not valid JSON" "$ctl" verify --pub ctl.pub broken.env
sed 's/"sig":"[^"]*"/"sig":"not*base64"/' p.env >badsig.env
refused "sig: not valid base64" "$ctl" verify --pub ctl.pub badsig.env
sed 's/"format":"minecast-signed\/1"/"format":"minecast-signed\/9"/' p.env >future.env
refused "format: 'minecast-signed/9' is not supported" "$ctl" verify --pub ctl.pub future.env
head -c 20000 /dev/zero | tr '\0' ' ' >huge.env
refused "larger than the limit" "$ctl" verify --pub ctl.pub huge.env

# ---- alerts ----
cat >alert.json <<'EOF'
{"v":1,"id":"sap-lo-01","seq":3,"clear":false,"level":"evacuate","text":"Sơ tán ngay khỏi khu vực lò 3","repeat":3,"start_at_ms":1699747200500,"issued_ms":1699747200000,"expires_ms":1699750800000,"targets":{"sites":["cua-lo"],"tags":[],"nodes":[]}}
EOF
run 0 "$ctl" sign --key ctl.key --purpose alert --out a.env alert.json
run 0 "$ctl" verify --pub ctl.pub --site cua-lo --node pi-cua-lo-01 --last-seq 2 --now "$now" a.env
has out "ok: alert signed by $kid"
has out "Sơ tán ngay"
refused "targets: alert 'sap-lo-01' is not for this node" \
	"$ctl" verify --pub ctl.pub --site vang-danh --now "$now" a.env
refused "seq: 3 is not newer than 3" \
	"$ctl" verify --pub ctl.pub --last-seq 3 --now "$now" a.env
refused "expires_ms: alert 'sap-lo-01' expired" \
	"$ctl" verify --pub ctl.pub --now 1699750800000 a.env
refused "purpose: signed for alert, expected pointer" \
	"$ctl" verify --pub ctl.pub --purpose pointer --now "$now" a.env

# ---- commands ----
cat >command.json <<'EOF'
{"v":1,"id":"cmd-42","node":"pi-cua-lo-01","action":"volume","volume":60,"issued_ms":1699747200000,"expires_ms":1699747500000}
EOF
run 0 "$ctl" sign --key ctl.key --purpose command --out c.env command.json
run 0 "$ctl" verify --pub ctl.pub --purpose command --node pi-cua-lo-01 --now "$now" c.env
has out "ok: command signed by $kid"
refused "node: command is for 'pi-cua-lo-01', this node is 'pi-cua-lo-02'" \
	"$ctl" verify --pub ctl.pub --node pi-cua-lo-02 --now "$now" c.env
# A late reboot or volume change is refused, not run.
refused "expires_ms: command expired" \
	"$ctl" verify --pub ctl.pub --node pi-cua-lo-01 --now 1699747500000 c.env

# ---- usage errors ----
run 2 "$ctl" verify p.env
has err "--pub FILE.pub is required"
run 2 "$ctl" verify --pub ctl.pub --applied-version seven p.env
has err "--applied-version: 'seven' is not an integer"
run 2 "$ctl" verify --pub ctl.pub p.env extra
has err "unexpected argument 'extra'"
run 2 "$ctl" verify --pub
has err "needs a value"

echo "20-sign-cli: $checks checks passed (kid $kid, other $kid_other)"
