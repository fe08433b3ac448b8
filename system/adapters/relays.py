"""The relay's live backends: a GPIO line through libgpiod v2, a serial relay board, or no hardware at all.

Each has ``async on()``, ``async off()``, ``open()`` and ``close()`` and raises
:class:`~system.errors.BackendError` when the hardware does not obey; the hardware
library is imported on ``open()``, so a machine without it can still run the rest.
``TracedRelay`` switches nothing: the light's edges only go to the trace (a controller
on a desk, a demo, the live tests).
"""

from __future__ import annotations

from typing import Any

from system.errors import BackendError, ConfigError


class TracedRelay:
    """No hardware: each edge of the light is a ``relay.on`` / ``relay.off`` trace line, and nothing else."""

    def __init__(self, rt: Any):
        self.rt = rt
        self.state = False

    def open(self) -> None:
        pass

    async def on(self) -> None:
        self._switch(True)

    async def off(self) -> None:
        self._switch(False)

    def _switch(self, state: bool) -> None:
        if state != self.state:
            self.state = state
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
        raise ConfigError(f"relay board command {command!r} is not hex bytes (e.g. 'A0 01 01 A2')") from exc


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
