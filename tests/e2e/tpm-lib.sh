# tests/e2e/tpm-lib.sh - shared by the e2e-tpm tests (sourced, not run).
# A GPT disk image with a real FAT ESP (writes by the firmware to QEMU's
# vvfat "fat:rw:" drives are unreliable), swtpm per boot on one state
# directory (the TPM survives "power cycles"), QEMU TCG with SVM + NPT, and
# mtools to read back what the loader wrote. Needs AHV_BUILD, $work.
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
payload=$build/tests/e2e/tpm/ahv_e2e_tpm_payload.efi
vcli=$build/verifier/attest-verifier
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
ESP_OFF=$((2048 * 512)) # mkusb.sh: the ESP starts at sector 2048

tpm_need() {
  for f in "$loader" "$payload"; do [ -f "$f" ] || { echo "tpm-test: missing $f (build first)"; exit 1; }; done
  for t in qemu-system-x86_64 mcopy sgdisk mkfs.vfat openssl; do
    command -v "$t" >/dev/null || { echo "tpm-test: SKIP: $t missing"; exit 77; }
  done
  [ -f "$code" ] || { echo "tpm-test: SKIP: $code missing"; exit 77; }
}

# A throwaway guest key: public half enrolled, private scalar for the payload.
tpm_guest_key() {
  openssl ecparam -name prime256v1 -genkey -noout -out "$work/guest.key" 2>/dev/null
  openssl ec -in "$work/guest.key" -pubout -out "$work/guest.pub.pem" 2>/dev/null
  openssl ec -in "$work/guest.key" -noout -text 2>/dev/null |
    awk '/^priv:/{p=1; next} /^pub:/{p=0} p' | tr -d ' :\n' | tail -c 64 > "$work/guest.hex"
}

# tpm_disk OUT.img [mkesp.sh --set lines...]
tpm_disk() {
  local out=$1; shift
  local sets=()
  for s in "$@"; do sets+=(--set "$s"); done
  rm -rf "$work/esp"
  "$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$payload" \
    --next-path '\attest-hv\tpm-payload.efi' --key "$work/guest.pub.pem" \
    --file "$work/guest.hex:\\attest-hv\\test\\guest.hex" "${sets[@]}" >/dev/null
  "$top/scripts/mkusb.sh" --esp "$work/esp" --out "$out" >/dev/null
}

# mtools on the ESP inside the image: tpm_m CMD ARGS... (paths as ::/a/b)
tpm_m() { local c=$1; shift; MTOOLS_SKIP_CHECK=1 "$c" -i "$disk@@$ESP_OFF" "$@"; }

clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }

# tpm_boot NAME [--no-tpm]: boot $disk once (swtpm on $work/tpmstate), logs in
# $work/NAME.con (COM1) and $work/NAME.hv (COM2). The payload powers the
# machine off at the end; a stuck boot ends at the timeout.
tpm_boot() {
  local name=$1 notpm=${2:-} tpmargs=() spid=''
  mkdir -p "$work/tpmstate"
  cp "$vars" "$work/vars.fd"
  if [ "$notpm" != --no-tpm ]; then
    local sock="$work/swtpm.sock"
    rm -f "$sock"
    swtpm socket --tpm2 --tpmstate dir="$work/tpmstate" --ctrl type=unixio,path="$sock" \
      --flags startup-clear --log file="$work/swtpm.log" &
    spid=$!
    for _ in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
    tpmargs=(-chardev socket,id=chrtpm,path="$sock" -tpmdev emulator,id=tpm0,chardev=chrtpm -device tpm-tis,tpmdev=tpm0)
  fi
  echo "tpm-test: boot '$name'${notpm:+ (no TPM)}"
  timeout "${AHV_TPM_BOOT_TIMEOUT:-420}" qemu-system-x86_64 -machine q35 -accel tcg -cpu EPYC,+svm,+npt -m 1024 -smp 1 \
    -drive if=pflash,format=raw,unit=0,readonly=on,file="$code" \
    -drive if=pflash,format=raw,unit=1,file="$work/vars.fd" \
    -drive format=raw,file="$disk" -net none -display none -monitor none -no-reboot \
    "${tpmargs[@]}" -serial file:"$work/$name.con" -serial file:"$work/$name.hv" </dev/null >"$work/$name.qemu" 2>&1 || true
  if [ -n "$spid" ]; then kill "$spid" 2>/dev/null || true; wait "$spid" 2>/dev/null || true; fi
  clean "$work/$name.con" > "$work/$name.txt"
  clean "$work/$name.hv" >> "$work/$name.txt"
  grep -E '^AHV-BOOT: (TPM|signing key|ERROR)|^AHV-TPM-E2E: |^AHV-HV: signing' "$work/$name.txt" | sed "s/^/  [$name] /" || true
}

