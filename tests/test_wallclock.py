"""Wall-clock runs with real parts (hil/wallclock.py, ``hilsim run --hil``): the quickstart's three minutes
with node-1 a virtual board (our firmware under the MicroPython Unix port), MQTT over real TCP through the
fault proxy to a real ``hilsim broker``, and two simulated nodes; a 30 s cut of the board's link, no
reading lost."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hil.wallclock import check_hil, parse_hil
from sim.scenario.loader import load, parse
from sim.scenario.runner import run_scenario
from system.errors import ConfigError, ScenarioError

from processes import ROOT

QUICKSTART = ROOT / "scenarios" / "hil-quickstart.yaml"


def test_hil_option_names_a_node_of_the_scenario_and_a_port():
    scenario = load(QUICKSTART)
    assert parse_hil(("node-1=virtual", "node-3=/dev/ttyUSB0"), scenario) == {"node-1": "virtual",
                                                                               "node-3": "/dev/ttyUSB0"}
    with pytest.raises(ConfigError, match="no node 'node-7'"):
        parse_hil(("node-7=virtual",), scenario)
    with pytest.raises(ConfigError, match="want NODE=PORT"):
        parse_hil(("node-1",), scenario)


def _story(event: str) -> str:
    return ("name: x\nstart: 2026-03-14T08:00:00+01:00\nduration: 3m\nworld: {nodes: 2}\ntimeline:\n"
            "  - at: +10s\n    link: {name: node-2~broker, down_for: 30s}\n"
            f"  - at: +40s\n    {event}\n")


@pytest.mark.parametrize("event, real, reason", [
    ("link: {name: node-2~broker, loss: 0.2}", {},
     "node-2~broker is a TCP fault proxy without packet loss: TCP carries no loss: the fault proxy cannot drop "
     "packets"),
    ("wifi: {node: node-1, rssi: -85, for: 1m}", {"node-1": "virtual"},
     "node-1 is a virtual board without a WiFi signal level"),
    ("sensor: {node: node-1, fault: spike}", {"node-1": "/dev/ttyUSB0"},
     "node-1 is a serial board without the sensor fault 'spike'"),
    ("sensor: {node: node-1, fault: timeout, rate: 0.5}", {"node-1": "virtual"},
     "node-1 is a virtual board without a rate of faulty reads"),
])
def test_a_fault_the_chosen_backend_cannot_suffer_is_refused_when_loading_with_its_line(event, real, reason):
    scenario = parse(_story(event), "bench.yaml")
    run_scenario(scenario)  # the sim world suffers every one of them
    with pytest.raises(ScenarioError) as refused:
        check_hil(scenario, real)
    assert str(refused.value).startswith(f"bench.yaml:8: {reason}")


def test_faults_a_board_and_the_proxies_can_suffer_pass_the_check():
    for event in ("wifi: {node: node-1, drop_for: 20s}", "sensor: {node: node-1, fault: checksum, for: 1m}",
                  "link: {name: node-1~broker, latency: 200ms, for: 1m}", "broker: {restart: true, down_for: 5s}"):
        check_hil(parse(_story(event), "bench.yaml"), {"node-1": "virtual"})
    with pytest.raises(ScenarioError, match="bench.yaml:8: broker is a broker given by URL without a restart"):
        check_hil(parse(_story("broker: {restart: true}"), "bench.yaml"), {}, "mqtt://u:p@127.0.0.1:1883")


def test_the_run_command_refuses_it_before_anything_runs(tmp_path):
    bench = tmp_path / "bench.yaml"
    bench.write_text(_story("wifi: {node: node-1, rssi: -85}"))
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(bench), "--hil", "node-1=virtual",
                           "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2
    assert f"{bench}:8: node-1 is a virtual board without a WiFi signal level" in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.live
@pytest.mark.micropython
def test_three_wall_clock_minutes_with_a_virtual_board_and_a_30_s_link_cut_lose_no_reading(tmp_path):
    done = subprocess.run([sys.executable, "-m", "hilsim", "run", str(QUICKSTART), "--hil", "node-1=virtual",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=420, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    # a virtual board is not real hardware; the broker is a real process, the bridge real code, not simulated
    assert "node-1   virtual        on /dev/pts/" in done.stdout and "under micropython" in done.stdout
    assert "REAL" not in done.stdout and "real hardware" not in done.stdout
    assert "node-2   simulated" in done.stdout and "broker   real process   hilsim broker on 127.0.0.1:" in done.stdout
    assert "bridge   real code      system Bridge" in done.stdout
    lost = next(line for line in done.stdout.splitlines() if "readings_lost" in line)
    assert lost.startswith("PASS") and "measured 0 of " in lost

    report = (tmp_path / "report.html").read_text()
    assert "<tr class=virtual><td>node-1</td><td>virtual</td>" in report
    assert "<tr class=sim><td>node-2</td><td>simulated</td>" in report and "class=real" not in report

    records = [json.loads(line) for line in (tmp_path / "trace.jsonl").read_text().splitlines()]
    assert records[0]["real"] == {"node-1": "virtual"} and records[0]["clock"] == "wall"
    cut = [r for r in records if r.get("link") == "node-1~broker" and r["kind"] in ("link.down", "link.up")]
    assert [r["kind"] for r in cut] == ["link.down", "link.up"]
    down, up = cut[0]["t"], cut[1]["t"]
    assert 29 <= up - down <= 32
    board = [r for r in records if r.get("src") == "node-1"]
    sampled_in_cut = {r["seq"] for r in board if r["kind"] == "reading.sampled" and down < r["t"] < up}
    assert len(sampled_in_cut) >= 5, "the board kept sampling while its link was cut"
    stored = {r["seq"] for r in records if r["kind"] == "reading.stored" and r["node"] == "node-1"}
    assert sampled_in_cut <= stored, "every reading the board sampled during the cut reached the store"
    published_late = [r for r in board if r["kind"] == "reading.published" and r["seq"] in sampled_in_cut]
    assert all(r["t"] > up for r in published_late), "they were published after the link came back"
    assert any(r["kind"] == "reconnect.scheduled" for r in board if down < r["t"] < up + 60)

    # its sim twin: the same scenario in virtual time; hilsim diff finds no difference beyond the tolerance
    with open(tmp_path / "sim-trace.jsonl", "w", encoding="utf-8") as sink:
        assert run_scenario(load(QUICKSTART), sink=sink).ok

    def diff(tolerance: str, *kinds: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hilsim", "diff", str(tmp_path / "trace.jsonl"),
                               str(tmp_path / "sim-trace.jsonl"), "--tolerance", tolerance,
                               *(arg for kind in kinds for arg in ("--kind", kind))],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)

    sampled = diff("15s", "reading.sampled", "link.down", "link.up")  # what the world did: the same, 15 s apart
    assert sampled.returncode == 0 and "no difference beyond 15 s" in sampled.stdout, sampled.stdout + sampled.stderr
    # When the node stores its buffered readings again depends on its reconnect backoff, a random draw in each
    # world: a 30 s cut ends at the latest during attempt 6 (0.5+1+2+4+8 s at least before it), which waits up
    # to 2**5 = 32 s (firmware/backoff.py: equal jitter, base 1 s). So the two may reconnect up to 32 s apart.
    stored = diff(f"{15 + 32}s", "reading.stored")
    assert stored.returncode == 0 and "no difference beyond 47 s" in stored.stdout, stored.stdout + stored.stderr
