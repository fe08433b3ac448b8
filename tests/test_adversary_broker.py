"""A device account, ``mallory``, attacks the broker: real processes on loopback, paho-mqtt as her client.

Three brokers, each with a ``hilsim bridge`` storing the readings of a legitimate node around every
attack: ``hilsim broker`` with its default policy, ``hilsim broker --acl-file`` with the shipped
file, and Mosquitto with the shipped ``deploy/mosquitto/mosquitto.conf`` (port and paths changed).
All three read one password file, written by Mosquitto's own ``mosquitto_passwd``.

Each attack is refused, and the legitimate traffic around it is stored complete. Where the two
brokers refuse differently, the test says so: Mosquitto grants any subscription and drops at
delivery what a client may not read (``hilsim broker`` answers 0x80), and it gives a client the
id of its account instead of refusing another's (``use_username_as_clientid``).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from itertools import count
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from processes import MOSQUITTO, ROOT, TracedProcess, free_port, start_server, stop_server
from system.adapters.reading_store import ReadingStore

pytestmark = pytest.mark.live

WAIT = 30.0
START = 1_764_000_000
PASSWORDS = {"node-1": "n1-secret", "node-2": "n2-secret", "mallory": "m-secret", "bridge": "b-secret",
             "cloud": "c-secret", "pi": "p-secret"}
KINDS = ("hilsim", "hilsim-acl-file", "mosquitto")
_blocks = count(1)


def reading(node: str, seq: int) -> bytes:
    return json.dumps({"node": node, "seq": seq, "ts": START + seq, "temperature": 20.5, "humidity": 41.0,
                       "wifi_rssi": -60}).encode()


def until(condition, what: str, timeout: float = WAIT) -> None:
    """Poll ``condition`` (a store, a trace file) until it holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.02)


class Peer:
    """One paho-mqtt client (MQTT 3.1.1) with blocking helpers; it never reconnects by itself."""

    def __init__(self, port: int, user: str | None, client_id: str, *, password: str | None = None,
                 clean: bool = True):
        self.port = port
        self.c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean,
                             protocol=paho.MQTTv311, reconnect_on_failure=False)
        if user is not None:
            self.c.username_pw_set(user, PASSWORDS.get(user, "") if password is None else password)
        self.answered, self.gone = threading.Event(), threading.Event()
        self.refusal: str | None = None
        self.messages: list[paho.MQTTMessage] = []
        self.subacks: dict[int, list[int]] = {}
        self.cond = threading.Condition()
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = lambda *a: self.gone.set()
        self.c.on_message = self._on_message
        self.c.on_subscribe = self._on_subscribe

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self.refusal = str(reason_code) if reason_code.is_failure else None
        self.answered.set()

    def _on_message(self, client, userdata, message) -> None:
        with self.cond:
            self.messages.append(message)
            self.cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        with self.cond:
            self.subacks[mid] = [rc.value for rc in reason_codes]
            self.cond.notify_all()

    def connect(self) -> bool:
        """True if the broker let the client in."""
        self.c.connect("127.0.0.1", self.port, keepalive=60)
        self.c.loop_start()
        assert self.answered.wait(WAIT), "no CONNACK"
        if self.refusal is not None:
            self.close()
        return self.refusal is None

    def subscribe(self, *filters: str) -> list[int]:
        """The SUBACK's return codes: the granted QoS, or 0x80."""
        _, mid = self.c.subscribe([(f, 1) for f in filters])
        with self.cond:
            assert self.cond.wait_for(lambda: mid in self.subacks, WAIT), "no SUBACK"
            return self.subacks[mid]

    def publish(self, topic: str, payload: bytes) -> None:
        self.c.publish(topic, payload, qos=1).wait_for_publish(WAIT)

    def wait_for(self, topic: str) -> list[str]:
        """Until a message on ``topic`` came; the topics of every message received so far."""
        with self.cond:
            assert self.cond.wait_for(lambda: any(m.topic == topic for m in self.messages), WAIT), topic
            return [m.topic for m in self.messages]

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


