"""The ports: what the services need from the world, as ``typing.Protocol``\\ s.

A service (``system/services/``) is handed objects that fit these; it never imports
the adapters (``system/adapters/``) or the sim models (``sim/``) that implement them::

    port            sim                                           live
    Runtime         sim.kernel.runtime.SimRuntime                 system.adapters.asyncio_runtime.AsyncioRuntime
    ReadingSink     system.adapters.reading_store.ReadingStore (SQLite, in memory in sim)
    FixturesStore   system.adapters.controller_store.Store
    AlertStore      system.adapters.controller_store.Store
    OutboxStore     system.adapters.controller_store.Store (cloud sync)
    JobStore        system.adapters.controller_store.Store (cloud jobs)
    PushTarget      sim.models.push_recorder.RecordingPushTarget  system.adapters.pushgateway.PushgatewayTarget
    RelayBackend    sim.models.sim_relay.SimRelay                   system.adapters.relays.GpiodRelay, SerialRelayBoard,
                                                                    TracedRelay (no hardware)
    HTTP            ``httpx.AsyncClient`` itself: in sim its transport is the simulated web

The MQTT port lives with the rest of MQTT: :class:`system.mqtt.port.MqttPort`.

The protocols are structural: nothing inherits from them. Each says only what the
services call, so a fake in a test needs no more than that.
"""

from __future__ import annotations

import random
from typing import Any, Awaitable, Callable, ContextManager, Iterable, Mapping, Protocol, Sequence

from system.decisions.alerts import Snooze
from system.decisions.events import Alert, AlertRule, Event
from system.decisions.readings import Reading


class Task(Protocol):
    def cancel(self) -> None: ...


class Runtime(Protocol):
    """The runtime API of DESIGN.md; the firmware uses the same subset."""

    start: float

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...

    def spawn(self, coro: Awaitable[Any], name: str) -> Task: ...

    def call_later(self, seconds: float, fn: Callable[..., Any], *args: Any) -> None: ...

    def queue(self, maxsize: int = 0) -> Any: ...

    def event(self) -> Any: ...

    def wait_for(self, awaitable: Awaitable[Any], seconds: float) -> Awaitable[Any]: ...

    def rng(self, stream: str) -> random.Random: ...

    def trace(self, kind: str, **fields: Any) -> None: ...

    def child(self, src: str) -> "Runtime": ...


class ReadingSink(Protocol):
    """Where the bridge stores readings: ``add`` is False for a reading stored before (a duplicate);
    the adds inside ``transaction()`` are committed together, or not at all; ``identity_runs()`` gives
    the stored ``(node, boot, seq)`` as runs ``(node, boot, first, last)`` in that order (the bridge's
    gap counts start from them)."""

    def add(self, reading: Reading, received: float) -> bool: ...

    def transaction(self) -> ContextManager[None]: ...

    def identity_runs(self) -> Iterable[tuple[str, int, int, int]]: ...


class FixturesStore(Protocol):
    """What the scraper needs from the store."""

    def stored_events(self) -> list[Event]: ...

    def apply(self, reconciliation: Any) -> Any: ...


class AlertStore(FixturesStore, Protocol):
    """What the scheduler and the controller need from the store (the single source of truth)."""

    metrics: Any

    def on_change(self, listener: Callable[[], None]) -> None: ...

    def event(self, key: str) -> Event | None: ...

    def create_event(self, title: str, start: float, kind: str = ..., key: str | None = None) -> Event: ...

    def policies(self, defaults: Mapping[str, Sequence[AlertRule]]) -> dict[str, tuple[AlertRule, ...]]: ...

    def extras(self) -> dict[str, tuple[AlertRule, ...]]: ...

    def add_extra(self, event_key: str, before: float, duration: float = 600.0) -> None: ...

    def snoozes(self) -> list[Snooze]: ...

    def add_snooze(self, snooze: Snooze) -> None: ...

    def settled(self) -> set[tuple[str, float]]: ...

    def open_firings(self) -> list[Any]: ...

    def record_fired(self, alert: Alert, now: float) -> bool: ...

    def record_skipped(self, alert: Alert, reason: str, now: float) -> bool: ...

    def record_ended(self, alert_id: str, at: float, now: float) -> bool: ...

    def close(self) -> None: ...


class OutboxStore(Protocol):
    """What cloud sync needs: the outbox in commit order, its position, and a consistent snapshot."""

    def outbox_pending(self, limit: int = 100) -> list[Any]: ...

    def outbox_ack(self, up_to_id: int) -> int: ...

    def outbox_position(self) -> tuple[int, int]: ...

    def snapshot(self) -> tuple[int, dict[str, dict[str, dict]]]: ...

    def on_change(self, listener: Callable[[], None]) -> None: ...


class JobStore(AlertStore, Protocol):
    """What the job agent needs: one transaction around a job's effect and its id, and the jobs seen."""

    def atomic(self) -> ContextManager[None]: ...

    def add_job(self, job_id: str, kind: str, document: dict, now: float) -> bool: ...

    def finish_job(self, job_id: str, status: str, result: dict | None, now: float) -> None: ...

    def job(self, job_id: str) -> Any: ...

    def remove_extra(self, event_key: str, before: float) -> bool: ...


class PushTarget(Protocol):
    """A Prometheus push endpoint; failures raise :class:`~system.errors.BackendError`."""

    async def push(self, job: str, body: str) -> None: ...


class RelayBackend(Protocol):
    """The alarm light's relay; a command the hardware does not obey raises ``BackendError``."""

    async def on(self) -> None: ...

    async def off(self) -> None: ...

    def close(self) -> None: ...
