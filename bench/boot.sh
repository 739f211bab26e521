#!/usr/bin/env bash
# bench/boot.sh - `scripts/bench.sh boot`: the same Linux guest (Debian
# kernel + busybox initramfs, scripts/linux-guest.sh) booted to its init and
# powered off, with and without the hypervisor, alternating, in one run. The
# bare boot uses the same loader with `hypervisor = off`, so only the
# hypervisor differs. docs/benchmarks.md explains the method.
#
# Headline: virtual time. The initramfs init runs tests/e2e/linux/ahv-vtime
# first and just before power-off; it prints the guest's TSC, which under
# QEMU -icount and under Bochs (`clock: sync=none`) counts executed
# instructions (and skipped idle time) from machine reset: firmware,
# hypervisor and kernel, and not the host's load. Ratios are min(hv)/min(bare)
# of the virtual time at power-off; wall time is printed beside it.
#   BENCH linux_boot_hv_vs_bare <x>       QEMU TCG, EPYC,+svm,+npt, 1 CPU
#   BENCH linux_boot_exits <count>        #VMEXITs during that boot
#   BENCH linux_boot_smp4_hv_vs_bare <x>  the same with 4 CPUs, smp = on; in
#                                         WALL time (min/min): 4 CPUs under
#                                         -icount do not boot in reasonable
#                                         time (docs/benchmarks.md)
#   BENCH linux_boot_vmx_hv_vs_bare <x>   Bochs, VT-x, one CPU model
#   BENCH linux_boot_iommu_hv_vs_bare <x> as linux_boot_hv_vs_bare with QEMU's
#                                         intel-iommu on both sides (the
#                                         hypervisor takes it, docs/iommu.md)
#   BENCH linux_boot_watch_vs_bare <x>    as linux_boot_hv_vs_bare, the init
#                                         first running `attest-hv attest
#                                         --watch` over the CLI's .text, which
#                                         stays watched to power-off (both
#                                         sides run it; bare it finds no
#                                         hypervisor; docs/watch.md)
# Env: BUILD (from scripts/bench.sh); AHV_BOOT_RUNS (QEMU runs per side,
# default 3); AHV_BOOT_ICOUNT (QEMU -icount, default shift=3,sleep=off);
# AHV_BOOT_VMX_RUNS (Bochs runs per side, default 2); AHV_BOOT_VMX_MODEL
# (default corei7_haswell_4770); AHV_BOOT_PARTS (any of: qemu smp4 vmx
# iommu watch; default all five).
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,28p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$top/build-bench}
runs=${AHV_BOOT_RUNS:-3}
icount=${AHV_BOOT_ICOUNT:-shift=3,sleep=off}
vmx_runs=${AHV_BOOT_VMX_RUNS:-2}
vmx_model=${AHV_BOOT_VMX_MODEL:-corei7_haswell_4770}
parts=" ${AHV_BOOT_PARTS:-qemu smp4 vmx iommu watch} "
loader=$build/boot/attest-hv-loader.efi
[ -f "$loader" ] || { echo "bench/boot.sh: $loader missing (build first)" >&2; exit 1; }
guest=$top/.deps/linux-guest
"$top/scripts/linux-guest.sh" --out "$guest" --build "$build" >/dev/null 2>&1 ||
  { echo "bench/boot.sh: scripts/linux-guest.sh failed" >&2; exit 1; }
