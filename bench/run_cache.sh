#!/usr/bin/env bash
# SQLite page cache (issue #15, the soak's memory): what a smaller cache per
# connection costs. Two servers of the same build on two copies of one
# register of N account subjects (bench/make_register.sh, built once), one
# with --sqlite-cache-mb BIG and one with SMALL, measured alternately, each
# request on a uniformly random subject (bench/lua/random_get.lua), wrk -t1
# -c32, SECONDS per measurement:
#   consent: GET /v1/consents/check?purpose=direct_marketing&email=E (not
#            audited: nothing is written, so no commit empties the caches)
#   email:   GET /v1/subjects?email=E (audited: every read writes its entry)
#   id:      GET /v1/subjects/{id} over ID_SUBJECTS (2,000) subjects
#   create:  POST /v1/subjects (bench/lua/create_subject.lua)
# Each server's RSS is printed after every round: the caches fill as the
# rounds go. Medians and SMALL/BIG ratios at the end.
# Usage: bench/run_cache.sh [BUILD_DIR] [N] [SECONDS] [ROUNDS] [BIG] [SMALL] [CACHE_DIR]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
secs=${3:-10}
rounds=${4:-3}
big=${5:-32}
small=${6:-8}
cache=${7:-/tmp/privreg-bench-$n}
threads=${THREADS:-$(nproc)}
id_subjects=${ID_SUBJECTS:-2000}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bench/make_register.sh "$build" "$n" "$cache"
work=$(mktemp -d /tmp/privreg-cachebench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$cache/reg" "$work/big"
support=$("$build/privreg" key add --role support --dir "$work/big" | tail -1 | awk '{print $NF}')
marketing=$("$build/privreg" key add --role marketing --dir "$work/big" | tail -1 | awk '{print $NF}')
admin=$("$build/privreg" key add --role admin --dir "$work/big" | tail -1 | awk '{print $NF}')
bench/ids.py "$work/big/privreg.db" "$id_subjects" >"$work/ids.txt"
cp -r "$work/big" "$work/small"
du -sh "$work/big" | awk '{print "register: " $1 " on disk (each copy)"}'

# Ports the kernel picks: fixed ones meet other jobs' servers on a shared machine.
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
declare -A port=([big]=$(freeport) [small]=$(freeport)) mb=([big]=$big [small]=$small) pid=()
for s in big small; do
	"$build/privreg" serve --dir "$work/$s" --listen "127.0.0.1:${port[$s]}" --threads "$threads" \
		--sqlite-cache-mb "${mb[$s]}" --sweep-every 0 --checkpoint-every 0 >/dev/null 2>&1 &
	pid[$s]=$!
done
sleep 1
for s in big small; do
	curl -sf "http://127.0.0.1:${port[$s]}/v1/subjects/$(head -1 "$work/ids.txt")" \
		-H "Authorization: Bearer $support" >/dev/null || { echo "the $s server does not answer" >&2; exit 1; }
done

rate() { # PORT AUTH LUA ARGS...: req/s of one wrk run (non-2xx fail the bench)
	local p=$1 auth=$2 lua=$3 out non2xx
	shift 3
	out=$(wrk -t1 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $auth" -s "$lua" "http://127.0.0.1:$p/" -- "$@")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	if [ -n "$non2xx" ]; then
		echo "$non2xx answers were not 2xx ($lua $*)" >&2
		exit 1
	fi
	awk '/Requests\/sec/ {print $2}' <<<"$out"
}
rss() { awk '/^VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/${pid[$1]}/status"; }

echo "== $rounds rounds of ${secs}s each, wrk -t1 -c32, $n subjects, server threads $threads, $(nproc) cores;" \
	"cache ${big} MiB against ${small} MiB a connection"
declare -A res
for r in $(seq 1 "$rounds"); do
	for w in consent email id create; do
		# Alternate which goes first, so neither always has the warmer OS cache.
		order="big small"
		[ $((r % 2)) -eq 0 ] && order="small big"
		for s in $order; do
			p=${port[$s]}
			case $w in
			consent) v=$(rate "$p" "$marketing" bench/lua/random_get.lua "$cache/emails.txt" "/v1/consents/check?purpose=direct_marketing&email=") ;;
			email) v=$(rate "$p" "$support" bench/lua/random_get.lua "$cache/emails.txt" "/v1/subjects?email=") ;;
			id) v=$(rate "$p" "$support" bench/lua/random_get.lua "$work/ids.txt" "/v1/subjects/") ;;
			create) v=$(rate "$p" "$admin" bench/lua/create_subject.lua "$s$r") ;;
			esac
			res[$w,$s]="${res[$w,$s]:-} $v"
		done
	done
	echo "round $r: $(for w in consent email id create; do printf '%s %s/%s  ' "$w" \
		"$(awk '{print $NF}' <<<"${res[$w,big]}")" "$(awk '{print $NF}' <<<"${res[$w,small]}")"; done)" \
		"(req/s, ${big}/${small} MiB); RSS $(rss big)/$(rss small) MB"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
for w in consent email id create; do
	# shellcheck disable=SC2086
	b=$(median ${res[$w,big]}) s=$(median ${res[$w,small]})
	echo "median $w: ${big} MiB $b req/s, ${small} MiB $s req/s (ratio $(awk -v a="$s" -v b="$b" 'BEGIN {printf "%.3f", a / b}'))"
done
