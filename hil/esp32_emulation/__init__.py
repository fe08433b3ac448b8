"""The ESP32 a virtual board emulates for ``"board": "esp32"`` firmware, and the host's hands on it.

The directory holds MicroPython modules (``machine``, ``dht``, ``network``, ``ntptime``, ``time`` and
the chip runner ``esp32_boot.py``) that ``hil.firmware_process`` puts first on the module path of the
MicroPython Unix port when the deployed config.json asks for an esp32, so ``firmware/board/esp32_hal.py``
runs unchanged. They take their orders from files in the board's hardware directory (next to its
filesystem), which :class:`Esp32Hardware` writes: the WiFi access point, the DHT22's values and faults,
the SNTP server's clock, a reset, a hung bus. This module is the host's side and runs on CPython.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

EMULATION = Path(__file__).resolve().parent
BOOT = EMULATION / "esp32_boot.py"
DHT_FAULTS = (None, "timeout", "checksum")
RESET_CAUSES = ("power_on", "hard", "deepsleep", "soft", "watchdog")


def hardware_dir(fs: Path) -> Path:
    """Where the board on filesystem ``fs`` keeps its emulated hardware's state: ``FS.hw`` beside it."""
    return Path(fs).parent / (Path(fs).name + ".hw")


def wants_esp32(fs: Path) -> bool:
    """True when the config.json on filesystem ``fs`` names the esp32 board."""
    try:
        doc = json.loads((Path(fs) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("board", "esp32") == "esp32"


def esp32_command(fs: Path, command: list[str]) -> tuple[list[str], dict[str, str]]:
    """The MicroPython command line and environment that run filesystem ``fs`` as an emulated ESP32."""
    hardware = hardware_dir(fs)
    hardware.mkdir(parents=True, exist_ok=True)
    # a reset recorded by another process's board was followed by a power-off: HILSIM_POWER tells them apart
    env = dict(os.environ, MICROPYPATH=":.frozen", HILSIM_HW=str(hardware), HILSIM_POWER=str(os.getpid()))
    return [*command, str(BOOT)], env


class Esp32Hardware:
    """The host's side of a virtual ESP32's emulated parts (``fs``: the board's filesystem directory).

    Levels (WiFi, DHT22, SNTP) last until changed; ``reset`` and ``hang`` are events the board takes."""

    def __init__(self, fs: Path):
        self.dir = hardware_dir(fs)
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            self.control = json.loads((self.dir / "control.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.control = {}

    def _set(self, section: str, values: dict) -> None:
        self.control.setdefault(section, {}).update(values)
        tmp = self.dir / "control.json.tmp"
        tmp.write_text(json.dumps(self.control), encoding="utf-8")
        os.replace(tmp, self.dir / "control.json")  # the board never reads half a file

    def wifi(self, *, up: bool = True, ssid: str | None = None, password: str | None = None, rssi: int = -61,
             ip: str = "127.0.0.1") -> None:
        """The access point, all of it at each call: ``up`` or gone; ``ssid``/``password`` None accept any
        station; ``ip`` is the address the station gets (where the node's web page is reached)."""
        self._set("wifi", {"up": up, "ssid": ssid, "password": password, "rssi": rssi, "ip": ip})

    def dht(self, *, temperature: float = 21.5, humidity: float = 45.0, fault: str | None = None,
            pin: int = 4) -> None:
        """The DHT22 on GPIO ``pin``: what it measures, and ``fault`` (None, timeout, checksum)."""
        if fault not in DHT_FAULTS:
            raise ValueError(f"DHT22 fault: one of {DHT_FAULTS}, got {fault!r}")
        self._set("dht", {"temperature": temperature, "humidity": humidity, "fault": fault, "pin": pin})

    def ntp(self, *, now: float | None = None, fail: bool = False) -> None:
        """The SNTP server's clock reads ``now`` (Unix seconds; default the host's) at this moment; ``fail``:
        it never answers."""
        offset = 0.0 if now is None else now - time.time()
        self._set("ntp", {"offset": offset, "fail": fail})

    def reset(self, cause: str = "power_on") -> None:
        """Pull the reset line (the board restarts within about 0.2 s); its next boot reports ``cause``.
        EN on an ESP32 is a power-on reset."""
        if cause not in RESET_CAUSES:
            raise ValueError(f"reset cause: one of {RESET_CAUSES}, got {cause!r}")
        self._event("reset_request", cause)

    def hang(self) -> None:
        """Hold the DHT22's bus: the next sensor read never returns, until the board resets."""
        self._event("hang", "dht")

    def _event(self, name: str, text: str) -> None:
        tmp = self.dir / (name + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.dir / name)
