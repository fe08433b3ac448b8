"""Readings into Prometheus at their own time: the bridge's remote-write service.

A Pushgateway keeps only each node's last value, so readings a node buffered through an outage never reach
a graph at the time they were taken. This service sends every stored reading's values, stamped with the
reading's own time (the node's clock; the bridge's clock on arrival when the node's was not set), through
Prometheus remote write. The receiving Prometheus needs an out-of-order window at least as long as the
outages it should absorb.

Memory is bounded: at most ``capacity`` samples wait; beyond that the oldest are dropped and counted
(``bridge_remote_write_dropped``). Failed writes are retried with capped, jittered backoff; a batch the
receiver refuses as malformed (HTTP 400) is dropped and counted rather than retried forever. The encoding and
the HTTP call are the target's (:class:`system.adapters.remote_write.RemoteWriteTarget`): ``async write(series)``
with ``series`` a list of (labels, [(timestamp ms, value), ...]).

Trace: ``remote_write.sent`` (samples), ``remote_write.failed`` (error, retry_in), ``remote_write.dropped``.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from firmware.backoff import next_backoff
from system.decisions.readings import Reading
from system.errors import BackendError, RefusedInput

# The series a reading becomes: the Pushgateway's names (the original dashboard's), with the node as a label.
VALUES = (("temperature", "temperature"), ("humidity", "humidity"), ("RSSI", "wifi_rssi"))
Series = tuple[tuple[tuple[str, str], ...], list[tuple[int, float]]]


class RemoteWriter:
    """Service: queue each stored reading's samples, write them in batches, retry, bound the queue."""

    def __init__(self, rt: Any, target: Any, *, job: str = "bridge", capacity: int = 100_000, batch: int = 2000,
                 base: float = 1.0, cap: float = 60.0):
        self.rt = rt
        self.target = target
        self.job = job
        self.capacity = capacity
        self.batch = batch
        self.base, self.cap = base, cap
        self.queue: deque[tuple[str, str, int, float]] = deque()  # (name, node, ms, value)
        self.sent = self.failures = self.dropped = 0
        self._wake = rt.event()
        self._rng = rt.rng("bridge/remote-write-backoff")

    def offer(self, reading: Reading) -> None:
        """Queue the reading's values at its own time (called by the bridge right after storing it)."""
        taken = reading.ts if reading.clock_set else self.rt.now()
        for name, field in VALUES:
            self.queue.append((name, reading.node, int(taken * 1000), float(getattr(reading, field))))
        overflow = len(self.queue) - self.capacity
        if overflow > 0:
            for _ in range(overflow):
                self.queue.popleft()
            self.dropped += overflow
            self.rt.trace("remote_write.dropped", samples=overflow, reason="queue full")
        self._wake.set()

    def series(self, samples: list[tuple[str, str, int, float]]) -> list[Series]:
        """Group samples by series, each series' samples in time order (remote write wants them so)."""
        grouped: dict[tuple[tuple[str, str], ...], list[tuple[int, float]]] = {}
        for name, node, ms, value in samples:
            labels = (("__name__", name), ("job", self.job), ("node", node))
            grouped.setdefault(labels, []).append((ms, value))
        return [(labels, sorted(points)) for labels, points in grouped.items()]

    async def write_pending(self) -> bool:
        """Write what waits, a batch at a time; True when the queue is empty."""
        while self.queue:
            samples = [self.queue[i] for i in range(min(self.batch, len(self.queue)))]
            try:
                await self.target.write(self.series(samples))
            except RefusedInput as exc:  # the receiver will never take this batch: count it, go on
                self._drop(len(samples), f"refused: {exc}")
                continue
            except BackendError:
                self.failures += 1
                raise
            for _ in samples:
                self.queue.popleft()
            self.sent += len(samples)
            self.rt.trace("remote_write.sent", samples=len(samples))
        return True

    def _drop(self, n: int, reason: str) -> None:
        for _ in range(n):
            self.queue.popleft()
        self.dropped += n
        self.rt.trace("remote_write.dropped", samples=n, reason=reason[:200])

    async def run(self) -> None:
        attempt = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.write_pending()
                attempt = 0
            except BackendError as exc:
                attempt += 1
                wait = next_backoff(attempt, self._rng, base=self.base, cap=self.cap)
                self.rt.trace("remote_write.failed", error=str(exc)[:200], retry_in=wait, pending=len(self.queue))
                await self.rt.sleep(wait)
                self._wake.set()

    def collect(self) -> Iterator[Metric]:
        """The writer's own counters, for the bridge's ``/metrics``."""
        yield GaugeMetricFamily("bridge_remote_write_pending", "Samples waiting to be written.", value=len(self.queue))
        yield CounterMetricFamily("bridge_remote_write_samples", "Samples the receiver took.", value=self.sent)
        yield CounterMetricFamily("bridge_remote_write_failures", "Writes that failed (and are retried).",
                                  value=self.failures)
        yield CounterMetricFamily("bridge_remote_write_dropped", "Samples dropped: queue full or refused.",
                                  value=self.dropped)
