"""The MQTT port: what the services (bridge, job agent) need from an MQTT client, as a ``typing.Protocol``.

Two classes fit it, neither inheriting from it: ``sim.models.sim_mqtt.SimMqttClient`` (over the
simulated broker) and ``system.adapters.mqtt_client.LiveMqttClient`` (over paho-mqtt). Both hand over
a :class:`~system.mqtt.message.Message` and keep the burst rule of :class:`~system.mqtt.inbox.Inbox`.
"""

from __future__ import annotations

from typing import Protocol

from system.mqtt.message import Message


class MqttPort(Protocol):
    """An MQTT 3.1.1 client session. ``connect`` returns whether the broker kept a session;
    failures raise :class:`~system.errors.ConnectionLost`."""

    def connected(self) -> bool: ...

    async def connect(self) -> bool: ...

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None: ...

    async def subscribe(self, topic_filter: str, qos: int = 1) -> int: ...

    async def next_message(self) -> Message: ...

    def received(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages that already arrived, without waiting (a burst stored together)."""
        ...

    def ack(self, msg: Message) -> None: ...

    async def disconnect(self) -> None: ...
