"""``hilsim serve``: several live services in one process, on one runtime, with a /healthz each.

The services are the same parts their own commands run (``broker_parts``, ``cloud_parts``, ``bridge_parts``,
``controller_parts``), built in that order into one exit stack by the one process helper, so a signal stops
them in reverse order: the controller and the bridge first (their stores closed, nothing half-written), the
broker last. Each service answers ``GET /healthz`` on its own address with a small JSON document. Under
systemd (``NOTIFY_SOCKET`` set) the process says ``READY=1`` once every service runs, ``WATCHDOG=1`` at half
the ``WATCHDOG_USEC`` interval while the event loop is alive, and ``STOPPING=1`` on the way out.
"""

from __future__ import annotations

import json
import os
import socket
import time
from urllib.parse import urlparse
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Callable, IO

from hilsim.wiring.live_bridge import bridge_parts
from hilsim.wiring.live_broker import broker_parts
from hilsim.wiring.live_cloud import cloud_parts
from hilsim.wiring.live_controller import controller_parts
from hilsim.wiring.process import Build, run_process, spawn_service
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.controller_store import Store
from system.decisions.alerts import plan_alerts
from system.decisions.localtime import DEFAULT_TZ, format_local
from system.adapters.metrics_http import start_metrics_server
from system.errors import BackendError

# Each service's parts; the broker and the bridge also leave themselves in ``made`` (the drain and the doors).
PARTS: dict[str, Callable[[Any, dict[str, Any]], Build]] = {
    "broker": lambda settings, made: broker_parts(settings, made=made),
    "cloud": lambda settings, made: cloud_parts(settings),
    "bridge": lambda settings, made: bridge_parts(settings, made=made),
    "controller": lambda settings, made: controller_parts(settings),
}
ORDER = ("broker", "cloud", "bridge", "controller")


def sd_notify(message: str, environ: dict[str, str] | None = None) -> bool:
    """Tell systemd ``message`` (``READY=1`` ...) on ``$NOTIFY_SOCKET``; False when not run by systemd."""
    path = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET")
    if not path:
        return False
    address = "\0" + path[1:] if path.startswith("@") else path  # '@': the abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)
    return True


@dataclass(frozen=True)
class Served:
    """One service to run: its settings (what its own command builds) and where its /healthz listens."""

    name: str
    settings: Any
    health_host: str
    health_port: int


def _health(name: str, started: float, trace_seen: dict[str, float]) -> Callable[[], str]:
    def render() -> str:
        last = trace_seen.get(name)
        return json.dumps({"service": name, "status": "ok", "up_seconds": round(time.time() - started, 1),
                           "last_event_seconds_ago": None if last is None else round(time.time() - last, 1)})
    return render


async def _start_health(rt: AsyncioRuntime, stack: AsyncExitStack, served: Served,
                        seen: dict[str, float]) -> str:
    try:
        server = await start_metrics_server(_health(served.name, time.time(), seen), served.health_host,
                                            served.health_port, path="/healthz", content_type="application/json")
    except OSError as exc:
        raise BackendError(f"{served.name}: cannot serve /healthz on {served.health_host}:{served.health_port}: "
                           f"{exc.strerror or exc}") from exc

    async def close() -> None:
        server.close()
        await server.wait_closed()
    stack.push_async_callback(close)
    port = server.sockets[0].getsockname()[1]
    return f"http://{served.health_host}:{port}/healthz"


async def _watchdog(rt: AsyncioRuntime, every: float) -> None:
    while True:
        sd_notify("WATCHDOG=1")
        await rt.sleep(every)


def plan_line(db: str, policies: Any, now: float, tz: str = DEFAULT_TZ) -> str | None:
    """``controller: N alerts planned; the light goes on at <local time> (<event>)`` from the store at ``db``,
    or None while it holds no event."""
    store = Store(db)
    try:
        plan = plan_alerts(store.stored_events(), store.policies(policies), store.extras(), store.snoozes(),
                           store.settled(), now)
        coming = sorted((a for a in plan.alerts if a.until > now), key=lambda a: a.at)
        if not store.stored_events():
            return None
        if not coming:
            return "controller: no alert planned (no coming event)"
        first = coming[0]
        event = store.event(first.event_key)
        state = "is on until" if first.at <= now else "goes on at"
        when = format_local(first.until if first.at <= now else first.at, tz)
        return (f"controller: {len(coming)} alerts planned; the light {state} {when} "
                f"({event.title if event else first.event_key})")
    finally:
        store.close()


