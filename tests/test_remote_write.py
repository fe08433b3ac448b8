"""Readings into Prometheus at their own time (remote write): the service's rules in virtual time, the wire
format both ways, and a real Prometheus (Debian package) that receives a node's outage backlog late, out of
order, after being down itself, and answers a PromQL query with every reading at its own timestamp."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

import httpx
import pytest

from processes import WAIT, TracedProcess, free_port, start_server, stop_server
from sim.kernel.runtime import SimRuntime
from system.adapters.remote_write import decode, encode
from system.decisions.readings import Reading
from system.errors import BackendError, RefusedInput
from system.services.remote_write import RemoteWriter
from system.trace import Trace

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"  # Debian package prometheus
T0 = 1_700_000_000.0


def reading(node: str, seq: int, ts: float, temperature: float) -> Reading:
    return Reading(node=node, seq=seq, ts=ts, temperature=temperature, humidity=40.0, wifi_rssi=-60.0, boot=1)


class FlakyTarget:
    """Fails ``failures`` times with a transport error, then keeps every write."""

    def __init__(self, failures: int = 0, refuse: bool = False):
        self.failures, self.refuse = failures, refuse
        self.writes: list[list] = []

    async def write(self, series: list) -> None:
        if self.refuse:
            raise RefusedInput("remote_write_refused", "HTTP 400 out of bounds")
        if self.failures:
            self.failures -= 1
            raise BackendError("connection refused")
        self.writes.append(series)


def samples(target: FlakyTarget) -> list[tuple[str, str, int, float]]:
    return sorted((dict(labels)["__name__"], dict(labels)["node"], ms, v)
                  for series in target.writes for labels, points in series for ms, v in points)


def run(writer: RemoteWriter, rt: SimRuntime, offers: list[Reading], seconds: float) -> None:
    async def main():
        rt.spawn(writer.run(), "writer")
        for r in offers:
            writer.offer(r)
        await rt.sleep(seconds)
    rt.run(main(), until=seconds + 1)


def test_each_value_is_written_at_the_readings_own_time_after_failures_are_retried():
    trace = Trace({"test": "remote-write"})
    rt = SimRuntime(seed=3, start=T0, trace=trace)
    target = FlakyTarget(failures=3)
    writer = RemoteWriter(rt, target, batch=4)
    run(writer, rt, [reading("node-1", 1, T0 - 600.0, 20.5), reading("node-1", 2, T0 - 590.0, 20.6),
                     reading("node-2", 7, 0.0, 18.0)], seconds=120)
    taken_unset = int(T0 * 1000)  # no node clock: dated by the bridge's clock when offered
    assert samples(target) == sorted([
        ("temperature", "node-1", 1_699_999_400_000, 20.5), ("humidity", "node-1", 1_699_999_400_000, 40.0),
        ("RSSI", "node-1", 1_699_999_400_000, -60.0),
        ("temperature", "node-1", 1_699_999_410_000, 20.6), ("humidity", "node-1", 1_699_999_410_000, 40.0),
        ("RSSI", "node-1", 1_699_999_410_000, -60.0),
        ("temperature", "node-2", taken_unset, 18.0), ("humidity", "node-2", taken_unset, 40.0),
        ("RSSI", "node-2", taken_unset, -60.0)])
    assert (writer.failures, writer.sent, writer.dropped, len(writer.queue)) == (3, 9, 0, 0)
    retries = [r for r in trace.records if r["kind"] == "remote_write.failed"]
    assert [r["retry_in"] > 0 for r in retries] == [True] * 3


def test_memory_is_bounded_the_oldest_samples_are_dropped_and_counted():
    rt = SimRuntime(seed=3, start=T0)
    writer = RemoteWriter(rt, FlakyTarget(failures=10**6), capacity=6)
    run(writer, rt, [reading("node-1", seq, T0 + seq, 20.0 + seq) for seq in range(1, 5)], seconds=30)
    assert len(writer.queue) == 6 and writer.dropped == 6
    assert sorted({ms for _, _, ms, _ in writer.queue}) == [1_700_000_003_000, 1_700_000_004_000]
    metrics = {m.name: m.samples[0].value for m in writer.collect()}
    assert metrics["bridge_remote_write_dropped"] == 6 and metrics["bridge_remote_write_pending"] == 6


def test_a_batch_the_receiver_refuses_is_dropped_counted_and_not_retried():
    rt = SimRuntime(seed=3, start=T0)
    target = FlakyTarget(refuse=True)
    writer = RemoteWriter(rt, target)
    run(writer, rt, [reading("node-1", 1, T0, 20.0)], seconds=30)
    assert (writer.dropped, writer.failures, len(writer.queue)) == (3, 0, 0)


def test_the_wire_form_is_a_snappy_write_request_with_sorted_labels_and_time_ordered_samples():
    body = encode([((("node", "node-1"), ("__name__", "temperature"), ("job", "bridge")),
                     [(1_700_000_000_000, 20.5), (1_700_000_010_000, 20.75)])])
    assert body[:1] != b"\x0a"  # compressed, not the bare protobuf (whose first byte is field 1's tag)
    (series,) = decode(body).timeseries
    assert [(label.name, label.value) for label in series.labels] == [
        ("__name__", "temperature"), ("job", "bridge"), ("node", "node-1")]
    assert [(s.timestamp, s.value) for s in series.samples] == [(1_700_000_000_000, 20.5), (1_700_000_010_000, 20.75)]


@pytest.fixture
def prometheus_port(tmp_path):
    """A port for a real Prometheus, and a function starting it there with the remote-write receiver and an
    out-of-order window (the bridge is pointed at it before it runs)."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("Debian package prometheus not installed")
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\nstorage:\n  tsdb:\n    out_of_order_time_window: 1h\n")
    procs = []

    def start():
        procs.append(start_server([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                   f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
                                  port))
    yield port, start
    for proc in procs:
        stop_server(proc)


@pytest.mark.live
def test_a_nodes_outage_backlog_reaches_prometheus_at_its_own_timestamps(mosquitto, prometheus_port, tmp_path):
    port, start_prometheus = prometheus_port
    bridge = TracedProcess("bridge", "--broker", f"mqtt://127.0.0.1:{mosquitto}", "--db", str(tmp_path / "r.db"),
                           "--metrics-port", "-1", "--remote-write", f"http://127.0.0.1:{port}/api/v1/write")
    now = int(time.time())
    # The node was cut off for ten minutes and sampled every 20 s; back online it sends its newest
    # reading first, then the backlog, oldest first: out of order for Prometheus.
    backlog = [(seq, now - 600 + 20 * seq, round(19.0 + seq / 10, 1)) for seq in range(30)]
    newest = (30, now, 22.5)
    payloads = [json.dumps({"node": "node-1", "boot": 1, "seq": seq, "ts": ts, "temperature": t, "humidity": 40.2,
                            "wifi_rssi": -61}) for seq, ts, t in [newest, *backlog]]
    try:
        bridge.until(lambda rs: bridge.of_kind("bridge.connected") or bridge.of_kind("mqtt.connected"),
                     "bridge connected")
        for payload in payloads:  # one QoS 1 publish each, in this order
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(mosquitto), "-q", "1", "-t",
                            "sensors/node-1/reading", "-m", payload], check=True, timeout=WAIT)
        bridge.until(lambda rs: len(bridge.of_kind("reading.stored")) == 31, "every reading stored")
        bridge.until(lambda rs: bridge.of_kind("remote_write.failed"), "writes fail while Prometheus is down")
        start_prometheus()
        bridge.until(lambda rs: sum(r["samples"] for r in bridge.of_kind("remote_write.sent")) == 93,
                     "every sample written once Prometheus is up")
        answer = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", timeout=WAIT,
                           params={"query": 'temperature{node="node-1"}[15m]', "time": now + 1}).json()
    finally:
        code = bridge.stop()
    assert code == 0, bridge.proc.stderr.read()
    assert answer["status"] == "success", answer
    (series,) = answer["data"]["result"]
    assert series["metric"] == {"__name__": "temperature", "job": "bridge", "node": "node-1"}
    expected = sorted((float(ts), t) for _, ts, t in [*backlog, newest])
    assert [(float(ts), float(v)) for ts, v in series["values"]] == expected
    assert not bridge.of_kind("remote_write.dropped")
