"""The one world of a scenario: every party assembled once, each on the backend chosen for it.

The world owns everything the system does not: links between parties, the broker,
sensors, radios, and (with ``world: {controller: ...}``) the match-day controller's
machine with its club site, internet link and cloud (:mod:`sim.scenario.controller_party`).
It starts the system's services (firmware nodes, bridge, controller) as tasks on the
runtime, and the one timeline player (:mod:`sim.scenario.player`), which applies each
fault to the control of its target (:meth:`World.control`).

Where a party runs is the :class:`Backends`' choice, handed in: :class:`SimBackends` (the
default) simulates them all in virtual time; ``hil`` hands in real parts for a wall-clock
run (a broker process, TCP fault proxies as links, the live MQTT client, boards as nodes).
The assembly of each party is the same either way, and so is the order in which links,
tasks, random streams and trace lines are made, which keeps the sim's trace hashes.

A node the timeline cuts the power of (``power: {party: node-2, off_for: 20s}``) is switched by a
:class:`sim.models.power.NodePower`, which boots a fresh firmware Node on the same board (its flash,
with the boot counter, kept); every other node is assembled exactly as before power cuts existed.
Each simulated node's sensor reports to a :class:`sim.models.sample_ledger.SampleLedger`, the
world's own record of what was sampled, which ``readings_lost`` counts from.

Parties and links are named once (:func:`sim.scenario.loader.node_names`, ``link_names``):
``node-1..n``, ``broker``, ``bridge``; links ``node-i~broker`` and ``bridge~broker`` (and
``controller~internet``, ``cloud~broker``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from firmware.boot_count import MemoryFlash
from firmware.node import Node as SensorNode
from firmware.reading import last_will
from sim.models.adversary import Adversary
from sim.models.broker_policy import BrokerPolicy
from sim.models.network import Network
from sim.models.power import NodePower, PartyPower
from sim.models.push_recorder import RecordingPushTarget
from sim.models.radio import SimClock, SimRadio
from sim.models.sample_ledger import SampleLedger, watching
from sim.models.sensors import ReplayDHT22, SimDHT22
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from sim.scenario import player
from sim.scenario.controller_party import ControllerPart
from sim.scenario.controls import BrokerControl, LinkControl, NodeControl
from sim.scenario.loader import node_names
from sim.scenario.spec import Scenario
from system.adapters.reading_store import ReadingStore
from system.mqtt.message import Message
from system.services.bridge import Bridge
from system.services.prometheus import ReadingPusher


class Backends(Protocol):
    """Where the parties of a world run. Each method makes one part of a party's assembly."""

    def broker(self, rt: Any) -> BrokerControl:
        """The broker (its control: stop and start)."""

    def link(self, a: str, b: str, latency: float) -> LinkControl:
        """The link ``a~b``."""

    def bridge_mqtt(self, rt: Any, link: LinkControl) -> Any:
        """The bridge's MQTT client (persistent session, manual acks) over ``link``."""

    def node_mqtt(self, rt: Any, name: str, link: LinkControl, will: Message, wifi: Any) -> Any:
        """A simulated node's MQTT client over ``link``, refused while ``wifi`` is not connected."""

    def board(self, name: str) -> NodeControl | None:
        """The board that is node ``name`` (its console as the node's control, ``run()`` boots it), None to
        simulate it."""


class SimBackends:
    """Every party simulated, in virtual time: the network of links and the broker model."""

    def __init__(self, rt: Any):
        self.network = Network(rt)
        self.host: BrokerHost | None = None

    def broker(self, rt: Any) -> BrokerHost:
        self.host = BrokerHost(rt, policy=BrokerPolicy.shipped())  # the live broker's ACL and client-id rules
        return self.host

    def link(self, a: str, b: str, latency: float) -> LinkControl:
        return self.network.link(a, b, latency=latency)

    def bridge_mqtt(self, rt: Any, link: LinkControl) -> SimMqttClient:
        return SimMqttClient(rt, self.host, link, "bridge", clean_session=False, manual_ack=True)

    def node_mqtt(self, rt: Any, name: str, link: LinkControl, will: Message, wifi: Any) -> SimMqttClient:
        return SimMqttClient(rt, self.host, link, name, clean_session=False, will=will)

    def board(self, name: str) -> NodeControl | None:
        return None


def make_sensor(rt: Any, name: str, world: dict[str, Any]) -> SimDHT22:
    """Node ``name``'s simulated DHT22: the daily cycle, or the recording of ``world: {sensor: {replay: ...}}``."""
    replay = world.get("sensor")
    if replay is None:
        return SimDHT22(rt, name)
    samples = replay["samples"]
    return ReplayDHT22(rt, name, samples.get(name) or next(iter(samples.values())))


