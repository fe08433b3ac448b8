"""The live controller process: the same ``Controller`` as in sim, on asyncio and real parts.

Relay backends are named on the command line: ``sim`` (no hardware: edges only go
to the trace), ``gpiod:CHIP:LINE[:active-low]`` (libgpiod v2), ``serial:URL``
(a serial relay board, any pyserial URL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

import httpx

from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.mqtt_client import LiveMqttClient
from system.services.controller import CloudLink, Controller
from system.adapters.pushgateway import PushgatewayTarget
from system.adapters.relays import GpiodRelay, SerialRelayBoard
from sim.relay import SimRelay
from system.services.relay import LightPattern
from system.adapters.store import Store
from system.services.scraper import Source
from system.trace import LineFlushed, Trace


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
    mqtt_url: str | None = None


def parse_relay(spec: str) -> tuple[str, dict]:
    """``sim`` | ``gpiod:CHIP:LINE[:active-low]`` | ``serial:URL`` -> (kind, options); ValueError otherwise."""
    kind, _, rest = spec.partition(":")
    if kind == "sim" and not rest:
        return "sim", {}
    if kind == "gpiod":
        parts = rest.split(":")
        if len(parts) in (2, 3) and parts[1].isdigit() and (len(parts) == 2 or parts[2] == "active-low"):
            return "gpiod", {"chip": parts[0], "line": int(parts[1]), "active_low": len(parts) == 3}
    if kind == "serial" and rest:
        return "serial", {"url": rest}
    raise ValueError(f"relay {spec!r}: use sim, gpiod:/dev/gpiochip0:17[:active-low] or serial:/dev/ttyUSB0")


def relay_backend(spec: str, rt: Any) -> Any:
    """Build and open the relay backend named by ``spec`` (BackendError if the hardware is missing)."""
    kind, options = parse_relay(spec)
    if kind == "sim":
        return SimRelay(rt)
    backend = GpiodRelay(**options) if kind == "gpiod" else SerialRelayBoard(options["url"])
    backend.open()
    return backend


class _NoPush:
    """Where no push endpoint is configured, counters are traced (metrics.pushed) and dropped."""

    async def push(self, job: str, body: str) -> None:
        return None


class _LogTap:
    """A trace sink that also hands every line to the log shipper (once the controller made one)."""

    def __init__(self, sink: IO[str] | None, epoch: float):
        self.sink = LineFlushed(sink) if sink else None
        self.epoch = epoch
        self.shipper = None

    def write(self, text: str) -> None:
        if self.sink is not None:
            self.sink.write(text)
        if self.shipper is not None:
            try:
                record = json.loads(text)
            except ValueError:
                return
            self.shipper.add(self.epoch + float(record.get("t", 0.0)), str(record.get("kind", "")), text.rstrip("\n"))


async def _serve(rt: AsyncioRuntime, config: LiveControllerConfig, tap: _LogTap | None = None) -> None:
    ctl = rt.child("controller")
    if tap is not None:
        tap.epoch = rt.start  # trace times count from here
    # Trace times count from the start of the run; this line ties them to the wall clock.
    ctl.trace("controller.started", epoch=rt.start, relay=config.relay, fixtures=config.fixtures_url,
              push=config.push_url)
    async with httpx.AsyncClient(timeout=30.0, follow_redirects=True) as client:
        push = PushgatewayTarget(client, config.push_url) if config.push_url else _NoPush()
        source = Source(config.fixtures_url, format=config.fixtures_format) if config.fixtures_url else None
        mqtt = None
        if config.cloud is not None and config.mqtt_url:
            mqtt = LiveMqttClient(config.mqtt_url, f"controller-{config.cloud.name}", clean_session=False)
        controller = Controller(rt, store=Store(config.db), relay_backend=relay_backend(config.relay, ctl), push_target=push,
                                client=client, source=source, pattern=config.pattern,
                                scrape_every=config.scrape_every, push_every=config.push_every,
                                cloud=config.cloud, mqtt=mqtt)
        if controller.logs is not None and tap is not None:
            tap.shipper = controller.logs
        tasks = [rt.spawn(service(), name) for name, service in controller.services()]
        try:
            await rt.event().wait()  # run until stopped
        finally:
            for task in tasks:
                task.cancel()
            controller.close()


def run_live_controller(config: LiveControllerConfig, *, trace_file: IO[str] | None = None,
                        until: float | None = None) -> None:
    """Run the controller on the wall clock (for ``until`` seconds, or until interrupted)."""
    tap = _LogTap(trace_file, 0.0)
    trace = Trace({"run": "live-controller", "db": config.db}, sink=tap)
    rt = AsyncioRuntime(trace=trace)
    rt.run(_serve(rt, config, tap), until=until)
