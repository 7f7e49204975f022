"""Ids are ULIDs (time first, the padding bits at the front), and a register
written with the old id text (padding at the end) upgrades: the API speaks
the new text, finds old rows by it, and the audit chain, hashed over the
old text, still verifies."""
import pytest
import hashlib
import sqlite3
import struct
import time

from conftest import WEBSHOP, Privreg, Server, _bin, add_key

B32 = "0123456789abcdefghjkmnpqrstvwxyz"
PREFIXES = ("sub_", "rec_", "req_", "hld_", "dsc_")
ACCOUNT = {"kind": "account", "fields": {"email": "Mari.Tamm@Example.ee", "name": "Mari Tamm",
                                         "phone": "+372 5123 4567", "birth_date": "1988-04-12", "language": "et"}}
ORDER = {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                     "items": [{"sku": "KB-1", "qty": 1}], "amount": "49.90", "payment_method": "card"},
         "created_at": "2024-03-01T10:00:00Z", "events": {"fulfilled": "2024-03-02"}}


def ulid_bytes(text):
    """The 16 bytes of an id, read as a ULID reads them."""
    assert len(text) == 26 and text[0] in "01234567", text
    n = 0
    for c in text.upper():
        n = n * 32 + "0123456789ABCDEFGHJKMNPQRSTVWXYZ".index(c)
    return n.to_bytes(16, "big")


def legacy_text(b):
    """The pre-ULID text of 16 bytes: base32 from the first bit, padding last."""
    n = int.from_bytes(b, "big") << 2
    return "".join(B32[(n >> (5 * (25 - i))) & 31] for i in range(26))


def to_legacy(s):
    """Every id in a text, in the old form (what the old binary wrote)."""
    if s is None:
        return None
    for p in PREFIXES:
        out, i = [], 0
        while True:
            j = s.find(p, i)
            if j < 0 or j + 30 > len(s):
                break
            body = s[j + 4:j + 30]
            if all(c in B32 for c in body) and body[0] in "01234567":
                out.append(s[i:j + 4] + legacy_text(ulid_bytes(body)))
                i = j + 30
            else:
                out.append(s[i:j + 4])
                i = j + 4
        s = "".join(out) + s[i:]
    return s


def kdf(master, subkey_id):
    """libsodium's crypto_kdf_derive_from_key (BLAKE2b), context "privreg_"."""
    return hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", subkey_id) + bytes(8),
                           person=b"privreg_" + bytes(8)).digest()


def entry_hash(audit_key, tenant, row):
    """The audit chain's hash of one entry (src/core/audit.c entry_hash)."""
    seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail, prev = row
    h = hashlib.blake2b(digest_size=32, key=audit_key)
    h.update(prev)
    h.update(struct.pack("<qqq", tenant, seq, at))
    for f in (key_id, role, action, subject_id, record_id, purpose, outcome, detail):
        if f is None:
            h.update(b"\xff\xff\xff\xff")
        else:
            b = f.encode()
            h.update(struct.pack("<I", len(b)) + b)
    return h.digest()


COLS = "seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail"


def make_old(directory):
    """Turns a register into what the binary before schema 7 wrote: the same
    bytes everywhere, the audit log's text in the old form and its chain
    hashed over that text."""
    master = bytes.fromhex((directory / "keys" / "default.key").read_text().strip())
    audit_key = kdf(master, 4)
    db = sqlite3.connect(directory / "privreg.db")
    (tenant,) = db.execute("SELECT tenant_id FROM tenants WHERE name = 'default'").fetchone()
    rows = db.execute(f"SELECT {COLS}, prev_hash, hash FROM audit WHERE tenant_id = ? ORDER BY seq",
                      (tenant,)).fetchall()
    # The emulation computes what the binary computed.
    for r in rows:
        assert entry_hash(audit_key, tenant, r[:11]) == r[11]
    db.execute("DROP TRIGGER audit_no_update")
    prev = bytes(32)
    for r in rows:
        old = [r[0], r[1]] + [to_legacy(x) for x in r[2:10]] + [prev]
        h = entry_hash(audit_key, tenant, old)
        db.execute("UPDATE audit SET key_id = ?, role = ?, action = ?, subject_id = ?, record_id = ?, purpose = ?, "
                   "outcome = ?, detail = ?, prev_hash = ?, hash = ? WHERE tenant_id = ? AND seq = ?",
                   (*old[2:10], prev, h, tenant, r[0]))
        prev = h
    db.execute("CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit "
               "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END")
    db.execute("DROP TABLE id_legacy")
    db.execute("DELETE FROM schema_migrations WHERE version = 7")
    db.commit()
    db.close()
    return len(rows)


def test_new_ids_are_ulids_of_now(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        before = int(time.time() * 1000)
        r = srv.request("POST", "/v1/subjects", admin, json={"records": [ACCOUNT]})
        after = int(time.time() * 1000)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert sid.startswith("sub_") and sid == sid.lower()
        ms = int.from_bytes(ulid_bytes(sid[4:])[:6], "big")
        assert before - 1000 <= ms <= after + 1000, (sid, ms, before)
        rid = r.json()["records"][0]["id"]
        assert rid.startswith("rec_")
        assert abs(int.from_bytes(ulid_bytes(rid[4:])[:6], "big") - ms) < 5000
        # The upper-case spelling is not a second name for the subject.
        assert srv.request("GET", f"/v1/subjects/sub_{sid[4:].upper()}", admin).status_code == 404
        assert srv.request("GET", f"/v1/subjects/{sid}", admin).status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]


