# scripts/lib/qemu-accel.sh - the QEMU runners' accelerator choice
# (--accel kvm|tcg|auto, or the environment variable AHV_ACCEL; default tcg).
# Sourced by scripts/qemu-svm-run.sh and scripts/qemu-efi-run.sh; see
# docs/ci-nested-kvm.md.
#
#   tcg   QEMU's emulator (-accel tcg), with the runner's emulated CPU model
#         (EPYC,+svm,+npt: the SVM back end). Works everywhere.
#   kvm   -accel kvm -cpu host: the hypervisor runs on the host CPU's own
#         VT-x or SVM through nested virtualization. Needs /dev/kvm (read and
#         write), vmx or svm in /proc/cpuinfo, and KVM's nested parameter on
#         (/sys/module/kvm_intel/parameters/nested or kvm_amd's). If any is
#         missing the runner stops with exit status 2 and says which.
#   auto  kvm when all of that holds, tcg otherwise; says which it chose.

# qemu_accel_kvm_problem: prints why KVM cannot run a hypervisor guest here
# (nothing, status 0, when it can).
qemu_accel_kvm_problem() {
  local flags param val
  if [ ! -e /dev/kvm ]; then
    echo "/dev/kvm does not exist (no KVM on this host: the kvm module is not loaded, or this machine is itself a VM without nested virtualization)"; return 1
  fi
  if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    echo "/dev/kvm is not readable and writable by $(id -un) (add the user to group kvm)"; return 1
  fi
  flags=$(grep -m1 '^flags' /proc/cpuinfo 2>/dev/null || true)
  if grep -qw vmx <<<"$flags"; then param=/sys/module/kvm_intel/parameters/nested
  elif grep -qw svm <<<"$flags"; then param=/sys/module/kvm_amd/parameters/nested
  else
    echo "the CPU shows neither vmx nor svm in /proc/cpuinfo (hardware virtualization off, or not passed to this VM)"; return 1
  fi
  if [ ! -r "$param" ]; then
    echo "$param is missing (kvm_intel / kvm_amd not loaded)"; return 1
  fi
  val=$(cat "$param")
  case "$val" in
    Y|y|1) return 0 ;;
    *) echo "KVM's nested virtualization is off ($param = $val; modprobe the module with nested=1)"; return 1 ;;
  esac
}

# qemu_accel_select NAME MODE: sets qemu_accel to kvm or tcg; NAME prefixes
# the messages. `kvm` where KVM cannot nest exits 2; an unknown MODE exits 2.
qemu_accel_select() {
  local name=$1 mode=$2 why
  case "$mode" in
    tcg) qemu_accel=tcg ;;
    kvm)
      if ! why=$(qemu_accel_kvm_problem); then
        echo "$name: --accel kvm: KVM cannot run the hypervisor as a guest here: $why. Use --accel tcg (or auto)." >&2
        exit 2
      fi
      qemu_accel=kvm ;;
    auto)
      if why=$(qemu_accel_kvm_problem); then
        qemu_accel=kvm
        echo "$name: --accel auto: chose kvm (-cpu host; /dev/kvm with nested virtualization)" >&2
      else
        qemu_accel=tcg
        echo "$name: --accel auto: chose tcg, because $why" >&2
      fi ;;
    *) echo "$name: --accel wants kvm, tcg or auto, not '$mode'" >&2; exit 2 ;;
  esac
}
