"""Real parts as backends of the one world (``sim.scenario.world.World``), for wall-clock runs.

:class:`WallClockBackends` is what ``hil`` hands to the sim's world builder instead of its simulated
backends: the broker is a real ``hilsim broker`` process (or one given by URL), every link
``X~broker`` a TCP fault proxy in front of it (:class:`hil.fault_proxy.ProxyLink`), the bridge's MQTT
client the live one, a simulated node's MQTT client our firmware's over real TCP, and each node named
with ``--hil`` a board (:class:`hil.board_node.BoardNode`), which is also the node's power control
(EN through RTS, or the relay or smart plug given with ``--power``: :mod:`hil.power_switch`). The world
assembles every party the same way as in sim, and the same timeline player applies the same faults to
these controls.

:func:`backend_table` says, before anything runs, which backend each party and link has, so the loader
can refuse faults they cannot suffer (``sim.scenario.loader.check_backends``).
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from firmware.board.mqtt import MqttClient
from hil.board_node import (BOARD_CANNOT, VIRTUAL, VIRTUAL_CANNOT, VIRTUAL_ESP32, VIRTUAL_ESP32_CANNOT, VIRTUAL_PORTS,
                            BoardNode, esp32_settings)
from hil.broker_process import BrokerProcess
from hil.fault_proxy import PROXY, FaultProxy, ProxyLink
from hil.power_switch import PowerSwitch
from hil.provision import is_virtual
from sim.scenario.controls import Backend
from sim.scenario.loader import link_names, node_names
from sim.scenario.spec import Scenario
from system.adapters.mqtt_client import LiveMqttClient
from system.errors import BackendError, ConfigError

_NO_CLOCK = {"a clock shift": "its console has no command to set the board's clock"}
VIRTUAL_BOARD = Backend("a virtual board", {**VIRTUAL_CANNOT, **_NO_CLOCK})
VIRTUAL_ESP32_BOARD = Backend("a virtual board on the ESP32 layer", {**VIRTUAL_ESP32_CANNOT, **_NO_CLOCK})
SERIAL_BOARD = Backend("a serial board", {**BOARD_CANNOT, **_NO_CLOCK})  # its power: EN through RTS, or a switch
BROKER_PROCESS = Backend("a hilsim broker process")  # in memory: every restart loses its sessions
# the bridge of a wall-clock run is the system's Bridge on the live MQTT client, a real socket
LIVE_BRIDGE = Backend("the Bridge on a live MQTT client", {"a power control": "its MQTT connection is a real "
                                                           "socket, which a power cut in the model cannot drop"})
NO_ADVERSARY = Backend("a wall-clock run", {"an adversary device": "its adversary party is simulated only; the "
                                            "live attacks are tests/test_adversary_broker.py"})
# a simulated node of a wall-clock run speaks real TCP: a power cut would leave its connection open
SIM_NODE_ON_TCP = Backend("a simulated node on real TCP", {"a power control": "its MQTT connection is a real "
                                                            "socket, which a power cut in the model cannot drop"})
BROKER_BY_URL = Backend("a broker given by URL", {"a restart": "it is not this run's to stop and start",
                                                  "a power control": "it is not this run's to stop and start"})
# what a part of a wall-clock run is, for the trace, the summary and the report: a virtual board is not
# hardware, and the broker process and the bridge's code are real, not simulated
HARDWARE, VIRTUAL_KIND, LIVE, REAL_CODE, SIMULATED = ("real hardware", "virtual", "real process", "real code",
                                                      "simulated")
PART_KINDS = (HARDWARE, VIRTUAL_KIND, LIVE, REAL_CODE, SIMULATED)


def backend_table(scenario: Scenario, real: dict[str, str], broker_url: str | None) -> dict[str, Backend]:
    """Party or link name -> its backend in a wall-clock run with the boards ``real`` (node -> port)."""
    table = {link: PROXY for link in link_names(scenario.world)}
    table["broker"] = BROKER_BY_URL if broker_url else BROKER_PROCESS
    table["bridge"], table["adversary"] = LIVE_BRIDGE, NO_ADVERSARY
    table.update({node: SIM_NODE_ON_TCP for node in node_names(scenario.world)})
    kinds = {VIRTUAL: VIRTUAL_BOARD, VIRTUAL_ESP32: VIRTUAL_ESP32_BOARD}
    table.update({node: kinds.get(port, SERIAL_BOARD) for node, port in real.items()})
    return table


def part_kind(board: BoardNode) -> str:
    """What a board of the run is: a virtual board (this run's, one started apart and named by its
    pseudo-terminal, or one whose firmware said it runs on another platform than the chip) is never real
    hardware."""
    elsewhere = getattr(board, "platform", None) not in (None, "esp32")
    return VIRTUAL_KIND if board.virtual is not None or is_virtual(board.port) or elsewhere else HARDWARE


class _BrokerControl:
    """The broker process as the world's broker control: a restart comes back on the same port."""

    def __init__(self, rt: Any, process: BrokerProcess | None):
        self.rt, self.process = rt, process

    def stop(self) -> None:
        if self.process is None:
            raise BackendError("the broker was given by URL: not this run's to stop")  # refused when loading
        self.process.stop()
        self.rt.trace("broker.stopped")

    def start(self) -> None:
        self.process.start()
        self.rt.trace("broker.started", port=self.process.port)

    def forget(self) -> None:
        """A restart without persistence: the ``hilsim broker`` process keeps its sessions in memory, so its
        restart loses them anyway."""
        self.rt.trace("broker.forgot")


