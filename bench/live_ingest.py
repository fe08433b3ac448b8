"""Live ingest: the bridge draining a real Mosquitto on loopback, against paho-mqtt alone.

Both sides drain the same thing: N readings (QoS 1) queued in a persistent session
on the broker while its client was away (queue unlimited). paho alone receives and
acknowledges them; the live bridge (LiveBridge: paho, decode, SQLite file with WAL and
synchronous=FULL, acknowledgement after the commit) stores them. Rounds alternate
the two, in the same run; the ratio is bridge rate / paho rate (target >= 0.5), and
every round checks that the bridge stored all N (no loss).

    python -m bench.live_ingest [--readings 20000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from hilsim.wiring.live_bridge import LiveBridge, LiveBridgeConfig
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.child_process import stop

START = 1_773_471_600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(workdir: Path, settings: str = "allow_anonymous true\nmax_queued_messages 0\n"
                    ) -> tuple[subprocess.Popen, int]:
    """A Mosquitto on a free loopback port with ``settings`` (default: anonymous, queueing without limit for
    offline persistent sessions), no persistence."""
    port = _free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\n{settings}persistence false\n")
    proc = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.02)
    stop(proc, 5)
    raise RuntimeError("mosquitto did not start")


def _client(client_id: str, clean: bool) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                    protocol=paho.MQTTv311)
    c.max_inflight_messages_set(1000)
    c.max_queued_messages_set(0)
    return c


def _connected(c: paho.Client, port: int) -> None:
    up = threading.Event()
    c.on_connect = lambda *a: up.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not up.wait(10):
        raise RuntimeError("no CONNACK")


def open_session(port: int, client_id: str) -> None:
    """Create a persistent session subscribed to the readings, then leave it (the broker queues for it)."""
    c = _client(client_id, clean=False)
    _connected(c, port)
    done = threading.Event()
    c.on_subscribe = lambda *a: done.set()
    c.subscribe("sensors/+/reading", 1)
    done.wait(10)
    c.disconnect()
    c.loop_stop()


def publish(port: int, n: int, node_offset: int) -> None:
    """Publish ``n`` readings QoS 1 (distinct node/seq per round) and wait until the broker acknowledged all."""
    c = _client(f"bench-publisher-{node_offset}", clean=True)
    _connected(c, port)
    infos = []
    for i in range(n):
        node = f"node-{node_offset + i % 100}"
        body = json.dumps({"node": node, "seq": i // 100 + 1, "ts": START + i, "temperature": 21.5,
                           "humidity": 40.0, "wifi_rssi": -60}).encode()
        infos.append(c.publish(f"sensors/{node}/reading", body, qos=1))
    for info in infos:
        info.wait_for_publish(30)
    c.disconnect()
    c.loop_stop()


def drain_paho(port: int, client_id: str, n: int) -> float:
    """Seconds paho alone takes to receive (and acknowledge) the ``n`` queued messages."""
    got = [0]
    done = threading.Event()

    def on_message(*_args) -> None:
        got[0] += 1
        if got[0] >= n:
            done.set()

    c = _client(client_id, clean=False)
    c.on_message = on_message
    t0 = time.perf_counter()
    _connected(c, port)
    if not done.wait(300):
        raise RuntimeError(f"paho received {got[0]} of {n}")
    elapsed = time.perf_counter() - t0
    c.disconnect()
    c.loop_stop()
    return elapsed


def drain_bridge(port: int, client_id: str, n: int, db: Path) -> float:
    """Seconds the live bridge takes to store the ``n`` queued readings; raises if one is missing."""
    rt = AsyncioRuntime()

    async def main() -> float:
        live = LiveBridge(rt, LiveBridgeConfig(broker_url=f"mqtt://127.0.0.1:{port}", db_path=str(db),
                                               metrics_port=None, client_id=client_id))
        t0 = time.perf_counter()
        await live.start()
        try:
            while live.bridge.stored < n:
                if time.perf_counter() - t0 > 300:
                    raise RuntimeError(f"bridge stored {live.bridge.stored} of {n}")
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - t0
            if live.store.count() != n:
                raise RuntimeError(f"bridge lost readings: {live.store.count()} of {n} in SQLite")
            return elapsed
        finally:
            await live.stop()

    return rt.run(main())


def measure(readings: int = 20000, rounds: int = 2) -> dict:
    """Best rate of each side over ``rounds`` alternating rounds, and their ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        proc, port = start_mosquitto(work)
        try:
            paho_rates, bridge_rates = [], []
            for r in range(rounds):
                open_session(port, f"paho-{r}")
                open_session(port, f"bridge-{r}")
                publish(port, readings, node_offset=r * 1000)
                paho_rates.append(readings / drain_paho(port, f"paho-{r}", readings))
                bridge_rates.append(readings / drain_bridge(port, f"bridge-{r}", readings, work / f"r{r}.sqlite3"))
        finally:
            stop(proc, 5)
    paho_best, bridge_best = max(paho_rates), max(bridge_rates)
    ratios = [b / p for p, b in zip(paho_rates, bridge_rates)]
    return {"readings": readings, "paho_rate": paho_best, "bridge_rate": bridge_best,
            "ratio": sorted(ratios)[len(ratios) // 2], "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    print(json.dumps(measure(args.readings, args.rounds)))


if __name__ == "__main__":
    main()
