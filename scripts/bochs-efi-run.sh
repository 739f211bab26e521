#!/usr/bin/env bash
# scripts/bochs-efi-run.sh [options] (APP.efi | --esp DIR) - boot a UEFI app
# or ESP under Bochs (Intel model with VMX/EPT; default corei7_skylake_x) with
# Debian's 2 MiB OVMF; judge by serial markers (COM1, and COM2 with --hv-log).
# See docs/bochs.md for the set-up and its pitfalls.
set -euo pipefail
. "$(dirname "$0")/lib/efi-run-common.sh"
cpu='corei7_skylake_x'
efi_run_parse "$@"
# Bochs takes ROM images up to 2 MiB: the 2 MiB OVMF build, VARS then CODE.
for f in /usr/share/OVMF/OVMF_VARS.fd /usr/share/OVMF/OVMF_CODE.fd /usr/share/vgabios/vgabios.bin; do
  [ -f "$f" ] || { echo "bochs-efi-run.sh: $f missing (run scripts/setup.sh)" >&2; exit 2; }
done
cat /usr/share/OVMF/OVMF_VARS.fd /usr/share/OVMF/OVMF_CODE.fd > "$work/ovmf.fd"
# FAT16 disk whose size is a multiple of one 16-head, 63-sector cylinder.
# (docs/bochs.md: Bochs derives the geometry from the size).
[[ "$disk_mb" =~ ^[0-9]+$ ]] || { echo "bochs-efi-run.sh: --disk-mb wants a whole number of MB" >&2; exit 2; }
: "${mem:=512}"
[[ "$mem" =~ ^[0-9]+$ ]] || { echo "bochs-efi-run.sh: --mem wants MiB as a whole number" >&2; exit 2; }
dd if=/dev/zero of="$work/fat.img" bs=516096 count=$(( (disk_mb * 1000000 + 516095) / 516096 )) status=none
mkfs.vfat -F 16 "$work/fat.img" >/dev/null
(cd "$work/esp" && find . -mindepth 1 -type d | sed 's|^\./||' | while read -r d; do mmd -i "$work/fat.img" "::$d"; done
 find . -type f | sed 's|^\./||' | while read -r f; do mcopy -i "$work/fat.img" "$f" "::$f"; done)
cat > "$work/bochsrc" <<RC
display_library: rfb, options="timeout=0"
romimage: file=$work/ovmf.fd, address=0
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=$cpu, count=$smp, ips=50000000, reset_on_triple_fault=0, ignore_bad_msrs=1
memory: guest=$mem, host=$mem
pci: enabled=1, chipset=i440fx
vga: extension=vbe
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path=$work/fat.img, mode=flat
com1: enabled=1, mode=file, dev=$log
${hvlog:+com2: enabled=1, mode=file, dev=$hvlog}
port_e9_hack: enabled=1
log: $work/bochs.log
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
clock: sync=none, time0=local
RC
printf 'c\n' > "$work/dbgcmds"
rm -f "$work/fat.img.lock"
echo "bochs-efi-run: booting $(basename "${app:-$esp_dir}") (cpu $cpu x $smp, timeout ${timeout}s)"
# Bochs has no way to stop on a marker: it runs until the app powers off
# (ACPI soft-off ends Bochs with status 1) or the timeout; a failure marker
# seen on the way stops it early.
timeout "$timeout" bochs-bin -q -f "$work/bochsrc" -rc "$work/dbgcmds" </dev/null >"$work/emu.out" 2>&1 &
bpid=$!
while kill -0 "$bpid" 2>/dev/null; do
  seen=$(sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' "$log" ${hvlog:+"$hvlog"} 2>/dev/null)
  if grep -qE "$fail" <<<"$seen" || { [ "$stop_on_pass" = 1 ] && grep -qE "$pass" <<<"$seen"; }; then
    sleep 2; kill "$bpid" 2>/dev/null || true; break  # it may have powered off meanwhile
  fi
  sleep 1
done
rc=0
wait "$bpid" || rc=$?
# AHV_BOCHS_LOG=FILE keeps Bochs's own log (it names the check a failed VM
# entry broke, for instance).
if [ -n "${AHV_BOCHS_LOG:-}" ]; then cp "$work/bochs.log" "$AHV_BOCHS_LOG" 2>/dev/null || true; fi
efi_run_judge "$rc" "$work/emu.out"
