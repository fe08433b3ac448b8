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


# -- the live commands: a configuration mistake is one line and exit 2, never a traceback --------------------

def _bad_value(*args: str) -> str:
    """Run ``hilsim ARGS`` in this process; assert exit 2 with one 'Error:' line and no traceback."""
    from click.testing import CliRunner

    from hilsim.cli import main

    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Traceback" not in result.output and not isinstance(result.exception, (ValueError, OSError))
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def test_controller_refuses_a_bad_relay_a_zero_blink_and_a_zero_period(tmp_path):
    db = str(tmp_path / "c.db")
    assert "--relay: 'gpio:17' is not a relay; use sim, gpiod:" in _bad_value(
        "controller", "--db", db, "--relay", "gpio:17", "--for", "5")
    assert "--blink: a blinking pattern needs on and off periods > 0" in _bad_value(
        "controller", "--db", db, "--blink", "0", "--for", "5")
    assert "--scrape-every: 0 must be more than 0 seconds" in _bad_value(
        "controller", "--db", db, "--scrape-every", "0", "--for", "5")
    assert not (tmp_path / "c.db").exists()  # refused before anything was opened


def test_controller_refuses_a_store_written_by_newer_code(tmp_path):
    import sqlite3

    db = tmp_path / "c.db"
    sqlite3.connect(db).execute("PRAGMA user_version = 999").connection.close()
    line = _bad_value("controller", "--db", str(db), "--for", "5")
    assert f"{db}: controller store schema v999 is newer" in line and "run the newer hilsim" in line


def test_bridge_refuses_a_bad_broker_url_a_bad_job_template_and_half_a_client_certificate(tmp_path):
    db = tmp_path / "r.db"
    common = ("--db", str(db), "--metrics-port", "-1", "--for", "5")
    assert "--broker: broker URL 'http://127.0.0.1:1883': expected mqtt://" in _bad_value(
        "bridge", "--broker", "http://127.0.0.1:1883", *common)
    assert "--job: 'esp32-{nod}' is not a template on {node}" in _bad_value("bridge", "--job", "esp32-{nod}", *common)
    pem = tmp_path / "client.pem"
    pem.write_text("not used")
    assert "give both or neither" in _bad_value("bridge", "--cert-file", str(pem), *common)
    assert not db.exists()


def test_broker_refuses_an_unreadable_or_malformed_password_file_and_a_bad_user_name(tmp_path):
    missing = tmp_path / "missing.passwd"
    assert f"{missing}: cannot read the password file" in _bad_value("broker", "--passwd", str(missing))
    malformed = tmp_path / "broker.passwd"
    malformed.write_text("# devices\nnode-1:secret\n")
    assert f"{malformed}:2: expected 'user:$argon2id$...'" in _bad_value("broker", "--passwd", str(malformed))
    assert "--add-user: user name 'node 1' must be non-empty, without ':' or spaces" in _bad_value(
        "broker", "--passwd", str(malformed), "--add-user", "node 1", "--password-stdin")


def test_broker_refuses_a_certificate_that_does_not_load(tmp_path):
    (tmp_path / "p").write_text("")
    (tmp_path / "server.pem").write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
    line = _bad_value("broker", "--passwd", str(tmp_path / "p"), "--port", "0", "--tls-cert",
                      str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.pem"))
    assert "TLS setup failed" in line


def test_controller_and_cloud_refuse_half_a_client_certificate_for_the_jobs_broker(tmp_path):
    pem = tmp_path / "client.pem"
    pem.write_text("not used")
    for command in (["controller", "--db", str(tmp_path / "c.db")], ["cloud", "--db", str(tmp_path / "cloud.db")]):
        assert "--mqtt-cert-file/--mqtt-key-file: give both or neither" in _bad_value(
            *command, "--mqtt-key-file", str(pem), "--for", "5")
    assert not (tmp_path / "c.db").exists() and not (tmp_path / "cloud.db").exists()


def test_a_bad_duration_is_a_usage_error_and_a_missing_port_exit_1(tmp_path):
    from click.testing import CliRunner

    from hilsim.cli import main

    assert "--for: '10 minutes' is not a duration like 90s" in _bad_value(
        "record", "--port", str(tmp_path / "ttyNONE"), "--for", "10 minutes")
    assert "--tolerance: '5x' is not a duration" in _bad_value("diff", __file__, __file__, "--tolerance", "5x")
    result = CliRunner().invoke(main, ["record", "--port", str(tmp_path / "ttyNONE"), "--for", "1s"])
    lines = result.output.splitlines()
    assert result.exit_code == 1 and "Traceback" not in result.output and len(lines) == 1, lines
    assert lines[0] == f"Error: no serial port {tmp_path / 'ttyNONE'}: is the board plugged in, and is this its port?"


def test_run_refuses_an_output_directory_it_cannot_create(tmp_path):
    (tmp_path / "file").write_text("")
    result = hilsim("run", "scenarios/quickstart.yaml", "--out", str(tmp_path / "file" / "out"), "--no-report")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [f"Error: {tmp_path / 'file' / 'out'}: cannot write the run's files "
                                          f"(Not a directory)"]
