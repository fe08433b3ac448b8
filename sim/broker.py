"""A model of an MQTT 3.1.1 broker: the semantics the system relies on, nothing else.

Sans-I/O, like h11: every method takes what a client sent and returns the
deliveries it causes as ``(client_id, Message)`` pairs; the transport in
``sim/mqtt.py`` carries them over simulated links. Covered: topic wildcards
(``+``, ``#``, ``$``-topics hidden from leading wildcards), QoS 0/1 with
redelivery of unacknowledged messages on reconnect, retained messages, last
will on an ungraceful disconnect, persistent sessions that queue QoS 1 messages
while their client is away.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None


@dataclass
class _Session:
    client_id: str
    clean: bool
    connected: bool = False
    will: Message | None = None
    subscriptions: dict[str, int] = field(default_factory=dict)
    inflight: dict[int, Message] = field(default_factory=dict)
    queued: deque = field(default_factory=deque)
    next_id: int = 1

    def packet_id(self) -> int:
        pid = self.next_id
        while pid in self.inflight:
            pid = pid % 65535 + 1
        self.next_id = pid % 65535 + 1
        return pid


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
    """The broker's state: sessions, subscriptions, retained messages."""

    def __init__(self) -> None:
        self.sessions: dict[str, _Session] = {}
        self.retained: dict[str, Message] = {}

    def connect(self, client_id: str, *, clean_session: bool = True,
                will: Message | None = None) -> tuple[bool, list[Delivery]]:
        """A client connects; returns (session present, deliveries owed to it)."""
        out: list[Delivery] = []
        old = self.sessions.get(client_id)
        if old is not None and old.connected:  # takeover: the old connection just vanishes
            out += self.disconnect(client_id, graceful=False)
        if clean_session or old is None or old.clean:
            present = False
            session = self.sessions[client_id] = _Session(client_id, clean_session)
        else:
            present = True
            session = old
        session.connected = True
        session.will = will
        for pid, msg in sorted(session.inflight.items()):
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
            del self.sessions[client_id]
        if will is not None and not graceful:
            return self.publish(client_id, will)
        return []

    def subscribe(self, client_id: str, filters: list[tuple[str, int]]) -> tuple[list[int], list[Delivery]]:
        session = self.sessions[client_id]
        granted, out = [], []
        for topic_filter, qos in filters:
            qos = min(qos, 1)
            session.subscriptions[topic_filter] = qos
            granted.append(qos)
            for topic in sorted(self.retained):
                if topic_matches(topic_filter, topic):
                    msg = self.retained[topic]
                    out.extend(self._send(session, replace(msg, qos=min(msg.qos, qos), retain=True)))
        return granted, out

    def unsubscribe(self, client_id: str, filters: list[str]) -> None:
        session = self.sessions[client_id]
        for topic_filter in filters:
            session.subscriptions.pop(topic_filter, None)

    def publish(self, client_id: str, msg: Message) -> list[Delivery]:
        """Route a message a client published (the transport acknowledges it to the sender)."""
        if msg.retain:
            if msg.payload:
                self.retained[msg.topic] = replace(msg, dup=False, packet_id=None)
            else:
                self.retained.pop(msg.topic, None)
        out: list[Delivery] = []
        for session in list(self.sessions.values()):
            qos = max((q for f, q in session.subscriptions.items() if topic_matches(f, msg.topic)), default=None)
            if qos is None:
                continue
            copy = Message(msg.topic, msg.payload, min(qos, msg.qos))
            if session.connected:
                out.extend(self._send(session, copy))
            elif copy.qos > 0:
                session.queued.append(copy)
        return out

    def puback(self, client_id: str, packet_id: int) -> None:
        session = self.sessions.get(client_id)
        if session is not None:
            session.inflight.pop(packet_id, None)

    def _send(self, session: _Session, msg: Message) -> list[Delivery]:
        if msg.qos == 0:
            return [(session.client_id, msg)]
        msg = replace(msg, packet_id=session.packet_id(), dup=False)
        session.inflight[msg.packet_id] = msg
        return [(session.client_id, msg)]