class World:
    """A broker with a bridge storing its readings; ``records()`` is the hilsim broker's trace."""

    def __init__(self, kind: str, tmp: Path, passwd: Path):
        self.kind, self.tmp = kind, tmp
        self.db = str(tmp / "readings.sqlite3")
        self.trace = tmp / "broker.trace"
        self.stderr = tmp / "broker.stderr"
        if kind == "mosquitto":
            self.port = free_port()
            conf = tmp / "mosquitto.conf"
            conf.write_text(_mosquitto_conf(self.port, passwd, tmp))
            self.proc = start_server([MOSQUITTO, "-c", str(conf)], self.port)
        else:
            extra = ["--acl-file", str(ROOT / "deploy" / "mosquitto" / "acl")] if kind == "hilsim-acl-file" else []
            self.proc, self.port = start_hilsim_broker(passwd, self.trace, self.stderr, "--connect-timeout", "2",
                                                       *extra)
        self.bridge = TracedProcess("bridge", "--broker", f"mqtt://bridge:{PASSWORDS['bridge']}@127.0.0.1:{self.port}",
                                    "--db", self.db, "--metrics-port", "-1")
        self.bridge.until(lambda r: any(x["kind"] == "bridge.connected" for x in r), "bridge connected")

    @property
    def hilsim(self) -> bool:
        return self.kind != "mosquitto"

    def sequences(self, node: str) -> list[int]:
        return ReadingStore(self.db).sequences(node)

    def records(self, kind: str) -> list[dict]:
        lines = self.trace.read_text().splitlines() if self.trace.exists() else []
        return [r for r in map(json.loads, lines) if r["kind"] == kind]

    def send_readings(self, node: str, seqs: range) -> None:
        """``node`` publishes ``seqs`` (QoS 1) and the bridge stores them all."""
        peer = Peer(self.port, node, f"{node}-{seqs.start}")
        assert peer.connect(), peer.refusal
        for seq in seqs:
            peer.publish(f"sensors/{node}/reading", reading(node, seq))
        peer.close()
        until(lambda: set(seqs) <= set(self.sequences(node)), f"{node}'s readings {seqs} stored")

    def stop(self) -> None:
        self.bridge.stop()
        stop_server(self.proc)


def start_hilsim_broker(passwd: Path, trace: Path, stderr: Path, *args: str) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0",
                             "--trace", str(trace), *args], stdout=subprocess.PIPE, stderr=stderr.open("w"),
                            text=True, cwd=ROOT)
    match = re.search(r"listening on mqtt://127\.0\.0\.1:(\d+)", proc.stdout.readline())
    if not match:
        proc.kill()
        raise RuntimeError(f"hilsim broker did not start: {stderr.read_text()!r}")
    return proc, int(match.group(1))


def _mosquitto_conf(port: int, passwd: Path, tmp: Path) -> str:
    """The shipped config, with this test's port, files and user."""
    text = (ROOT / "deploy" / "mosquitto" / "mosquitto.conf").read_text()
    text = re.sub(r"(?m)^listener 1883$", f"listener {port} 127.0.0.1", text)
    text = re.sub(r"(?m)^password_file .*$", f"password_file {passwd}", text)
    text = re.sub(r"(?m)^acl_file .*$", f"acl_file {ROOT / 'deploy' / 'mosquitto' / 'acl'}", text)
    text = re.sub(r"(?m)^persistence_location .*$", f"persistence_location {tmp}/", text)
    return f"user {getpass.getuser()}\n" + text


@pytest.fixture(scope="module")
def passwd(tmp_path_factory) -> Path:
    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_passwd"):
        pytest.skip("Debian package mosquitto (with mosquitto_passwd) not installed")
    path = tmp_path_factory.mktemp("accounts") / "passwd"
    path.touch()
    for user, password in PASSWORDS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, timeout=30)
    return path


@pytest.fixture(scope="module", params=KINDS)
def world(request, passwd, tmp_path_factory):
    w = World(request.param, tmp_path_factory.mktemp(request.param), passwd)
    yield w
    w.stop()


def test_mallory_cannot_publish_as_another_node(world):
    base = next(_blocks) * 1000
    world.send_readings("node-1", range(base, base + 5))
    mallory = Peer(world.port, "mallory", "mallory")
    assert mallory.connect()
    for seq in range(base + 100, base + 105):  # pre-sent sequence numbers, under node-1's and node-2's names
        mallory.publish("sensors/node-1/reading", reading("node-1", seq))
        mallory.publish("sensors/node-2/reading", reading("node-2", seq))
    mallory.publish("sensors/mallory/reading", reading("mallory", base))  # her own: allowed, and after the rest
    until(lambda: base in world.sequences("mallory"), "mallory's own reading stored")
    mallory.close()
    world.send_readings("node-1", range(base + 5, base + 10))
    assert [s for s in world.sequences("node-1") if base <= s < base + 1000] == list(range(base, base + 10))
    assert not [s for s in world.sequences("node-2") if base <= s < base + 1000]
    if world.hilsim:
        denied = [r for r in world.records("acl.denied") if r["topic"] in ("sensors/node-1/reading",
                                                                             "sensors/node-2/reading")]
        assert len(denied) >= 10 and {(r["account"], r["action"]) for r in denied} == {("mallory", "publish")}
        assert "acl denied client 'mallory' (user 'mallory')" in world.stderr.read_text()


