#!/bin/sh
# reportgen_smoke.sh TOOL DIR - ahv-reportgen end to end with fresh keys:
# binary outputs of the right sizes, region digests as openssl dgst computes
# them, the DEV_KEY flag, one JSON line per nonce. (Signatures are checked
# against OpenSSL in tests/engine.)
set -eu
tool=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir"
openssl ecparam -name prime256v1 -genkey -noout -out hv.pem 2>/dev/null
openssl ecparam -name secp384r1 -genkey -noout -out guest.pem 2>/dev/null
printf 'abc' > a.bin
head -c 100000 /dev/urandom > b.bin
: > empty.bin
"$tool" --help | grep -q -- --hv-key
"$tool" --hv-key hv.pem --guest-key guest.pem --alg sha3-384 --dev-key \
  --nonce 1122334455667788 --region a.bin --region b.bin:7f1234567001 --region empty.bin \
  --out-request req.bin --out-report rep.bin
# 3 regions: request 224 + 3*96 = 512, report 544 + 3*88 = 808
[ "$(wc -c < req.bin)" -eq 512 ] || { echo "request size"; exit 1; }
[ "$(wc -c < rep.bin)" -eq 808 ] || { echo "report size"; exit 1; }
# region 0 digest = SHA3-384("abc") at 448 + 24
want=$(printf 'abc' | openssl dgst -sha3-384 -r | cut -d' ' -f1)
got=$(od -An -tx1 -j 472 -N 48 rep.bin | tr -d ' \n')
[ "$want" = "$got" ] || { echo "region digest $got != $want"; exit 1; }
want=$(openssl dgst -sha3-384 -r b.bin | cut -d' ' -f1)
got=$(od -An -tx1 -j 560 -N 48 rep.bin | tr -d ' \n')
[ "$want" = "$got" ] || { echo "region 1 digest"; exit 1; }
# flags: DEV_KEY (bit 0) at offset 12
[ "$(od -An -tx1 -j 12 -N 1 rep.bin | tr -d ' ')" = 01 ] || { echo "flags"; exit 1; }
printf '1122334455667788\naabbccddeeff00112233\n\n0102030405060708090a0b0c0d0e0f10\n' > nonces.txt
"$tool" --hv-key hv.pem --guest-key guest.pem --nonces nonces.txt --region a.bin --jsonl out.jsonl
[ "$(wc -l < out.jsonl)" -eq 3 ] || { echo "jsonl lines"; exit 1; }
grep -q '^{"nonce":"aabbccddeeff00112233","request":"[A-Za-z0-9+/=]*","report":"[A-Za-z0-9+/=]*"}$' out.jsonl
# bad input is refused with a status, not a crash
if "$tool" --hv-key hv.pem --guest-key guest.pem --nonce 11 --region a.bin --jsonl x.jsonl 2>/dev/null; then
  echo "short nonce accepted"; exit 1
fi
echo "reportgen smoke: OK"
