"""The cloud's store (``system/adapters/cloud_store.py``): mirror sync applied once, jobs' states and history, credentials."""

from __future__ import annotations

import pytest

from system.adapters.cloud_store import CloudStore, SyncResult
from system.decisions.jobs_protocol import Refusal


def change(i, key="k", **payload):
    return {"id": i, "table": "events", "key": key, "payload": payload or {"title": f"t{i}"}}


@pytest.fixture
def store():
    s = CloudStore()
    s.add_device("pi", 0.0)
    return s


def test_changes_apply_in_order_and_a_replay_changes_nothing(store):
    assert store.apply_sync("pi", 0, 3, [change(1, title="a"), change(2, "j", title="b"), change(3, title="c")],
                            10.0).applied == 3
    before = store.mirror("pi")
    assert before == {"events": {"k": {"title": "c"}, "j": {"title": "b"}}}
    replay = store.apply_sync("pi", 0, 3, [change(1, title="a"), change(2, "j", title="b"), change(3, title="c")], 11.0)
    assert replay.applied == 3 and replay.resync is None
    assert store.mirror("pi") == before


def test_payloads_merge_and_none_deletes(store):
    store.apply_sync("pi", 0, 3, [change(1, title="a", start=1), change(2, ended=5), change(3, "x")], 1.0)
    assert store.mirror("pi")["events"]["k"] == {"title": "a", "start": 1, "ended": 5}
    store.apply_sync("pi", 3, 4, [{"id": 4, "table": "events", "key": "k", "payload": None}], 2.0)
    assert "k" not in store.mirror("pi")["events"]


@pytest.mark.parametrize("base, last, changes, reason", [
    (5, 7, [change(6), change(7)], "mirror_behind"),   # the mirror lost changes the device already dropped
    (0, 0, [], None),
])
def test_a_mirror_that_cannot_follow_asks_for_a_resync(store, base, last, changes, reason):
    assert store.apply_sync("pi", base, last, changes, 1.0).resync == reason


# the mirror holds changes 1..3; (base, last, change ids sent) -> (resync reason, mirror position after)
MIRROR_AT_3 = [
    (4, 5, [5], "mirror_behind", 3),      # one change short: change 4 left the device's outbox, the mirror lacks it
    (4, 4, [], "mirror_behind", 3),       # one short with nothing pending
    (5, 6, [6], "mirror_behind", 3),
    (3, 4, [4], None, 4),                 # equal: the mirror follows
    (3, 3, [], None, 3),
    (2, 4, [3, 4], None, 4),              # the device is behind the mirror's position: change 3 replays
]


@pytest.mark.parametrize("base, last, ids, reason, applied", MIRROR_AT_3)
def test_mirror_behind_rule_a_mirror_one_change_short_of_the_devices_base_asks_for_a_resync(
        store, base, last, ids, reason, applied):
    """Mirror-behind rule: a mirror whose position is below the device's acknowledged base, even by one
    change, has lost a change the device no longer holds and asks for a snapshot (``mirror_behind``,
    nothing applied); a mirror at the base or past it follows the batch."""
    assert store.apply_sync("pi", 0, 3, [change(1), change(2), change(3)], 1.0).applied == 3
    assert store.apply_sync("pi", base, last, [change(i) for i in ids], 2.0) == SyncResult(applied, reason)
    assert store.sync_state("pi")["applied"] == applied


def test_mirror_behind_rule_the_mirror_counts_the_changes_it_still_lacks():
    """Mirror-behind rule, as the dashboard shows it: a mirror one change short of the device's newest is
    1 behind; equal is 0 behind."""
    store = CloudStore()
    store.add_device("pi", 0.0)
    store.apply_sync("pi", 0, 5, [change(1), change(2), change(3), change(4)], 1.0)
    assert (store.sync_state("pi")["applied"], store.sync_state("pi")["behind"]) == (4, 1)
    store.apply_sync("pi", 4, 5, [change(5)], 2.0)
    assert (store.sync_state("pi")["applied"], store.sync_state("pi")["behind"]) == (5, 0)


