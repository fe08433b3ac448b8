"""The world of a scenario: parties, links and models, built from the ``world:`` section.

The world owns everything the system does not: links between parties, the
broker process, sensors, radios, and (with ``world: {controller: ...}``) the
match-day controller's machine with its club site and internet link
(:mod:`sim.scenario.controller_party`). It starts the system's services (firmware nodes,
bridge, controller) as tasks on the runtime and applies the timeline's faults.

Parties and links are named once, here: ``node-1..n``, ``broker``, ``bridge``;
links ``node-i~broker`` and ``bridge~broker`` (and ``controller~internet``). The
loader checks a scenario against the same names (:func:`check_parties`) before
anything runs.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

from firmware.node import Node as SensorNode
from firmware.reading import OFFLINE, status_topic
from sim.models.broker_model import Message
from sim.scenario.faults import BrokerRestart, LinkDegraded, LinkDown, LinkUp, SensorFault, WifiDrop, WifiWeak
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from sim.models.network import Network
from sim.scenario.controller_party import ControllerPart
from sim.scenario.spec import Scenario, WorldKey
from sim.models.radio import SimClock, SimRadio
from sim.models.sensors import ReplayDHT22, SimDHT22, read_recording
from system.services.bridge import Bridge
from sim.models.push_recorder import RecordingPushTarget
from system.services.prometheus import ReadingPusher
from system.errors import ScenarioError
from system.adapters.reading_store import ReadingStore

def _sensor(node) -> dict:
    """``sensor: {replay: FILE}``: every node's DHT22 sends the values recorded in FILE (``hilsim record``);
    a node replays its own recording when FILE has one for it, else the file's first node's."""
    body = node.keys("sensor", {"replay": True})
    name = body["replay"].text("replay")
    here = Path(node.ctx.file).resolve().parent
    found = next((p for p in (Path(name), here / name, here.parent / name) if p.is_file()), None)
    if found is None:
        raise body["replay"].error(f"no recording {name!r} (looked in the current directory and next to the "
                                   "scenario file)")
    try:
        samples = read_recording(found)
    except (ValueError, KeyError) as exc:
        raise body["replay"].error(f"{name}: {exc}") from None
    return {"replay": str(found), "samples": samples}


# The telemetry world's ``world:`` keys, gathered by sim/scenario/vocabulary.py.
WORLD_KEYS = MappingProxyType({
    "nodes": WorldKey(lambda n: n.integer("nodes", minimum=0), 3),
    "sample_every": WorldKey(lambda n: n.duration("sample_every"), 10.0),
    "buffer_size": WorldKey(lambda n: n.integer("buffer_size", minimum=1), 256),
    "latency": WorldKey(lambda n: n.duration("latency"), 0.005),
    "read_every": WorldKey(lambda n: n.duration("read_every"), 4.0),
    "history": WorldKey(lambda n: n.integer("history", minimum=1), 60),
    "sntp_after": WorldKey(lambda n: n.duration("sntp_after"), 0.0),
    "sensor": WorldKey(_sensor, None),
})
NODE_FAULTS = (SensorFault, WifiWeak, WifiDrop)
LINK_FAULTS = (LinkDown, LinkUp, LinkDegraded)


def node_names(world: dict[str, Any]) -> list[str]:
    """The sensor nodes of a ``world:`` section, in order."""
    return [f"node-{i}" for i in range(1, world["nodes"] + 1)]


def link_names(world: dict[str, Any]) -> list[str]:
    """Every link of a ``world:`` section."""
    found = ["bridge~broker"] + [f"{name}~broker" for name in node_names(world)]
    if world.get("controller") is not None:
        found.append(ControllerPart.LINK)
    return found


def check_parties(scenario: Scenario) -> None:
    """Refuse timeline events naming a link or node this world does not have."""
    links, nodes = link_names(scenario.world), node_names(scenario.world)
    for event in scenario.timeline:
        fault = event.fault
        if isinstance(fault, LINK_FAULTS) and fault.link not in links:
            raise ScenarioError(f"no link {fault.link!r} in this world; links: {', '.join(links)}",
                                file=scenario.file, line=event.line)
        if isinstance(fault, NODE_FAULTS) and fault.node not in nodes:
            raise ScenarioError(f"no node {fault.node!r} in this world; nodes: {', '.join(nodes) or 'none'}",
                                file=scenario.file, line=event.line)


def make_sensor(rt, name: str, world: dict[str, Any]) -> SimDHT22:
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


class World:
    def __init__(self, rt, scenario: Scenario):
        self.rt = rt
        self.scenario = scenario
        cfg = scenario.world
        self.network = Network(rt)
        self.broker = BrokerHost(rt)
        self.readings = ReadingStore()
        bridge_rt = rt.child("bridge")
        bridge_link = self.network.link("bridge", "broker", latency=cfg["latency"])
        # the last pushes only (every node's latest body stays in .latest): a fleet pushes once per reading
        self.pushgateway = RecordingPushTarget(rt.child("pushgateway"), history=10_000)
        self.bridge = Bridge(bridge_rt, SimMqttClient(bridge_rt, self.broker, bridge_link, "bridge",
                                                       clean_session=False, manual_ack=True), self.readings,
                             pusher=ReadingPusher(bridge_rt, self.pushgateway))
        self._holds: dict[str, Counter[str]] = {}  # link -> reasons holding it down (fault, wifi)
        self.nodes: dict[str, SensorNode] = {}
        self.sensors: dict[str, SimDHT22] = {}
        self.radios: dict[str, SimRadio] = {}
        self.services: list[tuple[str, Callable[[], Any]]] = [("bridge", self.bridge.run)]
        for name in node_names(cfg):
            node_rt = rt.child(name)
            link = self.network.link(name, "broker", latency=cfg["latency"])
            will = Message(status_topic(name), OFFLINE, 1, True)
            sensor = self.sensors[name] = self._sensor(node_rt, name)
            radio = self.radios[name] = SimRadio(node_rt, name, on_down=lambda l=link: self.hold_down(l, "wifi"),
                                                 on_up=lambda l=link: self.release(l, "wifi"))
            clock = SimClock(node_rt, name, cfg["sntp_after"])
            hal = SimHal(sensor=sensor, wifi=radio, clock=clock,
                         mqtt=SimMqttClient(node_rt, self.broker, link, name, clean_session=False, will=will))
            self.nodes[name] = SensorNode(node_rt, hal, name, sample_every=cfg["sample_every"],
                                          buffer_size=cfg["buffer_size"], read_every=cfg["read_every"],
                                          history=cfg["history"])
            self.services += [(name, self.nodes[name].run), (f"{name}/radio", radio.run),
                              (f"{name}/clock", clock.run)]
        self._appliers: dict[type, Callable[[Any], None]] = {
            LinkDown: self._link_down, LinkUp: self._link_up,
            LinkDegraded: self._link_degraded, BrokerRestart: self._broker_restart,
            SensorFault: self._sensor_fault, WifiWeak: self._wifi_weak, WifiDrop: self._wifi_drop,
        }
        self.controller: ControllerPart | None = None
        if cfg.get("controller") is not None:
            self.controller = ControllerPart(self, cfg["controller"])
            self.services.append(("controller", self.controller.run))
            self._appliers.update(self.controller.appliers())

    def _sensor(self, rt, name: str) -> SimDHT22:
        return make_sensor(rt, name, self.scenario.world)

    def start(self) -> None:
        for name, service in self.services:
            self.rt.spawn(service(), name)
        self.rt.spawn(self._play(self.scenario.timeline), "timeline")

    async def _play(self, timeline) -> None:
        for event in timeline:
            wait = self.rt.start + event.at - self.rt.now()
            if wait > 0:
                await self.rt.sleep(wait)
            self.apply(event.fault)

    def apply(self, fault: Any) -> None:
        self._appliers[type(fault)](fault)

    def later(self, seconds: float, action: Callable[[], None], name: str) -> None:
        async def _later():
            await self.rt.sleep(seconds)
            action()

        self.rt.spawn(_later(), name)

    def hold_down(self, link, reason: str) -> None:
        """Keep ``link`` down for ``reason`` (a fault, the node's WiFi) until every hold is released."""
        holds = self._holds.setdefault(link.name, Counter())
        holds[reason] += 1
        link.set_down(reason)

    def release(self, link, reason: str, *, all_holds: bool = False) -> None:
        holds = self._holds.setdefault(link.name, Counter())
        holds[reason] = 0 if all_holds else max(0, holds[reason] - 1)
        if not +holds:
            link.set_up()

    def _link_down(self, fault: LinkDown) -> None:
        link = self.network.get(fault.link)
        self.hold_down(link, "fault")
        if fault.duration is not None:
            self.later(fault.duration, lambda: self.release(link, "fault"), f"{link.name}/restore")

    def _link_up(self, fault: LinkUp) -> None:
        self.release(self.network.get(fault.link), "fault", all_holds=True)

    def _sensor_fault(self, fault: SensorFault) -> None:
        sensor = self.sensors[fault.node]
        sensor.add_fault(fault)
        if fault.duration is not None:
            self.later(fault.duration, lambda: sensor.remove_fault(fault), f"{fault.node}/sensor-restore")

    def _wifi_weak(self, fault: WifiWeak) -> None:
        radio = self.radios[fault.node]
        radio.weaken(fault.rssi)
        if fault.duration is not None:
            self.later(fault.duration, radio.restore, f"{fault.node}/wifi-restore")

    def _wifi_drop(self, fault: WifiDrop) -> None:
        radio = self.radios[fault.node]
        radio.drop()
        if fault.duration is not None:
            self.later(fault.duration, radio.undrop, f"{fault.node}/wifi-restore")

    def _link_degraded(self, fault: LinkDegraded) -> None:
        link = self.network.get(fault.link)
        before = (link.latency, link.loss)
        link.configure(latency=fault.latency, loss=fault.loss)
        if fault.duration is not None:
            self.later(fault.duration, lambda: link.configure(latency=before[0], loss=before[1]),
                       f"{link.name}/restore")

    def _broker_restart(self, fault: BrokerRestart) -> None:
        self.broker.stop()
        self.later(fault.down_for, self.broker.start, "broker/restart")
