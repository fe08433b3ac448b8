"""A board under test on its serial console: expect-style waits, commands, the full log with timestamps.

``Dut`` reads a transport (a serial port, or the pipes of a firmware process) on a
background thread, decodes it with the firmware's own console codec
(``firmware/console.py``), and keeps every line with the wall-clock time it arrived.
The expect methods search forward from a cursor, as pexpect does, so each line is
matched at most once; anything the codec refuses is counted in ``skipped``.

For example::

    with Dut.open("/dev/ttyUSB0") as dut:
        dut.hard_reset()
        boot = dut.expect_message("boot", timeout=20)
        dut.send("inject", sensor="stuck", seconds=30)
        dut.expect_message("ack", cmd="inject")
"""

from __future__ import annotations

import errno
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from firmware import console
from system.errors import BackendError

DEFAULT_TIMEOUT = 10.0


class Transport(Protocol):
    """Bytes to and from a board; ``read`` returns b"" on timeout and raises EOFError when the line is gone."""

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """A pyserial port (real USB bridge, or a virtual board's pseudo-terminal)."""

    def __init__(self, port: str, baudrate: int = 115200):
        import serial

        try:
            self.serial = serial.Serial(port, baudrate, timeout=0.1)
        except (serial.SerialException, OSError) as exc:
            raise BackendError(f"cannot open serial port {port}: {exc}") from exc
        self.port = port

    def read(self) -> bytes:
        import serial

        try:
            return self.serial.read(max(1, self.serial.in_waiting))
        except (serial.SerialException, OSError, TypeError) as exc:  # TypeError: closed under our feet
            raise EOFError(str(exc)) from exc

    def write(self, data: bytes) -> None:
        self.serial.write(data)
        self.serial.flush()

    def set_lines(self, *, dtr: bool | None = None, rts: bool | None = None) -> None:
        """Drive DTR/RTS; a port without modem lines (a pseudo-terminal) is a BackendError."""
        try:
            if dtr is not None:
                self.serial.dtr = dtr
            if rts is not None:
                self.serial.rts = rts
        except OSError as exc:
            if exc.errno in (errno.ENOTTY, errno.EINVAL):
                raise BackendError(f"{self.port} has no DTR/RTS lines (a virtual board?): reset it with "
                                   "the console's reboot command") from exc
            raise

    def close(self) -> None:
        self.serial.close()


class PipeTransport:
    """The stdin/stdout of a firmware process (the Unix port or CPython running main.py)."""

    def __init__(self, proc):
        self.proc = proc
        self._fd = proc.stdout.fileno()

    def read(self) -> bytes:
        data = os.read(self._fd, 4096)
        if not data:
            raise EOFError("firmware process closed its console")
        return data

    def write(self, data: bytes) -> None:
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()


@dataclass(frozen=True)
class ConsoleLine:
    """One console line: arrival time (Unix seconds), ``message`` (a decoded dict) or ``text``."""

    t: float
    text: str
    message: dict | None = field(default=None, compare=False)


