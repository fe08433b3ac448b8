"""The command line as a user meets it: exit codes, verdict lines, hashes, error messages."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def hilsim(*args, hashseed="0", cwd=None):
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    return subprocess.run([sys.executable, "-m", "hilsim", *args], capture_output=True, text=True,
                          cwd=cwd or ROOT, env=env, timeout=300)


def trace_hash(stdout: str) -> str:
    (found,) = re.findall(r"^trace sha256: ([0-9a-f]{64})$", stdout, re.M)
    return found


def test_quickstart_passes_with_the_same_hash_under_any_hash_seed(tmp_path):
    first = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "a"), hashseed="1")
    second = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "b"), "--no-report",
                    hashseed="4242")
    assert first.returncode == 0, first.stdout + first.stderr
    assert second.returncode == 0
    assert re.search(r"^PASS  readings_lost\s+measured 0 of \d+", first.stdout, re.M)
    assert trace_hash(first.stdout) == trace_hash(second.stdout)
    # the trace file is the hashed bytes
    import hashlib
    data = (tmp_path / "a" / "trace.jsonl").read_bytes()
    assert hashlib.sha256(data).hexdigest() == trace_hash(first.stdout)
    junit = (tmp_path / "a" / "junit.xml").read_text()
    assert 'failures="0"' in junit and "readings_lost" in junit
    report = (tmp_path / "a" / "report.html").read_text()
    assert "<svg" in report and trace_hash(first.stdout) in report


def test_hash_only_gives_the_full_traces_hash_and_the_same_verdicts_without_a_trace_file(tmp_path):
    full = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "full"), "--no-report")
    lean = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "lean"), "--hash-only")
    assert full.returncode == lean.returncode == 0, lean.stdout + lean.stderr
    assert trace_hash(lean.stdout) == trace_hash(full.stdout)
    verdicts = [line for line in full.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert verdicts and verdicts == [line for line in lean.stdout.splitlines() if line.startswith(("PASS", "FAIL"))]
    assert not (tmp_path / "lean" / "trace.jsonl").exists()
    assert (tmp_path / "lean" / "junit.xml").exists()


def test_another_seed_gives_another_hash(tmp_path):
    a = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path), "--no-report")
    b = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path), "--no-report", "--seed", "99")
    assert a.returncode == b.returncode == 0
    assert trace_hash(a.stdout) != trace_hash(b.stdout)


def test_a_failing_expectation_exits_1_and_says_what_was_measured(tmp_path):
    text = (ROOT / "scenarios/quickstart.yaml").read_text().replace("readings_stored: {min: 1000}",
                                                                     "readings_stored: {min: 999999}")
    path = tmp_path / "strict.yaml"
    path.write_text(text)
    result = hilsim("run", str(path), "--out", str(tmp_path / "out"), "--no-report")
    assert result.returncode == 1
    assert re.search(r"^FAIL  readings_stored\s+measured \d+  \(expected >= 999999\)$", result.stdout, re.M)
    assert 'failures="1"' in (tmp_path / "out" / "junit.xml").read_text()


def test_a_malformed_scenario_exits_2_naming_file_and_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: broken\nstart: 2026-03-14T08:00:00+01:00\nduration: 1h\nworld:\n  nodes: many\n")
    result = hilsim("run", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert f"{path}:5: nodes must be a whole number, got 'many'" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_file_exits_2():
    result = hilsim("run", "scenarios/no-such-file.yaml")
    assert result.returncode == 2
    assert "no-such-file.yaml" in result.stderr


def test_determinism_self_check(tmp_path):
    result = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path), "--no-report",
                    "--check-determinism")
    assert result.returncode == 0
    assert "determinism: two runs wrote identical traces" in result.stdout


def test_help_explains_the_options():
    result = hilsim("run", "--help")
    assert result.returncode == 0
    for option in ("--seed", "--out", "--check-determinism", "Exit 0"):
        assert option in result.stdout
