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


QUICKSTART_SHA256 = "fbfd8e28c49e39d7b5493f30be3f8a9ce2751cc963d1492a091326a834a4c98c"  # the shipped hash


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    result = hilsim("run", "scenarios/quickstart.yaml", "--out", str(out), "-q", "--no-report")
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result.stdout


def test_report_rebuilds_the_page_from_a_trace_with_the_same_verdicts(quickstart_run, tmp_path):
    run_dir, run_stdout = quickstart_run
    rebuilt = hilsim("report", str(run_dir / "trace.jsonl"), "--out", str(tmp_path))
    assert rebuilt.returncode == 0, rebuilt.stdout + rebuilt.stderr
    verdicts = [line.split() for line in run_stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert verdicts and verdicts == [line.split() for line in rebuilt.stdout.splitlines()
                                     if line.startswith(("PASS", "FAIL"))]
    page = (tmp_path / "report.html").read_text()
    assert QUICKSTART_SHA256 in page and 'href="timeline.html"' in page and "<svg" in page
    assert (tmp_path / "timeline.html").exists() and (tmp_path / "waves.vcd").exists()


def test_report_judges_again_from_the_trace_against_a_stricter_scenario(quickstart_run, tmp_path):
    run_dir, _ = quickstart_run
    stored = sum('"kind":"reading.stored"' in line for line in (run_dir / "trace.jsonl").open())
    strict = tmp_path / "strict.yaml"
    strict.write_text((ROOT / "scenarios/quickstart.yaml").read_text()
                      .replace("readings_stored: {min: 1000}", "readings_stored: {min: 5000}"))
    result = hilsim("report", str(run_dir / "trace.jsonl"), "--out", str(tmp_path), "--scenario", str(strict))
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(rf"^FAIL  readings_stored  measured {stored}  \(expected >= 5000\)$", result.stdout, re.M)


def test_replay_confirms_the_recorded_hash_and_finds_the_scenario_by_its_name(quickstart_run, tmp_path):
    run_dir, _ = quickstart_run
    alone = tmp_path / "trace.jsonl"  # no run.json beside it: the header's name finds scenarios/quickstart.yaml
    alone.write_bytes((run_dir / "trace.jsonl").read_bytes())
    result = hilsim("replay", str(alone))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"recorded sha256: {QUICKSTART_SHA256}" in result.stdout
    assert f"replayed sha256: {QUICKSTART_SHA256}" in result.stdout


def test_replay_of_a_changed_trace_exits_1_with_both_hashes(quickstart_run, tmp_path):
    run_dir, _ = quickstart_run
    lines = (run_dir / "trace.jsonl").read_bytes().splitlines(keepends=True)
    changed = tmp_path / "trace.jsonl"
    changed.write_bytes(b"".join(lines[:-1]))  # the last line lost
    result = hilsim("replay", str(changed), "--scenario", "scenarios/quickstart.yaml")
    assert result.returncode == 1, result.stdout + result.stderr
    recorded, = re.findall(r"^recorded sha256: ([0-9a-f]{64})$", result.stdout, re.M)
    assert recorded != QUICKSTART_SHA256 and f"replayed sha256: {QUICKSTART_SHA256}" in result.stdout


def test_report_and_replay_refuse_a_file_that_is_not_a_trace(tmp_path):
    junk = tmp_path / "trace.jsonl"
    junk.write_text('{"kind":"reading.stored","t":1}\n')
    for command in ("report", "replay"):
        result = hilsim(command, str(junk))
        assert result.returncode == 2 and result.stderr.startswith("Error: ") and "trace.header" in result.stderr


def test_report_shows_the_recorded_verdict_of_an_expectation_that_reads_the_world(tmp_path):
    # light_follows_schedule reads the world's season; the trace alone cannot judge it
    run = hilsim("run", "scenarios/playoffs-same-club.yaml", "--out", str(tmp_path / "run"), "-q", "--no-report")
    assert run.returncode == 0, run.stdout + run.stderr
    beside = hilsim("report", str(tmp_path / "run" / "trace.jsonl"), "--out", str(tmp_path / "a"))
    assert beside.returncode == 0, beside.stdout + beside.stderr
    assert re.search(r"^PASS  light_follows_schedule  measured .*\(as recorded\)", beside.stdout, re.M)
    alone = tmp_path / "alone" / "trace.jsonl"
    alone.parent.mkdir()
    alone.write_bytes((tmp_path / "run" / "trace.jsonl").read_bytes())
    bare = hilsim("report", str(alone))
    assert bare.returncode == 0, bare.stdout + bare.stderr
    assert re.search(r"^N/J   light_follows_schedule  measured not judged", bare.stdout, re.M)
    assert re.search(r"^PASS  light_on  measured on ", bare.stdout, re.M)
    assert "<td>N/J</td><td>light_follows_schedule</td>" in (alone.parent / "report.html").read_text()
