#!/usr/bin/env bash
# scripts/demo.sh - set up a fresh Debian 12 machine and run the main job:
# build, boot the hypervisor in QEMU (TCG with AMD SVM + NPT), Debian's Linux
# runs as its guest, a process in the guest attests its own memory, the
# verifier service accepts the report and the token is printed.
# (scripts/demo-svm.sh is the demo itself, for an already set-up machine.)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

if [ "$(id -u)" = 0 ]; then
  echo "demo: setting up the machine (scripts/setup.sh)"
  scripts/setup.sh
else
  echo "demo: not root: skipping scripts/setup.sh (packages must already be installed)"
fi
build=$top/build-demo
if [ ! -f "$build/CMakeCache.txt" ]; then
  echo "demo: configuring $build"
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DAHV_FUZZ=OFF >/dev/null
fi
exec scripts/demo-svm.sh "$build"
