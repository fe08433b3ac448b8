"""The live MQTT port's two edges with paho: topics that are not UTF-8, and a DISCONNECT that cannot be written.

The port end to end (Mosquitto, bridge, kill and restart) is in test_live_bridge.py.
"""

from __future__ import annotations

import asyncio

import paho.mqtt.client as paho
import pytest

from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker, hash_password
from system.adapters.mqtt_client import LiveMqttClient, topic_text


def test_a_utf8_topic_is_read_as_paho_reads_it():
    assert topic_text(paho.MQTTMessage(topic="sensors/nöde-1/reading".encode())) == "sensors/nöde-1/reading"


def test_a_topic_that_is_not_utf8_is_escaped_instead_of_raising():
    """paho's own ``topic`` raises here; the bridge must get text it can refuse as a bad topic."""
    message = paho.MQTTMessage(topic=b"sensors/\xff\xfe/reading")
    with pytest.raises(UnicodeDecodeError):
        message.topic
    assert topic_text(message) == "sensors/\\xff\\xfe/reading"


@pytest.mark.live
def test_a_disconnect_whose_packet_cannot_be_written_still_closes_and_the_client_connects_again():
    """The socket is closed through paho (its state follows), so the same client reconnects and works."""
    users = {"dev": hash_password("pw", time_cost=1, memory_cost=8)}

    async def main() -> tuple[bool, bool, int]:
        async with EmbeddedBroker(BrokerSettings(port=0, users=users)) as broker:
            client = LiveMqttClient(f"mqtt://dev:pw@127.0.0.1:{broker.port}", "stuck", ack_timeout=5.0)
            await client.connect()
            client._writable = lambda: None  # the socket never gets written: the DISCONNECT stays queued
            await asyncio.wait_for(client.disconnect(), 5.0)
            closed = not client.connected and client._client.socket() is None
            del client._writable
            await client.connect()
            granted = await client.subscribe("t", 1)
            await client.publish("t", b"again", 1)
            message = await asyncio.wait_for(client.next_message(), 5.0)
            await client.disconnect()
            return closed, message.payload == b"again", granted

    assert asyncio.run(main()) == (True, True, 1)
