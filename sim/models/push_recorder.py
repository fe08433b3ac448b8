"""The push target in the sim world: a Pushgateway that records pushes; ``down`` makes pushes fail."""

from __future__ import annotations

from array import array
from collections import deque
from typing import Any

from system.errors import BackendError


class RecordingPushTarget:
    """Sim push target: records ``(time, job, body)`` per push; ``down`` makes pushes fail (a fault).

    ``latest`` holds each job's last body (what a real Pushgateway serves); ``pushes`` the
    pushes in order, the last ``history`` of them (None: all); ``push_times()`` every push's
    time. A fleet's world bounds ``history``: a 100-node day pushes 864,000 bodies.
    """

    def __init__(self, rt: Any, *, history: int | None = None):
        self.rt = rt
        self.pushes: deque[tuple[float, str, str]] = deque(maxlen=history)
        self.latest: dict[str, str] = {}
        self._times = array("d")
        self.down = False

    async def push(self, job: str, body: str) -> None:
        if self.down:
            raise BackendError("push target unreachable")
        now = self.rt.now()
        self.pushes.append((now, job, body))
        self.latest[job] = body
        self._times.append(now)

    def push_times(self) -> list[float]:
        return self._times.tolist()
