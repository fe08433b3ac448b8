"""MQTT over simulated links: the broker model as a party, and the client port.

``SimMqttClient`` is the MQTT port (``system.mqtt.port.MqttPort``) the system code
uses in sim (the bridge, the firmware's HAL): ``connect``, ``publish`` (QoS 1 returns
once the broker's PUBACK came back over the link), ``subscribe``, ``unsubscribe``,
``next_message``, ``disconnect``. Any break of the link fails pending operations with
``ConnectionLost``, as a dropped TCP connection would; the broker sees the same
break and publishes the will. A packet MQTT forbids (a PUBLISH to a wildcard
topic) makes the broker drop the connection, as a real broker does.
"""

from __future__ import annotations

from typing import Any

from sim.models.broker_model import BrokerModel, Message, ProtocolViolation
from sim.models.network import Link
from system.errors import ConnectionLost
from system.mqtt.inbox import Inbox
from system.mqtt.message import PendingAcks


class _Conn:
    """One network connection between a client and the broker, over one link."""

    def __init__(self, host: "BrokerHost", client: "SimMqttClient", link: Link):
        self.host, self.client, self.link = host, client, link
        self.alive = True
        self._unwatch = link.watch(self.broken)

    def to_client(self, what: Any) -> None:
        if self.alive:
            self.link.send(what, lambda m: self.alive and self.client._receive(m))

    def to_host(self, what: Any) -> bool:
        return self.alive and self.link.send(what, lambda m: self.alive and self.host._receive(self, m))

    def broken(self) -> None:
        """The connection dropped without a DISCONNECT (link down, broker stop, timeout)."""
        self.close(graceful=False)

    def close(self, *, graceful: bool, publish_will: bool = True) -> None:
        if not self.alive:
            return
        self.alive = False
        self._unwatch()
        self.client._lost(self)
        self.host._closed(self, graceful=graceful or not publish_will)


