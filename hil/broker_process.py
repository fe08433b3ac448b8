"""A real broker process (the embedded amqtt broker, ``system/adapters/broker_main.py``) started for a wall-clock
run, with one generated password per party."""

from __future__ import annotations

import re
import secrets
import shutil
import selectors
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from system.adapters.amqtt_broker import add_user
from system.adapters.child_process import stop
from system.errors import BackendError


@dataclass
class BrokerProcess:
    """``python -m system.adapters.broker_main`` on a free port (or ``port``); ``users`` maps name -> password.

    ``base_passwd``: a password file to start from (a real board's user is already in it, with the password
    its config.json holds); the generated users are added to a copy of it.
    """

    workdir: Path
    users: dict[str, str]
    port: int = 0
    proc: subprocess.Popen | None = None
    base_passwd: Path | None = None
    host: str = "127.0.0.1"

    @classmethod
    def for_parties(cls, workdir: Path, parties: list[str], **kwargs) -> "BrokerProcess":
        return cls(workdir, {name: secrets.token_hex(12) for name in parties}, **kwargs)

    def start(self, timeout: float = 30.0) -> int:
        """Start the broker and return its port, once it says it listens."""
        passwd = self.workdir / "broker.passwd"
        if not passwd.exists():
            if self.base_passwd is not None:
                shutil.copyfile(self.base_passwd, passwd)
            for user, password in self.users.items():
                add_user(passwd, user, password)
        self.proc = subprocess.Popen([sys.executable, "-m", "system.adapters.broker_main", "--passwd", str(passwd),
                                      "--port", str(self.port), "--host", self.host], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout)
        line = self.proc.stdout.readline() if ready else ""
        found = re.search(r"listening on mqtts?://[^:]+:(\d+)", line)
        if not found:
            self.stop()
            raise BackendError(f"the broker did not start: {line.strip() or 'no output'}")
        self.port = int(found.group(1))  # a restart comes back on the same port
        return self.port

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, 10)
        self.proc = None
