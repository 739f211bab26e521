#!/usr/bin/env bash
# bench group `verifier`: attest-verifierd under wrk on loopback with valid
# pre-generated reports (ahv-reportgen, one verifier-issued nonce each) and
# durable audit logging (SQLite WAL, synchronous=FULL, group commit), against
# raw OpenSSL P-256 verify/s (`openssl speed`) on the same cores in the same run.
# Also printed: the CPU time the daemon and wrk each spend per accepted
# report, and the rate that 100 % of the cores would allow at those costs.
#   BENCH verifier_reports_per_s <n> 1/s
#   BENCH verifier_vs_openssl_verify <x> x      (reports/s per OpenSSL verify/s)
# Knobs: AHV_BENCH_REPORTS (default 40000), AHV_BENCH_SECONDS (3),
#        AHV_BENCH_CONNECTIONS (32), AHV_BENCH_THREADS (wrk threads, 2).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD:=$top/build-bench}"
D="$BUILD/verifier/attest-verifierd"
C="$BUILD/verifier/attest-verifier"
G="${AHV_DEV_REPORTGEN:-$BUILD/tests/tools/ahv-reportgen}"
N=${AHV_BENCH_REPORTS:-40000}
SECS=${AHV_BENCH_SECONDS:-3}
CONNS=${AHV_BENCH_CONNECTIONS:-32}
THREADS=${AHV_BENCH_THREADS:-2}
for x in "$D" "$C"; do [ -x "$x" ] || { echo "verifier.sh: $x not built" >&2; exit 1; }; done
[ -x "$G" ] || { echo "verifier.sh: ahv-reportgen not built ($G); cannot make valid reports" >&2; exit 1; }
command -v wrk >/dev/null || { echo "verifier.sh: wrk not installed (scripts/setup.sh)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ahv-bench-verifier.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
source "$top/bench/verifier-lib.sh"
vb_fixture bench '"max_connections": 4096'
"$D" --config verifier.json --port-file port 2>daemon.log &
pid=$!
for _ in $(seq 600); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "verifier.sh: daemon did not start" >&2; cat daemon.log >&2; exit 1; }
port=$(cat port)
url="http://127.0.0.1:$port"

echo "# verifier: issuing $N nonces, generating $N reports (1 region of 4 KiB, SHA-256, P-256 keys)" >&2
vb_nonces "$url" "$N"
# (nonces live an hour: ahv-reportgen takes minutes on a loaded machine)
t0=$(date +%s)
"$G" --hv-key hv.pem --guest-key guest.pem --nonces nonces.txt --region region.bin --jsonl bodies.jsonl
echo "# verifier: reportgen took $(( $(date +%s) - t0 )) s" >&2

# one durable acceptance first (and proof that the bodies are valid)
head -n 1 bodies.jsonl > first.json
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' --data-binary @first.json "$url/v1/attest")
[ "$code" = 200 ] || { echo "verifier.sh: a pre-generated report was not accepted (HTTP $code)" >&2; exit 1; }
tail -n +2 bodies.jsonl > wrk-bodies.jsonl

cpu0=$(awk '{print $14 + $15}' /proc/$pid/stat)
m0=$(curl -s "$url/metrics")
# wrk's CPU: this shell's waited-for children (cutime + cstime) around it
wcpu0=$(awk '{print $16 + $17}' /proc/$$/stat)
out=$(AHV_BENCH_BODIES=$tmp/wrk-bodies.jsonl AHV_BENCH_THREADS=$THREADS \
  wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 30s -s "$top/bench/verifier.lua" "$url")
wcpu1=$(awk '{print $16 + $17}' /proc/$$/stat)
cpu1=$(awk '{print $14 + $15}' /proc/$pid/stat)
m1=$(curl -s "$url/metrics")
line=$(echo "$out" | grep '^WRK ')
ok=$(echo "$line" | sed 's/.*ok=\([0-9]*\).*/\1/')
bad=$(echo "$line" | sed 's/.*bad=\([0-9]*\).*/\1/')
dur=$(echo "$line" | sed 's/.*duration_us=\([0-9]*\).*/\1/')
p50=$(echo "$line" | sed 's/.*p50_us=\([0-9]*\).*/\1/')
p99=$(echo "$line" | sed 's/.*p99_us=\([0-9]*\).*/\1/')
[ "$bad" = 0 ] || echo "# verifier: WARNING: $bad non-200 answers (bodies exhausted? raise AHV_BENCH_REPORTS)" >&2
rate=$(awk -v o="$ok" -v d="$dur" 'BEGIN{printf "%.0f", o / (d / 1e6)}')
batches=$(( $(echo "$m1" | awk '/^attest_verifier_commit_batches_total/{print $2}') - $(echo "$m0" | awk '/^attest_verifier_commit_batches_total/{print $2}') ))
jobs=$(( $(echo "$m1" | awk '/^attest_verifier_commit_jobs_total/{print $2}') - $(echo "$m0" | awk '/^attest_verifier_commit_jobs_total/{print $2}') ))
hz=$(getconf CLK_TCK)
cpu_us=$(awk -v c=$((cpu1 - cpu0)) -v hz="$hz" -v o="$ok" 'BEGIN{ if (o) printf "%.1f", c / hz * 1e6 / o; else print "nan" }')
wrk_us=$(awk -v c=$((wcpu1 - wcpu0)) -v hz="$hz" -v o="$ok" 'BEGIN{ if (o) printf "%.1f", c / hz * 1e6 / o; else print "nan" }')
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""

# reference: raw OpenSSL P-256 verify/s on the same cores, same run
cores=$(nproc)
sp=$(openssl speed -seconds 3 -multi "$cores" ecdsap256 2>/dev/null | grep -E '256 bits ecdsa \(nistp256\)' | tail -n 1)
ver=$(echo "$sp" | awk '{print $NF}')
sign=$(echo "$sp" | awk '{print $(NF-1)}')
ratio=$(awk -v r="$rate" -v v="$ver" 'BEGIN{printf "%.3f", r / v}')
echo "# verifier: $ok accepted in $(awk -v d="$dur" 'BEGIN{printf "%.2f", d/1e6}') s with $CONNS connections, $THREADS wrk threads, on $cores cores shared by wrk and the daemon"
echo "# verifier: latency p50 ${p50} us, p99 ${p99} us; group commit: $jobs decisions in $batches fsync'd transactions"
echo "# verifier: daemon CPU per accepted report ${cpu_us} us; each report costs 2 P-256 verifies + 1 P-256 sign"
echo "# verifier: wrk CPU per accepted report ${wrk_us} us (with its Lua set-up); at these costs $cores cores fully ours would serve at most $(awk -v a="$cpu_us" -v b="$wrk_us" -v n="$cores" 'BEGIN{ if (a + b > 0) printf "%.0f", n * 1e6 / (a + b); else print "nan" }')/s"
echo "# verifier: openssl speed -multi $cores: P-256 sign ${sign}/s, verify ${ver}/s (all cores)"
echo "BENCH verifier_reports_per_s $rate 1/s"
echo "BENCH verifier_vs_openssl_verify $ratio x"
