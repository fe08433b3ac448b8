"""``hilsim cloud`` and the controller's cloud options: users and devices from the command line, and
mistakes as one line with exit 2."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from processes import ROOT

from hilsim.cli import main
from system.adapters.cloud_store import CloudStore


def test_add_user_and_device(tmp_path):
    db = str(tmp_path / "cloud.sqlite")
    runner = CliRunner()
    added = runner.invoke(main, ["cloud", "--db", db, "--add-user", "office"], input="a long password\n")
    assert added.exit_code == 0, added.output
    device = runner.invoke(main, ["cloud", "--db", db, "--add-device", "stadium-pi"])
    token = device.stdout.strip()
    store = CloudStore(db)
    assert store.check_user("office", "a long password") and store.device_for_token(token) == "stadium-pi"


def test_mistakes_are_one_line_and_exit_2(tmp_path):
    db = str(tmp_path / "cloud.sqlite")
    runner = CliRunner()
    cases = [
        (["cloud", "--db", db, "--add-user", "office"], "short\n", "at least 8 characters"),
        (["cloud", "--db", db, "--add-device", "bad name"], "", "letters, digits"),
        (["cloud", "--db", db, "--smtp", "mail.example"], "", "--smtp"),
        (["cloud", "--db", db, "--heartbeat-period", "0"], "", "--heartbeat-period"),
        (["cloud", "--db", db, "--timezone", "Europe/Gent"], "", "--timezone"),
        (["controller", "--db", str(tmp_path / "c.sqlite"), "--cloud-url", "http://cloud"], "", "--device"),
        (["controller", "--db", str(tmp_path / "c.sqlite"), "--mqtt-url", "mqtt://b"], "", "--cloud-url"),
    ]
    for args, stdin, fragment in cases:
        result = runner.invoke(main, args, input=stdin)
        assert result.exit_code == 2, (args, result.output)
        lines = [ln for ln in result.output.splitlines() if ln.strip()]
        assert len(lines) == 1 and fragment in lines[0] and "Traceback" not in result.output, (args, result.output)


@pytest.mark.live
def test_a_port_in_use_is_one_line_and_exit_1(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "hilsim", "cloud", "--db", str(tmp_path / "c.sqlite"),
                               "--port", str(port)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    (line,) = done.stderr.splitlines()
    assert done.returncode == 1 and line.startswith(f"Error: cannot listen on 127.0.0.1:{port}: Address already in use")


def test_insecure_cookies_are_for_localhost_only(tmp_path):
    result = CliRunner().invoke(main, ["cloud", "--db", str(tmp_path / "c.sqlite"), "--host", "0.0.0.0",
                                       "--insecure-cookies"])
    assert result.exit_code == 2 and "--insecure-cookies is for localhost only" in result.output


def test_metrics_retention_is_read_from_its_option(tmp_path):
    from hilsim.commands.cloud_cmd import _retention
    kept = _retention("raw=2h,10m=7d,1d=730d")
    assert (kept.raw_for, kept.tiers) == (7200.0, ((600.0, 7 * 86400.0), (86400.0, 730 * 86400.0)))
    bad = CliRunner().invoke(main, ["cloud", "--db", str(tmp_path / "c.sqlite"), "--metrics-retention", "5m"])
    assert bad.exit_code == 2 and "--metrics-retention" in bad.output


def test_remove_user_ends_their_sessions(tmp_path):
    db = str(tmp_path / "cloud.sqlite")
    runner = CliRunner()
    assert runner.invoke(main, ["cloud", "--db", db, "--add-user", "office"], input="a long password\n").exit_code == 0
    store = CloudStore(db)
    sid, _ = store.sessions.open("office", 0.0, 3600)
    store.close()
    removed = runner.invoke(main, ["cloud", "--db", db, "--remove-user", "office"])
    assert removed.exit_code == 0, removed.output
    store = CloudStore(db)
    assert store.sessions.find(sid, 1.0) is None and not store.check_user("office", "a long password")
    assert runner.invoke(main, ["cloud", "--db", db, "--remove-user", "office"]).exit_code == 2
