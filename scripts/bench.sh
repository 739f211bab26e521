#!/usr/bin/env bash
# scripts/bench.sh [GROUP...] - run the benchmarks (docs/testing.md).
#
# Groups: crypto engine boot verifier (default: all that exist). Each group is
# bench/<group>.sh, run with BUILD set to a Release build of the hosted world.
# Output: one `BENCH <metric> <value> <unit>` line per figure; ratios (unit x)
# always compare against a reference measured in the same invocation.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
case "${1:-}" in -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

groups=("$@")
if [ "${#groups[@]}" = 0 ]; then
  for g in crypto engine boot verifier; do [ -f "bench/$g.sh" ] && groups+=("$g"); done
fi
for g in "${groups[@]}"; do
  [ -f "bench/$g.sh" ] || { echo "bench.sh: unknown group '$g' (have: $(ls bench/*.sh | xargs -n1 basename | sed 's/\.sh$//' | tr '\n' ' '))" >&2; exit 2; }
done

export BUILD="$top/build-bench"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  echo "# bench.sh: configuring $BUILD (Release, no sanitizers)" >&2
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DAHV_SANITIZE=OFF -DAHV_FUZZ=OFF >/dev/null
fi
echo "# bench.sh: building" >&2
cmake --build "$BUILD" -j"$(nproc)" >"$BUILD/bench-build.log" 2>&1 || { tail -n 40 "$BUILD/bench-build.log"; exit 1; }
for g in "${groups[@]}"; do
  echo "# group $g"
  bash "bench/$g.sh"
done
