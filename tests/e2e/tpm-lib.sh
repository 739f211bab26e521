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
