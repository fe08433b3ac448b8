"""The cloud side of jobs: the AWS IoT Jobs MQTT API served from the cloud store.

Listens on ``<prefix>things/+/jobs/start-next`` and ``<prefix>things/+/jobs/+/update``, answers on
their ``/accepted`` and ``/rejected`` topics with the shapes AWS IoT Core uses, publishes
``notify-next`` when a job is queued for a device, and moves jobs in progress for longer than their
timeout to TIMED_OUT every ``sweep_every`` seconds. The same code runs live (paho client) and in sim
(the broker model), through the MQTT client port.

MQTT itself does not say which device sent a message: the broker's accounts and ACLs must keep a
device to its own ``things/<name>/`` topics (AWS IoT Core does this with its policies).
"""

from __future__ import annotations

import json
from typing import Any

from firmware.backoff import next_backoff
from system.adapters.cloud_store import CloudStore
from system.decisions.jobs_protocol import Refusal
from system.errors import ConnectionLost

DEFAULT_PREFIX = "$aws/"


class JobsService:
    """Service: the Jobs API over ``mqtt`` for every device in ``store``."""

    def __init__(self, rt: Any, store: CloudStore, mqtt: Any, *, prefix: str = DEFAULT_PREFIX,
                 sweep_every: float = 30.0):
        self.rt = rt
        self.store = store
        self.mqtt = mqtt
        self.prefix = prefix
        self.sweep_every = sweep_every
        self._outbox = rt.queue()  # devices to notify, filled by the HTTP side

    def notify(self, device: str) -> None:
        """A job was queued for ``device``: publish its notify-next soon (called by the HTTP app)."""
        self._outbox.put_nowait(device)

    def _topic(self, device: str, tail: str) -> str:
        return f"{self.prefix}things/{device}/jobs/{tail}"

    async def _send(self, topic: str, body: dict) -> None:
        await self.mqtt.publish(topic, json.dumps(body, sort_keys=True), qos=1)

    async def notify_next(self, device: str) -> None:
        pending = self.store.jobs(device, pending_only=True)
        body: dict = {"timestamp": self.rt.now()}
        if pending:
            job = pending[0]
            body["execution"] = {k: v for k, v in job.execution().items() if k != "statusDetails"}
        await self._send(self._topic(device, "notify-next"), body)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One request from a device."""
        if not topic.startswith(f"{self.prefix}things/"):
            return
        parts = topic[len(self.prefix):].split("/")
        # things/<device>/jobs/start-next  |  things/<device>/jobs/<job>/update
        if len(parts) < 4 or parts[2] != "jobs" or parts[-1] in ("accepted", "rejected"):
            return
        device = parts[1]
        if device not in self.store.devices():
            return
        try:
            body = json.loads(payload) if payload else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            await self._send(topic + "/rejected", {"code": "InvalidRequest", "timestamp": self.rt.now(),
                                                   "message": "the payload must be a JSON object"})
            return
        token = {"clientToken": body["clientToken"]} if isinstance(body.get("clientToken"), str) else {}
        now = self.rt.now()
        if len(parts) == 4 and parts[3] == "start-next":
            job = self.store.start_next(device, now)
            answer: dict = {"timestamp": now, **token}
            if job is not None:
                answer["execution"] = job.execution()
                self.rt.trace("job.started", device=device, job=job.id, version=job.version)
            await self._send(topic + "/accepted", answer)
        elif len(parts) == 5 and parts[4] == "update":
            job_id = parts[3]
            done = self.store.update_job(device, job_id, body.get("status"), body.get("statusDetails"),
                                         body.get("expectedVersion"), now)
            if isinstance(done, Refusal):
                self.rt.trace("job.update_refused", device=device, job=job_id, code=done.reason)
                await self._send(topic + "/rejected", {"code": done.reason, "message": done.detail, "timestamp": now,
                                                       **token})
                return
            self.rt.trace("job.updated", device=device, job=job_id, status=done.status, version=done.version)
            await self._send(topic + "/accepted", {"executionState": {
                "status": done.status, "statusDetails": done.details, "versionNumber": done.version},
                "timestamp": now, **token})
            await self.notify_next(device)

    async def sweep(self) -> None:
        """Time out jobs in progress for too long; the devices hear of their next job."""
        for job in self.store.time_out(self.rt.now()):
            self.rt.trace("job.timed_out", device=job.device, job=job.id)

    async def _sweeper(self) -> None:
        while True:
            await self.rt.sleep(self.sweep_every)
            await self.sweep()

    async def _notifier(self) -> None:
        while True:
            device = await self._outbox.get()
            try:
                await self.notify_next(device)
            except ConnectionLost:
                pass  # the device polls every 30 s anyway

    async def run(self) -> None:
        """Serve until cancelled, reconnecting to the broker with backoff."""
        sweeper = self.rt.spawn(self._sweeper(), "cloud/jobs-sweep")
        attempt = 0
        rng = self.rt.rng("cloud/jobs")
        try:
            while True:
                notifier = None
                try:
                    await self.mqtt.connect()
                    await self.mqtt.subscribe(f"{self.prefix}things/+/jobs/start-next", 1)
                    await self.mqtt.subscribe(f"{self.prefix}things/+/jobs/+/update", 1)
                    self.rt.trace("jobs.serving")
                    attempt = 0
                    notifier = self.rt.spawn(self._notifier(), "cloud/jobs-notify")
                    while True:
                        msg = await self.mqtt.next_message()
                        await self.handle(msg.topic, msg.payload)
                except ConnectionLost as exc:
                    attempt += 1
                    self.rt.trace("jobs.disconnected", error=str(exc)[:200])
                    if notifier is not None:
                        notifier.cancel()
                    await self.rt.sleep(next_backoff(attempt, rng, base=1.0, cap=30.0))
        finally:
            sweeper.cancel()