def test_mallory_reads_nothing_but_her_own_jobs(world):
    base = next(_blocks) * 1000
    mallory = Peer(world.port, "mallory", "mallory-spy")
    assert mallory.connect()
    codes = mallory.subscribe("#", "sensors/+/reading", "sensors/node-1/#", "hil/things/+/jobs/#",
                              "hil/things/pi/jobs/notify-next", "hil/things/mallory/jobs/notify-next")
    if world.hilsim:
        assert codes == [0x80] * 5 + [1]
    else:  # Mosquitto grants them all and drops at delivery what she may not read
        assert codes == [1] * 6
    world.send_readings("node-1", range(base, base + 3))
    cloud = Peer(world.port, "cloud", "cloud-test")
    assert cloud.connect()
    cloud.publish("hil/things/pi/jobs/notify-next", b'{"execution": {"jobId": "j1"}}')
    cloud.publish("hil/things/mallory/jobs/notify-next", b"{}")  # after the rest: when it comes, they came
    assert mallory.wait_for("hil/things/mallory/jobs/notify-next") == ["hil/things/mallory/jobs/notify-next"]
    for peer in (cloud, mallory):
        peer.close()


def test_mallory_cannot_forge_jobs_for_the_controller_nor_requests_from_it(world):
    pi = Peer(world.port, "pi", "pi-test")
    cloud = Peer(world.port, "cloud", "cloud-test")
    mallory = Peer(world.port, "mallory", "mallory")
    assert pi.connect() and cloud.connect() and mallory.connect()
    assert pi.subscribe("hil/things/pi/jobs/notify-next", "hil/things/pi/jobs/start-next/+",
                        "hil/things/pi/jobs/+/update/+") == [1, 1, 1]
    assert cloud.subscribe("hil/things/+/jobs/start-next", "hil/things/+/jobs/+/update") == [1, 1]
    forged = {"operation": "updateApplication", "version": "6.6.6", "url": "http://evil.example/app.whl"}
    mallory.publish("hil/things/pi/jobs/notify-next", json.dumps({"execution": {"jobDocument": forged}}).encode())
    mallory.publish("hil/things/pi/jobs/start-next/accepted", json.dumps({"execution": {"jobDocument": forged}}).encode())
    mallory.publish("hil/things/pi/jobs/start-next", b'{"clientToken": "x"}')
    mallory.publish("hil/things/pi/jobs/job-1/update", b'{"status": "SUCCEEDED"}')
    mallory.publish("hil/things/mallory/jobs/start-next", b'{"clientToken": "m"}')  # her own: allowed, and last
    assert cloud.wait_for("hil/things/mallory/jobs/start-next") == ["hil/things/mallory/jobs/start-next"]
    pi.publish("hil/things/pi/jobs/start-next", b'{"clientToken": "p"}')  # the controller's own still goes through
    cloud.wait_for("hil/things/pi/jobs/start-next")
    assert pi.messages == []
    for peer in (pi, cloud, mallory):
        peer.close()


def test_mallory_cannot_take_the_bridges_client_id(world):
    base = next(_blocks) * 1000
    connected_before = len(world.bridge.of_kind("bridge.connected"))
    thieves = []
    for attempt in range(6):
        thief = Peer(world.port, "mallory", "bridge", clean=attempt % 2 == 0)
        let_in = thief.connect()
        if world.hilsim:
            assert not let_in and "authori" in thief.refusal.lower()
        else:  # Mosquitto lets her in as "mallory" (use_username_as_clientid), away from the bridge's session
            assert let_in
            thieves.append(thief)
        world.send_readings("node-1", range(base + 10 * attempt, base + 10 * attempt + 3))
    world.send_readings("node-1", range(base + 100, base + 120))  # the bridge keeps storing
    assert [s for s in world.sequences("node-1") if base <= s < base + 1000] == sorted(
        [base + 10 * a + i for a in range(6) for i in range(3)] + list(range(base + 100, base + 120)))
    assert not world.bridge.of_kind("bridge.disconnected")
    assert len(world.bridge.of_kind("bridge.connected")) == connected_before
    for thief in thieves:
        thief.close()
    if world.hilsim:
        refused = [r for r in world.records("client.refused") if r["client"] == "bridge"]
        assert [r["reason"] for r in refused][-6:] == ["not_yours"] * 6


