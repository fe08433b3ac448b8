"""Reconnect storm: N nodes log in at once, as after a broker restart, and the seconds until all are in.

Each node is a raw MQTT 3.1.1 CONNECT with its own account and password (one asyncio connection
each, all sent at once); the figure is the time from the first CONNECT to the last successful
CONNACK. The same password file (Mosquitto's ``$7$`` lines, written by ``hilsim broker``'s own
hashing) is measured on ``hilsim broker`` (default policy) and on Mosquitto, in the same run.
Target: 1,000 nodes within 10 s on two cores.

    python -m bench.reconnect_storm [--nodes 1000] [--argon2]

``--argon2`` measures ``hilsim broker`` with the Argon2 hashes it wrote before, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import live_ingest
from system.adapters.passwords import hash_device_password, hash_password

ROOT = Path(__file__).resolve().parent.parent


def _string(text: str) -> bytes:
    data = text.encode()
    return struct.pack("!H", len(data)) + data


def connect_packet(client_id: str, user: str, password: str) -> bytes:
    """A CONNECT with a clean session, a user name and a password [MQTT-3.1]."""
    body = _string("MQTT") + bytes([4, 0xC2]) + struct.pack("!H", 60) + _string(client_id) + _string(user) \
        + _string(password)
    length, encoded = len(body), bytearray()
    while True:
        byte, length = length % 128, length // 128
        encoded.append(byte | (0x80 if length else 0))
        if not length:
            break
    return bytes([0x10]) + bytes(encoded) + body


async def _one(port: int, node: str) -> tuple[int, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(connect_packet(node, node, f"pw-{node}"))
    await writer.drain()
    connack = await reader.readexactly(4)
    return connack[3], writer


async def storm(port: int, nodes: int) -> tuple[float, int]:
    """Seconds until every node has its CONNACK, and how many were let in."""
    started = time.perf_counter()
    results = await asyncio.gather(*(_one(port, f"node-{i}") for i in range(1, nodes + 1)))
    elapsed = time.perf_counter() - started
    for _, writer in results:
        writer.close()
    return elapsed, sum(1 for code, _ in results if code == 0)


def write_passwords(path: Path, nodes: int, argon2: bool = False) -> None:
    with path.open("w") as out:
        for i in range(1, nodes + 1):
            secret = f"pw-node-{i}"
            line = hash_password(secret) if argon2 else hash_device_password(secret)
            out.write(f"node-{i}:{line}\n")


def start_hilsim(passwd: Path) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0",
                             "--max-connections-per-address", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    match = re.search(r":(\d+) ", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError("hilsim broker did not start")
    return proc, int(match.group(1))


def start_mosquitto(passwd: Path, workdir: Path) -> tuple[subprocess.Popen, int]:
    """Mosquitto with the same password file, as root dropping to this user."""
    return live_ingest.start_mosquitto(workdir, f"user {getpass.getuser()}\nallow_anonymous false\n"
                                                f"password_file {passwd}\n")


def measure(nodes: int = 1000, argon2: bool = False) -> dict[str, tuple[float, int]]:
    """broker name -> (seconds until all nodes are in, nodes let in)."""
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        passwd = workdir / "passwd"
        write_passwords(passwd, nodes, argon2)
        starters = [("hilsim broker", lambda: start_hilsim(passwd))]
        if not argon2:
            starters.append(("mosquitto", lambda: start_mosquitto(passwd, workdir)))
        for name, start in starters:
            proc, port = start()
            try:
                figures[name] = asyncio.run(storm(port, nodes))
            finally:
                proc.terminate()
                proc.wait(10)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--argon2", action="store_true", help="hilsim broker with Argon2 hashes instead")
    args = parser.parse_args()
    for name, (seconds, let_in) in measure(args.nodes, args.argon2).items():
        print(f"reconnect storm, {name}: {let_in} of {args.nodes} nodes in after {seconds:.2f} s "
              f"(target: 1,000 within 10 s)")


if __name__ == "__main__":
    main()
