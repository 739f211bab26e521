#!/usr/bin/env bash
# tests/e2e/apstart-test.sh (svm | bochs MODEL) - e2e-smp: with smp = on and
# 2 CPUs, a UEFI payload exits boot services and starts the AP the way an
# OS does (INIT, SIPI, SIPI through the xAPIC ICR) into a real-mode
# trampoline; the AP must run it under the hypervisor (its CPUID 0x40000000
# reads 'AttestHVisor'). svm: QEMU TCG with AMD SVM; bochs: Bochs with Intel
# model MODEL (VT-x), where the hypervisor's INIT/SIPI emulation also
# steps around Bochs 2.7's SIPI VM exit (docs/vmx.md). Needs AHV_BUILD.
set -euo pipefail
mode=${1:-svm} model=${2:-corei7_skylake_x}
case "$mode" in svm|bochs) ;; *) echo "apstart-test: unknown mode '$mode' (svm | bochs MODEL)" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
app=$build/tests/e2e/apstart/ahv_e2e_apstart.efi
for f in "$loader" "$app"; do [ -f "$f" ] || { echo "apstart-test: missing $f (build first)"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "apstart-test: logs kept in $work/logs"; else rm -rf "$work"; fi' EXIT
openssl ecparam -name prime256v1 -genkey -noout -out "$work/guest.key" 2>/dev/null
openssl ec -in "$work/guest.key" -pubout -out "$work/guest.pub.pem" 2>/dev/null
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$app" \
  --next-path '\attest-hv\apstart.efi' --key "$work/guest.pub.pem" --set 'dev_key = allow' --set 'smp = on' >/dev/null
mkdir -p "$work/logs"
# Any failing step says where, with the logs' tails (a silent exit under
# set -e tells nothing).
trap 'rc=$?; echo "apstart-test: FAIL at line $LINENO (status $rc)"; for f in "$work"/logs/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 15 "$f"; }; done' ERR
pass='AHV-APSTART: PASS' fail='AHV-APSTART: FAIL|AHV-PANIC|AHV-GUEST-SHUTDOWN|AHV-BOOT: ERROR'
if [ "$mode" = bochs ]; then
  "$top/scripts/bochs-efi-run.sh" --esp "$work/esp" --cpu "$model" --smp 2 --timeout 400 \
    --log "$work/logs/console.log" --hv-log "$work/logs/hv.log" --pass "$pass" --stop-on-pass --fail "$fail"
else
  "$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --smp 2 --timeout 300 --log "$work/logs" --pass "$pass" --fail "$fail"
fi
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" > "$work/console.txt"
clean "$work/logs/hv.log" > "$work/hv.txt"
grep -aE '^AHV-(APSTART|BOOT: smp)' "$work/console.txt" | sed 's/^/apstart-test: /' || true
grep -aE '^AHV-HV-SMP: (cpu [0-9]+ sends|cpu [0-9]+ starts)' "$work/hv.txt" | tail -n 6 | sed 's/^/apstart-test: /' || true
# The hypervisor emulated the payload's SIPI (its own log, not the guest's word).
grep -aq 'sends SIPI' "$work/hv.txt" || { echo "apstart-test: FAIL the hypervisor saw no SIPI"; exit 1; }
grep -aq 'AHV-APSTART: PASS' "$work/console.txt" || { echo "apstart-test: FAIL no pass marker"; exit 1; }