class BrokerHost:
    """The ``broker`` party: runs a BrokerModel and routes its deliveries to connections.

    With a ``policy`` (``sim.models.broker_policy.BrokerPolicy``) it enforces the live broker's rules: a
    CONNECT whose client id is not its account's is refused (``client.refused``), a publish its account may
    not write is acknowledged and dropped (``publish.refused``, counted in ``refused``), and the model
    refuses subscriptions and deliveries the ACL does not allow.
    """

    def __init__(self, rt, model: BrokerModel | None = None, *, policy: Any = None):
        self.rt = rt.child("broker")
        self.policy = policy
        self.model = model or BrokerModel(policy=policy)
        self.running = True
        self.refused: dict[str, int] = {}  # refusals by reason: not_yours, acl, ...
        self._conns: dict[str, _Conn] = {}

    def _receive(self, conn: _Conn, packet: tuple) -> None:
        try:
            self._handle(conn, packet)
        except ProtocolViolation as exc:
            self.rt.trace("client.refused", client=conn.client.client_id, reason=str(exc)[:120])
            conn.close(graceful=False)

    def _handle(self, conn: _Conn, packet: tuple) -> None:
        kind = packet[0]
        cid = conn.client.client_id
        if kind == "connect":
            _, clean, will = packet
            if self._refused(conn, cid, clean):
                return
            old = self._conns.get(cid)
            if old is not None and old is not conn:
                old.close(graceful=False)
            present, out = self.model.connect(cid, clean_session=clean, will=will)
            self._conns[cid] = conn
            self.rt.trace("client.connected", client=cid, session_present=present)
            conn.to_client(("connack", present))
            self._route(out)
        elif kind == "publish":
            msg = packet[1]
            if self.policy is not None and not self.policy.may_publish(cid, msg.topic):
                self.refused["acl"] = self.refused.get("acl", 0) + 1
                self.rt.trace("publish.refused", client=cid, topic=msg.topic[:80], reason="acl")
                if msg.qos == 1:  # acknowledged and dropped, as Mosquitto does
                    conn.to_client(("puback", msg.packet_id))
                return
            out = self.model.publish(cid, msg)
            if msg.qos == 1:
                conn.to_client(("puback", msg.packet_id))
            self._route(out)
        elif kind == "puback":
            self.model.puback(cid, packet[1])
        elif kind == "subscribe":
            _, token, filters = packet
            granted, out = self.model.subscribe(cid, filters)
            conn.to_client(("suback", token, granted))
            self._route(out)
        elif kind == "unsubscribe":
            _, token, filters = packet
            self.model.unsubscribe(cid, filters)
            conn.to_client(("unsuback", token))
        elif kind == "disconnect":
            conn.close(graceful=True)

    def _refused(self, conn: _Conn, cid: str, clean: bool) -> bool:
        """Refuse a CONNECT the policy does not admit: the connection closes, nobody's session is touched."""
        if self.policy is None:
            return False
        verdict = self.policy.admit(conn.client.account, cid, clean_session=clean)
        if verdict == "ok":
            return False
        self.refused[verdict] = self.refused.get(verdict, 0) + 1
        self.rt.trace("client.refused", client=cid, account=conn.client.account, reason=verdict)
        conn.close(graceful=True)
        return True

    def _route(self, deliveries: list[tuple[str, Message]]) -> None:
        for cid, msg in deliveries:
            conn = self._conns.get(cid)
            if conn is not None:
                conn.to_client(("publish", msg))

    def _closed(self, conn: _Conn, *, graceful: bool) -> None:
        cid = conn.client.client_id
        if self._conns.get(cid) is conn:
            del self._conns[cid]
            self.rt.trace("client.disconnected", client=cid, graceful=graceful)
            if self.running:
                self._route(self.model.disconnect(cid, graceful=graceful))
            else:
                self.model.disconnect(cid, graceful=True)

    def stop(self) -> None:
        """The broker process stops: every connection drops; persistent sessions are kept."""
        self.running = False
        self.rt.trace("broker.stopped")
        for conn in list(self._conns.values()):
            conn.broken()

    def start(self) -> None:
        self.running = True
        self.rt.trace("broker.started")

    def forget(self) -> None:
        """A restart without persistence: every session, retained and queued message is gone."""
        old = self.model
        self.model = BrokerModel(max_queued=old.max_queued, policy=self.policy)
        queued = sum(len(s.queued) + len(s.inflight) for s in old.sessions.values())
        self.rt.trace("broker.forgot", sessions=len(old.sessions), retained=len(old.retained), queued=queued)


