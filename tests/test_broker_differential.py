"""The broker model against real brokers, hilsim's and Mosquitto: same random story, same deliveries?

Each example starts ``hilsim broker``'s embedded amqtt broker
(``system/adapters/amqtt_broker.py``, password authentication, so sessions are not
anonymous and queue) or a Mosquitto on a free loopback port and plays one random
story of connect (clean or persistent, with or without a will) / subscribe
(wildcards) / publish (QoS 0/1, retained, empty retained) / disconnect (graceful
or abrupt) / reconnect across three clients, through the model and through
paho-mqtt clients. After every step both sides must have delivered the same
messages to every client.

Settling, never sleeping: after a step, every connected client publishes a probe
to its own topic ``p/<client>/probe`` and waits for it to come back; whatever the
broker sent it before is in front of the probe on the same TCP stream. A
disconnect is settled by the hilsim broker's ``client.disconnected`` trace line
(written after the will is queued), or on Mosquitto by an observer's two probes.
The random filters never match probe topics.

Compared per step and client: the set of distinct (topic, payload) delivered;
copies beyond one are allowed up to the number of matching subscriptions
(MQTT 3.1.1 section 3.3.5 lets a broker send one copy per overlapping
subscription; amqtt does); the QoS, min(published, best granted); the retain flag
(set on what a SUBSCRIBE brings, never on what is routed or was queued); the order
of the expected messages per topic on reconnect; the session-present flag.

Below the stories, one test per MQTT 3.1.1 rule runs on both brokers, asserting
what the specification says (its section named in each docstring): keepalive at
1.5x with the will published, and a node cut off without a goodbye marked
``offline``; redelivery of unacknowledged QoS 1 and 2 messages (PUBLISH with DUP,
or the PUBREL) when a persistent session resumes, empty payloads included; clean
sessions, takeover, the latest will, retained messages, QoS.

amqtt 0.12 departs from MQTT 3.1.1 in these ways, all repaired for the hilsim
broker by ``system/adapters/amqtt_repairs.py`` (each is named in its rule's test;
a test fails on amqtt as shipped):

- keepalive: a silent client was never disconnected and its will never sent
  [MQTT-3.1.2-24];
- D1 delivery QoS was the subscription's, not min(published, granted) [MQTT-3.3.5-1],
  so QoS 0 messages were queued for offline sessions; retained QoS 0 messages too;
- D2 a will went out at the will's QoS, whatever the subscription granted;
- D3 a QoS 1 or 2 message not acknowledged when the connection ended was forgotten,
  not sent again on reconnect [MQTT-4.4.0-1];
- D4 on every connect, the retained messages matching any filter of any client
  were sent [MQTT-3.3.1-6: on SUBSCRIBE only];
- D5 messages queued for an offline session came with the retain flag set
  [MQTT-3.3.1-9];
- D6 a clean CONNECT with the client id of a connected client left the old
  connection open [MQTT-3.1.4-2];
- D7 a clean session lingered up to a second after its connection; a persistent
  CONNECT in that window resumed it, still clean, so it queued nothing [MQTT-3.1.2-6];
- D8 a repeated SUBSCRIBE kept the old QoS [MQTT-3.8.4-3];
- D9 a resumed session kept the first CONNECT's will retain flag [MQTT-3.1.2-17].

What the comparison still leaves out, where the specification leaves it open or
a broker departs from it:

- amqtt closes the connection of a client publishing to a ``$`` topic (3.1.1 says
  only that such topics are the server's, section 4.7.2), so ``$``-topic matching
  is unit-tested on the model only;
- takeover is not generated (a story connects only disconnected clients); both
  brokers publish the old connection's will on takeover, as the model does
  (section 3.1.2.5 lists no such case either way), shown by the takeover test;
- M1 Mosquitto, with overlapping subscriptions, sends one copy at the QoS of the
  subscription it matches first in its topic tree (a literal level before ``+``
  before ``#``), not at the highest QoS of all matching ones [MQTT-3.3.5-1].
  Allowed: a copy at the QoS of any matching subscription. Pinned by
  ``test_mosquitto_m1_...``. (The bridge's two subscriptions never overlap.)
- M2 Mosquitto 2.0 checks keepalives at most every 6 whole seconds
  (``keepalive__check``: ``last_keepalive_check + 5 < db.now_s``), so it disconnects
  a silent client up to about 8 s after 1.5x its keepalive; with K = 1 its integer
  ``keepalive*3/2`` also lets it act after 1 s. The keepalive tests allow Mosquitto
  that lateness (``keepalive_late``) and use K = 2.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.models.broker_model import BrokerModel, Message, topic_matches

paho = pytest.importorskip("paho.mqtt.client")
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker, hash_password  # noqa: E402

from firmware.board.mqtt import CONNACK, PUBLISH, PacketReader, connect_packet, packet  # noqa: E402
from processes import free_port, start_server, stop_server  # noqa: E402

pytestmark = pytest.mark.live

WAIT = 5.0
CLIENTS = ("c1", "c2", "c3")
NODE = "node-1"  # a sensor node: sensors/node-1/status is its retained online/offline
TOPICS = ("d", "d/a", "d/b", "e/a", "d/a/b")
FILTERS = ("d", "d/a", "d/+", "d/#", "+/a", "+/+/b", "d/+/b")
PASSWORD = "pw"
HASH = hash_password(PASSWORD, time_cost=1, memory_cost=1024)  # test-only cost
_nonce = itertools.count()


class Recorder:
    """Stands in for the broker party's runtime: collects trace lines, wakes waiters."""

    def __init__(self) -> None:
        self.lines: list[dict] = []
        self.cond = threading.Condition()

    def trace(self, kind: str, **fields: Any) -> None:
        with self.cond:
            self.lines.append({"kind": kind, **fields})
            self.cond.notify_all()

    def count(self, kind: str, client: str) -> int:
        return sum(1 for ln in self.lines if ln["kind"] == kind and ln.get("client") == client)

    def wait_count(self, kind: str, client: str, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: self.count(kind, client) >= n, WAIT), f"no {kind} for {client}"


