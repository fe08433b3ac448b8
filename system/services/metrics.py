"""The controller's counters, pushed every period in the Prometheus text format, then reset.

``Metrics`` is a ``prometheus_client`` collector: the collector service renders it
from its own ``CollectorRegistry`` (never the library's global one) with
``generate_latest``, once per push.

Counters count what happened *since the last successful push* (as the original
controller did), so they are exposed as gauges; a failed push keeps them, so nothing
is lost, and the next push carries the sum. The heartbeat ``RPI_BACKEND_STATUS 1``
goes with every push; whoever receives the pushes runs :class:`HeartbeatWatch`, which
raises an alarm (``heartbeat.missed``) when no push arrived for three periods.

The push target is a port with one method, ``async push(job, body)``:
:class:`RecordingPushTarget` in sim, :class:`PushgatewayTarget` live (a Prometheus
Pushgateway, or any HTTP endpoint taking a POST).
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator, Mapping

from prometheus_client import CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric

from system.decisions.heartbeat import MISSED_PERIODS, PERIOD, heartbeat_alarm
from system.errors import BackendError
from system.services.prometheus import exposition

COUNTERS: dict[str, str] = {
    "events_added": "Events added since the last push.",
    "events_updated": "Events rescheduled, reinstated or edited since the last push.",
    "events_cancelled": "Events cancelled since the last push.",
    "alerts_started": "Alerts that turned the light on since the last push.",
    "alerts_stopped": "Alerts that ended since the last push.",
    "alerts_snoozed": "Alerts snoozed by a user since the last push.",
    "relay_failures": "Relay commands that failed (and were retried) since the last push.",
    "scrapes": "Fixtures scrapes attempted since the last push.",
    "scrape_failed": "Fixtures scrapes that failed after their retries since the last push.",
    "input_refused": "Fixtures pages or feeds refused as unreadable since the last push.",
    "source_suspicious": "Scrapes that changed nothing because the source looked unhealthy.",
}
HEARTBEAT = "RPI_BACKEND_STATUS"
HEARTBEAT_HELP = "1 while the controller's backend runs."


class Metrics:
    """In-process counters; ``count`` is called by the store and the scheduler.

    As a collector it yields every counter as a gauge (a count since the last push)
    and the heartbeat ``RPI_BACKEND_STATUS 1``.
    """

    def __init__(self) -> None:
        self.values: dict[str, int] = dict.fromkeys(COUNTERS, 0)

    def count(self, name: str, n: int = 1) -> None:
        if name not in self.values:
            raise KeyError(f"unknown counter {name!r}; known: {', '.join(COUNTERS)}")
        self.values[name] += n

    def snapshot(self) -> dict[str, int]:
        return dict(self.values)

    def subtract(self, pushed: Mapping[str, int]) -> None:
        """Remove what a successful push carried (counts made during the push stay)."""
        for name, n in pushed.items():
            self.values[name] -= n

    def collect(self) -> Iterator[Metric]:
        for name, value in self.values.items():
            yield GaugeMetricFamily(name, COUNTERS[name], value=value)
        yield GaugeMetricFamily(HEARTBEAT, HEARTBEAT_HELP, value=1)


class MetricsCollector:
    """Service: every ``period`` seconds, render the counters, push them, reset on success.

    ``registry`` is this service's own ``CollectorRegistry``, holding ``metrics``.
    """

    def __init__(self, rt: Any, metrics: Metrics, target: Any, *, job: str = "controller", period: float = PERIOD):
        self.rt = rt
        self.metrics = metrics
        self.target = target
        self.job = job
        self.period = period
        self.pushes = 0
        self.failures = 0
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(metrics)
        self._rendered: dict[tuple[int, ...], str] = {}  # recent bodies, by the counts they show

    def _body(self, snap: Mapping[str, int]) -> str:
        # Most periods count the same few things (nothing, or one scrape): the same counts render to the same
        # text, and a season in sim pushes 87,000 times.
        counts = tuple(snap.values())
        body = self._rendered.get(counts)
        if body is None:
            if len(self._rendered) >= 32:
                self._rendered.clear()
            body = self._rendered[counts] = exposition(self.registry)
        return body

    async def push_once(self) -> bool:
        """Push the current counters; True (and counters reset) when the target took them."""
        snap = self.metrics.snapshot()  # with no await in between, the body carries exactly these counts
        body = self._body(snap)
        try:
            await self.target.push(self.job, body)
        except BackendError as exc:
            self.failures += 1
            self.rt.trace("metrics.failed", job=self.job, error=str(exc)[:200])
            return False
        self.metrics.subtract(snap)
        self.pushes += 1
        self.rt.trace("metrics.pushed", job=self.job, **snap)
        return True

    async def run(self) -> None:
        while True:
            await self.rt.sleep(self.period)
            await self.push_once()


class HeartbeatWatch:
    """Service on the receiving side: checks the push times every period; traces
    ``heartbeat.missed`` once when three periods pass without a push, and
    ``heartbeat.restored`` when pushes come back."""

    def __init__(self, rt: Any, push_times: Any, *, period: float = PERIOD):
        self.rt = rt
        self.push_times = push_times  # a callable returning the times pushes arrived
        self.period = period
        self.alarmed = False
        self.alarms = 0

    def check(self, since: float) -> bool:
        times = self.push_times()
        alarm = heartbeat_alarm(times, self.rt.now(), self.period, since=since)
        if alarm and not self.alarmed:
            self.alarms += 1
            self.rt.trace("heartbeat.missed", last=max(times) if times else None, periods=MISSED_PERIODS)
        elif not alarm and self.alarmed:
            self.rt.trace("heartbeat.restored")
        self.alarmed = alarm
        return alarm

    async def run(self) -> None:
        since = self.rt.now()
        while True:
            await self.rt.sleep(self.period)
            self.check(since)
