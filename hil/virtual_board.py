"""A virtual ESP32 on a pseudo-terminal: our firmware, MicroPython's REPLs, the ROM bootloader and the stub.

``hilsim virtual-board`` prints the path of the pty's far end; tools open it as they
would /dev/ttyUSB0 (``hil/rfc2217_serving.py`` also serves it as an ``rfc2217://`` URL,
whose DTR/RTS reach :meth:`VirtualBoard.set_lines`). Behind it:

- the firmware: ``main.py`` of the board's filesystem (a directory) under the
  MicroPython Unix port (or CPython), its console on the pty, with the sensor and WiFi
  simulated behind the HAL and real TCP to the broker in config.json;
- MicroPython's friendly and raw REPL, as mpremote drives them (Ctrl-C interrupts
  main.py, Ctrl-A enters the raw REPL, Ctrl-D runs code or soft-reboots, Ctrl-B leaves;
  raw-paste is declined so mpremote falls back to plain raw mode; the friendly REPL runs
  each line typed, for mpremote repl); code runs in a persistent interpreter whose
  working directory is the filesystem (``hil/raw_exec.py``; with an esp32 config under
  MicroPython, on the emulated chip's modules, ``hil/esp32_emulation``). While it runs the
  console is its stdin and stdout, raw, as on the chip (mpremote mount's hook talks to the
  host through them): output streams as it comes, a Ctrl-C raises KeyboardInterrupt unless
  the code turned that off with ``micropython.kbd_intr(-1)``, and the interpreter's control
  pipe, not the 0x04 markers (file data may hold 0x04), says when it is done;
- the ESP32 ROM bootloader and esptool's flasher stub (``hil/rom_loader.py`` over
  ``hil/slip.py``), entered only as on the chip: a reset with IO0 low (the auto-reset
  circuit's DTR/RTS, or ``strapping="download"``, a jumper on IO0), or
  ``machine.bootloader()``. Bytes on the console never enter it (a 0xC0 is console data).
- the flash (a file, kept as given; a new one holds a factory image at 0x1000 and
  0x10000). At each boot the image at 0x1000 and the application at 0x10000 are checked
  (``hil/esp_image.py``): a board whose flash holds no valid image prints why, as the
  ROM or the bootloader would, and stays there. A valid image boots *our* firmware:
  the virtual chip runs no Xtensa code, whatever valid image is flashed.

The auto-reset circuit of a USB bridge: EN is low while RTS is asserted and DTR is not;
IO0 is low while DTR is asserted and RTS is not. The chip leaves reset when EN rises and
takes download mode if IO0 is low at any time in the next STRAP_WINDOW seconds: on a
chip that is the RC delay on EN, a few ms; here it is wider, because pyserial's RFC 2217
client waits about 50 ms for each line change to be acknowledged, so esptool's DTR and
RTS writes arrive that far apart. The board also follows the rule of the chips'
USB-Serial-JTAG peripheral, which esptool's ``usb-reset`` sequence speaks: DTR asserted
alone for BOOT_REQUEST_HOLD seconds asks the next reset for download mode, both lines
released cancels it (esptool holds DTR alone 100 ms; opening a port asserts DTR about
50 ms before RTS over RFC 2217, which must not count).
So esptool's classic, tight and USB-JTAG sequences enter download mode; a plain RTS
pulse (DTR released) reboots the firmware.

Modes and what moves between them::

    RUNNING   --Ctrl-C--> FRIENDLY   --Ctrl-A--> RAW   --Ctrl-B--> FRIENDLY
    RUNNING   <--Ctrl-D (soft reboot)-- FRIENDLY
    RAW       --Ctrl-D, empty--> soft reboot, stays RAW (main.py is not run, as on the board)
    RAW       --Ctrl-D after code--> EXECUTING --the interpreter is done--> RAW (">")
    FRIENDLY  --Return after a line--> EXECUTING --the interpreter is done--> FRIENDLY (">>> ")
    EXECUTING --Ctrl-C (kbd_intr on)--> KeyboardInterrupt in the code; any other byte --> its stdin
    EXECUTING --machine.reset()--> RUNNING (software reset); --machine.bootloader()--> BOOTLOADER
    any       --EN low--> RESET --EN high, IO0 low--> BOOTLOADER; IO0 high--> boot
    boot      --valid flash--> RUNNING (or FRIENDLY without main.py); invalid --> HALTED
    BOOTLOADER --FLASH_END "run" (esptool's soft reset; hil/rom_client.py on a pty)--> boot
    BOOTLOADER --FLASH_END "reboot", the stub's reboot--> software reset: download mode again if the
               strapping latched at the last EN reset said so (as on the chip)
    RUNNING   --main.py exits 75 (reboot command)--> RUNNING; exits otherwise --> FRIENDLY

A real board drops console bytes nobody reads; so does this one past CONSOLE_BUFFER bytes
(the bootloader's replies are never dropped: the host reads them; code run at the REPL waits
for the host instead, as mpremote's mount moves files through the console).
"""

