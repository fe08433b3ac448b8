"""The one way a live command runs (hilsim/wiring/process.py): ordered start and shutdown, signals, and the state
lines an operator reads on stderr while the process retries, with or without --trace."""

from __future__ import annotations

import io
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from hilsim.wiring.process import run_process, spawn_service, start_part
from system.adapters.child_process import stop
from processes import ROOT, free_port

WAIT = 30.0
STAMP = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d "


class Recorded:
    def __init__(self, name: str, log: list[str], fail: bool = False):
        self.name, self.log, self.fail = name, log, fail

    async def start(self) -> None:
        self.log.append(f"start {self.name}")
        if self.fail:
            raise RuntimeError(f"{self.name} cannot start")

    async def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_parts_stop_in_reverse_order_of_start_and_services_are_cancelled_first():
    log: list[str] = []

    async def service(rt):
        try:
            await rt.sleep(3600)
        finally:
            log.append("service cancelled")

    async def build(rt, stack):
        await start_part(stack, Recorded("store", log))
        await start_part(stack, Recorded("client", log))
        await spawn_service(rt, stack, service(rt), "service")

    err = io.StringIO()
    reason = run_process("demo", build, header={"run": "demo"}, until=0.05, stderr=err)
    assert reason == "--for 0.05 s elapsed"
    assert log == ["start store", "start client", "service cancelled", "stop client", "stop store"]
    assert re.fullmatch(STAMP + r"demo: stopped \(--for 0\.05 s elapsed\)\n", err.getvalue())


def test_a_part_that_fails_to_start_leaves_the_parts_before_it_stopped():
    log: list[str] = []

    async def build(rt, stack):
        await start_part(stack, Recorded("store", log))
        await start_part(stack, Recorded("relay", log, fail=True))

    with pytest.raises(RuntimeError, match="relay cannot start"):
        run_process("demo", build, header={"run": "demo"}, until=5, stderr=io.StringIO())
    assert log == ["start store", "start relay", "stop relay", "stop store"]


class Stderr:
    """A command's stderr read line by line as it comes; ``expect`` waits for a line, never for the clock."""

    def __init__(self, *args: str):
        self.proc = subprocess.Popen([sys.executable, "-m", "hilsim", *args], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, cwd=ROOT)
        self.lines: list[str] = []
        self._queue: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str) -> re.Match:
        """The next line (skipping others) that matches ``STAMP name: pattern``."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                line = None
            if line is None:
                self.proc.kill()
                pytest.fail(f"no line matching {pattern!r} within {WAIT} s; got {self.lines}")
            self.lines.append(line)
            found = re.match(STAMP + pattern, line)
            if found:
                return found

    def stop(self, sig: int) -> int:
        """Send ``sig`` and return the exit code (-9 if it had to be killed after WAIT seconds)."""
        return stop(self.proc, WAIT, sig=sig)


@pytest.mark.live
def test_a_bridge_without_a_broker_says_it_retries_and_stops_on_sigterm(tmp_path):
    port = free_port()  # nothing listens there
    bridge = Stderr("bridge", "--broker", f"mqtt://127.0.0.1:{port}", "--db", str(tmp_path / "r.db"),
                    "--metrics-port", "-1")
    try:
        bridge.expect(rf"bridge: started: broker mqtt://127\.0\.0\.1:{port}, store ")
        first = bridge.expect(rf"bridge: disconnected: .*cannot reach 127\.0\.0\.1:{port}: .*; retry in (\d+\.\d) s$")
        second = bridge.expect(r"bridge: disconnected: .*; retry in (\d+\.\d) s$")
        assert 0 < float(first[1]) <= 30 and 0 < float(second[1]) <= 30
    finally:
        code = bridge.stop(signal.SIGTERM)
    bridge.expect(r"bridge: stopped \(SIGTERM\)$")
    assert code == 0
    assert not any("Traceback" in line for line in bridge.lines)


@pytest.mark.live
def test_a_bridge_says_when_it_connects_and_why_it_refuses_a_message(mosquitto, tmp_path):
    bridge = Stderr("bridge", "--broker", f"mqtt://127.0.0.1:{mosquitto}", "--db", str(tmp_path / "r.db"),
                    "--metrics-port", "-1", "--trace", str(tmp_path / "trace.jsonl"))
    try:
        bridge.expect(r"bridge: connected to the broker$")
        subprocess.run(["mosquitto_pub", "-p", str(mosquitto), "-q", "1", "-t", "sensors/node-1/reading",
                        "-m", "not json"], check=True, timeout=WAIT)
        bridge.expect(r"bridge: refused input on sensors/node-1/reading: \w+")
    finally:
        code = bridge.stop(signal.SIGTERM)
    bridge.expect(r"bridge: stopped \(SIGTERM\)$")
    assert code == 0


@pytest.mark.live
def test_a_controller_says_started_and_stopped_on_sigint(tmp_path):
    ctl = Stderr("controller", "--db", str(tmp_path / "c.db"), "--relay", "sim")
    try:
        ctl.expect(r"controller: started: relay sim, fixtures none, push none$")
    finally:
        code = ctl.stop(signal.SIGINT)
    ctl.expect(r"controller: stopped \(SIGINT\)$")
    assert code == 0


@pytest.mark.live
def test_a_broker_says_where_it_listens_and_stops_on_sigterm(tmp_path):
    passwd = tmp_path / "broker.passwd"
    passwd.write_text("")
    broker = Stderr("broker", "--passwd", str(passwd), "--port", "0")
    try:
        listening = broker.expect(r"broker: started: listening on port (\d+)$")
        assert 0 < int(listening[1]) < 65536
    finally:
        code = broker.stop(signal.SIGTERM)
    broker.expect(r"broker: stopped \(SIGTERM\)$")
    assert code == 0
