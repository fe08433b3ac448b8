"""A board's power switch: what a node's ``power`` fault acts through on real hardware.

A :class:`PowerSwitch` turns a board off and on; ``describe`` says which one a run used (the report
shows it). Two kinds:

- :class:`EnableLine` holds the chip's EN pin low through the USB bridge's RTS line, the one switch
  every ESP32 dev board has: the chip stops as without power (RAM lost, the flash kept) and boots
  at power-on when EN is released. The bridge itself stays powered.
- :class:`CommandSwitch` runs a configured command line, for a USB relay or a smart plug that cuts
  the board's supply for real, e.g. ``usbrelay HURTM_1={bit}`` or ``kasa --host 10.0.0.9 {state}``:
  ``{state}`` becomes ``on``/``off``, ``{bit}`` ``1``/``0``. It must exit 0 within 10 s.

Configured per board with ``--power NODE=COMMAND`` (:func:`parse_power`); a board without one uses
its EN line.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Protocol

from system.errors import BackendError, ConfigError

COMMAND_TIMEOUT = 10.0


class PowerSwitch(Protocol):
    """Turns one board's power off and on; ``describe`` names it for the report."""

    def off(self) -> None: ...

    def on(self) -> None: ...

    def describe(self) -> str: ...


class EnableLine:
    """EN held low through RTS on the board's console (``hil.dut.Dut.hold_in_reset``)."""

    def __init__(self, dut):
        self.dut = dut

    def off(self) -> None:
        self.dut.hold_in_reset()

    def on(self) -> None:
        self.dut.release_reset()

    def describe(self) -> str:
        return "EN held low through RTS"


class CommandSwitch:
    """A command line that switches the board's supply (a USB relay, a smart plug); see the module docstring."""

    def __init__(self, template: str, *, source: str = "--power"):
        try:
            words = shlex.split(template)
        except ValueError as exc:
            raise ConfigError(f"{template!r}: {exc}", source=source) from None
        if not words:
            raise ConfigError("an empty power command", source=source)
        if not any("{state}" in w or "{bit}" in w for w in words):
            raise ConfigError(f"{template!r} never says on or off: put {{state}} (on/off) or {{bit}} (1/0) in it",
                              source=source)
        self.template, self.words = template, words

    def _run(self, on: bool) -> None:
        argv = [w.replace("{state}", "on" if on else "off").replace("{bit}", "1" if on else "0") for w in self.words]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise BackendError(f"power command {shlex.join(argv)}: {exc}") from exc
        if done.returncode != 0:
            why = (done.stderr or done.stdout).strip().splitlines()
            raise BackendError(f"power command {shlex.join(argv)} exited {done.returncode}"
                               + (f": {why[-1]}" if why else ""))

    def off(self) -> None:
        self._run(False)

    def on(self) -> None:
        self._run(True)

    def describe(self) -> str:
        return f"command: {self.template}"


def parse_power(values: tuple[str, ...], boards: dict[str, str]) -> dict[str, CommandSwitch]:
    """``("node-1=usbrelay R_1={bit}",)`` -> {node: switch}; a ConfigError for a node that is no board."""
    switches = {}
    for value in values:
        node, sep, command = value.partition("=")
        if not sep:
            raise ConfigError(f"want NODE=COMMAND (e.g. node-1='usbrelay R_1={{bit}}'), got {value!r}",
                              source="--power")
        if node not in boards:
            raise ConfigError(f"{node!r} is not a board of this run (--hil names the boards)", source="--power")
        switches[node] = CommandSwitch(command)
    return switches
