#!/usr/bin/env bash
# HTTP benchmark (issue #3): wrk on loopback against privreg serve and the
# bare libmicrohttpd server, same threads, alternating, one run.
#   GET /v1/subjects/{id}: a register of 100,000 subjects; each read decrypts
#     the subject's record and appends its audit entry.
#   GET /v1/whoami: authenticated, no personal data: the cost of the server,
#     key check and JSON, "healthz weight".
# Usage: bench/run_http.sh [BUILD_DIR] [SUBJECTS] [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
secs=${3:-10}
rounds=${4:-3}
threads=$(nproc)
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d /tmp/privreg-httpbench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT

echo "== building a register of $n subjects in $work"
"$build/privreg" init --dir "$work/reg" --policy policies/webshop.yaml >/dev/null
/usr/bin/python3 - "$n" > "$work/accounts.jsonl" <<'PY'
import json, random, sys
random.seed(7)
first = ["Mari", "Jaan", "Liis", "Kalle", "Anna", "Jānis", "Peeter", "Tiina"]
last = ["Tamm", "Saar", "Kask", "Mets", "Bērziņš", "Virtanen", "Ivanova"]
for i in range(int(sys.argv[1])):
    f, l = random.choice(first), random.choice(last)
    print(json.dumps({"fields": {"email": f"{f}.{l}.{i}@example.ee".lower(), "name": f"{f} {l}",
                                 "phone": f"+372 5{random.randrange(1000000, 9999999)}",
                                 "address": f"Pikk {random.randrange(1, 200)}, Tallinn",
                                 "language": random.choice(["et", "lv", "en", "ru"]),
                                 "username": f"user{i}"}}, ensure_ascii=False))
PY
"$build/privreg" import account "$work/accounts.jsonl" --dir "$work/reg"
key=$("$build/privreg" key add --role support --dir "$work/reg" | tail -1 | awk '{print $NF}')
sid=$("$build/privreg" subject find username "user$((n / 2))" --dir "$work/reg")

"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18081 --threads "$threads" \
	>"$work/serve.out" 2>/dev/null &
"$build/bench/bare_server" 18082 "$threads" >"$work/bare.out" &
sleep 1

rate() { # URL [AUTH]: requests/s and p99 of one wrk run
	local out
	if [ -n "${2:-}" ]; then
		out=$(wrk -t2 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $2" "$1")
	else
		out=$(wrk -t2 -c32 -d"${secs}s" --latency "$1")
	fi
	local rps p99 non2xx
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	echo "$rps $p99 ${non2xx:-0}"
}

echo "== $rounds rounds of ${secs}s each, wrk -t2 -c32, server threads $threads, $(nproc) cores"
declare -a bare subj who
for r in $(seq 1 "$rounds"); do
	b=$(rate http://127.0.0.1:18082/)
	s=$(rate "http://127.0.0.1:18081/v1/subjects/$sid" "$key")
	w=$(rate http://127.0.0.1:18081/v1/whoami "$key")
	echo "round $r: bare $b | subject read $s | whoami $w   (req/s p99 non-2xx)"
	bare+=("${b%% *}"); subj+=("${s%% *}"); who+=("${w%% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${bare[@]}"); ms=$(median "${subj[@]}"); mw=$(median "${who[@]}")
echo "median: bare $mb req/s, subject read $ms req/s (ratio $(awk -v a="$ms" -v b="$mb" 'BEGIN {printf "%.2f", a/b}')), whoami $mw req/s (ratio $(awk -v a="$mw" -v b="$mb" 'BEGIN {printf "%.2f", a/b}'))"
"$build/privreg" audit verify --dir "$work/reg" || true
