"""The checkpoint's local store: chained records exactly as the server takes them, disk full, tampering, escorts,
threads. (Crash safety under SIGKILL: test_store_crash.py.)"""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from checkpoint_client import station, store_sqlite
from checkpoint_client.store import SCHEMA_VERSION, Store, StoreError
from passcore.chain import GENESIS, ChainBroken, canonical, record_hash
from passcore.crossing import CrossingRecord
from passcore.errors import InputError
from passcore.rules import Occupant
from tests import factories
from tests.integration.client_helpers import record_scenario

NOW = factories.NOW
DOCUMENTED_KEYS = {
    "id", "seq", "prev_hash", "hash", "decided_at", "plate", "pass_id", "enterprise", "outcome", "reasons",
    "policy_version", "bundle_version", "occupants", "vehicle_origin", "verification", "checks",
    "officer", "repeat_of", "claimed", "referral", "absent",  # added in issue 12 (optional on upload)
    "bus",  # added in issue 14 (optional on upload; null for freight)
}  # fmt: skip
NO_CHECKS = dict.fromkeys(("identity_confirmed", "licence_confirmed", "id_last4_matched"))


@pytest.fixture
def signed_pass():
    text, key = factories.signed()
    return text, factories.make_bundle([factories.issuer(key)])


@pytest.fixture
def store(tmp_path):
    opened = Store.open(tmp_path / "db" / "checkpoint.sqlite3")
    yield opened
    opened.close()


def valid_pass(text: str, *temperatures: str, **changes) -> dict:
    people = [("driver", "张伟"), ("escort", "李娜"), ("escort", "王强")]
    return {
        "pass": text,
        "observed": {"plate": "苏E·A1234", "identity_confirmed": True, "licence_confirmed": True},
        "occupants": [
            {"role": role, "name": name, "temperature_c": t}
            for (role, name), t in zip(people, temperatures or ("36.5", "36.7"), strict=False)
        ],
    } | changes


def no_pass(plate: str = "浙A·12345", origin: str = "330100", **changes) -> dict:
    occupants = [{"role": "driver", "name": "孙磊", "temperature_c": 36.6}]
    return {"observed": {"plate": plate}, "vehicle_origin": origin, "occupants": occupants} | changes


def test_a_decision_is_stored_as_the_documented_chained_record(store, signed_pass):
    text, bundle = signed_pass
    verification, decision, first = record_scenario(store, valid_pass(text, "36.5", "37"), bundle, NOW)
    _, _, second = record_scenario(store, no_pass(), bundle, NOW + timedelta(minutes=1))
    record = first.record
    assert set(record) == DOCUMENTED_KEYS
    assert (record["seq"], record["prev_hash"], record["id"]) == (1, GENESIS, first.id)
    assert record["hash"] == record_hash(record) == first.hash
    assert record["decided_at"] == "2026-02-10T08:00:00+00:00"  # ISO with its zone
    assert record["verification"] == verification.code == "PASS_VALID"
    assert record["checks"] == {
        "identity_confirmed": True,
        "licence_confirmed": True,
        "id_last4_matched": None,
    }
    assert record["pass_id"] == decision.pass_id and record["plate"] == "苏EA1234"
    temperatures = [o["temperature_c"] for o in record["occupants"]]
    assert temperatures == [36.5, 37.0] and all(type(t) is float for t in temperatures)
    assert record["bundle_version"] == bundle.version and record["outcome"] == "RELEASE"
    assert record["bus"] is None  # a freight decision
    # The second record links to the first; a vehicle without a pass has no verification and no checks.
    assert (second.record["seq"], second.record["prev_hash"]) == (2, first.hash)
    assert second.record["verification"] is None and second.record["checks"] == NO_CHECKS
    assert second.record["vehicle_origin"] == "330100" and second.record["reasons"] == ["NO_PASS"]
    # The server's own schema (strict: no coercion) takes both, and the bytes hash to the record's hash.
    for stored in (first, second):
        CrossingRecord.model_validate(stored.record)
        body = canonical({k: v for k, v in stored.record.items() if k != "hash"})
        assert json.loads(json.dumps(stored.record, ensure_ascii=False)) == stored.record
        assert record_hash(json.loads(body)) == stored.hash
    assert store.verify() == 2
    assert [c.seq for c in store.recent()] == [2, 1] and [c.seq for c in store.pending()] == [1, 2]


def test_the_raw_qr_text_is_not_stored(tmp_path, signed_pass):
    text, bundle = signed_pass
    path = tmp_path / "db" / "checkpoint.sqlite3"
    store = Store.open(path)
    record_scenario(store, valid_pass(text), bundle, NOW)
    store.close()  # checkpoints the WAL into the main file
    stored = b"".join(p.read_bytes() for p in path.parent.iterdir() if p.name.startswith(path.name))
    assert text[4:40].encode() not in stored and b"CP1:" not in stored
    assert "张伟".encode() in stored  # what the decision needs is there


