"""Real processes for live tests: servers on free loopback ports, and hilsim commands with their trace
(``--trace -``) read line by line as it comes."""

from __future__ import annotations

import json
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from system.adapters.child_process import stop

stop_server = stop  # what the tests call it: SIGTERM, SIGKILL after the timeout, reaped

ROOT = Path(__file__).resolve().parent.parent
WAIT = 60.0  # an upper bound only: every wait ends as soon as its condition holds (2 loaded cores)
MOSQUITTO = "/usr/sbin/mosquitto"  # Debian package mosquitto


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Until ``proc`` listens on ``port``: a server just started gives no event to wait on, so poll."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}: {proc.stderr.read()!r}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listens on port {port} after {timeout} s")


def start_server(args: list[str], port: int) -> subprocess.Popen:
    """Start a server process and return once it listens on ``port``."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc)
    except BaseException:
        stop(proc, 5)
        raise
    return proc


class TracedProcess:
    """``python -m hilsim COMMAND ARGS... --trace -``; ``until`` waits on the trace, never on the clock."""

    def __init__(self, command: str, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "hilsim", command, "--trace", "-", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.records: list[dict] = []
        self._lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self._lines.put(json.loads(line))
            except ValueError:  # the last line, torn by a SIGKILL
                break
        self._lines.put(None)

    def until(self, condition, what: str, timeout: float = WAIT) -> None:
        """Collect trace records until ``condition(records)`` holds."""
        deadline = time.monotonic() + timeout
        while not condition(self.records):
            try:
                record = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                record = None
            if record is None:
                self.stop()
                pytest.fail(f"{what}: not seen within {timeout} s; kinds so far "
                            f"{[r['kind'] for r in self.records][-30:]}; stderr: {self.proc.stderr.read()[-2000:]}")
            self.records.append(record)

    def of_kind(self, kind: str) -> list[dict]:
        return [r for r in self.records if r.get("kind") == kind]

    def kill(self) -> None:
        """SIGKILL: no cleanup, no last words; the records it wrote before it died are all collected."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(WAIT)
        while (record := self._lines.get(timeout=WAIT)) is not None:
            self.records.append(record)

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Ctrl-C, as an operator would (or ``sig``, e.g. SIGTERM as systemd); returns the exit code."""
        return stop(self.proc, WAIT, sig=sig)
