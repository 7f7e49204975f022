#!/usr/bin/env bash
# Write benchmark: concurrent durable writes through the HTTP API against raw
# SQLite doing the same inserts with the same durability from the same number
# of threads (bench/bench_writes_raw.c: WAL, synchronous=FULL, a transaction
# per request), alternating, on copies of the N-subject register of
# bench/make_register.sh.
#   create: POST /v1/subjects (admin key), one account record with a
#           distinct random e-mail per request (bench/lua/create_subject.lua)
#   grant:  POST /v1/subjects/{id}/consents granting direct_marketing, a
#           double opt-in: each grant queues a confirmation e-mail; every
#           request another subject (bench/lua/grant_consent.lua)
# Then the grant again with the outbox pre-filled with OUTBOX_SIZES unsent
# messages (no SMTP configured, so nothing drains it): the rate must not fall
# as the outbox grows.
# Usage: bench/run_writes.sh [BUILD_DIR] [N] [SECONDS] [ROUNDS] [CACHE_DIR]
set -euo pipefail
build=${1:-build}
n=${2:-1000000}
secs=${3:-10}
rounds=${4:-3}
cache=${5:-/tmp/privreg-bench-$n}
threads=${THREADS:-$(nproc)}
outbox_sizes=${OUTBOX_SIZES:-"0 100000 1000000"}
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
bench/make_register.sh "$build" "$n" "$cache"
work=$(mktemp -d /tmp/privreg-writebench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$cache/reg" "$work/reg"
db="$work/reg/privreg.db"
admin=$("$build/privreg" key add --role admin --dir "$work/reg" | tail -1 | awk '{print $NF}')
bench/ids.py "$db" > "$work/ids.txt"
next_id=1 # grants walk the id list: every grant is another subject's first

serve() {
	"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18087 --threads "$threads" >/dev/null 2>&1 &
	server=$!
	for _ in $(seq 50); do curl -sf http://127.0.0.1:18087/healthz >/dev/null && return; sleep 0.1; done
	echo "the server does not start" >&2; exit 1
}
unserve() { kill "$server"; wait "$server" 2>/dev/null || true; }
wrk_rate() { # LUA ARGS...: req/s p50 p99 non-2xx
	local lua=$1 out non2xx
	shift
	out=$(wrk -t1 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $admin" -s "$lua" http://127.0.0.1:18087/ -- "$@")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	echo "$(awk '/Requests\/sec/ {print $2}' <<<"$out") $(awk '$1 == "50%" {print $2}' <<<"$out") $(awk '$1 == "99%" {print $2}' <<<"$out") ${non2xx:-0}"
}
raw_rate() { # create|grant: per s p50 p99
	"$build/bench/bench_writes_raw" "$db" "$1" "$threads" "$secs" | awk '{print $7, $9 "ms", $12 "ms"}'
}
grant_rate() { # sets grant (not in a subshell: it moves next_id on)
	grant=$(wrk_rate bench/lua/grant_consent.lua "$work/ids.txt" "$next_id")
	next_id=$(awk -v a="$next_id" -v r="${grant%% *}" -v s="$secs" 'BEGIN {printf "%d", a + r * s * 1.2 + 100}')
}
outbox() { sqlite3 "$db" "SELECT count(*) FROM outbox WHERE sent_at IS NULL"; }

echo "== $rounds rounds of ${secs}s each, wrk -t1 -c32 / raw sqlite, $threads threads, $(nproc) cores, $n subjects"
declare -a pc rc pg rg
for r in $(seq 1 "$rounds"); do
	serve; a=$(wrk_rate bench/lua/create_subject.lua "r$r"); unserve
	b=$(raw_rate create)
	serve; grant_rate; c=$grant; unserve
	d=$(raw_rate grant)
	echo "round $r: create privreg $a | raw $b || grant privreg $c | raw $d   (per s, p50, p99, non-2xx) outbox $(outbox)"
	pc+=("${a%% *}"); rc+=("${b%% *}"); pg+=("${c%% *}"); rg+=("${d%% *}")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
m1=$(median "${pc[@]}"); m2=$(median "${rc[@]}"); m3=$(median "${pg[@]}"); m4=$(median "${rg[@]}")
echo "median: create privreg $m1/s raw $m2/s ($(ratio "$m1" "$m2")); grant privreg $m3/s raw $m4/s ($(ratio "$m3" "$m4"))"

echo "== grant rate as the outbox grows (unsent messages added with sqlite3, no SMTP)"
for size in $outbox_sizes; do
	have=$(outbox)
	if [ "$size" -gt "$have" ]; then
		sqlite3 "$db" "PRAGMA secure_delete = ON; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < $size - $have)
			INSERT INTO outbox (tenant_id, message_id, subject_id, kind, created_at, next_at, sealed)
			SELECT 1, (SELECT COALESCE(MAX(message_id), 0) FROM outbox WHERE tenant_id = 1) + i, randomblob(16), 'confirm',
			       strftime('%s', 'now'), strftime('%s', 'now') + i % 3600, randomblob(700) FROM c; PRAGMA wal_checkpoint(TRUNCATE);" >/dev/null
	fi
	serve; grant_rate; g=$grant; unserve
	echo "outbox $(outbox) unsent before the round: grant privreg $g   (per s, p50, p99, non-2xx)"
done
