"""The live controller process: the same ``Controller`` as in sim, on asyncio and real parts.

Relay backends are named on the command line: ``sim`` (no hardware, a simulated light:
edges only go to the trace, ``TracedRelay``), ``gpiod:CHIP:LINE[:active-low]`` (libgpiod v2), ``serial:URL``
(a serial relay board, any pyserial URL).
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import IO, Any, Mapping
from urllib.parse import urlparse

import httpx

from hilsim.wiring.process import Build, run_process, spawn_service
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.file_transport import FileTransport
from system.decisions.alerts import DEFAULT_POLICIES
from system.decisions.events import AlertRule
from system.adapters.aws_cloud import AwsOptions, CloudWatchTarget, DynamoMirror
from system.adapters.mqtt_client import LiveMqttClient, TlsOptions
from system.adapters.ota_supervisor import DirectoryInstaller
from system.services.updater import Updater
from system.decisions.signed_updates import Ed25519PublicKey
from system.trace import VERSION
from system.services.controller import CloudLink, Controller
from system.adapters.pushgateway import PushgatewayTarget
from system.adapters.relays import GpiodRelay, SerialRelayBoard, TracedRelay
from system.services.relay import LightPattern
from system.adapters.controller_store import Store
from system.decisions.mqtt_client_ids import own_client_id
from system.errors import ConfigError
from system.decisions.selectors import SelectorsFile
from system.services.scraper import Source
from system.decisions.redaction import redacted_url


@dataclass(frozen=True)
class LiveControllerConfig:
    db: str
    fixtures_url: str | None = None
    fixtures_format: str = "html"
    relay: str = "sim"
    pattern: LightPattern = LightPattern()
    push_url: str | None = None
    scrape_every: float = 3600.0
    push_every: float = 300.0
    cloud: CloudLink | None = None
    mqtt_url: str | None = None  # the broker carrying the cloud's jobs topics
    mqtt_tls: TlsOptions | None = None  # its CA and this device's certificate (AWS IoT Core needs them)
    ota_root: str | None = None  # where updateApplication installs versions (hilsim supervise runs them)
    update_key: Ed25519PublicKey | None = None  # updates must be signed by it (None: every update is refused)
    page: SelectorsFile | None = None  # a selectors file, already read (None: the sample page's selectors)
    club: tuple[str, ...] = ()  # names the club goes by (empty: the selectors file's, else KAA Gent)
    aws: AwsOptions | None = None  # the cloud is AWS (DynamoDB, CloudWatch), not hilsim cloud
    # When each kind of event lights the light.
    policies: Mapping[str, tuple[AlertRule, ...]] = field(default_factory=lambda: DEFAULT_POLICIES)


def parse_relay(spec: str) -> tuple[str, dict]:
    """``sim`` | ``gpiod:CHIP:LINE[:active-low]`` | ``serial:URL`` -> (kind, options); ConfigError otherwise."""
    kind, _, rest = spec.partition(":")
    if kind == "sim" and not rest:
        return "sim", {}
    if kind == "gpiod":
        parts = rest.split(":")
        if len(parts) in (2, 3) and parts[1].isdigit() and (len(parts) == 2 or parts[2] == "active-low"):
            return "gpiod", {"chip": parts[0], "line": int(parts[1]), "active_low": len(parts) == 3}
    if kind == "serial" and rest:
        return "serial", {"url": rest}
    raise ConfigError(f"{spec!r} is not a relay; use sim, gpiod:/dev/gpiochip0:17[:active-low] or "
                      "serial:/dev/ttyUSB0", source="--relay")


def relay_backend(spec: str, rt: Any) -> Any:
    """Build and open the relay backend named by ``spec`` (BackendError if the hardware is missing)."""
    kind, options = parse_relay(spec)
    if kind == "sim":
        return TracedRelay(rt)
    backend = GpiodRelay(**options) if kind == "gpiod" else SerialRelayBoard(options["url"])
    backend.open()
    return backend


class _NoPush:
    """Where no push endpoint is configured, counters are traced (metrics.pushed) and dropped."""

    async def push(self, job: str, body: str) -> None:
        return None


def ship_trace(rt: AsyncioRuntime, shipper: Any) -> None:
    """Every trace line of this process also goes to the cloud's log (``shipper.add``), with its wall-clock time."""
    trace = rt._trace  # the process's one Trace: the runtime is its only holder
    if trace is None:
        return
    trace.listen(lambda record: shipper.add(rt.start + float(record.get("t", 0.0)), str(record.get("kind", "")),
                                            json.dumps(record, sort_keys=True)))


def _aws_backend(config: LiveControllerConfig) -> tuple[DynamoMirror, CloudWatchTarget] | None:
    if config.aws is None or config.cloud is None:
        return None
    return DynamoMirror(config.aws, config.cloud.name), CloudWatchTarget(config.aws, config.cloud.name)


def controller_parts(config: LiveControllerConfig) -> Build:
    """The controller's parts, built on a runtime into an exit stack: one process runs them alone
    (``run_live_controller``) or beside others (``hilsim serve``)."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        ctl = rt.child("controller")
        client = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0, follow_redirects=True,
                                                                   mounts={"file://": FileTransport()}))
        push = PushgatewayTarget(client, config.push_url) if config.push_url else _NoPush()
        source = None
        if config.fixtures_url:
            page = config.page or SelectorsFile(Source("").selectors)
            source = Source.from_file(config.fixtures_url, page, format=config.fixtures_format,
                                      club=config.club or None)
        store = Store(config.db)
        stack.callback(store.close)
        relay = relay_backend(config.relay, ctl)
        stack.callback(relay.close)
        mqtt = None
        if config.cloud is not None and config.mqtt_url:
            mqtt = LiveMqttClient(config.mqtt_url, own_client_id(urlparse(config.mqtt_url).username, config.cloud.name,
                                                                "controller"), clean_session=False,
                                  tls=config.mqtt_tls)
            stack.push_async_callback(mqtt.disconnect)
        updater = None
        if config.ota_root:
            updater = Updater(ctl, client, DirectoryInstaller(config.ota_root), VERSION, config.update_key)
        controller = Controller(rt, store=store, relay_backend=relay, push_target=push, client=client,
                                source=source, pattern=config.pattern, scrape_every=config.scrape_every,
                                push_every=config.push_every, watch_store=2.0, cloud=config.cloud,
                                mqtt=mqtt, updater=updater, cloud_backend=_aws_backend(config),
                                policies=config.policies)
        if controller.logs is not None:
            ship_trace(rt, controller.logs)
            # Registered before the services, so it runs after they stopped: the last lines go out too.
            stack.push_async_callback(controller.logs.ship_once)
        # Trace times count from the start of the run; this line ties them to the wall clock.
        ctl.trace("controller.started", epoch=rt.start, relay=config.relay, fixtures=redacted_url(config.fixtures_url),
                  push=redacted_url(config.push_url), version=VERSION)
        for name, service in controller.services():
            await spawn_service(rt, stack, service(), name)

    return build


def run_live_controller(config: LiveControllerConfig, *, trace_file: IO[str] | None = None,
                        until: float | None = None) -> str:
    """Run the controller on the wall clock (for ``until`` seconds, or until SIGINT/SIGTERM); returns why it
    stopped. A store from newer code is a ConfigError, missing relay hardware a BackendError, both before
    anything runs."""
    return run_process("controller", controller_parts(config), header={"run": "live-controller", "db": config.db},
                       trace_file=trace_file, until=until)
