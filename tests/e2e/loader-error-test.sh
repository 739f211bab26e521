#!/usr/bin/env bash
# tests/e2e/loader-error-test.sh - e2e-svm: a configuration naming a next
# stage that is not on the ESP must give a plain-words error on the console
# and the hypervisor log port, and control must go back to the firmware
# (whose boot manager then moves on) - no hang, no hypervisor left running.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "loader-error-test: missing $loader"; exit 1; }
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$loader" \
  --next-path '\attest-hv\missing.efi' >/dev/null
rm "$work/esp/attest-hv/missing.efi"
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 240 --fail 'AHV-PANIC|AHV-HV:' \
  --pass 'AHV-BOOT: ERROR: cannot load the next stage .attest-hv.missing.efi' \
  --pass 'returning to the firmware' --pass 'BdsDxe: failed to start Boot0002'
