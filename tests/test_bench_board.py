"""The README's path for a real ESP32, followed end to end against a board on a serial URL: ``hilsim
virtual-board`` served as ``rfc2217://`` (whose DTR/RTS reach the board's EN and IO0 as on a USB bridge),
a broker user for the node, ``hilsim board deploy`` with mpremote, then a wall-clock ``hilsim run --hil`` in
which the scenario's power cut holds EN low through RTS for the off time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from boards import BoardProcess
from processes import ROOT, free_port
from system.adapters.child_process import stop

pytestmark = [pytest.mark.live, pytest.mark.slow]

POWER_CUT = """\
name: a bench board's power cut
description: node-1 is a board on a serial port; its supply is cut for 10 s through EN.
start: 2026-03-14T08:00:00+01:00
duration: 50s
world: {nodes: 1, sample_every: 2s, read_every: 1s}
timeline:
  - at: +20s
    power: {party: node-1, off_for: 10s}
expect:
  - readings_lost: {max: 0, settle: 6s}
"""


def hilsim(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "hilsim", *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert done.returncode == 0, f"hilsim {args[0]}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done


def test_a_board_on_a_serial_url_is_deployed_and_its_power_cut_through_rts_in_a_wall_clock_run(tmp_path):
    board = BoardProcess(tmp_path)
    try:
        at = board.wait_line("no main.py: at the REPL", 0)
        passwd, proxy = tmp_path / "broker.passwd", free_port()
        hilsim("broker", "--passwd", str(passwd), "--add-user", "node-1", "--password-stdin", stdin="bench-pw\n")
        config = tmp_path / "node-1.json"
        config.write_text(json.dumps({"node": "node-1", "board": "sim", "broker": f"mqtt://127.0.0.1:{proxy}",
                                      "user": "node-1", "password": "bench-pw", "sample_every": 2}))
        deployed = hilsim("board", "deploy", "--port", board.url, "--config", str(config))
        assert deployed.stdout.startswith("node-1 booted firmware 0.1.0")
        at = board.wait_line("booted main.py (1)", at)

        scenario = tmp_path / "cut.yaml"
        scenario.write_text(POWER_CUT)
        run = hilsim("run", str(scenario), "--hil", f"node-1={board.url}", "--passwd", str(passwd),
                     "--board-proxy-port", str(proxy), "--out", str(tmp_path / "run"), timeout=180)
        assert "PASS  readings_lost" in run.stdout
        assert (f"  node-1   virtual        on {board.url}, firmware on linux: not an ESP32 chip; power: EN held low "
                "through RTS") in run.stdout.splitlines(), "a virtual board on a URL is not named real hardware"
        at = board.wait_line("EN low: held in reset", at)  # the run's start: a reset, sequence numbers from 1
        at = board.wait_line("booted main.py (2)", at)
        at = board.wait_line("EN low: held in reset", at)  # the power cut
        board.wait_line("booted main.py (3)", at)

        trace = [json.loads(line) for line in (tmp_path / "run" / "trace.jsonl").read_text().splitlines()]
        power = [(r["kind"], r["switch"]) for r in trace if r["kind"].startswith("power.")]
        assert power == [("power.off", "EN held low through RTS"), ("power.on", "EN held low through RTS")]
        off, on = (r["t"] for r in trace if r["kind"].startswith("power."))
        assert 9.5 <= on - off <= 12, "EN held low for the off time"
        boots = [r for r in trace if r["kind"] == "board.booted"]
        assert [(b["boot"], b["reset"]) for b in boots] == [(2, "power_on"), (3, "power_on")]
        assert boots[1]["t"] >= on, "the board boots once its power is back"
        stored = [r for r in trace if r["kind"] == "reading.stored" and r["node"] == "node-1"]
        assert {r["boot"] for r in stored} == {2, 3}, "readings from before and after the cut are stored"
    finally:
        stop(board.proc, 10)
