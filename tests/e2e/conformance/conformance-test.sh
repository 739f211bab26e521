#!/usr/bin/env bash
# tests/e2e/conformance/conformance-test.sh (svm | vmx MODEL) - boot the CPU
# conformance payload twice on the same emulator and CPU model, bare
# (hypervisor = off: the loader only chain-loads it) and under attest-hv,
# and diff the two transcripts (docs/conformance.md):
#   svm        QEMU TCG, -cpu EPYC,+svm,+npt (scripts/qemu-svm-run.sh)
#   vmx MODEL  Bochs with Intel CPU model MODEL (scripts/bochs-efi-run.sh)
# Every case must have the same outcome in both, except those that
# differences.txt (next to this script) documents for this target. Fails on
# any other difference, a case missing from one transcript, or a run that
# does not reach "AHV-CONF: DONE". Needs AHV_BUILD (the build directory).
# AHV_E2E_KEEP=1 keeps the logs; AHV_CONF_SKIP="case,prefix*" skips more
# cases in both runs; AHV_CONF_ONLY=bare|hv boots only that one (to look at
# a transcript; the comparison then fails).
set -euo pipefail
target=${1:-}
model=${2:-corei7_skylake_x}
case "$target" in
  svm) tags=(svm) ;;
  vmx) tags=(vmx "vmx-$model") ;;
  *) echo "usage: $0 svm | vmx MODEL" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
app=$build/tests/e2e/conformance/ahv_conformance.efi
for f in "$loader" "$app"; do [ -f "$f" ] || { echo "conformance-test: missing $f (build first)"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-conf.XXXXXX)
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "conformance-test: logs kept in $work"; else rm -rf "$work"; fi' EXIT

# differences.txt: "<kind> <target> <case pattern> <reason>", kind one of
#   differ   the outcome may differ under the hypervisor (by design)
#   bug      a hypervisor defect under investigation: the difference is
#            reported, not failed; once the case no longer differs the
#            entry is stale and the test fails until it is removed
#   skip-hv  not run under the hypervisor (a known hypervisor crash)
#   skip     not run at all on this target (unsafe on the emulator)
# target: svm, vmx, vmx-<model> or *; pattern: a shell glob on case names.
differ_pat=() differ_why=() differ_kind=() skip_hv=() skip_both=()
if [ -n "${AHV_CONF_SKIP:-}" ]; then IFS=, read -r -a skip_both <<<"$AHV_CONF_SKIP"; fi
while read -r kind tgt pat why; do
  case "$kind" in ''|'#'*) continue ;; esac
  mine=0
  for t in '*' "${tags[@]}"; do [ "$tgt" = "$t" ] && mine=1; done
  [ "$mine" = 1 ] || continue
  case "$kind" in
    differ|bug) differ_pat+=("$pat"); differ_why+=("$why"); differ_kind+=("$kind") ;;
    skip-hv) skip_hv+=("$pat") ;;
    skip) skip_both+=("$pat") ;;
    *) echo "conformance-test: differences.txt: unknown kind '$kind'"; exit 2 ;;
  esac
done < "$here/differences.txt"
join_comma() { local IFS=,; echo "$*"; }

clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1"; }