from __future__ import annotations

import collections
import errno
import os
import pty
import secrets
import selectors
import signal
import subprocess
import threading
import time
import tty
from pathlib import Path

from hil import esp_image
from hil.esp32_emulation import EMULATION, esp32_command, wants_esp32
from hil.firmware_process import interpreter, is_micropython, start_firmware, stop_firmware
from hil.rom_loader import BackToRom, Flash, RomLoader, RunRequested
from hil.slip import SlipDecoder
from hil.slip import encode as slip_encode

RUNNING, FRIENDLY, RAW, BOOTLOADER, RESET, HALTED = "RUNNING", "FRIENDLY", "RAW", "BOOTLOADER", "RESET", "HALTED"
EXECUTING = "EXECUTING"  # code typed at a REPL runs: the host's bytes are its stdin
REBOOT_EXIT, RESET_EXIT, BOOTLOADER_EXIT = 75, 76, 77
MP_VERSION = "MicroPython v1.24.1 on 2024-11-29; Generic ESP32 module with ESP32"
BANNER = (MP_VERSION + '\r\nType "help()" for more information.\r\n>>> ').encode()
RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
ROM_HELLO = b"ets Jun  8 2016 00:22:57\r\n\r\n"
POWERON, SW_CPU_RESET = b"rst:0x1 (POWERON_RESET)", b"rst:0xc (SW_CPU_RESET)"
FLASH_BOOT, DOWNLOAD_BOOT = b"boot:0x13 (SPI_FAST_FLASH_BOOT)", b"boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))"
POWER_ON = ROM_HELLO + POWERON + b"," + FLASH_BOOT + b"\r\n"
SW_RESET = ROM_HELLO + SW_CPU_RESET + b"," + FLASH_BOOT + b"\r\n"
RAW_EXEC = Path(__file__).resolve().parent / "raw_exec.py"
STRAP_WINDOW = 0.3  # seconds after EN rises during which IO0 low means download mode (see the docstring)
BOOT_REQUEST_HOLD = 0.075  # seconds DTR must be asserted alone to request a download boot (USB-Serial-JTAG)
CONSOLE_BUFFER = 64 * 1024  # console bytes kept for a reader that does not read
FACTORY_FIRMWARE = esp_image.factory_image(b"hilsim virtual board: MicroPython firmware as shipped")
FACTORY = {esp_image.BOOTLOADER_OFFSET: FACTORY_FIRMWARE, esp_image.APP_OFFSET: FACTORY_FIRMWARE}
STRAPPINGS = ("flash", "download")


