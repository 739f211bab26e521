#!/usr/bin/env bash
# tests/e2e/linux-test.sh - e2e-svm: the hypervisor chain-loads Debian's
# Linux kernel (EFI stub) with an initramfs (scripts/linux-guest.sh); a user
# process attests its own text and a data buffer (CPL3) and tries what CPL3
# must not do; the report is checked on the host against the key the
# hypervisor announced on its log port. Needs AHV_BUILD (the build directory).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
check=$build/tests/e2e/ahv_e2e_report_check
for f in "$loader" "$check"; do [ -f "$f" ] || { echo "linux-test: missing $f (build first)"; exit 1; }; done
guest=$top/.deps/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" 2>&1 | grep -v -E 'statically linked|in function' || true
work=$(mktemp -d /tmp/ahv-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$guest/vmlinuz" \
  --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
  --args "console=ttyS0 loglevel=4 panic=-1 ${AHV_LINUX_ARGS:-}" --key "$guest/guest.pub.pem" >/dev/null
"$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --timeout 400 --log "$work/logs" \
  --pass 'AHV-LINUX: PASS' --pass 'AHV-LINUX: powering off' --fail 'AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-LINUX: FAIL|Kernel panic'
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }
clean "$work/logs/console.log" | grep -E '^AHV-LINUX: (case|attested|discovery)' | sed 's/^/linux-test: /'
clean "$work/logs/console.log" | awk '$1=="AHV-LINUX-REPORT"{print $2}' > "$work/report.hex"
clean "$work/logs/console.log" | awk '$1=="AHV-LINUX-NONCE"{print $2}' > "$work/nonce.hex"
clean "$work/logs/console.log" | awk '$1=="AHV-LINUX-DIGEST0"{print $2}' > "$work/digest0.hex"
clean "$work/logs/hv.log" | awk '$1=="AHV-HV-KEY-SPKI"{print $2}' > "$work/spki.hex"
"$check" "$work/report.hex" "$work/spki.hex" "$work/nonce.hex" "$work/digest0.hex"
