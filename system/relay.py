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
from system.errors import BackendError

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
            raise ValueError(f"light pattern mode {self.mode!r}: use 'steady' or 'blink'")
        if self.mode == BLINK and (self.on_seconds <= 0 or self.off_seconds <= 0):
            raise ValueError("a blinking pattern needs on_seconds > 0 and off_seconds > 0")


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

    def close(self) -> None:
        pass


class GpiodRelay:
    """The relay on a GPIO line via libgpiod v2 (``gpiod`` on PyPI, imported on open).

    The line is requested as an output, initially inactive (light off). With
    ``active_low`` the kernel inverts the level, so ``on()`` drives 0 V.
    """

    def __init__(self, chip: str = "/dev/gpiochip0", line: int = 17, *, active_low: bool = False,
                 consumer: str = "hilsim-relay"):
        self.chip = chip
        self.line = line
        self.active_low = active_low
        self.consumer = consumer
        self._request: Any = None
        self._value: Any = None

    def open(self) -> None:
        """Request the line; idempotent."""
        if self._request is not None:
            return
        try:
            import gpiod
            from gpiod.line import Direction, Value
        except ImportError as exc:
            raise BackendError("the gpiod package (libgpiod v2 bindings) is not installed") from exc
        settings = gpiod.LineSettings(direction=Direction.OUTPUT, output_value=Value.INACTIVE,
                                      active_low=self.active_low)
        try:
            self._request = gpiod.request_lines(self.chip, consumer=self.consumer, config={self.line: settings})
        except OSError as exc:
            raise BackendError(f"cannot request {self.chip} line {self.line}: {exc}") from exc
        self._value = Value

    async def on(self) -> None:
        self._set(True)

    async def off(self) -> None:
        self._set(False)

    def _set(self, active: bool) -> None:
        self.open()
        try:
            self._request.set_value(self.line, self._value.ACTIVE if active else self._value.INACTIVE)
        except OSError as exc:
            self.close()  # re-request on the next command
            raise BackendError(f"cannot set {self.chip} line {self.line}: {exc}") from exc

    def close(self) -> None:
        request, self._request = self._request, None
        if request is not None:
            try:
                request.release()
            except OSError:
                pass


def command_bytes(command: bytes | str) -> bytes:
    """A board command from config: bytes as they are, or a hex string like ``"A0 01 01 A2"``."""
    if isinstance(command, bytes):
        return command
    try:
        return bytes.fromhex(command)
    except ValueError as exc:
        raise ValueError(f"relay board command {command!r} is not hex bytes (e.g. 'A0 01 01 A2')") from exc


class SerialRelayBoard:
    """A USB/serial relay board: one command per state (defaults fit the common LCUS-1 board).

    ``url`` is anything ``serial.serial_for_url`` opens (``/dev/ttyUSB0``, ``loop://``,
    ``rfc2217://host:port``). With ``echo`` the board must send each command back
    within ``timeout`` seconds, or the command counts as failed.
    """

    def __init__(self, url: str, *, on_command: bytes | str = "A0 01 01 A2",
                 off_command: bytes | str = "A0 01 00 A1", baudrate: int = 9600,
                 echo: bool = False, timeout: float = 1.0):
        self.url = url
        self.on_command = command_bytes(on_command)
        self.off_command = command_bytes(off_command)
        self.baudrate = baudrate
        self.echo = echo
        self.timeout = timeout
        self._port: Any = None

    def open(self) -> None:
        if self._port is not None:
            return
        import serial  # pyserial, only for this backend

        try:
            self._port = serial.serial_for_url(self.url, baudrate=self.baudrate, timeout=self.timeout)
        except (serial.SerialException, ValueError) as exc:
            raise BackendError(f"cannot open relay board {self.url}: {exc}") from exc

    async def on(self) -> None:
        self._send(self.on_command)

    async def off(self) -> None:
        self._send(self.off_command)

    def _send(self, command: bytes) -> None:
        import serial

        self.open()
        try:
            self._port.reset_input_buffer()
            self._port.write(command)
            self._port.flush()
            if self.echo:
                reply = self._port.read(len(command))
                if reply != command:
                    raise BackendError(f"relay board {self.url} answered {reply.hex(' ')!r} to {command.hex(' ')!r}")
        except serial.SerialException as exc:
            self.close()
            raise BackendError(f"relay board {self.url} failed: {exc}") from exc

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            port.close()


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