def test_a_device_whose_store_was_replaced_gets_a_resync(store):
    store.apply_sync("pi", 0, 3, [change(1), change(2), change(3)], 1.0)
    assert store.apply_sync("pi", 0, 1, [change(1)], 2.0).resync == "mirror_ahead"


def test_a_gap_in_a_batch_is_refused_without_applying_the_rest(store):
    result = store.apply_sync("pi", 0, 3, [change(1, title="a"), change(3, title="c")], 1.0)
    assert result.resync == "gap" and result.applied == 1  # the part before the gap is in, its position kept
    assert store.sync_state("pi")["applied"] == 1


def test_a_snapshot_replaces_the_mirror_and_sets_the_position(store):
    store.apply_sync("pi", 0, 1, [change(1, "old")], 1.0)
    store.replace_mirror("pi", 40, {"events": {"new": {"title": "n"}}}, 2.0)
    assert store.mirror("pi") == {"events": {"new": {"title": "n"}}}
    assert store.sync_state("pi")["applied"] == 40 and store.sync_state("pi")["resyncs"] == 1
    assert store.apply_sync("pi", 40, 41, [change(41, "new", title="m")], 3.0).applied == 41


def test_jobs_move_through_the_aws_states_with_history(store):
    job = store.create_job("pi", {"operation": "createEvent"}, 1.0, timeout=60.0, created_by="ann")
    assert (job.status, job.version) == ("QUEUED", 1)
    started = store.start_next("pi", 2.0)
    assert (started.id, started.status, started.version) == (job.id, "IN_PROGRESS", 2)
    assert store.start_next("pi", 3.0).id == job.id  # in progress: delivered again, not a new one
    stale = store.update_job("pi", job.id, "SUCCEEDED", {}, 1, 4.0)
    assert isinstance(stale, Refusal) and stale.reason == "VersionMismatch"
    done = store.update_job("pi", job.id, "SUCCEEDED", {"event": "e"}, 2, 5.0)
    assert (done.status, done.version, done.details) == ("SUCCEEDED", 3, {"event": "e"})
    assert store.update_job("pi", job.id, "FAILED", {}, 3, 6.0).reason == "InvalidStateTransition"
    assert [h["status"] for h in store.history(job.id)] == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]
    assert store.start_next("pi", 7.0) is None


def test_a_device_cannot_update_another_devices_job(store):
    store.add_device("other", 0.0)
    job = store.create_job("pi", {"operation": "x"}, 1.0)
    assert store.update_job("other", job.id, "SUCCEEDED", {}, None, 2.0).reason == "ResourceNotFound"
    assert store.job(job.id).status == "QUEUED"


def test_jobs_in_progress_too_long_time_out_and_queued_ones_wait(store):
    a = store.create_job("pi", {"operation": "a"}, 0.0, timeout=60.0)
    b = store.create_job("pi", {"operation": "b"}, 0.0, timeout=60.0)
    store.start_next("pi", 10.0)
    assert store.time_out(69.0) == []
    assert [j.id for j in store.time_out(70.0)] == [a.id]
    assert store.job(a.id).status == "TIMED_OUT" and store.job(b.id).status == "QUEUED"
    assert store.time_out(10_000.0) == []  # a queued job never times out: it waits for the device


# a job queued at 0 with a time limit, started at ``started``: (limit, started, now) -> timed out at ``now``?
TIME_LIMITS = [
    (60.0, 10.0, 69.0, False),     # one second before the limit
    (60.0, 10.0, 70.0, True),      # at the limit: past its time
    (60.0, 500.0, 559.0, False),   # the limit counts from the start, not from the queueing
    (60.0, 500.0, 560.0, True),
    (3600.0, 0.0, 3599.0, False),
    (3600.0, 0.0, 3600.0, True),
    (3600.0, 0.0, 86_400.0, True),
]


