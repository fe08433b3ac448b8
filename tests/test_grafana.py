"""Grafana provisioning (deploy/grafana/): the files are what Grafana reads, and every panel's PromQL query
parses and returns series on a real Prometheus fed as in production: the bridge's remote write and /metrics,
and the controller's counters through a real Pushgateway."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from processes import ROOT, WAIT, TracedProcess, free_port, start_server, stop_server
from system.services.metrics import COUNTERS, HEARTBEAT, Metrics
from system.services.prometheus import exposition

GRAFANA = ROOT / "deploy/grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
PROMETHEUS = "/usr/bin/prometheus"  # Debian package prometheus
VARIABLES = {"$node": ".*"}  # what Grafana puts in for "All"


def queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) of every panel target."""
    found = []
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            found += [(path.name, panel["title"], target["expr"]) for target in panel.get("targets", [])]
    return found


def test_the_provisioning_files_point_grafana_at_prometheus_and_the_two_dashboards():
    (datasource,) = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())["datasources"]
    assert (datasource["type"], datasource["url"], datasource["isDefault"]) == ("prometheus", "http://prometheus:9090",
                                                                                True)
    (provider,) = yaml.safe_load((GRAFANA / "provisioning/dashboards/hilsim.yaml").read_text())["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/var/lib/grafana/dashboards"
    assert [p.name for p in DASHBOARDS] == ["controller.json", "telemetry.json"]
    uids = [json.loads(p.read_text())["uid"] for p in DASHBOARDS]
    assert len(set(uids)) == 2
    for path in DASHBOARDS:
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, (path.name, panel)


def test_the_controller_dashboard_shows_every_counter_and_the_heartbeat():
    shown = " ".join(expr for name, _, expr in queries() if name == "controller.json")
    for counter in [*COUNTERS, HEARTBEAT, "push_time_seconds"]:
        assert f"{counter}{{" in shown, counter


def reading(seq: int, ts: int, temperature: float = 21.5) -> str:
    return json.dumps({"node": "node-1", "boot": 1, "seq": seq, "ts": ts, "temperature": temperature,
                       "humidity": 40.2, "wifi_rssi": -61})


def publish(port: int, payload: str, topic: str = "sensors/node-1/reading") -> None:
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-m", payload],
                   check=True, timeout=WAIT)


def prometheus(tmp_path: Path, pushgateway: str, bridge_metrics: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s"},
        "storage": {"tsdb": {"out_of_order_time_window": "1h"}},
        "scrape_configs": [
            {"job_name": "pushgateway", "honor_labels": True,
             "static_configs": [{"targets": [pushgateway.removeprefix("http://")]}]},
            {"job_name": "bridge-metrics", "static_configs": [{"targets": [f"127.0.0.1:{bridge_metrics}"]}]}]}))
    proc = start_server([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"], port)
    return proc, f"http://127.0.0.1:{port}"


def series(url: str, expr: str) -> list:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=WAIT).json()
    assert answer["status"] == "success", (expr, answer)  # it parses
    return answer["data"]["result"]


@pytest.mark.live
def test_every_panel_query_returns_series_on_a_real_prometheus(mosquitto, pushgateway, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("Debian package prometheus not installed")
    metrics_port = free_port()
    prom, url = prometheus(tmp_path, pushgateway, metrics_port)
    bridge = TracedProcess("bridge", "--broker", f"mqtt://127.0.0.1:{mosquitto}", "--db", str(tmp_path / "r.db"),
                           "--pushgateway", pushgateway, "--metrics-port", str(metrics_port),
                           "--remote-write", f"{url}/api/v1/write")
    try:
        bridge.until(lambda rs: bridge.of_kind("bridge.started"), "bridge started")
        counters = Metrics()
        for name in COUNTERS:
            counters.count(name)
        httpx.post(f"{pushgateway}/metrics/job/controller", content=exposition(counters), timeout=WAIT)
        deadline = time.monotonic() + WAIT
        while not series(url, 'up{job="bridge-metrics"} == 1'):  # a first scrape, so rates see what follows
            assert time.monotonic() < deadline, "Prometheus never scraped the bridge"
            time.sleep(0.2)
        now = int(time.time())
        for seq in range(1, 4):
            publish(mosquitto, reading(seq, now - 30 + seq))
        publish(mosquitto, reading(3, now - 27))  # again: its PUBACK was lost (a duplicate)
        publish(mosquitto, reading(4, 0))  # a node whose clock is not set
        publish(mosquitto, "not json")  # refused, and counted by reason
        bridge.until(lambda rs: len(bridge.of_kind("reading.stored")) == 4 and bridge.of_kind("reading.refused"),
                     "readings stored and one refused")
        empty = []
        for dashboard, title, expr in queries():
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            while not series(url, expr) and time.monotonic() < deadline:
                time.sleep(0.2)
            if not series(url, expr):
                empty.append((dashboard, title, expr))
    finally:
        bridge.stop()
        stop_server(prom)
    assert not empty, empty