@dataclass
class SimHal:
    """The firmware's hardware abstraction, backed by world models."""

    sensor: Any
    wifi: Any
    mqtt: Any
    clock: Any = None
    flash: Any = None  # the board's flash (the boot counter): kept across a power cut


class SimNodeControl:
    """A simulated node's control: faults on its DHT22 model and its radio, undone by the world's timer."""

    def __init__(self, world: "World", name: str, sensor: SimDHT22, radio: SimRadio, clock: SimClock):
        self.world, self.name, self.sensor, self.radio, self.clock = world, name, sensor, radio, clock

    def sensor_fault(self, fault: Any) -> None:
        self.sensor.add_fault(fault)
        if fault.duration is not None:
            self.world.later(fault.duration, lambda: self.sensor.remove_fault(fault), f"{self.name}/sensor-restore")

    def weaken_wifi(self, rssi: float, seconds: float | None) -> None:
        self.radio.weaken(rssi)
        if seconds is not None:
            self.world.later(seconds, self.radio.restore, f"{self.name}/wifi-restore")

    def drop_wifi(self, seconds: float | None) -> None:
        self.radio.drop()
        if seconds is not None:
            self.world.later(seconds, self.radio.undrop, f"{self.name}/wifi-restore")

    def shift_clock(self, seconds: float, restore_after: float | None) -> None:
        self.clock.shift(seconds)
        if restore_after is not None:
            self.world.later(restore_after, self.clock.resync, f"{self.name}/sntp")


