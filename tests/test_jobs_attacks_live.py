"""Attacks on the jobs path with real processes on loopback (``hilsim broker``, ``hilsim cloud``,
``hilsim controller``): a poisoned job title, a planted job whose id holds an MQTT wildcard, and a cloud
restored from an old backup. Each ends with the controller still running and a new job reaching SUCCEEDED.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

from cloud_world import CloudWorld

pytestmark = pytest.mark.live

ACCEPTED = "hil/things/pi/jobs/start-next/accepted"


@pytest.fixture
def world(tmp_path):
    world = CloudWorld(tmp_path)
    yield world
    world.stop()


def create_event(world: CloudWorld, client, csrf: str, title: str) -> str:
    """Queue a createEvent job through the dashboard API; its id."""
    made = client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                       json={"operation": "createEvent", "title": title, "start": time.time() + 86400})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def succeeded(world: CloudWorld, job: str) -> None:
    """Wait until the controller ran ``job`` and the cloud stored it SUCCEEDED."""
    world.controller.until(lambda r: any(x["kind"] == "job.succeeded" and x["job"] == job for x in r),
                           f"{job} run")
    world.seen("job.updated", job=job, status="SUCCEEDED")


def publish(world: CloudWorld, topic: str, body: dict, *, retain: bool) -> None:
    """Publish as the cloud's broker account (one allowed to write the jobs topics), and wait for the ack."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="cloud-attacker", protocol=paho.MQTTv311)
    client.username_pw_set("cloud", "mqtt-secret")
    connected = []
    client.on_connect = lambda c, u, flags, reason, props: connected.append(reason)
    client.connect("127.0.0.1", world.mqtt_port)
    client.loop_start()
    try:
        sent = client.publish(topic, json.dumps(body), qos=1, retain=retain)
        sent.wait_for_publish(30)
        assert sent.is_published() and [str(r) for r in connected] == ["Success"], connected  # not refused
    finally:
        client.disconnect()
        client.loop_stop()


def test_a_poisoned_title_gets_400_queues_nothing_and_the_controller_runs_on(world):
    controller = world.start_controller()
    client, csrf = world.session()
    raw = b'{"operation": "createEvent", "title": "\\udc80", "start": 1900000000}'  # a lone surrogate, valid JSON
    made = client.post("/api/devices/pi/jobs", content=raw,
                       headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert (made.status_code, made.json()["error"]) == (400, "bad_text")  # refused at the body, before the job check
    listed = client.get("/api/devices/pi/jobs")
    assert (listed.status_code, listed.json()) == (200, {"jobs": []})
    job = create_event(world, client, csrf, "Concert")
    succeeded(world, job)
    assert controller.proc.poll() is None
    assert [r["job"] for r in controller.of_kind("job.received")] == [job]


def test_a_planted_job_with_a_wildcard_id_is_skipped_at_every_start_not_a_crash_loop(world):
    poison = {"execution": {"jobId": "pi-#", "versionNumber": 2, "jobDocument": {
        "operation": "createEvent", "title": "Planted", "start": time.time() + 86400}}}
    publish(world, ACCEPTED, poison, retain=True)
    client, csrf = world.session()
    for attempt in ("first start", "restart"):
        controller = world.start_controller()
        controller.until(lambda r: any(x["kind"] == "job.skipped" for x in r), f"planted job skipped ({attempt})")
        assert [(r["job"], r["reason"]) for r in controller.of_kind("job.skipped")] == [("'pi-#'", "bad_job_id")]
        job = create_event(world, client, csrf, f"Concert after the {attempt}")
        succeeded(world, job)
        assert controller.proc.poll() is None
        controller.stop()
    # not retained, to a running controller: skipped the same way
    controller = world.start_controller()
    skipped = len(controller.of_kind("job.skipped"))
    poison["execution"]["jobId"] = "pi/+"
    publish(world, ACCEPTED, poison, retain=False)
    controller.until(lambda r: len([x for x in r if x["kind"] == "job.skipped"]) > skipped, "live plant skipped")
    assert controller.of_kind("job.skipped")[-1]["reason"] == "bad_job_id"
    succeeded(world, create_event(world, client, csrf, "Concert at the end"))
    assert controller.proc.poll() is None
    assert [r["job"] for r in controller.of_kind("job.received")] == [r["job"] for r in
                                                                      controller.of_kind("job.succeeded")]


def test_a_cloud_restored_from_an_old_backup_runs_new_jobs_and_reports_no_old_outcome(world, tmp_path):
    backup = tmp_path / "cloud-backup.sqlite"
    with sqlite3.connect(world.cloud_db) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)  # before any job: the user and the device are in it
    controller = world.start_controller()
    client, csrf = world.session()
    old = [create_event(world, client, csrf, title) for title in ("Old one", "Old two")]
    for job in old:
        succeeded(world, job)

    world.cloud.stop()
    with sqlite3.connect(backup) as copy, sqlite3.connect(world.cloud_db) as live:
        copy.backup(live)  # the restore: the cloud forgets every job since the backup
    world.start_cloud()
    client, csrf = world.session()
    assert client.get("/api/devices/pi/jobs").json() == {"jobs": []}
    new = [create_event(world, client, csrf, title) for title in ("New one", "New two")]
    assert not set(new) & set(old)
    for job in new:
        succeeded(world, job)
    done = {r["job"]: r for r in controller.of_kind("job.succeeded")}
    assert set(done) == set(old + new)
    for job in new:  # run when first seen, not taken for a job the controller had already run
        first = next(r for r in controller.records if r.get("job") == job and r["kind"] in
                     ("job.received", "job.repeated"))
        assert first["kind"] == "job.received"
    reported = {j["id"]: j["details"]["event"] for j in client.get("/api/devices/pi/jobs").json()["jobs"]}
    assert reported == {job: done[job]["event"] for job in new}
    assert not set(reported.values()) & {done[job]["event"] for job in old}  # no old outcome reported
