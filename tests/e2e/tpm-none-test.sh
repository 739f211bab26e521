#!/usr/bin/env bash
# tests/e2e/tpm-none-test.sh - e2e-tpm: no TPM at all (no tpm-tis device).
#   dev_key = deny   the guest boots; no key, attestation answers NO_KEY;
#   dev_key = allow  an ephemeral development key: reports carry DEV_KEY,
#                    the verifier rejects them under its default policy.
# Needs AHV_BUILD (the build directory).
set -euo pipefail
work=$(mktemp -d /tmp/ahv-e2e-notpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/tpm-lib.sh"
tpm_need
tpm_guest_key
disk=$work/disk.img

tpm_disk "$disk" 'dev_key = deny'
tpm_boot deny --no-tpm
expect deny '^AHV-BOOT: signing key: none' "loader: no TPM, dev_key = deny: no key"
expect deny '^AHV-HV: signing key: none' "hypervisor runs without a key"
expect deny '^AHV-TPM-E2E: attest status=0x3 \(NO_KEY\)' "attestation answers NO_KEY"
expect deny '^AHV-TPM-E2E: no report \(report buffer untouched\)' "no signed report"
expect deny '^AHV-TPM-E2E: guest-unseal no-tpm' "no TPM in the guest either"
expect deny '^AHV-TPM-E2E: DONE' "guest still boots"

tpm_disk "$disk" 'dev_key = allow'
tpm_boot allow --no-tpm
expect allow '^AHV-HV: signing key: development key' "dev_key = allow: development key"
expect allow '^AHV-TPM-E2E: attest status=0x0 ' "signed report"
expect allow '^AHV-TPM-E2E: report flags=0x[0-9a-f]*[13579bdf] signature verifies' "report carries DEV_KEY"
if [ -x "$vcli" ]; then
  hexof allow AHV-TPM-E2E-REQUEST | xxd -r -p > "$work/req.bin"
  hexof allow AHV-TPM-E2E-REPORT | xxd -r -p > "$work/rep.bin"
  awk '$1=="AHV-HV-KEY-SPKI"{printf "%s", $2}' "$work/allow.txt" | xxd -r -p |
    openssl pkey -pubin -inform DER -out "$work/dev.pem"
  echo '{"version": 1, "allow_unnamed_regions": true}' > "$work/policy.json"
  set +e
  "$vcli" verify --policy "$work/policy.json" --hv-key "$work/dev.pem" --guest-key "$work/guest.pub.pem" \
    --report "$work/rep.bin" --request "$work/req.bin" > "$work/verify.json" 2>&1
  rc=$?
  set -e
  grep -q dev_key_rejected "$work/verify.json"; g=$?
  check "$([ "$rc" = 1 ] && [ "$g" = 0 ]; echo $?)" "verifier rejects the DEV_KEY report by default (dev_key_rejected)"
fi

if [ "$fails" = 0 ]; then echo "tpm-none-test: PASS"; exit 0; fi
echo "tpm-none-test: FAIL ($fails checks)"
for b in deny allow; do [ -f "$work/$b.txt" ] && { echo "--- $b tail ---"; tail -n 25 "$work/$b.txt"; }; done
exit 1
