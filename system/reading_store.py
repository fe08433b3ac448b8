"""The bridge's SQLite store of readings: one row per (node, seq), duplicates ignored."""

from __future__ import annotations

import sqlite3

from system.readings import Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    node TEXT NOT NULL,
    seq INTEGER,
    ts REAL NOT NULL,
    received REAL NOT NULL,
    temperature REAL NOT NULL,
    humidity REAL NOT NULL,
    wifi_rssi REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS readings_identity ON readings(node, seq) WHERE seq IS NOT NULL;
"""


class ReadingStore:
    """``add(reading, received)`` is True when stored, False for a duplicate."""

    def __init__(self, path: str = ":memory:"):
        self.db = sqlite3.connect(path)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def add(self, reading: Reading, received: float) -> bool:
        with self.db:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?)",
                (reading.node, reading.seq, reading.ts, received,
                 reading.temperature, reading.humidity, reading.wifi_rssi),
            )
        return cur.rowcount == 1

    def count(self, node: str | None = None) -> int:
        if node is None:
            return self.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM readings WHERE node = ?", (node,)).fetchone()[0]

    def sequences(self, node: str) -> list[int]:
        rows = self.db.execute("SELECT seq FROM readings WHERE node = ? AND seq IS NOT NULL ORDER BY seq", (node,))
        return [r[0] for r in rows]

    def close(self) -> None:
        self.db.close()
