"""The harness against a board running our firmware: ``pytest --hil-port /dev/ttyUSB0 -m hardware``, or
``--hil-port virtual`` for a virtual board (the ``dut`` fixture: hil/pytest_dut.py).

Skipped, with the reason, when no port is given. Each test starts from a reset board with its boot
message seen, so the suite passes run after run on the same board (test_pytest_dut.py runs it twice).
"""

from __future__ import annotations

import pytest

from hil.provision import chip_info

pytestmark = pytest.mark.hardware


def test_the_board_resets_and_shows_its_boot_banner(dut):
    assert dut.boot["board"] in ("esp32", "unix", "cpython") and dut.boot["version"]
    assert dut.boot["reset"], "the boot message says why the board started"


def test_the_board_answers_state_and_takes_a_sensor_fault(dut):
    dut.send("state")
    status = dut.expect_message("status", timeout=10)
    assert status["node"] == dut.boot["node"]
    dut.send("inject", sensor="no_response", seconds=5)
    dut.expect_message("ack", cmd="inject")
    dut.expect_message("trace", kind="reading.failed", reason="no_response", timeout=20)


def test_esptool_identifies_the_chip(hil_port):
    """Talks to the ROM bootloader, and leaves the board there: the next test's reset brings it back."""
    info = chip_info(hil_port)
    assert info.chip.startswith("ESP32") and len(info.mac.split(":")) == 6
