#!/usr/bin/env bash
# scripts/qemu-svm-run.sh - boot an attest-hv ESP folder or disk image in QEMU
# (TCG with AMD SVM + NPT, or KVM with nested virtualization) and Debian's
# OVMF; judge by serial markers.
#
#   qemu-svm-run.sh [options] (--esp DIR | --disk IMG [--usb])
#     --pass REGEX     success marker on the guest console (COM1) or the
#                      hypervisor log (COM2); repeatable: all must appear
#     --fail REGEX     failure marker (default: AHV-PANIC|AHV-BOOT: ERROR|
#                      AHV-GUEST-SHUTDOWN|FAIL)
#     --timeout SEC    wall-clock limit (default 180)
#     --accel MODE     kvm, tcg or auto (default: $AHV_ACCEL, else tcg); kvm
#                      uses -cpu host and needs nested virtualization (see
#                      docs/ci-nested-kvm.md); auto picks kvm where it can
#     --cpu MODEL      default EPYC,+svm,+npt (tcg), host (kvm)
#     --icount SPEC    QEMU -icount SPEC (tcg only), e.g. shift=0,sleep=off:
#                      virtual time driven by executed instructions
#     --dry-run        print the accelerator and the QEMU command, run nothing
#     --mem MIB        default 1024
#     --smp N          number of CPUs (default 1)
#     --log DIR        keep console.log and hv.log here (default: temp dir)
#     --net            QEMU user networking (virtio-net)
#     --usb            attach --disk as a USB mass-storage stick (qemu-xhci)
#     --quiet          print only the verdict
#     --until-exit     after the pass markers, wait for the guest to power off
# COM1 (guest console, and OVMF's) goes to console.log, COM2 (the hypervisor
# log port 0x2F8) to hv.log. The run ends when the guest powers off, when
# every pass marker was seen (then QEMU is stopped), or at the timeout.
# Exit status: 0 pass; 1 fail or timeout (the log tails are printed); 2 usage
# (or --accel kvm where KVM cannot nest).
# Environment: AHV_QEMU_EXTRA, more QEMU arguments (appended); AHV_QEMU_IOMMU
# =intel, -device intel-iommu,aw-bits=48 before every -device, so that they
# are behind it (docs/iommu.md; the on-board AHCI of q35 never is); =amd,
# -device amd-iommu there instead (AMD-Vi).
set -euo pipefail
usage() { sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; }
. "$(dirname "$0")/lib/qemu-accel.sh"
passes=() fail='AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-E2E: FAIL|AHV-LINUX: FAIL'
timeout=180 cpu='' mem=1024 smp=1 logdir='' esp='' disk='' usb=0 net=0 quiet=0 until_exit=0
accel=${AHV_ACCEL:-tcg} icount='' dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pass) passes+=("$2"); shift 2 ;;
    --fail) fail=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --cpu) cpu=$2; shift 2 ;;
    --accel) accel=$2; shift 2 ;;
    --icount) icount=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --log) logdir=$2; shift 2 ;;
    --esp) esp=$2; shift 2 ;;
    --disk) disk=$2; shift 2 ;;
    --usb) usb=1; shift ;;
    --net) net=1; shift ;;
    --quiet) quiet=1; shift ;;
    --until-exit) until_exit=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "qemu-svm-run.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$esp$disk" ] || { usage >&2; exit 2; }
qemu_accel_select qemu-svm-run.sh "$accel"
if [ "$qemu_accel" = kvm ]; then
  [ -z "$icount" ] || { echo "qemu-svm-run.sh: --icount needs --accel tcg (KVM runs real instructions)" >&2; exit 2; }
  : "${cpu:=host}"
else
  : "${cpu:=EPYC,+svm,+npt}"
fi
icount_args=()
[ -z "$icount" ] || icount_args=(-icount "$icount")
code=/usr/share/OVMF/OVMF_CODE_4M.fd vars=/usr/share/OVMF/OVMF_VARS_4M.fd
[ -f "$code" ] || { echo "qemu-svm-run.sh: $code missing (apt-get install ovmf, or run scripts/setup.sh)" >&2; exit 2; }
work=$(mktemp -d /tmp/ahv-svm.XXXXXX)
trap 'rm -rf "$work"' EXIT
[ -n "$logdir" ] || logdir=$work
mkdir -p "$logdir"
con="$logdir/console.log" hvl="$logdir/hv.log"
: >"$con"; : >"$hvl"
cp "$vars" "$work/vars.fd"

drive=()
if [ -n "$esp" ]; then
  drive=(-drive "format=raw,file=fat:rw:$esp")
