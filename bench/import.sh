#!/usr/bin/env bash
# Import benchmark (issue #12): N account rows (e-mail, name, language) from
# CSV into a fresh register through `privreg import` (every field
# validated, sealed under a new subject key, the e-mail hashed for lookup),
# against the raw rate of the same rows on the same backend:
# - STORE=sqlite (the default): `sqlite3 .import` of the same file into a
#   plain table with a unique e-mail index (WAL); privreg's register is a
#   SQLite file (WAL; the import's commits do not wait for the disk, its
#   end syncs the log once: docs/import.md).
# - STORE=postgresql: a throw-away PostgreSQL 15 (scripts/start-postgres,
#   with fsync and full_page_writes on, synchronous_commit on, so
#   that a commit is on disk as SQLite's is); raw is `COPY ... FROM STDIN`
#   (psql's \copy) of the same CSV into a plain table (email, name,
#   language) with a unique index on email; privreg's register is a fresh
#   database on the same server (`privreg init --store URL`). The CPU of
#   the server's processes (the postmaster with the backends it reaped, and
#   its live children: /proc) is measured around each run and counted with
#   the client's.
# The two alternate, RUNS times, on fresh files; reported per run and as
# medians: rows/s, their ratio, user and system CPU, peak RSS (/usr/bin/time
# -v), and the register's bytes per subject (SQLite: file size after a
# checkpoint, and per table and index from dbstat; PostgreSQL: the
# database's size). With BASE_BIN set (the privreg binary of another
# commit), each run also imports with it, between the two: before and
# after in the same minutes of a shared machine (its rate, CPU, CPU ratio and
# bytes per subject; SQLite: per table for its last run).
# POLICY (default policies/webshop.yaml) is the register's policy: one whose
# email is `unique: true` adds the check of every e-mail against the register.
# Usage: [STORE=sqlite|postgresql] [POLICY=FILE] bench/import.sh [BUILD_DIR] [ROWS] [RUNS] [FORMAT csv|jsonl]
set -euo pipefail
build=${1:-build}
rows=${2:-1000000}
runs=${3:-3}
format=${4:-csv}
store=${STORE:-sqlite}
policy=$(realpath "${POLICY:-$(dirname "$0")/../policies/webshop.yaml}")
cd "$(dirname "$0")/.."
bin="$PWD/$build/privreg"
[ -x "$bin" ] || { echo "no $bin: build it first (make build)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }
case "$store" in sqlite | postgresql) ;; *) echo "STORE is sqlite or postgresql" >&2; exit 2 ;; esac
pgbin=${PG_BIN:-/usr/lib/postgresql/15/bin}
work=$(mktemp -d /tmp/privreg-importbench-XXXXXX)
pgdir=
cleanup() {
	[ -z "$pgdir" ] || scripts/stop-postgres "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

# Random-order values from a fixed seed: customers do not arrive sorted.
/usr/bin/python3 - "$work" "$rows" <<'EOF'
import csv, json, random, sys
work, n = sys.argv[1], int(sys.argv[2])
r = random.Random(12)
first = ["Mari", "Jaan", "Liis", "Kati", "Peeter", "Anna", "Toomas", "Kristi", "Jānis", "Ilze", "Aino", "Mikko"]
last = ["Tamm", "Saar", "Sepp", "Mägi", "Kask", "Ozols", "Bērziņš", "Kalniņš", "Lepp", "Rebane", "Virtanen"]
with open(f"{work}/accounts.csv", "w", newline="") as c, open(f"{work}/accounts.jsonl", "w") as j:
    w = csv.writer(c, lineterminator="\n")
    w.writerow(["email", "name", "language"])
    for i in range(n):
        email = f"{r.getrandbits(48):012x}.{i}@example.ee"
        name = f"{r.choice(first)} {r.choice(last)}"
        lang = r.choice(["et", "en", "ru"])
        w.writerow([email, name, lang])
        j.write(json.dumps({"fields": {"email": email, "name": name, "language": lang}}, ensure_ascii=False) + "\n")
EOF
src="$work/accounts.$format"

if [ "$store" = postgresql ]; then
	pgdir="$work/pg"
	# start-postgres turns fsync off (a test cluster); a benchmark's commits
	# reach the disk, as SQLite's do with synchronous=FULL.
	url=$(PG_OPTIONS="-c fsync=on -c full_page_writes=on" scripts/start-postgres "$pgdir")
	export PGOPTIONS="-c client_min_messages=warning"
	show() { "$pgbin/psql" -qXAt "$url/postgres" -c "SHOW $1"; }
	version="PostgreSQL $(show server_version) (fsync $(show fsync), full_page_writes $(show full_page_writes), synchronous_commit $(show synchronous_commit))"
else
	version="SQLite $(sqlite3 --version | cut -d' ' -f1)"
fi
echo "store=$store policy=$policy rows=$rows runs=$runs format=$format file=$(stat -c %s "$src") bytes; $(nproc) cores; $version"

# CPU seconds (user+sys) the PostgreSQL server has used: the postmaster with
# the backends it has reaped, and its live children; 0 for SQLite. A
# backend ends a moment after its client: until the postmaster has reaped
# it, its time is in neither count, so the count waits for that.
server_cpu() {
	[ "$store" = postgresql ] || { echo 0; return; }
	local pm
	sleep 2
	pm=$(head -1 "$pgdir/data/postmaster.pid")
	{
		awk '{print $14 + $15 + $16 + $17}' "/proc/$pm/stat"
		for c in $(cat /proc/"$pm"/task/*/children); do awk '{print $14 + $15}' "/proc/$c/stat" 2>/dev/null || true; done
	} | awk -v t="$(getconf CLK_TCK)" '{s += $1} END {printf "%.2f\n", s / t}'
}

# "elapsed user system maxrss_kb server_cpu" of a command, from GNU time.
timed() {
	local before
	before=$(server_cpu)
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
	echo "$(cat "$work/time") $(echo "$(server_cpu) - $before" | bc -l)"
}

raw_run() {
	if [ "$store" = postgresql ]; then
		"$pgbin/psql" -qX "$url/postgres" -c "DROP DATABASE IF EXISTS raw" -c "CREATE DATABASE raw" >/dev/null
		"$pgbin/psql" -qX "$url/raw" -c "CREATE TABLE accounts (email TEXT NOT NULL, name TEXT, language TEXT)" \
			-c "CREATE UNIQUE INDEX accounts_email ON accounts (email)" -c "CHECKPOINT" >/dev/null
		timed "$pgbin/psql" -qX "$url/raw" -c "\\copy accounts FROM '$work/accounts.csv' WITH (FORMAT csv, HEADER true)"
		return
	fi
	rm -f "$work/raw.db"*
	sqlite3 "$work/raw.db" "PRAGMA journal_mode=WAL;" \
		"CREATE TABLE accounts (email TEXT NOT NULL, name TEXT, language TEXT);" \
		"CREATE UNIQUE INDEX accounts_email ON accounts (email);" >/dev/null
	# The same rows as CSV whatever privreg reads: sqlite3 has no JSON Lines importer.
	timed sqlite3 "$work/raw.db" ".mode csv" ".import --skip 1 $work/accounts.csv accounts"
}

privreg_run() { # [BINARY]
	local b=${1:-$bin}
	rm -rf "$work/reg"
	if [ "$store" = postgresql ]; then
		"$pgbin/psql" -qX "$url/postgres" -c "DROP DATABASE IF EXISTS reg" -c "CREATE DATABASE reg" >/dev/null
		"$b" init --dir "$work/reg" --policy "$policy" --store "$url/reg" >/dev/null
		"$pgbin/psql" -qX "$url/reg" -c "CHECKPOINT" >/dev/null
	else
		"$b" init --dir "$work/reg" --policy "$policy" >/dev/null
	fi
	timed "$b" import account "$src" --dir "$work/reg"
}

# The register's size in bytes (SQLite: the file after a checkpoint).
reg_size() {
	if [ "$store" = postgresql ]; then
		"$pgbin/psql" -qXAt "$url/reg" -c "SELECT pg_database_size(current_database())"
	else
		sqlite3 "$work/reg/privreg.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
		stat -c %s "$work/reg/privreg.db"
	fi
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$work/results"
: >"$work/base"
: >"$work/base_tables"
for run in $(seq "$runs"); do
	read -r re ru rs rm rv < <(raw_run)
	if [ -n "${BASE_BIN:-}" ]; then
		read -r be bu bs bm bv < <(privreg_run "$BASE_BIN")
		bsize=$(reg_size)
		if [ "$store" = sqlite ]; then
			sqlite3 "$work/reg/privreg.db" "SELECT name, round(sum(pgsize) * 1.0 / $rows, 1) FROM dbstat GROUP BY name
				HAVING sum(pgsize) > 8192 ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /' >"$work/base_tables"
		fi
		bcr=$(echo "($ru + $rs + $rv) / ($bu + $bs + $bv)" | bc -l)
		printf "run %d: BASE_BIN %.0f rows/s (%.2f s, user %.2f sys %.2f, server %.2f, RSS %d MB) | CPU ratio %.3f | %.0f B/subject\n" \
			"$run" "$(echo "$rows / $be" | bc -l)" "$be" "$bu" "$bs" "$bv" $((bm / 1024)) "$bcr" "$(echo "$bsize / $rows" | bc -l)"
		echo "$(echo "$rows / $be" | bc -l) $(echo "$bu + $bs + $bv" | bc -l) $bcr $bsize" >>"$work/base"
	fi
	read -r pe pu ps pm pv < <(privreg_run)
	size=$(reg_size)
	rr=$(echo "$rows / $re" | bc -l); pr=$(echo "$rows / $pe" | bc -l)
	cr=$(echo "($ru + $rs + $rv) / ($pu + $ps + $pv)" | bc -l)
	printf "run %d: raw %.0f rows/s (%.2f s, user %.2f sys %.2f, server %.2f, RSS %d MB) | privreg %.0f rows/s (%.2f s, user %.2f sys %.2f, server %.2f, RSS %d MB) | ratio %.3f, CPU ratio %.3f | %.0f B/subject\n" \
		"$run" "$rr" "$re" "$ru" "$rs" "$rv" $((rm / 1024)) "$pr" "$pe" "$pu" "$ps" "$pv" $((pm / 1024)) \
		"$(echo "$pr / $rr" | bc -l)" "$cr" "$(echo "$size / $rows" | bc -l)"
	echo "$rr $pr $(echo "$pr / $rr" | bc -l) $pm $size $cr $(echo "$pu + $ps + $pv" | bc -l) $(echo "$ru + $rs + $rv" | bc -l)" >>"$work/results"
done
col() { cut -d' ' -f"$1" "$work/results" | median; }
printf "median: raw %.0f rows/s, privreg %.0f rows/s, ratio of medians %.3f, median ratio %.3f, peak RSS %d MB, %.0f B/subject\n" \
	"$(col 1)" "$(col 2)" "$(echo "$(col 2) / $(col 1)" | bc -l)" "$(col 3)" \
	"$(($(cut -d' ' -f4 "$work/results" | sort -n | tail -1) / 1024))" "$(echo "$(col 5) / $rows" | bc -l)"
printf "median CPU (user+sys, the server's included): raw %.2f s, privreg %.2f s, CPU ratio raw/privreg %.3f\n" \
	"$(col 8)" "$(col 7)" "$(col 6)"
if [ -s "$work/base" ]; then
	printf "median BASE_BIN: %.0f rows/s, CPU %.2f s, CPU ratio raw/BASE_BIN %.3f, %.0f B/subject\n" \
		"$(cut -d' ' -f1 "$work/base" | median)" "$(cut -d' ' -f2 "$work/base" | median)" \
		"$(cut -d' ' -f3 "$work/base" | median)" "$(echo "$(cut -d' ' -f4 "$work/base" | median) / $rows" | bc -l)"
	if [ -s "$work/base_tables" ]; then
		echo "BASE_BIN bytes per subject by table and index (last run):"
		cat "$work/base_tables"
	fi
fi
if [ "$store" = postgresql ]; then
	echo "bytes per subject by table with its indexes (last run):"
	"$pgbin/psql" -qXAt "$url/reg" -c "SELECT relname, round(pg_total_relation_size(oid) * 1.0 / $rows, 1) FROM pg_class
		WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace AND pg_total_relation_size(oid) > 65536
		ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /'
	echo "raw table: $(echo "$("$pgbin/psql" -qXAt "$url/raw" -c "SELECT pg_total_relation_size('accounts')") / $rows" |
		bc -l | xargs printf '%.0f') B/row"
else
	echo "bytes per subject by table and index (last run):"
	sqlite3 "$work/reg/privreg.db" "SELECT name, round(sum(pgsize) * 1.0 / $rows, 1) FROM dbstat GROUP BY name
		HAVING sum(pgsize) > 8192 ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /'
	echo "raw table: $(echo "$(stat -c %s "$work/raw.db") / $rows" | bc -l | xargs printf '%.0f') B/row"
fi
"$bin" audit verify --dir "$work/reg" | tail -1
