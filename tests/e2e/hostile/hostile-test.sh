#!/usr/bin/env bash
# tests/e2e/hostile/hostile-test.sh (svm | vmx MODEL) - the hostile-kernel
# suite (docs/hostile.md): boot attest-hv with smp = on and 2 CPUs, the
# hostile payload as its guest (QEMU TCG with SVM, or Bochs VT-x with Intel
# CPU model MODEL), and judge every case line against known-open.txt:
#   PASS, FAIL, XFAIL (a listed open defect), XPASS (listed but passing: the
#   test fails until the line goes), SKIP-EMU (the emulator cannot), N/A.
# Then the final report is checked on the host (ahv_e2e_report_check: the
# signature by the key on the hypervisor's log port, nonce, digest) and its
# timestamp against the host's clock. No AHV-PANIC line may appear.
# Needs AHV_BUILD (the build directory). AHV_E2E_KEEP=1 keeps the logs.
set -euo pipefail
target=${1:?usage: hostile-test.sh svm | vmx MODEL}
model=${2:-corei7_skylake_x}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../../.." && pwd)
build=${AHV_BUILD:-$top/build}
loader=$build/boot/attest-hv-loader.efi
app=$build/tests/e2e/hostile/ahv_hostile.efi
check=$build/tests/e2e/ahv_e2e_report_check
for f in "$loader" "$app" "$check"; do [ -f "$f" ] || { echo "hostile-test: missing $f (build first)"; exit 1; }; done
work=$(mktemp -d /tmp/ahv-hostile.XXXXXX)
trap 'if [ -n "${AHV_E2E_KEEP:-}" ]; then echo "hostile-test: logs kept in $work"; else rm -rf "$work"; fi' EXIT
tag=$target; [ "$target" = vmx ] && tag="vmx-$model"

# known-open.txt: the entries for this target.
declare -A kind why
while read -r k t c r; do
  case "$k" in ''|'#'*) continue ;; esac
  [ "$t" = '*' ] || [ "$t" = "$target" ] || [ "$t" = "$tag" ] || continue
  kind[$c]=$k why[$c]=$r
done < "$here/known-open.txt"
skips=()
for c in "${!kind[@]}"; do [ "${kind[$c]}" = fail ] || skips+=("$c"); done
args="quirk-msr0"   # QEMU TCG and Bochs (ignore_bad_msrs=1) read absent MSRs as 0
[ "${#skips[@]}" -gt 0 ] && args="skip=$(IFS=,; echo "${skips[*]}") $args"
# AHV_HOSTILE_ARGS: more load options (e.g. ranges=memmap, docs/hostile.md).
[ -n "${AHV_HOSTILE_ARGS:-}" ] && args="$args $AHV_HOSTILE_ARGS"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/guest.key" 2>/dev/null
openssl ec -in "$work/guest.key" -pubout -out "$work/guest.pub.pem" 2>/dev/null
openssl ec -in "$work/guest.key" -noout -text 2>/dev/null |
  awk '/^priv:/{p=1; next} /^pub:/{p=0} p' | tr -d ' :\n' | tail -c 64 > "$work/guest.hex"
"$top/scripts/mkesp.sh" --out "$work/esp" --loader "$loader" --next "$app" \
  --next-path '\attest-hv\hostile.efi' --key "$work/guest.pub.pem" --set 'dev_key = allow' --set 'smp = on' \
  --file "$work/guest.hex:\\attest-hv\\test\\guest.hex" --args "$args" >/dev/null
mkdir -p "$work/logs"
fail_re='AHV-PANIC|AHV-BOOT: ERROR|AHV-GUEST-SHUTDOWN|AHV-HOSTILE: FAIL'
echo "hostile-test: $tag, 2 CPUs, smp = on; options: $args"
t0=$(date +%s) rc=0
if [ "$target" = svm ]; then
  "$top/scripts/qemu-svm-run.sh" --esp "$work/esp" --smp 2 --timeout "${AHV_HOSTILE_TIMEOUT:-500}" \
    --log "$work/logs" --quiet --pass 'AHV-HOSTILE: DONE' --pass 'AHV-HV: engine ready' --fail "$fail_re" || rc=$?
