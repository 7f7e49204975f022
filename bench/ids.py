#!/usr/bin/python3
"""Prints the ids of the first N subjects of a register (N = all by default),
in a random order (fixed seed), read straight from the SQLite file: ids are
stored as their 16 bytes and shown as "sub_" + a ULID (26 Crockford base32
characters, the 2 padding bits at the front)."""
import random, sqlite3, sys

B32 = "0123456789abcdefghjkmnpqrstvwxyz"

def encode(b):
    v = int.from_bytes(b, "big")  # 128 bits in 130 = 26 x 5: padding first
    return "sub_" + "".join(B32[(v >> (5 * (25 - i))) & 31] for i in range(26))

db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
limit = int(sys.argv[2]) if len(sys.argv) > 2 else -1
ids = [encode(r[0]) for r in db.execute("SELECT subject_id FROM subjects LIMIT ?", (limit,))]
random.Random(11).shuffle(ids)
print("\n".join(ids))
