"""The world of a scenario: parties, links and models, built from the ``world:`` section.

The world owns everything the system does not: links between parties, the
broker process, sensors, radios. It starts the system's services (firmware
nodes, bridge) as tasks on the runtime and applies the timeline's faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from firmware.node import Node as SensorNode
from sim.broker import Message
from sim.faults import BrokerRestart, LinkDegraded, LinkDown, LinkUp
from sim.mqtt import BrokerHost, SimMqttClient
from sim.network import Network
from sim.scenario import WORLD_KEYS, Node, Scenario
from sim.sensors import SimDHT22, SimRadio
from system.bridge import Bridge
from system.errors import ScenarioError
from system.reading_store import ReadingStore

# Other parts of the world (the match-day controller, ...) register a builder here:
# ``extend(world)`` adds parties, links, services (``world.services``) and fault appliers (``world.on``).
EXTENSIONS: list[Callable[["World"], None]] = []

WORLD_KEYS.update({
    "nodes": (lambda n: n.integer("nodes", minimum=0), 3),
    "sample_every": (lambda n: n.duration("sample_every"), 10.0),
    "buffer_size": (lambda n: n.integer("buffer_size", minimum=1), 256),
    "latency": (lambda n: n.duration("latency"), 0.005),
})


@dataclass
class SimHal:
    """The firmware's hardware abstraction, backed by world models."""

    sensor: Any
    wifi: Any
    mqtt: Any


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
        self.bridge = Bridge(bridge_rt, SimMqttClient(bridge_rt, self.broker, bridge_link, "bridge",
                                                       clean_session=False), self.readings)
        self.nodes: dict[str, SensorNode] = {}
        for i in range(1, cfg["nodes"] + 1):
            name = f"node-{i}"
            node_rt = rt.child(name)
            link = self.network.link(name, "broker", latency=cfg["latency"])
            will = Message(f"sensors/{name}/status", b"offline", 1, True)
            hal = SimHal(sensor=SimDHT22(node_rt, name), wifi=SimRadio(node_rt, name, link),
                         mqtt=SimMqttClient(node_rt, self.broker, link, name, clean_session=False, will=will))
            self.nodes[name] = SensorNode(node_rt, hal, name, sample_every=cfg["sample_every"],
                                          buffer_size=cfg["buffer_size"])
        self._appliers: dict[type, Callable[[Any], None]] = {
            LinkDown: self._link_down, LinkUp: self._link_up,
            LinkDegraded: self._link_degraded, BrokerRestart: self._broker_restart,
        }
        self.services: list[tuple[str, Callable[[], Any]]] = [("bridge", self.bridge.run)]
        self.services += [(name, node.run) for name, node in self.nodes.items()]
        for extend in EXTENSIONS:
            extend(self)

    def on(self, fault_type: type, apply: Callable[[Any], None]) -> None:
        """Teach the world to apply another kind of fault (used by world extensions)."""
        self._appliers[fault_type] = apply

    def check(self, scenario: Scenario) -> None:
        """Refuse timeline events this world cannot apply, before anything runs."""
        for event in scenario.timeline:
            link = getattr(event.fault, "link", None)
            if link is not None and link not in self.network.links:
                raise ScenarioError(f"no link {link!r} in this world; links: {', '.join(sorted(self.network.links))}",
                                    file=scenario.file, line=event.line)
            if type(event.fault) not in self._appliers:
                raise ScenarioError(f"this world cannot apply {type(event.fault).__name__} yet",
                                    file=scenario.file, line=event.line)

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

    def _link_down(self, fault: LinkDown) -> None:
        link = self.network.get(fault.link)
        link.set_down()
        if fault.duration is not None:
            self.later(fault.duration, link.set_up, f"{link.name}/restore")

    def _link_up(self, fault: LinkUp) -> None:
        self.network.get(fault.link).set_up()

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
