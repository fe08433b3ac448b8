"""hil/virtual_board.py's strapping and reset circuit, in process: what the console shows after DTR/RTS
changes (as a USB bridge's auto-reset circuit wires them to EN and IO0), after a stray SLIP frame, and at a
boot from a flash that holds no valid image. The real esptool drives the same through RFC 2217 in
test_virtual_board_esptool.py."""

from __future__ import annotations

import os
import struct
import threading
import time

import pytest

from esp_pylib import serial_reset

from hil.slip import encode
from hil.virtual_board import VirtualBoard

pytestmark = pytest.mark.live

SYNC_REQUEST = struct.pack("<BBHI", 0, 0x08, 36, 0) + b"\x07\x07\x12\x20" + b"\x55" * 32
BLANK_BOARD_PROMPT = b'Type "help()" for more information.\r\n>>> '  # MicroPython's banner: no main.py


class Console:
    """The far end of the board's pty, read in the background; ``expect`` waits for bytes to appear."""

    def __init__(self, path: str):
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        self.seen = bytearray()
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                return
            with self._cond:
                self.seen += data
                self._cond.notify_all()

    def expect(self, wanted: bytes, after: int = 0, timeout: float = 20.0) -> int:
        """Wait until ``wanted`` shows at or past offset ``after``; returns the offset just past it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while (at := self.seen.find(wanted, after)) < 0:
                left = deadline - time.monotonic()
                assert left > 0, f"no {wanted!r} on the console; it shows {bytes(self.seen[after:])[-600:]!r}"
                self._cond.wait(left)
            return at + len(wanted)

    def write(self, data: bytes) -> None:
        os.write(self.fd, data)


@pytest.fixture
def board(tmp_path):
    """A new virtual board (factory flash, no main.py) served in a thread, and its console."""
    vb = VirtualBoard(tmp_path / "fs", tmp_path / "flash.bin")
    console = Console(vb.open())
    thread = threading.Thread(target=vb.serve, daemon=True)
    thread.start()
    console.expect(BLANK_BOARD_PROMPT)
    yield vb, console
    vb.stop()
    thread.join(5)
    vb.close()
    os.close(console.fd)


def test_a_stray_slip_frame_on_the_console_does_not_enter_download_mode(board):
    vb, console = board
    mark = len(console.seen)
    console.write(encode(SYNC_REQUEST) + b"\r")  # 0xC0 ... 0xC0, then Return at the friendly prompt
    end = console.expect(b">>> ", after=mark)
    assert b"\xc0" not in console.seen[mark:end] and vb.mode == "FRIENDLY"


class Lines:
    """A pyserial port as esptool's reset sequences (esp_pylib's) drive it: DTR/RTS go to the board."""

    def __init__(self, board: VirtualBoard):
        self.board = board
        self.dtr = self.rts = False

    def setDTR(self, state: bool) -> None:  # noqa: N802 (pyserial's name)
        self.dtr = state
        self.board.set_lines(dtr=state)

    def setRTS(self, state: bool) -> None:  # noqa: N802
        self.rts = state
        self.board.set_lines(rts=state)


DOWNLOAD_BANNER = (b"rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
                   b"waiting for download\r\n")
FLASH_BOOT_BANNER = b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"


@pytest.mark.parametrize("sequence", [serial_reset.classic_bootloader_reset, serial_reset.usb_jtag_bootloader_reset])
def test_esptools_reset_sequences_enter_download_mode_and_its_hard_reset_boots_the_flash(board, sequence):
    """esptool's own sequences (esp_pylib's functions, with their timing) on the board's lines."""
    vb, console = board
    mark = len(console.seen)
    sequence(Lines(vb))
    at = console.expect(DOWNLOAD_BANNER, after=mark)
    console.write(encode(SYNC_REQUEST))
    at = console.expect(bytes([0xC0, 0x01, 0x08, 0x04, 0x00]), after=at)  # the ROM answers SYNC
    serial_reset.hard_reset(Lines(vb))  # RTS pulse, DTR released
    at = console.expect(FLASH_BOOT_BANNER, after=at)
    console.expect(BLANK_BOARD_PROMPT, after=at)


