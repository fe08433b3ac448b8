"""The alarm light's relay: one small interface, three backends, and a driver that never leaves it on.

A backend has ``async on()``, ``async off()`` and ``close()`` and raises
:class:`~system.errors.BackendError` when the hardware does not obey:

- :class:`SimRelay` records and traces every edge (``relay.on`` / ``relay.off``); sim
  faults make it fail.
- :class:`GpiodRelay` drives one Linux GPIO line through the libgpiod v2 Python API
  (3.3 V closes the relay: active-high by default, active-low configurable).
- :class:`SerialRelayBoard` writes a configurable command per state over pyserial.

:class:`RelayDriver` sits between the scheduler and a backend. The scheduler only
states what it wants (``set(True)`` / ``set(False)``); the driver's service loop makes
the backend follow, plays the light pattern (steady or blinking, timed by the runtime),
retries a failing backend with backoff (tracing ``relay.failed``), and keeps commanding
*off* until the backend confirms it, so an alert's end always turns the light off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmware.backoff import next_backoff
from system.errors import ConfigError

STEADY = "steady"
BLINK = "blink"


@dataclass(frozen=True)
class LightPattern:
    """How the light shows an alert: ``steady``, or ``blink`` with on/off periods in seconds."""

    mode: str = STEADY
    on_seconds: float = 1.0
    off_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.mode not in (STEADY, BLINK):
            raise ConfigError(f"light pattern mode {self.mode!r}: use 'steady' or 'blink'")
        if self.mode == BLINK and (self.on_seconds <= 0 or self.off_seconds <= 0):
            raise ConfigError("a blinking pattern needs on and off periods > 0 seconds")


class RelayDriver:
    """Makes a backend follow the wanted light state; see the module docstring.

    ``metrics`` (optional) gets ``count("relay_failures")`` per failed command.
    """

    def __init__(self, rt: Any, backend: Any, *, pattern: LightPattern = LightPattern(),
                 backoff_base: float = 1.0, backoff_cap: float = 60.0, metrics: Any = None):
        self.rt = rt
        self.backend = backend
        self.pattern = pattern
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.metrics = metrics
        self.wanted = False
        self.actual: bool | None = None  # None: unknown (at start, after a failed command)
        self.failures = 0
        self._changed = rt.event()
        self._rng = rt.rng("relay/backoff")
        self._phase_on = False
        self._deadline: float | None = None

    def set(self, on: bool) -> None:
        """Want the light on (the pattern plays) or off; returns at once, the service loop acts."""
        if on != self.wanted:
            self.wanted = on
            self._deadline = None
        self._changed.set()

    async def on(self) -> None:
        self.set(True)

    async def off(self) -> None:
        self.set(False)

    def close(self) -> None:
        self.backend.close()

    def _level(self, now: float) -> bool:
        if not self.wanted:
            return False
        if self.pattern.mode == STEADY:
            return True
        if self._deadline is None:
            self._phase_on, self._deadline = True, now + self.pattern.on_seconds
        while now >= self._deadline - 1e-6:  # tolerance: sim time is start + offset in floats
            self._phase_on = not self._phase_on
            self._deadline += self.pattern.on_seconds if self._phase_on else self.pattern.off_seconds
        return self._phase_on

    async def _wait(self, timeout: float | None) -> None:
        try:
            await self.rt.wait_for(self._changed.wait(), timeout)
        except TimeoutError:
            pass

    async def run(self) -> None:
        """Service loop: apply the wanted level, retry failures with backoff, play the pattern."""
        attempt = 0
        while True:
            self._changed.clear()
            now = self.rt.now()
            level = self._level(now)
            if self.actual != level:
                try:
                    await (self.backend.on() if level else self.backend.off())
                except Exception as exc:  # any backend failure: retried, never fatal
                    self.actual = None
                    attempt += 1
                    self.failures += 1
                    if self.metrics is not None:
                        self.metrics.count("relay_failures")
                    delay = next_backoff(attempt, self._rng, base=self.backoff_base, cap=self.backoff_cap)
                    self.rt.trace("relay.failed", op="on" if level else "off", attempt=attempt,
                                  error=str(exc)[:200], retry_in=delay)
                    await self._wait(delay)
                    continue
                self.actual = level
                attempt = 0
            timeout = None if self._deadline is None or not self.wanted else max(0.0, self._deadline - now)
            await self._wait(timeout)
