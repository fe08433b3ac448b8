"""The device's job agent (``system/services/job_agent.py``): checked before it runs, at most once, AWS Jobs topics.

The loop tests run the agent and the cloud's jobs service (``system/cloud/jobs_api.py``) in the simulated
world: the broker model, one link per party, virtual time.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings

from job_documents import malformed_documents
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from sim.models.network import Network
from sim.kernel.runtime import SimRuntime
from system.adapters.controller_store import Store
from system.cloud.jobs_api import JobsService
from system.adapters.cloud_store import CloudStore
from system.decisions.events import Event
from system.decisions.jobs_protocol import JobsRequest, Refusal, ThingTopics, cloud_filters, parse_request
from system.services.job_agent import JobAgent
from system.services.scheduler import Scheduler

START = 1_800_000_000.0
GAME = Event(key="g1", kind="game", title="KAA Gent - Club Brugge", start=START + 5 * 3600)
FIRST = "g1/policy/14400"  # lit from START + 3600 for 10 minutes


class Relay:
    def __init__(self):
        self.state = False

    async def on(self):
        self.state = True

    async def off(self):
        self.state = False


def device(rt, mqtt=None, store=None):
    store = store or Store(":memory:")
    if store.event("g1") is None:
        store.put_event(GAME)
    scheduler = Scheduler(rt, store, Relay())
    return JobAgent(rt, mqtt, "pi", store, scheduler, prefix="hil/"), store


def effects(store: Store) -> tuple:
    """What a job may change, the jobs table aside."""
    return store.stored_events(), store.snoozes(), store.extras()


def test_a_valid_job_runs_once_even_when_delivered_again():
    rt = SimRuntime(seed=1, start=START + 3600)
    agent, store = device(rt)
    execution = {"jobId": "pi-1", "versionNumber": 2,
                 "jobDocument": {"operation": "snoozeAlert", "local_alert_id": FIRST, "event_title": GAME.title}}
    status, details = agent.execute(execution)
    assert status == "SUCCEEDED" and details["alert"] == FIRST
    again = agent.execute(execution)  # the update was lost: the cloud hands the same job out again
    assert again == ("SUCCEEDED", details)
    assert len(store.snoozes()) == 1 and agent.executed == ["pi-1"]
    assert not agent.scheduler.plan().lit


@pytest.mark.parametrize("doc, reason", [
    ({"operation": "snoozeAlert", "local_alert_id": "g9/policy/14400"}, "unknown_alert"),
    ({"operation": "createAlert", "event_key": "nope", "before": 600}, "unknown_event"),
    ({"operation": "snoozeAlert", "local_alert_id": 31}, "wrong_type"),
    ({"operation": "format"}, "unknown_operation"),
    ({"operation": "updateAlert", "local_alert_id": FIRST, "duration": 60}, "policy_alert"),
    ({"operation": "updateApplication", "version": "2.0", "url": "https://x/a.whl", "sha256": "a" * 64}, "no_updater"),
])
def test_refused_jobs_are_rejected_with_a_reason_and_change_nothing(doc, reason):
    rt = SimRuntime(seed=1, start=START)
    agent, store = device(rt)
    before = effects(store)
    status, details = agent.execute({"jobId": "pi-7", "jobDocument": doc})
    assert (status, details["reason"]) == ("REJECTED", reason)
    assert effects(store) == before
    assert store.job("pi-7").status == "rejected"  # and it stays rejected if it comes again
    assert agent.execute({"jobId": "pi-7", "jobDocument": doc})[0] == "REJECTED"


def test_a_failure_inside_the_job_rolls_back_its_effect_and_its_id():
    rt = SimRuntime(seed=1, start=START + 3600)
    agent, store = device(rt)
    real = store.finish_job

    def crash(*args, **kwargs):
        raise RuntimeError("power cut between the effect and the record")
    store.finish_job = crash
    execution = {"jobId": "pi-1", "jobDocument": {"operation": "snoozeAlert", "local_alert_id": FIRST}}
    with pytest.raises(RuntimeError):
        agent.execute(execution)
    assert store.snoozes() == [] and store.job("pi-1") is None  # neither the snooze nor the id
    store.finish_job = real
    assert agent.execute(execution)[0] == "SUCCEEDED" and len(store.snoozes()) == 1


def test_create_event_create_alert_and_update_alert():
    rt = SimRuntime(seed=1, start=START)
    agent, store = device(rt)
    status, made = agent.execute({"jobId": "a", "jobDocument": {"operation": "createEvent", "title": "Concert",
                                                                 "start": START + 86400}})
    assert status == "SUCCEEDED" and store.event(made["event"]).title == "Concert"
    status, alert = agent.execute({"jobId": "b", "jobDocument": {"operation": "createAlert", "event_key": "g1",
                                                                  "before": 1800, "duration": 300}})
    assert status == "SUCCEEDED" and alert["alert"] == "g1/extra/1800"
    status, moved = agent.execute({"jobId": "c", "jobDocument": {"operation": "updateAlert",
                                                                  "local_alert_id": "g1/extra/1800", "before": 900}})
    assert status == "SUCCEEDED" and moved["alert"] == "g1/extra/900"
    assert [r.before for r in store.extras()["g1"]] == [900.0]


@pytest.mark.slow
@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(malformed_documents)
def test_malformed_documents_reach_the_device_and_change_nothing(doc):
    rt = SimRuntime(seed=1, start=START)
    agent, store = device(rt)
    before = effects(store)
    status, details = agent.execute({"jobId": "pi-x", "jobDocument": doc})
    assert status == "REJECTED" and details["reason"]
    assert effects(store) == before


# -- the whole loop over MQTT, in sim -------------------------------------------------------------


class Loop:
    """Cloud jobs service and device agent on the broker model; ``link`` is the device's link."""

    def __init__(self, start: float = START):
        self.rt = SimRuntime(seed=3, start=start)
        net = Network(self.rt)
        host = BrokerHost(self.rt)
        self.cloud = CloudStore()
        self.cloud.add_device("pi", start)
        cloud_mqtt = SimMqttClient(self.rt, host, net.link("cloud", "broker"), "cloud-jobs", clean_session=False)
        self.service = JobsService(self.rt.child("cloud"), self.cloud, cloud_mqtt, prefix="hil/")
        self.link = net.link("controller", "broker", latency=0.05)
        self.store = Store(":memory:")
        self.mqtt = SimMqttClient(self.rt, host, self.link, "pi", clean_session=False)
        self.agent, _ = device(self.rt.child("controller"), self.mqtt, self.store)
        self.rt.spawn(self.service.run(), "cloud/jobs")
        self.rt.spawn(self.agent.run(), "controller/jobs")

    def queue(self, document: dict, timeout: float = 600.0) -> str:
        job = self.cloud.create_job("pi", document, self.rt.now(), timeout=timeout, created_by="ann")
        self.service.notify("pi")
        return job.id

    def run(self, seconds: float) -> None:
        self.rt.run(until=seconds)


