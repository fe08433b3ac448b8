"""Upgrades of the three SQLite stores: a file written by the previous schema (made here from that schema's
SQL, not by the code under test) opens with its data, a backup of the old file beside it; a file from newer
code is refused in one line, and `hilsim serve` starts nothing on it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from processes import ROOT
from system.adapters.cloud_store import CloudStore
from system.adapters.controller_store import Store
from system.adapters.reading_store import ReadingStore
from system.errors import ConfigError

# The bridge's first schema: readings keyed (node, seq), no boot column, no user_version.
READINGS_V0 = """
CREATE TABLE readings (node TEXT NOT NULL, seq INTEGER, ts REAL NOT NULL, received REAL NOT NULL,
                       taken REAL NOT NULL, temperature REAL NOT NULL, humidity REAL NOT NULL, wifi_rssi REAL NOT NULL);
CREATE UNIQUE INDEX readings_identity ON readings(node, seq);
INSERT INTO readings VALUES ('node-1', 1, 1700000000, 1700000001, 1700000000, 21.5, 40.0, -61);
INSERT INTO readings VALUES ('node-1', 2, 1700000010, 1700000011, 1700000010, 21.6, 40.1, -61);
"""


def made(path, script: str, version: int | None = None) -> None:
    db = sqlite3.connect(path)
    db.executescript(script + (f"PRAGMA user_version = {version};" if version is not None else ""))
    db.close()


def test_a_reading_store_of_the_first_schema_is_upgraded_with_its_readings_and_a_backup(tmp_path):
    path = tmp_path / "readings.sqlite3"
    made(path, READINGS_V0)
    store = ReadingStore(str(path))
    try:
        assert store.sequences("node-1") == [1, 2]
    finally:
        store.close()
    backup = tmp_path / "readings.sqlite3.v0.bak"
    old = sqlite3.connect(backup)
    assert old.execute("SELECT node, seq FROM readings ORDER BY seq").fetchall() == [("node-1", 1), ("node-1", 2)]
    assert old.execute("PRAGMA user_version").fetchone()[0] == 0
    old.close()


@pytest.mark.parametrize("open_store, what", [(ReadingStore, "reading store"), (Store, "controller store"),
                                              (CloudStore, "cloud store")])
def test_a_store_from_newer_code_is_refused_in_one_line_naming_both_versions(open_store, what, tmp_path):
    path = tmp_path / "store.sqlite"
    made(path, "CREATE TABLE future (x);", version=99)
    with pytest.raises(ConfigError) as refused:
        open_store(str(path))
    message = str(refused.value)
    assert "\n" not in message and str(path) in message and f"{what} schema v99 is newer" in message
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99  # untouched


def test_a_cloud_store_from_before_numbering_opens_with_its_data_and_is_numbered(tmp_path):
    path = str(tmp_path / "cloud.sqlite")
    store = CloudStore(path)
    store.add_device("stadium-pi", 0.0)
    store.db.execute("PRAGMA user_version = 0")  # as the files written before this version had it
    store.close()
    reopened = CloudStore(path)
    try:
        assert reopened.db.execute("PRAGMA user_version").fetchone()[0] == 1
        assert "stadium-pi" in [name for name, *_ in reopened.db.execute("SELECT name FROM devices")]
    finally:
        reopened.close()


def test_serve_starts_nothing_on_a_store_from_newer_code(tmp_path):
    made(tmp_path / "c.sqlite", "CREATE TABLE future (x);", version=99)
    config = tmp_path / "host.toml"
    config.write_text('[controller]\ndb = "c.sqlite"\nrelay = "sim"\nhealth = "127.0.0.1:0"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "hilsim", "serve", str(config), "--for", "5"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert done.returncode == 2 and len(errors) == 1 and "controller store schema v99 is newer" in errors[0], \
        done.stderr
