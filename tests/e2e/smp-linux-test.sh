#!/usr/bin/env bash
# tests/e2e/smp-linux-test.sh - e2e-smp (docs/smp.md): the loader with
# smp = on starts the hypervisor on all 4 CPUs of a QEMU SVM machine; Linux
# brings its application processors up through the hypervisor's INIT/SIPI
# emulation; in the guest, tests/e2e/linux/ahv-smp-check.c checks the CPUID
# signature on every CPU, attests from all CPUs at once, and attests a
# buffer another CPU keeps rewriting between two known contents (every
# digest must be that of one whole content), and takes the last CPU
# offline and online again. Needs AHV_BUILD.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
cpus=${AHV_SMP_CPUS:-4}
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "smp-linux-test: missing $loader (build first)"; exit 1; }
guest=$build/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build"
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
# AHV_E2E_KEEP=1 keeps the logs (the folder is named at the end).
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "smp-linux-test: logs kept in $work/logs"; else rm -rf "$work"; fi' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "console=ttyS0 loglevel=4 panic=-1 no_timer_check ahv=smp ahv_smp=race" --key "$guest/guest.pub.pem" \
  --set 'dev_key = allow' --set 'smp = on' >/dev/null
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --smp "$cpus" --timeout 500 --log "$work/logs" \
  --pass "AHV-BOOT: smp = on: all $cpus CPUs under the hypervisor" \
  --pass "AHV-SMP: all $cpus CPUs report AttestHVisor" \
  --pass "AHV-SMP: concurrent attestations ok" --pass 'AHV-SMP: rewrite race ok' \
  --pass "AHV-SMP: cpu $((cpus - 1)) offline and online again: back under" --pass 'AHV-SMP: PASS' \
  --fail 'AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-SMP: FAIL|Kernel panic|do_boot_cpu failed'
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" | grep -E '^AHV-SMP: |smp: Brought up' | sed 's/^/smp-linux-test: /'
# Every application processor was started by the emulated SIPI (Linux's
# trampoline), not by a real one.
started=$(clean "$work/logs/hv.log" | { grep -oE '^AHV-HV-SMP: cpu [0-9]+ idles with IF=1' || true; } | sort -u | wc -l)
echo "smp-linux-test: $started application processors reached Linux's idle loop under the hypervisor"
[ "$started" -eq $((cpus - 1)) ] || { echo "smp-linux-test: FAIL expected $((cpus - 1))"; exit 1; }
echo "smp-linux-test: PASS"
