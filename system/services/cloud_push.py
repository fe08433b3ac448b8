"""What the controller pushes to the cloud besides its store: counters with the heartbeat, and log lines.

- :class:`CloudMetricsTarget` is a push target (``async push(job, body)``, the port the
  Pushgateway adapter also fills): the controller's counters and heartbeat in the Prometheus text
  format, posted to ``<cloud>/api/device/<name>/metrics``. The cloud keeps them over time and
  raises the heartbeat alarm from them.
- :class:`LogShipper` keeps log and trace lines in a bounded buffer and ships them in batches; while
  the cloud is out of reach the oldest lines are dropped once the buffer is full, and the number
  dropped travels with the next batch (counted, never silent).
- :class:`CountBoth` counts into two :class:`~system.services.metrics.Metrics`, so the Pushgateway and
  the cloud each get every count once, whichever of them was reachable.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import httpx

from system.errors import BackendError


class CloudMetricsTarget:
    """Push target: the cloud's metrics endpoint for ``device``."""

    def __init__(self, client: httpx.AsyncClient, url: str, device: str, token: str):
        self.client = client
        self.url = url.rstrip("/") + f"/api/device/{device}/metrics"
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/plain; version=0.0.4"}

    async def push(self, job: str, body: str) -> None:
        try:
            response = await self.client.post(self.url, content=body.encode("utf-8"), headers=self.headers)
        except httpx.HTTPError as exc:
            raise BackendError(f"cloud unreachable: {type(exc).__name__}") from exc
        if response.status_code != 200:
            raise BackendError(f"cloud refused the metrics: HTTP {response.status_code} {response.text[:200]}")


class CountBoth:
    """``count(name, n)`` into each of ``metrics`` (the Pushgateway's and the cloud's counters)."""

    def __init__(self, *metrics: Any):
        self.metrics = metrics

    def count(self, name: str, n: int = 1) -> None:
        for m in self.metrics:
            m.count(name, n)


class LogShipper:
    """Service: ships ``add``-ed lines to the cloud every ``every`` seconds (or when ``batch`` are waiting).

    At most ``capacity`` lines wait; beyond that the oldest go and ``dropped`` counts them.
    """

    def __init__(self, rt: Any, client: httpx.AsyncClient, url: str, device: str, token: str, *,
                 capacity: int = 5000, batch: int = 500, every: float = 60.0):
        self.rt = rt
        self.client = client
        self.url = url.rstrip("/") + f"/api/device/{device}/logs"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.buffer: deque = deque()
        self.capacity = capacity
        self.batch = batch
        self.every = every
        self.dropped = 0  # dropped since the last shipped batch
        self.dropped_total = 0
        self.shipped = 0
        self._full = rt.event()

    def add(self, at: float, kind: str, line: str) -> None:
        """Queue one line (never blocks, never raises)."""
        if len(self.buffer) >= self.capacity:
            self.buffer.popleft()
            self.dropped += 1
            self.dropped_total += 1
        self.buffer.append({"at": at, "kind": kind, "line": line[:2000]})
        if len(self.buffer) >= self.batch:
            self._full.set()

    async def ship_once(self) -> bool:
        """Ship what is waiting, batch by batch; False if the cloud could not be reached."""
        while self.buffer or self.dropped:
            lines = [self.buffer[i] for i in range(min(self.batch, len(self.buffer)))]
            dropped = self.dropped
            try:
                response = await self.client.post(self.url, json={"lines": lines, "dropped": dropped},
                                                  headers=self.headers)
            except httpx.HTTPError as exc:
                self.rt.trace("logs.failed", error=type(exc).__name__, waiting=len(self.buffer))
                return False
            if response.status_code != 200:
                self.rt.trace("logs.failed", error=f"HTTP {response.status_code}", waiting=len(self.buffer))
                return False
            # Lines added while the batch was under way may have pushed some of it out already.
            sent = {id(line) for line in lines}
            while self.buffer and id(self.buffer[0]) in sent:
                self.buffer.popleft()
            self.dropped -= dropped
            self.shipped += len(lines)
        return True

    async def run(self) -> None:
        while True:
            self._full.clear()
            try:
                await self.rt.wait_for(self._full.wait(), self.every)
            except TimeoutError:
                pass
            await self.ship_once()
