"""A burst of 2,000 readings through a real Mosquitto to a connected bridge: what the broker drops is
counted exactly as missing readings, and the shipped config drops nothing.

Mosquitto's default config queues at most 1,000 messages for a client (``max_queued_messages``);
a burst faster than the bridge stores overflows that queue and the broker drops the rest without
telling anyone. The bridge sees the hole in each node's sequence: ``reading.missing`` trace lines
and ``bridge_readings_missing_total{node}``. The count is checked against one made without the
bridge's rule: readings the publishers had acknowledged by the broker, minus rows in the store.

A gap shows only once a later reading arrives, so each node sends its next reading after the burst
(as it would one sample later): readings dropped at the very end of the burst are counted too.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import re
import shutil
import subprocess
import threading
import time
from collections import Counter

import paho.mqtt.client as paho
import pytest
from prometheus_client.parser import text_string_to_metric_families

from hilsim.wiring.live_bridge import LiveBridge, LiveBridgeConfig
from processes import MOSQUITTO, ROOT, free_port, start_server, stop_server
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.reading_store import ReadingStore
from system.trace import Trace

pytestmark = pytest.mark.live

NODES = ("node-1", "node-2", "node-3", "node-4")
BURST = 2000  # readings in all, 500 a node, sent as fast as the broker takes them
BOOT = 3
START = 1_764_000_000
PASSWORDS = {"bridge": "b-secret", **{node: f"{node}-secret" for node in NODES}}


def reading(node: str, seq: int) -> str:
    return json.dumps({"node": node, "boot": BOOT, "seq": seq, "ts": START + seq, "temperature": 21.5,
                       "humidity": 40.0, "wifi_rssi": -60})


def publish(port: int, node: str, seqs: range, password: str | None) -> int:
    """``node`` publishes ``seqs`` (QoS 1) as fast as the broker acknowledges; returns how many it did."""
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=node, protocol=paho.MQTTv311)
    if password is not None:
        c.username_pw_set(node, password)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    up = threading.Event()
    c.on_connect = lambda *a: up.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    try:
        assert up.wait(30), f"{node}: no CONNACK"
        infos = [c.publish(f"sensors/{node}/reading", reading(node, seq), qos=1) for seq in seqs]
        for info in infos:
            info.wait_for_publish(60)
        return sum(1 for info in infos if info.is_published())
    finally:
        c.disconnect()
        c.loop_stop()


def burst(url: str, port: int, db: str, passwords: dict[str, str] | None) -> tuple[Trace, dict, dict]:
    """Each node sends its share of the burst, then one reading more once the bridge has caught up;
    returns the bridge's trace, {node: acknowledged by the broker}, {node: missing on /metrics}."""
    trace = Trace({"test": "burst"})
    rt = AsyncioRuntime(seed=1, trace=trace)
    share = BURST // len(NODES)
    acked: dict[str, int] = {}

    async def send(seqs: range) -> None:
        counts = await asyncio.gather(*(asyncio.to_thread(publish, port, node, seqs, (passwords or {}).get(node))
                                        for node in NODES))
        for node, n in zip(NODES, counts):
            acked[node] = acked.get(node, 0) + n

    async def main() -> dict:
        live = LiveBridge(rt, LiveBridgeConfig(broker_url=url, db_path=db, metrics_port=None))
        await live.start()
        try:
            await until(lambda: live.bridge.connects >= 1, "the bridge connected")
            await send(range(1, share + 1))
            await quiet(lambda: live.bridge.stored)  # the bridge took everything the broker kept
            await send(range(share + 1, share + 2))  # each node's next reading: shows a gap at the end
            await until(lambda: all(share + 1 in ReadingStore(db).sequences(n, BOOT) for n in NODES), "last readings")
            return metric(live.bridge.exposition(), "bridge_readings_missing_total")
        finally:
            await live.stop()

    missing = rt.run(main())
    return trace, acked, missing


async def until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        await asyncio.sleep(0.02)


async def quiet(count, still: float = 2.0, timeout: float = 40.0) -> None:
    """Wait until ``count()`` has not changed for ``still`` seconds."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < still:
        assert time.monotonic() < deadline, "the bridge kept storing"
        await asyncio.sleep(0.05)
        if count() != last:
            last, since = count(), time.monotonic()


def metric(text: str, name: str) -> dict[str, float]:
    return {s.labels["node"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name}


def traced_missing(trace: Trace) -> Counter:
    """Readings traced missing, per (node, boot), less those traced late (a gap a late reading filled)."""
    found: Counter = Counter()
    for r in trace.of_kind("reading.missing"):
        found[(r["node"], r["boot"])] += r["to"] - r["from"] + 1
    for r in trace.of_kind("reading.late"):
        found[(r["node"], r["boot"])] -= 1
    return found


def needs_mosquitto() -> None:
    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_passwd"):
        pytest.skip("Debian package mosquitto (with mosquitto_passwd) not installed")


def test_what_mosquittos_default_queue_drops_is_counted_exactly_as_missing(tmp_path):
    needs_mosquitto()
    port = free_port()
    conf = tmp_path / "mosquitto.conf"  # the defaults: max_queued_messages 1000, max_inflight_messages 20
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = start_server([MOSQUITTO, "-c", str(conf)], port)
    db = str(tmp_path / "readings.sqlite3")
    try:
        trace, acked, missing = burst(f"mqtt://127.0.0.1:{port}", port, db, None)
    finally:
        stop_server(proc)
    store = ReadingStore(db)
    dropped = {node: acked[node] - store.count(node) for node in NODES}  # published minus stored
    assert sum(acked.values()) == BURST + len(NODES)
    assert traced_missing(trace) == Counter({(node, BOOT): n for node, n in dropped.items() if n})
    assert missing == {node: float(n) for node, n in dropped.items()}
    print(f"Mosquitto's default queue dropped {sum(dropped.values())} of {BURST} readings: {dropped}")


def test_the_shipped_mosquitto_config_drops_nothing_of_the_burst(tmp_path):
    needs_mosquitto()
    passwd = tmp_path / "passwd"
    passwd.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True, timeout=30)
    port = free_port()
    text = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    text = re.sub(r"(?m)^listener 1883$", f"listener {port} 127.0.0.1", text)
    text = re.sub(r"(?m)^password_file .*$", f"password_file {passwd}", text)
    text = re.sub(r"(?m)^acl_file .*$", f"acl_file {ROOT / 'deploy' / 'mosquitto' / 'acl'}", text)
    text = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {tmp_path}/", text)
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"user {getpass.getuser()}\n" + text)
    proc = start_server([MOSQUITTO, "-c", str(conf)], port)
    db = str(tmp_path / "readings.sqlite3")
    try:
        trace, acked, missing = burst(f"mqtt://bridge:{PASSWORDS['bridge']}@127.0.0.1:{port}", port, db, PASSWORDS)
    finally:
        stop_server(proc)
    store = ReadingStore(db)
    assert sum(acked.values()) == BURST + len(NODES)
    assert {node: store.count(node) for node in NODES} == {node: BURST // len(NODES) + 1 for node in NODES}
    assert trace.of_kind("reading.missing") == [] and missing == {node: 0.0 for node in NODES}
