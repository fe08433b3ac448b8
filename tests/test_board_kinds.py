"""A board of a ``--hil`` run is named for what it is: a virtual board started apart with ``hilsim
virtual-board``, given by its pseudo-terminal or served on a URL, is "virtual", never real hardware."""

from __future__ import annotations

import os
import pty
from types import SimpleNamespace

from hil.backends import part_kind


def test_a_virtual_board_given_by_its_pseudo_terminal_is_not_real_hardware():
    master, slave = pty.openpty()
    try:
        started_apart = SimpleNamespace(port=os.ttyname(slave), virtual=None)
        assert part_kind(started_apart) == "virtual"
    finally:
        os.close(master)
        os.close(slave)
    assert part_kind(SimpleNamespace(port="virtual", virtual=object())) == "virtual"
    assert part_kind(SimpleNamespace(port="/dev/ttyUSB0", virtual=None)) == "real hardware"


def test_a_board_whose_firmware_runs_on_another_platform_than_the_chip_is_virtual_whatever_its_port():
    """A virtual board served on an rfc2217:// URL (or any port) boots saying ``"platform": "linux"``."""
    served = SimpleNamespace(port="rfc2217://127.0.0.1:4000", virtual=None, platform="linux")
    assert part_kind(served) == "virtual"
    chip = SimpleNamespace(port="rfc2217://127.0.0.1:4000", virtual=None, platform="esp32")
    assert part_kind(chip) == "real hardware"
