#!/usr/bin/env bash
# PostgreSQL beside SQLite (issue #12 (b)): the same three operations on a
# register of N `account` subjects on each backend, as ratios to the bare
# libmicrohttpd server (bench/bare_server), wrk -t1 -c32 on loopback,
# alternating bare / SQLite / PostgreSQL in every round:
#   read:    GET /v1/subjects/{id}, support key, a uniformly random subject
#            per request (decrypts the record; audited: the access entry is
#            committed, in a group, before the answer)
#   consent: GET /v1/consents/check?purpose=direct_marketing&email=E,
#            marketing key, a random subject's e-mail per request
#   erase:   DELETE /v1/subjects/{id}, admin key, another subject per
#            request (durable: key destroyed, rows deleted, ledger appended)
# PostgreSQL runs on this machine (scripts/start-postgres, restarted here
# with fsync=on, as SQLite's synchronous=FULL, and pg_stat_statements), and
# for each PostgreSQL measurement the script counts, per request: statements
# (pg_stat_statements; less those sent in one string with BEGIN, which was
# the count of round trips before the store sent statements in flights:
# bench/flights_pg.sh counts round trips now), transactions
# (pg_stat_database), acquisitions of the single-writer
# advisory lock and the time spent waiting for it (pg_stat_statements), and
# the CPU time of the privreg server and of all PostgreSQL processes
# (/proc/PID/stat). It also measures a bare round trip (pgbench, SELECT 1)
# and an fsync (pg_test_fsync): the inputs of the model in docs/scaling.md.
# SERVERS=2 adds a second privreg server on the same PostgreSQL database
# and measures every PostgreSQL operation with wrk against both at once.
# PG_THREADS sets the request threads of the PostgreSQL servers (default:
# two per core, what `privreg serve` picks on PostgreSQL; SQLite's server
# gets one per core, its default): a thread waits for each round trip.
# BASE_THREADS sets the BASE_BIN server's threads (default: PG_THREADS).
# The BASE_BIN server is measured first in each pair: the first PostgreSQL
# measurement after a round's reads is the one a disturbance has hit most
# (bench/RESULTS.md, pgops), so swap the binaries in a second run.
# BASE_BIN=PATH adds a third PostgreSQL measurement in every round, just
# before the PostgreSQL one: another privreg binary (a baseline build)
# serving the same register on the same database, so that a change is
# measured before and after on the same data and the same load (no new
# migration in between). Its erasures walk their own part of the subjects.
# Reads pick from the second half of the subjects, erasures walk the first.
# The registers' policy is policies/webshop.yaml less its `systems:` (no
# webhooks to a sink nobody runs); POLICY=FILE sets another.
# Usage: bench/run_pg.sh [BUILD_DIR] [SUBJECTS] [SECONDS] [ROUNDS]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
secs=${3:-8}
rounds=${4:-3}
threads=${THREADS:-$(nproc)}
servers=${SERVERS:-1}
base_bin=${BASE_BIN:-}
pg_threads=${PG_THREADS:-$((2 * threads))}
base_threads=${BASE_THREADS:-$pg_threads}
pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}
cd "$(dirname "$0")/.."
bin="$PWD/$build/privreg"
[ -x "$bin" ] || { echo "no $bin: build it first (make build)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
work=$(mktemp -d /tmp/privreg-pgbench-XXXXXX)
chmod 755 "$work"
cleanup() {
	kill $(jobs -p) 2>/dev/null || true
	wait 2>/dev/null || true
	scripts/stop-postgres "$work/pg" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# ---- PostgreSQL: durable commits, statement statistics ----
url=$(scripts/start-postgres "$work/pg")
port=${url##*:}
pguser=${url#postgresql://}
pguser=${pguser%@*}
as_pg=()
[ "$(id -u)" -eq 0 ] && as_pg=(runuser -u nobody --)
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 restart -o \
	"-c listen_addresses=127.0.0.1 -p $port -k $work/pg -c fsync=on -c synchronous_commit=on -c max_connections=300 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_utility=on" \
	>/dev/null
psql_q() { psql -X -At -v ON_ERROR_STOP=1 -d "$url/postgres" -c "$1"; }
psql_q "CREATE EXTENSION pg_stat_statements" >/dev/null
psql_q "CREATE DATABASE reg" >/dev/null
pgurl="$url/reg"
postmaster=$(head -1 "$work/pg/data/postmaster.pid")
echo "PostgreSQL $(psql_q 'SHOW server_version'), fsync $(psql_q 'SHOW fsync'), shared_buffers $(psql_q 'SHOW shared_buffers'), on this machine"

# ---- the two registers ----
/usr/bin/python3 - "$n" "$work/accounts.jsonl" "$work/emails.txt" <<'PY'
import json, random, sys
n = int(sys.argv[1])
r = random.Random(7)
first = ["Mari", "Jaan", "Liis", "Kalle", "Anna", "Janis", "Peeter", "Tiina", "Olga", "Mikko"]
last = ["Tamm", "Saar", "Kask", "Mets", "Berzins", "Virtanen", "Ivanova", "Ozols", "Sepp"]
emails = []
with open(sys.argv[2], "w") as out:
    for i in range(n):
        f, l = r.choice(first), r.choice(last)
        e = f"{f}.{l}.{r.getrandbits(32):08x}.{i}@example.ee".lower()
        emails.append(e)
        out.write(json.dumps({"fields": {"email": e, "name": f"{f} {l}",
                                         "phone": f"+372 5{r.randrange(1000000, 9999999)}",
                                         "address": f"Pikk {r.randrange(1, 200)}, Tallinn",
                                         "language": r.choice(["et", "lv", "en", "ru"]),
                                         "username": f"user{i}"}}) + "\n")
r.shuffle(emails)
with open(sys.argv[3], "w") as out:
    out.write("\n".join(emails) + "\n")
PY
# The example policy without its `systems:` (as the integration tests'
# WEBSHOP): with them, every erasure also queues a webhook to each of the
# demo's systems, whose sink nobody runs here, and the sender's failed
# attempts and retries are written beside the measured requests.
# POLICY=FILE measures another policy (the shipped one: policies/webshop.yaml).
policy=${POLICY:-}
if [ -z "$policy" ]; then
	policy="$work/webshop.yaml"
	/usr/bin/python3 -c 'import re, sys; sys.stdout.write(re.sub(r"^systems:\n(?:[ #].*\n|\n)*", "", open(sys.argv[1]).read(), flags=re.M))' \
		policies/webshop.yaml >"$policy"
fi
"$bin" init --dir "$work/sq" --policy "$policy" >/dev/null
"$bin" init --dir "$work/pq" --policy "$policy" --store "$pgurl" >/dev/null
for b in sq pq; do
	start=$(date +%s.%N)
	"$bin" import account "$work/accounts.jsonl" --dir "$work/$b" >/dev/null
	echo "import of $n subjects into $b: $(awk -v s="$start" -v e="$(date +%s.%N)" -v n="$n" 'BEGIN {printf "%.1f s, %.0f subjects/s", e - s, n / (e - s)}')"
	for role in support marketing admin; do
		"$bin" key add --role "$role" --dir "$work/$b" | tail -1 | awk '{print $NF}' >"$work/$b.$role"
	done
done
for b in sq pq; do
	[ $b = sq ] && db="$work/sq/privreg.db" || db=$pgurl
	bench/ids.py "$db" >"$work/$b.all"
	head -n $((n / 2)) "$work/$b.all" >"$work/$b.erase"
	tail -n +$((n / 2 + 1)) "$work/$b.all" >"$work/$b.ids"
done
walkers=$servers
[ -n "$base_bin" ] && walkers=$((servers + 1))
stride=$((n / 2 / (rounds * walkers))) # erasures each wrk may make in a round, at most
psql -X -q -d "$pgurl" -c "VACUUM ANALYZE" >/dev/null

# ---- servers: SQLite on 18091, PostgreSQL on 18092 (and 18093), bare on 18090 ----
"$build/bench/bare_server" 18090 "$threads" >/dev/null &
"$bin" serve --dir "$work/sq" --listen 127.0.0.1:18091 --threads "$threads" >/dev/null 2>&1 &
sq_pid=$!
"$bin" serve --dir "$work/pq" --listen 127.0.0.1:18092 --threads "$pg_threads" >/dev/null 2>&1 &
pq_pids=$!
if [ "$servers" -ge 2 ]; then
	"$bin" serve --dir "$work/pq" --listen 127.0.0.1:18093 --threads "$pg_threads" >/dev/null 2>&1 &
	pq_pids="$pq_pids $!"
fi
base_pid=
if [ -n "$base_bin" ]; then
	"$base_bin" serve --dir "$work/pq" --listen 127.0.0.1:18094 --threads "$base_threads" >"$work/base.log" 2>&1 &
	base_pid=$!
fi
for p in 18091 18092 $([ "$servers" -ge 2 ] && echo 18093) ${base_bin:+18094}; do
	for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/healthz" >/dev/null && break; sleep 0.1; done
done
if [ -n "$base_bin" ] && ! curl -sf http://127.0.0.1:18094/healthz >/dev/null; then
	echo "BASE_BIN did not start:" >&2
	tail -5 "$work/base.log" >&2
	exit 1
fi

# ---- the inputs of the model: a bare round trip, an fsync ----
echo 'SELECT 1;' >"$work/select1.sql"
rtt=$("$pgbin/pgbench" -n -c1 -T3 -f "$work/select1.sql" "$pgurl" 2>/dev/null | awk '/latency average/ {print $4}')
fsync_ms=$("${as_pg[@]}" "$pgbin/pg_test_fsync" -s 2 -f "$work/pg/data/fsync.test" 2>/dev/null |
	awk '/fdatasync/ && /ops\/sec/ {print $(NF-1); exit}')
echo "bare round trip (pgbench SELECT 1, one client): $rtt ms; fdatasync (pg_test_fsync): ${fsync_ms:-?} us"

# ---- measurements ----
ticks() { # PIDS...: user+system clock ticks of these processes and their children threads
	local t=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
	done
	echo "$t"
}
pg_pids() { echo "$postmaster $(ps -o pid= --ppid "$postmaster" | tr '\n' ' ')"; }
pg_counters() { # statements, lock calls, lock ms, SET LOCAL calls, transactions
	psql_q "SELECT (SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = 'reg'),
	               (SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = 'reg' WHERE query LIKE '%pg_advisory_xact_lock%'),
	               (SELECT round(COALESCE(sum(total_exec_time), 0)::numeric, 3) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = 'reg' WHERE query LIKE '%pg_advisory_xact_lock%'),
	               (SELECT COALESCE(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = 'reg' WHERE query LIKE 'SET LOCAL synchronous_commit%'),
	               (SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = 'reg')" | tr '|' ' '
}
# One wrk run (PORTS LUA KEY ARGS...): "req/s p99 non-2xx requests"; with
# several ports, a wrk per port at once and their sum.
wrk_run() {
	local ports=$1 lua=$2 key=$3 p i=0 pids=()
	shift 3
	for p in $ports; do
		wrk -t1 -c32 -d"${secs}s" --latency -H "Authorization: Bearer $key" -s "$lua" "http://127.0.0.1:$p/" -- "$@" "$i" \
			>"$work/wrk.$i" &
		pids+=($!)
		i=$((i + 1))
	done
	wait "${pids[@]}"
	cat "$work"/wrk.* | awk '/Requests\/sec/ {r += $2} $1 == "99%" {p = $2} /Non-2xx/ {x += $NF}
		/requests in/ {q += $1} END {printf "%.0f %s %d %d\n", r, p, x, q}'
	rm -f "$work"/wrk.*
}
next_sq=1
next_pq=1
declare -A med
note() { med[$1]="${med[$1]:-} $2"; }
measure() { # NAME BACKEND LUA ARGS...: one measurement, printed; PostgreSQL with its counters
	local name=$1 b=$2 lua=$3 ports key out
	shift 3
	if [ "$b" = bare ]; then
		out=$(wrk -t1 -c32 -d"${secs}s" --latency -s bench/lua/random_get.lua http://127.0.0.1:18090/ -- "$work/emails.txt" "/?e=" |
			awk '/Requests\/sec/ {r = $2} $1 == "99%" {p = $2} /requests in/ {q = $1} END {printf "%.0f %s 0 %d\n", r, p, q}')
		echo "  bare: $out"
		note bare "${out%% *}"
		return
	fi
	key=$(cat "$work/${b%0}.$(case $name in read) echo support ;; consent) echo marketing ;; *) echo admin ;; esac)")
	if [ "$b" = sq ]; then
		local s0 s1
		s0=$(ticks $sq_pid)
		out=$(wrk_run 18091 "$lua" "$key" "$@")
		s1=$(ticks $sq_pid)
		echo "  $name sqlite: $out | CPU privreg $(awk -v t="$((s1 - s0))" -v r="${out##* }" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.0f", t * 1e6 / hz / r}') us per request"
		note "$name.sq" "${out%% *}"
		return
	fi
	ports=18092
	[ "$servers" -ge 2 ] && ports="18092 18093"
	local c0 c1 t0 t1 g0 g1 pgp pids=$pq_pids label=postgresql
	if [ "$b" = pq0 ]; then
		ports=18094 pids=$base_pid label="postgresql (BASE_BIN)"
	fi
	pgp=$(pg_pids)
	c0=$(pg_counters); t0=$(ticks $pids); g0=$(ticks $pgp)
	out=$(wrk_run "$ports" "$lua" "$key" "$@")
	sleep 1.5 # pg_stat_database is flushed at most once a second
	c1=$(pg_counters); t1=$(ticks $pids); g1=$(ticks $pgp)
	local reqs=${out##* }
	local counts
	counts=$(awk -v a="$c0" -v b="$c1" -v r="$reqs" -v t="$((t1 - t0))" -v g="$((g1 - g0))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " ")
		st = y[1] - x[1]; lk = y[2] - x[2]; lms = y[3] - x[3]; sl = y[4] - x[4]; tx = y[5] - x[5]
		printf "per request: %.2f statements less those sent with BEGIN (%.2f statements), %.2f transactions, %.2f writer locks (wait %.3f ms each), CPU privreg %.0f us, PostgreSQL %.0f us",
			(st - lk - sl) / r, st / r, tx / r, lk / r, lk ? lms / lk : 0, t * 1e6 / hz / r, g * 1e6 / hz / r }')
	echo "  $name $label: $out | $counts"
	note "$name.$b" "${out%% *}"
}

echo "== $rounds rounds of ${secs}s each, wrk -t1 -c32 per server, $n subjects, server threads $threads (PostgreSQL: $pg_threads${base_bin:+, BASE_BIN: $base_threads}), $(nproc) cores, PostgreSQL servers: $servers   (req/s p99 non-2xx requests)"
for r in $(seq "$rounds"); do
	echo "round $r:"
	measure bare bare ""
	measure read sq bench/lua/random_get.lua "$work/sq.ids" "/v1/subjects/"
	[ -n "$base_bin" ] && measure read pq0 bench/lua/random_get.lua "$work/pq.ids" "/v1/subjects/"
	measure read pq bench/lua/random_get.lua "$work/pq.ids" "/v1/subjects/"
	measure consent sq bench/lua/random_get.lua "$work/emails.txt" "/v1/consents/check?purpose=direct_marketing&email="
	[ -n "$base_bin" ] && measure consent pq0 bench/lua/random_get.lua "$work/emails.txt" "/v1/consents/check?purpose=direct_marketing&email="
	measure consent pq bench/lua/random_get.lua "$work/emails.txt" "/v1/consents/check?purpose=direct_marketing&email="
	measure erase sq bench/lua/erase_subject.lua "$work/sq.erase" "$next_sq" "$stride"
	if [ -n "$base_bin" ]; then
		measure erase pq0 bench/lua/erase_subject.lua "$work/pq.erase" "$next_pq" "$stride"
		next_pq=$((next_pq + stride))
	fi
	measure erase pq bench/lua/erase_subject.lua "$work/pq.erase" "$next_pq" "$stride"
	# each erasure round starts after the subjects the last one may have erased
	next_sq=$((next_sq + stride)); next_pq=$((next_pq + stride * servers))
done
median() { printf '%s\n' $@ | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
mb=$(median ${med[bare]})
echo "median: bare $mb req/s"
for op in read consent erase; do
	s=$(median ${med[$op.sq]}); p=$(median ${med[$op.pq]})
	echo "  $op: sqlite $s req/s ($(ratio "$s" "$mb") of bare), postgresql $p req/s ($(ratio "$p" "$mb") of bare), postgresql/sqlite $(ratio "$p" "$s")"
	if [ -n "$base_bin" ]; then
		p=$(median ${med[$op.pq0]})
		echo "    BASE_BIN: postgresql $p req/s ($(ratio "$p" "$mb") of bare), postgresql/sqlite $(ratio "$p" "$s")"
	fi
done
"$bin" audit verify --dir "$work/pq" | tail -1
