#!/usr/bin/env bash
# bench group `engine`: the attestation engine on the simulated machine vs
# OpenSSL SHA-256 over the same bytes, same run; whole-request latency.
set -euo pipefail
"$BUILD/bench/engine_bench" --rounds "${AHV_BENCH_ROUNDS:-7}" --calls "${AHV_BENCH_CALLS:-301}"
