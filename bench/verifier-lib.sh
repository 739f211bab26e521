# bench/verifier-lib.sh - the fixture shared by bench/verifier.sh and
# bench/verifier-callgrind.sh (sourced, not run): in the current directory,
# P-256 hypervisor and guest keys (hv.pem, guest.pem, both enrolled, the
# hypervisor key with --insecure-no-evidence: a bench has no TPM), a token
# key, one 4 KiB region, a policy and verifier.json. Needs $C (the CLI).

# vb_fixture REPLICA_ID [EXTRA JSON MEMBERS]
vb_fixture() {
  openssl ecparam -name prime256v1 -genkey -noout -out hv.pem
  openssl ecparam -name prime256v1 -genkey -noout -out guest.pem
  "$C" token-keygen token.pem
  head -c 4096 /dev/urandom > region.bin
  echo '{"max_timestamp_skew_s": -1, "allow_unnamed_regions": true}' > policy.json
  cat > verifier.json <<CONF
{"listen": "127.0.0.1", "port": 0, "storage": "sqlite:verifier.db", "policy": "policy.json",
 "token_key": "token.pem", "replica_id": "$1", "nonce_ttl_s": 3600,
 "client_requests_per_s": 0, "client_nonces_per_s": 0${2:+, $2}}
CONF
  "$C" enroll --config verifier.json --insecure-no-evidence hv hv.pem >/dev/null
  "$C" enroll --config verifier.json guest guest.pem >/dev/null
}

# vb_nonces URL N: N nonces (an hour each) from the daemon into nonces.txt
vb_nonces() {
  local left=$2 n
  : > nonces.txt
  while [ "$left" -gt 0 ]; do
    n=$(( left > 1000 ? 1000 : left ))
    curl -sf -X POST -H 'Content-Type: application/json' -d "{\"count\": $n, \"ttl_s\": 3600}" "$1/v1/challenge" \
      | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["nonces"]))' >> nonces.txt
    left=$(( left - n ))
  done
}
