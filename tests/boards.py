"""Helpers for tests of the board firmware and the HIL harness: a real ``hilsim broker`` on a free port,
a paho subscriber that collects readings, the firmware bundle laid out for the Unix port, and ``hilsim
virtual-board`` in a child process."""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

from processes import ROOT, free_port, start_server, stop_server
from system.adapters.amqtt_broker import add_user

WAIT = 30.0
USERS = {"node-1": "pw-node-1", "node-2": "pw-node-2", "node-3": "pw-node-3", "bridge": "pw-bridge"}


@contextlib.contextmanager
def hilsim_broker(tmp_path: Path):
    """A real ``hilsim broker`` (amqtt) on a free loopback port with USERS; yields the port."""
    passwd = tmp_path / "broker.passwd"
    for user, password in USERS.items():
        add_user(passwd, user, password)
    port = free_port()
    proc = start_server([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", str(port)],
                        port)
    try:
        yield port
    finally:
        stop_server(proc)


def node_config(node: str, port: int, **extra) -> dict:
    """A config.json for a simulated board talking to the broker on ``port``."""
    config = {"node": node, "board": "sim", "broker": f"mqtt://127.0.0.1:{port}", "user": node,
              "password": USERS[node], "sample_every": 1, "read_every": 0.5, "web_port": 0, "status_every": 5,
              "keepalive": 10}
    config.update(extra)
    return config


class Readings:
    """A paho subscriber to ``sensors/+/reading`` (QoS 1) that keeps every payload."""

    def __init__(self, port: int):
        self.got: list[dict] = []
        self.cond = threading.Condition()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bridge-test-readings", protocol=paho.MQTTv311)
        self.c.username_pw_set("bridge", USERS["bridge"])
        subscribed = threading.Event()
        self.c.on_connect = lambda c, *a: c.subscribe("sensors/+/reading", 1)
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert subscribed.wait(WAIT), "subscriber did not get SUBACK"

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.got.append(json.loads(msg.payload))
            self.cond.notify_all()

    def seqs(self, node: str) -> list[int]:
        with self.cond:
            return [r["seq"] for r in self.got if r["node"] == node]

    def wait_for(self, condition, what: str, timeout: float = WAIT) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: condition(self), timeout), f"{what}: got {self.got[-5:]}"

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def wait_until(condition, what: str, timeout: float = WAIT, every: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


class BoardProcess:
    """``hilsim virtual-board -v`` in a child process: its pty, its URL, and its state lines as they come."""

    def __init__(self, home, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(home / "fs"),
                                      "-v", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     cwd=ROOT)
        line = self.proc.stdout.readline()
        match = re.search(r"virtual board on (\S+) and (rfc2217://\S+)", line)
        assert match, f"no port line: {line!r}"
        self.pty, self.url = match.groups()
        self.lines: list[str] = []
        self._cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()

    def wait_line(self, text: str, after: int, timeout: float = 30.0) -> int:
        """Wait for a state line containing ``text`` past line ``after``; its index."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i in range(after, len(self.lines)):
                    if text in self.lines[i]:
                        return i
                left = deadline - time.monotonic()
                assert left > 0, f"no {text!r} from the board; it said {self.lines[after:]}"
                self._cond.wait(left)


class UsbBridge:
    """A transport that is only a USB bridge's modem lines, as the board's auto-reset circuit sees them: the
    changes as (time by ``clock``, line, level); nothing is read or written."""

    def __init__(self, clock=time.monotonic):
        self.clock, self.changes, self.closed = clock, [], threading.Event()

    def read(self) -> bytes:
        if self.closed.wait(0.05):
            raise EOFError("closed")
        return b""

    def write(self, data: bytes) -> None:
        pass

    def set_lines(self, *, dtr=None, rts=None):
        for line, level in (("dtr", dtr), ("rts", rts)):
            if level is not None:
                self.changes.append((self.clock(), line, level))

    def close(self):
        self.closed.set()