def test_a_port_opened_then_reset_by_rts_boots_the_flash(board):
    """Opening a port asserts DTR, then RTS (pyserial's defaults); a reset right after is a plain one."""
    vb, console = board
    mark = len(console.seen)
    vb.set_lines(dtr=True)
    vb.set_lines(rts=True)
    vb.set_lines(dtr=False)  # EN low
    vb.set_lines(rts=False)
    console.expect(FLASH_BOOT_BANNER + b"MicroPython", after=mark)


def test_a_board_whose_flash_holds_no_valid_application_says_why_and_stays_there(board, tmp_path):
    vb, console = board
    vb.flash.write(0x10000, b"\x12\x34\x56\x78" + os.urandom(1000))
    mark = len(console.seen)
    vb.set_lines(rts=True)
    vb.set_lines(rts=False)
    console.expect(b"E (52) esp_image: image at 0x10000: invalid header: 0x78563412\r\n"
                   b"E (58) boot: Factory app partition is not bootable\r\n", after=mark)
    vb.flash.erase(0, vb.flash.size)
    mark = len(console.seen)
    vb.set_lines(rts=True)
    vb.set_lines(rts=False)
    at = console.expect(b"boot:0x13 (SPI_FAST_FLASH_BOOT)\r\ninvalid header: 0xffffffff\r\n", after=mark)
    console.write(b"\x03\r")
    vb.set_lines(rts=True)  # the next reset shows nothing came out in between: the board stayed halted
    vb.set_lines(rts=False)
    end = console.expect(b"ets Jun  8 2016", after=at)
    assert console.seen[at:end] == b"ets Jun  8 2016"


def test_the_friendly_repl_runs_what_is_typed_as_mpremote_repl_sends_it(board):
    """Each line runs when Return comes, an expression's value is printed, a line ending ':' opens a block
    that a blank line closes (the prompts '>>> ' and '... ' as MicroPython's)."""
    vb, console = board
    mark = len(console.seen)
    console.write(b"6*7\r")
    at = console.expect(b"6*7\r\n42\r\n>>> ", after=mark)
    console.write(b"for i in range(2):\r  print(i + 10)\r\r")
    console.expect(b"for i in range(2):\r\n...   print(i + 10)\r\n... \r\n10\r\n11\r\n>>> ", after=at)


def test_on_a_pty_ctrl_c_means_nothing_to_the_rom_and_the_harness_has_the_rom_run_the_firmware(tmp_path):
    """A board left in download mode on a port without DTR/RTS: the ROM reads SLIP frames only (a Ctrl-C does
    not take it out, as it would not on the chip), so the harness sends what esptool's soft reset sends, and
    the firmware's boot message comes through whole (the ROM's reply frames are not left in front of it)."""
    from hil.board_node import idle_config
    from hil.bundle import write_bundle
    from hil.dut import Dut

    vb = VirtualBoard(write_bundle(tmp_path / "fs", idle_config("node-1")), tmp_path / "flash.bin")
    port = vb.open()
    thread = threading.Thread(target=vb.serve, daemon=True)
    thread.start()
    try:
        with Dut.open(port, name="node-1") as dut:
            dut.expect_message("boot", node="node-1", timeout=30)
            serial_reset.classic_bootloader_reset(Lines(vb))
            dut.expect_line("waiting for download", timeout=30)  # stopping the firmware first: slow on a loaded host
            at = len(dut.lines)
            dut.write(b"\r\x03\x03")  # the Ctrl-C of a pty's reset button, which the chip does not have
            boot = dut.reset(node="node-1", timeout=30)  # its Ctrl-C is not answered: the ROM is told to run
            after = [line.text for line in dut.lines[at:]]
            assert not [text for text in after if text.startswith("rst:")], f"reset instead of run: {after}"
            assert boot["board"] == "unix" and dut.skipped == {"garbage": 0, "malformed": 0, "overlong": 0}
    finally:
        vb.stop()
        thread.join(5)
        vb.close()