work=$(mktemp -d /tmp/ahv-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
trap 'exit 143' TERM INT

# make_esp NAME [--set 'key = value' ...]: $work/esp-NAME, the Linux guest
# behind the loader with these configuration settings.
make_esp() {
  local v=$1; shift
  "$top/scripts/mkesp.sh" --out "$work/esp-$v" --loader "$loader" --next "$guest/vmlinuz" \
    --next-path '\attest-hv\vmlinuz.efi' --initrd "$guest/initrd.img" \
    --args "console=ttyS0 loglevel=4 panic=-1 ahv=bench ${bench_args:-}" --key "$guest/guest.pub.pem" \
    --set 'dev_key = allow' "$@" >/dev/null
}
# make_disk NAME [--set ...]: also $work/disk-NAME.img, a GPT disk image (the
# firmware reads the kernel much faster than from QEMU's virtual FAT folder).
make_disk() {
  make_esp "$@"
  "$top/scripts/mkusb.sh" --esp "$work/esp-$1" --out "$work/disk-$1.img" >/dev/null
}
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$@" 2>/dev/null; }
# tsc LOG LABEL: the TSC ahv-vtime printed at LABEL (init or poweroff).
tsc() { clean "$1" | sed -n "s/^AHV-VTIME $2 tsc=\([0-9]*\).*/\1/p" | tail -n 1; }
kernel_tsc() { clean "$1" | sed -n 's/^AHV-VTIME poweroff .*kernel_tsc="\(.*\)"$/\1/p' | tail -n 1; }
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
minimum() { printf '%s\n' "$@" | sort -g | head -n 1; }
# spread V...: (max - min) / min, in percent.
spread() { printf '%s\n' "$@" | sort -g | awk 'NR==1{m=$1} {x=$1} END{printf "%.3f%%", m ? 100*(x-m)/m : 0}'; }
secs() { awk -v t="$1" -v hz="$2" 'BEGIN{printf "%.4f", t/hz}'; }

# report METRIC WHAT HZ: the comment lines and the BENCH line of one pair of
# sides, from the arrays vt_init_hv vt_off_hv wall_hv and the same for bare.
report() {
  local metric=$1 what=$2 hz=$3 s
  echo "# $what, ${#vt_off_hv[@]} runs each; virtual time = guest TSC / $hz Hz"
  for s in hv bare; do
    local -n vi=vt_init_$s vo=vt_off_$s wl=wall_$s
    local list='' t
    for t in "${vo[@]}"; do list+=" $(secs "$t" "$hz")"; done
    echo "#   $s: virtual s to init $(secs "$(minimum "${vi[@]}")" "$hz"), to power-off$list" \
         "(spread $(spread "${vo[@]}")); wall s min $(minimum "${wl[@]}") median $(median "${wl[@]}")"
  done
  awk -v h="$(minimum "${wall_hv[@]}")" -v b="$(minimum "${wall_bare[@]}")" \
    'BEGIN{printf "#   wall-time ratio hv/bare (min/min, moves with the machine'"'"'s load): %.3f x\n", h/b}'
  awk -v h="$(minimum "${vt_init_hv[@]}")" -v b="$(minimum "${vt_init_bare[@]}")" \
    'BEGIN{printf "#   virtual-time ratio hv/bare at init: %.4f x\n", h/b}'
  awk -v h="$(minimum "${vt_off_hv[@]}")" -v b="$(minimum "${vt_off_bare[@]}")" -v m="$metric" \
    'BEGIN{printf "BENCH %s %.4f x\n", m, h/b}'
}

# qemu_pair SMP HV_NAME BARE_NAME ICOUNT: runs alternating QEMU boots (TCG,
# with -icount ICOUNT unless empty) and fills the arrays of report().
qemu_pair() {
  local smp=$1 hvn=$2 baren=$3 ic=$4 i v out t
  local icargs=(); [ -z "$ic" ] || icargs=(--icount "$ic")
  vt_init_hv=() vt_off_hv=() wall_hv=() vt_init_bare=() vt_off_bare=() wall_bare=()
  for i in $(seq "$runs"); do
    for v in hv bare; do
      local name=$hvn; [ "$v" = bare ] && name=$baren
      local pass=(--pass 'AHV-VTIME poweroff')
      [ "$name" = hv ] && pass+=(--pass 'AHV-HV-EXITS total')
      out=$(AHV_QEMU_EXTRA="${AHV_QEMU_EXTRA:-} $qemu_fixed" \
             "$top/scripts/qemu-svm-run.sh" --accel tcg "${icargs[@]}" --disk "$work/disk-$name.img" \
             --smp "$smp" --timeout 600 --until-exit --quiet --log "$work/log-$name" "${pass[@]}") ||
        { echo "bench/boot.sh: $name boot failed:" >&2; echo "$out" >&2; exit 1; }
      local -n vi=vt_init_$v vo=vt_off_$v wl=wall_$v
      wl+=("$(sed -n 's/.*PASS (\([0-9.]*\)s).*/\1/p' <<<"$out")")
      vi+=("$(tsc "$work/log-$name/console.log" init)")
      vo+=("$(tsc "$work/log-$name/console.log" poweroff)")
      [ -n "${vi[-1]}" ] && [ -n "${vo[-1]}" ] ||
        { echo "bench/boot.sh: $name: no AHV-VTIME lines on the console" >&2; exit 1; }
      if [ "$name" = hv ]; then
        exits=$(clean "$work/log-hv/hv.log" | sed -n 's/^AHV-HV-EXITS total \([0-9]*\):.*/\1/p' | tail -n 1)
        detail=$(clean "$work/log-hv/hv.log" | grep '^AHV-HV-EXITS' | tail -n 1)
      fi
      echo "# run $i $name: wall ${wl[-1]}s, TSC at init ${vi[-1]}, at power-off ${vo[-1]}" >&2
    done
  done
  echo "# guest kernel's TSC calibration: $(kernel_tsc "$work/log-$baren/console.log")"
}

echo "# load average now: $(cut -d' ' -f1-3 /proc/loadavg) (it moves wall time, not virtual time)"
# QEMU's TSC under -icount counts virtual nanoseconds. The guest's random
# numbers (RDRAND, the firmware's RNG, KASLR) and its wall-clock date come
# from the host unless fixed: fix them, so that both sides run the same code.
qemu_fixed='-seed 1 -rtc base=2020-01-01T00:00:00,clock=vm'
if [[ $parts == *" qemu "* ]]; then
  make_disk hv
  make_disk bare --set 'hypervisor = off'
  exits='' detail=''
  qemu_pair 1 hv bare "$icount"
  echo "# $detail"
  report linux_boot_hv_vs_bare "QEMU 1 CPU (TCG -icount $icount, EPYC,+svm,+npt), boot to init + power-off" 1000000000
  echo "BENCH linux_boot_exits $exits count"
fi

# ---- the same boot with intel-iommu present on both sides (docs/iommu.md):
# under the hypervisor the unit translates (one second-stage table); bare,
# it is Linux's to use. The disk is q35's on-board AHCI, not behind the unit.
if [[ $parts == *" iommu "* ]]; then
  [ -f "$work/disk-hv.img" ] || make_disk hv
  [ -f "$work/disk-bare.img" ] || make_disk bare --set 'hypervisor = off'
  exits='' detail=''
  AHV_QEMU_EXTRA="${AHV_QEMU_EXTRA:-} -device intel-iommu,aw-bits=48" qemu_pair 1 hv bare "$icount"
  grep -aq '^AHV-HV-IOMMU: DMA protection on' "$work/log-hv/hv.log" ||
    { echo "bench/boot.sh: the hypervisor did not take the IOMMU" >&2; exit 1; }
  echo "# $detail"
  report linux_boot_iommu_hv_vs_bare "QEMU 1 CPU with intel-iommu (TCG -icount $icount, EPYC,+svm,+npt), boot to init + power-off" 1000000000
fi

# ---- watched regions (docs/watch.md): the CLI's .text watched from the
# start of init to power-off, against the bare boot running the same init.
if [[ $parts == *" watch "* ]]; then
  bench_args=ahv_bench=watch make_disk watchhv
  bench_args=ahv_bench=watch make_disk watchbare --set 'hypervisor = off'
  exits='' detail=''
  qemu_pair 1 watchhv watchbare "$icount"
  clean "$work/log-watchhv/console.log" | grep -q '^AHV-LINUX: bench watch: watch [0-9]* active' ||
    { echo "bench/boot.sh: the watch did not start:" >&2; clean "$work/log-watchhv/console.log" | grep 'bench watch' >&2; exit 1; }
  echo "# $(clean "$work/log-watchhv/console.log" | grep -m1 '^AHV-LINUX: bench watch')"
  echo "# $(clean "$work/log-watchhv/hv.log" | grep '^AHV-HV-EXITS' | tail -n 1)"
  report linux_boot_watch_vs_bare "QEMU 1 CPU (TCG -icount $icount, EPYC,+svm,+npt), the CLI's .text watched from init to power-off" 1000000000
fi

# ---- 4 CPUs (docs/smp.md): smp = on, every CPU under the hypervisor, against
# the bare boot with the same 4 CPUs.
if [[ $parts == *" smp4 "* ]]; then
  make_disk smphv --set 'smp = on'
  make_disk smpbare --set 'hypervisor = off'
  # Not under -icount: with 4 CPUs, TCG runs them round-robin on one
  # thread and every CPU's instructions (spin-waits included) advance the
  # one clock; at shift=3 the loader's 20 s MP-services time-out expires
  # before the third AP is under the hypervisor, at shift=1 one boot took
  # over 6 minutes without reaching init. So this ratio is wall time.
  qemu_pair 4 smphv smpbare ''
  echo "# QEMU 4 CPUs (TCG without -icount, EPYC,+svm,+npt, smp = on), boot to init + power-off, ${#wall_hv[@]} runs each: WALL time, not virtual (it moves with the machine's load)"
  echo "#   hv: wall s min $(minimum "${wall_hv[@]}") median $(median "${wall_hv[@]}"); bare: wall s min $(minimum "${wall_bare[@]}") median $(median "${wall_bare[@]}")"
  awk -v h="$(minimum "${wall_hv[@]}")" -v b="$(minimum "${wall_bare[@]}")" \
    'BEGIN{printf "BENCH linux_boot_smp4_hv_vs_bare %.3f x\n", h/b}'
fi

# ---- VT-x under Bochs: one CPU model, the runner's instruction-driven clock
# (clock: sync=none): the TSC counts ticks of its `ips` setting.
if [[ $parts == *" vmx "* ]]; then
  ips=$(sed -n 's/^cpu: .*ips=\([0-9]*\).*/\1/p' "$top/scripts/bochs-efi-run.sh" | head -n 1)
  [ -n "$ips" ] || { echo "bench/boot.sh: cannot read ips= from scripts/bochs-efi-run.sh" >&2; exit 1; }
  grep -q '^clock: sync=none' "$top/scripts/bochs-efi-run.sh" ||
    { echo "bench/boot.sh: scripts/bochs-efi-run.sh no longer sets clock: sync=none" >&2; exit 1; }
  make_esp vmxhv
  make_esp vmxbare --set 'hypervisor = off'
  vt_init_hv=() vt_off_hv=() wall_hv=() vt_init_bare=() vt_off_bare=() wall_bare=()
  # bochs_run NAME SIDE: one boot; on failure sets SIDE_failed to the reason.
  hv_failed='' bare_failed=''
  bochs_run() {
    local name=$1 v=$2 t0 t1 out rc=0 why
    t0=$(date +%s.%N)
    out=$("$top/scripts/bochs-efi-run.sh" --esp "$work/esp-$name" --cpu "$vmx_model" --mem 1024 --disk-mb 70 \
           --timeout 900 --log "$work/$name.log" --hv-log "$work/$name-hv.log" --stop-on-pass \
           --pass 'AHV-VTIME poweroff' \
           --fail 'AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|Kernel panic|AHV-LINUX: FAIL') || rc=$?
    t1=$(date +%s.%N)
    local -n vi=vt_init_$v vo=vt_off_$v wl=wall_$v fl=${v}_failed
    local ti to
    ti=$(tsc "$work/$name.log" init) to=$(tsc "$work/$name.log" poweroff)
    if [ "$rc" != 0 ] || [ -z "$ti" ] || [ -z "$to" ]; then
      why=$(clean "$work/$name.log" "$work/$name-hv.log" |
            grep -m1 -E 'AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|Kernel panic|AHV-LINUX: FAIL' || true)
      # A kernel oops: add its trap and RIP lines.
      why+=$(clean "$work/$name.log" | grep -m2 -E '\[#[0-9]+\]|\] RIP: ' | sed 's/^\[ *[0-9.]*\] */; /' | tr -d '\n' || true)
      [ -n "$why" ] || why="no marker: $(grep -m1 -E 'timed out|exited' <<<"$out" || echo "exit status $rc")"
      [ -z "$ti" ] || why="$why (it had reached init: TSC $ti)"
      fl=$why
      echo "# $name run failed; console tail:" >&2; clean "$work/$name.log" | tail -n 15 | sed 's/^/#   /' >&2
      return 0
    fi
    wl+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')") vi+=("$ti") vo+=("$to")
    echo "# run $name: wall ${wl[-1]}s, TSC at init $ti, at power-off $to" >&2
  }
  for i in $(seq "$vmx_runs"); do
    # A failed hypervisor run is not repeated; the bare runs go on, to show
    # the bare time and its run-to-run spread.
    [ -n "$hv_failed" ] || bochs_run vmxhv hv
    bochs_run vmxbare bare
    [ -z "$bare_failed" ] || break
  done
  [ -z "$bare_failed" ] || echo "# linux_boot_vmx: bare run failed: $bare_failed"
  [ -z "$hv_failed" ] || echo "# linux_boot_vmx: hypervisor run failed: $hv_failed"
  if [ "${#vt_off_bare[@]}" -gt 0 ]; then
    echo "# guest kernel's TSC calibration ($vmx_model): $(kernel_tsc "$work/vmxbare.log")"
    if [ -n "$hv_failed" ]; then
      list=''
      for t in "${vt_off_bare[@]}"; do list+=" $(secs "$t" "$ips")"; done
      echo "#   bare ($vmx_model): virtual s to init $(secs "$(minimum "${vt_init_bare[@]}")" "$ips"), to power-off$list" \
           "(spread $(spread "${vt_off_bare[@]}")); wall s min $(minimum "${wall_bare[@]}") median $(median "${wall_bare[@]}")"
    fi
  fi
  if [ -z "$hv_failed$bare_failed" ]; then
    report linux_boot_vmx_hv_vs_bare "Bochs $vmx_model 1 CPU (VT-x + EPT, clock: sync=none, ips=$ips), boot to init + power-off" "$ips"
  fi
fi
