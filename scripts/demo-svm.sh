#!/usr/bin/env bash
# scripts/demo-svm.sh - the end-to-end demo on a machine without AMD-V/VT-x:
# QEMU TCG emulates an AMD CPU with SVM + NPT; attest-hv boots from an ESP,
# starts Debian's Linux as its guest; a process in the guest (built on
# libattest-hv) takes a challenge from the verifier over QEMU user
# networking, attests its own .text and a data buffer, submits request +
# report, checks the token against the verifier's JWKS and prints it. The
# verifier's policy holds `attest-hv refvals` of that program's .text, so
# the token says the measured code matched.
#
#   scripts/demo-svm.sh [BUILD_DIR]      (default: build; built if needed)
#
# The hypervisor makes a development signing key at every boot and announces
# it on its log port (COM2); the demo enrolls it in the verifier as soon as
# it appears (a real deployment enrolls a TPM-sealed key once).
#
# The machine has an emulated Intel IOMMU the hypervisor takes (DMA
# protection on, docs/iommu.md) unless AHV_QEMU_IOMMU is set empty; then the
# hypervisor runs with dma_protection = off, its reports carry
# DMA_UNPROTECTED, and the demo's policy has to allow that.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}
step() { echo "demo: $*"; }
export AHV_QEMU_IOMMU=${AHV_QEMU_IOMMU-intel}
if [ -n "$AHV_QEMU_IOMMU" ]; then
  dmaset='dma_protection = on' dmapol=False
else
  dmaset='dma_protection = off' dmapol=True
fi
if [ "${AHV_DEMO_NO_BUILD:-0}" != 1 ]; then
  step "building in $build"
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$top" -B "$build" -DAHV_FUZZ=OFF >/dev/null
  cmake --build "$build" -j"$(nproc)" >/dev/null
fi
loader=$build/boot/attest-hv-loader.efi vcli=$build/verifier/attest-verifier vd=$build/verifier/attest-verifierd
ahv=$build/guest-lib/attest-hv
for f in "$loader" "$vcli" "$vd" "$ahv"; do [ -x "$f" ] || [ -f "$f" ] || { echo "demo: $f missing" >&2; exit 1; }; done

step "building the Linux guest (Debian kernel, busybox, guest program on libattest-hv)"
guest=$build/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build" 2>&1 | sed 's/^/demo:   /'

work=$(mktemp -d /tmp/ahv-demo.XXXXXX)
vpid='' qpid=''
cleanup() { [ -z "$qpid" ] || kill "$qpid" 2>/dev/null || true; [ -z "$vpid" ] || kill "$vpid" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

step "starting the verifier (sqlite storage, dev-key policy for the demo)"
"$vcli" token-keygen "$work/token-key.pem" >/dev/null
# Reference value: refvals of the guest program's .text, required.
"$ahv" refvals --only .text "$guest/initramfs/bin/ahv-guest-attest" | python3 -c '
import json, sys
r = json.load(sys.stdin)["regions"]
for e in r: e["required"] = True
print(json.dumps({"version": 1, "allow_dev_key": True, "allow_unnamed_regions": True,
                  "allow_dma_unprotected": '"$dmapol"', "regions": r}))
' > "$work/policy.json"
step "policy: .text of the guest program = $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["regions"][0]["digests"][0][:23])' "$work/policy.json")... (attest-hv refvals)"
cat > "$work/verifier.json" <<JSON
{"listen": "127.0.0.1", "port": 0, "storage": "sqlite:$work/v.db", "policy": "$work/policy.json",
 "token_key": "$work/token-key.pem"}
JSON
"$vcli" init --config "$work/verifier.json" >/dev/null
"$vcli" enroll --config "$work/verifier.json" --name demo-guest guest "$guest/guest.pub.pem" >/dev/null
"$vd" --config "$work/verifier.json" --port-file "$work/port" >"$work/verifierd.log" 2>&1 &
vpid=$!
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
step "verifier listening on 127.0.0.1:$port (the guest reaches it as 10.0.2.2:$port)"

"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "console=ttyS0 loglevel=3 panic=-1 no_timer_check ahv=demo ahv_verifier=10.0.2.2:$port" \
  --key "$guest/guest.pub.pem" --set 'dev_key = allow' --set "$dmaset" >/dev/null
step "booting QEMU (TCG, -cpu EPYC,+svm,+npt, OVMF${AHV_QEMU_IOMMU:+, $AHV_QEMU_IOMMU IOMMU}; $dmaset): loader -> hypervisor -> Linux"
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --net --timeout 300 --log "$work/logs" --quiet \
  --pass 'AHV-LINUX-TOKEN [A-Za-z0-9_-]+\.' >"$work/run.out" 2>&1 &
qpid=$!
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" 2>/dev/null; }
enrolled=0 shown=0
while kill -0 "$qpid" 2>/dev/null; do
  if [ "$enrolled" = 0 ] && clean "$work/logs/hv.log" | grep -q '^AHV-HV-KEY-ID'; then
    clean "$work/logs/hv.log" | awk '$1=="AHV-HV-KEY-SPKI"{printf "%s", $2}' | python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.stdin.read().strip()))' > "$work/hv.der"
    openssl pkey -pubin -inform DER -in "$work/hv.der" -out "$work/hv.pem" 2>/dev/null
    # The demo has no TPM (development key): nothing roots this key, so it is
    # enrolled as such (docs/operator-verifier.md "Enrollment").
    "$vcli" enroll --config "$work/verifier.json" --name demo-hv --insecure-no-evidence hv "$work/hv.pem" >/dev/null
    kill -HUP "$vpid"
    step "hypervisor up; its key $(clean "$work/logs/hv.log" | awk '$1=="AHV-HV-KEY-ID"{print substr($2,1,16)}')... enrolled in the verifier"
    enrolled=1
  fi
  n=$(clean "$work/logs/console.log" | grep -c '^AHV-\(BOOT\|LINUX\):' || true)
  if [ "$n" -gt "$shown" ]; then
    clean "$work/logs/console.log" | grep '^AHV-\(BOOT\|LINUX\):' | tail -n +"$((shown + 1))" | head -n "$((n - shown))" | sed 's/^/demo:   /'
    shown=$n
  fi
  sleep 0.3
done
wait "$qpid" && rc=0 || rc=$?
qpid=''
if [ "$rc" != 0 ]; then cat "$work/run.out"; echo "demo: FAILED"; exit 1; fi
token=$(clean "$work/logs/console.log" | awk '$1=="AHV-LINUX-TOKEN"{print $2}' | tail -n 1)
step "accepted; the verifier's token (ES256 JWT, keys at http://127.0.0.1:$port/v1/jwks):"
echo "$token"
claims=$(python3 -c 'import base64, sys; p = sys.argv[1].split(".")[1]; print(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode())' "$token")
echo "demo: token claims: $claims"
# The token says what the hypervisor's report said about DMA protection.
want=true; [ -n "$AHV_QEMU_IOMMU" ] || want=false
grep -q "\"dma_protected\": *$want" <<<"$claims" || { echo "demo: FAILED the token does not say dma_protected $want"; exit 1; }
echo "demo: PASS"
