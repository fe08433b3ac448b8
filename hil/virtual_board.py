"""A virtual ESP32 on a pseudo-terminal: our firmware, MicroPython's REPLs and the ROM bootloader.

``hilsim virtual-board`` prints the path of the pty's far end; tools open it as they
would /dev/ttyUSB0. Behind it:

- the firmware: ``main.py`` of the board's filesystem (a directory) under the
  MicroPython Unix port (or CPython), its console on the pty, with the sensor and WiFi
  simulated behind the HAL and real TCP to the broker in config.json;
- MicroPython's friendly and raw REPL, as mpremote drives them (Ctrl-C interrupts
  main.py, Ctrl-A enters the raw REPL, Ctrl-D runs code or soft-reboots, Ctrl-B leaves;
  raw-paste is declined so mpremote falls back to plain raw mode); code runs in a
  persistent interpreter whose working directory is the filesystem (``hil/raw_exec.py``);
- the ESP32 ROM bootloader (``hil/rom_loader.py`` over ``hil/slip.py``) as soon as a SLIP
  frame starts (0xC0 can never be part of console text, which is UTF-8): as if the
  board had been reset with BOOT held. Flash lives in a file. FLASH_END with the run flag,
  or Ctrl-C on the line (the reset button), boots the firmware again.

Modes and what moves between them::

    RUNNING   --Ctrl-C--> FRIENDLY   --Ctrl-A--> RAW   --Ctrl-B--> FRIENDLY
    RUNNING   <--Ctrl-D (soft reboot)-- FRIENDLY
    RAW       --Ctrl-D, empty--> soft reboot, stays RAW (main.py is not run, as on the board)
    RAW       --machine.reset()--> RUNNING (hard reset)
    any       --0xC0--> BOOTLOADER --FLASH_END run / Ctrl-C--> RUNNING
    RUNNING   --main.py exits 75 (reboot command)--> RUNNING; exits otherwise --> FRIENDLY

A real board drops console bytes nobody reads; so does this one (the pty is written
without blocking).
"""

from __future__ import annotations

import errno
import os
import pty
import selectors
import subprocess
import threading
import tty
from pathlib import Path

from hil.firmware_process import interpreter, start_firmware, stop_firmware
from hil.rom_loader import Flash, RomLoader, RunRequested
from hil.slip import SlipDecoder
from hil.slip import encode as slip_encode

RUNNING, FRIENDLY, RAW, BOOTLOADER = "RUNNING", "FRIENDLY", "RAW", "BOOTLOADER"
REBOOT_EXIT, RESET_EXIT = 75, 76
MP_VERSION = "MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32"
BANNER = (MP_VERSION + '\r\nType "help()" for more information.\r\n>>> ').encode()
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
POWER_ON = b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
SW_RESET = b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
RAW_EXEC = Path(__file__).resolve().parent / "raw_exec.py"


