"""The controller's SQLite store: migrations, WAL durability, outbox order, reconciliation, SIGKILL safety."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field, replace

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from system.decisions.alerts import Snooze
from system.errors import ConfigError, RefusedInput
from system.decisions.events import CANCELLED, CUSTOM, GAME, SCHEDULED, Alert, AlertRule, Event
from system.services.metrics import Metrics
from system.adapters.controller_store import MIGRATIONS, SCHEMA_VERSION, Store


def game(key, start=1_774_000_000.0, **kw):
    return Event(key=key, kind=GAME, title=f"KAA Gent - {key}", start=start, home="KAA Gent", away=key, **kw)


@dataclass
class Rec:
    """A reconciliation as the scraper hands it over (duck-typed)."""

    added: list = field(default_factory=list)
    rescheduled: list = field(default_factory=list)
    cancelled: list = field(default_factory=list)
    reinstated: list = field(default_factory=list)


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "controller.db")


def test_fresh_file_is_migrated_to_the_latest_schema_in_wal_mode(path):
    store = Store(path)
    assert store.migrated_from == 0 and store.schema_version() == SCHEMA_VERSION
    assert store.journal_mode() == "wal"
    assert store.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()
    again = Store(path)
    assert again.migrated_from == SCHEMA_VERSION  # nothing left to do


def test_v1_file_with_data_is_upgraded_and_its_events_queued_for_sync(path):
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + "\nPRAGMA user_version = 1;")
    db.execute("INSERT INTO events (key, kind, title, start, status) VALUES ('g1', 'game', 'A - B', 100.0, 'scheduled')")
    db.execute("INSERT INTO alert_log VALUES ('g1/policy/14400', -14300.0, 'g1', 600.0, 'fired', 1.0, NULL)")
    db.commit()
    db.close()
    store = Store(path)
    assert store.migrated_from == 1 and store.schema_version() == SCHEMA_VERSION
    assert [e.key for e in store.stored_events()] == ["g1"]
    assert store.settled() == {("g1/policy/14400", -14300.0)}
    [change] = store.outbox_pending()
    assert (change.table, change.key, change.payload["title"]) == ("events", "g1", "A - B")


def test_a_file_from_newer_code_is_refused(path):
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match=re.escape(f"{path}: controller store schema v{SCHEMA_VERSION + 1} is newer "
                                                    f"than this hilsim's (v{SCHEMA_VERSION})")) as err:
        Store(path)
    assert err.value.source == str(path)


def test_apply_reconciliation_counts_and_outbox_keeps_commit_order(path):
    metrics = Metrics()
    store = Store(path, metrics=metrics)
    woke = []
    store.on_change(lambda: woke.append(1))
    a, b, c = game("a"), game("b"), game("c")
    store.apply(Rec(added=[a, b, c]))
    moved = replace(b, start=b.start + 3600)
    result = store.apply(Rec(rescheduled=[(b, moved)], cancelled=[c]))
    assert (result.updated, result.cancelled) == (1, 1)
    store.apply(Rec(reinstated=[c]))
    assert store.apply(Rec()).added == 0
    assert store.stored_events() == [a, c, moved]
    snap = metrics.snapshot()
    assert (snap["events_added"], snap["events_updated"], snap["events_cancelled"]) == (3, 2, 1)
    assert len(woke) == 3  # one wake-up per committed apply, none for an empty one
    changes = store.outbox_pending()
    assert [(ch.key, ch.payload["status"]) for ch in changes] == [
        ("a", SCHEDULED), ("b", SCHEDULED), ("c", SCHEDULED), ("b", SCHEDULED), ("c", CANCELLED), ("c", SCHEDULED)]
    ids = [ch.id for ch in changes]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert store.outbox_ack(ids[2]) == 3
    assert [ch.id for ch in store.outbox_pending()] == ids[3:]
    assert [ch.id for ch in store.outbox_pending(limit=2)] == ids[3:5]
    store.outbox_ack(ids[-1])
    store.put_event(game("d"))  # ids keep increasing after everything was acknowledged
    assert store.outbox_pending()[0].id > ids[-1]


def test_fired_log_settles_each_alert_once_and_survives_reopening(path):
    store = Store(path)
    alert = Alert("g1/policy/14400", "g1", 1000.0, 600.0)
    assert store.record_fired(alert, 1000.0) is True
    assert store.record_fired(alert, 1001.0) is False
    assert store.record_skipped(alert, "missed", 1002.0) is False
    assert [e.alert_id for e in store.open_firings()] == [alert.id]
    assert store.record_ended(alert.id, alert.at, 1600.0) is True
    assert store.record_ended(alert.id, alert.at, 1601.0) is False
    moved = replace(alert, at=5000.0)  # same id, rescheduled: a new firing
    assert store.record_fired(moved, 5000.0) is True
    store.close()
    again = Store(path)
    assert again.settled() == {(alert.id, 1000.0), (alert.id, 5000.0)}
    assert [e.alert_id for e in again.open_firings()] == [alert.id] and again.open_firings()[0].at == 5000.0


def test_extras_snoozes_policies_jobs_round_trip(path):
    store = Store(path)
    store.put_event(game("g1"))
    store.add_extra("g1", 5 * 3600, 300)
    with pytest.raises(RefusedInput):
        store.add_extra("nope", 60)
    assert store.extras() == {"g1": (AlertRule(5 * 3600.0, 300.0, "extra"),)}
    store.add_snooze(Snooze("g1/policy/14400", 10.0, 20.0))
    assert store.snoozes() == [Snooze("g1/policy/14400", 10.0, 20.0)]
    store.set_policy("custom", [AlertRule(3600.0, 60.0)])
    pol = store.policies({"game": (AlertRule(1.0),)})
    assert pol == {"game": (AlertRule(1.0),), "custom": (AlertRule(3600.0, 60.0),)}
    assert store.add_job("j1", "snoozeAlert", {"alertId": "x"}, 5.0) is True
    assert store.add_job("j1", "snoozeAlert", {"alertId": "x"}, 6.0) is False
    store.finish_job("j1", "succeeded", {"ok": True}, 7.0)
    [job] = store.jobs()
    assert (job.status, job.result, job.document) == ("succeeded", {"ok": True}, {"alertId": "x"})
    e1 = store.create_event("Concert", 2000.0)
    assert store.create_event("Concert", 2000.0) == e1 and e1.key.startswith("custom:")
    with pytest.raises(RefusedInput):
        store.create_event("  ", 2000.0)


CHILD = textwrap.dedent("""
    import sys
    from system.decisions.events import Event
    from system.adapters.controller_store import Store
    store = Store(sys.argv[1])
    i = 0
    while True:
        store.put_event(Event(key=f"k{i}", kind="game", title="t" * 200, start=float(i)))
        print(i, flush=True)  # reported only after the commit returned
        i += 1
