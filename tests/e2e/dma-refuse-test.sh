#!/usr/bin/env bash
# tests/e2e/dma-refuse-test.sh - e2e-dma (docs/iommu.md): with
# dma_protection = on and no IOMMU (QEMU q35 without intel-iommu), the
# hypervisor must not start: a plain-words error naming the setting, control
# back to the firmware, the next stage never run.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
payload=$build/tests/e2e/payload/ahv_e2e_payload.efi
for f in "$loader" "$payload"; do [ -f "$f" ] || { echo "dma-refuse-test: missing $f"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$payload" \
  --next-path '\attest-hv\e2e-payload.efi' --set 'dev_key = allow' --set 'dma_protection = on' >/dev/null
AHV_QEMU_IOMMU='' "$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 240 \
  --fail 'AHV-PANIC|AHV-E2E|AHV-HV: engine ready' \
  --pass 'AHV-BOOT: ERROR: no IOMMU this hypervisor can take .*set dma_protection = off' \
  --pass 'returning to the firmware'
