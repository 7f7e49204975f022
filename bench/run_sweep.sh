#!/usr/bin/env bash
# Retention sweep benchmark (issue #6): a register of N records (default
# 1,000,000: 70% open accounts, never due; 30% messages past their 3 years),
# swept by `privreg sweep` while wrk measures GET /v1/consents/check on the
# server; then the same wrk run with no sweep. Reports the sweep's due
# records per second (alone, and beside the loaded server) and the consent
# check's p99 idle and during the sweep.
# Usage: bench/run_sweep.sh [BUILD_DIR] [RECORDS] [ROUNDS]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
rounds=${3:-3}
threads=$(nproc)
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d /tmp/privreg-sweepbench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
due=$((n * 3 / 10))
accounts=$((n - due))

echo "== $n records ($due due) in $work"
"$build/privreg" init --dir "$work/reg" --policy policies/webshop.yaml >/dev/null
/usr/bin/python3 - "$accounts" "$due" "$work" <<'PY'
import json, sys
a, d, w = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(f"{w}/accounts.jsonl", "w") as f:
    for i in range(a):
        f.write(json.dumps({"fields": {"email": f"customer{i}@example.ee", "name": "Mari Tamm"}}) + "\n")
with open(f"{w}/messages.jsonl", "w") as f:
    for i in range(d):
        f.write(json.dumps({"fields": {"message": f"message {i}"}, "created_at": "2020-01-01"}) + "\n")
PY
"$build/privreg" import account "$work/accounts.jsonl" --dir "$work/reg"
"$build/privreg" import message "$work/messages.jsonl" --dir "$work/reg"
cp -r "$work/reg" "$work/pristine"
admin=$("$build/privreg" key add --role admin --dir "$work/pristine" | tail -1 | awk '{print $NF}')
key=$("$build/privreg" key add --role marketing --dir "$work/pristine" | tail -1 | awk '{print $NF}')
target="customer$((accounts / 2))@example.ee"
check="http://127.0.0.1:18085/v1/consents/check?purpose=direct_marketing&email=$target"

p99() { # wrk for $1 seconds; prints p99 in ms and req/s
	local out
	out=$(wrk -t2 -c16 -d"${1}s" --latency -H "Authorization: Bearer $key" "$check")
	awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/, "", v); v/=1000} else if (v ~ /ms$/) {sub(/ms/, "", v)}
	     else if (v ~ /s$/) {sub(/s/, "", v); v*=1000}; printf "%.2f ", v}' <<<"$out"
	awk '/Requests\/sec/ {print $2}' <<<"$out"
}

declare -a rates alone idle busy
for r in $(seq 1 "$rounds"); do
	# The sweep alone: no server, no load.
	rm -rf "$work/reg" && cp -r "$work/pristine" "$work/reg"
	start=$(date +%s.%N)
	"$build/privreg" sweep --dir "$work/reg" > "$work/sweep.out"
	secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN {print e - s}')
	a=$(awk -v n="$due" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
	echo "round $r: sweep alone $secs s = $a due records/s"
	alone+=("$a")
	rm -rf "$work/reg" && cp -r "$work/pristine" "$work/reg"
	"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18085 --threads "$threads" --sweep-every 0 \
		>/dev/null 2>&1 &
	srv=$!
	sleep 1
	i=$(p99 5)
	start=$(date +%s.%N)
	("$build/privreg" sweep --dir "$work/reg" > "$work/sweep.out"; date +%s.%N > "$work/end") &
	sw=$!
	sleep 0.5
	b=$(p99 3)
	wait "$sw"
	secs=$(awk -v s="$start" -v e="$(cat "$work/end")" 'BEGIN {print e - s}')
	kill "$srv"; wait "$srv" 2>/dev/null || true
	rate=$(awk -v n="$due" -v s="$secs" 'BEGIN {printf "%.0f", n / s}')
	echo "round $r: sweep $secs s = $rate due records/s | consent check p99 idle ${i% *} ms, during sweep ${b% *} ms (req/s idle ${i#* }, during ${b#* })"
	tail -1 "$work/sweep.out"
	rates+=("$rate"); idle+=("${i% *}"); busy+=("${b% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mi=$(median "${idle[@]}"); mb=$(median "${busy[@]}")
echo "median: alone $(median "${alone[@]}") due records/s; under load $(median "${rates[@]}") due records/s; p99 idle $mi ms, during sweep $mb ms (ratio $(awk -v a="$mb" -v b="$mi" 'BEGIN {printf "%.2f", a/b}'))"
