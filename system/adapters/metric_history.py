"""The cloud's metrics history, bounded: raw samples for a while, then downsampled points, then nothing.

Rules, in one place (:class:`Retention`, every period configurable):

- a pushed sample is kept as it came for ``raw_for`` seconds (default a day);
- each tier ``(step, keep)`` keeps one point per ``step`` seconds per metric, for ``keep`` seconds (default
  5-minute points for 30 days, hourly points for a year); a tier's point is the last sample of its step
  (the metrics are counters and a heartbeat: the last value is the one that counts), at that sample's time;
- a read returns, for each moment, the finest history that still covers it, oldest first; a reader that
  passes the newest time it has (``after``) gets only what is newer.

So a device pushing 8 metrics every 5 minutes costs at most about 8 x (288 + 8,640 + 8,760) rows, for ever.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Callable, ContextManager

SCHEMA = """
CREATE TABLE IF NOT EXISTS metrics (device TEXT NOT NULL, at REAL NOT NULL, name TEXT NOT NULL, value REAL NOT NULL);
CREATE INDEX IF NOT EXISTS metrics_at ON metrics(device, at);
CREATE TABLE IF NOT EXISTS metric_points (device TEXT NOT NULL, step REAL NOT NULL, bucket INTEGER NOT NULL,
    name TEXT NOT NULL, at REAL NOT NULL, value REAL NOT NULL, PRIMARY KEY (device, step, bucket, name));
CREATE INDEX IF NOT EXISTS metric_points_at ON metric_points(device, step, at);
"""
DAY = 86400.0


@dataclass(frozen=True)
class Retention:
    """How long each resolution is kept: raw samples ``raw_for`` seconds, then ``tiers`` of (step, keep)."""

    raw_for: float = DAY
    tiers: tuple[tuple[float, float], ...] = ((300.0, 30 * DAY), (3600.0, 365 * DAY))

    def __post_init__(self) -> None:
        steps = [step for step, _ in self.tiers]
        if self.raw_for <= 0 or any(s <= 0 or k <= 0 for s, k in self.tiers) or steps != sorted(set(steps)):
            raise ValueError("retention: periods above 0 and tiers from the finest step to the coarsest")


class MetricHistory:
    """Metrics of every device in the cloud's database ``db``, kept as ``retention`` says."""

    def __init__(self, db: sqlite3.Connection, tx: Callable[[], ContextManager[sqlite3.Connection]],
                 retention: Retention = Retention()):
        self.db, self._tx, self.retention = db, tx, retention

    def add(self, device: str, now: float, samples: dict[str, float]) -> None:
        """Keep the samples pushed at ``now`` in every tier, and forget what is past its time."""
        rows = [(name, float(value)) for name, value in sorted(samples.items())]
        with self._tx() as db:
            db.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?)", [(device, now, n, v) for n, v in rows])
            db.execute("DELETE FROM metrics WHERE device = ? AND at < ?", (device, now - self.retention.raw_for))
            for step, keep in self.retention.tiers:
                db.executemany("INSERT INTO metric_points VALUES (?, ?, ?, ?, ?, ?) "
                               "ON CONFLICT(device, step, bucket, name) DO UPDATE SET at = excluded.at, "
                               "value = excluded.value WHERE excluded.at >= metric_points.at",
                               [(device, step, int(now // step), n, now, v) for n, v in rows])
                db.execute("DELETE FROM metric_points WHERE device = ? AND step = ? AND at < ?",
                           (device, step, now - keep))

    def read(self, device: str, since: float = 0.0, *, after: float | None = None) -> list[dict]:
        """Samples at or after ``since`` (strictly after ``after`` when given), oldest first, each moment
        from the finest history that covers it."""
        lower, op = (after, ">") if after is not None else (since, ">=")
        found = self.db.execute(f"SELECT at, name, value FROM metrics WHERE device = ? AND at {op} ?",
                                (device, lower)).fetchall()
        covered = self._oldest("SELECT min(at) FROM metrics WHERE device = ?", (device,))
        for step, _ in self.retention.tiers:
            found += self.db.execute(f"SELECT at, name, value FROM metric_points WHERE device = ? AND step = ? "
                                     f"AND at {op} ? AND at < ?", (device, step, lower, covered)).fetchall()
            covered = min(covered, self._oldest("SELECT min(at) FROM metric_points WHERE device = ? AND step = ?",
                                                (device, step)))
        return [{"at": at, "name": n, "value": v} for at, n, v in sorted(found)]

    def last_seen(self, device: str, name: str) -> float | None:
        """When ``name`` was last pushed above 0 (from whichever history still holds it)."""
        row = self.db.execute("SELECT max(at) FROM (SELECT at FROM metrics WHERE device = ? AND name = ? AND value > 0 "
                              "UNION ALL SELECT at FROM metric_points WHERE device = ? AND name = ? AND value > 0)",
                              (device, name, device, name)).fetchone()
        return row[0]

    def _oldest(self, sql: str, args: tuple) -> float:
        row = self.db.execute(sql, args).fetchone()
        return float("inf") if row[0] is None else row[0]
