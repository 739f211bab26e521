#!/usr/bin/env bash
# tests/e2e/linux-test.sh [svm | bochs MODEL] - the hypervisor chain-loads
# Debian's Linux kernel (EFI stub) with an initramfs (scripts/linux-guest.sh);
# a user process built on libattest-hv attests its own .text and a data
# buffer (CPL3) and tries what CPL3 must not do; the attest-hv CLI then
# attests its own .text. e2e-svm: QEMU TCG with AMD SVM + NPT (default);
# e2e-vmx: Bochs with Intel CPU model MODEL (VT-x + EPT, 1 GiB, a 70 MB
# disk). The guest side is the same binary on both: the library picks
# VMCALL or VMMCALL from CPUID. On the host: the program's report is checked
# against the key the hypervisor announced on its log port
# (ahv_e2e_report_check and `attest-hv verify`), its backend field must name
# the emulator's back end, and the .text digest the hypervisor measured in
# the guest, for the program and for the CLI, must equal `attest-hv refvals`
# of the very binary that went into the initramfs. Needs AHV_BUILD (the
# build directory).
set -euo pipefail
mode=${1:-svm} model=${2:-corei7_haswell_4770}
case "$mode" in svm|bochs) ;; *) echo "linux-test: unknown mode '$mode' (svm | bochs MODEL)" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
check=$build/tests/e2e/ahv_e2e_report_check
ahv=$build/guest-lib/attest-hv
for f in "$loader" "$check" "$ahv"; do [ -f "$f" ] || { echo "linux-test: missing $f (build first)"; exit 1; }; done
# Per build directory, so that concurrent runs of other builds cannot swap
# the binaries between the initramfs and the refvals below.
guest=$build/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build"
# Under Bochs the guest programs run OpenSSL without its ADX/BMI2 paths:
# Bochs 2.7 gets P-256 wrong there, bare as under the hypervisor (the bare
# run is the oracle; docs/bochs.md).
extra=${AHV_LINUX_ARGS:-}
[ "$mode" = bochs ] && extra="$extra ahv_openssl_ia32cap=:~0x80100"
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
# AHV_E2E_KEEP=1 keeps the logs (the folder is named at the end).
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "linux-test: logs kept in $work/logs"; else rm -rf "$work"; fi' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "console=ttyS0 loglevel=4 panic=-1 no_timer_check $extra" --key "$guest/guest.pub.pem" \
  --set 'dev_key = allow' --set "dma_protection = $([ "$mode" = svm ] && [ -n "${AHV_QEMU_IOMMU:-}" ] && echo on || echo off)" >/dev/null
fail='AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-LINUX: FAIL|Kernel panic'
if [ "$mode" = bochs ]; then
  # Bochs offers Linux no ACPI tables (docs/pitfalls.md B12), so Linux
  # cannot power it off: the run stops at the guest's last marker; the
  # other markers are checked below.
  mkdir -p "$work/logs"
  "$top/scripts/bochs-efi-run.sh" --esp "$work/esp" --cpu "$model" --mem 1024 --disk-mb 70 \
    --timeout "${AHV_BOCHS_TIMEOUT:-900}" --log "$work/logs/console.log" --hv-log "$work/logs/hv.log" \
    --pass 'AHV-LINUX: powering off' --stop-on-pass --fail "$fail"
  for m in 'AHV-LINUX: PASS' 'AHV-LINUX: case cli-show ok'; do
    grep -aq "$m" "$work/logs/console.log" || { echo "linux-test: FAIL no '$m' on the console"; tail -n 30 "$work/logs/console.log"; exit 1; }
  done
  want_backend=vmx
else
  # QEMU TCG emulates protection keys, its EPYC model does not offer them:
  # +pku, so that the guest's pkey cases run under SVM (docs/hostile.md).
  svm_cpu=()
  [ "${AHV_ACCEL:-tcg}" = tcg ] && svm_cpu=(--cpu 'EPYC,+svm,+npt,+pku')
  "$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 400 --log "$work/logs" "${svm_cpu[@]}" \
    --pass 'AHV-LINUX: PASS' --pass 'AHV-LINUX: case cli-show ok' --pass 'AHV-LINUX: powering off' \
    --fail "$fail"
  want_backend=svm
