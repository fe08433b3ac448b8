"""The real esptool, with its default options (reset into the bootloader, the flasher stub, compressed
writes, hard reset at the end), against ``hilsim virtual-board``: over its pseudo-terminal and over its
``rfc2217://`` URL, whose DTR/RTS reach the board's EN and IO0 as on a USB bridge."""

from __future__ import annotations

import subprocess
import sys

import pytest
import serial

from boards import BoardProcess
from hil.dut import Dut
from system.adapters.child_process import stop
from test_esp_image import esptool_image

pytestmark = pytest.mark.live
APP = 0x10000


@pytest.fixture
def start_board(tmp_path):
    boards = []

    def start(*args: str) -> BoardProcess:
        boards.append(BoardProcess(tmp_path, *args))
        return boards[-1]

    yield start
    for board in boards:
        stop(board.proc, 10)


def esptool(port: str, *args: str) -> str:
    """esptool with its default options; its output (it must succeed)."""
    done = subprocess.run([sys.executable, "-m", "esptool", "--port", port, *args], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    return done.stdout


def test_over_the_pty_a_board_strapped_for_download_takes_esptools_default_commands(start_board, tmp_path):
    """A pty has no DTR/RTS: the board is strapped into download mode (IO0 held low), and esptool's resets
    reach nothing (it says so); the stub it uploads first stays running for the next command. At the end the
    harness gets the board out as esptool's soft reset would, and the image esptool wrote boots."""
    board = start_board("--strapping", "download")
    out = esptool(board.pty, "chip-id")
    assert "Chip type:          ESP32-D0WD-V3 (revision v3.0)" in out and "Stub flasher running." in out
    assert "MAC:                24:0a:c4:12:34:56" in out
    esptool(board.pty, "erase-flash")
    assert (tmp_path / "flash.bin").read_bytes() == b"\xff" * (4 << 20)
    bootloader, image = tmp_path / "bootloader.bin", tmp_path / "app.bin"
    bootloader.write_bytes(esptool_image(2000, 4000))
    image.write_bytes(esptool_image(3000, 70000))
    out = esptool(board.pty, "write-flash", "0x1000", str(bootloader), hex(APP), str(image))
    assert f"Wrote {image.stat().st_size} bytes at 0x00010000" in out and "Hash of data verified." in out
    assert "Stub flasher is already running. No upload is necessary." in out
    back = tmp_path / "back.bin"
    esptool(board.pty, "read-flash", hex(APP), str(image.stat().st_size), str(back))
    assert back.read_bytes() == image.read_bytes()
    at = len(board.lines)
    with Dut.open(board.pty, name="board") as dut:  # the stub reboots the chip, the ROM runs what was written
        dut.restart()
        dut.expect_line('Type "help()" for more information.', timeout=30)
    board.wait_line("reset: rst:0xc (SW_CPU_RESET),boot:0x3 (DOWNLOAD_BOOT", at)
    board.wait_line("no main.py: at the REPL", at)


FLASH_BOOT = "reset: rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)"


def esptool_resets_the_board_through_its_lines(board: BoardProcess, at: int) -> int:
    """What one esptool command did to the board, in order: its reset sequence took it into the bootloader, the
    stub ran, and its hard reset (RTS on EN, DTR released) booted the flash. The index of the boot's line."""
    at = board.wait_line("reset: rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT", at)
    at = board.wait_line("bootloader: StubStarted", at)
    return board.wait_line(FLASH_BOOT, at)


@pytest.mark.slow
def test_over_rfc2217_esptools_resets_take_the_board_into_the_bootloader_and_back_into_the_flash(start_board,
                                                                                               tmp_path):
    """chip-id, write-flash, read-flash and erase-flash with esptool's defaults over the board's rfc2217:// URL,
    and after each the board boots what its flash holds: MicroPython's REPL from a valid image, and after the
    erase, the ROM's complaint about the blank flash. About 75 s: pyserial's RFC 2217 client waits at least
    0.1 s for each of esptool's timeout changes."""
    board = start_board()
    at = board.wait_line("no main.py: at the REPL", 0)  # booted its factory image
    out = esptool(board.url, "chip-id")
    assert "Chip type:          ESP32-D0WD-V3 (revision v3.0)" in out and "MAC:                24:0a:c4:12:34:56" in out
    at = esptool_resets_the_board_through_its_lines(board, at)
    at = board.wait_line("no main.py: at the REPL", at)

    image = tmp_path / "app.bin"
    image.write_bytes(esptool_image(3000, 20000))
    out = esptool(board.url, "write-flash", hex(APP), str(image))
    assert f"Wrote {image.stat().st_size} bytes at 0x00010000" in out and "Hash of data verified." in out
    at = esptool_resets_the_board_through_its_lines(board, at)
    at = board.wait_line("no main.py: at the REPL", at)
    with serial.serial_for_url(board.url, timeout=10) as console:  # the console is MicroPython's again
        console.write(b"\r")
        assert console.read_until(b">>> ").endswith(b">>> ")

    back = tmp_path / "back.bin"
    esptool(board.url, "read-flash", hex(APP), str(image.stat().st_size), str(back))
    assert back.read_bytes() == image.read_bytes()
    at = esptool_resets_the_board_through_its_lines(board, at)
    at = board.wait_line("no main.py: at the REPL", at)

    esptool(board.url, "erase-flash")
    assert (tmp_path / "flash.bin").read_bytes() == b"\xff" * (4 << 20)
    at = esptool_resets_the_board_through_its_lines(board, at)
    board.wait_line("boot failed, halted until reset: no valid bootloader image at 0x1000: invalid header: "
                    "0xffffffff", at)
