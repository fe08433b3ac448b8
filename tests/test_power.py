"""A simulated node's power cut (``sim/models/power.py``): RAM is lost, the boot counter on flash is kept,
the next boot is a fresh firmware Node that counts on from it."""

from dataclasses import dataclass
from typing import Any

import pytest

from firmware.boot_count import MemoryFlash
from firmware.node import Node
from sim.kernel.runtime import SimRuntime
from sim.models.network import Network
from sim.models.power import NodePower
from sim.models.radio import SimClock
from sim.models.sensors import SimDHT22
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from system.adapters.reading_store import ReadingStore
from system.mqtt.message import Message
from system.services.bridge import Bridge
from system.trace import Trace

START = 1_773_471_600.0
CUT_AT, OFF_FOR, END = 65.0, 20.0, 200.0


class Wifi:
    def rssi(self):
        return -61


@dataclass
class Hal:
    sensor: Any
    wifi: Any
    mqtt: Any
    clock: Any
    flash: Any


class PowerWorld:
    """One node (sampling every 10 s, clock set 15 s after each boot) and the bridge on a broker."""

    def __init__(self):
        self.trace = Trace({"test": "power"})
        self.rt = SimRuntime(seed=5, start=START, trace=self.trace)
        host = BrokerHost(self.rt)
        net = Network(self.rt)
        nrt, brt = self.rt.child("node-1"), self.rt.child("bridge")
        self.store = ReadingStore()
        self.bridge = Bridge(brt, SimMqttClient(brt, host, net.link("bridge", "broker"), "bridge",
                                                clean_session=False, manual_ack=True), self.store)
        will = Message("sensors/node-1/status", b"offline", 1, True)
        self.hal = Hal(SimDHT22(nrt, "node-1"), Wifi(),
                       SimMqttClient(nrt, host, net.link("node-1", "broker"), "node-1", clean_session=False,
                                     will=will),
                       SimClock(nrt, "node-1", sync_after=15.0), MemoryFlash())
        self.power = NodePower(nrt, "node-1", self.hal, lambda: Node(nrt, self.hal, "node-1", sample_every=10.0))
        self.host = host
        self.seen_off: dict[str, Any] = {}

    def run(self) -> None:
        async def main():
            self.rt.spawn(self.bridge.run(), "bridge")
            self.power.on()
            await self.rt.sleep(CUT_AT)
            self.before = self.power.node
            self.power.cut(OFF_FOR)
            await self.rt.sleep(1.0)
            self.seen_off = {"node": self.power.node, "mqtt": self.hal.mqtt.connected,
                             "clock": self.hal.clock.synced(),
                             "status": self.host.model.retained.get("sensors/node-1/status")}
            await self.rt.sleep(END - CUT_AT - 1.0)

        self.rt.run(main(), until=END)

    def sampled(self, first: float, last: float) -> list[dict]:
        return [r for r in self.trace.of_kind("reading.sampled") if first <= r["t"] <= last]


def test_a_power_cut_loses_ram_keeps_the_boot_counter_and_boots_a_fresh_node():
    w = PowerWorld()
    w.run()
    assert [(r["node"], r["boot"]) for r in w.trace.of_kind("power.on")] == [("node-1", 1), ("node-1", 2)]
    assert [r["t"] for r in w.trace.of_kind("power.on")] == [0.0, CUT_AT + OFF_FOR]
    assert w.hal.flash.files == {"boot.count": "2"}  # on flash: the second boot counted
    assert w.before.boot == 1 and w.power.node.boot == 2 and w.power.node is not w.before
    # While off: no firmware, no connection (the broker published the will), the clock's time forgotten.
    assert w.seen_off["node"] is None and w.seen_off["mqtt"] is False and w.seen_off["clock"] is False
    assert w.seen_off["status"].payload == b"offline"
    # Nothing is sampled while the power is off; the new boot numbers its readings from 1 again.
    assert w.sampled(CUT_AT, CUT_AT + OFF_FOR) == []
    first_boot = [r["seq"] for r in w.sampled(0, CUT_AT)]
    second_boot = [r["seq"] for r in w.sampled(CUT_AT + OFF_FOR, END)]
    assert first_boot == [1, 2, 3, 4, 5, 6] and second_boot == list(range(1, 12))
    assert w.power.node.seq == 11
    # The clock is unset after each boot until SNTP answers, 15 s in.
    assert [r["t"] for r in w.trace.of_kind("clock.synced")] == [15.0, CUT_AT + OFF_FOR + 15.0]


def test_every_reading_sampled_either_side_of_a_power_cut_is_stored():
    """Counted from what the node sampled, not from the store's keys: the second boot's seq 1.. are new."""
    w = PowerWorld()
    w.run()
    sampled = w.trace.of_kind("reading.sampled")
    assert [r["boot"] for r in sampled] == [1] * 6 + [2] * 11
    assert len(w.trace.of_kind("reading.stored")) == len(sampled) == w.store.count("node-1") == 17
    assert w.bridge.duplicates == 0
    assert (w.bridge.gaps["node-1"].boots, w.bridge.gaps["node-1"].missing) == (2, 0)


def test_power_off_twice_or_on_twice_changes_nothing():
    w = PowerWorld()

    async def main():
        node = w.power.on()
        await w.rt.sleep(1.0)
        assert w.power.on() is node and w.hal.flash.files == {"boot.count": "1"}
        w.power.off()
        w.power.off()
        assert w.power.node is None and not w.power.on_now
        assert w.power.on().boot == 2
        await w.rt.sleep(1.0)

    w.rt.run(main(), until=5.0)
    assert [r["boot"] for r in w.trace.of_kind("power.on")] == [1, 2]


POWER_CUT = """\
name: a power cut
start: 2026-03-14T08:00:00+01:00
duration: 5m
world: {nodes: 2}
timeline:
  - at: +1m
    power: {party: PARTY, off_for: 20s}
"""


def test_a_power_cut_of_a_party_without_a_power_control_is_refused_at_load():
    """Every sim node, the broker and the bridge have a power control; a party the world lacks, or the
    controller of a world without one, is refused with the event's line and the parties that have one."""
    from sim.scenario.loader import parse
    from system.errors import ScenarioError

    for party in ("node-2", "broker", "bridge"):
        parse(POWER_CUT.replace("PARTY", party), "cut.yaml")
    for party in ("node-3", "controller", "cloud"):
        with pytest.raises(ScenarioError, match=f"cut.yaml:6: no party '{party}' with a power control in this "
                                                "world; parties: node-1, node-2, broker, bridge"):
            parse(POWER_CUT.replace("PARTY", party), "cut.yaml")


@pytest.mark.parametrize("real, words", [
    ({"node-2": "virtual"}, "node-2 is a virtual board without a power control: its pseudo-terminal has no RTS"),
    ({"node-1": "virtual"}, "node-2 is a simulated node on real TCP without a power control"),
])
def test_a_power_cut_on_the_wall_clock_is_refused_before_the_run(real, words):
    from hil.wallclock import check_hil
    from sim.scenario.loader import parse
    from system.errors import ScenarioError

    scenario = parse(POWER_CUT.replace("PARTY", "node-2"), "cut.yaml")
    with pytest.raises(ScenarioError, match=words):
        check_hil(scenario, real)