class WallClockBackends:
    """The real parts of a wall-clock run: ``await open(stack)`` starts them (undone by the stack), then
    the world builder asks for each party's part (the ``sim.scenario.world.Backends`` methods)."""

    def __init__(self, rt: Any, scenario: Scenario, real: dict[str, str], workdir: Path, *,
                 broker_url: str | None = None, board_proxy_port: int = 1884, passwd: Path | None = None,
                 power: dict[str, PowerSwitch] | None = None, log: Callable[[str], None] = lambda s: None):
        self.rt, self.scenario, self.real, self.workdir = rt, scenario, real, workdir
        self.power = power or {}
        self.broker_url, self.board_proxy_port, self.passwd, self.log = broker_url, board_proxy_port, passwd, log
        self.process: BrokerProcess | None = None
        self.proxies: dict[str, FaultProxy] = {}
        self.boards: dict[str, BoardNode] = {}
        self.users: dict[str, str] = {}
        self.parts: dict[str, tuple[str, str]] = {}  # party -> (kind, what it is); kinds in PART_KINDS
        self.power_controls: dict[str, str] = {}  # board -> the power switch a power fault uses there
        self._stack: AsyncExitStack | None = None

    async def open(self, stack: AsyncExitStack) -> None:
        """Start the broker, a fault proxy per link, and open each board's console."""
        self._stack = stack
        host, port = await self._open_broker(stack)
        self.rt.trace("broker.started", host=host, port=port)
        for link in link_names(self.scenario.world):
            party = link.split("~")[0]
            board_link = party in self.real and self.real[party] not in VIRTUAL_PORTS
            proxy = FaultProxy(link, host, port, rt=self.rt.child("world"),
                               listen_host="0.0.0.0" if board_link else "127.0.0.1",
                               listen_port=self.board_proxy_port if board_link else 0)
            stack.push_async_callback(proxy.stop)
            await proxy.start()
            self.proxies[link] = proxy
        self.parts["bridge"] = (REAL_CODE, "system Bridge in this run's process, on the live MQTT client")
        for name in node_names(self.scenario.world):
            if name in self.real:
                self._open_board(stack, name)
            else:
                self.parts[name] = (SIMULATED, "firmware Node, simulated DHT22 and WiFi, real TCP")

    async def _open_broker(self, stack: AsyncExitStack) -> tuple[str, int]:
        nodes = node_names(self.scenario.world)
        if self.broker_url is not None:
            parts = urlparse(self.broker_url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
            self.users = {name: parts.password or "" for name in ["bridge", *nodes]}
            self.parts["broker"] = (LIVE, f"broker at {host}:{port}")
            return host, port
        hardware = {n for n, port in self.real.items() if port not in VIRTUAL_PORTS}
        if hardware and self.passwd is None:
            raise ConfigError("a real board logs in with the password in its config.json: pass the broker "
                              "password file that has its user (--passwd)", source="--hil")
        self.process = BrokerProcess.for_parties(self.workdir, ["bridge", *(n for n in nodes if n not in hardware)],
                                                 base_passwd=self.passwd)
        stack.callback(self.process.stop)
        port = await asyncio.to_thread(self.process.start)
        self.users = self.process.users
        self.parts["broker"] = (LIVE, f"hilsim broker on 127.0.0.1:{port}")
        return "127.0.0.1", port

    def _user(self, name: str) -> str:
        return name if self.broker_url is None else urlparse(self.broker_url).username

    def _open_board(self, stack: AsyncExitStack, name: str) -> None:
        world = self.scenario.world
        config = {"node": name, "board": "sim", "broker": f"mqtt://127.0.0.1:{self.proxies[f'{name}~broker'].port}",
                  "user": self._user(name), "password": self.users.get(name, ""),
                  "sample_every": world["sample_every"], "read_every": world["read_every"],
                  "buffer_size": world["buffer_size"], "web_port": 0, "keepalive": 10}
        if self.real[name] == VIRTUAL_ESP32:
            config.update(esp32_settings())
        board = BoardNode(self.rt, name, self.real[name], self.workdir, config, self.log, power=self.power.get(name))
        stack.push_async_callback(board.close)
        board.open()
        self.boards[name] = board
        self.parts[name] = (part_kind(board), board.description)
        self.power_controls[name] = board.power_control

    # -- the parts the world builder asks for -------------------------------------------------------

    def broker(self, rt: Any) -> _BrokerControl:
        return _BrokerControl(rt.child("world"), self.process)

    def link(self, a: str, b: str, latency: float) -> ProxyLink:
        return ProxyLink(self.proxies[f"{a}~{b}"])  # real TCP: the scenario's simulated latency does not apply

    def bridge_mqtt(self, rt: Any, link: ProxyLink) -> LiveMqttClient:
        mqtt = LiveMqttClient(f"mqtt://127.0.0.1:{link.proxy.port}", self._user("bridge"), clean_session=False,
                              username=self._user("bridge"), password=self.users["bridge"], manual_ack=True)
        self._stack.push_async_callback(mqtt.disconnect)
        return mqtt

    def node_mqtt(self, rt: Any, name: str, link: ProxyLink, will: Any, wifi: Any) -> MqttClient:
        def gate() -> None:
            if not wifi.isconnected():
                raise OSError("wifi not connected")

        return MqttClient(name, "127.0.0.1", link.proxy.port, self._user(name), self.users[name], keepalive=10,
                          will=(will.topic, will.payload, will.qos, will.retain), gate=gate)

    def board(self, name: str) -> BoardNode | None:
        return self.boards.get(name)

    def final_parts(self) -> dict[str, tuple[str, str]]:
        """The parts as the run ends: a board is named for what its boot message said it is."""
        return {**self.parts, **{name: (part_kind(board), board.description) for name, board in self.boards.items()}}
