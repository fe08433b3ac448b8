"""The cloud service's SQLite store: users, devices, each device's mirror, jobs, metrics, alarms, logs.

An adapter: the only place the cloud (:mod:`system.cloud`) keeps anything, and the only module of the
cloud's code that uses ``sqlite3``; the app and the services above it see methods and plain values.

The mirror is read-only for people: only its device writes it, by :meth:`CloudStore.apply_sync`
(changes in outbox order, each applied once: the store keeps the last applied outbox position per
device) or :meth:`CloudStore.replace_mirror` (a full resync). A mirror row is the merge of every
change's payload for that (table, key); ``None`` deletes it.

Jobs follow the AWS IoT Jobs states (:mod:`system.decisions.jobs_protocol`); every change of a job
appends a row to its history. Times are epoch seconds handed in by the caller (the runtime's
clock), so the same store runs in sim and live.

Device credentials are long random tokens, stored as SHA-256 digests: a token has far more
entropy than a password, so a slow hash would add cost without adding safety. Dashboard sessions are
server-side records (:mod:`system.adapters.cloud_sessions`); the metrics history is bounded
(:mod:`system.adapters.metric_history`). The database file and the key file beside it are created 0600.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from system.adapters import cloud_sessions, metric_history
from system.adapters.cloud_sessions import SessionTable
from system.adapters.metric_history import MetricHistory, Retention
from system.adapters.passwords import hash_password, verify_password
from system.adapters.schema_versions import refuse_newer
from system.decisions.jobs_protocol import (CANCELED, IN_PROGRESS, PENDING, QUEUED, TERMINAL, TIMED_OUT, Refusal,
                                            check_details, check_update, execution, new_job_id)

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS devices (name TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, added REAL NOT NULL);
CREATE TABLE IF NOT EXISTS mirror (
    device TEXT NOT NULL, tbl TEXT NOT NULL, key TEXT NOT NULL, row TEXT NOT NULL, PRIMARY KEY (device, tbl, key));
CREATE TABLE IF NOT EXISTS sync_state (
    device TEXT PRIMARY KEY, applied INTEGER NOT NULL, device_last INTEGER NOT NULL, at REAL NOT NULL,
    resyncs INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, device TEXT NOT NULL, document TEXT NOT NULL,
    status TEXT NOT NULL, version INTEGER NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
    started REAL, timeout REAL NOT NULL, details TEXT NOT NULL DEFAULT '{}', created_by TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_history (
    job_id TEXT NOT NULL, at REAL NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL, details TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS alarms (device TEXT PRIMARY KEY, raised INTEGER NOT NULL, since REAL NOT NULL);
CREATE TABLE IF NOT EXISTS alarm_history (device TEXT NOT NULL, at REAL NOT NULL, state TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (device TEXT NOT NULL, at REAL NOT NULL, kind TEXT NOT NULL, line TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS logs_at ON logs(device, at);
CREATE TABLE IF NOT EXISTS log_drops (device TEXT PRIMARY KEY, dropped INTEGER NOT NULL);
"""
HEARTBEAT = "RPI_BACKEND_STATUS"


@dataclass(frozen=True)
class SyncResult:
    """What a sync request got: ``applied`` is the mirror's outbox position; ``resync`` a reason to send
    a full snapshot (``mirror_behind``: the mirror lost changes the device no longer has;
    ``mirror_ahead``: the device's store is newer than the mirror knows, e.g. replaced; ``gap``)."""

    applied: int
    resync: str | None = None


@dataclass(frozen=True)
class JobView:
    id: str
    device: str
    document: dict
    status: str
    version: int
    created: float
    updated: float
    started: float | None
    timeout: float
    details: dict
    created_by: str

    def execution(self) -> dict:
        """The job as the AWS IoT Jobs API shows a device its execution."""
        return execution(self.id, self.device, self.status, self.document, self.created, self.updated, self.started,
                         self.version, self.details)


SCHEMA_VERSION = 1  # PRAGMA user_version; a migration step comes with every change of the tables