def test_idle_sockets_that_send_no_connect_are_closed(world):
    base = next(_blocks) * 1000
    idle = [socket.create_connection(("127.0.0.1", world.port)) for _ in range(20)]
    world.send_readings("node-1", range(base, base + 3))  # a real client gets in meanwhile
    if world.hilsim:  # closed after --connect-timeout 2 (Mosquitto waits much longer: about 90 s measured)
        for sock in idle:
            sock.settimeout(WAIT)
            assert sock.recv(1) == b""
        assert len(world.records("client.idle_closed")) >= 20
    for sock in idle:
        sock.close()


def test_an_oversized_publish_closes_the_connection(world):
    base = next(_blocks) * 1000
    mallory = Peer(world.port, "mallory", "mallory")
    assert mallory.connect()
    mallory.c.publish("sensors/mallory/reading", b"x" * (100 * 1024), qos=1)
    assert mallory.gone.wait(WAIT)
    mallory.c.loop_stop()
    world.send_readings("node-1", range(base, base + 3))
    if world.hilsim:
        assert world.records("client.packet_too_large")


def test_a_flood_of_wrong_passwords_does_not_hold_up_a_real_login(world):
    base = next(_blocks) * 1000
    flood = [Peer(world.port, user, f"{user}-{i}", password="guess")
             for i in range(20) for user in ("node-2", f"nobody-{i}")]
    for peer in flood:
        peer.c.connect_async("127.0.0.1", world.port)
        peer.c.loop_start()
    started = time.monotonic()
    node = Peer(world.port, "node-1", f"node-1-{base}")
    assert node.connect()
    waited = time.monotonic() - started
    node.close()
    for peer in flood:
        assert peer.answered.wait(WAIT) and peer.refusal is not None
        peer.c.loop_stop()
    assert waited < 3.0, f"a real login waited {waited:.1f} s behind 40 wrong ones"


def _slow_hash(password: str, iterations: int) -> str:
    """A ``$7$`` line written here from the format's definition, costly enough to be timed."""
    salt = os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, 64)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def test_login_time_does_not_tell_which_names_exist(tmp_path):
    """Without the failure delay, so that only the hash check is timed: refusing an unknown name must take
    about as long as refusing a known name with a wrong password (before: 1.8 ms against 236 ms)."""
    passwd = tmp_path / "passwd"
    passwd.write_text(f"node-1:{_slow_hash('right', 200_000)}\n")
    proc, port = start_hilsim_broker(passwd, tmp_path / "t", tmp_path / "e", "--login-failure-delay", "0")
    try:
        times: dict[str, list[float]] = {"node-1": [], "nobody": []}
        for _ in range(5):
            for user in times:
                peer = Peer(port, user, user, password="wrong")
                started = time.monotonic()
                assert not peer.connect()
                times[user].append(time.monotonic() - started)
    finally:
        stop_server(proc)
    known, unknown = (statistics.median(times[u]) for u in ("node-1", "nobody"))
    assert known > 0.02  # the hash is what is timed
    assert 0.5 < unknown / known < 2.0, times


# --- hilsim broker only: what Mosquitto's shipped config does not promise --------------------------------------

def _raw_connect(port: int, user: str, client_id: str, *, clean: bool) -> int:
    """A CONNECT written byte by byte [MQTT-3.1] (paho refuses to send an empty id with a persistent session);
    returns the CONNACK's return code."""
    def string(text: str) -> bytes:
        return len(text.encode()).to_bytes(2, "big") + text.encode()

    body = string("MQTT") + bytes([4, 0xC0 | (0x02 if clean else 0)]) + (60).to_bytes(2, "big") \
        + string(client_id) + string(user) + string(PASSWORDS[user])
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as sock:
        sock.sendall(bytes([0x10, len(body)]) + body)
        connack = sock.recv(4)
    assert connack[:3] == b"\x20\x02\x00", connack
    return connack[3]


def test_an_empty_client_id_gets_one_under_the_account_or_is_refused_for_a_persistent_session(tmp_path, passwd):
    trace = tmp_path / "t"
    proc, port = start_hilsim_broker(passwd, trace, tmp_path / "e", "--login-failure-delay", "0")
    try:
        assert _raw_connect(port, "node-1", "", clean=True) == 0
        assert _raw_connect(port, "node-1", "", clean=False) == 2  # identifier rejected [MQTT-3.1.3-8]
    finally:
        stop_server(proc)
    records = [json.loads(line) for line in trace.read_text().splitlines()]
    (given,) = [r["client"] for r in records if r["kind"] == "client.authenticated"]
    assert re.fullmatch(r"node-1-[0-9a-f]+", given)
    assert [r["reason"] for r in records if r["kind"] == "client.refused"] == ["empty_client_id"]


