"""The ACL's cost on live ingest: readings through ``hilsim broker`` to the live bridge, with and without the ACL.

Ten node accounts publish N readings (QoS 1) on their own topics while the live bridge
(LiveBridge: paho, decode, SQLite, acknowledgement after the commit) is connected; the figure is
the rate from the first publish until the bridge has stored all N. Rounds alternate the shipped
default policy and ``--no-acl``, each on a fresh broker, in the same run; the ratio is the rate
with the ACL over the rate without (target: at least 0.9, the ACL costs at most 10%).

    python -m bench.acl_ingest [--readings 4000] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho

from hilsim.wiring.live_bridge import LiveBridge, LiveBridgeConfig
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.adapters.passwords import hash_device_password

ROOT = Path(__file__).resolve().parent.parent
NODES = 10
START = 1_773_471_600


def start_broker(passwd: Path, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    match = re.search(r":(\d+) ", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError("hilsim broker did not start")
    return proc, int(match.group(1))


def publish(port: int, node: str, seqs: range) -> None:
    """``node`` publishes its readings QoS 1 and waits until the broker acknowledged them all."""
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=node, protocol=paho.MQTTv311)
    c.username_pw_set(node, f"pw-{node}")
    c.max_inflight_messages_set(100)
    c.max_queued_messages_set(0)
    up = threading.Event()
    c.on_connect = lambda *a: up.set()
    c.connect("127.0.0.1", port)
    c.loop_start()
    if not up.wait(30):
        raise RuntimeError(f"{node}: no CONNACK")
    infos = [c.publish(f"sensors/{node}/reading", json.dumps(
        {"node": node, "seq": s, "ts": START + s, "temperature": 21.5, "humidity": 40.0, "wifi_rssi": -60}), qos=1)
        for s in seqs]
    for info in infos:
        info.wait_for_publish(120)
    c.disconnect()
    c.loop_stop()


def ingest(port: int, readings: int, db: Path) -> float:
    """Readings per second from the first publish until the bridge stored them all."""
    rt = AsyncioRuntime()

    async def main() -> float:
        live = LiveBridge(rt, LiveBridgeConfig(broker_url=f"mqtt://bridge:pw-bridge@127.0.0.1:{port}",
                                               db_path=str(db), metrics_port=None))
        await live.start()
        try:
            while live.bridge.connects < 1:
                await asyncio.sleep(0.01)
            per_node = readings // NODES
            t0 = time.perf_counter()
            publishers = [threading.Thread(target=publish, args=(port, f"node-{i}", range(1, per_node + 1)))
                          for i in range(1, NODES + 1)]
            for thread in publishers:
                thread.start()
            while live.bridge.stored < per_node * NODES:
                if time.perf_counter() - t0 > 600:
                    raise RuntimeError(f"bridge stored {live.bridge.stored} of {per_node * NODES}")
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - t0
            for thread in publishers:
                thread.join()
            return per_node * NODES / elapsed
        finally:
            await live.stop()

    return rt.run(main())


def measure(readings: int = 4000, rounds: int = 2) -> dict[str, float]:
    """Best rate with the ACL and without over ``rounds`` alternating rounds, and their ratio."""
    best = {"acl": 0.0, "no-acl": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        passwd = workdir / "passwd"
        passwd.write_text("".join(f"{user}:{hash_device_password('pw-' + user)}\n"
                                  for user in ["bridge", *(f"node-{i}" for i in range(1, NODES + 1))]))
        for number in range(rounds):
            for mode, args in (("acl", ()), ("no-acl", ("--no-acl",))):
                proc, port = start_broker(passwd, *args)
                try:
                    rate = ingest(port, readings, workdir / f"{mode}-{number}.sqlite3")
                finally:
                    proc.terminate()
                    proc.wait(10)
                best[mode] = max(best[mode], rate)
    return {**best, "ratio": best["acl"] / best["no-acl"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    figures = measure(args.readings, args.rounds)
    print(f"live ingest through hilsim broker: {figures['acl']:.0f} readings/s with the ACL, "
          f"{figures['no-acl']:.0f} without; ratio {figures['ratio']:.2f} (target: >= 0.90)")


if __name__ == "__main__":
    main()
