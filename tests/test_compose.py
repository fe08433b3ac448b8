"""deploy/compose.yaml checked against what it mounts and runs (no container engine runs here): images pinned,
every mounted file there, every `hilsim serve` config valid, and the ports, service names and paths that the
configs, Prometheus and Grafana name all agree with the compose file."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml

from processes import ROOT
from test_serve import hilsim, installed

DEPLOY = ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
MADE_BY_USERS = {"./secrets/broker.passwd": "hilsim broker --passwd", "./demo": "hilsim fixtures demo"}


def mounts(service: str) -> dict[str, str]:
    """Container path -> host path (relative to deploy/) of a service's bind mounts."""
    found = {}
    for volume in SERVICES[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = source
    return found


def served_config(service: str) -> Path:
    command = SERVICES[service]["command"]
    assert command[:2] == ["hilsim", "serve"]
    return DEPLOY / mounts(service)[command[2]]


def published(service: str) -> set[int]:
    return {int(port.split(":")[1]) for port in SERVICES[service].get("ports", [])}


def test_every_image_is_pinned_by_version():
    for name, service in SERVICES.items():
        image = service["image"]
        assert re.fullmatch(r"[\w./-]+:v?\d+(\.\d+)+[\w.-]*", image), (name, image)


def test_every_mounted_file_is_shipped_or_made_by_a_documented_command():
    header = (DEPLOY / "compose.yaml").read_text() + (ROOT / "README.md").read_text()
    for name in SERVICES:
        for target, source in mounts(name).items():
            if source in MADE_BY_USERS:
                assert MADE_BY_USERS[source] in header, source
            else:
                assert (DEPLOY / source).exists(), (name, source)
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, re.M):
        assert (ROOT / source).exists(), source


@pytest.mark.parametrize("service", ["hilsim", "controller"])
def test_each_serve_config_passes_the_check_as_mounted(service, tmp_path):
    config = served_config(service)
    copy = installed(config.name, tmp_path)  # its secrets made beside it, as the secrets mount does
    text = copy.read_text().replace('"/var/lib/hilsim/', f'"{tmp_path}/var/')
    copy.write_text(text)
    if service == "controller":
        hilsim("fixtures", "demo", "--out", str(tmp_path / "demo"))
    done = hilsim("config", "check", str(copy))
    assert done.returncode == 0, done.stderr


def test_ports_hosts_and_paths_agree_across_compose_configs_prometheus_and_grafana():
    serve = tomllib.loads(served_config("hilsim").read_text())
    controller = tomllib.loads(served_config("controller").read_text())
    port = lambda address: int(address.rsplit(":", 1)[1])  # noqa: E731
    assert published("hilsim") == {port(serve["cloud"]["listen"]), port(serve["bridge"]["metrics"])}
    urls = [serve["cloud"]["broker"], serve["bridge"]["broker"], serve["bridge"]["pushgateway"],
            serve["bridge"]["remote_write"], controller["controller"]["push"], controller["controller"]["cloud"]["url"],
            controller["controller"]["cloud"]["broker"]]
    for url in urls:  # every host a config names is a compose service, on a port it serves
        parsed = urlparse(url)
        assert parsed.hostname in SERVICES, url
        assert parsed.port in published(parsed.hostname) | {port(serve["cloud"]["listen"])}, url
    assert "listener 1883" in (DEPLOY / "mosquitto/compose.conf").read_text() and published("mosquitto") == {1883}
    prometheus = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    assert targets == {f"hilsim:{port(serve['bridge']['metrics'])}", "pushgateway:9091"}
    assert "--web.enable-remote-write-receiver" in SERVICES["prometheus"]["command"]
    assert prometheus["storage"]["tsdb"]["out_of_order_time_window"]
    (datasource,) = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())["datasources"]
    assert urlparse(datasource["url"]).hostname == "prometheus" and urlparse(datasource["url"]).port in published("prometheus")
    (provider,) = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/hilsim.yaml").read_text())["providers"]
    assert mounts("grafana")[provider["options"]["path"]] == "./grafana/dashboards"
    assert set(mounts("grafana").values()) >= {"./grafana/provisioning/datasources", "./grafana/provisioning/dashboards"}


def test_compose_mosquitto_runs_the_shipped_config_with_container_paths():
    def settings(path: Path) -> dict[str, str]:
        lines = [line.split(None, 1) for line in path.read_text().splitlines() if line and not line.startswith("#")]
        return {key: value for key, value in lines}
    shipped, compose = settings(DEPLOY / "mosquitto/mosquitto.conf"), settings(DEPLOY / "mosquitto/compose.conf")
    assert shipped == compose
    mounted = {target for target in mounts("mosquitto")}
    assert {compose["password_file"], compose["acl_file"]} <= mounted
    assert mounts("mosquitto")[compose["acl_file"]] == "./mosquitto/acl"
