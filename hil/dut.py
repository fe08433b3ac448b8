"""A board under test on its serial console: expect-style waits, commands, the full log with timestamps.

``Dut`` reads a transport (a serial port, or the pipes of a firmware process) on a
background thread, decodes it with the firmware's own console codec
(``firmware/console.py``), and keeps every line with the wall-clock time it arrived.
The expect methods search forward from a cursor, as pexpect does, so each line is
matched at most once; anything the codec refuses is counted in ``skipped``. A crash on the
console (a Python traceback, an ESP-IDF panic: :class:`CrashWatch`) fails the expect that
is waiting at once with :class:`BoardCrashed`, quoting it, instead of letting it time out.

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
from hil import rom_client
from system.errors import BackendError

DEFAULT_TIMEOUT = 10.0
ANSWER_WAIT = 1.0  # seconds MicroPython takes at most to answer Ctrl-C; a ROM bootloader never does
# ESP-IDF's panic handler and abort(): the chip is about to reboot
PANIC = re.compile(r"Guru Meditation Error|abort\(\) was called|^Backtrace:")
# exceptions that end a traceback without a fault: the host's Ctrl-C, a deliberate exit
NOT_A_CRASH = ("KeyboardInterrupt", "SystemExit")


class BoardCrashed(BackendError):
    """The firmware raised or panicked while a step waited; the message quotes the console on one line."""


class CrashWatch:
    """Finds crashes in console text lines, one line at a time: ``feed(text)`` returns the crash quoted on
    one line when ``text`` completes one (a traceback's last line, a panic line), else None.

    After a panic the register dump and backtrace that follow are part of it: nothing more is reported
    until the board boots again (``rebooted()``). A traceback ending in KeyboardInterrupt is the host's
    Ctrl-C (mpremote, a reset through the REPL), not a crash.

    >>> watch = CrashWatch()
    >>> [watch.feed(t) for t in ["Traceback (most recent call last):", '  File "main.py", line 9', "OSError: 5"]]
    [None, None, 'Traceback (most recent call last): File "main.py", line 9 | OSError: 5']
    """

    def __init__(self) -> None:
        self._traceback: list[str] | None = None
        self._panicked = False

    def feed(self, text: str) -> str | None:
        if text.startswith("Traceback (most recent call last)"):
            self._traceback = [text.strip()]
            return None
        if self._traceback is not None:
            if text[:1] in (" ", "\t"):
                self._traceback.append(text.strip())
                return None
            head, *frames = self._traceback
            self._traceback = None
            if text.startswith(NOT_A_CRASH):
                return None
            return f"{head} {' | '.join(frames[-2:])} | {text.strip()}".replace("  ", " ")
        if PANIC.search(text) and not self._panicked:
            self._panicked = True
            return text.strip()
        return None

    def rebooted(self) -> None:
        self._traceback, self._panicked = None, False


class Transport(Protocol):
    """Bytes to and from a board; ``read`` returns b"" on timeout and raises EOFError when the line is gone."""

    def read(self) -> bytes: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...


class SerialTransport:
    """A pyserial port (real USB bridge, a virtual board's pseudo-terminal, an ``rfc2217://`` URL), opened for
    this program alone (``hil.serial_ports.open_serial``)."""

    def __init__(self, port: str, baudrate: int = 115200):
        from hil.serial_ports import open_serial

        self.serial = open_serial(port, baudrate)
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
    """One console line: arrival time (Unix seconds), ``message`` (a decoded dict) or ``text``; ``crash`` quotes
    the crash this line completes (see :class:`CrashWatch`)."""

    t: float
    text: str
    message: dict | None = field(default=None, compare=False)
    crash: str | None = field(default=None, compare=False)


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
        self._crashes = CrashWatch()
        self._cursor = 0
        self._cond = threading.Condition()
        self._closed = False
        self._eof: str | None = None
        self._log = open(log, "a", encoding="utf-8") if log else None
        self._listeners: list[Callable[[ConsoleLine], None]] = []
        self.boot: dict | None = None  # the boot message of the last reset()
        self._rom: rom_client.ReplyFilter | None = None  # while leaving the ROM bootloader: its replies
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
                if self._rom is not None:
                    data = self._rom.feed(data)
                for kind, value in self._decoder.feed(data):
                    line = self._line(now, kind, value)
                    self.lines.append(line)
                    new.append(line)
                self._cond.notify_all()
            for line in new:
                if self._log:
                    self._log.write(f"{line.t:.3f} {line.text}\n")
                    self._log.flush()
                for listener in self._listeners:
                    listener(line)

    def _line(self, now: float, kind: str, value: Any) -> ConsoleLine:
        if kind == "message":
            if value["msg"] == "boot":
                self._crashes.rebooted()
            return ConsoleLine(now, console.encode(value).decode().rstrip("\n"), value)
        if value.startswith("rst:"):  # the ROM's first words after any reset
            self._crashes.rebooted()
        return ConsoleLine(now, value, crash=self._crashes.feed(value))

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
        """The first line after the cursor for which ``match`` is truthy; moves the cursor past it.
        TimeoutError when none comes in time, BoardCrashed at once when the board crashes first."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                while self._cursor < len(self.lines):
                    line = self.lines[self._cursor]
                    self._cursor += 1
                    if line.crash:
                        raise BoardCrashed(f"{self.name} crashed while waiting for {what}: {line.crash}")
                    found = match(line)
                    if found:
                        return found
                left = deadline - time.monotonic()
                if self._eof is not None:
                    raise TimeoutError(f"{self.name}: console closed ({self._eof}) while waiting for {what}")
                if left <= 0:
                    last = f"last line: {self.lines[-1].text[:120]}" if self.lines else "nothing received"
                    raise TimeoutError(f"{self.name}: no {what} within {timeout:g} s ({last})")
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

    def expect_output(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Return once the board has sent any byte at all (a prompt without a newline counts); TimeoutError if
        it stays silent, as a board without power, on another port or at the wrong baud rate does."""
        with self._cond:
            if not self._cond.wait_for(lambda: self.raw_bytes > 0 or self._eof is not None, timeout):
                raise TimeoutError(f"{self.name}: no output within {timeout:g} s")
            if not self.raw_bytes:
                raise TimeoutError(f"{self.name}: console closed ({self._eof}) before any output")

    @property
    def closed(self) -> str | None:
        """Why the console ended (the port went away), or None while it is open."""
        return self._eof

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

    def _lines(self) -> Callable[..., None]:
        lines = getattr(self.transport, "set_lines", None)
        if lines is None:
            raise BackendError(f"{self.name}: this transport has no DTR/RTS lines")
        return lines

    def hold_in_reset(self) -> None:
        """EN low through RTS (IO0 released through DTR): the chip stops and stays off until
        :meth:`release_reset`; the one power switch every USB bridge has."""
        self._lines()(dtr=False, rts=True)

    def release_reset(self) -> None:
        """EN high again: the chip boots as at power-on (IO0 high: into the flashed firmware)."""
        self._lines()(rts=False)

    def hard_reset(self, native_usb: bool = False) -> None:
        """Reset through RTS (wired to EN) with DTR (to IO0) released, as esptool's hard reset does."""
        self.hold_in_reset()
        time.sleep(0.2 if native_usb else 0.1)
        self.release_reset()

    def interrupt(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Ctrl-C: stop main.py, to MicroPython's REPL, which answers with its prompt; a TimeoutError naming
        the likely causes when nothing answers (before mpremote would wait minutes for it)."""
        self.transport.write(b"\r\x03")
        try:
            self.expect_output(timeout)
        except TimeoutError:
            raise TimeoutError(f"no answer from {self.name} within {timeout:g} s: is the board powered, on this "
                               "port and running MicroPython (not in its bootloader)?") from None

    def soft_reboot(self) -> bool:
        """Reboot through MicroPython's REPL, for a port without DTR/RTS (a pseudo-terminal): Ctrl-C stops
        main.py, Ctrl-B leaves the raw REPL, Ctrl-D soft-reboots, which runs main.py again; a newline ends
        whatever a booted firmware got. A board that does not answer Ctrl-C may be in its ROM bootloader, which
        reads SLIP frames only: it is told to run its application (:meth:`leave_bootloader`). True when the
        REPL rebooted the board, False when the bootloader started it."""
        before = self.raw_bytes
        self.transport.write(b"\r\x03")  # once: a second would stop the firmware a bootloader's reset started
        with self._cond:
            answered = self._cond.wait_for(lambda: self.raw_bytes > before or self._eof is not None, ANSWER_WAIT)
        if not answered:
            try:
                self.leave_bootloader()
                return False
            except TimeoutError:
                if self.raw_bytes == before:
                    raise
            # MicroPython answered after all, late (a loaded host): Ctrl-C drops what the SLIP bytes typed
            self.transport.write(b"\x03")
        time.sleep(0.1)  # a real REPL needs a moment to stop main.py and print its prompt
        self.transport.write(b"\x02")
        time.sleep(0.1)
        self.transport.write(b"\x04\n")
        return True

    def leave_bootloader(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """Out of the ROM bootloader without an EN line, as esptool's ``--after soft-reset``: the ROM runs the
        application. The flasher stub cannot, so it reboots the chip first (into the ROM again if the strapping
        latched download mode, where the ROM is then asked; straight into the flash otherwise)."""
        with self._cond:
            self._rom = rom_client.ReplyFilter()
        try:
            for _ in range(2):
                with self._cond:
                    self._rom.replies.clear()  # the 7 further answers to an earlier SYNC are not this one's
                in_rom = self._rom_call(rom_client.sync(), rom_client.SYNC, timeout).value != 0
                self._rom_call(rom_client.flash_begin_nothing(), rom_client.FLASH_BEGIN, timeout)
                self._rom_call(rom_client.flash_end(run=in_rom), rom_client.FLASH_END, timeout)
                if in_rom or "DOWNLOAD_BOOT" not in self.expect_regex(r"^rst:.*boot:", timeout).string:
                    return
        finally:
            with self._cond:
                self._rom = None

    def _rom_call(self, frame: bytes, op: int, timeout: float) -> rom_client.Reply:
        """Send one request frame; the bootloader's reply to it."""
        got: list[rom_client.Reply] = []

        def answered() -> bool:
            reply = self._rom.take(op)
            if reply is not None:
                got.append(reply)
            return bool(got) or self._eof is not None

        self.transport.write(frame)
        with self._cond:
            self._cond.wait_for(answered, timeout)
        if not got:
            raise TimeoutError(f"{self.name}: silent: neither MicroPython nor a ROM bootloader answers within "
                               f"{timeout:g} s (is the board powered, on this port, at this baud rate?)")
        if not got[0].ok:
            raise BackendError(f"{self.name}: the ROM bootloader refused command {op:#04x}")
        return got[0]

    def restart(self, timeout: float = 30.0) -> None:
        """Reset the board, and let it start: by EN where the port has DTR/RTS, else through the REPL or the
        ROM bootloader (:meth:`soft_reboot`). Every line after the cursor then comes from the new start."""
        try:
            self.hold_in_reset()
        except BackendError:
            self.skip_to_end()
            if self.soft_reboot():
                # a boot message already on its way is not this reset's: wait for the reboot itself first
                self.expect_regex(r"soft reboot|^rst:", timeout=timeout)
        else:
            time.sleep(0.1)
            self.skip_to_end()  # the chip is stopped: nothing after this comes from before the reset
            self.release_reset()

    def reset(self, timeout: float = 30.0, **fields: Any) -> dict:
        """:meth:`restart` the board and return its boot message (whose fields equal ``fields``; kept as
        ``self.boot``)."""
        self.restart(timeout)
        self.boot = self.expect_message("boot", timeout=timeout, **fields)
        return self.boot

    def enter_bootloader(self) -> None:
        """Reset into the ROM download mode by DTR/RTS, as esptool's classic reset sequence does."""
        lines = self._lines()
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
