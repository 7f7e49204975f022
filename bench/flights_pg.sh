#!/usr/bin/env bash
# Round trips per request on PostgreSQL, counted: the messages a privreg
# server's libpq sends (each flight is one send: a statement, or several in
# libpq's pipeline mode), traced with strace while N requests run one at a
# time: subject reads (each read's access entry is then a group commit of
# its own), consent checks and erasures. The server's background work
# (outbox sender, sweeper) in those seconds is counted too: a few
# hundredths per request. Issue #12; see docs/scaling.md.
# Usage: bench/flights_pg.sh PRIVREG_BIN POSTGRESQL_URL [N]
#   (a server URL without a database, e.g. from scripts/start-postgres; a
#   database flights_<pid> is made and dropped)
set -euo pipefail
bin=$1
url=$2
n=${3:-50}
command -v strace >/dev/null || { echo "strace is missing: apt-get install strace" >&2; exit 1; }
cd "$(dirname "$0")/.."
w=$(mktemp -d /tmp/privreg-flights-XXXXXX)
chmod 755 "$w"
db=flights_$$
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	psql -X -q -d "$url/postgres" -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
	rm -rf "$w"
}
trap cleanup EXIT
psql -X -q -d "$url/postgres" -c "CREATE DATABASE $db" >/dev/null
/usr/bin/python3 - "$n" "$w/accounts.jsonl" <<'PY'
import json, sys
n = int(sys.argv[1])
with open(sys.argv[2], "w") as out:
    for i in range(2 * n):
        out.write(json.dumps({"fields": {"email": f"p{i}@example.ee", "name": f"P {i}", "phone": "+372 5123456",
                                         "address": "Pikk 1", "language": "et", "username": f"u{i}"}}) + "\n")
PY
"$bin" init --dir "$w/r" --policy policies/webshop.yaml --store "$url/$db" >/dev/null
"$bin" import account "$w/accounts.jsonl" --dir "$w/r" >/dev/null
for role in support marketing admin; do
	"$bin" key add --role $role --dir "$w/r" | tail -1 | awk '{print $NF}' >"$w/$role"
done
bench/ids.py "$url/$db" >"$w/ids"
"$bin" serve --dir "$w/r" --listen 127.0.0.1:18099 --threads 2 >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf http://127.0.0.1:18099/healthz >/dev/null && break; sleep 0.1; done
get() { curl -sf -o /dev/null -H "Authorization: Bearer $(cat "$w/$1")" "$2" "http://127.0.0.1:18099$3"; }
reads() { for id in $(tail -n "$n" "$w/ids"); do get support -XGET "/v1/subjects/$id"; done; }
consents() { for i in $(seq "$n"); do get marketing -XGET "/v1/consents/check?purpose=direct_marketing&email=p$i@example.ee"; done; }
erases() { for id in $(head -n "$n" "$w/ids"); do get admin -XDELETE "/v1/subjects/$id"; done; }
count() { # OPERATION: libpq's sends per request (PostgreSQL protocol messages, not HTTP answers)
	strace -f -qq -e trace=sendto -o "$w/trace" -p "$pid" &
	local sp=$!
	sleep 0.5
	"$1"
	sleep 0.3
	kill "$sp"
	wait "$sp" 2>/dev/null || true
	grep -cE 'sendto\([0-9]+, "[PBEDSQHCXd]' "$w/trace" | awk -v n="$n" '{printf "%.2f", $1 / n}'
}
reads # every statement prepared once
echo "$bin: round trips per request: read $(count reads), consent check $(count consents), erasure $(count erases)"
