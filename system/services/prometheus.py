"""Prometheus both ways for the bridge, through ``prometheus_client``: what it exposes and what it pushes.

Everything is written by ``prometheus_client``'s exposition (``generate_latest``), from
custom collectors that compute their samples from the service's own state when asked.
So a scrape or a push renders the current values once; storing a reading only updates
plain counters (nothing is rendered per reading). Each service owns its own
``CollectorRegistry``, never the library's global one: two bridges in one process (or
one sim run after another) never see each other's series, and nothing here reads the
wall clock (no ``_created`` series), so sim stays deterministic.

* ``ReadingGauges`` is the original project's push body: gauges ``temperature``,
  ``humidity`` and ``RSSI`` of one reading (no timestamps: a Pushgateway refuses them).
* ``LagHistogram`` counts how late readings arrive; it is summed into cumulative
  buckets only when collected.
* ``ReadingPusher`` is the service that pushes each node's latest reading to
  ``POST <pushgateway>/metrics/job/<job>`` (one job per node). A failed push is
  counted, traced (``metrics.failed``) and retried with backoff; the readings are in
  SQLite already, so a Pushgateway that is down loses nothing (a gauge only ever
  shows the latest value, so the pusher keeps only the latest reading per node).
  It is itself a collector of its push counters, which the bridge's ``/metrics`` shows.

The push target is a port with one method, ``async push(job, body)`` raising
``BackendError``: ``PushgatewayTarget`` (``system/adapters/pushgateway.py``) live,
``RecordingPushTarget`` (``sim/models/push_recorder.py``) in sim.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Callable, Iterator

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from firmware.backoff import next_backoff
from system.decisions.readings import Reading

# What generate_latest writes (Prometheus text format 0.0.4, which a Pushgateway takes).
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 86400.0)


def exposition(collector: Collector) -> str:
    """The text exposition of what ``collector`` (a registry or one collector) holds now."""
    return generate_latest(collector).decode("utf-8")


class ReadingGauges:
    """Collector: the original push body, one reading's ``temperature``, ``humidity`` and ``RSSI`` gauges."""

    def __init__(self, reading: Reading):
        self.reading = reading

    def collect(self) -> Iterator[Metric]:
        r = self.reading
        yield GaugeMetricFamily("temperature", "Air temperature in degrees Celsius (DHT22).", value=r.temperature)
        yield GaugeMetricFamily("humidity", "Relative humidity in percent (DHT22).", value=r.humidity)
        yield GaugeMetricFamily("RSSI", "WiFi signal strength in dBm (0: not connected).", value=r.wifi_rssi)


class LagHistogram:
    """Observations counted in the first bucket that holds them; cumulative (Prometheus) buckets on collect.

    Not ``prometheus_client.Histogram``: that one stamps a ``_created`` series with the
    wall clock, which a sim run must not read.
    """

    def __init__(self, buckets: tuple[float, ...] = LAG_BUCKETS):
        self.buckets = tuple(sorted(buckets))
        self._counts = [0] * (len(self.buckets) + 1)  # the last one: above every bound (+Inf only)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self._counts[bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def family(self, name: str, help: str) -> HistogramMetricFamily:
        cumulative, running = [], 0
        for bound, n in zip((*self.buckets, float("inf")), self._counts):
            running += n
            cumulative.append((floatToGoString(bound), running))
        return HistogramMetricFamily(name, help, buckets=cumulative, sum_value=self.total)


class ReadingPusher:
    """Service: push each node's latest stored reading to the push target, retrying failures.

    ``offer(reading)`` is called by the bridge after storing; ``run()`` pushes whatever
    is pending, rendering each node's body once per push. ``job`` maps a node to its
    Pushgateway job (default: the node id; a template such as ``"esp32-{node}"`` or a
    fixed name also works).
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
                await self.target.push(job, exposition(ReadingGauges(reading)))
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

    def collect(self) -> Iterator[Metric]:
        """The pusher's own counters, for the bridge's ``/metrics``."""
        yield GaugeMetricFamily("bridge_push_pending", "Nodes whose latest reading is not pushed yet.",
                                value=len(self.pending))
        yield CounterMetricFamily("bridge_pushes", "Pushes the Pushgateway accepted.", value=self.pushes)
        yield CounterMetricFamily("bridge_push_failures", "Pushes that failed (and are retried).",
                                  value=self.failures)


def _older(a: Reading, b: Reading) -> bool:
    if a.seq is not None and b.seq is not None:
        return a.seq < b.seq
    return a.clock_set and b.clock_set and a.ts < b.ts
