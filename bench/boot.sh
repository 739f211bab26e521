#!/usr/bin/env bash
# bench/boot.sh - `scripts/bench.sh boot`: the same Linux guest (Debian
# kernel + busybox initramfs, scripts/linux-guest.sh) booted under QEMU TCG
# (-cpu EPYC,+svm,+npt, OVMF) to a shell marker and powered off, with and
# without the hypervisor, alternating, in one run. The bare boot uses the
# same loader with `hypervisor = off`, so only the hypervisor differs.
#   BENCH linux_boot_hv_vs_bare <x>   min(hv) / min(bare), QEMU start to
#                                      guest power-off (other load on the
#                                      machine only ever adds time, so the
#                                      fastest run of each is the estimate;
#                                      medians are printed as a comment)
#   BENCH linux_boot_exits <count>    #VMEXITs during one boot (the
#                                      hypervisor's counters at power-off)
# Env: BUILD (from scripts/bench.sh), AHV_BOOT_RUNS (pairs, default 3).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build-bench}
runs=${AHV_BOOT_RUNS:-3}
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "bench/boot.sh: $loader missing (build first)" >&2; exit 1; }
guest=$top/.deps/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" >/dev/null 2>&1 || { echo "bench/boot.sh: scripts/linux-guest.sh failed" >&2; exit 1; }
work=$(mktemp -d /tmp/ahv-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# make_disk NAME [--set 'key = value' ...]: $work/disk-NAME.img, the Linux
# guest behind the loader with these configuration settings. A GPT disk
# image: the firmware reads the kernel much faster than from QEMU's virtual
# FAT folder, which would otherwise dominate both boots.
make_disk() {
  local v=$1; shift
  "$top/scripts/mkesp.sh" --out "$work/esp-$v" --loader "$loader" --next "$guest/vmlinuz" \
    --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
    --args "console=ttyS0 loglevel=4 panic=-1 ahv=bench" --key "$guest/guest.pub.pem" \
    --set 'dev_key = allow' "$@" >/dev/null
  "$top/scripts/mkusb.sh" --esp "$work/esp-$v" --out "$work/disk-$v.img" >/dev/null
}
make_disk hv
make_disk bare --set 'hypervisor = off'
hv_t=() bare_t=() exits=''
for i in $(seq "$runs"); do
  for v in hv bare; do
    pass=(--pass 'AHV-LINUX: shell reached')
    [ "$v" = hv ] && pass+=(--pass 'AHV-HV-EXITS total')
    out=$("$top/scripts/qemu-svm-run.sh" --disk "$work/disk-$v.img" --timeout 300 --until-exit --quiet \
           --log "$work/log-$v" "${pass[@]}") || { echo "bench/boot.sh: $v boot failed:" >&2; echo "$out" >&2; exit 1; }
    t=$(sed -n 's/.*PASS (\([0-9.]*\)s).*/\1/p' <<<"$out")
    if [ "$v" = hv ]; then
      hv_t+=("$t")
      exits=$(sed -e 's/\r//g' "$work/log-hv/hv.log" | sed -n 's/^AHV-HV-EXITS total \([0-9]*\):.*/\1/p' | tail -n 1)
      detail=$(sed -e 's/\r//g' "$work/log-hv/hv.log" | grep '^AHV-HV-EXITS' | tail -n 1)
    else
      bare_t+=("$t")
    fi
    echo "# run $i $v ${t}s" >&2
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
mh=$(median "${hv_t[@]}") mb=$(median "${bare_t[@]}")
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
nh=$(minimum "${hv_t[@]}") nb=$(minimum "${bare_t[@]}")
echo "# load average now: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine adds noise)"
echo "# linux boot to shell + power-off, $runs runs each: hv min ${nh}s median ${mh}s; bare min ${nb}s median ${mb}s"
echo "# $detail"
awk -v h="$nh" -v b="$nb" 'BEGIN{printf "BENCH linux_boot_hv_vs_bare %.3f x\n", h/b}'
echo "BENCH linux_boot_exits $exits count"

# ---- 4 CPUs (docs/smp.md): smp = on, every CPU under the hypervisor, against
# the bare boot with the same 4 CPUs.
#   BENCH linux_boot_smp4_hv_vs_bare <x>   min(hv) / min(bare), as above
make_disk smphv --set 'smp = on'
make_disk smpbare --set 'hypervisor = off'
shv_t=() sbare_t=()
for i in $(seq "$runs"); do
  for v in smphv smpbare; do
    out=$("$top/scripts/qemu-svm-run.sh" --disk "$work/disk-$v.img" --smp 4 --timeout 300 --until-exit --quiet \
           --log "$work/log-$v" --pass 'AHV-LINUX: shell reached') || { echo "bench/boot.sh: $v boot failed:" >&2; echo "$out" >&2; exit 1; }
    t=$(sed -n 's/.*PASS (\([0-9.]*\)s).*/\1/p' <<<"$out")
    if [ "$v" = smphv ]; then shv_t+=("$t"); else sbare_t+=("$t"); fi
    echo "# run $i $v ${t}s" >&2
  done
done
nh=$(minimum "${shv_t[@]}") nb=$(minimum "${sbare_t[@]}")
echo "# 4 CPUs, linux boot to shell + power-off, $runs runs each: hv min ${nh}s median $(median "${shv_t[@]}")s; bare min ${nb}s median $(median "${sbare_t[@]}")s"
awk -v h="$nh" -v b="$nb" 'BEGIN{printf "BENCH linux_boot_smp4_hv_vs_bare %.3f x\n", h/b}'
