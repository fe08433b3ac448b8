"""MQTT over simulated links: the client port and the broker party, in virtual time."""

from __future__ import annotations

import pytest

from sim.models.broker_model import Message
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from sim.models.network import Network
from sim.kernel.runtime import SimRuntime
from system.errors import ConnectionLost
from system.trace import Trace


@pytest.fixture
def world():
    rt = SimRuntime(seed=3, start=1_700_000_000.0, trace=Trace({"test": "sim_mqtt"}))
    net = Network(rt)
    host = BrokerHost(rt)

    def client(name: str, **options) -> SimMqttClient:
        return SimMqttClient(rt, host, net.link(name, "broker", latency=0.01), name, **options)

    return rt, net, host, client


async def _drain(rt, client: SimMqttClient, within: float = 1.0) -> list[Message]:
    got = []
    while True:
        try:
            got.append(await rt.wait_for(client.next_message(), within))
        except TimeoutError:
            return got


def test_link_loss_publishes_the_will_and_fails_the_client(world):
    """A link that goes down ends the connection: the client sees ConnectionLost, others see the will."""
    rt, net, host, client = world
    node = client("node-1", will=Message("sensors/node-1/status", b"offline", 1, retain=True))
    bridge = client("bridge")

    async def main():
        await bridge.connect()
        await bridge.subscribe("sensors/+/status", 1)
        await node.connect()
        await node.publish("sensors/node-1/status", b"online", 1, retain=True)
        assert (await bridge.next_message()).payload == b"online"
        net.get("node-1~broker").set_down()
        assert not node.connected
        with pytest.raises(ConnectionLost):
            await node.publish("sensors/node-1/reading", b"{}", 1)
        msg = await bridge.next_message()
        return msg, host.model.retained["sensors/node-1/status"].payload

    msg, retained = rt.run(main())
    assert (msg.topic, msg.payload, msg.retain) == ("sensors/node-1/status", b"offline", False)
    assert retained == b"offline"


def test_persistent_subscriber_gets_what_was_published_while_its_link_was_down(world):
    rt, net, host, client = world
    bridge = client("bridge", clean_session=False)
    node = client("node-1")

    async def main():
        assert await bridge.connect() is False
        await bridge.subscribe("sensors/+/reading", 1)
        await node.connect()
        net.get("bridge~broker").set_down()
        with pytest.raises(ConnectionLost):
            await bridge.next_message()
        for i in range(3):
            await node.publish("sensors/node-1/reading", str(i).encode(), 1)
        await node.publish("sensors/node-1/reading", b"qos0", 0)
        net.get("bridge~broker").set_up()
        present = await bridge.connect()
        return present, [m.payload for m in await _drain(rt, bridge)]

    present, payloads = rt.run(main())
    assert present is True
    assert payloads == [b"0", b"1", b"2"]


def test_unacknowledged_message_comes_again_with_dup_after_the_link_breaks(world):
    """A PUBLISH lost with the link (no PUBACK reached the broker) is sent again on reconnect."""
    rt, net, host, client = world
    bridge = client("bridge", clean_session=False)
    node = client("node-1")
    link = net.get("bridge~broker")

    async def main():
        await bridge.connect()
        await bridge.subscribe("r", 1)
        await node.connect()
        await node.publish("r", b"x", 0)  # warm up: QoS 0 delivery needs no ack
        assert (await bridge.next_message()).payload == b"x"
        publish = rt.spawn(node.publish("r", b"y", 1), "publish")
        await rt.sleep(0.015)  # the broker has sent PUBLISH to the bridge; it is on the wire
        link.set_down()
        await publish
        link.set_up()
        await bridge.connect()
        return await _drain(rt, bridge)

    got = rt.run(main())
    assert [(m.payload, m.dup) for m in got] == [(b"y", True)]


def test_unsubscribe_stops_deliveries(world):
    rt, net, host, client = world
    sub, pub = client("sub"), client("pub")

    async def main():
        await sub.connect()
        await pub.connect()
        await sub.subscribe("a/#", 1)
        await pub.publish("a/b", b"1", 1)
        await sub.unsubscribe("a/#")
        await pub.publish("a/b", b"2", 1)
        return [m.payload for m in await _drain(rt, sub)]

    assert rt.run(main()) == [b"1"]


def test_publish_to_a_wildcard_topic_ends_the_connection_and_sends_the_will(world):
    rt, net, host, client = world
    bad = client("bad", will=Message("w", b"bye"))
    watcher = client("watcher")

    async def main():
        await watcher.connect()
        assert await watcher.subscribe("w", 0) == 0
        assert await watcher.subscribe("w/#/x", 1) == 0x80
        await bad.connect()
        await bad.publish("sensors/+/reading", b"x", 0)
        return await watcher.next_message(), bad.connected

    msg, still_connected = rt.run(main())
    assert msg.payload == b"bye" and not still_connected
    [refused] = rt._trace.of_kind("client.refused")
    assert refused["client"] == "bad" and refused["src"] == "broker"


def test_takeover_drops_the_first_connection(world):
    rt, net, host, client = world
    first = client("node-1")
    second = SimMqttClient(rt, host, net.link("node-1b", "broker"), "node-1")

    async def main():
        await first.connect()
        await second.connect()
        with pytest.raises(ConnectionLost):
            await first.next_message()
        return second.connected

    assert rt.run(main()) is True


def test_broker_restart_keeps_persistent_sessions(world):
    rt, net, host, client = world
    bridge, node = client("bridge", clean_session=False), client("node-1")

    async def main():
        await bridge.connect()
        await bridge.subscribe("r", 1)
        host.stop()
        assert not bridge.connected
        with pytest.raises(ConnectionLost):
            await node.connect()
        host.start()
        await node.connect()
        await node.publish("r", b"after", 1)
        return await bridge.connect(), [m.payload for m in await _drain(rt, bridge)]

    assert rt.run(main()) == (True, [b"after"])


@pytest.mark.parametrize("acked", [True, False])
def test_with_manual_ack_a_message_taken_but_not_acked_comes_again(world, acked):
    """The bridge acks only after storing: a message it received but did not ack before its connection
    ended (a crash mid-handling) is redelivered; one it acked is not."""
    rt, net, host, client = world
    bridge = client("bridge", clean_session=False, manual_ack=True)
    node = client("node-1")
    link = net.get("bridge~broker")

    async def main():
        await bridge.connect()
        await bridge.subscribe("r", 1)
        await node.connect()
        await node.publish("r", b"m1", 1)
        first = await bridge.next_message()
        if acked:
            bridge.ack(first)
        await rt.sleep(1)
        link.set_down()
        link.set_up()
        await bridge.connect()
        again = await _drain(rt, bridge)
        bridge.ack(first)  # an ack from the old connection is dropped: it must not ack the redelivery
        return first, again, host.model.sessions["bridge"]

    first, again, session = rt.run(main())
    assert first.payload == b"m1"
    if acked:
        assert again == [] and not session.inflight
    else:
        assert [(m.payload, m.dup) for m in again] == [(b"m1", True)]
        assert [m.payload for m in session.inflight.values()] == [b"m1"]  # still owed: the stale ack was dropped
