"""``hilsim broker`` as a real process, checked with paho-mqtt as an independent client.

Certificates are generated per test run into tmp_path (test-only, never reused).
"""

from __future__ import annotations

import json
import re
import selectors
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from certificates import make_certificates
from system.adapters.child_process import stop

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

pytestmark = pytest.mark.live

WAIT = 10.0  # upper bound for any single wait; every wait ends as soon as its condition holds


def _add_user(passwd: Path, user: str, password: str) -> None:
    done = subprocess.run([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--add-user", user,
                           "--password-stdin"], input=password + "\n", capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def start_broker(tmp_path):
    """Start ``hilsim broker`` on a free port; returns its port once it prints that it listens."""
    procs: list[subprocess.Popen] = []

    def start(*args: str) -> int:
        proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--port", "0", *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        procs.append(proc)
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(WAIT):
                pytest.fail(f"hilsim broker did not start: {proc.stderr.read() if proc.poll() is not None else ''}")
        line = proc.stdout.readline()
        match = re.search(r"listening on mqtts?://[^:]+:(\d+)", line)
        assert match, f"unexpected first line {line!r}; stderr: {proc.stderr.read() if proc.poll() is not None else ''}"
        return int(match.group(1))

    yield start
    for proc in procs:
        stop(proc, WAIT)


class Client:
    """A paho client with blocking helpers; every wait is on an event, bounded by WAIT."""

    def __init__(self, port: int, client_id: str, *, user: str | None = None, password: str | None = None,
                 clean_session: bool = True, tls: dict | None = None):
        self.port = port
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                             protocol=paho.MQTTv311)
        if user is not None:
            self.c.username_pw_set(user, password)
        if tls is not None:
            self.c.tls_set(**tls)
        self.connack = threading.Event()  # CONNACK came, or the connection ended
        self.reason = None
        self.session_present = None
        self.messages: list = []
        self.got = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.c.on_disconnect = lambda *a: self.connack.set()  # refused or dropped: stop waiting
        self.c.on_connect_fail = lambda *a: self.connack.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason, self.session_present = reason_code, flags.session_present
        self.connack.set()

    def _on_message(self, client, userdata, msg):
        with self.got:
            self.messages.append(msg)
            self.got.notify_all()

    def connect(self) -> bool:
        """Connect and wait for CONNACK; True if the broker accepted (False: refused or dropped)."""
        try:
            self.c.connect("127.0.0.1", self.port, keepalive=30)
        except OSError:  # includes ssl.SSLError: refused in the handshake
            return False
        self.c.loop_start()
        got = self.connack.wait(WAIT) and self.reason is not None and not self.reason.is_failure
        if not got:
            self.close()
        return got

    def subscribe(self, topic: str, qos: int = 1) -> None:
        done = threading.Event()
        self.c.on_subscribe = lambda *a: done.set()
        self.c.subscribe(topic, qos)
        assert done.wait(WAIT)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        info = self.c.publish(topic, payload, qos)
        info.wait_for_publish(WAIT)
        assert info.is_published()

    def wait_messages(self, n: int) -> list:
        with self.got:
            assert self.got.wait_for(lambda: len(self.messages) >= n, WAIT), self.messages
            return list(self.messages)

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def passwd(tmp_path) -> Path:
    path = tmp_path / "broker.passwd"
    _add_user(path, "node-1", "s3cret")
    _add_user(path, "bridge", "bridge-pw")
    return path


def test_correct_password_is_accepted_wrong_password_unknown_user_and_anonymous_refused(start_broker, passwd,
                                                                                       tmp_path):
    trace = tmp_path / "broker.trace"
    port = start_broker("--passwd", str(passwd), "--trace", str(trace))
    ok = Client(port, "node-1", user="node-1", password="s3cret")
    assert ok.connect()
    ok.close()
    assert not Client(port, "node-1", user="node-1", password="wrong").connect()
    assert not Client(port, "x", user="nobody", password="s3cret").connect()
    assert not Client(port, "anon").connect()
    assert not Client(port, "empty", user="node-1", password="").connect()
    # each decision is traced (and flushed) before the CONNACK that tells the client
    lines = [json.loads(line) for line in trace.read_text().splitlines()]
    assert [(r["kind"], r.get("client"), r.get("reason")) for r in lines
            if r["kind"] in ("client.authenticated", "client.refused")] == [
        ("client.authenticated", "node-1", None), ("client.refused", "node-1", "wrong_password"),
        ("client.refused", "x", "unknown_user"), ("client.refused", "anon", "no_credentials"),
        ("client.refused", "empty", "wrong_password")]
    assert lines[0]["kind"] == "trace.header" and lines[1]["kind"] == "broker.started"


