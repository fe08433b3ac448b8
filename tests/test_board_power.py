"""A node's ``power`` fault on a board (hil/board_node.py, hil/power_switch.py): EN held low through RTS for
the off time, or a configured switch command; the report names the switch each board used."""

from __future__ import annotations

import sys

import pytest

from boards import UsbBridge
from hil.board_node import BoardNode
from hil.dut import Dut
from hil.power_switch import CommandSwitch, parse_power
from hil.report import write_hil_html
from hil.wallclock import WallClockResult, check_hil
from sim.kernel.runtime import SimRuntime
from sim.scenario.faults import PowerLoss
from sim.scenario.loader import parse
from system.errors import BackendError, ConfigError, ScenarioError
from system.trace import Trace

POWER_CUT = """\
name: a power cut
start: 2026-03-14T08:00:00+01:00
duration: 5m
world: {nodes: 2}
timeline:
  - at: +1m
    power: {party: node-2, off_for: 20s}
"""


def _board(rt, tmp_path, power=None):
    board = BoardNode(rt, "node-2", "/dev/ttyUSB0", tmp_path, {"sample_every": 2}, log=lambda s: None, power=power)
    bridge = UsbBridge(rt.now)
    board.dut = Dut(bridge)
    return board, bridge


def test_a_power_fault_holds_a_serial_boards_en_low_through_rts_for_the_off_time(tmp_path):
    check_hil(parse(POWER_CUT, "cut.yaml"), {"node-2": "/dev/ttyUSB0"})  # a serial board can suffer it
    trace = Trace({}, None)
    rt = SimRuntime(seed=1, trace=trace)
    board, bridge = _board(rt, tmp_path)
    from hil.power_switch import EnableLine

    board.power = EnableLine(board.dut)
    rt.call_later(60, PowerLoss("node-2", 20.0).apply, board, None)
    rt.run(until=120)
    board.dut.close()
    # RTS high pulls EN low (the chip off) with DTR low keeping IO0 high; 20 s later EN is released
    assert bridge.changes == [(60.0, "dtr", False), (60.0, "rts", True), (80.0, "rts", False)]
    assert [(r["t"], r["kind"], r["switch"]) for r in trace.records] == [
        (60.0, "power.off", "EN held low through RTS"), (80.0, "power.on", "EN held low through RTS")]


def test_the_worlds_timeline_cuts_a_boards_power_through_its_control(tmp_path):
    """The scenario's power fault reaches a board node the way it reaches a simulated one: through the world."""
    from sim.scenario.world import SimBackends, World

    scenario = parse(POWER_CUT, "cut.yaml")
    rt = SimRuntime(seed=1, start=scenario.start_epoch, trace=Trace({}, None))
    board, bridge = _board(rt, tmp_path)
    from hil.power_switch import EnableLine

    board.power = EnableLine(board.dut)

    async def booted() -> None:  # the board is on from the start; booting it is not this test's
        pass

    board.run = booted

    class Bench(SimBackends):
        def board(self, name):
            return board if name == "node-2" else None

    World(rt, scenario, Bench(rt)).start()
    rt.run(until=120)
    board.dut.close()
    assert [(t - scenario.start_epoch, line, level) for t, line, level in bridge.changes] == [
        (60.0, "dtr", False), (60.0, "rts", True), (80.0, "rts", False)]


def test_a_configured_switch_command_cuts_the_supply_instead(tmp_path):
    states = tmp_path / "relay.log"
    script = f"import sys; open({str(states)!r}, 'a').write(sys.argv[1] + ' ' + sys.argv[2] + chr(10))"
    switch = CommandSwitch(f"{sys.executable} -c {script!r} {{state}} {{bit}}")
    trace = Trace({}, None)
    rt = SimRuntime(seed=1, trace=trace)
    board, bridge = _board(rt, tmp_path, power=switch)
    rt.call_later(10, PowerLoss("node-2", 5.0).apply, board, None)
    rt.run(until=30)
    board.dut.close()
    assert states.read_text() == "off 0\non 1\n"
    assert bridge.changes == [], "the EN line is left alone"
    assert board.power_control.startswith("command: ")


def test_a_switch_command_that_fails_or_cannot_say_on_and_off_is_one_clear_line(tmp_path):
    failing = CommandSwitch(f"{sys.executable} -c \"import sys; sys.exit('relay R_1 not found')\" {{bit}}")
    with pytest.raises(BackendError, match=r"exited 1: relay R_1 not found$"):
        failing.off()
    with pytest.raises(ConfigError, match=r"--power: 'usbrelay R_1=1' never says on or off"):
        CommandSwitch("usbrelay R_1=1")
    with pytest.raises(ConfigError, match="'node-3' is not a board of this run"):
        parse_power(("node-3=usbrelay R_1={bit}",), {"node-2": "/dev/ttyUSB0"})
    assert set(parse_power(("node-2=usbrelay R_1={bit}",), {"node-2": "/dev/ttyUSB0"})) == {"node-2"}


def test_a_virtual_board_without_rts_refuses_a_power_fault_at_load():
    with pytest.raises(ScenarioError, match="cut.yaml:6: node-2 is a virtual board without a power control"):
        check_hil(parse(POWER_CUT, "cut.yaml"), {"node-2": "virtual"})


def test_the_report_names_each_parts_kind_and_each_boards_power_switch(tmp_path):
    scenario = parse(POWER_CUT, "cut.yaml")
    trace = Trace({}, None)
    trace.write(60.0, "node-2", "power.off", {"node": "node-2", "switch": "EN held low through RTS"})
    parts = {"node-1": ("virtual", "on /dev/pts/3"), "node-2": ("real hardware", "ESP32 on /dev/ttyUSB0"),
             "broker": ("real process", "hilsim broker on 127.0.0.1:1883"),
             "bridge": ("real code", "system Bridge"), "node-3": ("simulated", "firmware Node")}
    result = WallClockResult(scenario, trace, 300.0, parts=parts,
                             power={"node-1": "none (no RTS line)", "node-2": "EN held low through RTS"})
    write_hil_html(result, tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert ("<tr class=real><td>node-2</td><td>real hardware</td><td>ESP32 on /dev/ttyUSB0</td>"
            "<td>EN held low through RTS (1 cut)</td></tr>") in page
    assert "<tr class=virtual><td>node-1</td><td>virtual</td><td>on /dev/pts/3</td><td>none (no RTS line)" in page
    assert "<tr class=live><td>broker</td><td>real process</td>" in page
    assert "<tr class=sim><td>node-3</td><td>simulated</td>" in page
    assert page.index("node-2") < page.index("node-1") < page.index("broker") < page.index("node-3")
