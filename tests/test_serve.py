"""One host's config (deploy/*.toml) and ``hilsim serve``'s parts that need no running service: every problem
of a config reported in one run, the shipped examples valid, the systemd units valid for systemd itself,
readiness over a real notify socket, and the demo fixtures a first run reads."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from processes import ROOT, WAIT

DEPLOY = ROOT / "deploy"


def hilsim(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilsim", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=WAIT, env={**os.environ, **(env or {})})


def installed(example: str, tmp_path: Path) -> Path:
    """An example config as installed: its absolute /etc and /var paths moved under ``tmp_path``, every file it
    names made (certificates, password files, tokens)."""
    text = (DEPLOY / example).read_text(encoding="utf-8")
    text = text.replace('"/etc/hilsim/', f'"{tmp_path}/etc/hilsim/').replace('"/var/lib/hilsim/', f'"{tmp_path}/var/')
    config = tmp_path / example
    config.write_text(text, encoding="utf-8")
    import tomllib
    wanted = []

    def walk(table: dict) -> None:
        for key, value in table.items():
            if isinstance(value, dict):
                walk(value)
            elif key.endswith(("_file", "_cert", "_key")) and isinstance(value, str):
                wanted.append(Path(value) if Path(value).is_absolute() else tmp_path / value)
    walk(tomllib.loads(text))
    for path in wanted:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("stadium-pi:$7$101$c2FsdA==$aGFzaA==\n" if path.name.endswith("passwd") else "s3cret\n")
    return config


@pytest.mark.parametrize("example", ["one-host.toml", "server.toml", "pi.toml"])
def test_every_shipped_example_config_passes_the_check(example, tmp_path):
    config = installed(example, tmp_path)
    if example == "one-host.toml":  # its page is the demo season (the README's first deploy step)
        assert hilsim("fixtures", "demo", "--out", str(tmp_path / "demo")).returncode == 0
    env = {"HILSIM_CLOUD_MQTT_PASSWORD": "x", "HILSIM_BRIDGE_MQTT_PASSWORD": "y"}
    done = hilsim("config", "check", str(config), env=env)
    assert done.returncode == 0, done.stderr
    services = {"one-host.toml": ["broker", "cloud", "bridge", "controller"], "server.toml": ["broker", "cloud", "bridge"],
                "pi.toml": ["controller"]}[example]
    assert done.stdout.startswith(f"{config}: ok: ") and [part.split(" ")[0] for part in
                                                           done.stdout.split(": ok: ")[1].split(", ")] == services


PLANTED = """
[bridge]
broker = "mqtt://bridge:hunter2@127.0.0.1:1883"
db = "readings.sqlite3"
health = "127.0.0.1:9302"

