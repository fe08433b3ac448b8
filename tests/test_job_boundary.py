"""Every job in its own error boundary (``system/services/job_agent.py``) and one check of a job document
(``system/decisions/jobs_protocol.py``) at the cloud's API and on the device.

The agent is driven message by message through ``JobAgent.handle`` with a fake MQTT port that behaves like
paho for a publish (a topic holding a wildcard raises ``ValueError``); the cloud's side is the real app over
httpx's ASGI transport.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud_fixtures import logged_in, make_cloud
from sim.kernel.runtime import SimRuntime
from system.adapters.controller_store import Store
from system.decisions.events import Event
from system.decisions.jobs_protocol import Command, ThingTopics, check_job_id, validate_job
from system.mqtt.message import Message
from system.services.job_agent import JobAgent
from system.services.scheduler import Scheduler
from system.trace import Trace

START = 1_800_000_000.0
GAME = Event(key="g1", kind="game", title="KAA Gent - Club Brugge", start=START + 5 * 3600)
FIRST = "g1/policy/14400"  # lit from START + 3600 for 10 minutes
TOPICS = ThingTopics.of("hil/", "pi")
POISON = "\udc80"  # a lone UTF-16 surrogate: valid JSON ("\\udc80"), not encodable as UTF-8
# What AWS IoT allows in a job id, written out here rather than taken from the code under test.
SAFE_ID = set(string.ascii_letters + string.digits + "_-")


class PahoLikeMqtt:
    """The MQTT port's publish as paho does it: a wildcard in the topic raises."""

    def __init__(self):
        self.published: list[tuple[str, dict]] = []

    async def publish(self, topic, payload, qos=0, retain=False):
        if "+" in topic or "#" in topic:
            raise ValueError("Publish topic cannot contain wildcards.")
        self.published.append((topic, json.loads(payload)))


class Relay:
    state = False

    async def on(self):
        self.state = True

    async def off(self):
        self.state = False


class Device:
    """The agent with a real store and scheduler, a fake MQTT port and a trace kept in memory."""

    def __init__(self, now: float = START + 3600):
        self.trace = Trace({"test": "job-boundary"})
        self.rt = SimRuntime(seed=1, start=now, trace=self.trace)
        self.store = Store(":memory:")
        self.store.put_event(GAME)
        self.mqtt = PahoLikeMqtt()
        self.agent = JobAgent(self.rt, self.mqtt, "pi", self.store, Scheduler(self.rt, self.store, Relay()),
                              prefix="hil/")

    def hand_over(self, job_id, document, *, retain: bool = False) -> None:
        """The cloud's ``start-next/accepted`` with this execution, as raw JSON (surrogates escaped)."""
        body = {"execution": {"jobId": job_id, "versionNumber": 2, "jobDocument": document}}
        _finish(self.agent.handle(Message(TOPICS.start_accepted, json.dumps(body).encode(), 1, retain)))

    def reports(self) -> list[tuple[str, str, str]]:
        """(job id, status, reason) of every update published."""
        return [(topic.split("/")[-2], body["status"], body["statusDetails"].get("reason", ""))
                for topic, body in self.mqtt.published if topic.endswith("/update")]

    def kinds(self, kind: str) -> list[dict]:
        return [r for r in self.trace.records if r["kind"] == kind]


def _finish(coro):
    """Run a coroutine that awaits nothing real (the fake port completes at once)."""
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("the coroutine waited on something")


SNOOZE = {"operation": "snoozeAlert", "local_alert_id": FIRST}


def test_a_title_with_a_lone_surrogate_is_rejected_on_the_device_and_the_next_job_runs():
    device = Device()
    device.hand_over("job-a", {"operation": "createEvent", "title": "Concert" + POISON, "start": START + 86400})
    device.hand_over("job-b", SNOOZE)
    assert device.reports() == [("job-a", "REJECTED", "bad_value"), ("job-b", "SUCCEEDED", "")]
    assert [e.key for e in device.store.stored_events()] == ["g1"]
    assert device.store.job("job-a").status == "rejected" and len(device.store.snoozes()) == 1


def test_the_store_refusing_a_value_fails_that_job_only(monkeypatch):
    """The crash of the report: with the check bypassed, the title reaches SQLite, which raises
    UnicodeEncodeError; the job ends FAILED with that reason, and the agent goes on."""
    def lenient(document, **_):
        return Command(document["operation"], {k: v for k, v in document.items() if k != "operation"})
    monkeypatch.setattr("system.services.job_agent.validate_job", lenient)
    device = Device()
    device.hand_over("job-a", {"operation": "createEvent", "title": POISON, "start": START + 86400})
    device.hand_over("job-b", SNOOZE)
    assert device.reports() == [("job-a", "FAILED", "internal_error"), ("job-b", "SUCCEEDED", "")]
    (failed,) = device.kinds("job.failed")
    assert failed["job"] == "job-a" and failed["error"].startswith("UnicodeEncodeError")
    assert device.store.job("job-a").status == "failed"
    device.agent.connected()  # its report lost with the connection, the cloud hands it over again
    device.hand_over("job-a", {"operation": "createEvent", "title": POISON, "start": START + 86400})
    assert device.reports()[-1] == ("job-a", "FAILED", "internal_error")  # delivered again: not run again
    assert device.agent.executed == ["job-b"]