class SimMqttClient:
    """The MQTT client port on a simulated link to a BrokerHost."""

    def __init__(self, rt, host: BrokerHost, link: Link, client_id: str, *, clean_session: bool = True,
                 will: Message | None = None, ack_timeout: float = 10.0, manual_ack: bool = False,
                 account: str | None = None):
        self.rt = rt
        self.account = account or client_id  # the user name it logs in with
        self.host, self.link = host, link
        self.client_id = client_id
        self.clean_session = clean_session
        self.will = will
        self.ack_timeout = ack_timeout
        self._conn: _Conn | None = None
        self._inbox = Inbox(rt.queue())
        self._waiting: dict[Any, Any] = {}  # token -> rt.event(); the reply lands in _replies
        self._replies: dict[Any, Any] = {}
        self._next_id = 0
        self.manual_ack = manual_ack
        self._unacked = PendingAcks()

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.alive

    def ack(self, msg: Message) -> None:
        """With ``manual_ack``: send the PUBACK of a QoS 1 message once it is safely handled."""
        if self._unacked.release(msg) and self.connected:
            self._conn.to_host(("puback", msg.packet_id))

    async def connect(self) -> bool:
        """Open a connection; returns whether the broker still had our session."""
        if self.connected:
            return True
        if not self.link.up or not self.host.running:
            raise ConnectionLost(f"{self.client_id}: broker unreachable over {self.link.name}")
        self._inbox = Inbox(self.rt.queue())
        self._unacked.clear()
        self._conn = _Conn(self.host, self, self.link)
        return await self._request("connack", ("connect", self.clean_session, self.will))

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """Send a message; QoS 1 returns once acknowledged (raises ConnectionLost if the link broke first)."""
        if isinstance(payload, str):
            payload = payload.encode("utf-8")
        if qos == 0:
            if self.connected:
                self._conn.to_host(("publish", Message(topic, payload, 0, retain)))
            return
        await self._request(("puback", self._packet_id()),
                            lambda pid: ("publish", Message(topic, payload, 1, retain, packet_id=pid)))

    async def subscribe(self, topic_filter: str, qos: int = 1) -> int:
        """Subscribe; returns the QoS the broker granted, or 0x80 if it refused the filter."""
        token = ("suback", self._packet_id())
        granted = await self._request(token, ("subscribe", token[1], [(topic_filter, qos)]))
        return granted[0]

    async def unsubscribe(self, topic_filter: str) -> None:
        """Remove a subscription; returns once the broker's UNSUBACK came back."""
        token = ("unsuback", self._packet_id())
        await self._request(token, ("unsubscribe", token[1], [topic_filter]))

    async def next_message(self) -> Message:
        """The next message the broker delivered; raises ConnectionLost when the connection drops."""
        return await self._inbox.next()

    def received(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages that have already arrived, without waiting (a burst to store together)."""
        return self._inbox.received(limit)

    def power_cut(self) -> None:
        """The board lost power: the connection ends without a DISCONNECT, and what the client held is gone.

        The broker learns of it at once and publishes the will, as a broker that enforces the
        keep-alive would 1.5 keep-alives later (this model has no keep-alive timer).
        """
        if self.connected:
            self._conn.broken()
        self._conn = None
        self._unacked.clear()

    async def disconnect(self) -> None:
        if self.connected:
            conn = self._conn
            conn.to_host(("disconnect",))
            conn.close(graceful=True)

    def _packet_id(self) -> int:
        self._next_id = self._next_id % 65535 + 1
        return self._next_id

    async def _request(self, token: Any, packet: Any) -> Any:
        if not self.connected:
            raise ConnectionLost(f"{self.client_id}: not connected")
        conn = self._conn
        done = self._waiting[token] = self.rt.event()
        if callable(packet):
            packet = packet(token[1])
        conn.to_host(packet)
        try:
            await self.rt.wait_for(done.wait(), self.ack_timeout)
        except TimeoutError:
            conn.broken()  # no answer within the keep-alive: treat the connection as dead
        finally:
            self._waiting.pop(token, None)
        if token not in self._replies:
            raise ConnectionLost(f"{self.client_id}: connection lost waiting for {token}")
        return self._replies.pop(token)

    def _answer(self, token: Any, value: Any) -> None:
        waiter = self._waiting.get(token)
        if waiter is not None:
            self._replies[token] = value
            waiter.set()

    def _receive(self, packet: tuple) -> None:
        kind = packet[0]
        if kind == "connack":
            self._answer("connack", packet[1])
        elif kind == "puback":
            self._answer(("puback", packet[1]), True)
        elif kind == "suback":
            self._answer(("suback", packet[1]), packet[2])
        elif kind == "unsuback":
            self._answer(("unsuback", packet[1]), True)
        elif kind == "publish":
            msg = packet[1]
            if msg.qos == 1 and self.manual_ack:
                self._unacked.hold(msg)
            elif msg.qos == 1:
                self._conn.to_host(("puback", msg.packet_id))
            self._inbox.put(msg)

    def _lost(self, conn: _Conn) -> None:
        if conn is not self._conn:
            return
        self._unacked.clear()
        for waiter in self._waiting.values():
            waiter.set()
        self._inbox.put(ConnectionLost(f"{self.client_id}: connection lost"))