class CloudStore:
    """The cloud's SQLite store (``path`` a file, or ``:memory:``); ``retention`` bounds the metrics history."""

    def __init__(self, path: str = ":memory:", *, retention: Retention = Retention()):
        self.path = path
        if path != ":memory:":
            cloud_sessions.create_private(path)  # SQLite's -wal and -shm files take the database's mode
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        found = self.db.execute("PRAGMA user_version").fetchone()[0]
        if found > SCHEMA_VERSION:
            self.db.close()
            refuse_newer(found, SCHEMA_VERSION, path, "cloud store")
        # Version 1 is the first numbered one; a file from before numbering has the same tables.
        self.db.executescript(SCHEMA + cloud_sessions.SCHEMA + metric_history.SCHEMA +
                              f"PRAGMA user_version = {SCHEMA_VERSION};")
        self.db.execute("DELETE FROM settings WHERE name = 'session'")  # the key once kept here lives in a file now
        self.sessions = SessionTable(self.db, self._tx)
        self.metric_history = MetricHistory(self.db, self._tx, retention)
        self._keys: dict[str, str] = {}

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- settings, users, devices -------------------------------------------------------

    def secret(self, name: str) -> str:
        """A random secret (the session signing key), kept in the key file ``<database>.<name>.key`` beside the
        database, never in it; made on first use (in memory for a ``:memory:`` store)."""
        if name not in self._keys:
            self._keys[name] = secrets.token_urlsafe(32) if self.path == ":memory:" else \
                cloud_sessions.key_file(f"{os.fspath(self.path)}.{name}.key")
        return self._keys[name]

    def add_user(self, name: str, password: str, **cost: int) -> bool:
        """Add a dashboard user (or set a new password); True if new."""
        _check_name(name)
        if len(password) < 8:
            raise ValueError("a password has at least 8 characters")
        digest = hash_password(password, **cost)
        with self._tx() as db:
            new = db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is None
            db.execute("INSERT OR REPLACE INTO users VALUES (?, ?)", (name, digest))
        self.sessions.close_all(name)  # a new password ends every session made with the old one
        return new

    def remove_user(self, name: str) -> bool:
        """Remove a dashboard user and end their sessions; True if they existed."""
        with self._tx() as db:
            gone = db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0
        self.sessions.close_all(name)
        return gone

    def password_hash(self, name: str) -> str:
        """The user's password hash, or a hash of no one's password (the same work for an unknown user)."""
        row = self.db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
        return row[0] if row else _DUMMY_HASH

    def check_user(self, name: str, password: str) -> bool:
        row = self.db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            verify_password(password, _DUMMY_HASH)  # same work whether or not the user exists
            return False
        return verify_password(password, row[0])

    def add_device(self, name: str, now: float) -> str:
        """Register a device (or give it a new credential); returns its token, shown once."""
        _check_name(name)
        token = f"{name}.{secrets.token_urlsafe(32)}"
        with self._tx() as db:
            db.execute("INSERT INTO devices VALUES (?, ?, ?) "
                       "ON CONFLICT(name) DO UPDATE SET token_sha256 = excluded.token_sha256",
                       (name, _sha256(token), now))
        return token

    def device_for_token(self, token: str) -> str | None:
        """The device a bearer token belongs to, or None."""
        name = token.partition(".")[0]
        row = self.db.execute("SELECT token_sha256 FROM devices WHERE name = ?", (name,)).fetchone()
        if row is None or not hmac.compare_digest(row[0], _sha256(token)):
            return None
        return name

    def devices(self) -> list[str]:
        return [n for (n,) in self.db.execute("SELECT name FROM devices ORDER BY name")]

    def device_added(self, name: str) -> float | None:
        row = self.db.execute("SELECT added FROM devices WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    # -- mirror and sync ------------------------------------------------------------------

    def sync_state(self, device: str) -> dict:
        row = self.db.execute("SELECT applied, device_last, at, resyncs FROM sync_state WHERE device = ?",
                              (device,)).fetchone()
        if row is None:
            return {"applied": 0, "device_last": 0, "at": None, "resyncs": 0, "behind": 0}
        applied, last, at, resyncs = row
        return {"applied": applied, "device_last": last, "at": at, "resyncs": resyncs, "behind": max(0, last - applied)}

    def apply_sync(self, device: str, base: int, last: int, changes: list[dict], now: float) -> SyncResult:
        """Apply a batch of outbox changes (ids ascending) on top of the mirror, each once.

        ``base``: the device's acknowledged position (every change up to it left its outbox);
        ``last``: its newest change. A replayed batch changes nothing.
        """
        with self._tx() as db:
            applied = self.sync_state(device)["applied"]
            if applied < base:
                return SyncResult(applied, "mirror_behind")
            if applied > last:
                return SyncResult(applied, "mirror_ahead")
            for change in changes:
                cid = change["id"]
                if cid <= applied:
                    continue  # already applied: a replay
                if cid != applied + 1:
                    self._set_state(db, device, applied, max(last, applied), now)  # keep what came before the gap
                    return SyncResult(applied, "gap")
                self._merge(db, device, change["table"], change["key"], change["payload"])
                applied = cid
            self._set_state(db, device, applied, max(last, applied), now)
        return SyncResult(applied)

    def replace_mirror(self, device: str, upto: int, rows: dict[str, dict[str, dict]], now: float) -> None:
        """A full resync: the mirror becomes ``rows``, at outbox position ``upto``."""
        with self._tx() as db:
            db.execute("DELETE FROM mirror WHERE device = ?", (device,))
            for table, keyed in rows.items():
                for key, row in keyed.items():
                    db.execute("INSERT INTO mirror VALUES (?, ?, ?, ?)", (device, table, key, json.dumps(row)))
            self._set_state(db, device, upto, upto, now)
            db.execute("UPDATE sync_state SET resyncs = resyncs + 1 WHERE device = ?", (device,))

    def reset_mirror(self, device: str) -> None:
        """Lose a device's mirror (as a restored backup or a new cloud would): the next sync rebuilds it."""
        with self._tx() as db:
            db.execute("DELETE FROM mirror WHERE device = ?", (device,))
            db.execute("DELETE FROM sync_state WHERE device = ?", (device,))

    def mirror(self, device: str) -> dict[str, dict[str, dict]]:
        """The device's mirror: table -> key -> row."""
        out: dict[str, dict[str, dict]] = {}
        for table, key, row in self.db.execute("SELECT tbl, key, row FROM mirror WHERE device = ? ORDER BY tbl, key",
                                               (device,)):
            out.setdefault(table, {})[key] = json.loads(row)
        return out

    @staticmethod
    def _merge(db: sqlite3.Connection, device: str, table: str, key: str, payload: dict | None) -> None:
        if payload is None:
            db.execute("DELETE FROM mirror WHERE device = ? AND tbl = ? AND key = ?", (device, table, key))
            return
        row = db.execute("SELECT row FROM mirror WHERE device = ? AND tbl = ? AND key = ?",
                         (device, table, key)).fetchone()
        merged = {**(json.loads(row[0]) if row else {}), **payload}
        db.execute("INSERT OR REPLACE INTO mirror VALUES (?, ?, ?, ?)", (device, table, key, json.dumps(merged)))

    @staticmethod
    def _set_state(db: sqlite3.Connection, device: str, applied: int, last: int, now: float) -> None:
        db.execute("INSERT INTO sync_state (device, applied, device_last, at) VALUES (?, ?, ?, ?) "
                   "ON CONFLICT(device) DO UPDATE SET applied = excluded.applied, device_last = excluded.device_last, "
                   "at = excluded.at", (device, applied, last, now))

    # -- jobs -----------------------------------------------------------------------------

    def create_job(self, device: str, document: dict, now: float, *, timeout: float = 600.0,
                   created_by: str = "", job_id: str | None = None) -> JobView:
        """Queue a job for ``device`` (its document already validated) as ``job_id``, a ULID; without one, a ULID
        of ``now`` and 80 bits from the OS (ids never restart, even in a new store: the device keys its
        at-most-once record by them)."""
        job_id = job_id or new_job_id(int(now * 1000), secrets.randbits(80))
        with self._tx() as db:
            db.execute("INSERT INTO jobs (id, device, document, status, version, created, updated, timeout, "
                       "created_by) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?)",
                       (job_id, device, json.dumps(document, sort_keys=True), QUEUED, now, now, timeout, created_by))
            self._history(db, job_id, now, QUEUED, 1, {"by": created_by})
        return self.job(job_id)

    def job(self, job_id: str) -> JobView | None:
        row = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, device: str, *, pending_only: bool = False) -> list[JobView]:
        """The device's jobs, pending ones first, then newest first."""
        rows = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE device = ? ORDER BY "
                               "CASE WHEN status IN (?, ?) THEN 0 ELSE 1 END, "
                               "CASE WHEN status IN (?, ?) THEN seq ELSE -seq END",
                               (device, QUEUED, IN_PROGRESS, QUEUED, IN_PROGRESS))
        found = [_job(r) for r in rows]
        return [j for j in found if j.status in PENDING] if pending_only else found

    def history(self, job_id: str) -> list[dict]:
        rows = self.db.execute("SELECT at, status, version, details FROM job_history WHERE job_id = ? ORDER BY rowid",
                               (job_id,))
        return [{"at": at, "status": s, "version": v, "details": json.loads(d)} for at, s, v, d in rows]

    def start_next(self, device: str, now: float) -> JobView | None:
        """AWS ``start-next``: the job in progress (again), else the oldest queued one, now IN_PROGRESS."""
        with self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE device = ? AND status IN (?, ?) "
                             "ORDER BY CASE status WHEN ? THEN 0 ELSE 1 END, seq LIMIT 1",
                             (device, IN_PROGRESS, QUEUED, IN_PROGRESS)).fetchone()
            if row is None:
                return None
            job = _job(row)
            if job.status == QUEUED:
                db.execute("UPDATE jobs SET status = ?, version = version + 1, updated = ?, started = ? WHERE id = ?",
                           (IN_PROGRESS, now, now, job.id))
                self._history(db, job.id, now, IN_PROGRESS, job.version + 1, {})
        return self.job(job.id)

    def update_job(self, device: str, job_id: str, status: Any, details: Any, expected_version: Any,
                   now: float) -> JobView | Refusal:
        """AWS ``<jobId>/update`` from the device: the new state, or why it was refused."""
        refused = check_details(details)
        if refused is not None:
            return refused
        with self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ? AND device = ?",
                             (job_id, device)).fetchone()
            if row is None:
                return Refusal("ResourceNotFound", f"no job {job_id!r} for {device!r}")
            job = _job(row)
            refused = check_update(job.status, job.version, status, expected_version)
            if refused is not None:
                return refused
            version = job.version + 1
            db.execute("UPDATE jobs SET status = ?, version = ?, updated = ?, details = ? WHERE id = ?",
                       (status, version, now, json.dumps(details or {}, sort_keys=True), job_id))
            self._history(db, job_id, now, status, version, details or {})
        return self.job(job_id)

    def cancel_job(self, device: str, job_id: str, now: float, by: str) -> JobView | Refusal:
        with self._tx() as db:
            row = db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE id = ? AND device = ?",
                             (job_id, device)).fetchone()
            if row is None:
                return Refusal("ResourceNotFound", f"no job {job_id!r}")
            job = _job(row)
            if job.status in TERMINAL:
                return Refusal("InvalidStateTransition", f"{job.status} -> {CANCELED}")
            db.execute("UPDATE jobs SET status = ?, version = version + 1, updated = ? WHERE id = ?",
                       (CANCELED, now, job_id))
            self._history(db, job_id, now, CANCELED, job.version + 1, {"by": by})
        return self.job(job_id)

    def time_out(self, now: float) -> list[JobView]:
        """Jobs in progress longer than their timeout become TIMED_OUT; returns them."""
        rows = self.db.execute(f"SELECT {_JOB_COLUMNS} FROM jobs WHERE status = ? AND started + timeout <= ? "
                               "ORDER BY seq", (IN_PROGRESS, now)).fetchall()
        out = []
        with self._tx() as db:
            for row in rows:
                job = _job(row)
                db.execute("UPDATE jobs SET status = ?, version = version + 1, updated = ? WHERE id = ?",
                           (TIMED_OUT, now, job.id))
                self._history(db, job.id, now, TIMED_OUT, job.version + 1, {"after": job.timeout})
                out.append(job)
        return out

    @staticmethod
    def _history(db: sqlite3.Connection, job_id: str, now: float, status: str, version: int, details: dict) -> None:
        db.execute("INSERT INTO job_history VALUES (?, ?, ?, ?, ?)",
                   (job_id, now, status, version, json.dumps(details, sort_keys=True)))

    # -- metrics, heartbeat alarm, logs -----------------------------------------------------

    def add_metrics(self, device: str, now: float, samples: dict[str, float]) -> None:
        self.metric_history.add(device, now, samples)

    def metrics(self, device: str, since: float = 0.0, *, after: float | None = None) -> list[dict]:
        """The device's metrics history (:meth:`MetricHistory.read`)."""
        return self.metric_history.read(device, since, after=after)

    def last_heartbeat(self, device: str) -> float | None:
        return self.metric_history.last_seen(device, HEARTBEAT)

    def alarm(self, device: str) -> dict:
        row = self.db.execute("SELECT raised, since FROM alarms WHERE device = ?", (device,)).fetchone()
        history = [{"at": at, "state": s, "detail": d} for at, s, d in self.db.execute(
            "SELECT at, state, detail FROM alarm_history WHERE device = ? ORDER BY rowid DESC LIMIT 100", (device,))]
        return {"raised": bool(row and row[0]), "since": row[1] if row else None, "history": history}

    def set_alarm(self, device: str, raised: bool, now: float, detail: str) -> bool:
        """Record the alarm state; True if it changed (then it is in the history)."""
        with self._tx() as db:
            row = db.execute("SELECT raised FROM alarms WHERE device = ?", (device,)).fetchone()
            if bool(row and row[0]) == raised:
                return False
            db.execute("INSERT OR REPLACE INTO alarms VALUES (?, ?, ?)", (device, int(raised), now))
            db.execute("INSERT INTO alarm_history VALUES (?, ?, ?, ?)",
                       (device, now, "raised" if raised else "cleared", detail))
        return True

    def add_logs(self, device: str, lines: list[dict], dropped: int) -> None:
        with self._tx() as db:
            db.executemany("INSERT INTO logs VALUES (?, ?, ?, ?)",
                           [(device, float(ln["at"]), str(ln["kind"]), str(ln["line"])) for ln in lines])
            if dropped:
                db.execute("INSERT INTO log_drops VALUES (?, ?) ON CONFLICT(device) DO UPDATE SET "
                           "dropped = dropped + excluded.dropped", (device, dropped))

    def logs(self, device: str, since: float = 0.0, until: float = float("inf"), kind: str | None = None,
             limit: int = 500) -> dict:
        sql = "SELECT at, kind, line FROM logs WHERE device = ? AND at >= ? AND at <= ?"
        args: list[Any] = [device, since, until if until != float("inf") else 1e18]
        if kind:
            sql += " AND kind LIKE ?"
            args.append(kind.replace("%", "") + "%")
        rows = self.db.execute(sql + " ORDER BY at DESC, rowid DESC LIMIT ?", (*args, limit))
        dropped = self.db.execute("SELECT dropped FROM log_drops WHERE device = ?", (device,)).fetchone()
        return {"lines": [{"at": at, "kind": k, "line": ln} for at, k, ln in rows],
                "dropped": dropped[0] if dropped else 0}


_JOB_COLUMNS = "id, device, document, status, version, created, updated, started, timeout, details, created_by"
# A hash of no one's password: an unknown user costs a login the same work as a known one.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=1$att+9iDS9u2xElDOFqRNHw$v0nAosTAG42ZxuPIlpnVagH89imvs8qnkNp+MazEr5g"


def _job(row: tuple) -> JobView:
    i, device, doc, status, version, created, updated, started, timeout, details, by = row
    return JobView(i, device, json.loads(doc), status, version, created, updated, started, timeout,
                   json.loads(details), by)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not all(c.isalnum() or c in "-_" for c in name):
        raise ValueError(f"name {name!r}: 1-64 letters, digits, '-' or '_'")
