"""What the MQTT ports (sim/models/sim_mqtt.py, system/adapters/mqtt_client.py) hand to the system code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """An application message as one PUBLISH carries it (``packet_id`` set for QoS 1)."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None


class PendingAcks:
    """QoS 1 messages delivered on the current connection and not acknowledged yet (``manual_ack``).

    Cleared whenever a connection starts or ends: an ack for a message of an earlier
    connection is dropped, because the broker redelivers that message and its packet
    id may by then stand for another one.
    """

    def __init__(self) -> None:
        self._by_id: dict[int, Message] = {}

    def hold(self, msg: Message) -> None:
        self._by_id[msg.packet_id] = msg

    def release(self, msg: Message) -> bool:
        """True when ``msg`` is owed a PUBACK on this connection (and no longer afterwards)."""
        if msg.qos == 1 and self._by_id.get(msg.packet_id) is msg:
            del self._by_id[msg.packet_id]
            return True
        return False

    def clear(self) -> None:
        self._by_id.clear()
