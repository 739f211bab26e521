#!/usr/bin/env bash
# bench/verifier-callgrind.sh - instructions per accepted report in
# attest-verifierd (valgrind --tool=callgrind: counts do not depend on the
# machine's load), with the durable audit (SQLite WAL, synchronous=FULL).
# Counts only the accept path: the daemon is zeroed after start-up and one
# warm-up report, then N reports are sent over 4 keep-alive connections.
#   BENCH verifier_instructions_per_report <n> Ir
# Needs BUILD (a build with -g: RelWithDebInfo), valgrind. Knob:
# AHV_PROFILE_REPORTS (default 1000). Keeps the profile when AHV_PROFILE_OUT
# names a file (callgrind_annotate it).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
: "${BUILD:=$top/build-bench}"
D="$BUILD/verifier/attest-verifierd"
C="$BUILD/verifier/attest-verifier"
G="$BUILD/tests/tools/ahv-reportgen"
N=${AHV_PROFILE_REPORTS:-1000}
for x in "$D" "$C" "$G"; do [ -x "$x" ] || { echo "verifier-callgrind.sh: $x not built" >&2; exit 1; }; done
command -v valgrind >/dev/null || { echo "verifier-callgrind.sh: valgrind missing" >&2; exit 1; }
tmp=$(mktemp -d /tmp/ahv-verifier-cg.XXXXXX)
pid=""
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"
source "$top/bench/verifier-lib.sh"
vb_fixture cg
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" --dump-instr=no --collect-systime=no \
  "$D" --config verifier.json --port-file port 2>daemon.log &
pid=$!
for _ in $(seq 1200); do [ -s port ] && break; sleep 0.1; done
[ -s port ] || { echo "verifier-callgrind.sh: daemon did not start" >&2; cat daemon.log >&2; exit 1; }
port=$(cat port)
vb_nonces "http://127.0.0.1:$port" $((N + 1))
"$G" --hv-key hv.pem --guest-key guest.pem --nonces nonces.txt --region region.bin --jsonl bodies.jsonl
python3 - "$port" "$pid" "$N" <<'PY'
import http.client, subprocess, sys, threading
port, pid, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
bodies = open("bodies.jsonl").read().splitlines()
def post(c, b):
    c.request("POST", "/v1/attest", body=b, headers={"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    return r.status
c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
assert post(c, bodies[0]) == 200, "warm-up report refused"
subprocess.run(["callgrind_control", "-z", pid], check=True, capture_output=True)
bad = []
def worker(k):
    cc = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    for b in bodies[1 + k::4][: (n + 3 - k) // 4]:
        if post(cc, b) != 200: bad.append(1)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
subprocess.run(["callgrind_control", "-d", pid], check=True, capture_output=True)
if bad: sys.exit("%d reports refused" % len(bad))
PY
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
# the dump after the N reports (callgrind_control -d writes cg.out.1)
f=$(ls "$tmp"/cg.out.* | head -n 1)
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/{gsub(",", "", $1); print $1; exit}')
[ -n "${AHV_PROFILE_OUT:-}" ] && cp "$f" "$AHV_PROFILE_OUT"
echo "# verifier-callgrind: $N accepted reports, $ir instructions in the daemon (all threads)"
echo "BENCH verifier_instructions_per_report $(awk -v i="$ir" -v n="$N" 'BEGIN{printf "%.0f", i / n}') Ir"
