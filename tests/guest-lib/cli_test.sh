#!/bin/sh
# cli_test.sh ATTEST_HV FIXTURES [ENGINE_TEST_BINARY]
# The attest-hv CLI: --help everywhere, exit codes, keygen, refvals, and
# show/verify on the fixtures that unit-guestlib-engine wrote (request and
# report made by the real engine). Label unit.
set -u
cli=$1
fix=$2
elf=${3:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ahvl-cli-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   - $*"; }
bad() { echo "FAIL - $*"; fails=$((fails + 1)); }
# expect CODE DESC CMD...: run CMD, compare the exit status
expect() {
	want=$1; desc=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" = "$want" ]; then ok "$desc"; else
		bad "$desc: exit $got, want $want"; sed 's/^/    /' "$tmp/out" "$tmp/err" | head -n 20; fi
}
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# ---- help and usage --------------------------------------------------------
expect 0 "--help" "$cli" --help
expect 0 "--version" "$cli" --version
for c in keygen info attest show verify refvals watch; do
	expect 0 "$c --help" "$cli" $c --help
	grep -q "Exit status" "$tmp/out" || bad "$c --help documents the exit codes"
done
expect 2 "no command" "$cli"
expect 2 "unknown command" "$cli" frobnicate
expect 2 "unknown option" "$cli" show --frob x
expect 2 "show without file" "$cli" show
expect 2 "verify without key" "$cli" verify x
expect 2 "attest without key" "$cli" attest --report "$tmp/r"
expect 2 "attest without output" "$cli" attest --key x
expect 2 "watch without status|end" "$cli" watch
expect 2 "watch with another verb" "$cli" watch stop --id 1 --key x
expect 2 "attest --watch with a bad lifetime" "$cli" attest --key x --report "$tmp/r" --watch=soon
expect 2 "watch status with a bad id" "$cli" watch status --id one --key x

# ---- keygen -----------------------------------------------------------------
expect 0 "keygen p256" "$cli" keygen --out "$tmp/k.pem" --pub "$tmp/k.pub"
grep -q "BEGIN PUBLIC KEY" "$tmp/k.pub" || bad "keygen wrote the public key"
grep -q "key id: [0-9a-f]\{64\}" "$tmp/err" || bad "keygen printed the key id"
[ "$(stat -c %a "$tmp/k.pem")" = 600 ] || bad "private key mode 0600"
expect 5 "keygen refuses to overwrite" "$cli" keygen --out "$tmp/k.pem"
expect 0 "keygen p384 to stdout" "$cli" keygen --curve p384 --out "$tmp/k384.pem"
grep -q "BEGIN PUBLIC KEY" "$tmp/out" || bad "keygen p384 printed the public key"
expect 2 "keygen bad curve" "$cli" keygen --curve p521 --out "$tmp/x.pem"

# ---- attest / info without attest-hv (this host is not its guest) ------------
expect 3 "info: no attest-hv here" "$cli" info
expect 3 "attest: no attest-hv here" "$cli" attest --key "$tmp/k.pem" --report "$tmp/rep"
expect 5 "attest: bad key file" "$cli" attest --key "$tmp/k.pub" --report "$tmp/rep"
expect 5 "attest: unknown section" "$cli" attest --key "$tmp/k.pem" --section .nope --report "$tmp/rep"
expect 2 "attest: bad range" "$cli" attest --key "$tmp/k.pem" --range 12 --report "$tmp/rep"

# ---- refvals ---------------------------------------------------------------------
expect 0 "refvals sections" "$cli" refvals "$cli"
json "$tmp/out" "d['version']" | grep -qx 1 || bad "refvals: policy version 1"
json "$tmp/out" "[r['name'] for r in d['regions']]" | grep -q "'.text'" || bad "refvals lists .text"
expect 0 "refvals segments, two hashes, prefix" "$cli" refvals --segments --hash sha256 --hash sha3-512 --prefix cli: "$cli"
json "$tmp/out" "d['regions'][0]['name']" | grep -qx "cli:LOAD0" || bad "refvals segment names"
json "$tmp/out" "len(d['regions'][0]['digests'])" | grep -qx 2 || bad "refvals two digests"
# LOAD0 starts at file offset 0: its digest is that of the first p_filesz bytes
size=$(json "$tmp/out" "d['regions'][0]['size']")
want=$(head -c "$size" "$cli" | sha256sum | cut -d' ' -f1)
json "$tmp/out" "d['regions'][0]['digests'][0]" | grep -qx "sha256:$want" || bad "LOAD0 digest = sha256 of the file's first p_filesz bytes"
expect 0 "refvals --only .text" "$cli" refvals --only .text --out "$tmp/text.json" "$cli"
json "$tmp/text.json" "len(d['regions'])" | grep -qx 1 || bad "refvals --only selects one"
expect 5 "refvals --only missing" "$cli" refvals --only .nope "$cli"
expect 5 "refvals on a non-ELF" "$cli" refvals "$tmp/k.pub"
expect 5 "refvals on a missing file" "$cli" refvals "$tmp/none"
if command -v attest-verifier >/dev/null 2>&1 || [ -x "$(dirname "$cli")/../verifier/attest-verifier" ]; then
	v=$(command -v attest-verifier || echo "$(dirname "$cli")/../verifier/attest-verifier")
	"$v" policy-check "$tmp/text.json" >/dev/null 2>&1 && ok "refvals output passes attest-verifier policy-check" \
		|| echo "note - attest-verifier policy-check did not accept refvals output (or has other options)"
fi

# ---- show / verify on engine-made fixtures -------------------------------------------
if [ ! -f "$fix/report.bin" ]; then
	echo "note - no fixtures in $fix (engine not built): show/verify on real reports skipped"
else
	expect 0 "show report" "$cli" show "$fix/report.bin"
	grep -q "^type *report" "$tmp/out" || bad "show report: type"
	grep -q "^composite_check *ok" "$tmp/out" || bad "show report: composite ok"
	expect 0 "show --json report" "$cli" show --json "$fix/report.bin"
	json "$tmp/out" "d['region_count']" | grep -qx 4 || bad "show --json region_count"
	json "$tmp/out" "d['regions'][3]['claim']" | grep -qx match || bad "show --json claim"
	expect 0 "show request" "$cli" show "$fix/request.bin"
	grep -q "^type *request" "$tmp/out" || bad "show request: type"
	expect 0 "show request from stdin" sh -c "'$cli' show --json - < '$fix/request.bin'"
	expect 0 "show info" "$cli" show "$fix/info.bin"
	expect 5 "show junk" "$cli" show "$tmp/k.pub"
	n=$(cat "$fix/nonce.hex")
	expect 0 "verify" "$cli" verify --hv-key "$fix/hv.pem" "$fix/report.bin"
	grep -qx OK "$tmp/out" || bad "verify prints OK"
	expect 0 "verify with nonce, request and guest key" "$cli" verify --hv-key "$fix/hv.pem" --nonce "$n" \
		--request "$fix/request.bin" --guest-key "$fix/guest.pem" "$fix/report.bin"
	expect 1 "verify: wrong hypervisor key" "$cli" verify --hv-key "$fix/wrong-hv.pem" "$fix/report.bin"
	expect 1 "verify: wrong nonce" "$cli" verify --hv-key "$fix/hv.pem" --nonce 00112233445566778899 "$fix/report.bin"
	expect 1 "verify: wrong guest key" "$cli" verify --hv-key "$fix/hv.pem" --request "$fix/request.bin" \
		--guest-key "$fix/wrong-hv.pem" "$fix/report.bin"
	expect 5 "verify: missing report" "$cli" verify --hv-key "$fix/hv.pem" "$tmp/none"
	# one flipped byte anywhere: the signature breaks (or the structure)
	len=$(stat -c %s "$fix/report.bin")
	for off in 0 20 70 140 200 300 330 450 $((len - 100)) $((len - 1)); do
		cp "$fix/report.bin" "$tmp/flip.bin"
		b=$(od -An -tu1 -j "$off" -N1 "$tmp/flip.bin" | tr -d ' ')
		printf "$(printf '\\%03o' $(((b ^ 4) & 255)))" | dd of="$tmp/flip.bin" bs=1 seek="$off" conv=notrunc 2>/dev/null
		expect 1 "verify: byte $off flipped" "$cli" verify --hv-key "$fix/hv.pem" "$tmp/flip.bin"
	done
	head -c 600 "$fix/report.bin" >"$tmp/trunc.bin"
	expect 1 "verify: truncated" "$cli" verify --hv-key "$fix/hv.pem" "$tmp/trunc.bin"
	expect 1 "show: truncated report is flagged" "$cli" show "$tmp/trunc.bin"
	# refvals on the program that made the report equal the live measurement
	if [ -n "$elf" ] && [ -f "$elf" ]; then
		"$cli" refvals --only .text "$elf" >"$tmp/ref.json" || bad "refvals of the engine test"
		"$cli" show --json "$fix/report.bin" >"$tmp/rep.json"
		live=$(json "$tmp/rep.json" "d['regions'][0]['digest']")
		ref=$(json "$tmp/ref.json" "d['regions'][0]['digests'][0]")
		if [ "sha256:$live" = "$ref" ]; then ok "refvals(.text) == measured .text ($live)"; else
			bad "refvals(.text) $ref != measured sha256:$live"; fi
	fi
fi
echo "cli test: $fails failure(s)"
[ "$fails" = 0 ]
