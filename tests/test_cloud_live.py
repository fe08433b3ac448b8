"""The cloud with real processes on loopback: ``hilsim broker``, ``hilsim cloud``, ``hilsim controller``.

A job created through the cloud's HTTP API reaches SUCCEEDED over the broker; with the controller stopped
the heartbeat alarm is raised and an e-mail reaches a real SMTP server (aiosmtpd, started here); with the
controller back the alarm clears. Periods are shortened with the commands' test-only options.
"""

from __future__ import annotations

import threading
import time

import pytest

from cloud_world import CloudWorld
from processes import free_port

pytestmark = pytest.mark.live
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

HEARTBEAT = 1.5  # seconds: the alarm is raised after three missing


class Mailbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages: list[str] = []
        self._changed = threading.Condition()

    async def handle_DATA(self, server, session, envelope):
        with self._changed:
            self.messages.append(envelope.content.decode("utf-8", "replace"))
            self._changed.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: len(self.messages) >= count, timeout)


@pytest.fixture
def smtp():
    box = Mailbox()
    server = aiosmtpd_controller.Controller(box, hostname="127.0.0.1", port=free_port())
    server.start()
    yield server.port, box
    server.stop()


@pytest.fixture
def world(tmp_path, smtp):
    smtp_port, mailbox = smtp
    world = CloudWorld(tmp_path, cloud_args=("--smtp", f"127.0.0.1:{smtp_port}", "--mail-to", "office@club.example",
                                             "--heartbeat-period", str(HEARTBEAT)),
                       controller_args=("--push-every", str(HEARTBEAT / 3), "--sync-every", "5", "--log-every", "1"))
    world.mailbox = mailbox
    yield world
    world.stop()


def test_job_alarm_and_email_with_real_processes(world):
    cloud, mailbox = world.cloud, world.mailbox
    controller = world.start_controller()
    client, csrf = world.session()

    created = client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                          json={"operation": "createEvent", "title": "Concert", "start": time.time() + 86400})
    assert created.status_code == 201, created.text
    job = created.json()["id"]
    cloud.until(lambda r: any(x["kind"] == "job.updated" and x["job"] == job and x["status"] == "SUCCEEDED"
                              for x in r), "job SUCCEEDED")
    cloud.until(lambda r: any(x["kind"] == "sync.applied" and x["changes"] > 0 for x in r), "mirror synced")
    events = client.get("/api/devices/pi/events").json()["events"]
    assert [e["title"] for e in events] == ["Concert"]
    cloud.until(lambda r: any(x["kind"] == "metrics.received" for x in r), "a heartbeat")

    stopped_at = len(cloud.records)
    controller.stop()
    cloud.until(lambda r: any(x["kind"] == "alarm.raised" for x in r[stopped_at:]), "alarm raised", timeout=30)
    assert mailbox.wait_for(1), "no alarm e-mail"
    assert "office@club.example" in mailbox.messages[0] and "heartbeat" in mailbox.messages[0].lower()
    assert client.get("/api/devices/pi/alarm").json()["raised"] is True

    raised_at = len(cloud.records)
    world.start_controller()
    cloud.until(lambda r: any(x["kind"] == "alarm.cleared" for x in r[raised_at:]), "alarm cleared", timeout=60)
    alarm = client.get("/api/devices/pi/alarm").json()
    assert alarm["raised"] is False and [h["state"] for h in alarm["history"]][:2] == ["cleared", "raised"]
    assert mailbox.wait_for(2), "no all-clear e-mail"
    assert "back" in mailbox.messages[1]
    # the first controller's trace reached the cloud's log: shipped in batches, the last one as it stopped
    logs = client.get("/api/devices/pi/logs", params={"kind": "job."}).json()["lines"]
    assert any(ln["kind"] == "job.succeeded" for ln in logs)


def test_jobs_over_tls_with_client_certificates(tmp_path):
    """As on AWS IoT Core: the broker wants a client certificate, and the cloud and the controller present one."""
    from certificates import make_certificates

    world = CloudWorld(tmp_path, certificates=make_certificates(tmp_path, accounts=("cloud", "pi")))
    try:
        world.start_controller()
        client, csrf = world.session()
        made = client.post("/api/devices/pi/jobs", headers={"X-CSRF-Token": csrf},
                           json={"operation": "createEvent", "title": "Concert", "start": time.time() + 86400})
        world.seen("job.updated", job=made.json()["id"], status="SUCCEEDED")
    finally:
        world.stop()