class World:
    """The parties of ``scenario`` on ``rt``, each assembled once on the backend ``backends`` gives it."""

    def __init__(self, rt: Any, scenario: Scenario, backends: Backends | None = None):
        self.rt = rt
        self.scenario = scenario
        self.backends = backends if backends is not None else SimBackends(rt)
        self.links: dict[str, LinkControl] = {}
        self._holds: dict[str, Counter[str]] = {}  # link -> reasons holding it down (fault, wifi, cloud)
        self.services: list[tuple[str, Callable[[], Any]]] = []  # (task name, coroutine function), in start order
        self.tasks: list[Any] = []
        cfg = scenario.world
        self.broker = self.backends.broker(rt)
        self._assemble_bridge(cfg)
        self.nodes: dict[str, SensorNode] = {}  # a node's firmware (of its current boot, when its power is cut)
        self.powers: dict[str, NodePower] = {}  # the power of each node the timeline cuts
        self.ledgers: dict[str, SampleLedger] = {}  # what each simulated node sampled: the world's own record
        self._powered = {e.fault.target for e in scenario.timeline if e.fault.control == "power"}
        self.sensors: dict[str, SimDHT22] = {}
        self.radios: dict[str, SimRadio] = {}
        self.node_controls: dict[str, NodeControl] = {}
        for name in node_names(cfg):
            self._assemble_node(name, cfg)
        self.controller: ControllerPart | None = None
        if cfg.get("controller") is not None:
            self.controller = ControllerPart(self, cfg["controller"])
            self.services.append(("controller", self.controller.run))
        self.party_powers = self._party_powers(scenario)
        self.adversary: Adversary | None = None
        if any(e.fault.control == "adversary" for e in scenario.timeline):
            self.adversary = Adversary(self.rt, self.broker, self.link("adversary", "broker", latency=cfg["latency"]))

    def link(self, a: str, b: str, *, latency: float) -> LinkControl:
        """The link ``a~b``, made once by the backends."""
        made = self.links[f"{a}~{b}"] = self.backends.link(a, b, latency)
        return made

    def _assemble_bridge(self, cfg: dict[str, Any]) -> None:
        self.readings = ReadingStore()  # its disk: kept across the bridge's power cuts
        bridge_rt = self.rt.child("bridge")
        link = self.link("bridge", "broker", latency=cfg["latency"])
        # the last pushes only (every node's latest body stays in .latest): a fleet pushes once per reading
        self.pushgateway = RecordingPushTarget(self.rt.child("pushgateway"), history=10_000)
        mqtt = self.backends.bridge_mqtt(bridge_rt, link)

        def boot() -> Bridge:  # one Bridge per boot of its machine
            self.bridge = Bridge(bridge_rt, mqtt, self.readings, pusher=ReadingPusher(bridge_rt, self.pushgateway))
            return self.bridge

        self._boot_bridge = boot
        self.services.append(("bridge", boot().run))

    def _party_powers(self, scenario: Scenario) -> dict[str, PartyPower]:
        """The power of the broker, the bridge and the cloud, for the ones the timeline cuts."""
        cut = {e.fault.target for e in scenario.timeline if e.fault.control == "power"}
        powers: dict[str, PartyPower] = {}
        if "broker" in cut:  # its RAM is its state: sessions and queued messages go with the power
            powers["broker"] = PartyPower(self.rt, "broker", lambda: (self.broker.stop(), self.broker.forget()),
                                          self.broker.start)
        if "bridge" in cut:
            bridge_task: list[Any] = []

            def bridge_off() -> None:
                task = bridge_task.pop() if bridge_task else next(t for t in self.tasks if t.name == "bridge")
                task.cancel()
                self.bridge.mqtt.power_cut()

            powers["bridge"] = PartyPower(self.rt, "bridge", bridge_off, lambda: bridge_task.append(
                self.rt.spawn(self._boot_bridge().run(), "bridge")))
        part = self.controller.cloud_part if self.controller is not None else None
        if "cloud" in cut and part is not None:
            powers["cloud"] = PartyPower(self.rt, "cloud", lambda: part.set_up(False), lambda: part.set_up(True))
        return powers

    def _assemble_node(self, name: str, cfg: dict[str, Any]) -> None:
        node_rt = self.rt.child(name)
        link = self.link(name, "broker", latency=cfg["latency"])
        board = self.backends.board(name)
        if board is not None:  # its console is its control; booting it is its service
            self.node_controls[name] = board
            self.powers[name] = board  # and it switches its own power (hil.board_node.BoardNode.power_loss)
            self.services.append((name, board.run))
            return
        will = Message(*last_will(name))
        sensor = self.sensors[name] = make_sensor(node_rt, name, cfg)
        ledger = sensor.ledger = self.ledgers[name] = SampleLedger(name)
        radio = self.radios[name] = SimRadio(node_rt, name, on_down=lambda: self.hold_down(link, "wifi"),
                                             on_up=lambda: self.release(link, "wifi"))
        clock = SimClock(node_rt, name, cfg["sntp_after"])
        hal = SimHal(sensor=sensor, wifi=radio, clock=clock, flash=MemoryFlash(),
                     mqtt=self.backends.node_mqtt(node_rt, name, link, will, radio))
        firmware_rt = watching(node_rt, ledger)

        def boot() -> SensorNode:  # one firmware Node per boot, on the same board
            node = self.nodes[name] = SensorNode(firmware_rt, hal, name, sample_every=cfg["sample_every"],
                                                 buffer_size=cfg["buffer_size"], read_every=cfg["read_every"],
                                                 history=cfg["history"])
            return node

        self.node_controls[name] = SimNodeControl(self, name, sensor, radio, clock)
        if name not in self._powered:  # as before power cuts existed: the same tasks in the same order
            self.services += [(name, boot().run), (f"{name}/radio", radio.run), (f"{name}/clock", clock.run)]
            return
        power = self.powers[name] = NodePower(node_rt, name, hal, boot,
                                              on_cut=lambda node: ledger.power_cut(len(node.buffer)))
        self.services += [(name, power.run), (f"{name}/radio", radio.run)]  # power.on() spawns node and clock

    def start(self) -> None:
        """Spawn every party's services, then the timeline player."""
        self.tasks = [self.rt.spawn(service(), name) for name, service in self.services]
        self.tasks.append(self.rt.spawn(player.play(self, self.scenario.timeline), "timeline"))

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    def control(self, kind: str, target: str) -> Any:
        """The control of kind ``kind`` (see :mod:`sim.scenario.controls`) of party or link ``target``."""
        if kind == "link":
            return self.links[target]
        if kind == "node":
            return self.node_controls[target]
        if kind == "power" and target in self.powers:
            return self.powers[target]
        if kind == "power" and target in self.party_powers:
            return self.party_powers[target]
        if kind == "broker":
            return self.broker
        if kind == "network":
            return self
        if kind == "adversary":
            return self.adversary
        part = self.controller
        return {"power": part, "user": part, "site": part.site, "cloud": part.cloud_part, "disk": part}[kind]

    def rng(self, stream: str) -> Any:
        """The world's random stream ``stream`` (drawn from the scenario's seed)."""
        return self.rt.rng(stream)

    def later(self, seconds: float, action: Callable[[], None], name: str) -> None:
        async def _later():
            await self.rt.sleep(seconds)
            action()

        self.rt.spawn(_later(), name)

    def hold_down(self, link: LinkControl, reason: str) -> None:
        """Keep ``link`` down for ``reason`` (a fault, the node's WiFi) until every hold is released."""
        holds = self._holds.setdefault(link.name, Counter())
        holds[reason] += 1
        link.set_down(reason)

    def release(self, link: LinkControl, reason: str, *, all_holds: bool = False) -> None:
        holds = self._holds.setdefault(link.name, Counter())
        holds[reason] = 0 if all_holds else max(0, holds[reason] - 1)
        if not +holds:
            link.set_up()
