#!/usr/bin/env bash
# scripts/qemu-efi-run.sh [options] APP.efi - boot one UEFI application under
# QEMU TCG (default CPU EPYC,+svm,+npt) with Debian's OVMF; judge by serial markers.
set -euo pipefail
. "$(dirname "$0")/lib/efi-run-common.sh"
cpu='EPYC,+svm,+npt'
efi_run_parse "$@"
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu-efi-run.sh: $code missing (run scripts/setup.sh)" >&2; exit 2; }
cp "$vars" "$work/vars.fd"

echo "qemu-efi-run: booting $(basename "$app") (cpu $cpu, timeout ${timeout}s)"
set +e
timeout "$timeout" qemu-system-x86_64 -machine q35 -accel tcg -cpu "$cpu" -m 512 -smp "$smp" \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive format=raw,file=fat:rw:"$work/esp" -net none -display none \
  -serial file:"$log" -monitor none -no-reboot </dev/null >"$work/emu.out" 2>&1
rc=$?
set -e
efi_run_judge "$rc" "$work/emu.out"
