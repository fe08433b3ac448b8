"""The reading store's identity ``(node, boot, seq)`` and the migration of a store written before it."""

import sqlite3

import pytest

from system.adapters.reading_store import ReadingStore
from system.decisions.readings import Reading
from system.errors import ConfigError

TS = 1_773_471_600.0

# The schema as the bridge wrote it before the boot column (version 0), verbatim.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    node TEXT NOT NULL,
    seq INTEGER,
    ts REAL NOT NULL,
    received REAL NOT NULL,
    taken REAL NOT NULL,
    temperature REAL NOT NULL,
    humidity REAL NOT NULL,
    wifi_rssi REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS readings_identity ON readings(node, seq) WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS readings_legacy_identity
    ON readings(node, ts, temperature, humidity, wifi_rssi) WHERE seq IS NULL AND ts > 0;
CREATE INDEX IF NOT EXISTS readings_taken ON readings(node, taken);
"""
OLD_ROWS = [  # node, seq, ts, received, taken, temperature, humidity, wifi_rssi
    ("node-1", 1, TS, TS + 1, TS, 21.5, 40.2, -61.0),
    ("node-1", 2, TS + 10, TS + 11, TS + 10, 21.6, 40.1, -60.0),
    ("node-1", 4, 0.0, TS + 31, TS + 31, 21.7, 40.0, -60.0),
    ("legacy", None, TS, TS + 1, TS, 20.0, 50.0, -70.0),
    ("legacy", None, 0.0, TS + 2, TS + 2, 20.0, 50.0, -70.0),
]


def _old_store(path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA)
    db.executemany("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?)", OLD_ROWS)
    db.commit()
    db.close()


def test_a_store_of_the_old_schema_migrates_on_open_and_keeps_every_row(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    _old_store(path)
    store = ReadingStore(path)
    got = [(r["node"], r["boot"], r["seq"], r["ts"], r["received"]) for r in store.rows()]
    assert sorted(got, key=repr) == sorted([(n, 0, s, ts, rec) for n, s, ts, rec, *_ in OLD_ROWS], key=repr)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == 1
    store.close()
    again = ReadingStore(path)  # a second open finds nothing to migrate
    assert again.count() == len(OLD_ROWS)
    again.close()


def test_a_migrated_store_de_duplicates_as_before_and_a_boot_starts_a_new_series(tmp_path):
    path = str(tmp_path / "old.sqlite3")
    _old_store(path)
    store = ReadingStore(path)
    # Payloads without a boot are keyed (node, seq) as before: seq 1 and 4 are repeats.
    assert store.add(Reading("node-1", 1, TS, 21.5, 40.2, -61.0), TS + 100) is False
    assert store.add(Reading("node-1", 4, 0.0, 9.9, 9.9, -1.0), TS + 100) is False
    assert store.add(Reading("node-1", 3, TS + 20, 21.5, 40.2, -61.0), TS + 100) is True
    # The legacy rules too: same ts and values once; ts 0 every time.
    assert store.add(Reading("legacy", None, TS, 20.0, 50.0, -70.0), TS + 100) is False
    assert store.add(Reading("legacy", None, 0.0, 20.0, 50.0, -70.0), TS + 100) is True
    # A payload with a boot is a new series: its seq 1 is not the old seq 1, but is once itself.
    assert store.add(Reading("node-1", 1, TS + 50, 22.0, 41.0, -60.0, boot=1), TS + 100) is True
    assert store.add(Reading("node-1", 1, TS + 50, 22.0, 41.0, -60.0, boot=1), TS + 101) is False
    assert store.add(Reading("node-1", 1, TS + 60, 22.0, 41.0, -60.0, boot=2), TS + 101) is True
    assert store.sequences("node-1", boot=0) == [1, 2, 3, 4]
    assert store.sequences("node-1", boot=1) == [1] and store.sequences("node-1", boot=2) == [1]
    assert list(store.identities()) == [("node-1", 0, 1), ("node-1", 0, 2), ("node-1", 0, 3), ("node-1", 0, 4),
                                        ("node-1", 1, 1), ("node-1", 2, 1)]


def test_identity_runs_are_the_stored_seqs_of_each_boot_in_consecutive_runs():
    store = ReadingStore()
    for node, boot, seq in [("a", 1, 1), ("a", 1, 2), ("a", 1, 3), ("a", 1, 7), ("a", 1, 9), ("a", 1, 10),
                            ("a", 2, 1), ("b", 0, 4), ("a", 1, 8)]:
        store.add(Reading(node, seq, TS + seq, 21.5, 40.2, -61.0, boot=boot or None), TS)
    store.add(Reading("a", None, TS, 21.5, 40.2, -61.0), TS)  # no seq: not part of any run
    assert list(store.identity_runs()) == [("a", 1, 1, 3), ("a", 1, 7, 10), ("a", 2, 1, 1), ("b", 0, 4, 4)]


def test_a_store_from_a_newer_bridge_is_refused_with_the_file_named(tmp_path):
    path = str(tmp_path / "new.sqlite3")
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 7")
    db.close()
    with pytest.raises(ConfigError, match=r"new\.sqlite3: reading store schema v7 is newer than this hilsim's \(v1\)"):
        ReadingStore(path)
