"""The harness against a real ESP32 running our firmware (``pytest --hil-port /dev/ttyUSB0 -m hardware``).

Skipped, with the reason, when no port is given; the same checks run on the virtual board in
test_virtual_board.py and test_firmware_board.py.
"""

from __future__ import annotations

import pytest

from hil.dut import Dut
from hil.provision import chip_info, is_virtual

pytestmark = pytest.mark.hardware


def test_the_real_board_resets_by_dtr_rts_and_shows_its_boot_banner(hil_port):
    with Dut.open(hil_port) as dut:
        if is_virtual(hil_port):
            dut.send("reboot")
        else:
            dut.hard_reset()
        boot = dut.expect_message("boot", timeout=30)
        assert boot["board"] in ("esp32", "unix") and boot["version"]


def test_the_real_board_answers_state_and_takes_a_sensor_fault(hil_port):
    with Dut.open(hil_port) as dut:
        dut.send("state")
        status = dut.expect_message("status", timeout=10)
        assert status["node"]
        dut.send("inject", sensor="no_response", seconds=5)
        dut.expect_message("ack", cmd="inject")
        dut.expect_message("trace", kind="reading.failed", reason="no_response", timeout=20)


def test_esptool_identifies_the_real_chip(hil_port):
    """Resets the board into its bootloader and back (the board's auto-reset circuit)."""
    info = chip_info(hil_port)
    assert info.chip.startswith("ESP32") and len(info.mac.split(":")) == 6
