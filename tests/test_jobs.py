"""Job documents and execution states (``system/decisions/jobs_protocol.py``): what is refused and why."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from job_documents import VALID, malformed_documents
from system.decisions.jobs_protocol import (CANCELED, FAILED, IN_PROGRESS, QUEUED, REJECTED, SUCCEEDED, TERMINAL, TIMED_OUT,
                                   Command, Refusal, check_update, validate_job)


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
