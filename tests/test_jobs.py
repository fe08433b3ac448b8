"""Job documents and execution states (``system/decisions/jobs_protocol.py``): what is refused and why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from job_documents import FIELDS, FLAG, NUMBER, OPTIONAL_FIELDS, REQUIRED_FIELDS, TEXT, VALID, malformed_documents
from system.adapters.cloud_store import CloudStore
from system.decisions.jobs_protocol import (CANCELED, FAILED, IN_PROGRESS, QUEUED, REJECTED, SUCCEEDED, TERMINAL, TIMED_OUT,
                                   OPERATIONS, STATES, Command, Refusal, check_update, validate_job)


@pytest.mark.parametrize("op", sorted(VALID))
def test_every_operation_has_a_valid_example(op):
    verdict = validate_job(VALID[op])
    assert isinstance(verdict, Command) and verdict.operation == op


def test_numbers_become_floats_and_only_known_fields_pass():
    verdict = validate_job({"operation": "createEvent", "title": "Concert", "start": 5})
    assert verdict.fields == {"title": "Concert", "start": 5.0}


@pytest.mark.parametrize("doc, reason", [
    ({"operation": "snoozeAlert"}, "missing_field"),
    ({"operation": "snoozeAlert", "local_alert_id": 31}, "wrong_type"),
    ({"operation": "createEvent", "title": "x", "start": True}, "wrong_type"),
    ({"operation": "createEvent", "title": "x", "start": float("inf")}, "bad_value"),
    ({"operation": "createEvent", "title": "x", "start": 1, "kind": "party"}, "bad_value"),
    ({"operation": "reboot"}, "unknown_operation"),
    ({"operation": "snoozeAlert", "local_alert_id": "a", "sudo": 1}, "unknown_field"),
    ({"operation": "snoozeAlert", "local_alert_id": "a", "until": 5, "for_seconds": 5}, "bad_value"),
    ({"operation": "createAlert", "event_key": "g1", "before": -1}, "bad_value"),
    ({"operation": "updateAlert", "local_alert_id": "a"}, "missing_field"),
    ({**VALID["updateApplication"], "sha256": "ABC"}, "bad_value"),
    ({**VALID["updateApplication"], "url": "ftp://x"}, "bad_value"),
    ([1, 2], "not_an_object"),
])
def test_refusals_name_their_reason(doc, reason):
    verdict = validate_job(doc)
    assert isinstance(verdict, Refusal) and verdict.reason == reason and verdict.detail


def test_references_are_checked_against_what_the_device_knows():
    doc = VALID["snoozeAlert"]
    assert validate_job(doc, alerts={"other"}).reason == "unknown_alert"
    assert validate_job(doc, alerts={doc["local_alert_id"]}).ok
    assert validate_job(VALID["createAlert"], events=set()).reason == "unknown_event"
    assert validate_job(VALID["createAlert"], events={"g1"}).ok


@settings(max_examples=1000, deadline=None)
@given(malformed_documents)
def test_malformed_documents_are_refused_with_a_reason(doc):
    verdict = validate_job(doc)
    assert isinstance(verdict, Refusal)
    assert verdict.reason in {"not_an_object", "unknown_operation", "unknown_field", "missing_field", "wrong_type",
                              "bad_value"}


def test_execution_states_follow_the_aws_jobs_rules():
    assert check_update(IN_PROGRESS, 2, SUCCEEDED, 2) is None
    assert check_update(QUEUED, 1, REJECTED, None) is None
    assert check_update(IN_PROGRESS, 3, SUCCEEDED, 2).reason == "VersionMismatch"
    for state in TERMINAL:
        assert check_update(state, 5, SUCCEEDED, None).reason == "InvalidStateTransition"
    for cloud_only in (TIMED_OUT, CANCELED, QUEUED, "DONE", 3):
        assert check_update(IN_PROGRESS, 2, cloud_only, 2).reason == "InvalidRequest"
    assert check_update(IN_PROGRESS, 2, FAILED, True).reason == "InvalidRequest"


# -- the protocol's rules against tables written out here, never read from the implementation ---------------

# a document with exactly the required fields (updateAlert also needs one of 'before' or 'duration')
MINIMAL = {
    "snoozeAlert": {"operation": "snoozeAlert", "local_alert_id": "g1/policy/14400"},
    "updateAlert": {"operation": "updateAlert", "local_alert_id": "g1/policy/14400", "duration": 300},
    "createEvent": {"operation": "createEvent", "title": "Concert", "start": 1_800_000_000},
    "createAlert": {"operation": "createAlert", "event_key": "g1", "before": 3600},
    "updateApplication": {"operation": "updateApplication", "version": "1.2.3", "url": "https://example.org/a.whl",
                          "sha256": "0" * 64},
}
# a valid value of each optional field, added to the minimal document one at a time
OPTIONAL_VALUES = {"until": 1_800_000_000, "for_seconds": 600, "event_title": "KAA Gent - Club Brugge",
                   "before": 7200, "duration": 300, "kind": "game", "signature": "c2lnbmF0dXJl",
                   "allow_downgrade": True}
# values of the wrong JSON type for a field of each type
WRONG_TYPES = {NUMBER: ["5", True, False, None, [1], {"seconds": 1}],
               TEXT: [5, 1.5, True, None, ["g1"], {"id": "g1"}],
               FLAG: [1, 0, "true", None, [True], {"yes": True}]}


def test_required_fields_rule_the_tables_name_every_operation():
    """Required fields rule: the suite's tables cover exactly the operations the protocol knows, and the
    minimal documents are accepted."""
    assert sorted(REQUIRED_FIELDS) == sorted(OPTIONAL_FIELDS) == sorted(MINIMAL) == sorted(OPERATIONS)
    for op, doc in MINIMAL.items():
        assert validate_job(doc).ok, op


@pytest.mark.parametrize("op, field", [(op, f) for op, fields in REQUIRED_FIELDS.items() for f in fields])
def test_required_fields_rule_a_document_without_one_of_its_required_fields_is_refused(op, field):
    """Required fields rule: each operation's required fields (the hand-written table) are each refused when
    missing, as ``missing_field`` naming the field."""
    doc = {k: v for k, v in MINIMAL[op].items() if k != field}
    verdict = validate_job(doc)
    assert isinstance(verdict, Refusal) and verdict.reason == "missing_field" and repr(field) in verdict.detail


@pytest.mark.parametrize("op, field", [(op, f) for op, fields in OPTIONAL_FIELDS.items() for f in fields])
def test_required_fields_rule_an_optional_field_may_be_left_out_or_given(op, field):
    """Required fields rule, the other side: an optional field is neither required nor refused."""
    with_it = {**MINIMAL[op], field: OPTIONAL_VALUES[field]}
    without = {k: v for k, v in with_it.items() if k != field}
    if op == "updateAlert" and field == "duration":
        without["before"] = 60  # updateAlert changes 'before' or 'duration': one of them stays
    assert validate_job(with_it).ok and validate_job(without).ok


@pytest.mark.parametrize("op, field, kind", [(op, f, kind) for op, fields in FIELDS.items()
                                             for f, kind in fields.items()])
def test_field_types_rule_a_field_of_the_wrong_type_is_refused(op, field, kind):
    """Field types rule: each field of each operation (the hand-written table) refuses every value of
    another JSON type as ``wrong_type`` (a boolean is not a number)."""
    base = {**MINIMAL[op], field: OPTIONAL_VALUES.get(field, MINIMAL[op].get(field))}
    for value in WRONG_TYPES[kind]:
        verdict = validate_job({**base, field: value})
        assert isinstance(verdict, Refusal) and verdict.reason == "wrong_type", (field, value, verdict)


@pytest.mark.parametrize("op", sorted(MINIMAL))
def test_required_fields_rule_a_field_outside_the_table_is_refused(op):
    """Required fields rule: a field the hand-written tables do not list for the operation is refused."""
    others = {f for fields in FIELDS.values() for f in fields} - set(FIELDS[op])
    for field in sorted(others) + ["timeout", "sudo"]:
        value = OPTIONAL_VALUES.get(field, "x")
        assert validate_job({**MINIMAL[op], field: value}).reason == "unknown_field", field


# The AWS IoT Jobs execution states as this project uses them (the AWS IoT Core developer guide, "Jobs and
# job execution states", and the module's rules): QUEUED until the device's start-next (or a user's cancel;
# a device may also refuse or fail a job it has not started); IN_PROGRESS until the device ends it (it may
# report progress, staying IN_PROGRESS), the cloud times it out or a user cancels it; the rest are terminal.
LEGAL = {
    ("QUEUED", "IN_PROGRESS"), ("QUEUED", "REJECTED"), ("QUEUED", "FAILED"), ("QUEUED", "CANCELED"),
    ("IN_PROGRESS", "IN_PROGRESS"), ("IN_PROGRESS", "SUCCEEDED"), ("IN_PROGRESS", "FAILED"),
    ("IN_PROGRESS", "REJECTED"), ("IN_PROGRESS", "TIMED_OUT"), ("IN_PROGRESS", "CANCELED"),
}
ALL_STATES = ("QUEUED", "IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED", "TIMED_OUT", "CANCELED")
BY_DEVICE = ("IN_PROGRESS", "SUCCEEDED", "FAILED", "REJECTED")  # TIMED_OUT: the cloud; CANCELED: a user
EVERY_PAIR = [(a, b) for a in ALL_STATES for b in ALL_STATES]


def test_state_table_rule_names_the_aws_states():
    """State table rule: the protocol's states, terminal states and device-reported states are AWS's."""
    assert sorted(STATES) == sorted(ALL_STATES)
    assert sorted(TERMINAL) == ["CANCELED", "FAILED", "REJECTED", "SUCCEEDED", "TIMED_OUT"]


@pytest.mark.parametrize("before, after", EVERY_PAIR)
def test_state_table_rule_a_device_update_moves_only_along_a_legal_transition(before, after):
    """State table rule, every pair: a device's update is accepted only along a legal transition it may make
    (QUEUED straight to SUCCEEDED is refused); TIMED_OUT, CANCELED and QUEUED are never the device's to
    report."""
    verdict = check_update(before, 4, after, 4)
    if after not in BY_DEVICE:
        assert verdict is not None and verdict.reason == "InvalidRequest"
    elif (before, after) in LEGAL:
        assert verdict is None
    else:
        assert verdict is not None and verdict.reason == "InvalidStateTransition"


def _job_in(store: CloudStore, state: str) -> str:
    """A job brought to ``state`` along legal steps only (times: queued at 0, started at 10, timeout 60)."""
    job = store.create_job("pi", MINIMAL["createEvent"], 0.0, timeout=60.0, created_by="ann").id
    if state == "CANCELED":
        store.cancel_job("pi", job, 5.0, "ann")
    elif state != "QUEUED":
        store.start_next("pi", 10.0)
    if state == "TIMED_OUT":
        store.time_out(70.0)
    elif state in ("SUCCEEDED", "FAILED", "REJECTED"):
        store.update_job("pi", job, state, {}, None, 20.0)
    assert store.job(job).status == state
    return job


@pytest.mark.parametrize("before, after", EVERY_PAIR)
def test_state_table_rule_the_cloud_store_moves_a_job_only_along_a_legal_transition(before, after):
    """State table rule, every pair, through the cloud's store: each actor's way to ``after`` (the device's
    update, a user's cancel, the timeout sweep) moves a job in ``before`` exactly when the transition is
    legal; a refused move changes neither the state, nor the version, nor the history."""
    store = CloudStore()
    store.add_device("pi", 0.0)
    job = _job_in(store, before)
    version, history = store.job(job).version, store.history(job)
    if after == "CANCELED":
        store.cancel_job("pi", job, 30.0, "ann")
    elif after == "TIMED_OUT":
        store.time_out(1e9)
    else:
        store.update_job("pi", job, after, {}, None, 30.0)
    moved = store.job(job)
    if (before, after) in LEGAL:
        assert (moved.status, moved.version) == (after, version + 1)
        assert [h["status"] for h in store.history(job)] == [h["status"] for h in history] + [after]
    else:
        assert (moved.status, moved.version, store.history(job)) == (before, version, history)
