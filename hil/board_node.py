"""A sensor node that is a board, as a party of the one world: a real ESP32 on a serial port, or a
virtual board (our firmware under the MicroPython Unix port on a pseudo-terminal): ``virtual`` runs the
simulated hardware layer, ``virtual:esp32`` the ESP32 layer on emulated hardware (:mod:`hil.esp32_emulation`).

Its console lines become its trace lines; its console is the node's control
(:class:`sim.scenario.controls.NodeControl`): sensor faults are ``inject`` commands, a WiFi drop is
``wifi_drop``. It is also the node's power control (:class:`sim.scenario.controls.PowerControl`): a
``power`` fault switches the board off for the off time through its :mod:`hil.power_switch` (EN held
low through RTS, or a configured relay or smart plug). What a board cannot do (weaken the WiFi
signal, spike or drift the sensor, fail a fraction of reads; a virtual board on a pseudo-terminal has
no RTS line to switch) is listed in :data:`BOARD_CANNOT` and :data:`VIRTUAL_CANNOT`, so the loader
refuses it before a run.

On ``virtual:esp32`` the faults go through the emulated hardware wherever it can express them: a WiFi
drop takes the emulated access point down for its time (the firmware's own reconnect brings the node
back), a sensor timeout, disconnection or checksum fault is the emulated DHT22's fault for its time,
and a power cut holds the virtual chip's EN low (its next boot says ``"reset": "power_on"``). A stuck
sensor stays a console ``inject``: the DHT22 emulation has no frozen reading.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any, Callable

from hil.bundle import write_bundle
from hil.dut import Dut
from hil.esp32_emulation import Esp32Hardware
from hil.firmware_process import interpreter
from hil.power_switch import EnableLine, PowerSwitch
from hil.virtual_board import VirtualBoard
from system.errors import BackendError

VIRTUAL = "virtual"
VIRTUAL_ESP32 = "virtual:esp32"  # a virtual board running the ESP32 layer on emulated hardware
VIRTUAL_PORTS = (VIRTUAL, VIRTUAL_ESP32)
# the emulated hardware a virtual:esp32 board starts with: its access point, and what its DHT22 measures (a
# fixed climate: a board's readings are judged by the firmware's own account, not by their values)
AP_SSID, AP_PASSWORD, AP_RSSI = "hilsim-ap", "hilsim-wpa2", -60
DHT_CLIMATE = {"temperature": 21.5, "humidity": 45.0}
# the sim's sensor faults as the emulated DHT22 knows them; the others stay console commands
DHT_FAULT = {"checksum": "checksum", "disconnected": "timeout", "timeout": "timeout"}
# the sim's sensor faults as the console's inject command knows them (a timeout mid-frame fails the
# read as no answer does: the reading is lost and counted either way)
INJECT = {"stuck": "stuck", "checksum": "checksum", "disconnected": "no_response", "timeout": "no_response"}
FOREVER = 10 * 365 * 86400.0
BOOT_TIMEOUT = 25.0  # seconds from reset to the boot message: a MicroPython board needs a few
_KINDS = ", ".join(INJECT)
BOARD_CANNOT = {
    "a WiFi signal level": "its console drops the WiFi (wifi: {drop_for: ...}) but cannot weaken its signal",
    "the sensor fault 'spike'": f"its console injects {_KINDS}",
    "the sensor fault 'drift'": f"its console injects {_KINDS}",
    "a rate of faulty reads": "an injected sensor fault fails every read",
}
VIRTUAL_CANNOT = {**BOARD_CANNOT, "a power control": "its pseudo-terminal has no RTS line to hold EN low (a real "
                                                     "board's USB bridge has one)"}
VIRTUAL_ESP32_CANNOT = {
    "a WiFi signal level": "its emulated access point goes down and up (wifi: {drop_for: ...}); the run does not "
                           "set its signal level",
    "the sensor fault 'spike'": "its emulated DHT22 fails (timeout, checksum) but measures a fixed climate",
    "the sensor fault 'drift'": "its emulated DHT22 fails (timeout, checksum) but measures a fixed climate",
    "a rate of faulty reads": "an emulated DHT22 fault fails every read",
}


def esp32_settings() -> dict:
    """What a virtual:esp32 board's config.json adds: the emulated access point's WiFi, the watchdog's default."""
    return {"board": "esp32", "wifi": {"ssid": AP_SSID, "password": AP_PASSWORD}}