fails=0
# expect NAME REGEX what
expect() {
  if grep -qE "$2" "$work/$1.txt"; then echo "tpm-test: ok   [$1] $3"
  else echo "tpm-test: FAIL [$1] $3 (no line matching '$2')"; fails=$((fails + 1)); fi
}
expect_not() {
  if grep -qE "$2" "$work/$1.txt"; then echo "tpm-test: FAIL [$1] $3 (found '$2')"; fails=$((fails + 1))
  else echo "tpm-test: ok   [$1] $3"; fi
}
check() { # check COND-STATUS what
  if [ "$1" = 0 ]; then echo "tpm-test: ok   $2"; else echo "tpm-test: FAIL $2"; fails=$((fails + 1)); fi
}
hexof() { awk -v t="$2" '$1==t{printf "%s", $2}' "$work/$1.txt"; }

# ---- EK-rooted enrollment (docs/operator-verifier.md "Enrollment") ---------------
# tpm_manufacture STATEDIR CADIR: a TPM "from the factory": swtpm_setup makes
# its EK (RSA 2048, Template L-1) and an EK certificate in NV 0x01c00002,
# signed by the local CA in CADIR (made on first use: a root,
# swtpm-localca-rootca-cert.pem, and an intermediate, issuercert.pem).
tpm_manufacture() {
  local st=$1 ca=$2
  mkdir -p "$st" "$ca"
  cat > "$ca/localca.conf" <<EOC
statedir = $ca
signingkey = $ca/signkey.pem
issuercert = $ca/issuercert.pem
certserial = $ca/certserial
EOC
  cat > "$ca/setup.conf" <<EOC
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $ca/localca.conf
create_certs_tool_options = /etc/swtpm-localca.options
active_pcr_banks = sha256
EOC
  swtpm_setup --tpm2 --tpmstate "$st" --create-ek-cert --create-platform-cert --config "$ca/setup.conf" \
    --overwrite > "$ca/setup.log" 2>&1
}

# tpm_tools_start STATEDIR: swtpm on TCP for tpm2-tools (TPM2TOOLS_TCTI set);
# tpm_tools_stop ends it. tpm_t CMD ARGS... runs a tool and flushes the
# transient objects it leaves (swtpm has 3 slots, no resource manager).
tpm_tools_start() {
  local port=$((20000 + RANDOM % 20000))
  swtpm socket --tpm2 --tpmstate dir="$1" --server type=tcp,port=$port --ctrl type=tcp,port=$((port + 1)) \
    --flags startup-clear,not-need-init --log file="$work/swtpm-tools.log" &
  tools_pid=$!
  export TPM2TOOLS_TCTI="swtpm:host=127.0.0.1,port=$port"
  for _ in $(seq 1 50); do tpm2_getrandom 4 >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
tpm_tools_stop() { kill "$tools_pid" 2>/dev/null || true; wait "$tools_pid" 2>/dev/null || true; unset TPM2TOOLS_TCTI; }
tpm_t() { "$@" && tpm2_flushcontext -t >/dev/null 2>&1; }

# tpm_forge_quote OUTDIR KEY.pem EVENTLOG: in the TPM of tpm_tools_start,
# replay the event log's PCR 0/4/8 events (golden values), make a primary
# restricted ECDSA AK and quote PCRs 0, 4, 8 with SHA-256(SPKI of KEY.pem) as
# qualifying data: OUTDIR gets ak.pem, ak.pub (TPMT_PUBLIC), quote.msg,
# quote.sig, pcrs.bin (the PCRs read back), and ek.crt (this TPM's own).
tpm_forge_quote() {
  local out=$1 key=$2 log=$3 q
  mkdir -p "$out"
  "$top/tests/e2e/tpm/eventlog_replay.py" "$log" > "$out/events.txt" || return 1
  while read -r pcr d; do tpm2_pcrextend "$pcr:sha256=$d" || return 1; done < "$out/events.txt"
  q=$(openssl pkey -pubin -in "$key" -outform DER | sha256sum | cut -c1-64)
  tpm_t tpm2_createprimary -Q -C o -G ecc256:ecdsa-sha256:null -c "$out/ak.ctx" \
    -a 'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|restricted|sign|noda' &&
  tpm_t tpm2_readpublic -Q -c "$out/ak.ctx" -f tss -o "$out/ak.tss" &&
  tpm_t tpm2_readpublic -Q -c "$out/ak.ctx" -f pem -o "$out/ak.pem" &&
  tail -c +3 "$out/ak.tss" > "$out/ak.pub" &&
  tpm_t tpm2_quote -Q -c "$out/ak.ctx" -l sha256:0,4,8 -q "$q" -g sha256 -m "$out/quote.msg" -s "$out/quote.sig" &&
  tpm2_pcrread -Q sha256:0,4,8 -o "$out/pcrs.bin" &&
  { tpm2_nvread -Q 0x1c00002 -C 0x1c00002 -o "$out/ek.crt" 2>/dev/null || true; }
}
