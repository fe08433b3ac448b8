"""The live cloud process: the ASGI app under uvicorn, the MQTT jobs service and the heartbeat alarm, on one
asyncio loop with one runtime (the same app, store and services as in sim), run by ``hilsim/wiring/process.py``."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import IO, Any, Iterator
from urllib.parse import urlparse

import httpx
import uvicorn

from hilsim.wiring.process import Build, run_process, spawn_service, start_part
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.mqtt_client import LiveMqttClient, TlsOptions
from system.adapters.metric_history import Retention
from system.adapters.notify import SmtpNotifier, WebhookNotifier
from system.adapters.passwords import PasswordPool
from system.cloud.alarm import HeartbeatAlarm
from system.cloud.app import CloudSettings, create_app
from system.cloud.jobs_api import JobsService
from system.decisions.jobs_protocol import DEFAULT_PREFIX
from system.decisions.redaction import redacted_url
from system.adapters.cloud_store import CloudStore
from system.decisions.mqtt_client_ids import own_client_id
from system.errors import BackendError
from system.services.metrics import PERIOD


@dataclass(frozen=True)
class LiveCloudConfig:
    db: str
    host: str = "127.0.0.1"
    port: int = 8080
    mqtt_url: str | None = None
    mqtt_tls: TlsOptions | None = None
    prefix: str = DEFAULT_PREFIX
    heartbeat_period: float = PERIOD
    alarm_check_every: float | None = None
    sweep_every: float = 30.0
    smtp: SmtpNotifier | None = None
    webhook: str | None = None
    settings: CloudSettings = field(default_factory=CloudSettings)
    tls: tuple[str, str] | None = None  # (certificate file, key file): serve HTTPS
    retention: Retention = field(default_factory=Retention)
    login_workers: int = 2


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process helper decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """uvicorn serving ``app`` as a part with start()/stop(); start returns once it listens."""

    def __init__(self, app: Any, host: str, port: int, tls: tuple[str, str] | None = None):
        # proxy_headers off: the app believes X-Forwarded-* only from its trusted proxies (uvicorn: from loopback)
        cert, key = tls or (None, None)
        self.server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off",
                                             proxy_headers=False, ssl_certfile=cert, ssl_keyfile=key))
        self.host, self.port = host, port
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        # The socket is ours: a port in use is one line and exit 1, not uvicorn's log line and sys.exit.
        try:
            family = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)[0][0]
            sock = socket.create_server((self.host, self.port), family=family)
            # Accepted sockets inherit this; asyncio sets it only on sockets it made itself (proto 6), and
            # without it every keep-alive answer waits ~40 ms for the client's delayed ACK.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise BackendError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from exc
        self._task = asyncio.ensure_future(self.server.serve(sockets=[sock]))
        while not self.server.started:
            if self._task.done():
                self._task = None
                sock.close()
                raise BackendError(f"cannot serve on {self.host}:{self.port}")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self._task is not None:
            self.server.should_exit = True
            with contextlib.suppress(BaseException):
                await self._task
            self._task = None


def cloud_parts(config: LiveCloudConfig) -> Build:
    """The cloud's parts, built on a runtime into an exit stack: one process runs them alone
    (``run_live_cloud``) or beside others (``hilsim serve``)."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        cloud = rt.child("cloud")
        store = CloudStore(config.db, retention=config.retention)
        stack.callback(store.close)
        passwords = PasswordPool(workers=config.login_workers)
        stack.callback(passwords.close)
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=10.0))
        jobs = None
        if config.mqtt_url:
            mqtt = LiveMqttClient(config.mqtt_url, own_client_id(urlparse(config.mqtt_url).username, "cloud", "jobs"), clean_session=False,
                                  tls=config.mqtt_tls)
            stack.push_async_callback(mqtt.disconnect)
            jobs = JobsService(cloud, store, mqtt, prefix=config.prefix, sweep_every=config.sweep_every)
            await spawn_service(rt, stack, jobs.run(), "cloud/jobs")
        notifiers = [n for n in (config.smtp, WebhookNotifier(client, config.webhook) if config.webhook else None) if n]
        alarm = HeartbeatAlarm(cloud, store, notifiers, period=config.heartbeat_period,
                               check_every=config.alarm_check_every)
        await spawn_service(rt, stack, alarm.run(), "cloud/alarm")
        app = create_app(store, rt, settings=config.settings, job_created=jobs.notify if jobs else None,
                         check_password=passwords.verify)
        await start_part(stack, WebServer(app, config.host, config.port, config.tls))
        cloud.trace("cloud.started", host=config.host, port=config.port, db=config.db,
                    mqtt=redacted_url(config.mqtt_url), epoch=rt.start, tls=config.tls is not None)

    return build


def run_live_cloud(config: LiveCloudConfig, *, trace_file: IO[str] | None = None, until: float | None = None) -> str:
    """Serve the cloud until SIGINT/SIGTERM (or ``until`` seconds); returns why it stopped."""
    return run_process("cloud", cloud_parts(config), header={"run": "live-cloud", "db": config.db},
                       trace_file=trace_file, until=until)