def test_a_queued_job_reaches_succeeded_through_notify_next():
    loop = Loop(START + 3600)
    loop.run(5)
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST})
    loop.run(2)  # well before the 30 s poll: notify-next did it
    assert loop.cloud.job(job).status == "SUCCEEDED"
    assert [h["status"] for h in loop.cloud.history(job)] == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_jobs_wait_while_the_device_is_offline_and_run_once_after():
    loop = Loop(START)
    loop.run(5)
    loop.link.set_down("outage")
    jobs = [loop.queue({"operation": "createAlert", "event_key": "g1", "before": 600.0 * i}) for i in (1, 2, 3)]
    loop.run(2 * 3600)
    assert [loop.cloud.job(j).status for j in jobs] == ["QUEUED"] * 3
    loop.link.set_up()
    loop.run(120)  # reconnect backoff, then one poll
    assert [loop.cloud.job(j).status for j in jobs] == ["SUCCEEDED"] * 3
    assert sorted(loop.agent.executed) == sorted(jobs)


def test_a_lost_update_leaves_the_job_in_progress_and_it_is_reported_again_not_rerun():
    loop = Loop(START + 3600)
    loop.run(5)
    # the device's link drops right after the job is handed out: its SUCCEEDED never arrives
    original = loop.agent._report

    async def lost(job_id, status, details, version):
        loop.link.set_down("lost update")
    loop.agent._report = lost
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST})
    loop.run(2)
    assert loop.cloud.job(job).status == "IN_PROGRESS" and loop.agent.executed == [job]
    loop.agent._report = original
    loop.link.set_up()
    loop.run(120)
    assert loop.cloud.job(job).status == "SUCCEEDED"
    assert loop.agent.executed == [job] and len(loop.store.snoozes()) == 1


def test_a_job_in_progress_too_long_times_out():
    loop = Loop(START + 3600)
    loop.run(5)
    original = loop.agent._report

    async def lost(job_id, status, details, version):
        loop.link.set_down("gone for good")
    loop.agent._report = lost
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST}, timeout=60.0)
    loop.run(120)
    assert loop.cloud.job(job).status == "TIMED_OUT"
    loop.agent._report = original