@pytest.mark.parametrize("limit, started, now, timed_out", TIME_LIMITS)
def test_time_limit_rule_a_job_in_progress_past_its_limit_is_timed_out_and_one_second_before_it_is_not(
        store, limit, started, now, timed_out):
    """Time limit rule: a job IN_PROGRESS since ``started`` becomes TIMED_OUT once ``started + limit`` is
    reached, not a second before; the history notes the limit."""
    job = store.create_job("pi", {"operation": "a"}, 0.0, timeout=limit)
    store.start_next("pi", started)
    assert [j.id for j in store.time_out(now)] == ([job.id] if timed_out else [])
    assert store.job(job.id).status == ("TIMED_OUT" if timed_out else "IN_PROGRESS")
    if timed_out:
        assert store.history(job.id)[-1] == {"at": now, "status": "TIMED_OUT", "version": 3,
                                             "details": {"after": limit}}


def test_time_limit_rule_a_job_that_ended_in_time_never_times_out(store):
    """Time limit rule: a job the device ended before its limit keeps its outcome after the limit."""
    job = store.create_job("pi", {"operation": "a"}, 0.0, timeout=60.0)
    store.start_next("pi", 10.0)
    store.update_job("pi", job.id, "SUCCEEDED", {}, None, 69.0)
    assert store.time_out(1e9) == [] and store.job(job.id).status == "SUCCEEDED"


def test_pending_jobs_are_listed_first(store):
    ids = [store.create_job("pi", {"operation": str(i)}, float(i)).id for i in range(3)]
    store.start_next("pi", 5.0)
    store.update_job("pi", ids[0], "SUCCEEDED", {}, None, 6.0)
    assert [j.id for j in store.jobs("pi")] == [ids[1], ids[2], ids[0]]


def test_device_tokens_identify_their_device_only(store):
    token = store.add_device("cam", 0.0)
    assert store.device_for_token(token) == "cam"
    assert store.device_for_token(token + "x") is None
    assert store.device_for_token("pi." + token.partition(".")[2]) is None
    fresh = store.add_device("cam", 1.0)
    assert store.device_for_token(token) is None and store.device_for_token(fresh) == "cam"


def test_users_check_passwords():
    s = CloudStore()
    s.add_user("ann", "correct horse", time_cost=1, memory_cost=1024)
    assert s.check_user("ann", "correct horse")
    assert not s.check_user("ann", "wrong") and not s.check_user("bob", "correct horse")
    with pytest.raises(ValueError):
        s.add_user("ann", "short")


def test_alarm_changes_are_kept_with_history(store):
    assert store.set_alarm("pi", True, 10.0, "missing")
    assert not store.set_alarm("pi", True, 11.0, "still missing")
    assert store.set_alarm("pi", False, 12.0, "back")
    alarm = store.alarm("pi")
    assert not alarm["raised"] and [h["state"] for h in alarm["history"]] == ["cleared", "raised"]


def test_logs_filter_by_time_and_kind_and_count_drops(store):
    store.add_logs("pi", [{"at": 1.0, "kind": "job.succeeded", "line": "a"},
                          {"at": 2.0, "kind": "sync.pushed", "line": "b"},
                          {"at": 3.0, "kind": "job.rejected", "line": "c"}], dropped=4)
    store.add_logs("pi", [], dropped=2)
    assert [ln["line"] for ln in store.logs("pi", kind="job.")["lines"]] == ["c", "a"]
    assert [ln["line"] for ln in store.logs("pi", since=1.5, until=2.5)["lines"]] == ["b"]
    assert store.logs("pi")["dropped"] == 6


def test_the_store_survives_a_restart(tmp_path):
    path = str(tmp_path / "cloud.sqlite")
    s = CloudStore(path)
    s.add_device("pi", 0.0)
    s.apply_sync("pi", 0, 1, [change(1)], 1.0)
    secret = s.secret("session")
    s.close()
    again = CloudStore(path)
    assert again.mirror("pi") == {"events": {"k": {"title": "t1"}}}
    assert again.secret("session") == secret  # sessions stay valid across a restart
