#!/usr/bin/env bash
# Builds (once) a register of N `account` subjects of the example policy for
# the random-key benchmarks, and reuses it: later runs copy the directory.
#   DIR/reg/          the register (privreg init + privreg import)
#   DIR/emails.txt    every subject's e-mail, in a random order
# E-mails and other values are pseudo-random (fixed seed), so the lookup
# hashes, ids and values arrive in no particular order, as customers do.
# Usage: bench/make_register.sh BUILD_DIR N DIR
set -euo pipefail
build=$1
n=$2
dir=$3
cd "$(dirname "$0")/.."
if [ -f "$dir/done" ]; then
	echo "== reusing the register of $n subjects in $dir"
	exit 0
fi
rm -rf "$dir"
mkdir -p "$dir"
echo "== building a register of $n subjects in $dir"
"$build/privreg" init --dir "$dir/reg" --policy policies/webshop.yaml >/dev/null
/usr/bin/python3 - "$n" "$dir/accounts.jsonl" "$dir/emails.txt" <<'PY'
import json, random, sys
n = int(sys.argv[1])
random.seed(7)
first = ["Mari", "Jaan", "Liis", "Kalle", "Anna", "Janis", "Peeter", "Tiina", "Olga", "Mikko"]
last = ["Tamm", "Saar", "Kask", "Mets", "Berzins", "Virtanen", "Ivanova", "Ozols", "Sepp"]
order = list(range(n))
random.shuffle(order)  # the file order is not the numbering order
emails = []
with open(sys.argv[2], "w") as out:
    for i in order:
        f, l = random.choice(first), random.choice(last)
        e = f"{f}.{l}.{i}@example.ee".lower()
        emails.append(e)
        out.write(json.dumps({"fields": {"email": e, "name": f"{f} {l}",
                                         "phone": f"+372 5{random.randrange(1000000, 9999999)}",
                                         "address": f"Pikk {random.randrange(1, 200)}, Tallinn",
                                         "language": random.choice(["et", "lv", "en", "ru"]),
                                         "username": f"user{i}"}}) + "\n")
random.shuffle(emails)
with open(sys.argv[3], "w") as out:
    out.write("\n".join(emails) + "\n")
PY
start=$(date +%s)
"$build/privreg" import account "$dir/accounts.jsonl" --dir "$dir/reg"
echo "import of $n subjects took $(( $(date +%s) - start )) s"
rm -f "$dir/accounts.jsonl"
touch "$dir/done"
