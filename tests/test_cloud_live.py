"""The cloud with real processes on loopback: ``hilsim broker``, ``hilsim cloud``, ``hilsim controller``.

A job created through the cloud's HTTP API reaches SUCCEEDED over the broker; with the controller stopped
the heartbeat alarm is raised and an e-mail reaches a real SMTP server (aiosmtpd, started here); with the
controller back the alarm clears. Periods are shortened with the commands' test-only options.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time

import httpx
import pytest

from processes import ROOT, TracedProcess, free_port, start_server, stop_server

pytestmark = pytest.mark.live
aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")

PASSWORD = "correct horse"
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


def hilsim(*args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "hilsim", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def world(tmp_path, smtp):
    smtp_port, mailbox = smtp
    passwd = tmp_path / "broker.passwd"
    for user in ("cloud", "pi"):
        hilsim("broker", "--passwd", str(passwd), "--add-user", user, "--password-stdin", stdin="mqtt-secret\n")
    db = str(tmp_path / "cloud.sqlite")
    hilsim("cloud", "--db", db, "--add-user", "ann", stdin=PASSWORD + "\n")
    token = tmp_path / "pi.token"
    token.write_text(hilsim("cloud", "--db", db, "--add-device", "pi"))
    mqtt_port, http_port = free_port(), free_port()
    broker = start_server([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", str(mqtt_port)],
                          mqtt_port)
    cloud = TracedProcess("cloud", "--db", db, "--port", str(http_port), "--jobs-prefix", "hil/",
                          "--mqtt-url", f"mqtt://cloud:mqtt-secret@127.0.0.1:{mqtt_port}",
                          "--smtp", f"127.0.0.1:{smtp_port}", "--mail-to", "office@club.example",
                          "--heartbeat-period", str(HEARTBEAT))
    cloud.until(lambda r: any(x["kind"] == "cloud.started" for x in r), "cloud started")
    controller_args = ["--db", str(tmp_path / "controller.sqlite"), "--cloud-url", f"http://127.0.0.1:{http_port}",
                       "--device", "pi", "--token-file", str(token), "--jobs-prefix", "hil/",
                       "--mqtt-url", f"mqtt://pi:mqtt-secret@127.0.0.1:{mqtt_port}",
                       "--push-every", str(HEARTBEAT / 3), "--sync-every", "5", "--log-every", "1"]
    state = {"controller": TracedProcess("controller", *controller_args)}
    yield {"cloud": cloud, "url": f"http://127.0.0.1:{http_port}", "mailbox": mailbox, "state": state,
           "controller_args": controller_args}
    for proc in (state["controller"], cloud):
        proc.stop()
    stop_server(broker)


def session(url: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=10.0)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": csrf, "username": "ann", "password": PASSWORD}).status_code == 303
    return client, client.get("/api/me").json()["csrf"]


def test_job_alarm_and_email_with_real_processes(world):
    cloud, mailbox = world["cloud"], world["mailbox"]
    controller = world["state"]["controller"]
    controller.until(lambda r: any(x["kind"] == "jobs.connected" for x in r), "controller connected for jobs")
    client, csrf = session(world["url"])

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
    world["state"]["controller"] = TracedProcess("controller", *world["controller_args"])
    cloud.until(lambda r: any(x["kind"] == "alarm.cleared" for x in r[raised_at:]), "alarm cleared", timeout=60)
    alarm = client.get("/api/devices/pi/alarm").json()
    assert alarm["raised"] is False and [h["state"] for h in alarm["history"]][:2] == ["cleared", "raised"]
    assert mailbox.wait_for(2), "no all-clear e-mail"
    assert "back" in mailbox.messages[1]
    # the first controller's trace reached the cloud's log: shipped in batches, the last one as it stopped
    logs = client.get("/api/devices/pi/logs", params={"kind": "job."}).json()["lines"]
    assert any(ln["kind"] == "job.succeeded" for ln in logs)