class VirtualBoard:
    """One virtual ESP32; ``open()`` returns the port path, ``serve()`` runs until ``stop()``."""

    def __init__(self, fs: Path, flash: Path, *, command: list[str] | None = None, mac: bytes | None = None,
                 log=None):
        self.fs = Path(fs)
        self.fs.mkdir(parents=True, exist_ok=True)
        self.command = command or interpreter()
        self.loader = RomLoader(Flash(flash), **({"mac": mac} if mac else {}))
        self.mode = FRIENDLY
        self.log = log  # callable(str) for state lines, or None
        self.port: str | None = None
        self.boots = 0
        self._master = self._slave = -1
        self._firmware: subprocess.Popen | None = None
        self._repl: subprocess.Popen | None = None
        self._raw = bytearray()
        self._slip = SlipDecoder()
        self._sel = selectors.DefaultSelector()
        self._stopped = threading.Event()

    # --- lifecycle -------------------------------------------------------------------

    def open(self) -> str:
        """Create the pseudo-terminal; returns the path tools open."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # a UART: no echo, no line editing, bytes as they are
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._sel.register(self._master, selectors.EVENT_READ, "host")
        return self.port

    def serve(self) -> None:
        """Power on, then move bytes until ``stop()``."""
        self._boot(POWER_ON)
        while not self._stopped.is_set():
            for key, _ in self._sel.select(0.2):
                if key.data == "host":
                    try:
                        data = os.read(self._master, 65536)
                    except OSError as exc:
                        if exc.errno in (errno.EAGAIN, errno.EIO):
                            continue
                        raise
                    self._input(data)
                elif key.data == "firmware":
                    self._firmware_output()
        self._stop_firmware()
        self._stop_repl()

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self.stop()
        for fd in (self._master, self._slave):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = -1

    def _say(self, text: str) -> None:
        if self.log:
            self.log(text)

    # --- output -----------------------------------------------------------------------

    def _out(self, data: bytes) -> None:
        # Like a UART nobody listens to: what does not fit is lost, the board never blocks.
        try:
            os.write(self._master, data)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise

    # --- the firmware -----------------------------------------------------------------

    def _boot(self, chatter: bytes) -> None:
        self._stop_firmware()
        self._stop_repl()
        self._out(chatter)
        if (self.fs / "main.py").exists():
            self._firmware = start_firmware(self.fs, self.command)
            self._sel.register(self._firmware.stdout, selectors.EVENT_READ, "firmware")
            self.mode = RUNNING
            self.boots += 1
            self._say(f"booted main.py ({self.boots})")
        else:
            self._out(BANNER)
            self.mode = FRIENDLY
            self._say("no main.py: at the REPL")

    def _firmware_output(self) -> None:
        proc = self._firmware
        data = os.read(proc.stdout.fileno(), 65536)
        if data:
            self._out(data)
            return
        code = proc.wait()
        self._stop_firmware()
        if code == REBOOT_EXIT:
            self._boot(SW_RESET)
        else:
            self._out(b"\r\n" + BANNER)
            self.mode = FRIENDLY
            self._say(f"main.py ended with status {code}: at the REPL")

    def _stop_firmware(self) -> None:
        if self._firmware is not None:
            try:
                self._sel.unregister(self._firmware.stdout)
            except (KeyError, ValueError):
                pass
            stop_firmware(self._firmware)
            self._firmware = None

    # --- input, by mode ---------------------------------------------------------------

    def _input(self, data: bytes) -> None:
        i = 0
        while i < len(data):
            handler = {RUNNING: self._running, FRIENDLY: self._friendly, RAW: self._raw_repl,
                       BOOTLOADER: self._bootloader}[self.mode]
            i += handler(data[i:])

    def _enter_bootloader(self) -> None:
        self._stop_firmware()
        self._stop_repl()
        self._slip = SlipDecoder()
        self.mode = BOOTLOADER
        self._say("ROM bootloader (download mode)")

    def _running(self, data: bytes) -> int:
        cut = len(data)
        for i, b in enumerate(data):
            if b in (0x03, 0xC0):
                cut = i
                break
        if cut and self._firmware is not None:
            try:
                self._firmware.stdin.write(data[:cut])
            except (BrokenPipeError, ValueError):
                pass
        if cut == len(data):
            return cut
        if data[cut] == 0xC0:
            self._enter_bootloader()
            return cut
        self._stop_firmware()
        self._out(b'Traceback (most recent call last):\r\n  File "main.py", line 4, in <module>\r\n'
                  b"KeyboardInterrupt: \r\n" + BANNER)
        self.mode = FRIENDLY
        return cut + 1

    def _friendly(self, data: bytes) -> int:
        b = data[0]
        if b == 0xC0:
            self._enter_bootloader()
            return 0
        if b == 0x01:
            self._raw = bytearray()
            self._start_repl()
            self._out(b"\r\n" + RAW_BANNER)
            self.mode = RAW
        elif b == 0x04:
            self._out(b"MPY: soft reboot\r\n")
            self._boot(b"")
        elif b == 0x02:
            self._out(b"\r\n" + BANNER)
        elif b in (0x03, 0x0D):
            self._out(b"\r\n>>> ")
        elif 0x20 <= b < 0x7F:
            self._out(bytes((b,)))  # the friendly REPL echoes; it does not run code here
        return 1

    def _raw_repl(self, data: bytes) -> int:
        for i, b in enumerate(data):
            if b == 0xC0 and not self._raw:
                self._enter_bootloader()
                return i
            if b == 0x01:
                self._raw = bytearray()
                self._out(b"\r\n" + RAW_BANNER)
            elif b == 0x02:
                self._stop_repl()
                self._out(b"\r\n" + BANNER)
                self.mode = FRIENDLY
                return i + 1
            elif b == 0x03:
                self._raw = bytearray()
            elif b == 0x04:
                code, self._raw = bytes(self._raw), bytearray()
                if not code.strip():
                    self._out(b"OK\r\nMPY: soft reboot\r\n")
                    self._start_repl()  # a fresh interpreter; main.py is not run from the raw REPL
                    self._out(RAW_BANNER)
                else:
                    self._execute(code)
                    if self.mode != RAW:
                        return i + 1
            else:
                self._raw.append(b)
                if self._raw == b"\x05A\x01":  # raw-paste request: declined, plain raw mode instead
                    self._raw = bytearray()
                    self._out(b"R\x00")
        return len(data)

    def _bootloader(self, data: bytes) -> int:
        for i, b in enumerate(data):
            if b == 0x03 and not self._slip.in_frame:  # the reset button, as far as a pty can tell
                self._boot(SW_RESET)
                return i + 1
            for frame in self._slip.feed(bytes((b,))):
                replies, events = self.loader.receive(frame)
                for reply in replies:
                    self._out(slip_encode(reply))
                for event in events:
                    self._say(f"bootloader: {event}")
                    if isinstance(event, RunRequested):
                        self._boot(SW_RESET)
                        return i + 1
        return len(data)

    # --- the raw REPL's interpreter -----------------------------------------------------

    def _start_repl(self) -> None:
        self._stop_repl()
        self._repl = subprocess.Popen([*self.command, str(RAW_EXEC), str(self.fs)], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0)

    def _stop_repl(self) -> None:
        if self._repl is not None:
            stop_firmware(self._repl)
            self._repl = None

    def _execute(self, code: bytes) -> None:
        # "OK", then the interpreter's output and its two 0x04 markers as they come, then the prompt.
        self._out(b"OK")
        if self._repl is None or self._repl.poll() is not None:
            self._start_repl()
        repl = self._repl
        try:
            repl.stdin.write(b"%d\n" % len(code) + code)
        except BrokenPipeError:
            pass
        markers = 0
        while markers < 2:
            data = os.read(repl.stdout.fileno(), 65536)
            if not data:
                code_ = repl.wait()
                self._repl = None
                if code_ == RESET_EXIT:
                    self._say("machine.reset() from the raw REPL")
                    self._boot(SW_RESET)
                    return
                self._out(b"\x04" * (2 - markers))
                break
            markers += data.count(b"\x04")
            self._out(data)
        self._out(b">")
