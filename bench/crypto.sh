#!/usr/bin/env bash
# bench group `crypto`: our crypto API vs OpenSSL EVP, same buffers, same run.
set -euo pipefail
"$BUILD/bench/crypto_bench" --rounds "${AHV_BENCH_ROUNDS:-9}"
