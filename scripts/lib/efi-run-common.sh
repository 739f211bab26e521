# scripts/lib/efi-run-common.sh - shared by the QEMU and Bochs runners: option
# parsing, the ESP tree, and judging a run by serial markers. Sourced.
#
# Options (both runners):
#   --pass REGEX     marker that means success (default: "AHV-SELFTEST: PASS")
#   --fail REGEX     marker that means failure (default: "AHV-SELFTEST: FAIL")
#   --timeout SEC    wall-clock limit (default 120)
#   --cpu MODEL      CPU model (runner-specific default)
#   --log FILE       keep the serial log here (default: a temporary file)
#   --esp-extra DIR  copy DIR's contents onto the ESP as well
#   APP.efi          the application, installed as \EFI\BOOT\BOOTX64.EFI
# Exit status: 0 pass marker seen; 1 fail marker or no marker (the tail of the
# serial log is printed); 2 usage or set-up error.

efi_run_parse() {
  pass='AHV-SELFTEST: PASS' fail='AHV-SELFTEST: FAIL' timeout=120
  log='' extra='' app=''
  while [ $# -gt 0 ]; do
    case "$1" in
      --pass) pass=$2; shift 2 ;;
      --fail) fail=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      --cpu) cpu=$2; shift 2 ;;
      --log) log=$2; shift 2 ;;
      --esp-extra) extra=$2; shift 2 ;;
      -h|--help) sed -n '2,3p' "$0" | sed 's/^# \{0,1\}//'; sed -n '4,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
      -*) echo "$(basename "$0"): unknown option $1 (see --help)" >&2; exit 2 ;;
      *) app=$1; shift ;;
    esac
  done
  [ -n "$app" ] && [ -f "$app" ] || { echo "$(basename "$0"): no such EFI app: '${app}'" >&2; exit 2; }
  work=$(mktemp -d /tmp/ahv-efirun.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/esp/EFI/BOOT"
  cp "$app" "$work/esp/EFI/BOOT/BOOTX64.EFI"
  if [ -n "$extra" ]; then cp -r "$extra"/. "$work/esp/"; fi
  [ -n "$log" ] || log="$work/serial.log"
  : > "$log"
}

# efi_run_judge RC EMULATOR_OUTPUT_FILE
efi_run_judge() {
  local rc=$1 out=$2 clean
  # Strip the terminal escape sequences that OVMF's console adds.
  clean=$(sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$log")
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
