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
#           verifier checks the EK certificate (swtpm_setup's, from a local
#           CA standing in for the manufacturer), the AK and the quote against
#           reference PCRs, and issues a credential for the EK and the AK;
#           refused: no evidence, a wrong EK CA, other PCRs, the software-key
#           forgery (golden PCRs replayed into another TPM, its AK's quote over
#           SHA-256(SPKI) of a software key) with that TPM's EK certificate or
#           with ours, and a quote from another TPM under our AK;
#   boot 2  the loader answers the credential (ActivateCredential), the
#           verifier enrolls the key as tpm-ek and accepts both boots' reports;
#   boot 3  a changed config: the seal does not open, no signed report
#           (NO_KEY), the guest still boots; the forged AK's credential does
#           not activate in our TPM (no answer);
#   boot 4  a changed hypervisor image (one byte of a message): the same.
# Needs AHV_BUILD (the build directory); swtpm and tpm2-tools (skip: 77).
set -euo pipefail
work=$(mktemp -d /tmp/ahv-e2e-tpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/tpm-lib.sh"
tpm_need
for t in swtpm swtpm_setup swtpm_localca tpm2_checkquote tpm2_quote python3; do command -v "$t" >/dev/null || { echo "tpm-test: SKIP: $t missing"; exit 77; }; done

tpm_guest_key
disk=$work/disk.img
tpm_disk "$disk"
# Our TPM, with an EK certificate from the "manufacturer" CA; the attacker's
# TPM with one from a CA of its own.
tpm_manufacture "$work/tpmstate" "$work/ca" || { cat "$work/ca/setup.log"; exit 1; }
tpm_manufacture "$work/atk" "$work/atkca" || { cat "$work/atkca/setup.log"; exit 1; }

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
expect b1 '^AHV-BOOT: TPM: EK certificate \([0-9]+ bytes\) written' "loader exports the EK certificate"
for f in hv-key.blob hv-key.pem ak.pem ak.pub quote.msg quote.sig eventlog.bin ek.crt; do
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
# ---- host: EK-rooted enrollment, step 1 (docs/operator-verifier.md) ----------------
st="sqlite:$work/v.db"
p() { xxd -p -c 32 "$work/pcrs.bin" | sed -n "$1p"; }
refs=(--pcr "0=$(p 1)" --pcr "4=$(p 2)" --pcr "8=$(p 3)")
trust=(--ek-ca "$work/ca/swtpm-localca-rootca-cert.pem" --ek-intermediate "$work/ca/issuercert.pem")
# sr CMD...: run it, its status in $sr (set -e stays quiet)
sr() { "$@" && sr=0 || sr=$?; }
# enroll_ek NAME KEY.pem EVIDENCE-DIR [more options]: step 1; status in $sr
enroll_ek() {
  local n=$1 k=$2 d=$3; shift 3
  sr "$vcli" enroll --storage "$st" hv "$k" --ek-evidence "$d" --state "$work/$n.state" \
    --challenge "$work/$n.cred" "$@" > "$work/$n.out" 2>&1
}
refused() { # refused NAME REGEX what: exit 1 and the reason
  if [ "$1" = 1 ] && grep -qE "$3" "$work/$2.out"; then check 0 "$4 (refused: $(grep -oE "$3" "$work/$2.out" | head -1))"
  else cat "$work/$2.out"; check 1 "$4 (status $1)"; fi
}
sr "$vcli" enroll --storage "$st" hv "$work/ev/hv-key.pem" > "$work/noev.out" 2>&1
refused $sr noev 'needs TPM evidence' "a hypervisor key without TPM evidence"
enroll_ek honest "$work/ev/hv-key.pem" "$work/ev" "${trust[@]}" "${refs[@]}"
check "$([ $sr = 3 ] && [ -s "$work/honest.cred" ]; echo $?)" "honest evidence: EK certificate, AK, quote accepted; credential issued (status $sr)"
enroll_ek wrongca "$work/ev/hv-key.pem" "$work/ev" --ek-ca "$work/atkca/swtpm-localca-rootca-cert.pem" \
  --ek-intermediate "$work/atkca/issuercert.pem" "${refs[@]}"
refused $sr wrongca 'does not chain to a configured EK CA root' "an EK certificate from another CA"
bad8=$(p 3 | sed 's/^./f/; t; s/^/f/'); [ "$bad8" = "$(p 3)" ] && bad8=$(p 3 | sed 's/^./0/')
enroll_ek pcrs "$work/ev/hv-key.pem" "$work/ev" "${trust[@]}" --pcr "0=$(p 1)" --pcr "4=$(p 2)" --pcr "8=$bad8"
refused $sr pcrs 'PCRs 0, 4, 8 differ from the reference' "PCR 8 differs from the operator's reference"

# The software-key forgery of issue 18: golden PCRs replayed into the
# attacker's TPM, its AK's quote over SHA-256(SPKI) of a key made in software.
openssl ecparam -name prime256v1 -genkey -noout -out "$work/soft.key" 2>/dev/null
openssl ec -in "$work/soft.key" -pubout -out "$work/soft.pem" 2>/dev/null
softid=$(openssl pkey -pubin -in "$work/soft.pem" -outform DER | sha256sum | cut -c1-64)
sr tpm_tools_start "$work/atk"
[ $sr = 0 ] && sr tpm_forge_quote "$work/forge" "$work/soft.pem" "$work/ev/eventlog.bin"
check $sr "attacker's TPM: golden PCRs replayed, AK and quote made"
# The same TPM again (PCRs reset at its start): a quote naming our key.
tpm_tools_stop
sr tpm_tools_start "$work/atk"
[ $sr = 0 ] && sr tpm_forge_quote "$work/forge-hv" "$work/ev/hv-key.pem" "$work/ev/eventlog.bin"
check $sr "attacker's TPM: a quote over our key's SPKI hash too"
tpm_tools_stop
check "$(cmp -s "$work/forge/pcrs.bin" "$work/pcrs.bin"; echo $?)" "attacker's PCRs 0, 4, 8 equal the golden values"
sr tpm2_checkquote -u "$work/forge/ak.pem" -m "$work/forge/quote.msg" -s "$work/forge/quote.sig" -g sha256 -q "$softid" \
  -f "$work/pcrs.bin" -l sha256:0,4,8 >/dev/null 2>&1
check $sr "the forgery passes tpm2_checkquote (what the old evidence check amounted to)"
sr "$vcli" enroll --storage "$st" hv "$work/soft.pem" > "$work/softnoev.out" 2>&1
refused $sr softnoev 'needs TPM evidence' "forgery: the software key without evidence"
enroll_ek forge "$work/soft.pem" "$work/forge" "${trust[@]}" "${refs[@]}"
refused $sr forge 'does not chain to a configured EK CA root' "forgery with the attacker TPM's own EK certificate"
# ... with our TPM's EK certificate (public): the evidence checks pass, but
# the credential names the attacker's AK, which only the attacker's TPM holds,
# and is encrypted to our EK: neither TPM can answer it (boot 3 shows ours
# cannot; the attacker's is tried here).
cp "$work/ev/ek.crt" "$work/forge/ek.crt"
enroll_ek forge2 "$work/soft.pem" "$work/forge" "${trust[@]}" "${refs[@]}"
check "$([ $sr = 3 ]; echo $?)" "forgery with our EK certificate: a credential is issued, bound to the attacker's AK and our EK"
sr tpm_tools_start "$work/atk"
tpm_t tpm2_createek -Q -c "$work/atk-ek.ctx" -G rsa || true
tpm_t tpm2_createprimary -Q -C o -G ecc256:ecdsa-sha256:null -c "$work/atk-ak.ctx" \
  -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda' || true
{ printf '\xba\xdc\xc0\xde\x00\x00\x00\x01'; cat "$work/forge2.cred"; } > "$work/forge2.tss" # tpm2-tools' header
sr tpm2_startauthsession -Q --policy-session -S "$work/s.ctx"
[ $sr = 0 ] && sr tpm2_policysecret -Q -S "$work/s.ctx" -c e
[ $sr = 0 ] && sr tpm2_activatecredential -Q -c "$work/atk-ak.ctx" -C "$work/atk-ek.ctx" -i "$work/forge2.tss" \
    -o "$work/forge2.ans" -P "session:$work/s.ctx" > "$work/atkact.out" 2>&1
grep -q 'TPM_RC_INTEGRITY\|0x9[0-9a-f]f\|integrity' "$work/atkact.out" && echo "tpm-test: note: $(grep -m1 -i 'integrity' "$work/atkact.out")"
check "$([ $sr != 0 ] && [ ! -s "$work/forge2.ans" ]; echo $?)" "the attacker's TPM cannot activate the credential (not its EK)"
tpm_tools_stop
head -c 32 /dev/urandom > "$work/forge2.ans"
sr "$vcli" enroll --storage "$st" hv "$work/soft.pem" --ek-evidence "$work/forge" "${trust[@]}" "${refs[@]}" \
  --state "$work/forge2.state" --answer "$work/forge2.ans" > "$work/forge2a.out" 2>&1
refused $sr forge2a 'not the credential.s secret' "forgery with our EK certificate: a guessed answer"
# A quote from another TPM under our AK: the attacker's quote naming our key,
# with the golden PCRs, next to our EK certificate and AK.
mkdir -p "$work/other"
cp "$work/ev/ek.crt" "$work/ev/ak.pub" "$work/other/"
cp "$work/forge-hv/quote.msg" "$work/forge-hv/quote.sig" "$work/other/"
enroll_ek other "$work/ev/hv-key.pem" "$work/other" "${trust[@]}" "${refs[@]}"
refused $sr other 'signature does not verify with the AK' "a quote from another TPM"
tpm_m mcopy -o "$work/honest.cred" "::/attest-hv/tpm/credential.bin"

# ---- boot 2: the same key, unsealed ------------------------------------------------
tpm_boot b2
expect b2 '^AHV-BOOT: TPM: credential activated; answer written' "loader answers the verifier's credential"
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

# ---- host: EK-rooted enrollment, step 2, then the verifier ---------------------------
sr tpm_m mcopy -n "::/attest-hv/tpm/credential.ans" "$work/honest.ans" 2>/dev/null
check $sr "credential.ans on the ESP"
if "$vcli" enroll --storage "$st" --name tpm-sealed-hv hv "$work/ev/hv-key.pem" --ek-evidence "$work/ev" "${trust[@]}" \
     "${refs[@]}" --state "$work/honest.state" --answer "$work/honest.ans" > "$work/enroll.out" 2>&1; then
  check 0 "the loader's answer proves the AK resident in the certified TPM: key enrolled"
else
  cat "$work/enroll.out"; check 1 "enroll --answer"
fi
"$vcli" keys --storage "$st" > "$work/keys.out"
sr grep -q "^hv .*$id1 .* active tpm-ek" "$work/keys.out"; check $sr "the key's record says tpm-ek"
"$vcli" enroll --storage "$st" --name tpm-guest guest "$work/guest.pub.pem" >/dev/null
# No IOMMU in these machines: the reports carry DMA_UNPROTECTED (docs/iommu.md).
echo '{"version": 1, "allow_unnamed_regions": true, "allow_dma_unprotected": true}' > "$work/policy.json"
for b in 1 2; do
  if "$vcli" verify --storage "$st" --policy "$work/policy.json" --report "$work/rep$b.bin" --request "$work/req$b.bin" \
       > "$work/verify$b.json" 2>&1; then
    check 0 "verifier accepts boot $b's report signed by the enrolled TPM-sealed key"
  else
    cat "$work/verify$b.json"; check 1 "verifier accepts boot $b's report"
  fi
done
# Boot 3 tries the forged AK's credential (made for our EK).
tpm_m mdel "::/attest-hv/tpm/credential.ans" || true
tpm_m mcopy -o "$work/forge2.cred" "::/attest-hv/tpm/credential.bin"

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
expect b3 '^AHV-BOOT: TPM: the credential in .* does not activate' "our TPM cannot answer the forged AK's credential"
sr tpm_m mdir "::/attest-hv/tpm/credential.ans" >/dev/null 2>&1; check "$([ $sr != 0 ]; echo $?)" "no answer on the ESP after boot 3"
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
