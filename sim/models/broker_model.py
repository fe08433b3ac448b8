"""A model of an MQTT 3.1.1 broker: the semantics the system relies on, nothing else.

Sans-I/O, like h11: every method takes what a client sent and returns the
deliveries it causes as ``(client_id, Message)`` pairs; the transport in
``sim/models/sim_mqtt.py`` carries them over simulated links. The rules, with their
MQTT 3.1.1 section numbers:

- Topic names and filters (4.7): ``+`` matches one level, ``#`` the rest
  (including the parent level); topics starting with ``$`` are not matched by a
  filter starting with a wildcard. A filter with a misplaced wildcard is refused
  with the SUBACK failure code 0x80; a PUBLISH to a topic with a wildcard (or an
  empty topic) is a protocol violation and ends the connection (ungracefully:
  its will is published).
- QoS (4.3): a message is delivered at the minimum of its QoS and the QoS the
  subscription granted (at most 1: QoS 2 is granted as 1); one copy per session,
  at the maximum QoS of all matching subscriptions (3.3.5).
- QoS 1 delivery (4.4): a message stays in flight until the client's PUBACK. On
  reconnect of a persistent session every unacknowledged message is sent again,
  in its original order, with DUP set, before anything new.
- Retained messages (3.3.1.3): the last retained message of a topic goes to
  every new subscription with the retain flag set; an empty retained payload
  clears it (and is still routed). Routed copies never carry the retain flag.
- Sessions (3.1.2.4): ``clean_session=True`` starts a fresh session and drops it
  on disconnect; ``clean_session=False`` resumes the stored session
  (``session present``), whose subscriptions stay and which queues QoS 1
  messages while its client is away (QoS 0 ones are not queued).
- Will (3.1.2.5): published when the connection ends without DISCONNECT
  (link loss, keep-alive timeout, protocol violation, takeover).
- Takeover (3.1.4): a CONNECT with the client id of a connected client ends the
  old connection first.
- Policy (with ``policy``, the live broker's: ``sim.models.broker_policy``): a subscription no read
  rule covers is refused (0x80), a message goes only to clients that may read it. Who may connect
  and publish is the host's to ask (``sim.models.sim_mqtt.BrokerHost``), before the model sees it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from sim.models.subscriptions import SubscriptionIndex
from system.decisions.mqtt_acl import valid_filter
from system.mqtt.message import Message

SUBACK_FAILURE = 0x80


class ProtocolViolation(ValueError):
    """A client sent something MQTT forbids; the broker closes its connection."""


@dataclass
class _Session:
    client_id: str
    clean: bool
    connected: bool = False
    will: Message | None = None
    subscriptions: dict[str, int] = field(default_factory=dict)
    inflight: dict[int, Message] = field(default_factory=dict)  # insertion order = send order
    queued: deque = field(default_factory=deque)
    next_id: int = 1

    def packet_id(self) -> int:
        pid = self.next_id
        while pid in self.inflight:
            pid = pid % 65535 + 1
        self.next_id = pid % 65535 + 1
        return pid


def valid_topic(topic: str) -> bool:
    """A topic name a client may publish to: non-empty, no wildcards, no NUL (4.7.3)."""
    return bool(topic) and not any(c in topic for c in "+#\x00")


def topic_matches(topic_filter: str, topic: str) -> bool:
    """MQTT 3.1.1 topic matching, including the ``$``-topic rule."""
    if topic.startswith("$") and topic_filter[:1] in ("+", "#"):
        return False
    f_parts, t_parts = topic_filter.split("/"), topic.split("/")
    for i, f in enumerate(f_parts):
        if f == "#":
            return True
        if i >= len(t_parts):
            return False
        if f != "+" and f != t_parts[i]:
            return False
    return len(f_parts) == len(t_parts)


Delivery = tuple[str, Message]


class BrokerModel:
    """The broker's state: sessions, subscriptions, retained messages.

    ``max_queued`` bounds the QoS 1 messages kept for an offline session (None:
    unbounded); when it is full the oldest is dropped and counted in ``dropped``,
    never silently.
    """

    def __init__(self, *, max_queued: int | None = None, policy: Any = None) -> None:
        self.policy = policy  # with one (``sim.models.broker_policy``): who may subscribe to and read what
        self.sessions: dict[str, _Session] = {}
        self.retained: dict[str, Message] = {}
        self.max_queued = max_queued
        self.dropped: dict[str, int] = {}
        # Routing looks subscribers up in the index, then sends in session order (the order of
        # ``sessions``, as a scan over it would), so deliveries keep their order whatever the fleet size.
        self._index = SubscriptionIndex()
        self._rank: dict[str, int] = {}
        self._next_rank = 0

    def connect(self, client_id: str, *, clean_session: bool = True,
                will: Message | None = None) -> tuple[bool, list[Delivery]]:
        """A client connects; returns (session present, deliveries).

        The deliveries are the old connection's will (on takeover) followed by
        what the resumed session owes the client: unacknowledged messages again
        (DUP), then the messages queued while it was away.
        """
        if will is not None and not valid_topic(will.topic):
            raise ProtocolViolation(f"will topic {will.topic!r} is not a valid topic name")
        out: list[Delivery] = []
        old = self.sessions.get(client_id)
        if old is not None and old.connected:  # takeover: the old connection ends without DISCONNECT
            out += self.disconnect(client_id, graceful=False)
            old = self.sessions.get(client_id)
        if clean_session or old is None:
            present = False
            if old is not None:
                self._unindex(old)
            else:
                self._rank[client_id] = self._next_rank
                self._next_rank += 1
            session = self.sessions[client_id] = _Session(client_id, clean_session)
        else:
            present = True
            session = old
        session.clean = clean_session
        session.connected = True
        session.will = will
        for msg in session.inflight.values():
            out.append((client_id, replace(msg, dup=True)))
        while session.queued:
            out.extend(self._send(session, session.queued.popleft()))
        return present, out

    def disconnect(self, client_id: str, *, graceful: bool) -> list[Delivery]:
        """The client's connection ended; an ungraceful end publishes its will."""
        session = self.sessions.get(client_id)
        if session is None or not session.connected:
            return []
        session.connected = False
        will, session.will = session.will, None
        if session.clean:
            self._unindex(session)
            del self.sessions[client_id]
            del self._rank[client_id]
        if will is not None and not graceful:
            return self.publish(client_id, will)
        return []

    def subscribe(self, client_id: str, filters: list[tuple[str, int]]) -> tuple[list[int], list[Delivery]]:
        """Add or replace subscriptions; returns (granted QoS or 0x80 per filter, retained deliveries)."""
        session = self._connected(client_id)
        granted, out = [], []
        for topic_filter, qos in filters:
            if not valid_filter(topic_filter) or qos not in (0, 1, 2) or (
                    self.policy is not None and not self.policy.may_subscribe(client_id, topic_filter)):
                granted.append(SUBACK_FAILURE)
                continue
            qos = min(qos, 1)
            session.subscriptions[topic_filter] = qos
            self._index.add(topic_filter, client_id, qos)
            granted.append(qos)
            for topic in sorted(self.retained):
                if topic_matches(topic_filter, topic):
                    msg = self.retained[topic]
                    out.extend(self._send(session, replace(msg, qos=min(msg.qos, qos), retain=True)))
        return granted, out

    def unsubscribe(self, client_id: str, filters: list[str]) -> None:
        """Remove subscriptions (unknown filters are ignored, as 3.10.4 asks)."""
        session = self._connected(client_id)
        for topic_filter in filters:
            if session.subscriptions.pop(topic_filter, None) is not None:
                self._index.remove(topic_filter, client_id)

    def publish(self, client_id: str, msg: Message) -> list[Delivery]:
        """Route a message a client published (the transport acknowledges it to the sender).

        Raises ProtocolViolation for a topic a client may not publish to.
        """
        if not valid_topic(msg.topic):
            raise ProtocolViolation(f"{client_id} published to {msg.topic!r}, not a valid topic name")
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = replace(msg, dup=False, packet_id=None)
            else:
                self.retained.pop(msg.topic, None)
        out: list[Delivery] = []
        matched = self._index.match(msg.topic)
        rank = self._rank
        for client_id in sorted(matched, key=rank.__getitem__) if len(matched) > 1 else matched:
            if self.policy is not None and not self.policy.may_read(client_id, msg.topic):
                continue  # Mosquitto's way: checked message by message, at delivery
            session = self.sessions[client_id]
            qos = matched[client_id]
            copy = Message(msg.topic, msg.payload, min(qos, msg.qos))
            if session.connected:
                out.extend(self._send(session, copy))
            elif copy.qos > 0:
                self._queue(session, copy)
        return out

    def puback(self, client_id: str, packet_id: int) -> None:
        """The client acknowledged a QoS 1 message; it is no longer owed."""
        session = self.sessions.get(client_id)
        if session is not None:
            session.inflight.pop(packet_id, None)

    def owed(self, client_id: str) -> list[Message]:
        """QoS 1 messages the session still owes its client (in flight, then queued), in order."""
        session = self.sessions.get(client_id)
        if session is None:
            return []
        return list(session.inflight.values()) + list(session.queued)

    def _unindex(self, session: _Session) -> None:
        for topic_filter in session.subscriptions:
            self._index.remove(topic_filter, session.client_id)

    def _connected(self, client_id: str) -> _Session:
        session = self.sessions.get(client_id)
        if session is None or not session.connected:
            raise ProtocolViolation(f"{client_id} is not connected")
        return session

    def _queue(self, session: _Session, msg: Message) -> None:
        if self.max_queued is not None and len(session.queued) >= self.max_queued:
            session.queued.popleft()
            self.dropped[session.client_id] = self.dropped.get(session.client_id, 0) + 1
        session.queued.append(msg)

    def _send(self, session: _Session, msg: Message) -> list[Delivery]:
        # Message(...) rather than dataclasses.replace: this runs for every delivery
        if msg.qos == 0:
            return [(session.client_id, Message(msg.topic, msg.payload, 0, msg.retain))]
        msg = Message(msg.topic, msg.payload, msg.qos, msg.retain, False, session.packet_id())
        session.inflight[msg.packet_id] = msg
        return [(session.client_id, msg)]
