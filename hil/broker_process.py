"""A real ``hilsim broker`` started for a wall-clock run, with one generated password per party."""

from __future__ import annotations

import re
import secrets
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from system.adapters.amqtt_broker import add_user
from system.errors import BackendError


@dataclass
class BrokerProcess:
    """``python -m hilsim broker`` on a free loopback port (or ``port``); ``users`` maps name -> password."""

    workdir: Path
    users: dict[str, str]
    port: int = 0
    proc: subprocess.Popen | None = None

    @classmethod
    def for_parties(cls, workdir: Path, parties: list[str]) -> "BrokerProcess":
        return cls(workdir, {name: secrets.token_hex(12) for name in parties})

    def start(self, timeout: float = 30.0) -> int:
        """Start the broker and return its port, once it says it listens."""
        passwd = self.workdir / "broker.passwd"
        if not passwd.exists():
            for user, password in self.users.items():
                add_user(passwd, user, password)
        self.proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd),
                                      "--port", str(self.port)], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"listening on mqtts?://[^:]+:(\d+)", line)
        if not found:
            self.stop()
            raise BackendError(f"hilsim broker did not start: {line.strip() or 'no output'}")
        self.port = int(found.group(1))  # a restart comes back on the same port
        return self.port

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
