"""The embedded broker's amqtt repair is scoped: installed while one of our brokers runs, gone otherwise.

That the repaired broker really sends an unacknowledged QoS 1 message again after the
connection drops is shown against MQTT and the model in test_broker_differential.py
(``test_hilsim_broker_sends_an_unacknowledged_message_again_after_the_connection_drops``).
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

ORIGINAL = ProtocolHandler._handle_qos1_message_flow


def unpatched() -> bool:
    """amqtt's QoS 1 flow is the one amqtt ships, for its broker side too."""
    return ("_handle_qos1_message_flow" not in vars(BrokerProtocolHandler)
            and BrokerProtocolHandler._handle_qos1_message_flow is ORIGINAL)


def test_importing_the_module_changes_nothing_in_amqtt():
    """In a fresh interpreter: after the import, a plain amqtt Broker starts with amqtt's own QoS 1 flow."""
    code = """
import asyncio
from amqtt.broker import Broker
from amqtt.mqtt.protocol.broker_handler import BrokerProtocolHandler
from amqtt.mqtt.protocol.handler import ProtocolHandler
import system.adapters.amqtt_broker  # noqa: F401

async def main():
    broker = Broker({"listeners": {"default": {"type": "external"}}})
    await broker.start()
    same = BrokerProtocolHandler._handle_qos1_message_flow is ProtocolHandler._handle_qos1_message_flow
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