def test_topics_follow_the_aws_names():
    t = ThingTopics.of("$aws/", "pi")
    assert t.start_next == "$aws/things/pi/jobs/start-next"
    assert t.start_accepted == "$aws/things/pi/jobs/start-next/accepted"
    assert t.start_rejected == "$aws/things/pi/jobs/start-next/rejected"
    assert t.update("j1") == "$aws/things/pi/jobs/j1/update"
    assert t.update_replies == "$aws/things/pi/jobs/+/update/+"
    assert t.notify_next == "$aws/things/pi/jobs/notify-next"
    assert t.update_reply("$aws/things/pi/jobs/j1/update/accepted") == "accepted"
    assert t.update_reply("$aws/things/pi/jobs/j1/update/rejected") == "rejected"
    assert t.update_reply("$aws/things/cam/jobs/j1/update/accepted") is None
    assert t.update_reply("$aws/things/pi/jobs/start-next/accepted") is None
    assert cloud_filters("hil/") == ("hil/things/+/jobs/start-next", "hil/things/+/jobs/+/update")


def test_the_cloud_reads_requests_from_their_topics():
    assert parse_request("$aws/", "$aws/things/pi/jobs/start-next") == JobsRequest("pi", "start-next")
    assert parse_request("$aws/", "$aws/things/pi/jobs/j1/update") == JobsRequest("pi", "update", "j1")
    for other in ("$aws/things/pi/jobs/start-next/accepted", "$aws/things/pi/jobs/j1/update/rejected",
                  "$aws/things/pi/jobs/notify-next", "$aws/things/pi/shadow/update", "hil/things/pi/jobs/start-next"):
        assert parse_request("$aws/", other) is None, other


def test_an_update_with_a_stale_version_is_rejected_on_its_topic():
    loop = Loop(START + 3600)
    loop.run(5)
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST})
    loop.run(2)
    seen = []
    probe = SimMqttClient(loop.rt, loop.mqtt.host, Network(loop.rt).link("probe", "broker"), "probe")

    async def stale():
        await probe.connect()
        await probe.subscribe("hil/things/pi/jobs/+/update/rejected", 1)
        await probe.publish(f"hil/things/pi/jobs/{job}/update",
                            json.dumps({"status": "FAILED", "expectedVersion": 1}), qos=1)
        seen.append(json.loads((await probe.next_message()).payload))
    loop.rt.spawn(stale(), "probe")
    loop.run(5)
    assert seen and seen[0]["code"] in ("VersionMismatch", "InvalidStateTransition")
    assert loop.cloud.job(job).status == "SUCCEEDED"


def _counting_reports(loop: Loop) -> list[tuple[str, str]]:
    """Every report the agent sends, as (job id, status)."""
    sent = []
    original = loop.agent._report

    async def report(job_id, status, details, version):
        sent.append((job_id, status))
        await original(job_id, status, details, version)
    loop.agent._report = report
    return sent


def test_two_start_next_answers_in_flight_run_the_job_once_and_report_it_once():
    loop = Loop(START + 3600)
    loop.run(5)
    sent = _counting_reports(loop)
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST})
    for _ in range(2):  # a poll and a notify-next at once: the cloud answers both with the same execution
        loop.rt.spawn(loop.agent._start_next(), "extra start-next")
    loop.run(10)
    assert sent == [(job, "SUCCEEDED")] and loop.agent.executed == [job]
    assert [h["status"] for h in loop.cloud.history(job)] == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_a_reconnection_after_the_report_sends_no_second_report():
    loop = Loop(START + 3600)
    loop.run(5)
    sent = _counting_reports(loop)
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST})
    loop.run(2)
    loop.link.set_down("blip")
    loop.run(60)
    loop.link.set_up()
    loop.run(180)  # reconnect, then polls
    assert sent == [(job, "SUCCEEDED")] and len(loop.store.snoozes()) == 1
    assert [h["status"] for h in loop.cloud.history(job)] == ["QUEUED", "IN_PROGRESS", "SUCCEEDED"]


def test_a_refused_report_is_not_sent_again_at_every_poll():
    loop = Loop(START + 3600)
    loop.run(5)
    sent = _counting_reports(loop)
    loop.cloud.update_job = lambda *args: Refusal("VersionMismatch", "a cloud that refuses every report")
    job = loop.queue({"operation": "snoozeAlert", "local_alert_id": FIRST}, timeout=3600.0)
    loop.run(600)  # twenty polls, each handing the job in progress over again
    assert sent == [(job, "SUCCEEDED")] and loop.cloud.job(job).status == "IN_PROGRESS"
