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
