#!/usr/bin/env bash
# Random-key read benchmarks (issue "performance, while you are in the hot
# path") on a register of N account subjects (default 1,000,000, built once by
# bench/make_register.sh and copied fresh for each run), every request picking
# a uniformly random subject (bench/lua/random_get.lua): one hot key would
# measure the cache, not the register. Against bench/bare_server with the
# same threads, alternating, wrk -t1 -c32, SECONDS per measurement:
#   email:   GET /v1/subjects?email=E (support key; audited: the lookup's
#            entry is written before the answer)
#   id:      GET /v1/subjects/{id} over ID_SUBJECTS (2,000) subjects (support
#            key; decrypts the record; audited)
#   consent: GET /v1/consents/check?purpose=direct_marketing&email=E
#            (marketing key; not audited, counted)
# With BASE_BUILD set (a build of another commit), its server runs too, on
# its own copy, and each round measures the three reads on both: before and
# after in the same minutes of a shared machine.
# Usage: bench/run_random.sh [BUILD_DIR] [N] [SECONDS] [ROUNDS] [CACHE_DIR]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
secs=${3:-10}
rounds=${4:-3}
cache=${5:-/tmp/privreg-bench-$n}
threads=${THREADS:-$(nproc)}
id_subjects=${ID_SUBJECTS:-2000}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bench/make_register.sh "$build" "$n" "$cache"
work=$(mktemp -d /tmp/privreg-randombench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
start=$(date +%s)
cp -r "$cache/reg" "$work/reg"
echo "copied the register in $(( $(date +%s) - start )) s"
support=$("$build/privreg" key add --role support --dir "$work/reg" | tail -1 | awk '{print $NF}')
marketing=$("$build/privreg" key add --role marketing --dir "$work/reg" | tail -1 | awk '{print $NF}')
bench/ids.py "$work/reg/privreg.db" "$id_subjects" > "$work/ids.txt"

"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18085 --threads "$threads" >/dev/null 2>&1 &
"$build/bench/bare_server" 18086 "$threads" >/dev/null &
if [ -n "${BASE_BUILD:-}" ]; then
	cp -r "$work/reg" "$work/base"
	"$BASE_BUILD/privreg" serve --dir "$work/base" --listen 127.0.0.1:18088 --threads "$threads" >/dev/null 2>&1 &
fi
sleep 1
e=$(head -1 "$cache/emails.txt")
curl -sf "http://127.0.0.1:18085/v1/subjects?email=$e" -H "Authorization: Bearer $support" >/dev/null ||
	{ echo "the server does not answer" >&2; exit 1; }

lua=bench/lua/random_get.lua
rate() { # URL AUTH LUA-ARGS...: req/s, p99 and non-2xx of one wrk run
	local url=$1 auth=$2 out
	shift 2
	if [ -n "$auth" ]; then
		out=$(wrk -t1 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $auth" -s "$lua" "$url" -- "$@")
	else
		out=$(wrk -t1 -c32 -d"${secs}s" --latency -s "$lua" "$url" -- "$@")
	fi
	local non2xx
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") ${non2xx:-0}"
}

echo "== $rounds rounds of ${secs}s each, wrk -t1 -c32, random keys, $n subjects, server threads $threads, $(nproc) cores"
declare -a bare email byid cons bemail bbyid bcons
for r in $(seq 1 "$rounds"); do
	b=$(rate http://127.0.0.1:18086/ "" "$cache/emails.txt" "/?e=")
	m=$(rate http://127.0.0.1:18085/ "$support" "$cache/emails.txt" "/v1/subjects?email=")
	i=$(rate http://127.0.0.1:18085/ "$support" "$work/ids.txt" "/v1/subjects/")
	c=$(rate http://127.0.0.1:18085/ "$marketing" "$cache/emails.txt" "/v1/consents/check?purpose=direct_marketing&email=")
	echo "round $r: bare $b | read by email $m | read by id $i | consent check $c   (req/s p99 non-2xx)"
	bare+=("${b%% *}"); email+=("${m%% *}"); byid+=("${i%% *}"); cons+=("${c%% *}")
	if [ -n "${BASE_BUILD:-}" ]; then
		m=$(rate http://127.0.0.1:18088/ "$support" "$cache/emails.txt" "/v1/subjects?email=")
		i=$(rate http://127.0.0.1:18088/ "$support" "$work/ids.txt" "/v1/subjects/")
		c=$(rate http://127.0.0.1:18088/ "$marketing" "$cache/emails.txt" "/v1/consents/check?purpose=direct_marketing&email=")
		echo "round $r: BASE_BUILD  read by email $m | read by id $i | consent check $c"
		bemail+=("${m%% *}"); bbyid+=("${i%% *}"); bcons+=("${c%% *}")
	fi
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
mb=$(median "${bare[@]}"); mm=$(median "${email[@]}"); mi=$(median "${byid[@]}"); mc=$(median "${cons[@]}")
echo "median: bare $mb req/s, read by email $mm ($(ratio "$mm" "$mb")), read by id $mi ($(ratio "$mi" "$mb")), consent check $mc ($(ratio "$mc" "$mb"))"
if [ -n "${BASE_BUILD:-}" ]; then
	mm=$(median "${bemail[@]}"); mi=$(median "${bbyid[@]}"); mc=$(median "${bcons[@]}")
	echo "median BASE_BUILD: read by email $mm ($(ratio "$mm" "$mb")), read by id $mi ($(ratio "$mi" "$mb")), consent check $mc ($(ratio "$mc" "$mb"))"
fi
kill %1 2>/dev/null; wait %1 2>/dev/null || true
"$build/privreg" audit verify --dir "$work/reg" || true
