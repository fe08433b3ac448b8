"""The live cloud process: the ASGI app under uvicorn, the MQTT jobs service and the heartbeat alarm, on one
asyncio loop with one runtime (the same app, store and services as in sim)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, field
from typing import IO, Iterator

import httpx
import uvicorn

from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.mqtt_client import LiveMqttClient
from system.adapters.notify import SmtpNotifier, WebhookNotifier
from system.cloud.alarm import HeartbeatAlarm
from system.cloud.app import CloudSettings, create_app
from system.cloud.jobs import DEFAULT_PREFIX, JobsService
from system.cloud.store import CloudStore
from system.errors import BackendError
from system.services.metrics import PERIOD
from system.trace import LineFlushed, Trace


@dataclass(frozen=True)
class LiveCloudConfig:
    db: str
    host: str = "127.0.0.1"
    port: int = 8080
    mqtt_url: str | None = None
    prefix: str = DEFAULT_PREFIX
    heartbeat_period: float = PERIOD
    alarm_check_every: float | None = None
    sweep_every: float = 30.0
    smtp: SmtpNotifier | None = None
    webhook: str | None = None
    settings: CloudSettings = field(default_factory=CloudSettings)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: this process decides when to stop (``should_exit``)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(rt: AsyncioRuntime, config: LiveCloudConfig) -> None:
    cloud = rt.child("cloud")
    store = CloudStore(config.db)
    tasks = []
    async with httpx.AsyncClient(timeout=10.0) as client:
        jobs = None
        if config.mqtt_url:
            mqtt = LiveMqttClient(config.mqtt_url, "hilsim-cloud-jobs", clean_session=False)
            jobs = JobsService(cloud, store, mqtt, prefix=config.prefix, sweep_every=config.sweep_every)
            tasks.append(rt.spawn(jobs.run(), "cloud/jobs"))
        notifiers = [n for n in (config.smtp, WebhookNotifier(client, config.webhook) if config.webhook else None) if n]
        alarm = HeartbeatAlarm(cloud, store, notifiers, period=config.heartbeat_period,
                               check_every=config.alarm_check_every)
        tasks.append(rt.spawn(alarm.run(), "cloud/alarm"))
        app = create_app(store, rt, settings=config.settings, job_created=jobs.notify if jobs else None)
        server = _Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                        lifespan="off"))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, setattr, server, "should_exit", True)
        cloud.trace("cloud.started", host=config.host, port=config.port, db=config.db, mqtt=config.mqtt_url,
                    epoch=rt.start)
        try:
            await server.serve()  # returns once a signal set should_exit
            if not server.started:
                raise BackendError(f"cannot listen on {config.host}:{config.port}")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            for task in tasks:
                task.cancel()
            store.close()
            cloud.trace("cloud.stopped")


def run_live_cloud(config: LiveCloudConfig, *, trace_file: IO[str] | None = None, until: float | None = None) -> None:
    """Serve the cloud until interrupted (or ``until`` seconds)."""
    trace = Trace({"run": "live-cloud", "db": config.db}, sink=LineFlushed(trace_file) if trace_file else None)
    rt = AsyncioRuntime(trace=trace)
    rt.run(_serve(rt, config), until=until)
