# scripts/lib/efi-run-common.sh - shared by the QEMU and Bochs runners: option
# parsing, the ESP tree, and judging a run by serial markers. Sourced.
#
# Options (both runners):
#   --pass REGEX     marker that means success (default: "AHV-SELFTEST: PASS")
#   --fail REGEX     marker that means failure (default: "AHV-SELFTEST: FAIL")
#   --timeout SEC    wall-clock limit (default 120)
#   --cpu MODEL      CPU model (runner-specific default)
#   --smp N          number of CPUs (default 1)
#   --accel MODE     (QEMU) kvm, tcg or auto (default: $AHV_ACCEL, else tcg;
#                    scripts/lib/qemu-accel.sh, docs/ci-nested-kvm.md)
#   --dry-run        (QEMU) print the accelerator and QEMU command, run nothing
#   --mem MIB        guest memory (Bochs; default 512)
#   --disk-mb MB     (Bochs) FAT16 disk size, rounded up to whole cylinders
#                    (default 20; a Linux kernel + initramfs needs about 70)
#   --log FILE       keep the serial log here (default: a temporary file)
#   --esp-extra DIR  copy DIR's contents onto the ESP as well
#   --esp DIR        boot this whole ESP tree (e.g. from scripts/mkesp.sh)
#                    instead of one APP.efi
#   --hv-log FILE    also capture COM2 (the hypervisor log port 0x2F8) here;
#                    markers are then looked for in both logs
#   --stop-on-pass   (Bochs) stop as soon as the pass marker appears instead
#                    of waiting for the app to power off
#   APP.efi          the application, installed as \EFI\BOOT\BOOTX64.EFI
# Exit status: 0 pass marker seen; 1 fail marker or no marker (the tail of the
# serial log is printed); 2 usage or set-up error (or --accel kvm where KVM
# cannot nest).

efi_run_parse() {
  pass='AHV-SELFTEST: PASS' fail='AHV-SELFTEST: FAIL' timeout=120
  log='' extra='' app='' esp_dir='' hvlog='' stop_on_pass=0 smp=1 mem='' disk_mb=20
  accel=${AHV_ACCEL:-tcg} dry_run=0   # QEMU only (the runner sets efi_run_qemu=1)
  while [ $# -gt 0 ]; do
    case "$1" in
      --pass) pass=$2; shift 2 ;;
      --fail) fail=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      --cpu) cpu=$2; shift 2 ;;
      --smp) smp=$2; shift 2 ;;
      --mem) mem=$2; shift 2 ;;
      --disk-mb) disk_mb=$2; shift 2 ;;
      --log) log=$2; shift 2 ;;
      --esp-extra) extra=$2; shift 2 ;;
      --esp) esp_dir=$2; shift 2 ;;
      --hv-log) hvlog=$2; shift 2 ;;
      --stop-on-pass) stop_on_pass=1; shift ;;
      --accel|--dry-run)
        [ "${efi_run_qemu:-0}" = 1 ] || { echo "$(basename "$0"): $1 is for the QEMU runners" >&2; exit 2; }
        if [ "$1" = --accel ]; then accel=$2; shift 2; else dry_run=1; shift; fi ;;
      -h|--help) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; sed -n '4,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
      -*) echo "$(basename "$0"): unknown option $1 (see --help)" >&2; exit 2 ;;
      *) app=$1; shift ;;
    esac
  done
  if [ -n "$esp_dir" ]; then
    [ -d "$esp_dir" ] || { echo "$(basename "$0"): no such ESP folder: '${esp_dir}'" >&2; exit 2; }
  else
    [ -n "$app" ] && [ -f "$app" ] || { echo "$(basename "$0"): no such EFI app: '${app}'" >&2; exit 2; }
  fi
  work=$(mktemp -d /tmp/ahv-efirun.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # A step that fails under set -e says which (not a silent exit); -E: in
  # the functions too.
  set -E
  trap 'echo "$(basename "$0"): failed at line $LINENO (status $?)" >&2' ERR
  mkdir -p "$work/esp/EFI/BOOT"
  if [ -n "$esp_dir" ]; then cp -r "$esp_dir"/. "$work/esp/"; else cp "$app" "$work/esp/EFI/BOOT/BOOTX64.EFI"; fi
  if [ -n "$extra" ]; then cp -r "$extra"/. "$work/esp/"; fi
  [ -n "$log" ] || log="$work/serial.log"
  : > "$log"
  if [ -n "$hvlog" ]; then : > "$hvlog"; fi
}

# efi_run_judge RC EMULATOR_OUTPUT_FILE
efi_run_judge() {
  local rc=$1 out=$2 clean
  # Strip the terminal escape sequences that OVMF's console adds.
  clean=$(sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$log" ${hvlog:+"$hvlog"})
  if grep -qE "$fail" <<<"$clean"; then
    echo "$(basename "$0"): FAIL marker seen; serial log tail:"; tail -n 40 <<<"$clean"; return 1
  fi
  if grep -qE "$pass" <<<"$clean"; then
    grep -E "$pass" <<<"$clean" | head -n 1; return 0
  fi
  if [ "$rc" = 124 ]; then
    echo "$(basename "$0"): timed out after ${timeout}s without a marker"
  else
    echo "$(basename "$0"): emulator exited ($rc) without a marker"; tail -n 20 "$out"
  fi
  echo "--- serial log tail ---"; tail -n 40 <<<"$clean"; return 1
}
