#!/usr/bin/env bash
# tests/e2e/qemu-accel-test.sh - unit: the QEMU runners' --accel choice
# (scripts/lib/qemu-accel.sh, docs/ci-nested-kvm.md) on a machine where KVM
# cannot run a hypervisor as its guest: `--accel kvm` (and AHV_ACCEL=kvm)
# stops with exit status 2 and says why, `--accel auto` says it chose tcg,
# an unknown mode is a usage error, --icount is refused with KVM, and the
# Bochs runner refuses --accel. Boots nothing (--dry-run). Where KVM can nest
# (/dev/kvm present), the test is skipped (exit 77): there auto picks kvm.
set -euo pipefail
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/scripts/lib/qemu-accel.sh"
if why=$(qemu_accel_kvm_problem); then
  echo "qemu-accel-test: KVM can nest on this machine; the refusal cannot be tested here (skipped)"; exit 77
fi
echo "qemu-accel-test: this machine: $why"
work=$(mktemp -d /tmp/ahv-accel.XXXXXX)
trap 'rm -rf "$work"' EXIT
touch "$work/app.efi"
bad=0
# expect NAME RC REGEX COMMAND...: COMMAND exits RC and prints REGEX.
expect() {
  local name=$1 want=$2 re=$3 rc=0; shift 3
  env -u AHV_ACCEL "$@" >"$work/out" 2>&1 || rc=$?
  if [ "$rc" = "$want" ] && grep -qE -- "$re" "$work/out"; then
    echo "qemu-accel-test: ok $name (exit $rc)"
  else
    echo "qemu-accel-test: FAIL $name: exit $rc (want $want), output:"; sed 's/^/  | /' "$work/out"; bad=1
  fi
}
svm=$top/scripts/qemu-svm-run.sh efi=$top/scripts/qemu-efi-run.sh
kvm_msg='--accel kvm: KVM cannot run the hypervisor as a guest here: .+\. Use --accel tcg'
expect svm-kvm 2 "$kvm_msg" "$svm" --accel kvm --esp "$work" --dry-run
expect efi-kvm 2 "$kvm_msg" "$efi" --accel kvm "$work/app.efi" --dry-run
expect svm-env-kvm 2 "$kvm_msg" env AHV_ACCEL=kvm "$svm" --esp "$work" --dry-run
expect efi-env-kvm 2 "$kvm_msg" env AHV_ACCEL=kvm "$efi" "$work/app.efi" --dry-run
expect svm-auto 0 'accel auto: chose tcg, because .+' "$svm" --accel auto --esp "$work" --dry-run
expect svm-auto-cmd 0 'would run: qemu-system-x86_64 .*-accel tcg -cpu EPYC,\+svm,\+npt' "$svm" --accel auto --esp "$work" --dry-run
expect efi-auto 0 'accel auto: chose tcg, because .+' "$efi" --accel auto "$work/app.efi" --dry-run
expect efi-env-auto 0 'accel auto: chose tcg' env AHV_ACCEL=auto "$efi" "$work/app.efi" --dry-run
expect svm-tcg-icount 0 'would run: .*-accel tcg -icount shift=0,sleep=off ' "$svm" --accel tcg --icount shift=0,sleep=off --esp "$work" --dry-run
expect svm-bogus 2 "--accel wants kvm, tcg or auto, not 'kvmm'" "$svm" --accel kvmm --esp "$work" --dry-run
expect bochs-accel 2 '--accel is for the QEMU runners' "$top/scripts/bochs-efi-run.sh" --accel tcg "$work/app.efi"
[ "$bad" = 0 ] && echo "qemu-accel-test: PASS"
exit "$bad"
