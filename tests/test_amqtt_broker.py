"""The embedded broker's amqtt repairs are scoped: installed while one of our brokers runs, gone otherwise.

What the repairs do (keepalive, redelivery, clean sessions, retained messages, QoS) is
shown rule by rule against MQTT 3.1.1 and Mosquitto in test_broker_differential.py.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys

import pytest
from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.protocol.handler import ProtocolHandler

from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker
from system.errors import BackendError

pytestmark = pytest.mark.live  # real brokers on loopback

AMQTT_CLASSES = (Broker, BrokerProtocolHandler, ProtocolHandler)
SHIPPED = {cls: dict(vars(cls)) for cls in AMQTT_CLASSES}  # as imported, before any broker of ours ran
REPAIRED = {  # what the repairs wrap (amqtt 0.12.1), by name
    (BrokerProtocolHandler, "handle_read_timeout"), (BrokerProtocolHandler, "init_from_connect"),
    (BrokerProtocolHandler, "_handle_qos1_message_flow"), (BrokerProtocolHandler, "_handle_qos2_message_flow"),
    (Broker, "_initialize_client_session"), (Broker, "_handle_disconnect"), (Broker, "_delete_session"),
    (Broker, "add_subscription"), (Broker, "_handle_message_delivery"), (Broker, "_broadcast_message"),
    (Broker, "_publish_session_retained_messages"), (Broker, "_publish_retained_messages_for_subscription"),
    (Broker, "_client_message_loop"),
}


def changed() -> set[tuple[type, str]]:
    """The amqtt class attributes that differ from amqtt as shipped (added, removed or replaced)."""
    return {(cls, name) for cls in AMQTT_CLASSES for name in set(vars(cls)) | set(SHIPPED[cls])
            if vars(cls).get(name) is not SHIPPED[cls].get(name)}


def unpatched() -> bool:
    return changed() == set()


def test_importing_the_module_changes_nothing_in_amqtt():
    """In a fresh interpreter: after the import, a plain amqtt Broker starts with amqtt's classes as shipped."""
    code = """
import asyncio
from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.protocol.handler import ProtocolHandler
classes = (Broker, BrokerProtocolHandler, ProtocolHandler)
shipped = [dict(vars(cls)) for cls in classes]
import system.adapters.amqtt_broker  # noqa: F401

async def main():
    broker = Broker({"listeners": {"default": {"type": "external"}}})
    await broker.start()
    same = all(dict(vars(cls)) == before for cls, before in zip(classes, shipped))
    await broker.shutdown()
    print("original" if same else "patched")

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "original"


def test_the_repair_lives_exactly_as_long_as_our_brokers_run():
    """Installed by the first EmbeddedBroker to start, kept while any runs, removed when the last stops;
    a plain amqtt Broker started afterwards in the same process is unpatched."""
    async def main() -> list[bool]:
        seen = [unpatched()]
        first, second = (EmbeddedBroker(BrokerSettings(port=0, users={})) for _ in range(2))
        await first.start()
        await second.start()
        assert changed() == REPAIRED
        seen.append(unpatched())
        await first.stop()
        seen.append(unpatched())  # the second still needs it
        await second.stop()
        seen.append(unpatched())
        await second.stop()  # stopping twice must not remove it twice
        plain = Broker({"listeners": {"default": {"type": "external"}}})
        await plain.start()
        seen.append(unpatched())
        await plain.shutdown()
        return seen

    assert asyncio.run(main()) == [True, False, False, True, True]
    assert unpatched()


def test_a_broker_that_fails_to_start_leaves_amqtt_unpatched():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        async def main() -> None:
            await EmbeddedBroker(BrokerSettings(port=port, users={})).start()

        with pytest.raises(BackendError, match="cannot start the broker"):
            asyncio.run(main())
    assert unpatched()
