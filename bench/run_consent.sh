#!/usr/bin/env bash
# Consent-check benchmark (issue #4): GET /v1/consents/check?purpose=P&email=E,
# the call a mailer makes per recipient, on a register of 1,000,000 subjects,
# against the bare libmicrohttpd server, same threads, alternating, one run.
# Usage: bench/run_consent.sh [BUILD_DIR] [SUBJECTS] [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
secs=${3:-10}
rounds=${4:-3}
threads=$(nproc)
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d /tmp/privreg-consentbench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

echo "== building a register of $n subjects in $work"
"$build/privreg" init --dir "$work/reg" --policy policies/webshop.yaml >/dev/null
/usr/bin/python3 - "$n" > "$work/accounts.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"fields": {"email": f"customer{i}@example.ee", "name": "Mari Tamm", "language": "et"}}))
PY
start=$(date +%s)
"$build/privreg" import account "$work/accounts.jsonl" --dir "$work/reg"
echo "import took $(( $(date +%s) - start )) s"
admin=$("$build/privreg" key add --role admin --dir "$work/reg" | tail -1 | awk '{print $NF}')
key=$("$build/privreg" key add --role marketing --dir "$work/reg" | tail -1 | awk '{print $NF}')
target="customer$((n / 2))@example.ee"

"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18083 --threads "$threads" >/dev/null 2>&1 &
"$build/bench/bare_server" 18084 "$threads" >/dev/null &
sleep 1
sid=$(curl -s "http://127.0.0.1:18083/v1/subjects?email=$target" -H "Authorization: Bearer $admin" |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["subjects"][0]["id"])')
curl -s -X POST "http://127.0.0.1:18083/v1/subjects/$sid/consents" -H "Authorization: Bearer $admin" \
	-H 'Content-Type: application/json' -d '{"purpose":"direct_marketing","granted":true,"source":"bench"}' >/dev/null
check="http://127.0.0.1:18083/v1/consents/check?purpose=direct_marketing&email=$target"
curl -s "$check" -H "Authorization: Bearer $key"; echo

rate() {
	local out
	if [ -n "${2:-}" ]; then
		out=$(wrk -t2 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $2" "$1")
	else
		out=$(wrk -t2 -c32 -d"${secs}s" --latency "$1")
	fi
	echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") $(awk '/Non-2xx/ {print $NF}' <<<"$out")"
}

echo "== $rounds rounds of ${secs}s each, wrk -t2 -c32, server threads $threads, $(nproc) cores"
declare -a bare chk
for r in $(seq 1 "$rounds"); do
	b=$(rate http://127.0.0.1:18084/)
	c=$(rate "$check" "$key")
	echo "round $r: bare $b | consent check $c   (req/s p99 non-2xx)"
	bare+=("${b%% *}"); chk+=("${c%% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${bare[@]}"); mc=$(median "${chk[@]}")
echo "median: bare $mb req/s, consent check $mc req/s (ratio $(awk -v a="$mc" -v b="$mb" 'BEGIN {printf "%.2f", a/b}'))"
