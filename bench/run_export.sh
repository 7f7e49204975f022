#!/usr/bin/env bash
# Access-export latency (issue #5): a subject with 1,000 records among
# 100,000 subjects; GET /v1/requests/{id}/export (JSON, every item of
# Art. 15(1)) N times in a row; median and p99. Then the erasure throughput
# benchmark (bench_erase, through core/).
# Usage: bench/run_export.sh [BUILD_DIR] [SUBJECTS] [EXPORTS]
set -euo pipefail
build=${1:-build}
n=${2:-100000}
exports=${3:-300}
cd "$(dirname "$0")/.."
work=$(mktemp -d /tmp/privreg-exportbench-XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
"$build/privreg" init --dir "$work/reg" --policy policies/webshop.yaml >/dev/null
/usr/bin/python3 - "$n" > "$work/accounts.jsonl" <<'PY'
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"fields": {"email": f"customer{i}@example.ee", "name": "Mari Tamm"}}))
PY
"$build/privreg" import account "$work/accounts.jsonl" --dir "$work/reg" >/dev/null
key=$("$build/privreg" key add --role admin --dir "$work/reg" | tail -1 | awk '{print $NF}')
"$build/privreg" serve --dir "$work/reg" --listen 127.0.0.1:18085 >/dev/null 2>&1 &
sleep 1
/usr/bin/python3 - "$key" "$exports" <<'PY'
import statistics, sys, time
import requests
key, exports = sys.argv[1], int(sys.argv[2])
base, h = "http://127.0.0.1:18085", {"Authorization": "Bearer " + key}
s = requests.Session()
sid = s.post(base + "/v1/subjects", headers=h, json={"records": [{"kind": "account", "fields": {
    "email": "big@example.ee", "name": "Mari Tamm", "phone": "+372 5123 4567"}}]}).json()["id"]
for i in range(999):
    r = s.post(f"{base}/v1/subjects/{sid}/records", headers=h, json={"kind": "order", "fields": {
        "name": "Mari Tamm", "delivery_address": f"Pikk {i}, Tallinn", "items": [{"sku": f"SKU-{i}", "qty": 1}],
        "amount": "49.90"}, "created_at": "2024-03-01", "events": {"fulfilled": "2024-03-02"}})
    assert r.status_code == 201, r.text
req = s.post(base + "/v1/requests", headers=h, json={"type": "access", "subject_id": sid, "verified_by": "bench"}).json()
s.post(f"{base}/v1/requests/{req['id']}/complete", headers=h, json={}).raise_for_status()
times = []
for _ in range(exports):
    t = time.perf_counter()
    r = s.get(f"{base}/v1/requests/{req['id']}/export", headers=h)
    times.append((time.perf_counter() - t) * 1000)
    assert r.status_code == 200 and len(r.json()["records"]) == 1000
times.sort()
print(f"export of 1,000 records ({len(r.content)} bytes): median {statistics.median(times):.1f} ms, "
      f"p99 {times[int(len(times) * 0.99) - 1]:.1f} ms over {exports} requests")
PY
echo "== erasure throughput (20 records per subject)"
"$build/bench/bench_erase" 20000