""")


def test_sigkilled_writer_loses_no_committed_change(path):
    """A real child process writes and is SIGKILLed mid-stream; every change it reported is there."""
    child = subprocess.Popen([sys.executable, "-c", CHILD, path], stdout=subprocess.PIPE, text=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    reported = []
    try:
        for line in child.stdout:
            reported.append(int(line))
            if len(reported) == 40:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    store = Store(path)
    keys = {e.key for e in store.stored_events()}
    assert {f"k{i}" for i in reported} <= keys
    # and cloud sync still has each of them queued: the outbox row was in the same transaction
    assert {ch.key for ch in store.outbox_pending(limit=10**6)} == keys
    assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


# -- stateful: the store against a dict model, including close/reopen -----------------

def replay(mirror: dict, changes) -> dict:
    """A cloud mirror applying outbox rows in order: a row's payload updates it, ``None`` deletes it."""
    for ch in changes:
        if ch.payload is None:
            mirror.pop((ch.table, ch.key), None)
        else:
            mirror[(ch.table, ch.key)] = {**mirror.get((ch.table, ch.key), {}), **ch.payload}
    return mirror


class StoreMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "s.db")
        self.store = Store(self.path)
        self.events: dict[str, Event] = {}
        self.fired: set = set()
        self.changes = 0
        self.acked = 0
        self.cloud: dict[tuple[str, str], dict] = {}  # what cloud sync has copied so far

    keys = st.sampled_from(["a", "b", "c", "d"])

    @rule(key=keys, start=st.integers(0, 10**6))
    def add(self, key, start):
        e = game(key, float(start))
        self.store.apply(Rec(added=[e]))
        self.events[key] = e
        self.changes += 1

    @precondition(lambda self: self.events)
    @rule(data=st.data(), delta=st.integers(-10**5, 10**5))
    def reschedule(self, data, delta):
        old = self.events[data.draw(st.sampled_from(sorted(self.events)))]
        new = replace(old, start=old.start + delta)
        self.store.apply(Rec(rescheduled=[(old, new)]))
        self.events[old.key] = new
        self.changes += 1

    @precondition(lambda self: self.events)
    @rule(data=st.data(), back=st.booleans())
    def cancel_or_reinstate(self, data, back):
        e = self.events[data.draw(st.sampled_from(sorted(self.events)))]
        if back:
            self.store.apply(Rec(reinstated=[e]))
            self.events[e.key] = replace(e, status=SCHEDULED)
        else:
            self.store.apply(Rec(cancelled=[e]))
            self.events[e.key] = replace(e, status=CANCELLED)
        self.changes += 1

    @rule(key=keys, at=st.integers(0, 5))
    def fire(self, key, at):
        new = self.store.record_fired(Alert(f"{key}/policy/1", key, float(at), 60.0), 0.0)
        assert new == ((f"{key}/policy/1", float(at)) not in self.fired)
        self.fired.add((f"{key}/policy/1", float(at)))
        self.changes += new

    @rule()
    def reopen(self):
        self.store.close()
        self.store = Store(self.path)

    @rule(batch=st.integers(1, 5))
    def cloud_syncs_a_batch(self, batch):
        changes = self.store.outbox_pending(limit=batch)
        if changes:
            replay(self.cloud, changes)
            assert self.store.outbox_ack(changes[-1].id) == len(changes)
            self.acked += len(changes)

    @invariant()
    def matches_model(self):
        assert {e.key: e for e in self.store.stored_events()} == self.events
        assert self.store.settled() == self.fired
        pending = self.store.outbox_pending(limit=10**6)
        assert len(pending) == self.changes - self.acked
        # the cloud's copy plus what is still queued rebuilds the store: nothing missed, nothing reordered
        mirror = replay(dict(self.cloud), pending)
        assert {k: Event(**v) for (t, k), v in mirror.items() if t == "events"} == self.events
        assert {(v["alert_id"], v["at"]) for (t, _), v in mirror.items() if t == "alert_log"} == self.fired

    def teardown(self):
        self.store.close()
        self.dir.cleanup()


