#!/usr/bin/env bash
# scripts/qemu-efi-run.sh - boot one UEFI application as \EFI\BOOT\BOOTX64.EFI
# under QEMU TCG with Debian's OVMF and judge it by a serial-output marker.
#
#   qemu-efi-run.sh [options] APP.efi
#     --pass REGEX     marker that means success (default: "AHV-SELFTEST: PASS")
#     --fail REGEX     marker that means failure (default: "AHV-SELFTEST: FAIL")
#     --timeout SEC    wall-clock limit (default 120)
#     --cpu MODEL      QEMU CPU model (default EPYC,+svm,+npt)
#     --log FILE       keep the serial log here (default: a temporary file)
#     --esp-extra DIR  copy DIR's contents onto the ESP as well
#
# Exit status: 0 pass marker seen; 1 fail marker or no marker (the tail of the
# serial log is printed); 2 usage or set-up error.
set -euo pipefail

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }
pass='AHV-SELFTEST: PASS' fail='AHV-SELFTEST: FAIL' timeout=120
cpu='EPYC,+svm,+npt' log='' extra='' app=''
while [ $# -gt 0 ]; do
  case "$1" in
    --pass) pass=$2; shift 2 ;;
    --fail) fail=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --log) log=$2; shift 2 ;;
    --esp-extra) extra=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "qemu-efi-run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    *) app=$1; shift ;;
  esac
done
[ -n "$app" ] && [ -f "$app" ] || { echo "qemu-efi-run.sh: no such EFI app: '${app}'" >&2; exit 2; }
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu-efi-run.sh: $code missing (apt-get install ovmf, or run scripts/setup.sh)" >&2; exit 2; }

work=$(mktemp -d /tmp/ahv-qemu.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/esp/EFI/BOOT"
cp "$app" "$work/esp/EFI/BOOT/BOOTX64.EFI"
[ -n "$extra" ] && cp -r "$extra"/. "$work/esp/"
cp "$vars" "$work/vars.fd"
[ -n "$log" ] || log="$work/serial.log"
: > "$log"

echo "qemu-efi-run: booting $(basename "$app") (cpu $cpu, timeout ${timeout}s)"
set +e
timeout "$timeout" qemu-system-x86_64 -machine q35 -accel tcg -cpu "$cpu" -m 512 -smp 1 \
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
  -drive format=raw,file=fat:rw:"$work/esp" -net none -display none \
  -serial file:"$log" -monitor none -no-reboot </dev/null >"$work/qemu.out" 2>&1
rc=$?
set -e
# Strip terminal escape sequences that OVMF's console adds.
clean=$(sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$log")
if grep -qE "$fail" <<<"$clean"; then
  echo "qemu-efi-run: FAIL marker seen; serial log tail:"; tail -n 40 <<<"$clean"; exit 1
fi
if grep -qE "$pass" <<<"$clean"; then
  grep -E "$pass" <<<"$clean" | head -n 1; exit 0
fi
[ "$rc" = 124 ] && echo "qemu-efi-run: timed out after ${timeout}s without a marker" \
                || { echo "qemu-efi-run: QEMU exited ($rc) without a marker"; cat "$work/qemu.out"; }
echo "--- serial log tail ---"; tail -n 40 <<<"$clean"; exit 1