[controller]
db = "controller.sqlite"
relay = "gpio:17"
scrape_evry = "1h"
health = "127.0.0.1"
"""


def test_config_check_reports_every_planted_error_in_one_run_and_serve_starts_nothing(tmp_path):
    config = tmp_path / "host.toml"
    config.write_text(PLANTED, encoding="utf-8")
    done = hilsim("config", "check", str(config))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    expected = [f"Error: {config}: bridge.broker: a password in a URL: put it in a password_file or password_env",
                f"Error: {config}: controller.health: '127.0.0.1' is not HOST:PORT, e.g. 127.0.0.1:8080",
                f"Error: {config}: controller.relay:",
                f"Error: {config}: controller.scrape_evry: unknown key;"]
    assert len(lines) == 5 and lines[-1] == f"4 problems in {config}; nothing started", lines
    for want in expected:
        assert any(line.startswith(want) for line in lines[:4]), (want, lines)
    served = hilsim("serve", str(config))
    assert served.returncode == 2 and "nothing started" in served.stderr and not (tmp_path / "controller.sqlite").exists()


def test_an_inline_secret_is_refused_and_an_unset_environment_variable_named(tmp_path):
    config = tmp_path / "host.toml"
    config.write_text('[bridge]\nbroker = "mqtt://bridge@127.0.0.1:1883"\npassword = "hunter2"\ndb = "r.db"\n'
                      'health = "127.0.0.1:9302"\n\n[cloud]\ndb = "c.db"\nbroker = "mqtt://cloud@127.0.0.1:1883"\n'
                      'password_env = "HILSIM_TEST_UNSET_VARIABLE"\nhealth = "127.0.0.1:9303"\n', encoding="utf-8")
    done = hilsim("config", "check", str(config))
    assert done.returncode == 2
    assert f"Error: {config}: bridge.password: secrets are not written in the config: use password_file or " \
           "password_env" in done.stderr
    assert f"Error: {config}: cloud.password_env: the environment variable HILSIM_TEST_UNSET_VARIABLE is not set" \
           in done.stderr
    assert "hunter2" not in done.stderr + done.stdout


@pytest.mark.parametrize("unit", ["hilsim-serve.service", "hilsim-controller.service"])
def test_the_systemd_units_pass_systemd_analyze_verify(unit, tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze missing (Debian package systemd)")
    copy = tmp_path / unit
    # As installed: the executable the unit names exists (here, this checkout's).
    copy.write_text((DEPLOY / "systemd" / unit).read_text().replace("/opt/hilsim/bin/hilsim",
                                                                   str(Path(sys.executable).parent / "hilsim")))
    done = subprocess.run([analyze, "verify", "--man=no", str(copy)], capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    bad = tmp_path / "bad.service"  # the check is not blind: a typo in a key is reported
    bad.write_text(copy.read_text().replace("WatchdogSec", "WatchdogSecs").replace("KillMode", "KillMod"))
    done = subprocess.run([analyze, "verify", "--man=no", str(bad)], capture_output=True, text=True, timeout=WAIT)
    assert "Unknown key" in done.stderr


def test_readiness_and_the_watchdog_reach_a_notify_socket(tmp_path):
    from hilsim.wiring.serve import sd_notify

    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        assert sd_notify("READY=1", {"NOTIFY_SOCKET": path})
        assert sock.recv(64) == b"READY=1"
    assert not sd_notify("READY=1", {})  # not under systemd: nothing to tell


def test_the_demo_fixtures_start_tomorrow_with_the_seasons_home_games_at_their_local_times(tmp_path):
    import tomllib

    done = hilsim("fixtures", "demo", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    season = tomllib.loads((ROOT / "fixtures/seasons/kaagent-2025-26.toml").read_text())["game"]
    home = [g for g in season if g["home"] == "KAA Gent"]
    checked = hilsim("fixtures", "check", str(tmp_path / "fixtures.html"))
    assert checked.returncode == 0, checked.stderr
    assert f"{len(home)} home games" in checked.stdout
    brussels = ZoneInfo("Europe/Brussels")
    first = min(g["kickoff"] for g in season)
    days = (date.today() + timedelta(days=1) - first.astimezone(brussels).date()).days
    for game in home:  # each at its own local time of day, whole days later
        local = game["kickoff"].astimezone(brussels).replace(tzinfo=None) + timedelta(days=days)
        assert f"{local:%Y-%m-%d %H:%M} (Europe/Brussels)  KAA Gent - {game['away']}" in checked.stdout
    feed = hilsim("fixtures", "check", str(tmp_path / "fixtures.ics"))
    assert feed.returncode == 0 and f"{len(home)} home games" in feed.stdout


def test_a_controller_reads_a_page_on_its_own_disk_through_file_urls(tmp_path):
    import asyncio

    import httpx

    from system.adapters.file_transport import FileTransport
    from system.services.scraper import FetchFailed, fetch_text

    feed = tmp_path / "season.ics"
    feed.write_bytes(b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")

    async def read(path: Path):
        async with httpx.AsyncClient(mounts={"file://": FileTransport()}) as client:
            response = await client.get(f"file://localhost{path}")
            try:
                return response.headers.get("content-type"), await fetch_text(client, f"file://localhost{path}")
            except FetchFailed as failed:
                return response.status_code, failed.reason

    assert asyncio.run(read(feed)) == ("text/calendar", "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    assert asyncio.run(read(tmp_path / "gone.html")) == (404, "http_404")


@pytest.mark.live
def test_under_systemd_serve_says_ready_feeds_the_watchdog_and_says_stopping(tmp_path):
    import signal

    from processes import stop_server

    config = tmp_path / "host.toml"
    config.write_text('[controller]\ndb = "c.sqlite"\nrelay = "sim"\nhealth = "127.0.0.1:0"\n', encoding="utf-8")
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(WAIT)
        proc = subprocess.Popen([sys.executable, "-m", "hilsim", "serve", str(config)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
        try:
            said = [sock.recv(64).decode() for _ in range(3)]  # the watchdog first, then readiness, then more
            assert "READY=1" in said and said.count("WATCHDOG=1") >= 1, said
            proc.send_signal(signal.SIGTERM)
            while (message := sock.recv(64).decode()) == "WATCHDOG=1":
                pass
            assert message == "STOPPING=1"
            assert proc.wait(WAIT) == 0
        finally:
            stop_server(proc)
    assert "controller: running; health http://127.0.0.1:" in proc.stdout.read()
