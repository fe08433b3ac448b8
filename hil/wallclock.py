"""Scenarios on wall-clock time with real parts: ``hilsim run SCENARIO --hil node-1=PORT``.

The scenario runs on the asyncio runtime. The broker is a real ``hilsim broker`` started
for the run (or one given by URL); every link ``X~broker`` is a ``FaultProxy`` in front
of it, so link faults act on real TCP. Each node named with ``--hil`` is a board: a
real ESP32 on a serial port, or ``virtual`` for a virtual board started here (our
firmware under the MicroPython Unix port); its console lines become its trace lines,
and sensor and WiFi faults reach it as console commands. The other nodes stay
simulated: the same firmware ``Node`` on the same runtime, with a simulated DHT22 and
WiFi and our MQTT client over real TCP. The bridge is the system's ``Bridge`` on the
live MQTT client. The expectations are the sim's, read from the trace, and the trace
header and the report say which parts were real.

A real board must have been deployed with ``broker`` pointing at this host's
``--board-proxy-port`` (the board's link proxy listens on every interface there), and
its MQTT user must be in the password file given with ``--passwd`` (the run's broker
starts from a copy of it and adds generated users for the simulated parties).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import threading
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO
from urllib.parse import urlparse

from firmware.board.mqtt import MqttClient
from firmware.board.sim_hal import SimWifi
from firmware.node import OFFLINE, Node, status_topic
from hil.broker_process import BrokerProcess
from hil.bundle import write_bundle
from hil.dut import Dut
from hil.fault_proxy import FaultProxy
from hil.virtual_board import VirtualBoard
from sim.scenario.expect import check_all
from sim.scenario.faults import BrokerRestart, LinkDegraded, LinkDown, LinkUp, SensorFault, WifiDrop, WifiWeak
from sim.scenario.runner import Outcome
from sim.scenario.spec import Scenario
from sim.scenario.vocabulary import default_vocabulary
from sim.scenario.world import make_sensor, node_names
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.mqtt_client import LiveMqttClient
from system.adapters.reading_store import ReadingStore
from system.errors import ConfigError
from system.services.bridge import Bridge
from system.trace import Trace

VIRTUAL = "virtual"
# the sim's sensor faults as the console's inject command knows them
INJECT = {"stuck": "stuck", "checksum": "checksum", "disconnected": "no_response", "timeout": "no_response"}
FOREVER = 10 * 365 * 86400.0


@dataclass
class WallClockResult(Outcome):
    """A wall-clock run, with which parts were real (node -> port)."""

    real: dict[str, str] = field(kw_only=True)


def parse_hil(values: tuple[str, ...], scenario: Scenario) -> dict[str, str]:
    """``("node-1=/dev/ttyUSB0", "node-2=virtual")`` -> {node: port}; ConfigError for unknown nodes."""
    known = node_names(scenario.world)
    real: dict[str, str] = {}
    for value in values:
        node, sep, port = value.partition("=")
        if not sep or not port:
            raise ConfigError(f"want NODE=PORT (e.g. node-1=/dev/ttyUSB0 or node-1=virtual), got {value!r}",
                              source="--hil")
        if node not in known:
            raise ConfigError(f"no node {node!r} in this scenario; nodes: {', '.join(known)}", source="--hil")
        real[node] = port
    if scenario.world.get("controller") is not None:
        raise ConfigError("wall-clock runs cover the sensor telemetry world; this scenario has a controller",
                          source="--hil")
    return real


class _Board:
    """A node that is a board: its console on a Dut, its trace lines into the run's trace."""

    def __init__(self, rt: AsyncioRuntime, node: str, port: str, workdir: Path, config: dict,
                 log: Callable[[str], None]):
        self.rt = rt.child(node)
        self.node = node
        self.port = port
        self.workdir = workdir
        self.config = config
        self.log = log
        self.virtual: VirtualBoard | None = None
        self._thread: threading.Thread | None = None
        self.dut: Dut | None = None
        self.description = ""

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.port == VIRTUAL:
            fs = write_bundle(self.workdir / self.node / "fs", self.config)
            self.virtual = VirtualBoard(fs, self.workdir / self.node / "flash.bin")
            path = self.virtual.open()
            self.dut = Dut.open(path, name=self.node, log=self.workdir / f"{self.node}.console.log")
            self.dut.on_line(lambda line: loop.call_soon_threadsafe(self._line, line.message))
            self._thread = threading.Thread(target=self.virtual.serve, name=f"virtual-{self.node}", daemon=True)
            self._thread.start()
            self.description = f"virtual board on {path}, firmware under {Path(self.virtual.command[0]).name}"
        else:
            self.dut = Dut.open(self.port, name=self.node, log=self.workdir / f"{self.node}.console.log")
            self.dut.on_line(lambda line: loop.call_soon_threadsafe(self._line, line.message))
            self.dut.send("reboot")  # a fresh boot: sequence numbers from 1, counters at 0
            self.description = f"ESP32 on {self.port}"
        self.log(f"{self.node}: {self.description}")
        boot = await asyncio.to_thread(self.dut.expect_message, "boot", node=self.node, timeout=60)
        if self.port != VIRTUAL:
            self.dut.send("interval", sample_every=self.config["sample_every"])
        self.log(f"{self.node}: booted firmware {boot['version']} on {boot['board']}")

    def _line(self, msg: dict | None) -> None:
        if msg is None:
            return
        fields = {k: v for k, v in msg.items() if k not in ("msg", "kind")}
        if msg["msg"] == "trace":
            self.rt.trace(msg["kind"], **fields)
        elif msg["msg"] == "boot":
            self.rt.trace("board.booted", **fields)
        elif msg["msg"] == "error":
            self.rt.trace("board.error", **fields)

    def inject(self, kind: str, seconds: float | None) -> None:
        self.dut.send("inject", sensor=kind, seconds=seconds if seconds is not None else FOREVER)

    def wifi_drop(self, seconds: float | None) -> None:
        self.dut.send("wifi_drop", seconds=seconds if seconds is not None else FOREVER)

    async def stop(self) -> None:
        if self.virtual is not None:
            self.virtual.stop()
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join, 10)
            self.virtual.close()
        if self.dut is not None:
            self.dut.close()