else
  "$top/scripts/bochs-efi-run.sh" --esp "$work/esp" --cpu "$model" --smp 2 \
    --timeout "${AHV_HOSTILE_TIMEOUT:-800}" --log "$work/logs/console.log" --hv-log "$work/logs/hv.log" \
    --pass 'AHV-HOSTILE: DONE' --fail "$fail_re" >"$work/logs/runner.out" 2>&1 || rc=$?
  [ "$rc" = 0 ] || tail -n 30 "$work/logs/runner.out"
fi
t1=$(date +%s)
clean() { sed -e 's/\x1b\[[0-9;?]*[A-Za-z]//g' -e 's/\r//g' "$1" 2>/dev/null; }
clean "$work/logs/console.log" > "$work/console.txt"
clean "$work/logs/hv.log" > "$work/hv.txt"
echo "hostile-test: run $((t1 - t0)) s, runner status $rc"
ok=1
panics=$(cat "$work/console.txt" "$work/hv.txt" | grep -ac 'AHV-PANIC' || true)
if [ "$panics" != 0 ]; then
  ok=0; echo "hostile-test: FAIL $panics AHV-PANIC line(s):"; grep -a -A3 'AHV-PANIC' "$work/hv.txt" | head -n 8 | sed 's/^/  hv: /'
fi
grep -a 'AHV-GUEST-SHUTDOWN' "$work/hv.txt" | head -n 3 | sed 's/^/hostile-test: hv: /' || true
done_line=$(grep -a '^AHV-HOSTILE: DONE' "$work/console.txt" || true)
[ -n "$done_line" ] || { ok=0; echo "hostile-test: FAIL no DONE marker; last lines:"; grep -a '^AHV-HOSTILE' "$work/console.txt" | tail -n 3; }

# The verdicts.
declare -A seen
n_pass=0 n_fail=0 n_xfail=0 n_xpass=0 n_emu=0 n_na=0
while read -r _ _ c v rest; do
  seen[$c]=1 k=${kind[$c]:-}
  case "$v" in
    ok) if [ "$k" = fail ]; then n_xpass=$((n_xpass + 1)); echo "hostile-test: XPASS $c: listed as open ($rest); remove it from known-open.txt"
        else n_pass=$((n_pass + 1)); echo "hostile-test: PASS $c"; fi ;;
    FAIL) if [ "$k" = fail ]; then n_xfail=$((n_xfail + 1)); echo "hostile-test: XFAIL $c: $rest [open: ${why[$c]}]"
          else n_fail=$((n_fail + 1)); echo "hostile-test: FAIL $c: $rest"; fi ;;
    skipped) if [ "$k" = emu ]; then n_emu=$((n_emu + 1)); echo "hostile-test: SKIP-EMU $c: ${why[$c]}"
             else n_xfail=$((n_xfail + 1)); echo "hostile-test: XFAIL $c (not run: ${why[$c]:-skipped})"; fi ;;
    n/a) n_na=$((n_na + 1)); echo "hostile-test: N/A $c: $rest" ;;
  esac
done < <(grep -a '^AHV-HOSTILE: case ' "$work/console.txt")

# The I/O APICs (docs/hostile.md "INIT that does not come through the
# ICR"): the hypervisor's log must name as guarded exactly the ones the
# payload found through the firmware's MADT (init.madt-ioapics-refuse-init:
# the default address where there is no MADT or it lists none), with the
# same source. QEMU q35 has a MADT: there it must be the MADT's. Bochs
# under Debian's OVMF publishes no ACPI tables: the default is guarded.
hv_io=$(grep -a 'AHV-HV-SMP: I/O APIC [0-9]* of [0-9]* guarded at ' "$work/hv.txt" |
  sed -e 's/.* guarded at \([0-9a-f]*\) .*; \(.*\))$/\1 \2/' -e 's/ from the MADT$/ madt/' \
      -e 's/ no MADT: the default address$/ no-madt/' -e 's/ the MADT lists none: the default address$/ madt-empty/' | sort -u)