def test_store_file_is_private_versioned_and_in_wal_mode(tmp_path, signed_pass):
    path = tmp_path / "db" / "checkpoint.sqlite3"
    store = Store.open(path)
    record_scenario(store, no_pass(), signed_pass[1], NOW)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened = Store.open(path)  # opening again migrates nothing and keeps everything
    assert reopened.verify() == 1 and reopened.pending_count() == 1
    reopened.close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as refused:
        Store.open(path)
    assert refused.value.code == "STORE_TOO_NEW"


def test_disk_full_records_nothing_and_the_chain_continues_after_space_is_freed(store, signed_pass):
    text, bundle = signed_pass
    for minute in range(3):
        record_scenario(store, valid_pass(text), bundle, NOW + timedelta(minutes=minute))
    conn = store._db.conn()  # the connection this thread writes with
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")  # the "disk" holds what is there and nothing more
    before = [
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("crossing", "outbox", "escort")
    ]
    failures = 0
    big = [{"role": "driver", "name": "张" * 50, "temperature_c": 36.5, "travel_history": ["420100"] * 30}]
    for minute in range(200):  # until SQLite reports SQLITE_FULL
        try:
            record_scenario(store, no_pass(occupants=big), bundle, NOW + timedelta(hours=1, minutes=minute))
        except StoreError as err:
            assert err.code == "STORE_FULL" and "disk is full" in err.message and "磁盘已满" in err.message
            failures += 1
            break
    assert failures == 1, "the store never filled up"
    filled = conn.execute("SELECT count(*) FROM crossing").fetchone()[0]
    assert [conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("crossing", "outbox")] == [
        filled,
        filled,
    ]  # nothing partial: a crossing without its outbox row (or the reverse) would show here
    assert filled >= before[0] and store.verify() == filled
    # Still full: an escort decision fails the same way, leaving no escort row behind. (A smaller record may still
    # fit in what the big one left free, so try until one does not.)
    for _ in range(200):
        escorts = conn.execute("SELECT count(*) FROM escort").fetchone()[0]
        try:
            record_scenario(store, escort_scenario(text), bundle, NOW)
        except StoreError as err:
            assert err.code == "STORE_FULL"
            break
    else:
        pytest.fail("an escort decision was stored on a full disk")
    assert conn.execute("SELECT count(*) FROM escort").fetchone()[0] == escorts
    filled = conn.execute("SELECT count(*) FROM crossing").fetchone()[0]
    assert store.verify() == filled
    conn.execute("PRAGMA max_page_count = 1073741823")  # space freed
    _, _, next_one = record_scenario(store, no_pass(), bundle, NOW + timedelta(hours=5))
    assert next_one.record["seq"] == filled + 1
    assert next_one.record["prev_hash"] == store.recent(2)[1].hash
    assert store.verify() == filled + 1 and store.pending_count() == filled + 1


def test_sqlite_errors_are_translated_with_stable_codes():
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorcode = sqlite3.SQLITE_FULL
    assert store_sqlite.translate(full, "x").code == "STORE_FULL"
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
    assert store_sqlite.translate(busy, "x").code == "STORE_BUSY"
    assert store_sqlite.translate(sqlite3.DatabaseError("disk I/O error"), "x").code == "STORE_FAILED"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"name": "张" * 51}, "1–50 characters"),
        ({"name": "张\x00伟"}, "control characters"),
        ({"name": "\ud800"}, "control characters"),
        ({"origin": "999999"}, "origin"),
        ({"travel_history": ("420100",) * 31}, "at most 30"),
        ({"temperature_c": Decimal("NaN")}, "temperature"),
    ],
)
def test_a_record_the_server_would_refuse_is_refused_before_anything_is_stored(
    store, signed_pass, change, words
):
    _, _, first = record_scenario(store, no_pass(), signed_pass[1], NOW)
    decision_input = no_pass()
    parsed = station.parse_scenario(decision_input)
    _, decision = station.evaluate(parsed, signed_pass[1], now=NOW)
    occupant = replace(parsed.occupants[0], **change)
    with pytest.raises(InputError) as refused:
        store.record_decision(
            decision, occupants=[occupant], verification=None, checks=NO_CHECKS, vehicle_origin=None
        )
    assert refused.value.code == "RECORD_INVALID" and words in refused.value.message
    assert [c.id for c in store.recent()] == [first.id]
    assert store.verify() == 1


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("decided_at", NOW.replace(tzinfo=None), "RECORD_INVALID"),
        ("decided_at", NOW.replace(year=1999), "RECORD_INVALID"),
        ("plate", "苏E·A1234" * 4, "RECORD_INVALID"),
        ("reasons", ("not-a-code",), "RECORD_INVALID"),
    ],
)
def test_a_decision_with_impossible_values_is_refused(store, signed_pass, field, value, code):
    parsed = station.parse_scenario(no_pass())
    _, decision = station.evaluate(parsed, signed_pass[1], now=NOW)
    with pytest.raises(InputError) as refused:
        store.record_decision(
            replace(decision, **{field: value}),
            occupants=parsed.occupants,
            verification=None,
            checks=NO_CHECKS,
            vehicle_origin=None,
        )
    assert refused.value.code == code and store.recent() == []


