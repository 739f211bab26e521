#!/usr/bin/env bash
# tests/e2e/tpm-test.sh - e2e-tpm: the hypervisor's signing key sealed to a
# TPM (swtpm), under QEMU TCG (SVM + NPT) and OVMF with EFI_TCG2_PROTOCOL.
#   boot 1  no blob on the ESP: the loader provisions (seal, public key,
#           quote evidence, event log); the guest gets a signed report with
#           DEV_KEY clear and cannot unseal the key itself;
#   boot 2  the same key is unsealed (same key id / SPKI), DEV_KEY clear,
#           the guest still cannot unseal;
#   host    the evidence: tpm2_checkquote (AK signature, nonce = SHA-256 of
#           the key's SPKI DER, PCRs 0/4/8 replayed from the event log); the
#           verifier enrolls the key and accepts both boots' reports;
#   boot 3  a changed config: the seal does not open, no signed report
#           (NO_KEY), the guest still boots;
#   boot 4  a changed hypervisor image (one byte of a message): the same.
# Needs AHV_BUILD (the build directory); swtpm and tpm2-tools (skip: 77).
set -euo pipefail
work=$(mktemp -d /tmp/ahv-e2e-tpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/tpm-lib.sh"
tpm_need
for t in swtpm tpm2_checkquote; do command -v "$t" >/dev/null || { echo "tpm-test: SKIP: $t missing"; exit 77; }; done

tpm_guest_key
disk=$work/disk.img
tpm_disk "$disk"

# ---- boot 1: provisioning --------------------------------------------------------
tpm_boot b1
expect b1 '^AHV-BOOT: TPM: sealed the hypervisor key to PCRs 0,4,8' "first boot seals a new key"
expect b1 '^AHV-BOOT: TPM: locked' "PCR 8 locked before the guest"
expect b1 '^AHV-HV: signing key: TPM-sealed' "hypervisor got the sealed key"
expect b1 '^AHV-TPM-E2E: attest status=0x0 ' "guest gets a signed report"
expect b1 '^AHV-TPM-E2E: report flags=0x[0-9a-f]*[02468ace] signature verifies' "report verifies, DEV_KEY clear"
expect b1 '^AHV-TPM-E2E: guest-unseal refused-policy' "guest cannot unseal the key (PolicyPCR fails)"
expect b1 '^AHV-TPM-E2E: DONE' "guest ran to the end"
mkdir -p "$work/ev"
for f in hv-key.blob hv-key.pem ak.pem quote.msg quote.sig eventlog.bin; do
  tpm_m mcopy -n "::/attest-hv/tpm/$f" "$work/ev/$f" 2>/dev/null || { echo "tpm-test: FAIL: \\attest-hv\\tpm\\$f not on the ESP"; fails=$((fails + 1)); }
done
id1=$(hexof b1 AHV-TPM-E2E-INFO-KEY-ID)
spki1=$(hexof b1 AHV-HV-KEY-SPKI)
if [ -f "$work/ev/hv-key.pem" ]; then
  pemid=$(openssl pkey -pubin -in "$work/ev/hv-key.pem" -outform DER | sha256sum | cut -d' ' -f1)
  check "$([ -n "$id1" ] && [ "$pemid" = "$id1" ]; echo $?)" "exported hv-key.pem is the key the hypervisor signs with ($pemid)"
fi
hexof b1 AHV-TPM-E2E-REQUEST | xxd -r -p > "$work/req1.bin"
hexof b1 AHV-TPM-E2E-REPORT | xxd -r -p > "$work/rep1.bin"

# ---- boot 2: the same key, unsealed ------------------------------------------------
tpm_boot b2
expect b2 '^AHV-BOOT: TPM: unsealed the hypervisor key' "second boot unseals"
expect_not b2 '^AHV-BOOT: TPM: sealed the' "no re-provisioning"
expect b2 '^AHV-TPM-E2E: attest status=0x0 ' "guest gets a signed report"
expect b2 '^AHV-TPM-E2E: report flags=0x[0-9a-f]*[02468ace] signature verifies' "report verifies, DEV_KEY clear"
expect b2 '^AHV-TPM-E2E: guest-unseal refused-policy' "guest cannot unseal the key"
id2=$(hexof b2 AHV-TPM-E2E-INFO-KEY-ID)
spki2=$(hexof b2 AHV-HV-KEY-SPKI)
check "$([ -n "$id1" ] && [ "$id1" = "$id2" ] && [ "$spki1" = "$spki2" ]; echo $?)" "same public key in both boots (key id ${id2:-none})"
hexof b2 AHV-TPM-E2E-REQUEST | xxd -r -p > "$work/req2.bin"
hexof b2 AHV-TPM-E2E-REPORT | xxd -r -p > "$work/rep2.bin"

# ---- host: the evidence, then the verifier ------------------------------------------
if [ -f "$work/ev/quote.msg" ]; then
  nonce=$(openssl pkey -pubin -in "$work/ev/hv-key.pem" -outform DER | sha256sum | cut -d' ' -f1)
  # PCRs 0, 4, 8 (SHA-256) as the event log replays them (tpm2_eventlog's
  # final "pcrs:" section), as the raw values tpm2_checkquote -f reads.
  tpm2_eventlog "$work/ev/eventlog.bin" > "$work/eventlog.yaml" 2>&1 || true
  awk '/^pcrs:/{p=1; next} p && /^  sha256:/{s=1; next} p && /^  [a-z]/{s=0}
       s && $1 ~ /^[0-9]+$/ && ($1==0 || $1==4 || $1==8) {v=$3; sub(/^0x/, "", v); printf "%s", v}' \
    "$work/eventlog.yaml" | xxd -r -p > "$work/pcrs.bin"
  if tpm2_checkquote -u "$work/ev/ak.pem" -m "$work/ev/quote.msg" -s "$work/ev/quote.sig" -g sha256 \
       -q "$nonce" -e "$work/ev/eventlog.bin" -f "$work/pcrs.bin" -l sha256:0,4,8 > "$work/checkquote.out" 2>&1; then
    check 0 "tpm2_checkquote: AK signature, nonce = SHA-256(SPKI), PCRs 0,4,8 replayed from the event log"
  else
    cat "$work/checkquote.out"; check 1 "tpm2_checkquote"
  fi
  check "$([ "$(stat -c %s "$work/pcrs.bin")" = 96 ]; echo $?)" "event log replays PCRs 0, 4, 8 (SHA-256)"
  # Negative control: the quote does not vouch for another key.
  ! tpm2_checkquote -u "$work/ev/ak.pem" -m "$work/ev/quote.msg" -s "$work/ev/quote.sig" -g sha256 \
      -q "$(printf '%064d' 0)" -e "$work/ev/eventlog.bin" -f "$work/pcrs.bin" -l sha256:0,4,8 >/dev/null 2>&1
  check $? "tpm2_checkquote refuses the evidence for another key id"
  if command -v tpm2_eventlog >/dev/null; then
    n8=$(grep -c 'PCRIndex: 8' "$work/eventlog.yaml" || true)
    grep -q 'EV_IPL' "$work/eventlog.yaml" && grep -q 'attest-hv config' "$work/eventlog.yaml" ; check $? "event log: config and guest key measured into PCR 8 as EV_IPL ($n8 PCR 8 events)"
  fi
fi
if [ -x "$vcli" ]; then
  echo '{"version": 1, "allow_unnamed_regions": true}' > "$work/policy.json"
  st="sqlite:$work/v.db"
  "$vcli" enroll --storage "$st" --name tpm-sealed-hv hv "$work/ev/hv-key.pem" >/dev/null
  "$vcli" enroll --storage "$st" --name tpm-guest guest "$work/guest.pub.pem" >/dev/null
  for b in 1 2; do
    if "$vcli" verify --storage "$st" --policy "$work/policy.json" --report "$work/rep$b.bin" --request "$work/req$b.bin" \
         > "$work/verify$b.json" 2>&1; then
      check 0 "verifier accepts boot $b's report signed by the enrolled TPM-sealed key"
    else
      cat "$work/verify$b.json"; check 1 "verifier accepts boot $b's report"
    fi
  done
else
  echo "tpm-test: note: $vcli not built; verifier step skipped"
fi

# ---- boot 3: a changed configuration ------------------------------------------------
tpm_m mcopy -n "::/attest-hv/attest-hv.conf" "$work/conf.orig"
{ cat "$work/conf.orig"; echo "allow_gpa = yes"; } > "$work/conf.new"
tpm_m mcopy -o "$work/conf.new" "::/attest-hv/attest-hv.conf"
tpm_boot b3
expect b3 '^AHV-BOOT: TPM: the sealed key does not open \(AHV_TPM_EPOLICY|^AHV-BOOT: TPM: the sealed key does not open' "changed config: seal does not open"
expect b3 '^AHV-HV: signing key: none' "hypervisor runs without a key"
expect b3 '^AHV-TPM-E2E: attest status=0x3 \(NO_KEY\)' "attestation answers NO_KEY"
expect b3 '^AHV-TPM-E2E: no report \(report buffer untouched\)' "no signed report"
expect b3 '^AHV-TPM-E2E: guest-unseal refused-policy' "guest cannot unseal either"
expect b3 '^AHV-TPM-E2E: DONE' "guest still boots"
tpm_m mcopy -o "$work/conf.orig" "::/attest-hv/attest-hv.conf"

# ---- boot 4: a changed hypervisor image ----------------------------------------------
tpm_m mcopy -n "::/EFI/BOOT/BOOTX64.EFI" "$work/img.orig"
cp "$work/img.orig" "$work/img.new"
perl -0777 -pi -e 's/in the configuration: starting/in the Configuration: starting/' "$work/img.new"
check "$(cmp -s "$work/img.orig" "$work/img.new"; [ $? = 1 ]; echo $?)" "modified image differs from the sealed one"
tpm_m mcopy -o "$work/img.new" "::/EFI/BOOT/BOOTX64.EFI"
tpm_boot b4
expect b4 '^AHV-BOOT: TPM: the sealed key does not open' "changed image: seal does not open"
expect b4 '^AHV-TPM-E2E: attest status=0x3 \(NO_KEY\)' "attestation answers NO_KEY"
expect b4 '^AHV-TPM-E2E: no report \(report buffer untouched\)' "no signed report"
expect b4 '^AHV-TPM-E2E: DONE' "guest still boots"

if [ "$fails" = 0 ]; then echo "tpm-test: PASS"; exit 0; fi
echo "tpm-test: FAIL ($fails checks)"
for b in b1 b2 b3 b4; do [ -f "$work/$b.txt" ] && { echo "--- $b tail ---"; tail -n 25 "$work/$b.txt"; }; done
exit 1