class Dut:
    """A board on a transport; see the module docstring."""

    def __init__(self, transport: Transport, *, name: str = "board", log: Path | None = None,
                 clock: Callable[[], float] = time.time):
        self.transport = transport
        self.name = name
        self.lines: list[ConsoleLine] = []
        self.raw_bytes = 0
        self._clock = clock
        self._decoder = console.LineDecoder(key="msg")
        self._cursor = 0
        self._cond = threading.Condition()
        self._closed = False
        self._eof: str | None = None
        self._log = open(log, "a", encoding="utf-8") if log else None
        self._listeners: list[Callable[[ConsoleLine], None]] = []
        self._thread = threading.Thread(target=self._pump, name=f"dut-{name}", daemon=True)
        self._thread.start()

    @classmethod
    def open(cls, port: str, baudrate: int = 115200, **kwargs: Any) -> "Dut":
        """Open a board by serial port path."""
        return cls(SerialTransport(port, baudrate), **kwargs)

    @classmethod
    def detect(cls, baudrate: int = 115200, **kwargs: Any) -> "Dut":
        """Open the one ESP32 found on USB by its VID:PID (``hil.serial_ports.detect_port``; ConfigError if none or
        several)."""
        from hil.serial_ports import detect_port

        found = detect_port()
        kwargs.setdefault("name", found.device)
        return cls.open(found.device, baudrate, **kwargs)

    # --- reading --------------------------------------------------------------------

    def _pump(self) -> None:
        while not self._closed:
            try:
                data = self.transport.read()
            except (EOFError, OSError, ValueError) as exc:
                with self._cond:
                    self._eof = str(exc) or "closed"
                    self._cond.notify_all()
                return
            if not data:
                continue
            now = self._clock()
            new = []
            with self._cond:
                self.raw_bytes += len(data)
                for kind, value in self._decoder.feed(data):
                    line = (ConsoleLine(now, console.encode(value).decode().rstrip("\n"), value)
                            if kind == "message" else ConsoleLine(now, value))
                    self.lines.append(line)
                    new.append(line)
                self._cond.notify_all()
            for line in new:
                if self._log:
                    self._log.write(f"{line.t:.3f} {line.text}\n")
                    self._log.flush()
                for listener in self._listeners:
                    listener(line)

    def on_line(self, listener: Callable[[ConsoleLine], None]) -> None:
        """Call ``listener(line)`` for every line from now on (on the reader thread)."""
        self._listeners.append(listener)

    @property
    def skipped(self) -> dict[str, int]:
        """Lines refused by the codec, by reason (garbage, malformed, overlong)."""
        with self._cond:
            return dict(self._decoder.skipped)

    def messages(self, msg: str | None = None) -> list[dict]:
        """Every decoded message so far (of kind ``msg``), regardless of the cursor."""
        with self._cond:
            return [line.message for line in self.lines
                    if line.message is not None and (msg is None or line.message["msg"] == msg)]

    # --- expecting ------------------------------------------------------------------

    def expect(self, match: Callable[[ConsoleLine], Any], what: str, timeout: float = DEFAULT_TIMEOUT) -> Any:
        """The first line after the cursor for which ``match`` is truthy; moves the cursor past it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._cursor < len(self.lines):
                    line = self.lines[self._cursor]
                    self._cursor += 1
                    found = match(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if self._eof is not None:
                    raise TimeoutError(f"{self.name}: console closed ({self._eof}) while waiting for {what}")
                if left <= 0:
                    tail = "\n  ".join(line.text[:200] for line in self.lines[-5:])
                    raise TimeoutError(f"{self.name}: no {what} within {timeout:g} s; last lines:\n  {tail}")
                self._cond.wait(left)

    def expect_message(self, msg: str | None = None, *, timeout: float = DEFAULT_TIMEOUT,
                       where: Callable[[dict], bool] | None = None, **fields: Any) -> dict:
        """The next JSON message of kind ``msg`` whose fields equal ``fields`` (and ``where`` holds)."""

        def match(line: ConsoleLine):
            m = line.message
            if m is None or (msg is not None and m.get("msg") != msg):
                return None
            if any(m.get(k) != v for k, v in fields.items()) or (where is not None and not where(m)):
                return None
            return m

        return self.expect(match, f"message {msg or ''} {fields or ''}".strip(), timeout)

    def expect_line(self, text: str, timeout: float = DEFAULT_TIMEOUT) -> ConsoleLine:
        """The next line containing ``text``."""
        return self.expect(lambda line: line if text in line.text else None, repr(text), timeout)

    def expect_regex(self, pattern: str, timeout: float = DEFAULT_TIMEOUT) -> re.Match:
        """The next line matching the regular expression ``pattern`` (``re.search``)."""
        rx = re.compile(pattern)
        return self.expect(lambda line: rx.search(line.text), f"/{pattern}/", timeout)

    def skip_to_end(self) -> None:
        """Move the cursor past everything received so far."""
        with self._cond:
            self._cursor = len(self.lines)

    # --- writing --------------------------------------------------------------------

    def send(self, name: str, *, seconds: float | None = None, **args: Any) -> None:
        """Send console command ``name`` (checked first); ``seconds`` is the protocol's ``for``."""
        if seconds is not None:
            args["for"] = seconds
        self.transport.write(console.command(name, **args))

    def write(self, data: bytes) -> None:
        """Raw bytes to the board."""
        self.transport.write(data)

    # --- resetting ------------------------------------------------------------------

    def hard_reset(self, native_usb: bool = False) -> None:
        """Reset through RTS (wired to EN) with DTR (to IO0) released, as esptool's hard reset does."""
        lines = getattr(self.transport, "set_lines", None)
        if lines is None:
            raise BackendError(f"{self.name}: this transport has no DTR/RTS lines")
        lines(dtr=False, rts=True)  # EN low: the chip is held in reset
        time.sleep(0.2 if native_usb else 0.1)
        lines(rts=False)  # EN high, IO0 high: a normal boot into MicroPython

    def enter_bootloader(self) -> None:
        """Reset into the ROM download mode by DTR/RTS, as esptool's classic reset sequence does."""
        lines = getattr(self.transport, "set_lines", None)
        if lines is None:
            raise BackendError(f"{self.name}: this transport has no DTR/RTS lines")
        lines(dtr=False, rts=True)  # IO0 high, EN low: in reset
        time.sleep(0.1)
        lines(dtr=True, rts=False)  # IO0 low, EN high: out of reset into the bootloader
        time.sleep(0.05)
        lines(dtr=False)  # release IO0

    def close(self) -> None:
        self._closed = True
        try:
            self.transport.close()
        finally:
            self._thread.join(1.0)
            if self._log:
                self._log.close()

    def __enter__(self) -> "Dut":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
