#!/usr/bin/env bash
# tests/e2e/watch-linux-test.sh [svm | bochs MODEL] - e2e-watch
# (docs/watch.md): the hypervisor chain-loads Linux; in the guest,
# tests/e2e/linux/ahv-watch-check.c watches its own .text and a data buffer:
# a clean interval reports unmodified, a write through /proc/self/mem is
# reported with its page's frame, a write from the other CPU with that CPU's
# APIC id, and a remap of a watched GVA as REMAPPED; every watch ends with an
# ENDED report. svm (default): QEMU TCG with SVM + NPT, smp = on, 2 CPUs.
# bochs MODEL: Bochs VT-x + EPT, 1 CPU (the other-CPU case is skipped and
# says so). On the host: the hypervisor logged no panic and no unexpected
# nested fault. Needs AHV_BUILD.
set -euo pipefail
mode=${1:-svm} model=${2:-corei7_haswell_4770}
case "$mode" in svm|bochs) ;; *) echo "watch-linux-test: unknown mode '$mode' (svm | bochs MODEL)" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "watch-linux-test: missing $loader (build first)"; exit 1; }
guest=$build/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build"
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
# AHV_E2E_KEEP=1 keeps the logs (the folder is named at the end).
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "watch-linux-test: logs kept in $work/logs"; else rm -rf "$work"; fi' EXIT
args="console=ttyS0 loglevel=4 panic=-1 no_timer_check ahv=watch" set=(--set 'dev_key = allow')
# Bochs 2.7 computes P-256 wrong on OpenSSL's ADX/BMI2 path (docs/bochs.md).
[ "$mode" = bochs ] && args="$args ahv_watch=one-cpu ahv_openssl_ia32cap=:~0x80100"
[ "$mode" = svm ] && set+=(--set 'smp = on')
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "$args" --key "$guest/guest.pub.pem" "${set[@]}" >/dev/null
fail='AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-WATCH: FAIL|Kernel panic'
mkdir -p "$work/logs"
if [ "$mode" = bochs ]; then
  "$top/scripts/bochs-efi-run.sh" --esp "$work/esp" --cpu "$model" --mem 1024 --disk-mb 70 \
    --timeout "${AHV_BOCHS_TIMEOUT:-1100}" --log "$work/logs/console.log" --hv-log "$work/logs/hv.log" \
    --pass 'AHV-WATCH: PASS' --stop-on-pass --fail "$fail"
  cases=('other-cpu case skipped')
else
  "$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --smp 2 --timeout 500 --log "$work/logs" \
    --pass 'AHV-WATCH: PASS' --fail "$fail"
  cases=('write from cpu 1 reported ok')
fi
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" > "$work/console.txt"
grep -E '^AHV-WATCH: ' "$work/console.txt" | sed 's/^/watch-linux-test: /'
for m in 'clean interval unmodified ok' '/proc/self/mem write reported with the right page ok' \
         "${cases[@]}" 'remap of the GVA reported ok' 'PASS'; do
  grep -q "^AHV-WATCH: $m" "$work/console.txt" || { echo "watch-linux-test: FAIL no 'AHV-WATCH: $m'"; exit 1; }
done
# A watched frame's write is the watch's, never an unexpected nested fault.
if clean "$work/logs/hv.log" | grep -q 'unexpected nested page fault'; then
  clean "$work/logs/hv.log" | grep 'unexpected nested page fault' | head -n 5 | sed 's/^/watch-linux-test: hv: /'
  echo "watch-linux-test: FAIL the hypervisor logged unexpected nested faults"; exit 1
fi
echo "watch-linux-test: PASS ($mode)"
