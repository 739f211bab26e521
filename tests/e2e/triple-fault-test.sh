#!/usr/bin/env bash
# tests/e2e/triple-fault-test.sh [bochs MODEL] - a guest that triple-faults
# is reported on the hypervisor log with the guest state and exit counters,
# and the CPU halts cleanly (no reset, no host crash). e2e-svm: QEMU TCG,
# SHUTDOWN intercept 0x7F (APM Vol. 2 §15.9); e2e-vmx ("bochs MODEL"): Bochs,
# basic exit reason 2 (SDM Vol. 3D Appendix C). Needs AHV_BUILD.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
payload=$build/tests/e2e/payload/ahv_e2e_payload.efi
for f in "$loader" "$payload"; do [ -f "$f" ] || { echo "triple-fault-test: missing $f"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$payload" \
  --next-path '\attest-hv\e2e-payload.efi' --args 'triple-fault' --set 'dev_key = allow' >/dev/null
if [ "${1:-}" = bochs ]; then
  # The CPU halts for good: stop Bochs once the counters are logged, then
  # judge every marker.
  rc=0
  "$top/scripts/bochs-efi-run.sh" --esp "$work/esp" --cpu "${2:-corei7_skylake_x}" --timeout 180 \
    --stop-on-pass --log "$work/console.log" --hv-log "$work/hv.log" --pass 'AHV-HV-EXITS total' \
    --fail 'AHV-PANIC|AHV-E2E: (PASS|FAIL)' >"$work/run.out" || rc=$?
  all=$(cat "$work/console.log" "$work/hv.log" | sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g')
  for m in 'AHV-E2E: triple-faulting on purpose' 'AHV-GUEST-SHUTDOWN' 'guest: rip [0-9a-f]+ rsp' \
           'AHV-HV-EXITS total [0-9]+:.* 2=1'; do
    grep -qE "$m" <<<"$all" || { echo "triple-fault-test: missing marker: $m"; cat "$work/run.out"; exit 1; }
    grep -E "$m" <<<"$all" | head -n 1
  done
  exit "$rc"
fi
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 240 --fail 'AHV-PANIC|AHV-E2E: (PASS|FAIL)' \
  --pass 'AHV-E2E: triple-faulting on purpose' --pass 'AHV-GUEST-SHUTDOWN' \
  --pass 'guest: rip [0-9a-f]+ rsp' --pass 'AHV-HV-EXITS total [0-9]+:.* 7f=1'