async def _cancel_the_rest() -> None:
    rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in rest:
        task.cancel()
    await asyncio.gather(*rest, return_exceptions=True)


class RealBroker:
    """hilsim broker (the embedded amqtt broker, repaired) on its own event loop thread."""

    name = "hilsim"
    keepalive_late = 1.0  # s: amqtt acts on time; this is the will's way to the watcher on a loaded machine

    def __init__(self) -> None:
        self.recorder = Recorder()
        self.pump = Pump()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.embedded = EmbeddedBroker(BrokerSettings(port=0, users={c: HASH for c in (*CLIENTS, NODE)}), rt=self.recorder)
        self.call(self.embedded.start())

    def call(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(WAIT)

    @property
    def port(self) -> int:
        return self.embedded.port

    def disconnects(self, cid: str) -> int:
        return self.recorder.count("client.disconnected", cid)

    def wait_disconnected(self, cid: str, seen: int) -> None:
        """Until amqtt has processed the end of ``cid``'s connection (its will included)."""
        self.recorder.wait_count("client.disconnected", cid, seen + 1)

    def close(self) -> None:
        self.pump.stop()
        self.call(self.embedded.stop())
        self.call(_cancel_the_rest())  # amqtt's own leftover tasks must not outlive their loop
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(WAIT)
        self.loop.close()


class MosquittoBroker:
    """A real Mosquitto on a free loopback port.

    Mosquitto has no hook telling when it has seen a connection end, so a disconnect
    step is settled by an observer client outside the story probing twice: the end of
    the TCP connection reached Mosquitto before the first probe was sent, so it was
    handled in the same or an earlier pass of its event loop; the second probe, sent
    after the first came back, is handled in a later pass, after the will went out.
    """

    name = "mosquitto"
    keepalive_late = 8.0  # s: M2, checked every 6 whole seconds at most
    BINARY = "/usr/sbin/mosquitto"

    def __init__(self, workdir) -> None:
        import os

        if not os.access(self.BINARY, os.X_OK):
            pytest.skip("Debian package mosquitto not installed")
        self._port = free_port()
        conf = workdir / f"mosquitto-{self._port}.conf"
        conf.write_text(f"listener {self._port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
        self.proc = start_server([self.BINARY, "-c", str(conf)], self._port)
        self.pump = Pump()
        self.observer: RealClient | None = None

    @property
    def port(self) -> int:
        return self._port

    def disconnects(self, cid: str) -> int:
        return 0

    def wait_disconnected(self, cid: str, seen: int) -> None:
        if self.observer is None:
            self.observer = RealClient(self, "observer", True, None)  # filters never match its probe topic
        self.observer.probe()
        self.observer.probe()

    def close(self) -> None:
        self.pump.stop()
        stop_server(self.proc)


class Pump:
    """Runs the network loop of every live paho client on one thread.

    (paho's own ``loop_stop`` waits up to a second for its thread; removing a client
    from this pump is immediate.)
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.clients: list = []
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while self.running:
            with self.lock:
                socks = {c.socket(): c for c in self.clients if c.socket() is not None}
            if not socks:
                threading.Event().wait(0.002)
                continue
            writable = [s for s, c in socks.items() if c.want_write()]
            try:
                readable, writable, _ = select.select(list(socks), writable, [], 0.005)
            except (OSError, ValueError):  # a socket closed under us: the next pass sees the new set
                continue
            with self.lock:
                for s in readable:
                    if socks[s] in self.clients:
                        socks[s].loop_read()
                for s in writable:
                    if socks[s] in self.clients:
                        socks[s].loop_write()
                for c in self.clients:
                    c.loop_misc()

    def add(self, c) -> None:
        with self.lock:
            self.clients.append(c)

    def remove(self, c) -> None:
        with self.lock:  # once we hold it, the pump is not inside c.loop()
            if c in self.clients:
                self.clients.remove(c)

    def stop(self) -> None:
        self.running = False
        self.thread.join(WAIT)


class RealClient:
    """One paho connection; records what it receives."""

    def __init__(self, broker: RealBroker, cid: str, clean: bool, will: Message | None, *, manual_ack: bool = False):
        self.cid = cid
        self.pump = broker.pump
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id=cid, clean_session=clean, protocol=paho.MQTTv311,
                             manual_ack=manual_ack)
        self.c.username_pw_set(cid, PASSWORD)
        if will is not None:
            self.c.will_set(will.topic, will.payload, will.qos, will.retain)
        self.received: list = []
        self.cond = threading.Condition()
        self.acked = threading.Event()
        self.present: bool | None = None
        self.c.on_connect = self._on_connect
        self.c.on_message = self._on_message
        self.gone = threading.Event()
        self.c.on_disconnect = lambda *a: self.gone.set()
        self.c.connect("127.0.0.1", broker.port, keepalive=60)
        self.pump.add(self.c)
        assert self.acked.wait(WAIT) and not self.reason.is_failure, f"{cid} refused: {self.reason}"
        self.subscribe(f"p/{cid}/probe", 0)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        self.reason, self.present = reason_code, flags.session_present
        self.acked.set()

    def _on_message(self, client, userdata, msg):
        with self.cond:
            self.received.append((msg.topic, msg.payload, msg.qos, msg.retain, msg.dup))
            self.cond.notify_all()

    def subscribe(self, topic_filter: str, qos: int) -> int:
        done = threading.Event()
        granted = []
        self.c.on_subscribe = lambda client, userdata, mid, codes, props: (granted.extend(codes), done.set())
        self.c.subscribe(topic_filter, qos)
        assert done.wait(WAIT)
        return granted[0].value

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        info = self.c.publish(topic, payload, qos, retain)
        info.wait_for_publish(WAIT)
        assert info.is_published()

    def probe(self) -> None:
        nonce = f"probe-{next(_nonce)}".encode()
        self.c.publish(f"p/{self.cid}/probe", nonce, 0)
        with self.cond:
            assert self.cond.wait_for(lambda: any(m[1] == nonce for m in self.received), WAIT), f"{self.cid} probe lost"

    def disconnect(self, graceful: bool) -> None:
        if graceful:
            self.c.disconnect()
            assert self.gone.wait(WAIT)
            self.pump.remove(self.c)
        else:  # the TCP connection just ends: no DISCONNECT packet
            self.pump.remove(self.c)
            self.c.socket().close()

    def data_since(self, mark: int) -> list[tuple]:
        with self.cond:
            return [m for m in self.received[mark:] if not m[0].startswith("p/")]


class Story:
    """Plays steps on the model and on a real broker side by side and compares each step."""

    def __init__(self, real: Any = None) -> None:
        self.model = BrokerModel()
        self.real = real or RealBroker()
        self.clients: dict[str, RealClient] = {}
        self.log: list[str] = []

    def connected(self) -> list[str]:
        return sorted(self.clients)

    # --- steps --------------------------------------------------------------------------------------

    def connect(self, cid: str, clean: bool, will: Message | None) -> None:
        self.log.append(f"connect {cid} clean={clean} will={will and (will.topic, will.qos, will.retain)}")
        marks = self._marks()
        present, out = self.model.connect(cid, clean_session=clean, will=will)
        self.clients[cid] = RealClient(self.real, cid, clean, will)
        marks[cid] = 0
        assert self.clients[cid].present == present, f"session present: model {present}, {self.real.name} not"
        self._settle(first=cid)
        self._compare("connect", out, marks)

    def subscribe(self, cid: str, topic_filter: str, qos: int) -> None:
        self.log.append(f"subscribe {cid} {topic_filter} qos={qos}")
        marks = self._marks()
        granted, out = self.model.subscribe(cid, [(topic_filter, qos)])
        assert self.clients[cid].subscribe(topic_filter, qos) == granted[0]
        self._settle(first=cid)
        self._compare("subscribe", out, marks)

    def publish(self, cid: str, topic: str, payload: bytes, qos: int, retain: bool) -> None:
        self.log.append(f"publish {cid} {topic} {payload!r} qos={qos} retain={retain}")
        marks = self._marks()
        msg = Message(topic, payload, qos, retain)
        out = self.model.publish(cid, msg)
        self.clients[cid].publish(topic, payload, qos, retain)
        self._settle(first=cid)
        self._compare("publish", out, marks)

    def disconnect(self, cid: str, graceful: bool) -> None:
        self.log.append(f"disconnect {cid} graceful={graceful}")
        seen = self.real.disconnects(cid)
        will = self.model.sessions[cid].will
        marks = self._marks()
        out = self.model.disconnect(cid, graceful=graceful)
        self.clients.pop(cid).disconnect(graceful)
        self.real.wait_disconnected(cid, seen)
        marks.pop(cid)
        self._settle()
        self._compare("disconnect", out, marks)

    # --- settling and comparing ---------------------------------------------------------------------

    def _marks(self) -> dict[str, int]:
        return {c: len(rc.received) for c, rc in self.clients.items()}

    def _settle(self, first: str | None = None) -> None:
        order = ([first] if first in self.clients else []) + [c for c in self.connected() if c != first]
        for cid in order:
            self.clients[cid].probe()

    def _compare(self, step: str, out: list, marks: dict[str, int]) -> None:
        expected: dict[str, list[Message]] = {}
        for cid, msg in out:
            expected.setdefault(cid, []).append(msg)
            if msg.qos == 1:
                self.model.puback(cid, msg.packet_id)  # the paho client acknowledges at once
        for cid, mark in marks.items():
            got = self.clients[cid].data_since(mark)
            want = expected.get(cid, [])
            got_ids = Counter((t, p) for t, p, *_ in got)
            want_ids = [(m.topic, m.payload) for m in want]
            where = f"step {len(self.log)} ({self.log[-1]}), client {cid}\nstory:\n  " + "\n  ".join(self.log)
            real = self.real.name
            missing = set(want_ids) - set(got_ids)
            assert not missing, f"{real} did not deliver {missing} at {where}"
            extra = set(got_ids) - set(want_ids)
            assert not extra, f"{real} delivered {extra}, the model did not, at {where}"
            subs = self.model.sessions[cid].subscriptions if cid in self.model.sessions else {}
            for (topic, payload), copies in got_ids.items():
                limit = max(1, sum(1 for f in subs if topic_matches(f, topic)))
                assert copies <= limit, f"{copies} copies of {(topic, payload)} at {where}"
            if step in ("publish", "disconnect", "connect"):
                assert not any(m[3] for m in got), f"retain flag on a routed or queued message at {where}"
            for m in want:  # QoS: min(published, best granted) [MQTT-3.3.5-1], but for M1
                copies = {q for t, p, q, *_ in got if (t, p) == (m.topic, m.payload)}
                granted = {q for f, q in subs.items() if topic_matches(f, m.topic)}
                allowed = granted if m.qos == 1 else {0}  # M1: any matching subscription's QoS
                assert max(copies) in allowed and (len(allowed) > 1 or max(copies) == m.qos), \
                    f"{m.topic} {m.payload!r} at QoS {sorted(copies)}, the model {m.qos} at {where}"
            if step == "subscribe":
                assert all(m[3] for m in got), f"retained message without retain flag at {where}"
            for topic in {t for t, _ in want_ids}:
                want_order = [p for t, p in want_ids if t == topic]
                got_order = [p for t, p, *_ in got if t == topic and p in want_order]
                firsts = list(dict.fromkeys(got_order))
                assert firsts == want_order, f"order on {topic}: {real} {firsts}, model {want_order} at {where}"

    def close(self) -> None:
        for rc in self.clients.values():
            rc.disconnect(graceful=True)
        self.real.close()


def _step(data, story: Story, clients: tuple[str, ...], n: int) -> None:
    offline = [c for c in clients if c not in story.clients]
    online = story.connected()
    kinds = (["connect"] if offline else []) + (["subscribe", "publish", "publish", "disconnect"] if online else [])
    kind = data.draw(st.sampled_from(kinds), label="step")
    if kind == "connect":
        cid = data.draw(st.sampled_from(offline), label="client")
        clean = data.draw(st.booleans(), label="clean")
        will = None
        if data.draw(st.booleans(), label="will"):
            retain = data.draw(st.booleans(), label="will retain")
            will = Message(data.draw(st.sampled_from(TOPICS)), f"will-{cid}-{n}".encode(),
                           data.draw(st.integers(0, 1)), retain)
        story.connect(cid, clean, will)
    elif kind == "subscribe":
        story.subscribe(data.draw(st.sampled_from(online), label="client"), data.draw(st.sampled_from(FILTERS)),
                        data.draw(st.integers(0, 1), label="qos"))
    elif kind == "publish":
        cid = data.draw(st.sampled_from(online), label="client")
        retain = data.draw(st.booleans(), label="retain")
        empty = retain and data.draw(st.integers(0, 4), label="clear") == 0
        story.publish(cid, data.draw(st.sampled_from(TOPICS)), b"" if empty else f"m{n}".encode(),
                      data.draw(st.integers(0, 1), label="qos"), retain)
    else:
        story.disconnect(data.draw(st.sampled_from(online), label="client"), data.draw(st.booleans(), label="graceful"))


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_model_and_hilsim_broker_deliver_the_same_messages_with_no_allowance(data):
    clients = CLIENTS[:data.draw(st.integers(2, 3), label="clients")]
    story = Story()
    try:
        for n in range(data.draw(st.integers(6, 24), label="steps")):
            _step(data, story, clients, n)
    finally:
        story.close()


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_model_and_mosquitto_deliver_the_same_messages_with_no_allowance(tmp_path_factory, data):
    """The same random stories against Mosquitto, compared the same way (M1 aside)."""
    clients = CLIENTS[:data.draw(st.integers(2, 3), label="clients")]
    story = Story(MosquittoBroker(tmp_path_factory.getbasetemp()))
    try:
        for n in range(data.draw(st.integers(6, 24), label="steps")):
            _step(data, story, clients, n)
    finally:
        story.close()


# --- MQTT 3.1.1, rule by rule, on hilsim broker and on Mosquitto ---------------------------------------
#
# Each test plays one rule on both brokers and asserts what MQTT 3.1.1 says (its section named in the
# docstring). Where amqtt 0.12 broke the rule, system/adapters/amqtt_repairs.py repairs it and the test
# keeps the deviation's name (Dn) from the module docstring.

KEEPALIVE = 2  # seconds: the server must act by 1.5x, i.e. 3 s after the client's last packet


@pytest.fixture(params=["hilsim", "mosquitto"])
def broker(request, tmp_path):
    real = RealBroker() if request.param == "hilsim" else MosquittoBroker(tmp_path)
    opened: list = []

    def client(cid: str, clean: bool = True, will: Message | None = None, **options) -> RealClient:
        opened.append(RealClient(real, cid, clean, will, **options))
        return opened[-1]

    yield real, client
    real.close()


def _utf8(text: str) -> bytes:
    return len(text.encode()).to_bytes(2, "big") + text.encode()


class RawClient:
    """A bare MQTT 3.1.1 connection (the firmware's packet codec on a socket). It sends exactly what the test
    says, so it can stop acknowledging, or fall silent past its keepalive, as no paho client would."""

    def __init__(self, real, cid: str, *, clean: bool = True, keepalive: int = 60, will: Message | None = None):
        self.sock = socket.create_connection(("127.0.0.1", real.port), timeout=WAIT)
        self.reader, self.pending = PacketReader(), []
        terms = (will.topic, will.payload, will.qos, will.retain) if will else None
        self.sock.sendall(connect_packet(cid, keepalive, cid, PASSWORD, terms, clean))
        kind, _, body = self.next()
        assert kind == CONNACK and body[1] == 0, f"{cid} refused: {body!r}"
        self.present = bool(body[0] & 1)

    def next(self) -> tuple[int, int, bytes]:
        """The next packet from the broker: (type, flags, body)."""
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the broker closed the connection"
            self.pending.extend(self.reader.feed(data))
        return self.pending.pop(0)

    def closed_by_broker(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def send(self, kind: int, flags: int, body: bytes) -> None:
        self.sock.sendall(packet(kind, flags, body))

    def subscribe(self, topic_filter: str, qos: int) -> None:
        self.send(8, 2, b"\x00\x01" + _utf8(topic_filter) + bytes((qos,)))
        kind, _, body = self.next()
        assert (kind, body[2:]) == (9, bytes((qos,))), f"SUBACK expected, got type {kind} {body!r}"

    def publishes(self, n: int) -> list[tuple[str, bytes, int, bool, int]]:
        """The next ``n`` PUBLISH packets as (topic, payload, QoS, DUP, packet id); none is acknowledged."""
        got = []
        while len(got) < n:
            kind, flags, body = self.next()
            assert kind == PUBLISH, f"PUBLISH expected, got packet type {kind}"
            qos, length = (flags >> 1) & 3, int.from_bytes(body[:2], "big")
            topic, rest = body[2:2 + length].decode(), body[2 + length:]
            pid = int.from_bytes(rest[:2], "big") if qos else 0
            got.append((topic, rest[2:] if qos else rest, qos, bool(flags & 8), pid))
        return got

    def end(self, graceful: bool) -> None:
        if graceful:
            self.send(14, 0, b"")  # DISCONNECT
        self.sock.close()


def _wait_for(rc: RealClient, payload: bytes, timeout: float = WAIT) -> float:
    """Until ``rc`` has received ``payload``; returns the time it was seen (time.monotonic)."""
    with rc.cond:
        assert rc.cond.wait_for(lambda: any(m[1] == payload for m in _data(rc)), timeout), f"{rc.cid}: no {payload!r}"
    return time.monotonic()


def _ended(real, cid: str, end) -> None:
    """Run ``end`` (which ends ``cid``'s connection) and wait until the broker has processed it."""
    seen = real.disconnects(cid)
    end()
    real.wait_disconnected(cid, seen)


def _data(rc: RealClient) -> list[tuple]:
    return rc.data_since(0)


def test_keepalive_a_silent_client_is_disconnected_after_one_and_a_half_keepalives_and_its_will_published(broker):
    """[MQTT-3.1.2-24]: a server that receives nothing from a client for 1.5x its keepalive disconnects it, and a
    connection not ended by DISCONNECT publishes the will [MQTT-3.1.2-8]. (amqtt did neither, ever.)"""
    real, client = broker
    watcher = client("c3")
    watcher.subscribe("d", 0)
    sent = time.monotonic()  # the silent client's last packet is its CONNECT
    silent = RawClient(real, "c1", keepalive=KEEPALIVE, will=Message("d", b"silent gone", 0))
    deadline = 1.5 * KEEPALIVE + real.keepalive_late
    elapsed = _wait_for(watcher, b"silent gone", deadline + WAIT) - sent
    assert 1.5 * KEEPALIVE - 0.05 <= elapsed <= deadline, elapsed
    assert silent.closed_by_broker()
    silent.end(graceful=False)


@pytest.mark.parametrize("graceful", [True, False], ids=["disconnect", "dropped"])
def test_unacknowledged_qos1_and_qos2_messages_with_empty_payloads_are_sent_again_when_the_session_resumes(
        broker, graceful):
    """[MQTT-4.4.0-1] (D3): when a persistent session reconnects, the server sends every unacknowledged PUBLISH
    again with its original packet id and DUP set [MQTT-3.3.1-1], whatever the payload. The subscriber stops
    acknowledging, as in an independent conformance suite's case, with empty payloads."""
    real, client = broker
    sub = RawClient(real, "c1", clean=False)
    sub.subscribe("d/1", 1)
    sub.subscribe("d/2", 2)
    pub = client("c2")
    pub.publish("d/1", b"", 1, False)
    pub.publish("d/2", b"", 2, False)
    first = sorted(sub.publishes(2))
    assert [m[:4] for m in first] == [("d/1", b"", 1, False), ("d/2", b"", 2, False)]
    _ended(real, "c1", lambda: sub.end(graceful))
    again = RawClient(real, "c1", clean=False)
    assert again.present
    resent = sorted(again.publishes(2))
    assert [m[:4] for m in resent] == [("d/1", b"", 1, True), ("d/2", b"", 2, True)]
    assert [m[4] for m in resent] == [m[4] for m in first]
    again.end(graceful=True)


def test_a_pubrel_not_completed_is_sent_again_when_the_session_resumes(broker):
    """[MQTT-4.4.0-1] (D3, QoS 2's second half): the subscriber sent PUBREC but not PUBCOMP; on reconnect the server
    sends the PUBREL again (not the PUBLISH: the message was delivered)."""
    real, client = broker
    sub = RawClient(real, "c1", clean=False)
    sub.subscribe("d", 2)
    client("c2").publish("d", b"twice?", 2, False)
    [(_, _, _, _, pid)] = sub.publishes(1)
    sub.send(5, 0, pid.to_bytes(2, "big"))  # PUBREC
    assert sub.next() == (6, 2, pid.to_bytes(2, "big"))  # PUBREL
    _ended(real, "c1", lambda: sub.end(graceful=False))
    again = RawClient(real, "c1", clean=False)
    assert again.present and again.next() == (6, 2, pid.to_bytes(2, "big"))
    again.end(graceful=True)


def test_a_persistent_subscriber_gets_an_unacknowledged_message_again_after_the_connection_drops(broker):
    """[MQTT-4.4.0-1] (D3) with paho, as the bridge uses it: a reading received but not yet stored comes again."""
    real, client = broker
    sub = client("c1", clean=False, manual_ack=True)
    sub.subscribe("d", 1)
    pub = client("c2")
    pub.publish("d", b"unacked", 1, False)
    pub.probe(), sub.probe()
    assert [m[1] for m in _data(sub)] == [b"unacked"]
    _ended(real, "c1", lambda: sub.disconnect(graceful=False))
    again = client("c1", clean=False)
    again.probe()
    assert again.present and [(m[1], m[4]) for m in _data(again)] == [(b"unacked", True)]


def test_a_clean_session_ends_with_its_connection_and_a_persistent_one_then_queues(broker):
    """[MQTT-3.1.2-6] (D7): a clean session lasts as long as its connection, so a persistent CONNECT right after
    starts a new session (session present 0 [MQTT-3.2.2-2], no subscriptions), which then queues QoS 1 messages
    while offline [MQTT-3.1.2-5]. amqtt resumed the clean session for up to a second, still clean, queueing
    nothing: the state that leaked between tests of a conformance suite run in full."""
    real, client = broker
    clean = client("c1", clean=True)
    clean.subscribe("d", 1)
    _ended(real, "c1", lambda: clean.disconnect(graceful=True))
    persistent = client("c1", clean=False)
    assert persistent.present is False
    persistent.subscribe("e", 1)
    _ended(real, "c1", lambda: persistent.disconnect(graceful=True))
    pub = client("c2")
    pub.publish("d", b"no subscription", 1, False)
    pub.publish("e", b"queued", 1, False)
    pub.probe()
    again = client("c1", clean=False)
    again.probe()
    assert again.present and [m[1] for m in _data(again)] == [b"queued"]


def test_a_clean_connect_with_the_client_id_of_a_connected_client_closes_the_old_connection(broker):
    """[MQTT-3.1.4-2] (D6): the server disconnects the existing client, and its will is published; the new clean
    session has none of the old one's subscriptions [MQTT-3.1.2-6]. amqtt left the old connection open, orphaned."""
    real, client = broker
    watcher = client("c3")
    watcher.subscribe("w", 0)
    first = client("c1", will=Message("w", b"first gone", 0))
    first.subscribe("d", 0)
    second = client("c1")
    assert first.gone.wait(WAIT)
    _wait_for(watcher, b"first gone")  # published by both, as the model does (3.1.2.5 lists no case either way)
    pub = client("c2")
    pub.publish("d", b"for nobody", 0, False)
    pub.probe(), second.probe()
    assert _data(second) == []


def test_an_empty_retained_publish_clears_and_what_was_queued_comes_without_the_retain_flag(broker):
    """[MQTT-3.3.1-10]: a retained PUBLISH with an empty payload removes the retained message, so a later
    subscriber gets nothing [MQTT-3.3.1-11]. Messages queued for an offline session are sent with retain 0
    [MQTT-3.3.1-9] (D5): amqtt set it, so the clearing publish came to that session as an empty retained message."""
    real, client = broker
    sub = client("c1", clean=False)
    sub.subscribe("d", 1)
    _ended(real, "c1", lambda: sub.disconnect(graceful=True))
    pub = client("c2")
    pub.publish("d", b"kept", 1, True)
    pub.publish("d", b"", 1, True)
    late = client("c3")
    late.subscribe("d", 1)
    late.probe()
    assert _data(late) == []
    again = client("c1", clean=False)
    again.probe()
    assert [(m[1], m[3]) for m in _data(again)] == [(b"kept", False), (b"", False)]


def test_retained_messages_are_sent_on_subscribe_only(broker):
    """[MQTT-3.3.1-6] (D4): retained messages go to a client when it subscribes, flagged retain
    [MQTT-3.3.1-8]; amqtt also sent them on every connect, for any filter of any client."""
    real, client = broker
    other = client("c1")
    other.subscribe("d/#", 0)
    client("c2").publish("d/a", b"kept", 0, True)
    newcomer = client("c3")
    newcomer.probe()
    assert _data(newcomer) == []
    newcomer.subscribe("d/+", 0)
    newcomer.probe()
    assert [(m[0], m[1], m[3]) for m in _data(newcomer)] == [("d/a", b"kept", True)]


def test_a_repeated_subscribe_replaces_the_qos(broker):
    """[MQTT-3.8.4-3] (D8): a SUBSCRIBE to a filter the session has replaces its subscription, QoS included."""
    real, client = broker
    sub = client("c1")
    assert sub.subscribe("d", 1) == 1
    assert sub.subscribe("d", 0) == 0
    client("c2").publish("d", b"x", 1, False)
    sub.probe()
    assert [m[2] for m in _data(sub)] == [0]


def test_a_resumed_session_takes_the_will_of_its_latest_connect_retain_flag_included(broker):
    """[MQTT-3.1.2-17]/[MQTT-3.1.2-8] (D9): the will, retain flag included, is the one in the latest CONNECT."""
    real, client = broker
    first = client("c1", clean=False)  # no will: retain flag 0
    _ended(real, "c1", lambda: first.disconnect(graceful=True))
    second = client("c1", clean=False, will=Message("d", b"gone", 0, retain=True))
    _ended(real, "c1", lambda: second.disconnect(graceful=False))
    late = client("c2")
    late.subscribe("d", 0)
    late.probe()
    assert [(m[1], m[3]) for m in _data(late)] == [(b"gone", True)]


NODE_PROCESS = """
import sys
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
port, keepalive, password = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
node = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="node-1", protocol=mqtt.MQTTv311)
node.username_pw_set("node-1", password)
node.will_set("sensors/node-1/status", b"offline", 1, retain=True)
node.on_connect = lambda *a: node.publish("sensors/node-1/status", b"online", 1, retain=True)
node.connect("127.0.0.1", port, keepalive=keepalive)
node.loop_forever()
"""


def test_a_node_cut_off_without_a_goodbye_is_marked_offline_within_one_and_a_half_keepalives(broker):
    """A node whose process stops dead (SIGSTOP: its TCP connection stays open and silent, as behind a link that
    stopped forwarding) goes ``offline``: its will, retained on ``sensors/node-1/status``, is published within
    1.5x its keepalive [MQTT-3.1.2-24], and a later subscriber sees the retained ``offline``."""
    real, client = broker
    watcher = client("c3")
    watcher.subscribe("sensors/+/status", 1)
    node = subprocess.Popen([sys.executable, "-c", NODE_PROCESS, str(real.port), str(KEEPALIVE), PASSWORD])
    try:
        _wait_for(watcher, b"online")
        cut = time.monotonic()  # the node's last packet was at or before this
        os.kill(node.pid, signal.SIGSTOP)
        deadline = 1.5 * KEEPALIVE + real.keepalive_late
        elapsed = _wait_for(watcher, b"offline", deadline + WAIT) - cut
        assert elapsed <= deadline, elapsed
        late = client("c2")
        late.subscribe("sensors/node-1/status", 1)
        late.probe()
        assert [(m[1], m[3]) for m in _data(late)] == [(b"offline", True)]
    finally:
        node.kill()
        node.wait(WAIT)


def test_delivery_qos_is_the_minimum_of_the_published_and_the_granted(broker):
    """[MQTT-3.3.5-1] (D1): a QoS 0 message goes to a QoS 1 subscriber at QoS 0, and so is not queued for it while it
    is offline [MQTT-3.1.2-5]; amqtt used the subscription's QoS."""
    real, client = broker
    sub, pub = client("c1", clean=False), client("c2")
    sub.subscribe("d", 1)
    pub.publish("d", b"q0", 0, False)
    pub.probe(), sub.probe()
    assert [(m[1], m[2]) for m in _data(sub)] == [(b"q0", 0)]
    _ended(real, "c1", lambda: sub.disconnect(graceful=True))
    pub.publish("d", b"q0 while away", 0, False)
    pub.publish("d", b"q1 while away", 1, False)
    again = client("c1", clean=False)
    again.probe()
    assert [(m[1], m[2]) for m in _data(again)] == [(b"q1 while away", 1)]


def test_a_will_goes_out_at_the_minimum_of_its_qos_and_the_granted(broker):
    """[MQTT-3.3.5-1] (D2): the will is delivered like any PUBLISH; amqtt used the will's QoS."""
    real, client = broker
    sub = client("c1")
    sub.subscribe("d", 0)
    leaving = client("c2", will=Message("d", b"bye", 1))
    _ended(real, "c2", lambda: leaving.disconnect(graceful=False))
    sub.probe()
    assert [(m[1], m[2]) for m in _data(sub)] == [(b"bye", 0)]


def test_a_retained_qos0_message_is_sent_at_qos0_to_a_qos1_subscriber(broker):
    """[MQTT-3.3.5-1]: a retained message is delivered on SUBSCRIBE at min(its QoS, granted); amqtt took the
    granted QoS when the retained one was 0."""
    real, client = broker
    client("c2").publish("d", b"kept", 0, True)
    sub = client("c1")
    sub.subscribe("d", 1)
    sub.probe()
    assert [(m[1], m[2], m[3]) for m in _data(sub)] == [(b"kept", 0, True)]


# --- Mosquitto's deviation, pinned ---------------------------------------------------------------------
#
# What MQTT 3.1.1 and the model do, and what Mosquitto 2.0 really does. If it changes, the test fails: drop
# the allowance in the comparison above.


def test_mosquitto_m1_overlapping_subscriptions_get_one_copy_at_the_first_matching_qos(tmp_path):
    real = MosquittoBroker(tmp_path)
    try:
        sub, pub = RealClient(real, "c1", True, None), RealClient(real, "c2", True, None)
        sub.subscribe("d/+", 1)
        sub.subscribe("d/a", 0)
        pub.publish("d/a", b"x", 1, False)
        pub.probe(), sub.probe()
        assert [(m[1], m[2]) for m in _data(sub)] == [(b"x", 0)]  # MQTT and the model: QoS 1 (one copy or two)
    finally:
        real.close()
