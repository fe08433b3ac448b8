"""The live bridge: the same ``Bridge`` wired to real parts on the asyncio runtime.

Real parts: a broker (Mosquitto, ``hilsim broker``) through ``LiveMqttClient``
with a persistent session, a SQLite file, a Prometheus Pushgateway through an
``httpx.AsyncClient``, and the bridge's own ``/metrics`` endpoint. For example::

    run_live_bridge(LiveBridgeConfig(broker_url="mqtt://bridge:secret@127.0.0.1:1883",
                                     db_path="readings.sqlite3",
                                     pushgateway_url="http://127.0.0.1:9091", metrics_port=9108))
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import IO, Any

import httpx

from hilsim.wiring.process import Build, run_process, start_part
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.services.bridge import TOPICS, Bridge
from system.adapters.metrics_http import start_metrics_server
from system.adapters.mqtt_client import LiveMqttClient, TlsOptions
from system.adapters.pushgateway import PushgatewayTarget
from system.services.prometheus import ReadingPusher
from system.adapters.reading_store import ReadingStore
from system.adapters.remote_write import RemoteWriteTarget
from system.services.remote_write import RemoteWriter
from system.decisions.readings import LEGACY_NODE
from system.errors import BackendError
from system.decisions.redaction import redacted_url


@dataclass(frozen=True)
class LiveBridgeConfig:
    """Where the live bridge connects and what it serves; plain data (from a CLI or a file)."""

    broker_url: str = "mqtt://127.0.0.1:1883"
    db_path: str = "readings.sqlite3"
    pushgateway_url: str | None = None  # None: no pushes
    remote_write_url: str | None = None  # None: no remote write (readings at their own time into Prometheus)
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = 9108  # None: no /metrics; 0: a free port
    client_id: str = "bridge"  # the account name: brokers bind client ids to accounts
    username: str | None = None
    password: str | None = None
    tls: TlsOptions | None = None
    legacy_node: str = LEGACY_NODE
    job: str = "{node}"  # Pushgateway job per node; a template on the node id
    topics: tuple[str, ...] = TOPICS
    probe_every: float | None = 10.0  # None: no probe (see Bridge); the topic is PROBE_TOPIC with the client id


PROBE_TOPIC = "hilsim/probe/{client_id}"  # the bridge's account needs readwrite here (ACL: hilsim/probe/%c)


class LiveBridge:
    """Starts and stops the live bridge's parts around one ``Bridge``."""

    def __init__(self, rt: Any, config: LiveBridgeConfig):
        self.rt = rt.child("bridge")
        self.config = config
        self.store: ReadingStore | None = None
        self.bridge: Bridge | None = None
        self.metrics_port: int | None = None
        self._http: httpx.AsyncClient | None = None
        self._server: asyncio.Server | None = None
        self._task: Any = None

    async def start(self) -> None:
        """Open the store, the HTTP client and /metrics, then run the bridge as a task."""
        cfg = self.config
        # The client first: a malformed broker URL is refused before the store file is created.
        mqtt = LiveMqttClient(cfg.broker_url, cfg.client_id, clean_session=False, username=cfg.username,
                              password=cfg.password, tls=cfg.tls, manual_ack=True)
        self.store = ReadingStore(cfg.db_path)
        pusher = remote = None
        if cfg.pushgateway_url or cfg.remote_write_url:
            self._http = httpx.AsyncClient()
        if cfg.pushgateway_url:
            pusher = ReadingPusher(self.rt, PushgatewayTarget(self._http, cfg.pushgateway_url), job=cfg.job)
        if cfg.remote_write_url:
            remote = RemoteWriter(self.rt, RemoteWriteTarget(self._http, cfg.remote_write_url))
        self.bridge = Bridge(self.rt, mqtt, self.store, topics=cfg.topics, legacy_node=cfg.legacy_node,
                             pusher=pusher, probe_topic=PROBE_TOPIC.format(client_id=cfg.client_id),
                             probe_every=cfg.probe_every, remote=remote)
        if cfg.metrics_port is not None:
            try:
                self._server = await start_metrics_server(self.bridge.exposition, cfg.metrics_host, cfg.metrics_port)
            except OSError as exc:
                raise BackendError(f"cannot serve /metrics on {cfg.metrics_host}:{cfg.metrics_port}: "
                                   f"{exc.strerror or exc}") from exc
            self.metrics_port = self._server.sockets[0].getsockname()[1]
        self.rt.trace("bridge.started", broker=redacted_url(cfg.broker_url), db=cfg.db_path,
                      pushgateway=cfg.pushgateway_url, remote_write=redacted_url(cfg.remote_write_url),
                      metrics_port=self.metrics_port)
        self._task = self.rt.spawn(self.bridge.run(), "bridge")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.bridge is not None:
            await self.bridge.mqtt.disconnect()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._http is not None:
            await self._http.aclose()
        if self.store is not None:
            self.store.close()



def bridge_parts(config: LiveBridgeConfig, made: dict[str, Any] | None = None) -> Build:
    """The bridge's parts, built on a runtime into an exit stack: one process runs them alone
    (``run_live_bridge``) or beside others (``hilsim serve``)."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        live = await start_part(stack, LiveBridge(rt, config))
        if made is not None:
            made["bridge"] = live

    return build


def run_live_bridge(config: LiveBridgeConfig, *, trace_file: IO[str] | None = None,
                    until: float | None = None) -> str:
    """Run the live bridge on the wall clock (for ``until`` seconds, or until SIGINT/SIGTERM); returns why it
    stopped. A malformed broker URL is a ConfigError before anything connects."""
    header = {"run": "live-bridge", "broker": redacted_url(config.broker_url)}
    return run_process("bridge", bridge_parts(config), header=header, trace_file=trace_file, until=until)
