"""The bridge's SQLite store of readings: each reading once, however often it arrives.

Columns, so nobody has to guess what a time means:

* ``ts``: the node's timestamp exactly as sent; 0 when the node's clock was not set.
* ``received``: the bridge's clock when the reading was stored.
* ``taken``: when the reading was taken as best known: ``ts`` if the node's clock
  was set, otherwise ``received`` (the bridge dates it on arrival). Query this one.

Identity: a reading with a sequence number is stored once per ``(node, boot, seq)``
(QoS 1 redelivery, a node's buffer flushed twice), ``boot`` being the node's boot
counter, or 0 for a payload without one (``system/decisions/readings.py``). A legacy reading (the
original payload on the legacy topic, no seq) with its clock set is stored once per
``(node, ts, values)``: a redelivered copy carries the same bytes, and the original
node publishes every 10 s, so two different readings never share a second. A
legacy reading with ts 0 has nothing that tells a redelivery from a new reading
with the same values, so it is stored every time it arrives (at least once).

Schema versions (``PRAGMA user_version``): 0, the first, keyed ``(node, seq)``; 1 adds
the ``boot`` column (0 on every old row, the boot a payload without one is keyed as) and
keys ``(node, boot, seq)``. A version-0 file is migrated when it is opened, in one
transaction: its rows are kept and keep de-duplicating exactly as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from system.decisions.readings import Reading
from system.adapters.schema_versions import backup_before_migrating, refuse_newer
from system.errors import ConfigError

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    node TEXT NOT NULL,
    boot INTEGER NOT NULL DEFAULT 0,
    seq INTEGER,
    ts REAL NOT NULL,
    received REAL NOT NULL,
    taken REAL NOT NULL,
    temperature REAL NOT NULL,
    humidity REAL NOT NULL,
    wifi_rssi REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS readings_boot_identity ON readings(node, boot, seq) WHERE seq IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS readings_legacy_identity
    ON readings(node, ts, temperature, humidity, wifi_rssi) WHERE seq IS NULL AND ts > 0;
CREATE INDEX IF NOT EXISTS readings_taken ON readings(node, taken);
PRAGMA user_version = 1;
"""
VERSION = 1

# Version 0 -> 1: the boot column, and the identity index that includes it.
_MIGRATE_0 = """
ALTER TABLE readings ADD COLUMN boot INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS readings_identity;
"""


_INSERT = ("INSERT OR IGNORE INTO readings (node, boot, seq, ts, received, taken, temperature, humidity,"
           " wifi_rssi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


# Consecutive seqs share seq - row_number(): each such group is one run.
_RUNS = """
SELECT node, boot, MIN(seq), MAX(seq) FROM (
    SELECT node, boot, seq, seq - ROW_NUMBER() OVER (PARTITION BY node, boot ORDER BY seq) AS run
    FROM readings WHERE seq IS NOT NULL)
GROUP BY node, boot, run ORDER BY node, boot, MIN(seq)
"""


class ReadingStore:
    """``add(reading, received)`` is True when stored, False for a duplicate; ``transaction()`` groups adds.

    ``path`` is a file (WAL, synchronous=FULL: a stored reading survives a power cut)
    or ``":memory:"`` for sim runs and tests.
    """

    def __init__(self, path: str = ":memory:"):
        self.db = sqlite3.connect(path)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
        self._open_schema(path)
        self._grouped = False

    def _open_schema(self, path: str) -> None:
        # A file from before the boot column is migrated in the same transaction that completes the schema.
        old = self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'readings'").fetchone()
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > VERSION:
            self.db.close()
            refuse_newer(version, VERSION, path, "reading store")
        if old and version == VERSION:
            return  # complete already: opening writes nothing (a reader beside a running bridge takes no lock)
        if old:  # readings from older code: keep a copy before the upgrade
            backup_before_migrating(self.db, path, version)
        script = (_MIGRATE_0 if old and version == 0 else "") + SCHEMA
        self.db.executescript("BEGIN IMMEDIATE;" + script + "COMMIT;")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Commit every ``add`` inside as one transaction (one fsync), or none of them if it raises.

        The bridge stores a burst of readings this way: with ``synchronous=FULL`` a commit costs
        a disk flush, so one per reading caps the rate at the disk's flushes per second.
        """
        self._grouped = True
        try:
            yield
        except BaseException:
            self.db.rollback()
            raise
        else:
            self.db.commit()
        finally:
            self._grouped = False

    def add(self, reading: Reading, received: float) -> bool:
        """Store ``reading`` received at ``received`` (bridge clock); False if already stored."""
        taken = reading.ts if reading.clock_set else received
        row = (reading.node, reading.boot_key, reading.seq, reading.ts, received, taken,
               reading.temperature, reading.humidity, reading.wifi_rssi)
        if self._grouped:  # committed by transaction()
            return self.db.execute(_INSERT, row).rowcount == 1
        with self.db:
            return self.db.execute(_INSERT, row).rowcount == 1

    def count(self, node: str | None = None) -> int:
        if node is None:
            return self.db.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
        return self.db.execute("SELECT COUNT(*) FROM readings WHERE node = ?", (node,)).fetchone()[0]

    def sequences(self, node: str, boot: int | None = None) -> list[int]:
        """The stored seqs of ``node`` (of one ``boot``, or of all, boot by boot)."""
        where = "node = ? AND seq IS NOT NULL" + (" AND boot = ?" if boot is not None else "")
        rows = self.db.execute(f"SELECT seq FROM readings WHERE {where} ORDER BY boot, seq",
                               (node,) if boot is None else (node, boot))
        return [r[0] for r in rows]

    def identities(self) -> Iterable[tuple[str, int, int]]:
        """Every stored ``(node, boot, seq)``, in that order."""
        return self.db.execute("SELECT node, boot, seq FROM readings WHERE seq IS NOT NULL ORDER BY node, boot, seq")

    def identity_runs(self) -> Iterable[tuple[str, int, int, int]]:
        """The stored identities as runs of consecutive seqs ``(node, boot, first, last)``, in that order:
        what the bridge replays its gap counts from (a store of a year of readings has few runs)."""
        return self.db.execute(_RUNS)

    def rows(self, node: str | None = None) -> list[dict]:
        """Every stored reading (of ``node``), oldest ``taken`` first, as plain dicts."""
        cur = self.db.execute(
            "SELECT node, boot, seq, ts, received, taken, temperature, humidity, wifi_rssi FROM readings"
            + (" WHERE node = ?" if node is not None else "") + " ORDER BY taken, node, boot, seq",
            (node,) if node is not None else ())
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur]

    def close(self) -> None:
        self.db.close()
