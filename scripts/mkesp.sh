#!/usr/bin/env bash
# scripts/mkesp.sh - build an attest-hv ESP folder (the tree a FAT boot
# partition holds) from a built loader and a next stage.
#
#   mkesp.sh --out DIR --loader attest-hv.efi --next FILE [options]
#     --next-path PATH  where the next stage goes on the ESP
#                       (default \attest-hv\next.efi)
#     --args "..."      command line for the next stage
#     --initrd FILE     initrd, put at \attest-hv\initrd.img (Linux EFI stub)
#     --key PEM         enroll a guest public key (repeatable; SPKI PEM)
#     --set "k = v"     extra configuration line (repeatable), see boot/config.h
#     --file SRC:PATH   copy another file onto the ESP at PATH (repeatable)
#
# Layout: \EFI\BOOT\BOOTX64.EFI (the loader), \attest-hv\attest-hv.conf,
# \attest-hv\keys\guestN.pem, the next stage and its initrd.
set -euo pipefail
usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
out='' loader='' next='' next_path='\attest-hv\next.efi' args='' initrd=''
keys=() sets=() files=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --loader) loader=$2; shift 2 ;;
    --next) next=$2; shift 2 ;;
    --next-path) next_path=$2; shift 2 ;;
    --args) args=$2; shift 2 ;;
    --initrd) initrd=$2; shift 2 ;;
    --key) keys+=("$2"); shift 2 ;;
    --set) sets+=("$2"); shift 2 ;;
    --file) files+=("$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "mkesp.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$out" ] && [ -f "$loader" ] && [ -f "$next" ] || { usage >&2; exit 2; }

# ESP path (\a\b) -> host path under $out
hostpath() { printf '%s/%s' "$out" "$(printf '%s' "${1#\\}" | tr '\\' '/')"; }

rm -rf "$out"
mkdir -p "$out/EFI/BOOT" "$out/attest-hv/keys"
cp "$loader" "$out/EFI/BOOT/BOOTX64.EFI"
dst=$(hostpath "$next_path"); mkdir -p "$(dirname "$dst")"; cp "$next" "$dst"
conf="$out/attest-hv/attest-hv.conf"
{
  echo "# attest-hv configuration (written by scripts/mkesp.sh)"
  echo "next = $next_path"
  [ -n "$args" ] && echo "args = $args"
  if [ -n "$initrd" ]; then
    cp "$initrd" "$out/attest-hv/initrd.img"
    echo 'initrd = \attest-hv\initrd.img'
  fi
  i=0
  for k in "${keys[@]}"; do
    id=$(openssl pkey -pubin -in "$k" -outform DER | sha256sum | cut -d' ' -f1)
    cp "$k" "$out/attest-hv/keys/guest$i.pem"
    echo "guest_key = \\attest-hv\\keys\\guest$i.pem $id"
    i=$((i + 1))
  done
  for s in "${sets[@]}"; do echo "$s"; done
  # The loader refuses to start without an IOMMU unless told (docs/iommu.md):
  # emulators here have none unless asked (AHV_QEMU_IOMMU, Bochs never).
  printf '%s\n' "${sets[@]}" | grep -q '^ *dma_protection *=' || echo 'dma_protection = off'
} > "$conf"
for f in "${files[@]}"; do
  src=${f%%:*} p=${f#*:}
  dst=$(hostpath "$p"); mkdir -p "$(dirname "$dst")"; cp "$src" "$dst"
done
echo "mkesp: ESP in $out"