guest_io=$(awk '$1=="AHV-HOSTILE-IOAPIC"{print tolower($2), $3}' "$work/console.txt" | sort -u)
if [ -z "$hv_io" ] || [ "$hv_io" != "$guest_io" ]; then
  ok=0; echo "hostile-test: FAIL I/O APICs guarded (hypervisor log): [${hv_io//$'\n'/, }]; in the MADT (payload): [${guest_io//$'\n'/, }]"
elif [ "$target" = svm ] && ! grep -q ' madt$' <<<"$hv_io"; then
  ok=0; echo "hostile-test: FAIL QEMU q35 has a MADT, but the hypervisor guards: [${hv_io//$'\n'/, }]"
else
  echo "hostile-test: PASS I/O APICs guarded = those the guest finds (MADT or default): [${hv_io//$'\n'/, }]"
fi

# The final report, on the host: signature, nonce, digest; its timestamp
# against this machine's clock (protocol.md §9.1: the RTC read at start plus
# the host TSC since). QEMU's RTC and TSC follow the host clock; Bochs runs
# its own clock (clock: sync=none, 50 M instructions a second), which may
# run ahead of or behind the wall clock by the run's length.
slack_before=10 slack_after=10
[ "$target" = vmx ] && slack_before=$((t1 - t0 + 10)) slack_after=$((t1 - t0 + 10))
awk '$1=="AHV-HOSTILE-REPORT"{print $2}' "$work/console.txt" > "$work/report.hex"
awk '$1=="AHV-HOSTILE-NONCE"{print $2}' "$work/console.txt" > "$work/nonce.hex"
awk '$1=="AHV-HOSTILE-DIGEST0"{print $2}' "$work/console.txt" > "$work/digest0.hex"
awk '$1=="AHV-HV-KEY-SPKI"{print $2}' "$work/hv.txt" > "$work/spki.hex"
if [ -s "$work/report.hex" ] && "$check" "$work/report.hex" "$work/spki.hex" "$work/nonce.hex" "$work/digest0.hex" | sed 's/^/hostile-test: /'; then
  # timestamp_ns: report bytes 40..47, little-endian (protocol.md §7.1)
  ts_hex=$(tr -d ' \n' < "$work/report.hex" | cut -c81-96 | sed 's/../& /g' | awk '{for (i = NF; i > 0; i--) printf "%s", $i}')
  ts=$(( 16#$ts_hex / 1000000000 ))
  if [ "$ts" -ge $((t0 - slack_before)) ] && [ "$ts" -le $((t1 + slack_after)) ]; then
    echo "hostile-test: PASS final timestamp $ts s within [$((t0 - slack_before)), $((t1 + slack_after))] (host clock)"
  else
    ok=0; echo "hostile-test: FAIL final timestamp $ts s outside [$((t0 - slack_before)), $((t1 + slack_after))] (host clock $t0..$t1)"
  fi
else
  ok=0; echo "hostile-test: FAIL the final report is missing or does not verify on the host"
fi
echo "hostile-test: cases per class:" $(grep -a '^AHV-HOSTILE: case ' "$work/console.txt" | awk '{split($3, a, "."); print a[1]}' | sort | uniq -c | awk '{printf "%s=%s ", $2, $1}')
echo "hostile-test: $tag: $n_pass PASS, $n_xfail XFAIL, $n_fail FAIL, $n_xpass XPASS, $n_emu SKIP-EMU, $n_na N/A; ${done_line:-no DONE}"
if [ "$ok" = 1 ] && [ "$n_fail" = 0 ] && [ "$n_xpass" = 0 ] && [ "$rc" = 0 ]; then
  echo "hostile-test: PASS"
else
  echo "hostile-test: FAIL"; exit 1
fi