class VirtualEnable:
    """A virtual board's EN line, held low by the harness that runs the board (its pseudo-terminal has no RTS)."""

    def __init__(self, board: VirtualBoard):
        self.board = board

    def off(self) -> None:
        self.board.set_lines(dtr=False, rts=True)

    def on(self) -> None:
        self.board.set_lines(dtr=False, rts=False)

    def describe(self) -> str:
        return "the virtual chip's EN held low"


def idle_config(node: str) -> dict:
    """A config.json for a board that samples and prints its readings with no broker to reach (port 1 refuses
    at once): enough to test its console."""
    return {"node": node, "board": "sim", "broker": "mqtt://127.0.0.1:1", "sample_every": 1, "read_every": 0.5,
            "web_port": 0, "status_every": 5, "keepalive": 10}


class BoardNode:
    """Node ``node`` on ``port`` (a serial port, ``virtual`` or ``virtual:esp32``): ``open()`` its console, ``run()`` boots it,
    ``await close()``. ``config`` is the board's config.json (for a virtual board); ``power`` its power
    switch [default: EN through RTS]."""

    def __init__(self, rt: Any, node: str, port: str, workdir: Path, config: dict,
                 log: Callable[[str], None], power: PowerSwitch | None = None):
        self.rt = rt.child(node)
        self.node, self.port, self.workdir, self.config, self.log = node, port, workdir, config, log
        self.power = power
        self.virtual: VirtualBoard | None = None
        self.hardware: Esp32Hardware | None = None  # a virtual:esp32 board's emulated WiFi and DHT22
        self._faults = {"dht": 0, "ap": 0}  # faults begun on each: only the latest one's end heals it
        self._thread: threading.Thread | None = None
        self.dut: Dut | None = None
        self.description = ""
        self.platform: str | None = None  # sys.platform, as the firmware's boot message says it

    def open(self) -> None:
        """Open the console (for a virtual board, its pseudo-terminal first); called on the run's event loop."""
        loop = asyncio.get_running_loop()
        path = self.port
        if self.port in VIRTUAL_PORTS:
            path = self._open_virtual()
        else:
            self.description = f"ESP32 on {self.port}"
        self.dut = Dut.open(path, name=self.node, log=self.workdir / f"{self.node}.console.log")
        if self.power is None and self.virtual is None:
            self.power = EnableLine(self.dut)
        self.dut.on_line(lambda line: loop.call_soon_threadsafe(self._line, line.message))
        self.log(f"{self.node}: {'virtual board ' if self.virtual else ''}{self.description}")

    def _open_virtual(self) -> str:
        fs = write_bundle(self.workdir / self.node / "fs", self.config)
        if self.port == VIRTUAL_ESP32:
            self.hardware = Esp32Hardware(fs)
            self.hardware.wifi(up=True, ssid=AP_SSID, password=AP_PASSWORD, rssi=AP_RSSI)
            self.hardware.dht(**DHT_CLIMATE)
            self.hardware.ntp()
            self.virtual = VirtualBoard(fs, self.workdir / self.node / "flash.bin", command=interpreter("micropython"))
            self.power = self.power or VirtualEnable(self.virtual)
        else:
            self.virtual = VirtualBoard(fs, self.workdir / self.node / "flash.bin")
        path = self.virtual.open()
        layer = "ESP32 layer on emulated WiFi and DHT22, " if self.hardware else ""
        self.description = f"on {path}, {layer}firmware under {Path(self.virtual.command[0]).name}"
        return path

    async def run(self) -> None:
        """Boot the board (a virtual one powers on; a real one is reset by EN, or through its REPL on a port
        without DTR/RTS: sequence numbers from 1) and wait for it; a board silent for BOOT_TIMEOUT fails the run."""
        if self.virtual is not None:
            self._thread = threading.Thread(target=self.virtual.serve, name=f"virtual-{self.node}", daemon=True)
            self._thread.start()
            boot = await asyncio.to_thread(self.dut.expect_message, "boot", node=self.node, timeout=60)  # CI's load
        else:
            boot = await asyncio.to_thread(self.dut.reset, BOOT_TIMEOUT, node=self.node)
        self.log(f"{self.node}: booted firmware {boot['version']} on {boot['board']}")
        self.platform = boot.get("platform")
        if self.virtual is None and self.platform not in (None, "esp32"):  # a virtual board served on a port
            self.description = f"on {self.port}, firmware on {self.platform}: not an ESP32 chip"

    def _line(self, msg: dict | None) -> None:
        if msg is None:
            return
        fields = {k: v for k, v in msg.items() if k not in ("msg", "kind")}
        if msg["msg"] == "trace":
            self.rt.trace(msg["kind"], **fields)
        elif msg["msg"] == "boot":
            self.rt.trace("board.booted", **fields)
            if self.virtual is None:  # a real board's config.json has its own interval: the scenario's, each boot
                self.dut.send("interval", sample_every=self.config["sample_every"])
        elif msg["msg"] == "error":
            self.rt.trace("board.error", **fields)

    # -- the node's control: what the console can do -----------------------------------------------

    def sensor_fault(self, fault: Any) -> None:
        if self.hardware is not None and fault.kind in DHT_FAULT:
            self.hardware.dht(**DHT_CLIMATE, fault=DHT_FAULT[fault.kind])
            self.rt.trace("dht.fault", node=self.node, fault=DHT_FAULT[fault.kind])
            self._faults["dht"] += 1
            if fault.duration is not None:
                self.rt.call_later(fault.duration, self._sensor_healed, self._faults["dht"])
            return
        self.dut.send("inject", sensor=INJECT[fault.kind], seconds=FOREVER if fault.duration is None else fault.duration)

    def _sensor_healed(self, fault: int) -> None:
        if fault == self._faults["dht"]:
            self.hardware.dht(**DHT_CLIMATE)
            self.rt.trace("dht.healed", node=self.node)

    def weaken_wifi(self, rssi: float, seconds: float | None) -> None:
        raise BackendError(f"{self.node}: {BOARD_CANNOT['a WiFi signal level']}")  # refused when loading

    def drop_wifi(self, seconds: float | None) -> None:
        if self.hardware is None:
            self.dut.send("wifi_drop", seconds=FOREVER if seconds is None else seconds)
            return
        self._faults["ap"] += 1
        self._access_point(False)
        if seconds is not None:
            self.rt.call_later(seconds, self._access_point, True, self._faults["ap"])

    def _access_point(self, up: bool, fault: int | None = None) -> None:
        if fault is not None and fault != self._faults["ap"]:
            return  # a later drop still holds it down
        self.hardware.wifi(up=up, ssid=AP_SSID, password=AP_PASSWORD, rssi=AP_RSSI)
        self.rt.trace("access_point.up" if up else "access_point.down", node=self.node)

    # -- the node's power control -----------------------------------------------------------------

    @property
    def power_control(self) -> str:
        """Which power switch a power fault uses on this board (for the report), or why it has none."""
        return self.power.describe() if self.power is not None else "none (no RTS line)"

    def power_loss(self, seconds: float) -> None:
        """Switch the board off now and on again ``seconds`` later: it boots as at power-on (RAM lost, flash
        kept)."""
        if self.power is None:
            raise BackendError(f"{self.node}: {VIRTUAL_CANNOT['a power control']}")  # refused when loading
        self.power.off()
        self.rt.trace("power.off", node=self.node, switch=self.power.describe())
        self.rt.call_later(seconds, self._power_on)

    def _power_on(self) -> None:
        self.power.on()
        self.rt.trace("power.on", node=self.node, switch=self.power.describe())

    async def close(self) -> None:
        if self.virtual is not None:
            self.virtual.stop()
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join, 10)
            self.virtual.close()
        if self.dut is not None:
            self.dut.close()