def test_an_exception_inside_an_operation_fails_that_job_and_the_agent_goes_on(monkeypatch):
    device = Device()

    def broken(*args, **kwargs):
        raise KeyError("a bug in the scheduler")
    monkeypatch.setattr(device.agent.scheduler, "create_event", broken)
    device.hand_over("job-a", {"operation": "createEvent", "title": "Concert", "start": START + 86400})
    device.hand_over("job-b", SNOOZE)
    assert device.reports() == [("job-a", "FAILED", "internal_error"), ("job-b", "SUCCEEDED", "")]
    assert [e.key for e in device.store.stored_events()] == ["g1"]  # the failed job's transaction rolled back


def test_a_failure_to_record_the_failure_is_still_reported(monkeypatch):
    device = Device()

    def full(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(device.store, "add_job", full)
    device.hand_over("job-a", SNOOZE)
    assert device.reports() == [("job-a", "FAILED", "internal_error")]
    assert [r["job"] for r in device.kinds("job.unrecorded")] == ["job-a"]


@pytest.mark.parametrize("job_id", ["pi-#", "#", "+", "pi/1", "a+b", "", "x" * 65, POISON, "sp ace", 7, None,
                                    ["pi-1"]])
def test_an_execution_whose_id_is_no_safe_topic_level_is_skipped_with_a_trace_line(job_id):
    device = Device()
    device.hand_over(job_id, SNOOZE)
    assert device.mqtt.published == [] and device.store.snoozes() == []
    (skipped,) = device.kinds("job.skipped")
    assert skipped["reason"] == "bad_job_id"
    device.hand_over("job-b", SNOOZE)
    assert device.reports() == [("job-b", "SUCCEEDED", "")]


def test_a_retained_start_next_answer_is_skipped_because_the_cloud_never_retains_one():
    device = Device()
    device.hand_over("planted", SNOOZE, retain=True)
    assert device.mqtt.published == [] and device.store.snoozes() == [] and device.agent.executed == []
    assert [(r["job"], r["reason"]) for r in device.kinds("job.skipped")] == [("'planted'", "retained")]


@pytest.mark.parametrize("job_id, ok", [
    ("pi-1", True), ("01ARYZ6S41TSV4RRFFQ69G5FAV", True), ("a_b-C9", True), ("x" * 64, True),
    ("x" * 65, False), ("", False), ("pi/1", False), ("pi-+", False), ("pi-#", False), ("é", False),
    ("pi 1", False), ("pi.1", False), (POISON, False), (1, False), (None, False),
])
def test_job_ids_are_1_to_64_of_the_aws_alphabet(job_id, ok):
    assert (check_job_id(job_id) is None) is ok
    if job_id is not None:  # None: validate_job was given no id to check
        assert (validate_job(SNOOZE, job_id=job_id).ok) is ok


@given(st.text(max_size=70))
def test_an_accepted_job_id_is_one_topic_level_without_wildcards(job_id):
    accepted = check_job_id(job_id) is None
    assert accepted == (1 <= len(job_id) <= 64 and set(job_id) <= SAFE_ID)
    if accepted:
        assert TOPICS.update(job_id).split("/") == ["hil", "things", "pi", "jobs", job_id, "update"]


@pytest.mark.parametrize("bad", [POISON, "\ud800", "a\x00b", "tab\there", "line\nbreak", "del\x7f", "c1\x85",
                                 "\x9f"])
def test_text_with_a_control_character_or_a_lone_surrogate_is_refused(bad):
    document = {"operation": "createEvent", "title": bad, "start": START}
    assert validate_job(document).reason == "bad_value"
    good = {"operation": "createEvent", "title": "Gent – Brugge ⚽ 😀", "start": START}
    assert validate_job(good).ok


# -- the property: whatever the cloud accepts, the device executes or rejects, and never raises -------------

_awkward = st.sampled_from([POISON, "\ud83d", "\x00", "\n", "\x85", "#", "+", "/", " ", "g1", FIRST, "😀"])
_text = st.one_of(st.text(st.characters(codec=None, exclude_categories=()), max_size=12),
                  st.lists(st.one_of(_awkward, st.text(max_size=3)), max_size=4).map("".join))
_number = st.one_of(st.integers(-10**13, 10**13), st.floats(allow_nan=True, allow_infinity=True),
                    st.sampled_from([0, 600, START + 86400, 1e12]))
_field = {"local_alert_id": st.one_of(st.just(FIRST), st.just("g1/extra/600"), _text), "event_key": st.one_of(
    st.just("g1"), _text), "kind": st.one_of(st.sampled_from(["game", "custom"]), _text)}


BASE = {  # one valid document per operation (and one unknown), written out here
    "snoozeAlert": {"operation": "snoozeAlert", "local_alert_id": FIRST, "for_seconds": 600, "event_title": "x"},
    "updateAlert": {"operation": "updateAlert", "local_alert_id": "g1/extra/600", "duration": 300,
                    "event_title": "x"},
    "createEvent": {"operation": "createEvent", "title": "Concert", "start": START + 86400, "kind": "custom"},
    "createAlert": {"operation": "createAlert", "event_key": "g1", "before": 1800, "duration": 300,
                    "event_title": "x"},
    "updateApplication": {"operation": "updateApplication", "version": "1.2.3",
                          "url": "https://example.org/a.whl", "sha256": "0" * 64},
    "reboot": {"operation": "reboot"},
}
NUMERIC = {"until", "for_seconds", "before", "duration", "start"}


@st.composite
def documents(draw):
    """Valid documents with some fields given values from the awkward corners, some left out."""
    document = dict(BASE[draw(st.sampled_from(sorted(BASE)))])
    names = sorted(set(document) - {"operation"})
    for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=2)) if names else []:
        document[name] = draw(_number if name in NUMERIC else _field.get(name, _text))
    for name in draw(st.lists(st.sampled_from(names), unique=True, max_size=1)) if names else []:
        if draw(st.booleans()):
            del document[name]
    return document


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(documents(), st.text(st.sampled_from(sorted(SAFE_ID)), min_size=1, max_size=64))
def test_whatever_the_cloud_accepts_the_device_executes_or_rejects_and_never_raises(document, job_id):
    device = Device()
    accepted_by_cloud = validate_job(document).ok
    device.hand_over(job_id, document)  # raises nothing: the property's second half
    ((reported_id, status, reason),) = device.reports()
    assert reported_id == job_id
    if accepted_by_cloud:
        assert status in ("SUCCEEDED", "REJECTED"), reason
    else:
        assert (status, reason) != ("SUCCEEDED", "")  # the device's check is the cloud's, and more
        assert status == "REJECTED"
    assert device.kinds("job.failed") == []


