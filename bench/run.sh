#!/usr/bin/env bash
# Runs the benchmarks against a release build. Usage: bench/run.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
cd "$(dirname "$0")/.."
echo "== insert: 100,000 account records through core/ vs raw sqlite3 ($(nproc) cores, $(uname -m))"
"$build/bench/bench_insert" 100000 5 policies/webshop.yaml
echo
echo "== HTTP: GET /v1/subjects/{id} and GET /v1/whoami vs a bare libmicrohttpd server"
bench/run_http.sh "$build" 100000 10 3
echo
echo "== HTTP: GET /v1/consents/check on 1,000,000 subjects vs a bare libmicrohttpd server"
bench/run_consent.sh "$build" 1000000 10 3
echo
echo "== requests: access export latency and erasure throughput"
bench/run_export.sh "$build" 100000 300
