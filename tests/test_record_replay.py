"""``hilsim record`` from a (virtual) board, and the recording replayed in sim with
``world: {sensor: {replay: FILE}}``."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from sim.scenario.loader import load
from sim.scenario.runner import run_scenario
from system.adapters.child_process import stop
from system.errors import ScenarioError

from processes import ROOT, free_port


def write_scenario(path, recording: str, extra: str = "") -> None:
    path.write_text(f"""name: replay
seed: 3
start: 2026-03-14T08:00:00+01:00
duration: 2m
world:
  nodes: 2
  sample_every: 2s
  read_every: 1s
  sensor: {{replay: {recording}}}
{extra}expect:
  - readings_lost: 0
""")


@pytest.mark.live
@pytest.mark.micropython
def test_a_board_recording_replays_in_sim_with_the_recorded_values(tmp_path):
    config = tmp_path / "config.json"
    # no broker listens there: the board samples and prints its readings all the same
    config.write_text(json.dumps({"node": "node-1", "board": "sim", "broker": f"mqtt://127.0.0.1:{free_port()}",
                                  "sample_every": 1, "read_every": 0.5, "web_port": 0}))
    board = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(tmp_path / "fs"),
                              "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             cwd=ROOT)
    try:
        port = re.search(r"virtual board on (\S+)", board.stdout.readline()).group(1)
        recording = tmp_path / "recording.jsonl"
        done = subprocess.run([sys.executable, "-m", "hilsim", "record", "--port", port, "--for", "8s", "--out",
                               str(recording)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        stop(board, 10)
    assert done.returncode == 0, done.stderr
    count = int(re.search(r"recorded (\d+) readings", done.stdout).group(1))
    assert count >= 4
    records = [json.loads(line) for line in recording.read_text().splitlines()]
    assert records[0]["kind"] == "trace.header" and records[0]["port"] == port
    recorded = [r for r in records if r["kind"] == "reading.recorded"]
    assert len(recorded) == count and [r["seq"] for r in recorded] == sorted(r["seq"] for r in recorded)
    assert {r["node"] for r in recorded} == {"node-1"}

    scenario = tmp_path / "replay.yaml"
    write_scenario(scenario, recording.name)
    result = run_scenario(load(scenario))
    assert result.ok
    values = {(r["temperature"], r["humidity"]) for r in recorded}
    rows = result.world.readings.rows()
    assert len(rows) >= 100
    got = {(r["temperature"], r["humidity"]) for r in rows}
    assert got <= values, "every value the sim nodes stored is one the board recorded"
    assert len(got) >= 2, "and the recording is played through, not one value held"
    # A recorded value is sent from its arrival to the next one's (ReplayDHT22), and the recording repeats over
    # the 2-minute run: one held for a whole sampling interval (2 s) or more cannot be missed. Values that came
    # in a burst (a loaded host reads the console late) may each last too little to be sampled.
    times = [r["t"] - recorded[0]["t"] for r in recorded]
    held = {(r["temperature"], r["humidity"]) for r, t, t_next in zip(recorded, times, times[1:]) if t_next - t >= 2.0}
    assert held <= got, "every value held for a sampling interval is played"
    assert run_scenario(load(scenario)).sha256 == result.sha256, "a replay is deterministic"


def test_a_missing_or_empty_recording_is_refused_at_load_with_the_line(tmp_path):
    scenario = tmp_path / "replay.yaml"
    write_scenario(scenario, "nowhere.jsonl")
    with pytest.raises(ScenarioError, match=r"replay.yaml:9: no recording 'nowhere.jsonl'"):
        load(scenario)
    (tmp_path / "empty.jsonl").write_text('{"kind": "trace.header"}\n')
    write_scenario(scenario, "empty.jsonl")
    with pytest.raises(ScenarioError, match=r"no reading.recorded lines"):
        load(scenario)
