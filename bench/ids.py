#!/usr/bin/python3
"""Prints the ids of the first N subjects of a register (N = all by default),
in a random order (fixed seed), read straight from its database: a SQLite
file, or a postgresql:// URL (through psql). Ids are stored as their 16
bytes and shown as "sub_" + a ULID (26 Crockford base32 characters, the 2
padding bits at the front).
Usage: bench/ids.py DB_FILE|POSTGRESQL_URL [N]"""
import random, sqlite3, subprocess, sys

B32 = "0123456789abcdefghjkmnpqrstvwxyz"

def encode(b):
    v = int.from_bytes(b, "big")  # 128 bits in 130 = 26 x 5: padding first
    return "sub_" + "".join(B32[(v >> (5 * (25 - i))) & 31] for i in range(26))

limit = int(sys.argv[2]) if len(sys.argv) > 2 else -1
if sys.argv[1].startswith(("postgresql://", "postgres://")):
    sql = "SELECT encode(subject_id, 'hex') FROM subjects" + (f" LIMIT {limit}" if limit >= 0 else "")
    out = subprocess.run(["psql", "-X", "-At", "-d", sys.argv[1], "-c", sql], check=True,
                         capture_output=True, text=True).stdout
    ids = [encode(bytes.fromhex(h)) for h in out.split()]
else:
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    ids = [encode(r[0]) for r in db.execute("SELECT subject_id FROM subjects LIMIT ?", (limit,))]
random.Random(11).shuffle(ids)
print("\n".join(ids))
