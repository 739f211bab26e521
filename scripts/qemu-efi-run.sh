#!/usr/bin/env bash
# scripts/qemu-efi-run.sh [options] APP.efi - boot one UEFI application under
# QEMU (TCG: EPYC,+svm,+npt; KVM: -cpu host) and OVMF; judge by serial markers.
set -euo pipefail
. "$(dirname "$0")/lib/efi-run-common.sh"
. "$(dirname "$0")/lib/qemu-accel.sh"
cpu='' efi_run_qemu=1
efi_run_parse "$@"
qemu_accel_select qemu-efi-run.sh "$accel"
if [ "$qemu_accel" = kvm ]; then : "${cpu:=host}"; else : "${cpu:=EPYC,+svm,+npt}"; fi
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu-efi-run.sh: $code missing (run scripts/setup.sh)" >&2; exit 2; }
cp "$vars" "$work/vars.fd"

qemu=(qemu-system-x86_64 -machine q35 -accel "$qemu_accel" -cpu "$cpu" -m 512 -smp "$smp"
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd"
  -drive format=raw,file=fat:rw:"$work/esp" -net none -display none
  -serial file:"$log" -monitor none -no-reboot)
if [ "$dry_run" = 1 ]; then echo "qemu-efi-run: would run: ${qemu[*]}"; exit 0; fi
echo "qemu-efi-run: booting $(basename "$app") (accel $qemu_accel, cpu $cpu, timeout ${timeout}s)"
rc=0
timeout "$timeout" "${qemu[@]}" </dev/null >"$work/emu.out" 2>&1 || rc=$?
efi_run_judge "$rc" "$work/emu.out"
