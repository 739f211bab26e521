#!/usr/bin/env bash
# scripts/test.sh - set up a fresh Debian 12 machine and run every test.
#
#   scripts/test.sh [-L LABEL]...   run only these ctest labels
#                                   (unit fuzz verifier e2e-svm e2e-vmx e2e-tpm e2e-smp e2e-hostile e2e-dma e2e-watch)
#
# Builds the hosted world with ASan/UBSan (build-test/), the freestanding
# world and the fuzzers, then runs ctest. Exit status is ctest's.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

labels=()
while [ $# -gt 0 ]; do
  case "$1" in
    -L) labels+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

if [ "$(id -u)" = 0 ]; then
  scripts/setup.sh
else
  echo "test.sh: not root: skipping scripts/setup.sh (packages must already be installed)"
fi

build=build-test
mkdir -p "$build"
echo "test.sh: configuring $build (ASan/UBSan hosted world, UEFI world, fuzzers)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAHV_SANITIZE=ON -DAHV_FUZZ=ON >"$build/configure.log" 2>&1 \
  || { tail -n 30 "$build/configure.log"; exit 1; }
echo "test.sh: building"
cmake --build "$build" -j"$(nproc)" >"$build/build.log" 2>&1 \
  || { grep -E -B2 -A6 'error|Error' "$build/build.log" | head -n 80; exit 1; }

args=(--test-dir "$build" --output-on-failure --timeout 900)
if [ "${#labels[@]}" -gt 0 ]; then
  re=$(IFS='|'; echo "^(${labels[*]})\$")
  args+=(-L "$re")
fi
echo "test.sh: ctest ${args[*]}"
exec ctest "${args[@]}" -j"$(nproc)"