@pytest.mark.sqlite_only('builds a pre-ULID SQLite register (PostgreSQL registers start at the final schema)')
def test_register_with_old_ids_upgrades(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        made = srv.request("POST", "/v1/subjects", admin, json={"records": [ACCOUNT, ORDER]}).json()
        sid, rids = made["id"], [x["id"] for x in made["records"]]
        assert srv.request("GET", f"/v1/subjects/{sid}", admin).status_code == 200
        hold = srv.request("POST", "/v1/holds", admin, json={"record_id": rids[1], "reason": "dispute"})
        assert hold.status_code == 201, hold.text
        req = srv.request("POST", "/v1/requests", admin,
                          json={"type": "access", "subject_id": sid, "verified_by": "ID card"})
        assert req.status_code == 201, req.text
        hid, qid = hold.json()["id"], req.json()["id"]
        before = srv.request("GET", "/v1/audit", admin, params={"subject": sid}).json()["entries"]
        assert len(before) >= 3
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]

    n = make_old(d)
    db = sqlite3.connect(d / "privreg.db")
    old_sid = "sub_" + legacy_text(ulid_bytes(sid[4:]))
    assert old_sid != sid
    assert db.execute("SELECT count(*) FROM audit WHERE subject_id = ?", (old_sid,)).fetchone()[0] == len(before)
    assert db.execute("SELECT count(*) FROM audit WHERE subject_id = ?", (sid,)).fetchone()[0] == 0
    db.close()

    # The upgrade: the next open migrates; the chain verifies across it.
    out = privreg("audit", "verify", "--dir", d, check=0).stdout
    assert f"intact, {n} entries" in out, out
    srv = Server(privreg, d)
    try:
        # (a) the API speaks the new text, and old ciphertexts open under it
        s = srv.request("GET", f"/v1/subjects/{sid}", admin)
        assert s.status_code == 200, s.text
        assert s.json()["id"] == sid
        assert sorted(r["id"] for r in s.json()["records"]) == sorted(rids)
        assert {r["fields"].get("name") for r in s.json()["records"]} == {"Mari Tamm"}
        assert srv.request("GET", f"/v1/requests/{qid}", admin).json()["id"] == qid
        assert srv.request("GET", f"/v1/subjects/{old_sid}", admin).status_code == 404
        # (b) entries written before the upgrade are found by the new id
        entries = srv.request("GET", "/v1/audit", admin, params={"subject": sid}).json()["entries"]
        assert len(entries) == len(before) + 2  # + the subject's and the request's reads above
        assert [e["action"] for e in entries[len(before):]] == ["subject.read", "request.read"]
        assert [e["seq"] for e in entries[:len(before)]] == [e["seq"] for e in before]
        assert all(e["subject_id"] == sid for e in entries)
        everything = srv.request("GET", "/v1/audit", admin, params={"limit": 1000}).json()["entries"]
        text = repr(everything)
        assert f"hold={hid}" in text and f"request={qid}" in text and rids[1] in text
        assert old_sid not in text
        # (c) the whole chain verifies, old entries and new
        v = srv.request("GET", "/v1/audit/verify", admin).json()
        assert v["ok"] is True and v["entries"] == n + 2, v  # + the two reads
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]

    # Editing an entry from before the upgrade is still found.
    db = sqlite3.connect(d / "privreg.db")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET outcome = 'denied' WHERE seq = 3")
    db.commit()
    db.close()
    r = privreg("audit", "verify", "--dir", d, check=1)
    assert "BROKEN at entry 3" in r.stdout


def sign_link(master_hex, tenant, kind, sid, purpose, expires):
    """A signed link as crypto/token.c makes it (what an old server e-mailed)."""
    import base64
    master = bytes.fromhex(master_hex)
    subkey = hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 3) + bytes(8),
                             person=b"privreg_" + bytes(8)).digest()
    raw = kind.encode() + ulid_bytes(sid[4:]) + struct.pack("<q", expires) + bytes([len(purpose)]) + purpose.encode()
    mac = hashlib.blake2b(struct.pack("<q", tenant) + raw, digest_size=16, key=subkey).digest()
    return f"{tenant}." + base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")


def test_texts_written_before_the_upgrade_still_resolve(privreg, tmp_path):
    """Links e-mailed before the upgrade carry the request id as old text, and
    sealed request details their record ids: the migration cannot rewrite
    either, so they are read in both forms."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        r = srv.request("POST", "/v1/subjects", admin, json={"records": [ACCOUNT]})
        assert r.status_code == 201, r.text
        sid, rid = r.json()["id"], r.json()["records"][0]["id"]
        # A verification link for a request in 'verifying', as the old server signed it.
        r = srv.request("POST", "/v1/requests", admin, json={"type": "access", "subject_id": sid})
        assert r.status_code == 201 and r.json()["status"] == "verifying", r.text
        qid = r.json()["id"]
        master = (d / "keys" / "default.key").read_text().strip()
        old = sign_link(master, 1, "v", sid, "req_" + legacy_text(ulid_bytes(qid[4:])), int(time.time()) + 3600)
        r = srv.request("POST", "/v/" + old, data={"confirm": "1"})
        assert r.status_code == 200, r.text
        assert srv.request("GET", f"/v1/requests/{qid}", admin).json()["status"] == "in_progress"
        # A rectification whose details name the record in the old text.
        old_rid = "rec_" + legacy_text(ulid_bytes(rid[4:]))
        r = srv.request("POST", "/v1/requests", admin, json={
            "type": "rectification", "subject_id": sid, "verified_by": "ID card",
            "details": {"record_id": old_rid, "fields": {"name": "Mari Kask"}}})
        assert r.status_code == 201, r.text
        r = srv.request("POST", f"/v1/requests/{r.json()['id']}/complete", admin, json={})
        assert r.status_code == 200, r.text
        rec = srv.request("GET", f"/v1/records/{rid}", admin).json()
        assert rec["fields"]["name"] == "Mari Kask", rec
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