# -- the cloud's API: refused before anything is queued ----------------------------------------------------


# A lone surrogate is refused with the body (bad_text: no JSON body may hold one), a control character by
# the job check (bad_value); either way 400 and nothing queued.
@pytest.mark.parametrize("title, reason", [("\\udc80", "bad_text"), ("Concert\\ud83d", "bad_text"),
                                           ("a\\u0000b", "bad_value"), ("c1\\u0085", "bad_value")])
def test_the_cloud_answers_400_to_a_poisoned_document_and_queues_nothing(loop, title, reason):
    cloud = make_cloud(loop)

    async def go():
        client, csrf = await logged_in(cloud)
        raw = ('{"operation": "createEvent", "title": "%s", "start": 1800000000}' % title).encode()
        made = await client.post("/api/devices/pi/jobs", content=raw,
                                 headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
        listed = await client.get("/api/devices/pi/jobs")
        return made, listed
    made, listed = cloud.run(go())
    assert (made.status_code, made.json()["error"]) == (400, reason)
    assert (listed.status_code, listed.json()) == (200, {"jobs": []})
    assert cloud.store.jobs("pi") == []


def test_a_device_cannot_store_status_details_that_would_break_the_job_list(loop):
    cloud = make_cloud(loop)
    job = cloud.store.create_job("pi", SNOOZE, 1.0)
    cloud.store.start_next("pi", 2.0)
    for details in ({"reason": POISON}, {"n": 1}, ["x"], {"k": "x" * 1025}):
        assert cloud.store.update_job("pi", job.id, "SUCCEEDED", details, None, 3.0).reason == "InvalidRequest"
    assert cloud.store.job(job.id).status == "IN_PROGRESS"

    async def go():
        client, _ = await logged_in(cloud)
        return await client.get("/api/devices/pi/jobs")
    assert cloud.run(go()).status_code == 200


def test_the_cloud_refuses_queued_straight_to_succeeded(loop):
    cloud = make_cloud(loop)
    job = cloud.store.create_job("pi", SNOOZE, 1.0)
    assert cloud.store.update_job("pi", job.id, "SUCCEEDED", {}, None, 2.0).reason == "InvalidStateTransition"
    assert cloud.store.job(job.id).status == "QUEUED"
