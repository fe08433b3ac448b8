"""The push target in the sim world: a Pushgateway that keeps every push; ``down`` makes pushes fail."""

from __future__ import annotations

from typing import Any

from system.errors import BackendError


class RecordingPushTarget:
    """Sim push target: keeps every ``(time, job, body)``; ``down`` makes pushes fail (a fault)."""

    def __init__(self, rt: Any):
        self.rt = rt
        self.pushes: list[tuple[float, str, str]] = []
        self.down = False

    async def push(self, job: str, body: str) -> None:
        if self.down:
            raise BackendError("push target unreachable")
        self.pushes.append((self.rt.now(), job, body))

    def push_times(self) -> list[float]:
        return [t for t, _job, _body in self.pushes]