class _SimNode:
    """A simulated node on the wall clock: the firmware's Node, a simulated DHT22 and WiFi, real MQTT."""

    def __init__(self, rt: AsyncioRuntime, node: str, proxy_port: int, password: str, world: dict):
        self.rt = rt.child(node)
        self.sensor = make_sensor(self.rt, node, world)
        self.wifi = SimWifi(clock=rt.now)

        def gate() -> None:
            if not self.wifi.isconnected():
                raise OSError("wifi not connected")

        hal = type("Hal", (), {})()
        hal.sensor, hal.wifi, hal.clock = self.sensor, self.wifi, None
        hal.mqtt = MqttClient(node, "127.0.0.1", proxy_port, node, password, keepalive=10,
                              will=(status_topic(node), OFFLINE, 1, True), gate=gate)
        self.wifi.on_drop = hal.mqtt.close
        self.node = Node(self.rt, hal, node, sample_every=world["sample_every"], buffer_size=world["buffer_size"],
                         read_every=world["read_every"], history=world["history"])


class WallClockWorld:
    """Builds and runs the parts of a wall-clock run, then takes them down in reverse order."""

    def __init__(self, rt: AsyncioRuntime, scenario: Scenario, real: dict[str, str], workdir: Path, *,
                 broker_url: str | None = None, board_proxy_port: int = 1884, passwd: Path | None = None,
                 log: Callable[[str], None] = lambda s: None):
        self.rt = rt
        self.passwd = passwd
        self.scenario = scenario
        self.real = real
        self.workdir = workdir
        self.broker_url = broker_url
        self.board_proxy_port = board_proxy_port
        self.log = log
        self.broker: BrokerProcess | None = None
        self.proxies: dict[str, FaultProxy] = {}
        self.boards: dict[str, _Board] = {}
        self.sims: dict[str, _SimNode] = {}
        self.store = ReadingStore()
        self.descriptions: dict[str, str] = {}

    async def start(self, stack: AsyncExitStack) -> None:
        world = self.scenario.world
        nodes = node_names(world)
        if self.broker_url is None:
            hardware = {n for n, port in self.real.items() if port != VIRTUAL}
            if hardware and self.passwd is None:
                raise ConfigError("a real board logs in with the password in its config.json: pass the broker "
                                  "password file that has its user (--passwd)", source="--hil")
            self.broker = BrokerProcess.for_parties(self.workdir, ["bridge", *(n for n in nodes if n not in hardware)],
                                                    base_passwd=self.passwd)
            stack.callback(self.broker.stop)
            port = await asyncio.to_thread(self.broker.start)
            host, users = "127.0.0.1", self.broker.users
            self.descriptions["broker"] = f"hilsim broker on 127.0.0.1:{port}"
        else:
            parts = urlparse(self.broker_url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
            users = {name: parts.password or "" for name in ["bridge", *nodes]}
            self.descriptions["broker"] = f"broker at {host}:{port}"
        self.rt.trace("broker.started", host=host, port=port)
        for link in ["bridge~broker", *[f"{n}~broker" for n in nodes]]:
            board_link = link.split("~")[0] in self.real and self.real[link.split("~")[0]] != VIRTUAL
            proxy = FaultProxy(link, host, port, rt=self.rt.child("world"),
                               listen_host="0.0.0.0" if board_link else "127.0.0.1",
                               listen_port=self.board_proxy_port if board_link else 0)
            stack.push_async_callback(proxy.stop)
            await proxy.start()
            self.proxies[link] = proxy
        bridge_rt = self.rt.child("bridge")
        user = "bridge" if self.broker_url is None else urlparse(self.broker_url).username
        mqtt = LiveMqttClient(f"mqtt://127.0.0.1:{self.proxies['bridge~broker'].port}", user or "bridge",
                              clean_session=False, username=user, password=users["bridge"], manual_ack=True)
        bridge = Bridge(bridge_rt, mqtt, self.store)
        task = self.rt.spawn(bridge.run(), "bridge")
        stack.push_async_callback(mqtt.disconnect)
        stack.callback(task.cancel)
        self.descriptions["bridge"] = "simulated (system Bridge on the live MQTT client)"
        for name in nodes:
            proxy_port = self.proxies[f"{name}~broker"].port
            if name in self.real:
                config = {"node": name, "board": "sim", "broker": f"mqtt://127.0.0.1:{proxy_port}",
                          "user": name if self.broker_url is None else user, "password": users.get(name, ""),
                          "sample_every": world["sample_every"], "read_every": world["read_every"],
                          "buffer_size": world["buffer_size"], "web_port": 0, "keepalive": 10}
                board = _Board(self.rt, name, self.real[name], self.workdir, config, self.log)
                stack.push_async_callback(board.stop)
                await board.start()
                self.boards[name] = board
                self.descriptions[name] = f"REAL: {board.description}"
            else:
                sim = _SimNode(self.rt, name, proxy_port, users[name], world)
                task = self.rt.spawn(sim.node.run(), name)
                stack.callback(task.cancel)
                self.sims[name] = sim
                self.descriptions[name] = "simulated (firmware Node, simulated DHT22 and WiFi, real TCP)"
        self.rt.trace("run.parts", **{k: v for k, v in sorted(self.descriptions.items())})
        self.rt.spawn(self._play(), "timeline")

    async def _play(self) -> None:
        for event in self.scenario.timeline:
            wait = self.rt.start + event.at - self.rt.now()
            if wait > 0:
                await self.rt.sleep(wait)
            self.apply(event.fault)

    def _later(self, seconds: float | None, action: Callable[[], None]) -> None:
        if seconds is None:
            return

        async def later() -> None:
            await self.rt.sleep(seconds)
            action()

        self.rt.spawn(later(), "restore")

    def apply(self, fault: Any) -> None:
        """One timeline event, on the real or simulated part it names."""
        world_rt = self.rt.child("world")
        if isinstance(fault, LinkDown):
            self.proxies[fault.link].cut()
            self._later(fault.duration, self.proxies[fault.link].restore)
        elif isinstance(fault, LinkUp):
            self.proxies[fault.link].restore()
        elif isinstance(fault, LinkDegraded):
            proxy = self.proxies[fault.link]
            proxy.configure(latency=fault.latency)
            if fault.loss:
                world_rt.trace("fault.approximated", link=fault.link, reason="TCP carries no loss: latency only")
            self._later(fault.duration, proxy.configure)
        elif isinstance(fault, SensorFault):
            if fault.node in self.boards:
                if fault.kind not in INJECT:
                    world_rt.trace("fault.unsupported", node=fault.node, fault=fault.kind, reason="not on a board")
                    return
                self.boards[fault.node].inject(INJECT[fault.kind], fault.duration)
            else:
                sensor = self.sims[fault.node].sensor
                sensor.add_fault(fault)
                self._later(fault.duration, lambda: sensor.remove_fault(fault))
        elif isinstance(fault, WifiDrop):
            if fault.node in self.boards:
                self.boards[fault.node].wifi_drop(fault.duration)
            else:
                self.sims[fault.node].wifi.drop(fault.duration if fault.duration is not None else FOREVER)
        elif isinstance(fault, WifiWeak) and fault.node in self.sims:
            wifi = self.sims[fault.node].wifi
            before, wifi.level = wifi.level, int(fault.rssi)
            self._later(fault.duration, lambda: setattr(wifi, "level", before))
        elif isinstance(fault, BrokerRestart) and self.broker is not None:
            self.broker.stop()
            world_rt.trace("broker.stopped")

            def again() -> None:
                self.broker.start()
                world_rt.trace("broker.started", port=self.broker.port)

            self._later(fault.down_for, again)
        else:
            world_rt.trace("fault.unsupported", fault=type(fault).__name__, reason="not in a wall-clock run")


def run_wallclock(scenario: Scenario, real: dict[str, str], *, sink: TextIO | None = None,
                  broker_url: str | None = None, board_proxy_port: int = 1884, workdir: Path | None = None,
                  passwd: Path | None = None, log: Callable[[str], None] = lambda s: None) -> WallClockResult:
    """Run ``scenario`` for its duration on the wall clock with the boards in ``real``; the verdicts."""
    header = {"scenario": scenario.name, "seed": scenario.seed, "duration": scenario.duration, "clock": "wall",
              "real": dict(sorted(real.items()))}
    trace = Trace(header, sink)
    rt = AsyncioRuntime(seed=scenario.seed, trace=trace)
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="hilsim-hil-"))
    world = WallClockWorld(rt, scenario, real, workdir, broker_url=broker_url, board_proxy_port=board_proxy_port,
                           passwd=passwd, log=log)

    async def main() -> None:
        async with AsyncExitStack() as stack:
            await world.start(stack)
            log(f"running {scenario.name!r} for {scenario.duration:g} s of wall-clock time")
            await asyncio.sleep(max(0.0, rt.start + scenario.duration - rt.now()))
            rt.trace("run.ended")

    try:
        rt.run(main())
    finally:
        if own:
            shutil.rmtree(workdir, ignore_errors=True)
    result = WallClockResult(scenario, trace, scenario.duration, real={**world.descriptions})
    result.verdicts = check_all(result, default_vocabulary().expectations)
    return result