def test_checks_must_be_the_three_documented_booleans(store, signed_pass):
    parsed = station.parse_scenario(no_pass())
    _, decision = station.evaluate(parsed, signed_pass[1], now=NOW)
    for checks in (
        {"identity_confirmed": True},
        NO_CHECKS | {"id_last4": "1234"},
        NO_CHECKS | {"licence_confirmed": 1},
    ):
        with pytest.raises(InputError):
            store.record_decision(
                decision, occupants=parsed.occupants, verification=None, checks=checks, vehicle_origin=None
            )
    assert store.pending_count() == 0


def test_hostile_text_is_kept_verbatim(store, signed_pass):
    name = "<script>alert(1)</script>张\u200f'\"&"[:50]
    occupants = [{"role": "driver", "name": name, "temperature_c": "36.4"}]
    _, _, stored = record_scenario(store, no_pass(occupants=occupants), signed_pass[1], NOW)
    assert store.get(stored.id).record["occupants"][0]["name"] == name
    CrossingRecord.model_validate(stored.record)


def test_sync_marks_and_refusals(store, signed_pass):
    made = [
        record_scenario(store, no_pass(), signed_pass[1], NOW + timedelta(minutes=m))[2] for m in range(5)
    ]
    store.mark_synced([made[0].id, made[2].id])
    store.mark_refused([(made[1].id, "conflict", "CONTENT_DIFFERS", "this id was uploaded before")])
    assert [c.seq for c in store.pending()] == [4, 5] and store.pending_count() == 2
    assert [c.seq for c in store.pending(limit=1)] == [4]
    refused = store.refused()
    assert [(c.seq, c.sync_status, c.sync_code, c.synced) for c in refused] == [
        (2, "conflict", "CONTENT_DIFFERS", False)
    ]
    assert store.get(made[0].id).synced and store.get(made[0].id).sync_status == "synced"
    assert store.get("no-such-id") is None
    store.mark_synced([])  # nothing to do is fine
    assert store.verify() == 5


def test_tampering_breaks_the_chain_at_the_edited_record(tmp_path, signed_pass):
    path = tmp_path / "c.sqlite3"
    store = Store.open(path)
    for minute in range(4):
        record_scenario(store, no_pass(), signed_pass[1], NOW + timedelta(minutes=minute))
    with sqlite3.connect(path) as conn:
        body = json.loads(conn.execute("SELECT record FROM crossing WHERE seq = 3").fetchone()[0])
        body["outcome"] = "REFUSE"
        conn.execute("UPDATE crossing SET record = ? WHERE seq = 3", (json.dumps(body),))
    with pytest.raises(ChainBroken, match="seq 3: the hash does not match"):
        store.verify()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM outbox WHERE seq = 3")
        conn.execute("DELETE FROM crossing WHERE seq = 3")
    with pytest.raises(ChainBroken, match="missing"):
        store.verify()
    store.close()


def test_threads_recording_and_syncing_at_once_keep_one_unbroken_chain(tmp_path, signed_pass):
    store = Store.open(tmp_path / "c.sqlite3")
    other = Store.open(tmp_path / "c.sqlite3")  # as a second process would: its own connections
    made: list[str] = []
    errors: list[BaseException] = []

    def write(target: Store, offset: int) -> None:
        try:
            for i in range(60):
                made.append(
                    record_scenario(target, no_pass(), signed_pass[1], NOW + timedelta(seconds=offset + i))[
                        2
                    ].id
                )
        except BaseException as err:  # reported below
            errors.append(err)

    def sync() -> None:
        try:
            for _ in range(30):
                store.mark_synced([c.id for c in store.pending(7)])
        except BaseException as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(s, n * 100)) for n, s in enumerate((store, store, other))]
    threads.append(threading.Thread(target=sync))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.verify() == 180 and len(set(made)) == 180
    assert {c.id for c in store.recent(200)} == set(made)
    store.close()
    other.close()


def escort_scenario(text: str) -> dict:
    return valid_pass(text, vehicle_origin="420100")


def test_occupant_order_and_roles_are_kept(store, signed_pass):
    parsed = station.parse_scenario(no_pass())
    _, decision = station.evaluate(parsed, signed_pass[1], now=NOW)
    people = [
        Occupant("driver", "孙磊", Decimal("36.6"), "330100", ("330100",)),
        Occupant("passenger", "Ana María", Decimal("36.9")),
    ]
    stored = store.record_decision(
        decision, occupants=people, verification=None, checks=NO_CHECKS, vehicle_origin=""
    )
    assert [(o["role"], o["name"], o["travel_history"]) for o in stored.record["occupants"]] == [
        ("driver", "孙磊", ["330100"]),
        ("passenger", "Ana María", []),
    ]
    assert stored.record["vehicle_origin"] is None