def _announce_plan_once(rt: AsyncioRuntime, settings: Any, announce: Callable[[str], None]) -> Callable[[dict], None]:
    """A trace listener: after the controller's first scrape result, the plan in one line (once)."""
    done: list[bool] = []

    def listen(record: dict) -> None:
        if done or not str(record.get("kind", "")).startswith(("fixture.", "scrape.", "source.")):
            return
        done.append(True)
        rt.call_later(0.5, lambda: _say_plan(settings, announce))  # after the scrape's commit
    return listen


def _say_plan(settings: Any, announce: Callable[[str], None]) -> None:
    line = plan_line(settings.db, settings.policies, time.time())
    if line:
        announce(line)


def _own_accounts(services: list[Served]) -> dict[str, str]:
    """The broker accounts of the services in this process (the bridge's, the cloud's, the controller's)."""
    accounts = {}
    for served in services:
        settings = served.settings
        if served.name == "bridge":
            accounts["bridge"] = settings.username or settings.client_id
        url = getattr(settings, "mqtt_url", None)
        if served.name in ("cloud", "controller") and url:
            accounts[served.name] = urlparse(url).username or ""
    return accounts


async def _open_when_subscribed(rt: AsyncioRuntime, broker: Any, bridge: Any, timeout: float = 30.0) -> None:
    """Let the nodes in once the bridge is subscribed: nothing they publish goes to a broker without it."""
    subscribed = rt.event()
    bridge.bridge.on_subscribed = subscribed.set
    try:
        await rt.wait_for(subscribed.wait(), timeout)
    except TimeoutError:
        rt.child("serve").trace("serve.bridge_late", waited=timeout)  # open anyway: the nodes buffer meanwhile
    broker.admit_only(None)


async def _drain(rt: AsyncioRuntime, broker: Any, bridge: Any, keep: frozenset[str], timeout: float = 10.0) -> None:
    """Before a stop: the embedded broker keeps sessions in memory, so what it took from the nodes must reach
    the bridge's store first. The broker takes no more (the nodes keep what it has not acknowledged), then the
    bridge drains what was queued for it."""
    broker.quiesce(keep)
    drained = await bridge.bridge.drain(timeout)
    rt.child("serve").trace("serve.drained", ok=drained)


def serve_parts(services: list[Served], announce: Callable[[str], None]) -> Build:
    """Every service's parts, in start order, then readiness; ``announce`` gets one line per service."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        seen: dict[str, float] = {}
        rt.on_trace(lambda record: seen.__setitem__(str(record.get("src", "")).split("/")[0], time.time()))
        stack.callback(sd_notify, "STOPPING=1")
        made: dict[str, Any] = {}
        inside = _own_accounts(services)
        for served in sorted(services, key=lambda s: ORDER.index(s.name)):
            await PARTS[served.name](served.settings, made)(rt, stack)
            if served.name == "broker" and "bridge" in inside:
                made["broker"].admit_only(frozenset(inside.values()))  # before anything can await
            if served.name == "bridge" and "broker" in made:
                await _open_when_subscribed(rt, made["broker"], made["bridge"])
            url = await _start_health(rt, stack, served, seen)
            announce(f"{served.name}: running; health {url}")
            if served.name == "controller":
                _say_plan(served.settings, announce)  # what a store from an earlier run already holds
                rt.on_trace(_announce_plan_once(rt, served.settings, announce))
        if "broker" in made and "bridge" in made:
            # The first thing a stop does; the services in this process keep their connections meanwhile.
            stack.push_async_callback(_drain, rt, made["broker"], made["bridge"], frozenset(inside.values()))
        watchdog = os.environ.get("WATCHDOG_USEC")
        if watchdog and watchdog.isdigit() and int(watchdog) > 0:
            await spawn_service(rt, stack, _watchdog(rt, int(watchdog) / 2e6), "serve/watchdog")
        sd_notify("READY=1")
        rt.child("serve").trace("serve.ready", services=[s.name for s in services])

    return build


def run_serve(services: list[Served], *, config_path: str, announce: Callable[[str], None],
              trace_file: IO[str] | None = None, until: float | None = None) -> str:
    """Run ``services`` until SIGINT/SIGTERM (or ``until`` seconds); returns why it stopped. State changes go to
    stderr as JSON lines."""
    return run_process("serve", serve_parts(services, announce), header={"run": "serve", "config": config_path},
                       trace_file=trace_file, until=until, json_logs=True)
