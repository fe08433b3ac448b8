"""The one world (sim/scenario/world.py) and the one timeline player (sim/scenario/player.py): every party
assembled once on the backend handed in, every fault applied through the control of its target.

The wall-clock run (hil/wallclock.py) builds the same ``World`` with its own backends; these tests hand in
fake backends (a recording link, a recording board console) and check that the faults reach them, at the
scenario's times, with the values the scenario file says."""

from __future__ import annotations

import pytest

import hil.wallclock
from sim.kernel.runtime import SimRuntime
from sim.scenario import player
from sim.scenario.faults import LinkDegraded, LinkDown, SensorFault, WifiDrop
from sim.scenario.loader import parse
from sim.scenario.spec import TimedEvent
from sim.scenario.world import SimBackends, World
from system.trace import Trace

STORY = """\
name: faults through fake backends
start: 2026-03-14T08:00:00+01:00
duration: 10m
world: {nodes: 2}
timeline:
  - at: +1m
    link: {name: node-2~broker, down_for: 30s}
  - at: +2m
    link: {name: node-2~broker, latency: 250ms, for: 1m}
  - at: +3m
    sensor: {node: node-1, fault: stuck, for: 2m}
  - at: +4m
    wifi: {node: node-1, drop_for: 45s}
"""


class RecordingLink:
    """A link control that records what was asked of it, with the (virtual) time; the messages of the party
    on it go over ``inner`` (a simulated link), when there is one."""

    def __init__(self, rt, name: str, inner=None):
        self.rt, self.name, self.inner, self.calls = rt, name, inner, []
        self.latency, self.loss = 0.0, 0.0

    def __getattr__(self, name):  # send, watch, up: the inner link's
        return getattr(self.__dict__["inner"], name)

    def set_down(self, reason: str = "fault") -> None:
        self.calls.append((self.rt.now() - self.rt.start, "down", reason))

    def set_up(self) -> None:
        self.calls.append((self.rt.now() - self.rt.start, "up"))

    def configure(self, *, latency=None, loss=None) -> None:
        self.latency = self.latency if latency is None else latency
        self.loss = self.loss if loss is None else loss
        self.calls.append((self.rt.now() - self.rt.start, "configure", self.latency, self.loss))


class RecordingBoard:
    """A board's console as the node's control: records the commands it would send."""

    def __init__(self, rt):
        self.rt, self.calls, self.booted = rt, [], False

    async def run(self) -> None:
        self.booted = True

    def sensor_fault(self, fault) -> None:
        self.calls.append((self.rt.now() - self.rt.start, "inject", fault.kind, fault.duration))

    def weaken_wifi(self, rssi, seconds) -> None:
        self.calls.append((self.rt.now() - self.rt.start, "weaken", rssi, seconds))

    def drop_wifi(self, seconds) -> None:
        self.calls.append((self.rt.now() - self.rt.start, "wifi_drop", seconds))


class FakeBackends(SimBackends):
    """The sim's backends, but node-2's link is a recording one and node-1 a recording board."""

    def __init__(self, rt):
        super().__init__(rt)
        self.recording_link = None
        self.recording_board = RecordingBoard(rt)

    def link(self, a, b, latency):
        made = super().link(a, b, latency)
        if f"{a}~{b}" == "node-2~broker":
            made = self.recording_link = RecordingLink(made._rt, made.name, made)
        return made

    def board(self, name):
        return self.recording_board if name == "node-1" else None


def test_the_world_applies_each_fault_through_the_control_its_backend_gave():
    scenario = parse(STORY)
    rt = SimRuntime(seed=1, start=scenario.start_epoch, trace=Trace({}))
    backends = FakeBackends(rt)
    world = World(rt, scenario, backends)
    world.start()
    rt.env.run(until=scenario.duration)

    # times and values as the scenario file writes them (+1m down for 30 s; +2m 250 ms for 1 m)
    assert backends.recording_link.calls == [(60.0, "down", "fault"), (90.0, "up"),
                                             (120.0, "configure", 0.25, 0.0), (180.0, "configure", 0.0, 0.0)]
    # a board keeps the time of its own faults: the console gets the duration, once
    assert backends.recording_board.calls == [(180.0, "inject", "stuck", 120.0), (240.0, "wifi_drop", 45.0)]
    assert backends.recording_board.booted and "node-1" not in world.nodes and "node-2" in world.nodes


def test_the_player_applies_events_in_time_order_to_the_control_the_world_names():
    rt = SimRuntime(seed=1, start=1000.0, trace=Trace({}))
    link = RecordingLink(rt, "a~b")
    asked = []

    class Stage:
        def __init__(self):
            self.rt = rt

        def control(self, kind, target):
            asked.append((kind, target))
            return link

        def later(self, seconds, action, name):
            rt.call_later(seconds, action)

        def hold_down(self, control, reason):
            control.set_down(reason)

        def release(self, control, reason, *, all_holds=False):
            control.set_up()

    timeline = [TimedEvent(5.0, LinkDown("a~b", 2.0), 1), TimedEvent(9.0, LinkDegraded("a~b", latency=0.1), 2)]
    rt.spawn(player.play(Stage(), timeline), "timeline")
    rt.env.run(until=20)
    assert asked == [("link", "a~b"), ("link", "a~b")]
    assert link.calls == [(5.0, "down", "fault"), (7.0, "up"), (9.0, "configure", 0.1, 0.0)]


def test_the_wall_clock_run_builds_the_same_world_and_plays_the_same_player():
    assert hil.wallclock.World is World


@pytest.mark.parametrize("fault, control, target", [
    (LinkDown("node-1~broker"), "link", "node-1~broker"),
    (SensorFault("node-2", "stuck"), "node", "node-2"),
    (WifiDrop("node-3", 5.0), "node", "node-3"),
])
def test_each_fault_names_its_control_and_target(fault, control, target):
    assert (fault.control, fault.target) == (control, target)
