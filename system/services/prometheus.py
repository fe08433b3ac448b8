"""Prometheus both ways for the bridge: the text exposition format, and pushes to a Pushgateway.

* ``render(families)`` writes the text exposition format (version 0.0.4) that
  Prometheus scrapes from the bridge's ``/metrics`` and a Pushgateway accepts.
* ``reading_gauges(reading)`` is the original project's push body: gauges
  ``temperature``, ``humidity`` and ``RSSI`` (no timestamps: a Pushgateway refuses them).
* ``ReadingPusher`` is the service that pushes each node's latest reading to
  ``POST <pushgateway>/metrics/job/<job>`` (one job per node). A failed push is
  counted, traced (``metrics.failed``) and retried with backoff; the readings are in
  SQLite already, so a Pushgateway that is down loses nothing (a gauge only ever
  shows the latest value, so the pusher keeps only the latest reading per node).

The push target is a port with one method, ``async push(job, body)`` raising
``BackendError``: ``PushgatewayTarget`` over an injected ``httpx.AsyncClient``
live, ``RecordingPushTarget`` in sim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping
from urllib.parse import quote

import httpx

from firmware.backoff import next_backoff
from system.errors import BackendError
from system.decisions.readings import Reading

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0)


@dataclass(frozen=True)
class Family:
    """One metric family: ``samples`` are ``(suffix, labels, value)``, e.g. ``("_bucket", {"le": "1"}, 3)``."""

    name: str
    kind: str  # "gauge", "counter", "histogram", "untyped"
    help: str
    samples: tuple[tuple[str, Mapping[str, str], float], ...] = ()


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without a point, ``+Inf``, ``-Inf``, ``NaN``."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)


def _label_value(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render(families: Iterable[Family]) -> str:
    """The text exposition of ``families``, in the order given (sort them for stable output)."""
    lines: list[str] = []
    for fam in families:
        lines.append(f"# HELP {fam.name} {fam.help.replace(chr(92), chr(92) * 2).replace(chr(10), chr(92) + 'n')}")
        lines.append(f"# TYPE {fam.name} {fam.kind}")
        for suffix, labels, value in fam.samples:
            text = ",".join(f'{k}="{_label_value(str(v))}"' for k, v in labels.items())
            lines.append(f"{fam.name}{suffix}{{{text}}} {format_value(value)}" if text
                         else f"{fam.name}{suffix} {format_value(value)}")
    return "\n".join(lines) + "\n"


def reading_gauges(reading: Reading) -> str:
    """The push body of the original project: the reading's three gauges."""
    return render([
        Family("temperature", "gauge", "Air temperature in degrees Celsius (DHT22).",
               (("", {}, reading.temperature),)),
        Family("humidity", "gauge", "Relative humidity in percent (DHT22).", (("", {}, reading.humidity),)),
        Family("RSSI", "gauge", "WiFi signal strength in dBm (0: not connected).", (("", {}, reading.wifi_rssi),)),
    ])


@dataclass
class Histogram:
    """A cumulative histogram (Prometheus semantics: each bucket counts observations <= its bound)."""

    buckets: tuple[float, ...] = LAG_BUCKETS
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    count: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.count += 1

    def family(self, name: str, help: str) -> Family:
        samples = [("_bucket", {"le": repr(float(b))}, n) for b, n in zip(self.buckets, self.counts)]
        samples += [("_bucket", {"le": "+Inf"}, self.count), ("_sum", {}, self.total), ("_count", {}, self.count)]
        return Family(name, "histogram", help, tuple(samples))


class ReadingPusher:
    """Service: push each node's latest stored reading to the push target, retrying failures.

    ``offer(reading)`` is called by the bridge after storing; ``run()`` pushes whatever
    is pending. ``job`` maps a node to its Pushgateway job (default: the node id; a
    template such as ``"esp32-{node}"`` or a fixed name also works).
    """

    def __init__(self, rt: Any, target: Any, *, job: str | Callable[[str], str] = "{node}",
                 base: float = 1.0, cap: float = 60.0):
        self.rt = rt
        self.target = target
        self.job = job if callable(job) else (lambda node, template=job: template.format(node=node))
        self.base, self.cap = base, cap
        self.pending: dict[str, Reading] = {}
        self.pushes = 0
        self.failures = 0
        self._wake = rt.event()
        self._rng = rt.rng("bridge/push-backoff")

    def offer(self, reading: Reading) -> None:
        """Queue ``reading`` as its node's latest value (an older one than pending is ignored)."""
        old = self.pending.get(reading.node)
        if old is None or not _older(reading, old):
            self.pending[reading.node] = reading
        self._wake.set()

    async def push_pending(self) -> bool:
        """Push every pending node once; True when all went through."""
        ok = True
        for node in sorted(self.pending):
            reading = self.pending[node]
            job = self.job(node)
            try:
                await self.target.push(job, reading_gauges(reading))
            except Exception as exc:  # any exporter failure is counted and retried, never fatal
                ok = False
                self.failures += 1
                self.rt.trace("metrics.failed", job=job, node=node, error=repr(exc)[:200])
                continue
            if self.pending.get(node) is reading:  # a newer reading may have come in meanwhile
                del self.pending[node]
            self.pushes += 1
            self.rt.trace("metrics.pushed", job=job, node=node, seq=reading.seq)
        return ok

    async def run(self) -> None:
        attempt = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self.push_pending():
                attempt = 0
                continue
            attempt += 1
            await self.rt.sleep(next_backoff(attempt, self._rng, base=self.base, cap=self.cap))
            self._wake.set()


def _older(a: Reading, b: Reading) -> bool:
    if a.seq is not None and b.seq is not None:
        return a.seq < b.seq
    return a.clock_set and b.clock_set and a.ts < b.ts