class VirtualBoard:
    """One virtual ESP32; ``open()`` returns the port path, ``serve()`` runs until ``stop()``."""

    def __init__(self, fs: Path, flash: Path, *, command: list[str] | None = None, mac: bytes | None = None,
                 log=None, strapping: str = "flash"):
        if strapping not in STRAPPINGS:
            raise ValueError(f"strapping {strapping!r}: want one of {', '.join(STRAPPINGS)}")
        self.fs = Path(fs)
        self.fs.mkdir(parents=True, exist_ok=True)
        self.command = command or interpreter()
        self.flash = Flash(flash, factory=FACTORY)
        self.loader = RomLoader(self.flash, **({"mac": mac} if mac else {}))
        self.strapping = strapping  # "download": IO0 held low by a jumper, every reset enters the bootloader
        self.mode = FRIENDLY
        self.log = log  # callable(str) for state lines, or None
        self.port: str | None = None
        self.boots = 0
        self._master = self._slave = -1
        self._firmware: subprocess.Popen | None = None
        self._repl: subprocess.Popen | None = None
        self._repl_ctl = -1  # the interpreter's control pipe (hil/raw_exec.py)
        self._to_repl = bytearray()  # host bytes on their way to the running code's stdin
        self._held = bytearray()  # host bytes that came after the running code ended, for the REPL
        self._single = False  # the code running came from the friendly REPL (else the raw REPL)
        self._kbd_intr = True  # Ctrl-C interrupts the running code (micropython.kbd_intr)
        self._code_started = False  # the interpreter has started the code (hil/raw_exec.py said "r")
        self._interrupt = False  # a Ctrl-C for code that has not started yet
        self._ending = False  # the running code has ended; its last output is on its way
        self._fence = b"\0" + secrets.token_hex(16).encode() + b"\0"  # ends the console bytes the code left unread
        self._ctl_in = bytearray()  # from the interpreter's control pipe, not yet understood
        self._unread: bytes | None = None  # the console bytes the ended code left unread, once it said
        self._repl_paused = False  # the console is full: the interpreter's output waits in its pipe
        self._raw = bytearray()
        self._line, self._block = bytearray(), bytearray()  # the friendly REPL's line and block being typed
        self._slip = SlipDecoder()
        self._sel = selectors.DefaultSelector()
        self._stopped = threading.Event()
        self._tx = bytearray()
        self._lines = (False, False)  # (DTR, RTS) asserted
        self._line_changes: collections.deque = collections.deque()
        self._wake_r, self._wake_w = os.pipe()
        self._boot_at: float | None = None  # EN has risen: when the chip starts
        self._io0_low_seen = False
        self._dtr_alone_since = 0.0
        self._boot_requested = False  # the USB-Serial-JTAG rule asked for a download boot
        self._download_latched = False  # the boot mode latched at the last power-on / EN reset

    # --- lifecycle -------------------------------------------------------------------

    def open(self) -> str:
        """Create the pseudo-terminal; returns the path tools open."""
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)  # a UART: no echo, no line editing, bytes as they are
        os.set_blocking(self._master, False)
        os.set_blocking(self._wake_r, False)
        self.port = os.ttyname(self._slave)
        self._sel.register(self._master, selectors.EVENT_READ, "host")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "lines")
        return self.port

    def serve(self) -> None:
        """Power on, then move bytes until ``stop()``."""
        self._reset(POWERON)
        while not self._stopped.is_set():
            wait = 0.2 if self._boot_at is None else max(0.0, min(0.2, self._boot_at - time.monotonic()))
            for key, events in self._sel.select(wait):
                self._ready(key.data, events)
            if self._boot_at is not None and time.monotonic() >= self._boot_at:
                self._boot_at = None
                self._reset(POWERON)
        self._stop_firmware()
        self._stop_repl()

    def _ready(self, what: str, events: int) -> None:
        if what == "host":
            if events & selectors.EVENT_WRITE:
                self._flush()
                if self._repl_paused and len(self._tx) < CONSOLE_BUFFER // 2:
                    self._pause_repl(False)
                    self._repl_output()
            if events & selectors.EVENT_READ:
                try:
                    data = os.read(self._master, 65536)
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EIO):
                        return
                    raise
                self._input(data)
        elif what == "firmware":
            self._firmware_output()
        elif what == "repl":
            self._repl_output()
        elif what == "repl-ctl":
            self._repl_control()
        elif what == "repl-in":
            self._feed_repl()
        elif what == "lines":
            os.read(self._wake_r, 4096)
            while self._line_changes:
                self._apply_lines(*self._line_changes.popleft())

    def stop(self) -> None:
        self._stopped.set()

    def close(self) -> None:
        self.stop()
        for fd in (self._master, self._slave, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._master = self._slave = self._wake_r = self._wake_w = -1

    def _say(self, text: str) -> None:
        if self.log:
            self.log(text)

    # --- the reset circuit: DTR/RTS to EN/IO0 (any thread) ------------------------------

    def set_lines(self, *, dtr: bool | None = None, rts: bool | None = None) -> None:
        """The host asserted (True) or released DTR and/or RTS, as a USB bridge's modem lines; thread-safe."""
        self._line_changes.append((dtr, rts))
        try:
            os.write(self._wake_w, b"!")
        except OSError:  # closed: the board is gone
            pass

    def _apply_lines(self, dtr: bool | None, rts: bool | None) -> None:
        lines = (self._lines[0] if dtr is None else dtr, self._lines[1] if rts is None else rts)
        now = time.monotonic()
        self._track_boot_request(self._lines, lines, now)
        self._lines = lines
        en_low, io0_low = lines == (False, True), lines == (True, False)
        if en_low:
            if self.mode != RESET or self._boot_at is not None:
                self._hold_in_reset()
        elif self.mode == RESET and self._boot_at is None:
            self._boot_at = now + STRAP_WINDOW
            self._io0_low_seen = io0_low or self._boot_requested
        elif io0_low and self._boot_at is not None:
            self._io0_low_seen = True
        if lines == (False, False):
            self._boot_requested = False

    def _track_boot_request(self, before: tuple[bool, bool], after: tuple[bool, bool], now: float) -> None:
        # The USB-Serial-JTAG rule: DTR asserted alone for BOOT_REQUEST_HOLD asks the next reset for download mode.
        if after == (True, False) and before != (True, False):
            self._dtr_alone_since = now
        elif before == (True, False) and after != (True, False) and now - self._dtr_alone_since >= BOOT_REQUEST_HOLD:
            self._boot_requested = True

    def _hold_in_reset(self) -> None:
        self._stop_firmware()
        self._stop_repl()
        self._boot_at = None
        self.mode = RESET
        self._say("EN low: held in reset")

    # --- output -----------------------------------------------------------------------

    def _out(self, data: bytes) -> None:
        # Like a UART nobody listens to, console bytes past the buffer are lost; the bootloader's are kept, and
        # the REPL's running code waits for the host instead (see _repl_output).
        if self.mode in (BOOTLOADER, EXECUTING) or len(self._tx) + len(data) <= CONSOLE_BUFFER:
            self._tx += data
        self._flush()

    def _flush(self) -> None:
        try:
            while self._tx:
                del self._tx[:os.write(self._master, self._tx)]
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EIO):
                raise
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if self._tx else 0)
        if self._sel.get_key(self._master).events != events:
            self._sel.modify(self._master, events, "host")

    # --- boot -----------------------------------------------------------------------------

    def _reset(self, cause: bytes, force_download: bool = False) -> None:
        """The chip starts: the ROM reads the boot mode, then boots the flash or waits for a download. A power-on
        (EN) reset latches the strapping pins; a software reset reuses what was latched, unless the software
        forced a download boot (MicroPython's machine.bootloader(): once, the latch is not changed)."""
        if cause == POWERON:
            self._download_latched = self.strapping == "download" or self._io0_low_seen
        self._io0_low_seen = False
        self._stop_firmware()
        self._stop_repl()
        download = force_download or self._download_latched
        banner = cause + b"," + (DOWNLOAD_BOOT if download else FLASH_BOOT)
        self._out(ROM_HELLO + banner + b"\r\n")
        self._say(f"reset: {banner.decode()}")
        if download:
            self._enter_bootloader()
        else:
            self._boot_flash()

    def _boot_flash(self) -> None:
        """Check the images in flash as the ROM and the bootloader do; a valid one boots the firmware."""
        problem = esp_image.image_problem(self.flash.read(esp_image.BOOTLOADER_OFFSET, 64 * 1024))
        if problem:
            self._halt(problem.encode() + b"\r\n", f"no valid bootloader image at 0x1000: {problem}")
            return
        problem = esp_image.image_problem(self.flash.read(esp_image.APP_OFFSET, self.flash.size - esp_image.APP_OFFSET))
        if problem:
            self._halt(f"E (52) esp_image: image at {esp_image.APP_OFFSET:#x}: {problem}\r\n"
                       "E (58) boot: Factory app partition is not bootable\r\n"
                       "E (64) boot: No bootable app partitions in the partition table\r\n".encode(),
                       f"no valid application at {esp_image.APP_OFFSET:#x}: {problem}")
            return
        self._start_main()

    def _halt(self, console: bytes, why: str) -> None:
        self._out(console)
        self.mode = HALTED
        self._say(f"boot failed, halted until reset: {why}")

    def _start_main(self) -> None:
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

    # --- the firmware -----------------------------------------------------------------

    def _firmware_output(self) -> None:
        proc = self._firmware
        data = os.read(proc.stdout.fileno(), 65536)
        if data:
            self._out(data)
            return
        code = proc.wait()
        self._stop_firmware()
        if code in (REBOOT_EXIT, RESET_EXIT, BOOTLOADER_EXIT):
            self._reset(SW_CPU_RESET, force_download=code == BOOTLOADER_EXIT)
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
            handler = {RUNNING: self._running, FRIENDLY: self._friendly, RAW: self._raw_repl, EXECUTING: self._executing,
                       BOOTLOADER: self._bootloader, RESET: self._ignored, HALTED: self._ignored}[self.mode]
            i += handler(data[i:])

    def _ignored(self, data: bytes) -> int:
        return len(data)  # in reset, or halted after a failed boot: nothing reads the UART

    def _enter_bootloader(self) -> None:
        self._stop_firmware()
        self._stop_repl()
        self._slip = SlipDecoder()
        self.loader.state, self.loader.stub = "UNSYNCED", False
        self._out(b"waiting for download\r\n")
        self.mode = BOOTLOADER
        self._say("ROM bootloader (download mode)")

    def _running(self, data: bytes) -> int:
        cut = data.find(b"\x03")
        cut = len(data) if cut < 0 else cut
        if cut and self._firmware is not None:
            try:
                self._firmware.stdin.write(data[:cut])
            except (BrokenPipeError, ValueError):
                pass
        if cut == len(data):
            return cut
        self._stop_firmware()
        self._out(b'Traceback (most recent call last):\r\n  File "main.py", line 4, in <module>\r\n'
                  b"KeyboardInterrupt: \r\n" + BANNER)
        self.mode = FRIENDLY
        return cut + 1

    def _friendly(self, data: bytes) -> int:
        b = data[0]
        if b == 0x01:
            self._raw = bytearray()  # the same interpreter: its variables and mounts stay (Ctrl-D resets them)
            self._out(b"\r\n" + RAW_BANNER)
            self.mode = RAW
        elif b == 0x04:
            self._stop_repl()  # a soft reboot: a fresh interpreter (mounts, variables gone)
            self._out(b"MPY: soft reboot\r\n")
            self._start_main()
        elif b == 0x02:
            self._out(b"\r\n" + BANNER)
        elif b == 0x03:
            self._line, self._block = bytearray(), bytearray()
            self._out(b"\r\n>>> ")
        elif b == 0x0D:
            self._enter_line()
        elif b in (0x08, 0x7F) and self._line:
            del self._line[-1]
            self._out(b"\x08 \x08")
        elif 0x20 <= b < 0x7F:
            self._line.append(b)
            self._out(bytes((b,)))  # the friendly REPL echoes what is typed
        return 1

    def _enter_line(self) -> None:
        """Return at the friendly prompt: run the line, or gather a block (a line ending ':' up to a blank one)."""
        line, self._line = bytes(self._line), bytearray()
        self._out(b"\r\n")
        if self._block or line.rstrip().endswith(b":"):
            self._block += line + b"\n"
            if line.strip():
                self._out(b"... ")
                return
            code, self._block = bytes(self._block), bytearray()
        else:
            code = line
        if code.strip():
            self._run(code, single=True)  # the prompt comes when it is done
        else:
            self._out(b">>> ")

    def _raw_repl(self, data: bytes) -> int:
        for i, b in enumerate(data):
            if b == 0x01:
                self._raw = bytearray()
                self._out(b"\r\n" + RAW_BANNER)
            elif b == 0x02:
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
                    return i + 1  # the bytes that follow are the running code's
            else:
                self._raw.append(b)
                if self._raw == b"\x05A\x01":  # raw-paste request: declined, plain raw mode instead
                    self._raw = bytearray()
                    self._out(b"R\x00")
        return len(data)

    def _bootloader(self, data: bytes) -> int:
        for i, b in enumerate(data):  # bytes outside a frame (Ctrl-C too) mean nothing to the ROM
            for frame in self._slip.feed(bytes((b,))):
                replies, events = self.loader.receive(frame)
                for reply in replies:
                    self._out(slip_encode(reply))
                if self._loader_events(events):
                    return i + 1
        return len(data)

    def _loader_events(self, events: list) -> bool:
        """Act on what the loader did; True when it left download mode."""
        for event in events:
            self._say(f"bootloader: {event}")
            if isinstance(event, (BackToRom, RunRequested)) and getattr(event, "reboot", True):
                self._reset(SW_CPU_RESET)  # a software reset: back to download mode, as latched
                return True
            if isinstance(event, RunRequested):
                self.mode = RESET  # the ROM jumps to the application, through the same checks
                self._boot_flash()
                return True
        return False

    # --- the REPLs' interpreter: code runs while the host's bytes reach it ----------------

    def _start_repl(self) -> None:
        """A fresh interpreter (a soft reboot): its stdout is the console, its control pipe says when a run ends."""
        self._stop_repl()
        ctl_r, ctl_w = os.pipe()
        argv, env = [*self.command, str(RAW_EXEC), str(self.fs), str(ctl_w), self._fence.strip(b"\0").decode()], None
        if is_micropython(self.command) and wants_esp32(self.fs):
            env = esp32_command(self.fs, self.command)[1]
            argv.append(str(EMULATION))  # the REPL's machine is the emulated chip's
        self._repl = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, bufsize=0, pass_fds=(ctl_w,))
        os.close(ctl_w)
        self._repl_ctl = ctl_r
        for fd in (ctl_r, self._repl.stdin.fileno(), self._repl.stdout.fileno()):
            os.set_blocking(fd, False)
        self._sel.register(self._repl.stdout, selectors.EVENT_READ, "repl")
        self._sel.register(ctl_r, selectors.EVENT_READ, "repl-ctl")

    def _stop_repl(self) -> None:
        self._to_repl, self._held, self._repl_paused = bytearray(), bytearray(), False
        self._ctl_in, self._unread = bytearray(), None
        if self._repl is not None:
            for fileobj in (self._repl.stdout, self._repl_ctl, self._repl.stdin):
                try:
                    self._sel.unregister(fileobj)
                except (KeyError, ValueError):
                    pass
            os.close(self._repl_ctl)
            stop_firmware(self._repl)
            self._repl, self._repl_ctl = None, -1

    def _execute(self, code: bytes) -> None:
        # "OK", then the interpreter's output and its two 0x04 markers as they come, then the prompt ">".
        self._out(b"OK")
        self._run(code, single=False)

    def _run(self, code: bytes, single: bool) -> None:
        """Start ``code`` in the REPL's interpreter: raw REPL frames, or (``single``) a friendly REPL line.
        The board is EXECUTING until the interpreter says it is done; then the prompt."""
        if self._repl is None or self._repl.poll() is not None:
            self._start_repl()
        self._single, self._kbd_intr, self._ending = single, True, False  # Ctrl-C enabled, as pyexec starts
        self._unread, self._code_started, self._interrupt = None, False, False
        self.mode = EXECUTING
        self._to_repl += (b"s" if single else b"") + b"%d\n" % len(code) + code
        self._feed_repl()

    def _executing(self, data: bytes) -> int:
        # The UART belongs to the running code: every byte goes to its stdin, but a Ctrl-C interrupts it unless
        # it turned that off (micropython.kbd_intr(-1), as mpremote mount's hook does around each request).
        self._repl_control()
        if self.mode != EXECUTING:
            return 0  # it has just ended: these bytes are the REPL's
        if self._ending:  # it has ended, its output is still going out: these bytes are for the REPL after it
            self._held += data
            return len(data)
        cut = data.find(b"\x03") if self._kbd_intr else -1
        self._to_repl += data if cut < 0 else data[:cut]
        self._feed_repl()
        if cut < 0 or self.mode != EXECUTING:
            return len(data)
        self._interrupt = True
        self._deliver_interrupt()
        return cut + 1

    def _deliver_interrupt(self) -> None:
        # KeyboardInterrupt in the running code: once it runs (a SIGINT earlier would stop the interpreter itself)
        if self._interrupt and self._code_started and self._repl is not None:
            self._interrupt = False
            self._repl.send_signal(signal.SIGINT)

    def _feed_repl(self) -> None:
        try:
            while self._to_repl:
                del self._to_repl[:os.write(self._repl.stdin.fileno(), self._to_repl)]
        except BlockingIOError:
            pass
        except (BrokenPipeError, OSError):  # it ended: its output's end says how
            self._to_repl = bytearray()
        registered = self._sel.get_map().get(self._repl.stdin.fileno()) is not None
        if self._to_repl and not registered:
            self._sel.register(self._repl.stdin, selectors.EVENT_WRITE, "repl-in")
        elif registered and not self._to_repl:
            self._sel.unregister(self._repl.stdin)

    def _repl_output(self) -> None:
        """Pass on what the interpreter wrote, as much as the console holds: past that it is paused (its writes
        wait, as on a UART) until the host reads. An execution that said it ended is done once all is out."""
        while self._repl is not None:
            room = CONSOLE_BUFFER - len(self._tx)
            if room <= 0:
                self._pause_repl(True)
                return
            try:
                data = os.read(self._repl.stdout.fileno(), min(room, 65536))
            except BlockingIOError:
                if self._unread is not None and self.mode == EXECUTING:
                    self._done(b"")
                return
            if not data:
                self._repl_ended()
                return
            self._out(data)

    def _pause_repl(self, paused: bool) -> None:
        if paused != self._repl_paused and self._repl is not None:
            if paused:
                self._sel.unregister(self._repl.stdout)
            else:
                self._sel.register(self._repl.stdout, selectors.EVENT_READ, "repl")
        self._repl_paused = paused

    def _repl_ended(self) -> None:
        code, executing = self._repl.wait(), self.mode == EXECUTING
        self._stop_repl()
        self._say(f"the REPL's interpreter ended with status {code}")
        if code in (REBOOT_EXIT, RESET_EXIT, BOOTLOADER_EXIT):
            self._say("machine.reset() or machine.bootloader() from the REPL")
            self._reset(SW_CPU_RESET, force_download=code == BOOTLOADER_EXIT)
        elif executing:  # sys.exit() or a crash: the REPL carries on with a fresh interpreter
            self._done(b"" if self._single else b"\x04\x04")

    def _repl_control(self) -> None:
        """What the interpreter says on its control pipe (hil/raw_exec.py): the code started; Ctrl-C on or off; the
        code ended (it then reads up to the fence); "<n>\n" and the n console bytes it left unread (the REPL's)."""
        try:
            self._ctl_in += os.read(self._repl_ctl, 65536) if self._repl is not None else b""
        except BlockingIOError:
            pass
        while self._ctl_in:
            head = bytes(self._ctl_in[:1])
            if head in (b"r", b"+", b"-", b"."):
                del self._ctl_in[:1]
                self._control_event(head)
                continue
            newline = self._ctl_in.find(b"\n")
            end = newline + 1 + int(self._ctl_in[:newline]) if newline > 0 else -1
            if end < 0 or len(self._ctl_in) < end:
                return  # the rest is on its way
            self._unread = bytes(self._ctl_in[newline + 1:end])
            del self._ctl_in[:end]
            if not self._repl_paused:
                self._repl_output()  # the rest of what it wrote before it ended, then the prompt

    def _control_event(self, what: bytes) -> None:
        if what == b"r":
            self._code_started = True
            self._deliver_interrupt()
        elif what in (b"+", b"-"):
            self._kbd_intr = what == b"+"
        else:  # ".": what the host sends now is for the REPL; the interpreter reads up to the fence
            self._ending = True
            self._to_repl += self._fence
            self._feed_repl()

    def _done(self, tail: bytes) -> None:
        self.mode, self._ending = FRIENDLY if self._single else RAW, False
        self._tx += tail + (b">>> " if self._single else b">")  # the prompt, never dropped
        self._flush()
        typed, self._unread, self._held = (self._unread or b"") + self._held, None, bytearray()
        self._input(typed)  # typed ahead: the REPL reads it now, as the chip's does from its buffer
