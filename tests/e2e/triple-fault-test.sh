#!/usr/bin/env bash
# tests/e2e/triple-fault-test.sh - e2e-svm: a guest that triple-faults
# (SHUTDOWN intercept, APM Vol. 2 §15.9) is reported on the hypervisor log
# with the guest state and exit counters, and the CPU halts cleanly (no reset,
# no host crash). Needs AHV_BUILD.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
payload=$build/tests/e2e/payload/ahv_e2e_payload.efi
for f in "$loader" "$payload"; do [ -f "$f" ] || { echo "triple-fault-test: missing $f"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$payload" \
  --next-path '\attest-hv\e2e-payload.efi' --args 'triple-fault' >/dev/null
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 240 --fail 'AHV-PANIC|AHV-E2E: (PASS|FAIL)' \
  --pass 'AHV-E2E: triple-faulting on purpose' --pass 'AHV-GUEST-SHUTDOWN' \
  --pass 'guest: rip [0-9a-f]+ rsp' --pass 'AHV-HV-EXITS total [0-9]+:.* 7f=1'
