"""The cloud side of jobs: the AWS IoT Jobs MQTT API served from the cloud store.

Listens to every device's ``start-next`` and ``<jobId>/update`` requests, answers on their ``/accepted``
and ``/rejected`` topics, publishes ``notify-next`` when a job is queued for a device, and moves jobs in
progress for longer than their timeout to TIMED_OUT every ``sweep_every`` seconds. The topics, states
and message shapes are :mod:`system.decisions.jobs_protocol`'s; the jobs themselves are kept by
:class:`~system.adapters.cloud_store.CloudStore`. The same code runs live (paho client) and in sim (the
broker model), through the MQTT client port.

MQTT itself does not say which device sent a message: the broker's accounts and ACLs must keep a
device to its own ``things/<name>/`` topics (AWS IoT Core does this with its policies).
"""

from __future__ import annotations

import json
from typing import Any

from firmware.backoff import next_backoff
from system.adapters.cloud_store import CloudStore
from system.decisions import jobs_protocol as jobs
from system.decisions.jobs_protocol import DEFAULT_PREFIX, Refusal
from system.errors import ConnectionLost


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
        """A job was queued for ``device``: publish its ``notify-next`` soon (the HTTP app's ``job_created``)."""
        self._outbox.put_nowait(device)

    async def _send(self, topic: str, body: dict) -> None:
        await self.mqtt.publish(topic, json.dumps(body, sort_keys=True), qos=1)

    async def notify_next(self, device: str) -> None:
        pending = self.store.jobs(device, pending_only=True)
        body = jobs.notify_next_message(pending[0].execution() if pending else None, self.rt.now())
        await self._send(jobs.ThingTopics.of(self.prefix, device).notify_next, body)

    async def handle(self, topic: str, payload: bytes) -> None:
        """One request from a device."""
        request = jobs.parse_request(self.prefix, topic)
        if request is None or request.thing not in self.store.devices():
            return
        try:
            body = json.loads(payload) if payload else {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            await self._send(jobs.reply(topic, False), jobs.rejected(
                "InvalidRequest", "the payload must be a JSON object", self.rt.now(), {}))
            return
        if request.action == jobs.START_NEXT:
            await self._start_next(topic, request.thing, jobs.client_token(body))
        else:
            await self._update(topic, request, body)

    async def _start_next(self, topic: str, device: str, token: dict) -> None:
        now = self.rt.now()
        job = self.store.start_next(device, now)
        if job is not None:
            self.rt.trace("job.started", device=device, job=job.id, version=job.version)
        await self._send(jobs.reply(topic, True),
                         jobs.start_next_accepted(job.execution() if job is not None else None, now, token))

    async def _update(self, topic: str, request: jobs.JobsRequest, body: dict) -> None:
        now = self.rt.now()
        token = jobs.client_token(body)
        device, job_id = request.thing, request.job_id
        done = self.store.update_job(device, job_id, body.get("status"), body.get("statusDetails"),
                                     body.get("expectedVersion"), now)
        if isinstance(done, Refusal):
            self.rt.trace("job.update_refused", device=device, job=job_id, code=done.reason)
            await self._send(jobs.reply(topic, False), jobs.rejected(done.reason, done.detail, now, token))
            return
        self.rt.trace("job.updated", device=device, job=job_id, status=done.status, version=done.version)
        await self._send(jobs.reply(topic, True), jobs.update_accepted(done.status, done.details, done.version,
                                                                        now, token))
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
                    for topic_filter in jobs.cloud_filters(self.prefix):
                        await self.mqtt.subscribe(topic_filter, 1)
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
