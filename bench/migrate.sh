#!/usr/bin/env bash
# Migration benchmark (issue #12): a register of N `account` subjects
# (bench/make_register.sh: privreg import, pseudo-random values) moved from
# SQLite to a throw-away PostgreSQL (scripts/start-postgres, fsync off) with
# `privreg migrate --to postgresql://...`, then back into a new SQLite file
# with `privreg migrate --to sqlite:back.db`, RUNS times on fresh copies.
# Each way: the copy's time as privreg reports it (copy, verification of
# counts, checksums and audit chains, commit), rows per second, and peak
# RSS (/usr/bin/time -v; it should not grow with N: the copy streams);
# medians at the end. The machine is shared: compare medians.
# Usage: bench/migrate.sh [BUILD_DIR] [N] [RUNS] [WORK_DIR]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
runs=${3:-3}
cd "$(dirname "$0")/.."
bin="$PWD/$build/privreg"
[ -x "$bin" ] || { echo "no $bin: build it first (make build)" >&2; exit 1; }
work=${4:-/tmp/privreg-migratebench-$n}
psql=/usr/lib/postgresql/15/bin/psql
bench/make_register.sh "$build" "$n" "$work/register"
pg=$(mktemp -d /tmp/privreg-migratebench-pg.XXXXXX)
run=$(mktemp -d /tmp/privreg-migratebench-run.XXXXXX)
trap 'scripts/stop-postgres "$pg"; rm -rf "$run"' EXIT
url=$(scripts/start-postgres "$pg")

# One migration of $run/reg to $1; prints "seconds rows rss_mib".
one() {
	/usr/bin/time -v "$bin" migrate --to "$1" --dir "$run/reg" >"$run/out" 2>"$run/time"
	local rss rows secs
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$run/time")
	rows=$(sed -n 's/^migrated \([0-9]*\) rows.*/\1/p' "$run/out")
	secs=$(sed -n 's/^migrated .* in \([0-9.]*\) s;.*/\1/p' "$run/out")
	echo "$secs $rows $((rss / 1024))"
}
echo "== $n subjects, $runs runs; SQLite file $(du -m "$work/register/reg/privreg.db" | cut -f1) MiB"
: >"$run/to_pg"
: >"$run/to_sqlite"
for i in $(seq "$runs"); do
	rm -rf "$run/reg"
	cp -a "$work/register/reg" "$run/reg"
	"$psql" -qX "$url/postgres" -c "CREATE DATABASE migratebench_$i"
	read -r s1 rows1 rss1 < <(one "$url/migratebench_$i")
	read -r s2 rows2 rss2 < <(one sqlite:back.db)
	echo "$s1" >>"$run/to_pg"
	echo "$s2" >>"$run/to_sqlite"
	echo "run $i: sqlite -> postgresql $rows1 rows in $s1 s, peak RSS $rss1 MiB;" \
	     "postgresql -> sqlite $rows2 rows in $s2 s, peak RSS $rss2 MiB"
	"$psql" -qX "$url/postgres" -c "DROP DATABASE migratebench_$i"
done
median() { sort -n "$1" | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
m1=$(median "$run/to_pg")
m2=$(median "$run/to_sqlite")
echo "median: sqlite -> postgresql $m1 s ($(/usr/bin/python3 -c "print(round($rows1 / $m1))") rows/s)," \
     "postgresql -> sqlite $m2 s ($(/usr/bin/python3 -c "print(round($rows2 / $m2))") rows/s)"