def test_connections_from_one_address_are_capped(tmp_path, passwd):
    proc, port = start_hilsim_broker(passwd, tmp_path / "t", tmp_path / "e", "--max-connections-per-address", "3",
                                     "--connect-timeout", "30")
    try:
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", port))
        extra.settimeout(WAIT)
        assert extra.recv(1) == b""  # closed at once, long before the connect timeout
        for sock in (*held, extra):
            sock.close()
        until(lambda: Peer(port, "node-1", "node-1").connect(), "a client connects once the address has room")
    finally:
        stop_server(proc)


def test_out_of_file_descriptors_the_broker_logs_once_and_keeps_serving(tmp_path, passwd):
    import resource

    stderr = tmp_path / "e"
    limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (40, 40))  # noqa: E731
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0",
                             "--connect-timeout", "2"], stdout=subprocess.PIPE, stderr=stderr.open("w"), text=True,
                            cwd=ROOT, preexec_fn=limit)
    port = int(re.search(r":(\d+) ", proc.stdout.readline()).group(1))
    try:
        keeper = Peer(port, "node-1", "node-1-keeper")
        assert keeper.connect() and keeper.subscribe("sensors/node-1/#") == [1]
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(50)]  # more than it has descriptors
        until(lambda: "out of file descriptors" in stderr.read_text(), "the broker runs out of descriptors")
        keeper.publish("sensors/node-1/status", b"still served")
        keeper.wait_for("sensors/node-1/status")
        for sock in idle:  # each closed in turn, as descriptors free up: several seconds of failed accepts
            sock.settimeout(WAIT)
            assert sock.recv(1) == b""
            sock.close()
        assert stderr.read_text().count("Too many open files") == 1  # asyncio alone: a line per failed accept()
        late = Peer(port, "node-2", "node-2")
        assert late.connect()
        late.close()
        keeper.close()
    finally:
        stop_server(proc)


def test_a_deny_rule_inside_a_granted_filter_holds_for_live_and_retained_messages(tmp_path, passwd):
    """An ACL file of one's own (``--acl-file``): the bridge may read every node's status but node-2's."""
    acl = tmp_path / "acl"
    acl.write_text("user bridge\ntopic read sensors/+/status\ntopic deny sensors/node-2/status\n"
                   "pattern readwrite sensors/%u/#\n")
    proc, port = start_hilsim_broker(passwd, tmp_path / "t", tmp_path / "e", "--acl-file", str(acl))
    try:
        nodes = {n: Peer(port, n, n) for n in ("node-1", "node-2")}
        for name, node in nodes.items():
            assert node.connect()
            node.c.publish(f"sensors/{name}/status", b"online", qos=1, retain=True).wait_for_publish(WAIT)
        bridge = Peer(port, "bridge", "bridge-status")
        assert bridge.connect() and bridge.subscribe("sensors/+/status", "sensors/node-2/status") == [1, 0x80]
        assert bridge.wait_for("sensors/node-1/status") == ["sensors/node-1/status"]  # retained: node-2's held back
        nodes["node-2"].publish("sensors/node-2/status", b"live")
        nodes["node-1"].publish("sensors/node-1/status", b"live")  # after node-2's
        with bridge.cond:
            assert bridge.cond.wait_for(lambda: len(bridge.messages) == 2, WAIT)
        assert [(m.topic, m.payload) for m in bridge.messages] == [("sensors/node-1/status", b"online"),
                                                                     ("sensors/node-1/status", b"live")]
        for peer in (*nodes.values(), bridge):
            peer.close()
    finally:
        stop_server(proc)


def test_no_acl_warns_and_a_malformed_acl_file_is_refused_with_its_line(tmp_path, passwd):
    proc, port = start_hilsim_broker(passwd, tmp_path / "t", tmp_path / "e", "--no-acl")
    try:
        mallory = Peer(port, "mallory", "mallory")
        assert mallory.connect() and mallory.subscribe("#") == [1]  # everything, as asked
        mallory.close()
    finally:
        stop_server(proc)
    assert "warning: --no-acl" in (tmp_path / "e").read_text()
    acl = tmp_path / "acl"
    acl.write_text("user bridge\ntopic read sensors/+/reading\ntopic readd sensors/#/x\n")
    done = subprocess.run([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0",
                           "--acl-file", str(acl)], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and f"{acl}:3:" in done.stderr and "not a valid topic filter" in done.stderr