def test_persistent_subscriber_gets_qos1_messages_published_while_it_was_offline(start_broker, passwd):
    port = start_broker("--passwd", str(passwd))
    bridge = Client(port, "bridge", user="bridge", password="bridge-pw", clean_session=False)
    assert bridge.connect() and not bridge.session_present
    bridge.subscribe("sensors/+/reading", 1)
    bridge.close()

    node = Client(port, "node-1", user="node-1", password="s3cret")
    assert node.connect()
    for seq in range(5):
        node.publish("sensors/node-1/reading", f'{{"seq": {seq}}}'.encode(), 1)
    node.close()

    again = Client(port, "bridge", user="bridge", password="bridge-pw", clean_session=False)
    assert again.connect() and again.session_present
    got = again.wait_messages(5)
    again.close()
    assert [m.payload for m in got] == [f'{{"seq": {seq}}}'.encode() for seq in range(5)]
    assert all(m.qos == 1 for m in got)


# --- TLS ----------------------------------------------------------------------------------------------

def test_tls_client_certificate_is_accepted_and_a_client_without_one_refused_when_required(
        start_broker, passwd, tmp_path):
    certs = make_certificates(tmp_path)
    port = start_broker("--passwd", str(passwd), "--tls-cert", str(certs["server"]), "--tls-key",
                        str(certs["server_key"]), "--ca-cert", str(certs["ca"]), "--require-client-cert")
    with_cert = Client(port, "node-1", tls={"ca_certs": str(certs["ca"]), "certfile": str(certs["client"]),
                                             "keyfile": str(certs["client_key"])})
    assert with_cert.connect()  # the certificate alone identifies the device
    with_cert.subscribe("sensors/node-1/#", 1)
    with_cert.publish("sensors/node-1/reading", b"over tls", 1)
    assert with_cert.wait_messages(1)[0].payload == b"over tls"
    with_cert.close()

    # A password does not replace a required certificate.
    without = Client(port, "bridge", user="bridge", password="bridge-pw", tls={"ca_certs": str(certs["ca"])})
    assert not without.connect()
    plain = Client(port, "bridge", user="bridge", password="bridge-pw")
    assert not plain.connect()


def test_tls_without_required_client_certificate_still_checks_passwords(start_broker, passwd, tmp_path):
    certs = make_certificates(tmp_path)
    port = start_broker("--passwd", str(passwd), "--tls-cert", str(certs["server"]), "--tls-key",
                        str(certs["server_key"]))
    tls = {"ca_certs": str(certs["ca"])}
    assert Client(port, "bridge", user="bridge", password="bridge-pw", tls=tls).connect()
    assert not Client(port, "bridge", user="bridge", password="nope", tls=tls).connect()
    assert not Client(port, "anon", tls=tls).connect()


def test_help_names_the_options_and_bad_combinations_are_refused(tmp_path):
    from click.testing import CliRunner

    from hilsim.commands.broker_cmd import broker

    text = CliRunner().invoke(broker, ["--help"]).output
    for option in ("--port", "--passwd", "--add-user", "--tls-cert", "--tls-key", "--ca-cert", "--require-client-cert"):
        assert option in text
    result = CliRunner().invoke(broker, ["--passwd", str(tmp_path / "p"), "--require-client-cert"])
    assert result.exit_code == 2 and "need TLS" in result.output
    result = CliRunner().invoke(broker, ["--passwd", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "--add-user" in result.output  # a configuration mistake


def test_the_bare_broker_process_of_wallclock_runs_lets_its_users_in_and_exits_0_on_sigterm(tmp_path):
    """``hil/broker_process.py`` runs ``python -m system.adapters.broker_main`` (hil never calls up into hilsim)."""
    from hil.broker_process import BrokerProcess

    broker = BrokerProcess.for_parties(tmp_path, ["bridge", "node-1"])
    port = broker.start(timeout=WAIT)
    proc = broker.proc
    try:
        ok = Client(port, "bridge", user="bridge", password=broker.users["bridge"])
        assert ok.connect()
        ok.close()
        assert not Client(port, "node-1", user="node-1", password=broker.users["bridge"]).connect()
    finally:
        broker.stop()
    assert proc.returncode == 0 and proc.args[1:3] == ["-m", "system.adapters.broker_main"]