TestStoreStateful = StoreMachine.TestCase
TestStoreStateful.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)


def test_an_empty_policy_means_no_alerts_and_survives_reopening(path):
    from system.decisions.alerts import DEFAULT_POLICIES, alerts_for

    store = Store(path)
    store.set_policy(CUSTOM, [])
    store.put_event(Event(key="c1", kind=CUSTOM, title="Party", start=10_000.0))
    store.close()
    again = Store(path)
    policies = again.policies(DEFAULT_POLICIES)
    assert policies[CUSTOM] == () and policies[GAME] == DEFAULT_POLICIES[GAME]
    assert alerts_for(again.stored_events(), policies) == []


def test_a_v2_file_keeps_its_stored_policies_through_the_v3_migration(path):
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0] + MIGRATIONS[1] + "\nPRAGMA user_version = 2;")
    db.execute("INSERT INTO policies VALUES ('game', 7200.0, 300.0)")
    db.commit()
    db.close()
    from system.decisions.alerts import DEFAULT_POLICIES

    store = Store(path)
    assert store.migrated_from == 2
    assert store.policies(DEFAULT_POLICIES)[GAME] == (AlertRule(7200.0, 300.0),)
    assert store.policies(DEFAULT_POLICIES)[CUSTOM] == DEFAULT_POLICIES[CUSTOM]