fi
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" > "$work/console.txt"
grep -E '^AHV-LINUX: (case|attested|discovery|pkeys|report-dirty)' "$work/console.txt" | sed 's/^/linux-test: /'
# Cases that must have run, not been skipped (docs/hostile.md, protection
# keys): the report page's Dirty flag and the vector registers across
# context switches (docs/bochs.md, xstate-switches) everywhere; the pkey
# cases where the CPU offers PKU: QEMU TCG with +pku (Bochs's
# corei7_skylake_x and corei7_haswell_4770 answer CPUID.7.0:ECX[3] = 0:
# skipped there).
need='report-dirty xstate-switches'
if [ "$mode" = svm ] && [ ${#svm_cpu[@]} -gt 0 ]; then need="$need pkey-"; fi
for c in $need; do
  if ! grep -Eq "^AHV-LINUX: case $c[a-z0-9-]* ok" "$work/console.txt" ||
     grep -Eq "^AHV-LINUX: case $c[a-z0-9-]* skipped" "$work/console.txt"; then
    echo "linux-test: FAIL case $c* did not run here"; exit 1
  fi
done
grep -E '^AHV-LINUX-(REGION|CLI) ' "$work/console.txt" | sed 's/^/linux-test: /'
awk '$1=="AHV-LINUX-REPORT"{print $2}' "$work/console.txt" > "$work/report.hex"
awk '$1=="AHV-LINUX-NONCE"{print $2}' "$work/console.txt" > "$work/nonce.hex"
awk '$1=="AHV-LINUX-DIGEST0"{print $2}' "$work/console.txt" > "$work/digest0.hex"
awk '$1=="AHV-LINUX-CLI-REPORT"{print $2}' "$work/console.txt" > "$work/cli-report.hex"
clean "$work/logs/hv.log" | awk '$1=="AHV-HV-KEY-SPKI"{print $2}' > "$work/spki.hex"
"$check" "$work/report.hex" "$work/spki.hex" "$work/nonce.hex" "$work/digest0.hex"

# The same reports through the attest-hv CLI on the host, and refvals.
unhex() { python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex("".join(open(sys.argv[1]).read().split())))' "$1"; }
unhex "$work/spki.hex" > "$work/hv.der"
unhex "$work/report.hex" > "$work/report.bin"
unhex "$work/cli-report.hex" > "$work/cli-report.bin"
# Without an IOMMU the hypervisor runs with dma_protection = off and every
# report says so (DMA_UNPROTECTED): refused unless allowed.
dmaok=()
if [ "$mode" = bochs ] || [ -z "${AHV_QEMU_IOMMU:-}" ]; then
  dmaok=(--allow-dma-unprotected)
  if "$ahv" verify --hv-key "$work/hv.der" --allow-dev-key "$work/report.bin" > "$work/nodma.out" 2>&1 ||
     ! grep -q DMA_UNPROTECTED "$work/nodma.out"; then
    cat "$work/nodma.out"; echo "linux-test: FAIL a report without DMA protection is not flagged DMA_UNPROTECTED"; exit 1
  fi
  echo "linux-test: no IOMMU: the report carries DMA_UNPROTECTED ($(head -c 120 "$work/nodma.out"))"
fi
"$ahv" verify --hv-key "$work/hv.der" --allow-dev-key "${dmaok[@]}" --nonce "$(tr -d ' \n' < "$work/nonce.hex")" \
  "$work/report.bin" | sed 's/^/linux-test: attest-hv verify (program report): /'
"$ahv" verify --hv-key "$work/hv.der" --allow-dev-key "${dmaok[@]}" "$work/cli-report.bin" |
  sed 's/^/linux-test: attest-hv verify (CLI report): /'
# live: region 0 of the report (the guest named .text); reference: refvals
# of the binary in the initramfs.
same=0
for b in ahv-guest-attest:report attest-hv:cli-report; do
  bin=${b%%:*} rep=${b#*:}
  "$ahv" show --json "$work/$rep.bin" > "$work/$rep.json"
  "$ahv" refvals --only .text "$guest/initramfs/bin/$bin" > "$work/$bin.refvals.json"
  read -r ls ld be < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); r=j["regions"][0]; print(r["size"], j["hash_alg"] + ":" + r["digest"], j["backend"])' "$work/$rep.json")
  if [ "$be" != "$want_backend" ]; then
    echo "linux-test: FAIL the $bin report says backend $be, the emulator runs $want_backend"; same=1
  fi
  read -r rs rd < <(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["regions"][0]; print(r["size"], r["digests"][0])' "$work/$bin.refvals.json")
  echo "linux-test: $bin .text: refvals $rd size $rs; measured in the guest $ld size $ls"
  if [[ "$rd" == sha256:* ]] && [ "$rd" = "$ld" ] && [ "$rs" = "$ls" ]; then
    echo "linux-test: refvals-equal $bin .text ok"
  else
    echo "linux-test: FAIL refvals of $bin .text differ from the live measurement"
    same=1
  fi
done
exit "$same"
