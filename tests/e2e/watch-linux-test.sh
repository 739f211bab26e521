#!/usr/bin/env bash
# tests/e2e/watch-linux-test.sh - e2e-watch (docs/watch.md) on QEMU SVM: the
# hypervisor with smp = on on 2 CPUs chain-loads Linux; in the guest,
# tests/e2e/linux/ahv-watch-check.c watches its own .text and a data buffer:
# a clean interval reports unmodified, a write through /proc/self/mem is
# reported with its page's frame, a write from the other CPU with that CPU's
# APIC id, and a remap of a watched GVA as REMAPPED; every watch ends with an
# ENDED report. On the host: the hypervisor logged no panic and no
# unexpected nested fault. Needs AHV_BUILD.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "watch-linux-test: missing $loader (build first)"; exit 1; }
guest=$build/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build"
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
# AHV_E2E_KEEP=1 keeps the logs (the folder is named at the end).
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "watch-linux-test: logs kept in $work/logs"; else rm -rf "$work"; fi' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "console=ttyS0 loglevel=4 panic=-1 ahv=watch" --key "$guest/guest.pub.pem" \
  --set 'dev_key = allow' --set 'smp = on' >/dev/null
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --smp 2 --timeout 500 --log "$work/logs" \
  --pass 'AHV-WATCH: clean interval unmodified ok' \
  --pass 'AHV-WATCH: /proc/self/mem write reported with the right page ok' \
  --pass 'AHV-WATCH: write from cpu 1 reported ok' --pass 'AHV-WATCH: remap of the GVA reported ok' \
  --pass 'AHV-WATCH: PASS' \
  --fail 'AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-WATCH: FAIL|Kernel panic'
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" | grep -E '^AHV-WATCH: ' | sed 's/^/watch-linux-test: /'
# A watched frame's write is the watch's, never an unexpected nested fault.
if clean "$work/logs/hv.log" | grep -E 'unexpected nested page fault' | head -n 5 | grep -q .; then
  clean "$work/logs/hv.log" | grep -E 'unexpected nested page fault' | head -n 5 | sed 's/^/watch-linux-test: hv: /'
  echo "watch-linux-test: FAIL the hypervisor logged unexpected nested faults"; exit 1
fi
echo "watch-linux-test: PASS"
