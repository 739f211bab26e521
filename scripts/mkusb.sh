#!/usr/bin/env bash
# scripts/mkusb.sh - turn an ESP folder (scripts/mkesp.sh) into a GPT disk
# image with one EFI System Partition, ready to be written to a USB stick
# (see docs/usb.md). No root, no loop devices: sgdisk, mkfs.vfat, mtools.
#
#   mkusb.sh --esp DIR --out IMG [--size MIB]
#     --size MIB   image size (default: the ESP's content + 40 MiB, >= 64)
set -euo pipefail
usage() { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; }
esp='' out='' size=''
while [ $# -gt 0 ]; do
  case "$1" in
    --esp) esp=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --size) size=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "mkusb.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -d "$esp" ] && [ -n "$out" ] || { usage >&2; exit 2; }
for t in sgdisk mkfs.vfat mcopy mmd; do
  command -v "$t" >/dev/null || { echo "mkusb.sh: $t missing (apt-get install gdisk dosfstools mtools, or scripts/setup.sh)" >&2; exit 2; }
done
if [ -z "$size" ]; then
  used=$(du -sm "$esp" | cut -f1)
  size=$((used + 40)); [ "$size" -lt 64 ] && size=64
fi
tmp=$(mktemp -d /tmp/ahv-usb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
rm -f "$out"
truncate -s "${size}M" "$out"
# GPT: partition 1 from 1 MiB to the end, type EF00 (EFI System Partition).
sgdisk --clear --new=1:2048:0 --typecode=1:EF00 --change-name=1:"attest-hv ESP" "$out" >/dev/null
first=$(sgdisk -i 1 "$out" | awk '/First sector/{print $3}')
last=$(sgdisk -i 1 "$out" | awk '/Last sector/{print $3}')
sectors=$((last - first + 1))
mkfs.vfat -F 32 -n ATTESTHV -C "$tmp/part.img" $((sectors / 2)) >/dev/null
(cd "$esp" && find . -mindepth 1 -type d | sed 's|^\./||' | sort | while read -r d; do mmd -i "$tmp/part.img" "::/$d"; done)
(cd "$esp" && find . -type f | sed 's|^\./||' | while read -r f; do mcopy -i "$tmp/part.img" "$f" "::/$f"; done)
dd if="$tmp/part.img" of="$out" bs=512 seek="$first" conv=notrunc status=none
echo "mkusb: $out (${size} MiB, GPT, ESP at sector $first)"
