#!/bin/sh
# verifier_client_test.sh ENGINE_TEST ATTEST_VERIFIER ATTEST_VERIFIERD
# The library's verifier client against a real attest-verifierd on loopback
# (SQLite in a temporary folder): challenge, attest (real engine, simulated
# machine), submit, token checked against the service's JWKS pinned out of
# band; http only through the explicit opt-out; tokens with a wrong verdict
# or issuer or a non-canonical encoding refused; replay and unknown nonce
# rejected with the documented codes. Label verifier.
set -eu
eng=$1; cli=$2; daemon=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ahvl-vclient-XXXXXX")
pid=
cleanup() { if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi; rm -rf "$tmp"; }
trap cleanup EXIT
# 1. keys: the engine test writes the simulated hypervisor key and the
#    enrolled guest key; run it once offline to get them.
"$eng" "$tmp/fix" >"$tmp/eng0.log" 2>&1 || { cat "$tmp/eng0.log"; exit 1; }
db="sqlite:$tmp/v.db"
"$cli" init --storage "$db" >/dev/null
"$cli" token-keygen "$tmp/token.pem" >/dev/null
"$cli" enroll --storage "$db" --insecure-no-evidence hv "$tmp/fix/hv.pem" >/dev/null
"$cli" enroll --storage "$db" guest "$tmp/fix/guest.pem" >/dev/null
# 2. policy: the engine test's own .text under the name it submits
cat >"$tmp/policy.json" <<POL
{"version": 1, "allow_unnamed_regions": true, "max_timestamp_skew_s": -1,
 "regions": [{"name": "guestlib-text", "digests": ["$(python3 - "$eng" <<'PY'
import hashlib, subprocess, sys, struct
# sha256 of the file bytes of .text, the same rule as attest-hv refvals
data = open(sys.argv[1], 'rb').read()
shoff, = struct.unpack_from('<Q', data, 0x28); shentsize, shnum, shstrndx = struct.unpack_from('<HHH', data, 0x3a)
def sh(i): return struct.unpack_from('<IIQQQQIIQQ', data, shoff + i * shentsize)
strtab = sh(shstrndx)
for i in range(shnum):
    s = sh(i); n = data[strtab[4] + s[0]:].split(b'\0', 1)[0]
    if n == b'.text':
        print('sha256:' + hashlib.sha256(data[s[4]:s[4] + s[5]]).hexdigest())
PY
)"]}]}
POL
cat >"$tmp/verifier.json" <<CFG
{"listen": "127.0.0.1", "port": 0, "storage": "$db", "policy": "$tmp/policy.json",
 "token_key": "$tmp/token.pem", "issuer": "guestlib-test"}
CFG
"$daemon" --config "$tmp/verifier.json" --port-file "$tmp/port" >"$tmp/daemon.log" 2>&1 &
pid=$!
i=0
while [ ! -s "$tmp/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ -s "$tmp/port" ] || { echo "verifierd did not start"; cat "$tmp/daemon.log"; exit 1; }
url="http://127.0.0.1:$(cat "$tmp/port")"
# 3. out of band: the JWKS (pinned by the client), and tokens forged with
#    the verifier's real token key by PyJWT, which the client must refuse
#    for their claims or their encoding alone (control: one that passes).
/usr/bin/python3 - "$url" "$tmp" <<'PY'
import json, os, sys, time, urllib.request
import jwt
url, tmp = sys.argv[1], sys.argv[2]
jwks = urllib.request.urlopen(url + "/v1/jwks").read().decode()
open(tmp + "/jwks.json", "w").write(jwks)
kid = json.loads(jwks)["keys"][0]["kid"]
key = open(tmp + "/token.pem").read()
nonce = os.urandom(32).hex()
now = int(time.time())
base = {"iss": "guestlib-test", "iat": now, "nbf": now, "exp": now + 300, "eat_nonce": nonce, "verdict": "affirming"}
def tok(**kw):
    c = dict(base, **kw)
    for k in [k for k, v in c.items() if v is None]:
        del c[k]
    return jwt.encode(c, key, algorithm="ES256", headers={"kid": kid})
good = tok()
head, body, sig = good.split(".")
alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
# 64-byte signature: 86 characters, the last one carries 4 unused bits
last = alpha.index(sig[-1])
noncanon = sig[:-1] + alpha[last | 1 if not last & 1 else last & ~1]
lines = [("control", good), ("wrong_verdict", tok(verdict="contraindicated")), ("no_verdict", tok(verdict=None)),
         ("wrong_iss", tok(iss="someone-else")), ("no_iss", tok(iss=None)),
         ("noncanonical_b64", ".".join([head, body, noncanon])), ("padded_b64", ".".join([head, body, sig + "=="])),
         ("std_alphabet", ".".join([head, body, sig.replace("-", "+").replace("_", "/")]) if ("-" in sig or "_" in sig) else tok(verdict="x"))]
with open(tmp + "/forged.txt", "w") as f:
    for n, t in lines:
        f.write("%s %s %s\n" % (n, nonce, t))
PY
AHVL_VERIFIER_URL="$url" AHVL_VERIFIER_JWKS="$tmp/jwks.json" AHVL_FORGED_TOKENS="$tmp/forged.txt" \
	"$eng" "$tmp/fix2" || {
	echo "--- daemon log"; tail -n 30 "$tmp/daemon.log"; exit 1; }
echo "verifier client test: OK"