# boot bare|hv: one run; its transcript ("case = outcome" lines) in $work/$1.txt
boot() {
  local mode=$1 sets=(--set 'dev_key = allow') skips=("${skip_both[@]}") esp=$work/esp-$1 logs=$work/logs-$1
  if [ "$mode" = bare ]; then sets+=(--set 'hypervisor = off'); else skips+=("${skip_hv[@]}"); fi
  local args=()
  [ "${#skips[@]}" -gt 0 ] && args=(--args "skip=$(join_comma "${skips[@]}")")
  "$top/scripts/mkesp.sh" --out "$esp" --loader "$loader" --next "$app" \
    --next-path '\attest-hv\conformance.efi' "${sets[@]}" "${args[@]}" >/dev/null
  mkdir -p "$logs"
  local t0=$SECONDS rc=0 pass=('AHV-CONF: DONE')
  if [ "$target" = svm ]; then
    local p=(--pass 'AHV-CONF: DONE')
    [ "$mode" = hv ] && p+=(--pass 'AHV-HV: engine ready')
    "$top/scripts/qemu-svm-run.sh" --esp "$esp" --timeout "${AHV_CONF_TIMEOUT:-300}" --log "$logs" \
      --quiet "${p[@]}" || rc=$?
  else
    "$top/scripts/bochs-efi-run.sh" --esp "$esp" --cpu "$model" --timeout "${AHV_CONF_TIMEOUT:-300}" \
      --log "$logs/console.log" --hv-log "$logs/hv.log" --pass 'AHV-CONF: DONE' \
      --fail 'AHV-PANIC|AHV-GUEST-SHUTDOWN|AHV-BOOT: ERROR' >"$logs/runner.out" 2>&1 || rc=$?
    [ "$rc" = 0 ] || cat "$logs/runner.out"
  fi
  echo "conformance-test: $mode run: $((SECONDS - t0)) s, $(clean "$logs/console.log" | grep -a '^AHV-CONF: DONE' || echo 'no DONE marker')"
  if [ "$mode" = hv ] && ! grep -aq 'AHV-HV: engine ready' "$logs/hv.log"; then
    echo "conformance-test: FAIL the hypervisor did not start (no 'engine ready' on COM2)"; rc=1
  fi
  clean "$logs/console.log" | sed -n 's/^AHV-CONF: \([^ ]*\) = \(.*\)$/\1 = \2/p' > "$work/$mode.txt"
  if [ "$rc" != 0 ]; then
    echo "conformance-test: FAIL the $mode run ended early; last case: $(tail -n 1 "$work/$mode.txt")"
    clean "$logs/hv.log" 2>/dev/null | grep -aE 'AHV-PANIC|panic|unexpected|unhandled' | head -n 5 | sed 's/^/  hv: /'
    return 1
  fi
}

echo "conformance-test: $target ${tags[*]:1} (differences.txt: ${#differ_pat[@]} documented, ${#skip_hv[@]} skipped under the hypervisor, ${#skip_both[@]} skipped)"
ok=1
: > "$work/bare.txt"; : > "$work/hv.txt"
[ "${AHV_CONF_ONLY:-bare}" = bare ] && { boot bare || ok=0; }
[ "${AHV_CONF_ONLY:-hv}" = hv ] && { boot hv || ok=0; }

# Compare case by case.
declare -A bare hv bug_seen
documented() { # name -> 0, $why and $kind when a differ/bug entry covers name
  local i
  for i in "${!differ_pat[@]}"; do
    # shellcheck disable=SC2053
    if [[ $1 == ${differ_pat[$i]} ]]; then
      why=${differ_why[$i]} kind=${differ_kind[$i]} bug_seen[$i]=1; return 0
    fi
  done
  return 1
}
while IFS= read -r l; do bare[${l%% = *}]=${l#* = }; done < "$work/bare.txt"
while IFS= read -r l; do hv[${l%% = *}]=${l#* = }; done < "$work/hv.txt"
same=0 doc=0 bugs=0 undoc=0 skipped=0 stale=0
for name in $(awk '{print $1}' "$work/bare.txt" "$work/hv.txt" | awk '!s[$0]++'); do
  b=${bare[$name]-MISSING} h=${hv[$name]-MISSING}
  if [ "$b" = "$h" ]; then
    same=$((same + 1))
  elif [ "$h" = skipped ] || [ "$b" = skipped ]; then
    skipped=$((skipped + 1)); echo "conformance-test: skipped $name (bare: $b; hypervisor: $h)"
  elif documented "$name" && [ "$kind" = bug ]; then
    bugs=$((bugs + 1)); echo "conformance-test: KNOWN BUG $name: bare '$b', hypervisor '$h' ($why)"
  elif documented "$name"; then
    doc=$((doc + 1)); echo "conformance-test: documented $name: bare '$b', hypervisor '$h' ($why)"
  else
    undoc=$((undoc + 1)); echo "conformance-test: DIFFERENCE $name: bare '$b', hypervisor '$h'"
  fi
done
echo "conformance-test: cases per category:" $(awk '{split($1, a, "."); print a[1]}' "$work/bare.txt" | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
for i in "${!differ_pat[@]}"; do
  if [ "${differ_kind[$i]}" = bug ] && [ -z "${bug_seen[$i]:-}" ] && [ "$ok" = 1 ]; then
    stale=$((stale + 1)); echo "conformance-test: STALE bug entry '${differ_pat[$i]}': no such difference any more; remove it from differences.txt"
  fi
done
echo "conformance-test: $same equal, $doc documented differences, $bugs known hypervisor bugs, $undoc undocumented, $skipped skipped"
if [ "$undoc" -gt 0 ] || [ "$stale" -gt 0 ] || [ "$ok" = 0 ] || [ ! -s "$work/bare.txt" ]; then
  echo "conformance-test: FAIL"; exit 1
fi
echo "conformance-test: PASS"
