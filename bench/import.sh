#!/usr/bin/env bash
# Import benchmark (issue #12): N account rows (e-mail, name, language) from
# CSV into a fresh SQLite register through `privreg import` (every field
# validated, sealed under a new subject key, the e-mail hashed for lookup),
# against the raw rate of the same rows on the same backend: `sqlite3
# .import` of the same file into a plain table with a unique e-mail index.
# The two alternate, RUNS times, on fresh files; reported per run and as
# medians: rows/s, their ratio, user and system CPU, peak RSS (/usr/bin/time
# -v), and the register's bytes per subject (file size after a checkpoint,
# and per table and index from dbstat). With BASE_BIN set (the privreg
# binary of another commit), each run also imports with it, between the
# two: before and after in the same minutes of a shared machine (its rate,
# CPU, CPU ratio and bytes per subject, per table for its last run).
# Usage: bench/import.sh [BUILD_DIR] [ROWS] [RUNS] [FORMAT csv|jsonl]
set -euo pipefail
build=${1:-build}
rows=${2:-1000000}
runs=${3:-3}
format=${4:-csv}
cd "$(dirname "$0")/.."
bin="$PWD/$build/privreg"
[ -x "$bin" ] || { echo "no $bin: build it first (make build)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "sqlite3 is missing: apt-get install sqlite3" >&2; exit 1; }
work=$(mktemp -d /tmp/privreg-importbench-XXXXXX)
trap 'rm -rf "$work"' EXIT

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
echo "rows=$rows runs=$runs format=$format file=$(stat -c %s "$src") bytes; $(nproc) cores; $(sqlite3 --version | cut -d' ' -f1)"

# "elapsed user system maxrss_kb" of a command, from GNU time.
timed() {
	/usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
	cat "$work/time"
}

raw_run() {
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
	"$b" init --dir "$work/reg" --policy policies/webshop.yaml >/dev/null
	timed "$b" import account "$src" --dir "$work/reg"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

: >"$work/results"
: >"$work/base"
for run in $(seq "$runs"); do
	read -r re ru rs rm < <(raw_run)
	if [ -n "${BASE_BIN:-}" ]; then
		read -r be bu bs bm < <(privreg_run "$BASE_BIN")
		sqlite3 "$work/reg/privreg.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
		bsize=$(stat -c %s "$work/reg/privreg.db")
		sqlite3 "$work/reg/privreg.db" "SELECT name, round(sum(pgsize) * 1.0 / $rows, 1) FROM dbstat GROUP BY name
			HAVING sum(pgsize) > 8192 ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /' >"$work/base_tables"
		printf "run %d: BASE_BIN %.0f rows/s (%.2f s, user %.2f sys %.2f, RSS %d MB) | CPU ratio %.3f | %.0f B/subject\n" "$run" \
			"$(echo "$rows / $be" | bc -l)" "$be" "$bu" "$bs" $((bm / 1024)) "$(echo "($ru + $rs) / ($bu + $bs)" | bc -l)" \
			"$(echo "$bsize / $rows" | bc -l)"
		echo "$(echo "$rows / $be" | bc -l) $(echo "$bu + $bs" | bc -l) $(echo "($ru + $rs) / ($bu + $bs)" | bc -l) $bsize" >>"$work/base"
	fi
	read -r pe pu ps pm < <(privreg_run)
	sqlite3 "$work/reg/privreg.db" "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
	size=$(stat -c %s "$work/reg/privreg.db")
	rr=$(echo "$rows / $re" | bc -l); pr=$(echo "$rows / $pe" | bc -l)
	cr=$(echo "($ru + $rs) / ($pu + $ps)" | bc -l)
	printf "run %d: raw %.0f rows/s (%.2f s, user %.2f sys %.2f, RSS %d MB) | privreg %.0f rows/s (%.2f s, user %.2f sys %.2f, RSS %d MB) | ratio %.3f, CPU ratio %.3f | %.0f B/subject\n" \
		"$run" "$rr" "$re" "$ru" "$rs" $((rm / 1024)) "$pr" "$pe" "$pu" "$ps" $((pm / 1024)) "$(echo "$pr / $rr" | bc -l)" \
		"$cr" "$(echo "$size / $rows" | bc -l)"
	echo "$rr $pr $(echo "$pr / $rr" | bc -l) $pm $size $cr $(echo "$pu + $ps" | bc -l)" >>"$work/results"
done
printf "median: raw %.0f rows/s, privreg %.0f rows/s, ratio of medians %.3f, median ratio %.3f, peak RSS %d MB, %.0f B/subject\n" \
	"$(cut -d' ' -f1 "$work/results" | median)" "$(cut -d' ' -f2 "$work/results" | median)" \
	"$(echo "$(cut -d' ' -f2 "$work/results" | median) / $(cut -d' ' -f1 "$work/results" | median)" | bc -l)" \
	"$(cut -d' ' -f3 "$work/results" | median)" "$(($(cut -d' ' -f4 "$work/results" | sort -n | tail -1) / 1024))" \
	"$(echo "$(cut -d' ' -f5 "$work/results" | median) / $rows" | bc -l)"
printf "median CPU (user+sys): privreg %.2f s, CPU ratio raw/privreg %.3f\n" "$(cut -d' ' -f7 "$work/results" | median)" \
	"$(cut -d' ' -f6 "$work/results" | median)"
if [ -s "$work/base" ]; then
	printf "median BASE_BIN: %.0f rows/s, CPU %.2f s, CPU ratio raw/BASE_BIN %.3f, %.0f B/subject\n" \
		"$(cut -d' ' -f1 "$work/base" | median)" "$(cut -d' ' -f2 "$work/base" | median)" \
		"$(cut -d' ' -f3 "$work/base" | median)" "$(echo "$(cut -d' ' -f4 "$work/base" | median) / $rows" | bc -l)"
	echo "BASE_BIN bytes per subject by table and index (last run):"
	cat "$work/base_tables"
fi
echo "bytes per subject by table and index (last run):"
sqlite3 "$work/reg/privreg.db" "SELECT name, round(sum(pgsize) * 1.0 / $rows, 1) FROM dbstat GROUP BY name
	HAVING sum(pgsize) > 8192 ORDER BY 2 DESC" | sed 's/|/: /; s/^/  /'
echo "raw table: $(echo "$(stat -c %s "$work/raw.db") / $rows" | bc -l | xargs printf '%.0f') B/row"
"$bin" audit verify --dir "$work/reg" | tail -1
