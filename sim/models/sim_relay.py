"""The relay in the sim world: state plus a trace of edges, and faults that make it fail."""

from __future__ import annotations

from typing import Any

from system.errors import BackendError


class SimRelay:
    """Sim backend: the relay as state plus a trace of edges.

    ``fail_next`` commands fail, then ``broken`` (a lasting fault) makes every command
    fail; a failed command leaves the state as it was, as a dead relay would.
    """

    def __init__(self, rt: Any):
        self.rt = rt
        self.state = False
        self.edges: list[tuple[float, bool]] = []
        self.commands = 0
        self.fail_next = 0
        self.broken = False

    async def on(self) -> None:
        self._command(True)

    async def off(self) -> None:
        self._command(False)

    def _command(self, state: bool) -> None:
        self.commands += 1
        if self.broken or self.fail_next > 0:
            self.fail_next = max(0, self.fail_next - 1)
            raise BackendError(f"relay did not switch {'on' if state else 'off'}")
        if state != self.state:
            self.state = state
            self.edges.append((self.rt.now(), state))
            self.rt.trace("relay.on" if state else "relay.off")

    def lose_power(self) -> None:
        """No power, no light: the relay drops out (an edge when it was on), whatever its faults."""
        if self.state:
            self.state = False
            self.edges.append((self.rt.now(), False))
            self.rt.trace("relay.off")

    def close(self) -> None:
        pass
