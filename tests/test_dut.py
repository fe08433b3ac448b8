"""hil/dut.py and hil/serial_ports.py: the harness on a pseudo-terminal with the test playing the board."""

from __future__ import annotations

import os
import pty
import random
import re
import threading
import time
import tty

import pytest
from serial.tools.list_ports_common import ListPortInfo

from boards import UsbBridge
from hil.dut import BoardCrashed, Dut
from hil.serial_ports import detect_port, find_boards
from processes import free_port
from system.errors import BackendError, ConfigError

from test_console import noisy_stream


@pytest.fixture
def board_pty():
    """(master fd the test writes as the board, slave path the harness opens)."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    yield master, path
    os.close(master)
    os.close(slave)


def test_expect_message_line_and_regex_move_a_cursor_so_each_line_matches_once(board_pty, tmp_path):
    master, path = board_pty
    with Dut.open(path, log=tmp_path / "console.log") as dut:
        os.write(master, b'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n'
                         b'{"msg": "boot", "node": "node-1", "version": "0.1.0"}\r\n'
                         b'{"msg": "reading", "seq": 1}\n{"msg": "reading", "seq": 2}\n')
        assert dut.expect_regex(r"rst:0x(\d+)").group(1) == "1"
        assert dut.expect_message("boot")["node"] == "node-1"
        assert dut.expect_message("reading")["seq"] == 1
        assert dut.expect_message("reading")["seq"] == 2
        with pytest.raises(TimeoutError, match=r"no message reading within 0.3 s \(last line: \{"):
            dut.expect_message("reading", timeout=0.3)
        dut.send("interval", sample_every=5)
        assert os.read(master, 100) == b'{"cmd": "interval", "sample_every": 5}\n'
        with pytest.raises(ValueError, match="missing sample_every"):
            dut.send("interval")
        with pytest.raises(BackendError, match="no DTR/RTS"):
            dut.hard_reset()
    log = (tmp_path / "console.log").read_text().splitlines()
    assert len(log) == 4 and log[0].split(" ", 1)[1].startswith("rst:0x1") and float(log[0].split()[0]) > 1.7e9


def test_the_harness_survives_ten_thousand_noisy_lines_and_reports_each_valid_one_once(board_pty):
    master, path = board_pty
    data, valid, expect = noisy_stream(random.Random(11), 10_000)
    with Dut.open(path) as dut:
        def board():
            rng = random.Random(3)
            i = 0
            while i < len(data):
                n = rng.randint(1, 4000)
                os.write(master, data[i:i + n])
                i += n
            os.write(master, b'{"msg": "end"}\n')

        writer = threading.Thread(target=board)
        writer.start()
        dut.expect_message("end", timeout=120)
        writer.join()
        assert [m["id"] for m in dut.messages("reading")] == valid
        assert dut.skipped == expect


def _port(device, vid, pid):
    info = ListPortInfo(device)
    info.vid, info.pid = vid, pid
    return info


def test_boards_are_found_by_usb_ids_and_ambiguity_is_a_config_error():
    ports = [_port("/dev/ttyS0", None, None), _port("/dev/ttyUSB1", 0x1A86, 0x7523),
             _port("/dev/ttyACM0", 0x303A, 0x1001), _port("/dev/ttyUSB0", 0x046D, 0xC52B)]
    found = find_boards(ports)
    assert [(p.device, p.bridge, p.native_usb) for p in found] == [
        ("/dev/ttyACM0", "Espressif USB-Serial/JTAG (native USB)", True), ("/dev/ttyUSB1", "WCH CH340", False)]
    with pytest.raises(ConfigError, match="several ESP32 boards found: /dev/ttyACM0"):
        detect_port(ports)
    with pytest.raises(BackendError, match="no ESP32 found"):  # missing hardware: exit 1, not a usage error
        detect_port(ports[:1])
    assert detect_port([_port("/dev/ttyUSB0", 0x10C4, 0xEA60)]).bridge == "Silicon Labs CP210x"


def test_resets_drive_dtr_and_rts_in_esptools_order():
    """Hard reset: EN (RTS) pulsed low with IO0 (DTR) high; bootloader: IO0 held low while EN is released."""
    transport = UsbBridge()
    with Dut(transport) as dut:
        dut.hard_reset()
        assert [change[1:] for change in transport.changes] == [("dtr", False), ("rts", True), ("rts", False)]
        transport.changes.clear()
        dut.enter_bootloader()
        assert [change[1:] for change in transport.changes] == [
            ("dtr", False), ("rts", True), ("dtr", True), ("rts", False), ("dtr", False)]


TRACEBACK = (b'Traceback (most recent call last):\r\n  File "main.py", line 9, in <module>\r\n'
             b'  File "firmware/node.py", line 120, in run\r\nOSError: [Errno 5] EIO\r\n')


def test_a_traceback_fails_the_waiting_step_at_once_and_quotes_it(board_pty):
    master, path = board_pty
    with Dut.open(path, name="node-1") as dut:
        started = time.monotonic()
        os.write(master, b'{"msg": "reading", "seq": 1}\n' + TRACEBACK)
        with pytest.raises(BoardCrashed) as crashed:
            dut.expect_message("status", timeout=60)
        assert time.monotonic() - started < 30, "it did not wait out the step's timeout"
        assert str(crashed.value) == ('node-1 crashed while waiting for message status: Traceback (most recent call '
                                      'last): File "main.py", line 9, in <module> | File "firmware/node.py", line '
                                      '120, in run | OSError: [Errno 5] EIO')
        assert "\n" not in str(crashed.value)
        # reported once: the next step waits on normally
        os.write(master, b'{"msg": "status", "node": "node-1"}\n')
        assert dut.expect_message("status")["node"] == "node-1"


def test_a_panic_is_one_crash_until_the_board_boots_again_and_a_ctrl_c_is_none(board_pty):
    master, path = board_pty
    with Dut.open(path, name="node-1") as dut:
        os.write(master, b'Traceback (most recent call last):\r\n  File "main.py", line 4, in <module>\r\n'
                         b'KeyboardInterrupt: \r\n>>> \r\n{"msg": "ack", "cmd": "state"}\n')
        assert dut.expect_message("ack")["cmd"] == "state", "the host's Ctrl-C is no crash"
        os.write(master, b"Guru Meditation Error: Core  1 panic'ed (LoadProhibited). Exception was unhandled.\r\n"
                         b"Core  1 register dump:\r\nPC      : 0x400d1234\r\n\r\nBacktrace: 0x400d1234:0x3ffb1f20\r\n"
                         b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
                         b'{"msg": "boot", "node": "node-1", "reset": "panic"}\n'
                         b"abort() was called at PC 0x40082b6e on core 0\r\n")
        with pytest.raises(BoardCrashed, match=r"while waiting for message boot: Guru Meditation Error: Core  1 "
                                               r"panic'ed \(LoadProhibited\)"):
            dut.expect_message("boot")
        assert dut.expect_message("boot")["reset"] == "panic", "its backtrace was part of the same crash"
        with pytest.raises(BoardCrashed, match=r"abort\(\) was called at PC 0x40082b6e"):
            dut.expect_message("status", timeout=30)


def test_a_claimed_port_is_refused_until_released_and_a_holder_without_a_lock_is_found(board_pty):
    import subprocess

    from hil.serial_ports import claim, holders

    # a URL has no device to lock: the lock file alone owns it (a port of its own: the lock is machine-wide)
    url = f"rfc2217://127.0.0.1:{free_port()}"
    with claim(url):
        with pytest.raises(BackendError, match=f"^{re.escape(url)} is in use"):
            with claim(url):
                pass
    with claim(url):
        pass  # released with the command
    master, path = board_pty
    with open(path, "rb") as port:  # a program that opened the port without any lock, as screen does
        monitor = subprocess.Popen(["sleep", "30"], stdin=port)
    try:
        assert holders(path) == [f"pid {monitor.pid} (sleep 30)"]
    finally:
        monitor.kill()
        monitor.wait()


def test_a_repl_that_answers_ctrl_c_late_is_rebooted_through_it_after_all(board_pty):
    """On a loaded host MicroPython may answer Ctrl-C after the harness has taken the silence for a ROM
    bootloader: the SYNC goes unanswered, the late prompt shows it is MicroPython, and the REPL reboots it."""
    master, path = board_pty
    seen = bytearray()

    def board() -> None:
        answered = False
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            seen.extend(data)
            if b"\x03" in data and not answered:
                answered = True
                time.sleep(1.5)  # later than the harness waits for an answer
                os.write(master, b"\r\n>>> ")
            if b"\x04" in data:
                os.write(master, b'MPY: soft reboot\r\n{"msg": "boot", "node": "node-1", "boot": 2}\r\n')

    threading.Thread(target=board, daemon=True).start()
    with Dut.open(path, name="node-1") as dut:
        boot = dut.reset(node="node-1", timeout=30)
    assert boot["boot"] == 2
    assert b"\x07\x07\x12\x20" in seen, "the harness tried the ROM first"
