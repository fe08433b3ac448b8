"""Run reports as a user meets them: exit codes of hilsim run, hilsim report and replay from a trace,
the interactive timeline's content and the VCD waves, checked against the trace's own events."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def hilsim(*args, cwd=None):
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.run([sys.executable, "-m", "hilsim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300)


def trace_hash(stdout: str) -> str:
    (found,) = re.findall(r"^trace sha256: ([0-9a-f]{64})$", stdout, re.M)
    return found


def test_a_run_past_its_timeout_exits_3_with_one_error_line(tmp_path):
    # A budget of a microsecond is spent before the first step ends, on any machine.
    result = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path), "--timeout", "0.000001", "-q")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stderr.strip().startswith("Error: the run hit --timeout")
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_timeout_must_be_positive_and_a_bad_file_exits_2(tmp_path):
    assert hilsim("run", "scenarios/quickstart.yaml", "--timeout", "0").returncode == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration: [\n")
    assert hilsim("run", str(bad), "--out", str(tmp_path)).returncode == 2
