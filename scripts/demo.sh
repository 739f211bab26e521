#!/usr/bin/env bash
# scripts/demo.sh - set up a fresh Debian 12 machine and run the main job.
#
# Today: builds both worlds and boots the freestanding crypto self-test as a
# UEFI application in QEMU (TCG, Debian's OVMF), judged by its serial
# markers. As the hypervisor lands this becomes the end-to-end demo (boot the
# hypervisor, a guest attests its memory, the verifier prints the token).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

step() { printf '\n==> %s\n' "$*"; }
if [ "$(id -u)" = 0 ]; then
  step "setting up the machine (scripts/setup.sh)"
  scripts/setup.sh
fi
build=build-demo
step "building ($build)"
mkdir -p "$build"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DAHV_FUZZ=OFF >"$build/configure.log" 2>&1 \
  || { tail -n 30 "$build/configure.log"; exit 1; }
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 \
  || { grep -E -B2 -A6 'error|Error' "$build/build.log" | head -n 60; exit 1; }
step "booting the freestanding crypto self-test under QEMU + OVMF"
scripts/qemu-efi-run.sh --log "$build/selftest-serial.log" "$build/tests/efi/crypto_selftest.efi"
step "done: serial log in $build/selftest-serial.log"