elif [ "$usb" = 1 ]; then
  cp "$disk" "$work/disk.img"   # QEMU may write; keep the caller's image pristine
  drive=(-drive "if=none,id=stick,format=raw,file=$work/disk.img" -device qemu-xhci,id=xhci -device usb-storage,bus=xhci.0,drive=stick)
else
  cp "$disk" "$work/disk.img"
  drive=(-drive "format=raw,file=$work/disk.img")
fi
iommu=()
case "${AHV_QEMU_IOMMU:-}" in
  '') ;;
  intel|amd) [ "$AHV_QEMU_IOMMU" = intel ] && iommu=(-device intel-iommu,aw-bits=48) || iommu=(-device amd-iommu)
         # and the hypervisor must have taken it (vtd.c, amdvi.c)
         [ "${#passes[@]}" -eq 0 ] || passes+=('AHV-HV-IOMMU: DMA protection on') ;;
  *) echo "qemu-svm-run.sh: AHV_QEMU_IOMMU must be intel, amd or empty" >&2; exit 2 ;;
esac
netargs=(-net none)
[ "$net" = 1 ] && netargs=(-netdev user,id=n0 -device virtio-net-pci,netdev=n0)

clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" 2>/dev/null; }
[ "$quiet" = 1 ] || echo "qemu-svm-run: accel $qemu_accel${icount:+ (icount $icount)}, cpu $cpu, ${mem} MiB, timeout ${timeout}s, logs in $logdir"
qemu=(qemu-system-x86_64 -machine q35 -accel "$qemu_accel" "${icount_args[@]}" -cpu "$cpu" -m "$mem" -smp "$smp" "${iommu[@]}"
  -drive if=pflash,format=raw,unit=0,readonly=on,file="$code"
  -drive if=pflash,format=raw,unit=1,file="$work/vars.fd"
  "${drive[@]}" "${netargs[@]}" -display none -monitor none -no-reboot
  -serial file:"$con" -serial file:"$hvl")
if [ "$dry_run" = 1 ]; then echo "qemu-svm-run: would run: ${qemu[*]} ${AHV_QEMU_EXTRA:-}"; exit 0; fi
start=$(date +%s.%N)
"${qemu[@]}" ${AHV_QEMU_EXTRA:-} </dev/null >"$work/qemu.out" 2>&1 &
qpid=$!
verdict=timeout
while :; do
  if ! kill -0 "$qpid" 2>/dev/null; then verdict=exited; break; fi
  all="$(clean "$con"; clean "$hvl")"
  if grep -qE "$fail" <<<"$all"; then verdict=fail; sleep 1; break; fi
  if [ "${#passes[@]}" -gt 0 ]; then
    ok=1
    for p in "${passes[@]}"; do grep -qE "$p" <<<"$all" || { ok=0; break; }; done
    [ "$ok" = 1 ] && [ "$until_exit" = 0 ] && { verdict=pass; sleep 0.5; break; }
  fi
  now=$(date +%s.%N)
  if awk -v s="$start" -v n="$now" -v t="$timeout" 'BEGIN{exit !(n-s>t)}'; then verdict=timeout; break; fi
  sleep 0.2
done
kill "$qpid" 2>/dev/null || true
wait "$qpid" 2>/dev/null || true
end=$(date +%s.%N)
all="$(clean "$con"; clean "$hvl")"
if [ "$verdict" = exited ]; then
  verdict=fail
  if grep -qE "$fail" <<<"$all"; then verdict=fail
  elif [ "${#passes[@]}" -gt 0 ]; then
    verdict=pass
    for p in "${passes[@]}"; do grep -qE "$p" <<<"$all" || verdict=fail; done
  fi
fi
secs=$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.2f", e-s}')
if [ "$verdict" = pass ]; then
  [ "$quiet" = 1 ] || for p in "${passes[@]}"; do grep -E "$p" <<<"$all" | head -n 1; done
  echo "qemu-svm-run: PASS (${secs}s)"
  exit 0
fi
echo "qemu-svm-run: FAIL ($verdict after ${secs}s)"
for p in "${passes[@]}"; do grep -qE "$p" <<<"$all" || echo "  missing marker: $p"; done
grep -E "$fail" <<<"$all" | head -n 5 | sed 's/^/  failure marker: /' || true
echo "--- guest console (COM1) tail ---"; clean "$con" | tail -n 40
echo "--- hypervisor log (COM2) tail ---"; clean "$hvl" | tail -n 30
[ -s "$work/qemu.out" ] && { echo "--- qemu ---"; tail -n 10 "$work/qemu.out"; }
exit 1
