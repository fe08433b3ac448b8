"""The controller's local store: SQLite, the single source of truth, safe on power loss.

WAL journal with ``synchronous=FULL``: a method returns only after its transaction is
on disk, so a killed process or a power cut loses no change it reported done. The
schema is versioned with ``PRAGMA user_version`` and upgraded by :data:`MIGRATIONS`
when the file is opened. Every change also appends a row to the ``outbox`` in the same
transaction, so cloud sync can copy the store without ever missing or reordering one.

Plain synchronous methods: SQLite is local and fast, and the store stays free of any
event loop. Listeners registered with :meth:`Store.on_change` run after each commit
(the scheduler uses one to wake up).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

from system.decisions.alerts import Snooze
from system.decisions.events import CANCELLED, CUSTOM, SCHEDULED, Alert, AlertRule, Event
from system.adapters.schema_versions import backup_before_migrating, refuse_newer
from system.errors import ConfigError, RefusedInput

_EVENT_FIELDS = tuple(f.name for f in fields(Event))

# Each entry upgrades the schema by one version; never edit one that has shipped.
MIGRATIONS: tuple[str, ...] = (
    # v1: events, their extra alerts, snoozes, and the log that makes firing exactly-once.
    """
    CREATE TABLE events (
        key TEXT PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, start REAL NOT NULL,
        status TEXT NOT NULL, home TEXT NOT NULL DEFAULT '', away TEXT NOT NULL DEFAULT '',
        competition TEXT NOT NULL DEFAULT '', season TEXT NOT NULL DEFAULT '',
        location TEXT NOT NULL DEFAULT '', source TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE extras (
        event_key TEXT NOT NULL, before REAL NOT NULL, duration REAL NOT NULL,
        PRIMARY KEY (event_key, before)
    );
    CREATE TABLE snoozes (
        id INTEGER PRIMARY KEY AUTOINCREMENT, alert_id TEXT NOT NULL, since REAL NOT NULL, until REAL NOT NULL
    );
    CREATE INDEX snoozes_alert ON snoozes(alert_id);
    CREATE TABLE alert_log (
        alert_id TEXT NOT NULL, at REAL NOT NULL, event_key TEXT NOT NULL, duration REAL NOT NULL,
        outcome TEXT NOT NULL, settled REAL NOT NULL, ended REAL,
        PRIMARY KEY (alert_id, at)
    );
    """,
    # v2: per-kind alert policies, cloud jobs, and the outbox for cloud sync.
    """
    CREATE TABLE policies (
        kind TEXT NOT NULL, before REAL NOT NULL, duration REAL NOT NULL, PRIMARY KEY (kind, before)
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL, document TEXT NOT NULL, status TEXT NOT NULL,
        received REAL NOT NULL, finished REAL, result TEXT
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, key TEXT NOT NULL, payload TEXT NOT NULL
    );
    INSERT INTO outbox (tbl, key, payload)
        SELECT 'events', key, json_object('key', key, 'kind', kind, 'title', title, 'start', start,
            'status', status, 'home', home, 'away', away, 'competition', competition,
            'season', season, 'location', location, 'source', source)
        FROM events ORDER BY rowid;
    """,
    # v3: which kinds have a policy of their own, so an empty one (no alerts) is kept as such.
    """
    CREATE TABLE policy_kinds (kind TEXT PRIMARY KEY);
    INSERT INTO policy_kinds SELECT DISTINCT kind FROM policies;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
MIRRORED = ("events", "policies", "extras", "snoozes", "alert_log", "jobs")  # the tables the outbox carries


@dataclass(frozen=True)
class Change:
    """One outbox row: ``payload`` is the row's new content, or ``None`` when it was deleted."""

    id: int
    table: str
    key: str
    payload: dict | None


@dataclass(frozen=True)
class LogEntry:
    """The fired log: ``outcome`` is ``fired`` or ``skipped:<reason>``; ``ended`` once its window closed."""

    alert_id: str
    at: float
    event_key: str
    duration: float
    outcome: str
    settled: float
    ended: float | None


@dataclass(frozen=True)
class Applied:
    """What :meth:`Store.apply` changed (counts of events)."""

    added: int = 0
    updated: int = 0
    cancelled: int = 0
    reinstated: int = 0


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    document: dict
    status: str
    received: float
    finished: float | None
    result: dict | None


def migrate(db: sqlite3.Connection, source: str | None = None) -> int:
    """Bring ``db`` to :data:`SCHEMA_VERSION`, one transaction per step; returns the version found.

    A file written by newer code is a ConfigError naming ``source`` (the file): downgrading it could lose data.
    """
    found = db.execute("PRAGMA user_version").fetchone()[0]
    refuse_newer(found, SCHEMA_VERSION, source or "the store", "controller store")
    if 0 < found < SCHEMA_VERSION and source:  # a store with data from older code: keep a copy first
        backup_before_migrating(db, source, found)
    for version in range(found, SCHEMA_VERSION):
        try:
            db.executescript(f"BEGIN;\n{MIGRATIONS[version]}\nPRAGMA user_version = {version + 1};\nCOMMIT;")
        except sqlite3.Error:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
    return found


def _open_readonly(path: str) -> sqlite3.Connection:
    """A connection that cannot write (a dry run, the console's plan), to a store of this schema.

    WAL lets it read while the controller writes; a missing file or another schema version is a ConfigError.
    """
    from urllib.parse import quote

    try:
        db = sqlite3.connect(f"file:{quote(path)}?mode=ro", uri=True, isolation_level=None)
        found = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read the store ({exc})", source=path) from None
    if found != SCHEMA_VERSION:
        db.close()
        raise ConfigError(f"store has schema v{found}, this hilsim reads v{SCHEMA_VERSION} "
                          "(the controller upgrades it when it starts)", source=path)
    return db


class Store:
    """The controller's SQLite store (``path`` a file; ``:memory:`` for quick tests).

    ``metrics`` (optional) gets ``count(name, n)`` for events added/updated/cancelled.
    """

    def __init__(self, path: str = ":memory:", *, metrics: Any = None, readonly: bool = False):
        self.path = path
        self.metrics = metrics
        self._listeners: list[Callable[[], None]] = []
        self._depth = 0  # > 0 inside atomic(): nested changes join its transaction
        if readonly:
            self.db = _open_readonly(path)
            self.migrated_from = self.schema_version()
            return
        self.db = sqlite3.connect(path, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.migrated_from = migrate(self.db, source=path)

    # -- plumbing -------------------------------------------------------------------

    def on_change(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` after every committed change."""
        self._listeners.append(listener)

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction around several changes (a job's effect and its id): all of them or none.

        Listeners run once, after the commit; an exception rolls everything back and propagates.
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.db.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            if self.db.in_transaction:  # SQLite ends it itself on some errors (SQLITE_FULL): no second error
                self.db.execute("ROLLBACK")
            raise
        self._depth = 0
        self.db.execute("COMMIT")
        for listener in self._listeners:
            listener()

    def _commit(self, work: Callable[[], Any]) -> Any:
        if self._depth:
            return work()  # inside atomic(): its transaction commits, and tells the listeners
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            if self.db.in_transaction:  # SQLite ends it itself on some errors (SQLITE_FULL): no second error
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        for listener in self._listeners:
            listener()
        return result

    def _outbox(self, table: str, key: str, payload: dict | None) -> None:
        self.db.execute("INSERT INTO outbox (tbl, key, payload) VALUES (?, ?, ?)",
                        (table, key, json.dumps(payload, sort_keys=True)))

    def _count(self, name: str, n: int) -> None:
        if self.metrics is not None and n:
            self.metrics.count(name, n)

    def changed_elsewhere(self) -> bool:
        """Whether another connection (``hilsim controller snooze`` at the console) committed a change since
        the last call; the live controller polls this so a console snooze darkens the light within seconds."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        changed = getattr(self, "_data_version", version) != version
        self._data_version = version
        return changed

    def journal_mode(self) -> str:
        return self.db.execute("PRAGMA journal_mode").fetchone()[0]

    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    # -- events ---------------------------------------------------------------------

    def _put_event(self, event: Event) -> None:
        self.db.execute(
            f"INSERT OR REPLACE INTO events ({', '.join(_EVENT_FIELDS)}) VALUES ({', '.join('?' * len(_EVENT_FIELDS))})",
            tuple(getattr(event, f) for f in _EVENT_FIELDS))
        self._outbox("events", event.key, asdict(event))

    def stored_events(self) -> list[Event]:
        """Every stored event, cancelled ones included, ordered by start then key."""
        rows = self.db.execute(f"SELECT {', '.join(_EVENT_FIELDS)} FROM events ORDER BY start, key")
        return [Event(*row) for row in rows]

    def event(self, key: str) -> Event | None:
        row = self.db.execute(f"SELECT {', '.join(_EVENT_FIELDS)} FROM events WHERE key = ?", (key,)).fetchone()
        return Event(*row) if row else None

    def apply(self, reconciliation: Any) -> Applied:
        """Store a reconciliation (any object with lists ``added``, ``rescheduled`` and
        ``updated`` of (old, new) pairs, ``cancelled`` and ``reinstated`` of events), in one
        transaction. ``updated`` carries detail-only edits (title, teams, location)."""
        added = list(getattr(reconciliation, "added", ()))
        moved = [new for _old, new in getattr(reconciliation, "rescheduled", ())]
        moved += [new for _old, new in getattr(reconciliation, "updated", ())]
        cancelled = list(getattr(reconciliation, "cancelled", ()))
        back = list(getattr(reconciliation, "reinstated", ()))

        def work() -> None:
            for event in added + moved:
                self._put_event(event)
            for event in cancelled:
                self._put_event(_with_status(self.event(event.key) or event, CANCELLED))
            for event in back:
                self._put_event(_with_status(event, SCHEDULED))

        if added or moved or cancelled or back:
            self._commit(work)
        self._count("events_added", len(added))
        self._count("events_updated", len(moved) + len(back))
        self._count("events_cancelled", len(cancelled))
        return Applied(len(added), len(moved), len(cancelled), len(back))

    def put_event(self, event: Event) -> bool:
        """Insert or replace one event (user-created events, dashboard edits); True if it was new."""
        new = self.event(event.key) is None
        self._commit(lambda: self._put_event(event))
        self._count("events_added" if new else "events_updated", 1)
        return new

    def create_event(self, title: str, start: float, kind: str = CUSTOM, key: str | None = None) -> Event:
        """Create a custom event; the default key hashes (title, start), so a retried job creates it once."""
        if not title.strip():
            raise RefusedInput("empty_title", "an event needs a title")
        if key is None:
            digest = hashlib.sha256(f"{title}\n{start!r}".encode()).hexdigest()[:12]
            key = f"custom:{digest}"
        existing = self.event(key)
        if existing is not None:
            return existing
        event = Event(key=key, kind=kind, title=title, start=float(start), source="user")
        self.put_event(event)
        return event

    # -- alerts: policies, extras, snoozes, log --------------------------------------

    def policies(self, defaults: Mapping[str, Sequence[AlertRule]]) -> dict[str, tuple[AlertRule, ...]]:
        """The alert policy per kind: the stored one where a kind has one (maybe empty), else ``defaults``."""
        out = {k: tuple(v) for k, v in defaults.items()}
        stored: dict[str, list[AlertRule]] = {kind: [] for (kind,) in self.db.execute("SELECT kind FROM policy_kinds")}
        for kind, before, duration in self.db.execute("SELECT kind, before, duration FROM policies ORDER BY kind, before DESC"):
            stored.setdefault(kind, []).append(AlertRule(before, duration))
        out.update({k: tuple(v) for k, v in stored.items()})
        return out

    def set_policy(self, kind: str, rules: Iterable[AlertRule]) -> None:
        """Replace the alert policy of ``kind`` (an empty list means: no alerts for that kind)."""
        rules = list(rules)

        def work() -> None:
            self.db.execute("DELETE FROM policies WHERE kind = ?", (kind,))
            self.db.execute("INSERT OR IGNORE INTO policy_kinds VALUES (?)", (kind,))
            for r in rules:
                self.db.execute("INSERT OR REPLACE INTO policies VALUES (?, ?, ?)", (kind, r.before, r.duration))
            self._outbox("policies", kind, {"kind": kind, "rules": [[r.before, r.duration] for r in rules]})

        self._commit(work)

    def extras(self) -> dict[str, tuple[AlertRule, ...]]:
        """Extra alerts per event key (``origin="extra"``)."""
        out: dict[str, list[AlertRule]] = {}
        for key, before, duration in self.db.execute("SELECT event_key, before, duration FROM extras ORDER BY event_key, before DESC"):
            out.setdefault(key, []).append(AlertRule(before, duration, "extra"))
        return {k: tuple(v) for k, v in out.items()}

    def add_extra(self, event_key: str, before: float, duration: float = 600.0) -> None:
        """Add (or resize) an extra alert ``before`` seconds ahead of the event."""
        if self.event(event_key) is None:
            raise RefusedInput("unknown_event", event_key)
        if duration <= 0:
            raise RefusedInput("bad_duration", f"{duration!r}")

        def work() -> None:
            self.db.execute("INSERT OR REPLACE INTO extras VALUES (?, ?, ?)", (event_key, float(before), float(duration)))
            self._outbox("extras", f"{event_key}|{float(before)!r}",
                         {"event_key": event_key, "before": float(before), "duration": float(duration)})

        self._commit(work)

    def remove_extra(self, event_key: str, before: float) -> bool:
        """Remove the extra alert ``before`` seconds ahead of ``event_key`` (a job updating it); True if it was there."""
        def work() -> bool:
            cur = self.db.execute("DELETE FROM extras WHERE event_key = ? AND before = ?", (event_key, float(before)))
            if cur.rowcount:
                self._outbox("extras", f"{event_key}|{float(before)!r}", None)
            return cur.rowcount > 0

        return self._commit(work)

    def snoozes(self) -> list[Snooze]:
        rows = self.db.execute("SELECT alert_id, since, until FROM snoozes ORDER BY id")
        return [Snooze(*row) for row in rows]

    def add_snooze(self, snooze: Snooze) -> None:
        def work() -> None:
            cur = self.db.execute("INSERT INTO snoozes (alert_id, since, until) VALUES (?, ?, ?)",
                                  (snooze.alert_id, snooze.since, snooze.until))
            self._outbox("snoozes", str(cur.lastrowid), asdict(snooze))

        self._commit(work)

    def settled(self) -> set[tuple[str, float]]:
        """The ``(alert id, at)`` pairs already fired or skipped."""
        return set(self.db.execute("SELECT alert_id, at FROM alert_log"))

    def alert_log(self) -> list[LogEntry]:
        rows = self.db.execute("SELECT alert_id, at, event_key, duration, outcome, settled, ended "
                               "FROM alert_log ORDER BY at, alert_id")
        return [LogEntry(*row) for row in rows]

    def open_firings(self) -> list[LogEntry]:
        """Fired alerts whose end is not recorded yet (the light may still be on for them)."""
        rows = self.db.execute("SELECT alert_id, at, event_key, duration, outcome, settled, ended FROM alert_log "
                               "WHERE outcome = 'fired' AND ended IS NULL ORDER BY at, alert_id")
        return [LogEntry(*row) for row in rows]

    def _log(self, alert: Alert, outcome: str, now: float) -> bool:
        def work() -> bool:
            cur = self.db.execute("INSERT OR IGNORE INTO alert_log VALUES (?, ?, ?, ?, ?, ?, NULL)",
                                  (alert.id, alert.at, alert.event_key, alert.duration, outcome, now))
            if cur.rowcount:
                self._outbox("alert_log", f"{alert.id}@{alert.at!r}",
                             {"alert_id": alert.id, "at": alert.at, "outcome": outcome, "settled": now, "ended": None})
            return cur.rowcount == 1

        return self._commit(work)

    def record_fired(self, alert: Alert, now: float) -> bool:
        """Log that ``alert`` fired; False if this (id, at) was already settled (then do not fire)."""
        return self._log(alert, "fired", now)

    def record_skipped(self, alert: Alert, reason: str, now: float) -> bool:
        """Log that ``alert``'s window closed without firing (``missed`` or ``snoozed``)."""
        return self._log(alert, f"skipped:{reason}", now)

    def record_ended(self, alert_id: str, at: float, now: float) -> bool:
        """Log the end of a fired alert; False if it was not open."""
        def work() -> bool:
            cur = self.db.execute("UPDATE alert_log SET ended = ? WHERE alert_id = ? AND at = ? AND ended IS NULL",
                                  (now, alert_id, at))
            if cur.rowcount:
                self._outbox("alert_log", f"{alert_id}@{at!r}", {"alert_id": alert_id, "at": at, "ended": now})
            return cur.rowcount == 1

        return self._commit(work)

    # -- jobs (commands from the cloud dashboard) -------------------------------------

    def add_job(self, job_id: str, kind: str, document: dict, now: float) -> bool:
        """Record a received job; False if this id was seen before (jobs are executed once)."""
        def work() -> bool:
            cur = self.db.execute("INSERT OR IGNORE INTO jobs VALUES (?, ?, ?, 'queued', ?, NULL, NULL)",
                                  (job_id, kind, json.dumps(document, sort_keys=True), now))
            if cur.rowcount:
                self._outbox("jobs", job_id, {"id": job_id, "kind": kind, "status": "queued"})
            return cur.rowcount == 1

        return self._commit(work)

    def finish_job(self, job_id: str, status: str, result: dict | None, now: float) -> None:
        """Mark a job ``succeeded`` or ``failed`` with its result; queued in the outbox as the acknowledgement."""
        def work() -> None:
            self.db.execute("UPDATE jobs SET status = ?, finished = ?, result = ? WHERE id = ?",
                            (status, now, json.dumps(result, sort_keys=True), job_id))
            self._outbox("jobs", job_id, {"id": job_id, "status": status, "result": result})

        self._commit(work)

    def jobs(self, status: str | None = None) -> list[Job]:
        sql = "SELECT id, kind, document, status, received, finished, result FROM jobs"
        rows = self.db.execute(sql + " WHERE status = ? ORDER BY received, id" if status else sql + " ORDER BY received, id",
                               (status,) if status else ())
        return [Job(i, k, json.loads(d), s, r, f, json.loads(res) if res else None) for i, k, d, s, r, f, res in rows]

    # -- outbox -----------------------------------------------------------------------

    def outbox_pending(self, limit: int = 100) -> list[Change]:
        """The oldest ``limit`` unacknowledged changes, in commit order."""
        rows = self.db.execute("SELECT id, tbl, key, payload FROM outbox ORDER BY id LIMIT ?", (limit,))
        return [Change(i, t, k, json.loads(p)) for i, t, k, p in rows]

    def outbox_ack(self, up_to_id: int) -> int:
        """Drop every change with id <= ``up_to_id`` (the cloud has it); returns how many."""
        self.db.execute("BEGIN IMMEDIATE")
        cur = self.db.execute("DELETE FROM outbox WHERE id <= ?", (up_to_id,))
        self.db.execute("COMMIT")
        return cur.rowcount

    def outbox_position(self) -> tuple[int, int]:
        """``(acked, last)``: every change up to ``acked`` has left the outbox (the cloud has it);
        ``last`` is the newest change ever queued. Ids are never reused (AUTOINCREMENT)."""
        last = self.db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        last = last[0] if last else 0
        first = self.db.execute("SELECT min(id) FROM outbox").fetchone()[0]
        return (last if first is None else first - 1), last

    def snapshot(self) -> tuple[int, dict[str, dict[str, dict]]]:
        """The whole store as the cloud mirror holds it, and the outbox position it includes.

        Rows have the shape the outbox changes build up (each change's payload merged over the
        row's earlier ones), so a mirror rebuilt from a snapshot equals one that followed every
        change. Read in one transaction: no change can slip between the rows and the position.
        """
        self.db.execute("BEGIN")
        try:
            upto = self.outbox_position()[1]
            rows: dict[str, dict[str, dict]] = {t: {} for t in MIRRORED}
            for event in self.stored_events():
                rows["events"][event.key] = asdict(event)
            kinds = [k for (k,) in self.db.execute("SELECT kind FROM policy_kinds ORDER BY kind")]
            for kind in kinds:
                rules = self.db.execute("SELECT before, duration FROM policies WHERE kind = ? ORDER BY before DESC",
                                        (kind,)).fetchall()
                rows["policies"][kind] = {"kind": kind, "rules": [[b, d] for b, d in rules]}
            for key, before, duration in self.db.execute("SELECT event_key, before, duration FROM extras"):
                rows["extras"][f"{key}|{float(before)!r}"] = {"event_key": key, "before": before, "duration": duration}
            for rowid, alert_id, since, until in self.db.execute("SELECT id, alert_id, since, until FROM snoozes"):
                rows["snoozes"][str(rowid)] = {"alert_id": alert_id, "since": since, "until": until}
            for entry in self.alert_log():
                rows["alert_log"][f"{entry.alert_id}@{entry.at!r}"] = {
                    "alert_id": entry.alert_id, "at": entry.at, "outcome": entry.outcome, "settled": entry.settled,
                    "ended": entry.ended}
            for job in self.jobs():
                row = {"id": job.id, "kind": job.kind, "status": job.status}
                if job.finished is not None:
                    row["result"] = job.result
                rows["jobs"][job.id] = row
        finally:
            self.db.execute("COMMIT")
        return upto, rows

    def job(self, job_id: str) -> Job | None:
        """One recorded job, or None if this id never reached the device."""
        found = [j for j in self.jobs() if j.id == job_id]
        return found[0] if found else None


def _with_status(event: Event, status: str) -> Event:
    return event if event.status == status else Event(**{**asdict(event), "status": status})
