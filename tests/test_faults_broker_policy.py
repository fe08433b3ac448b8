"""The sim broker enforces the live broker's rules (the shipped default.acl, client ids bound to accounts).

The expected decisions are a table written from the policy's prose in default.acl and the MQTT security
issue (each account writes only its own topics; the bridge reads readings; the cloud serves the Jobs API),
not computed by the ACL code under test.
"""

from __future__ import annotations

import pytest

from sim.kernel.runtime import SimRuntime
from sim.models.broker_policy import BrokerPolicy
from sim.models.network import Network
from sim.models.sim_mqtt import BrokerHost, SimMqttClient
from system.errors import ConnectionLost

ADMISSIONS = [  # account, client id, clean session -> verdict
    ("node-1", "node-1", False, "ok"),
    ("node-1", "node-1-probe", True, "ok"),
    ("node-1", "node-10", True, "not_yours"),
    ("mallory", "bridge", False, "not_yours"),
    ("cloud", "cloud-jobs", False, "ok"),
    ("bridge", "", False, "empty_persistent"),
]
PUBLISH = [  # account (= client id), topic -> may publish
    ("node-1", "sensors/node-1/reading", True),
    ("node-1", "sensors/node-1/status", True),
    ("node-1", "sensors/node-2/reading", False),
    ("node-1", "/topic/qos1", False),
    ("mallory", "sensors/mallory/reading", True),
    ("mallory", "$aws/things/controller/jobs/notify-next", False),
    ("controller", "$aws/things/controller/jobs/start-next", True),
    ("bridge", "sensors/node-1/reading", False),
]
SUBSCRIBE = [  # account, filter -> granted
    ("bridge", "sensors/+/reading", True),
    ("bridge", "#", False),
    ("mallory", "sensors/+/reading", False),
    ("controller", "$aws/things/controller/jobs/notify-next", True),
    ("controller", "$aws/things/node-1/jobs/notify-next", False),
]


@pytest.mark.parametrize("account, client_id, clean, verdict", ADMISSIONS)
def test_client_ids_belong_to_accounts(account, client_id, clean, verdict):
    assert BrokerPolicy.shipped().admit(account, client_id, clean_session=clean) == verdict


@pytest.mark.parametrize("account, topic, allowed", PUBLISH)
def test_each_account_writes_only_its_own_topics(account, topic, allowed):
    policy = BrokerPolicy.shipped()
    policy.admit(account, account, clean_session=True)
    assert policy.may_publish(account, topic) is allowed


@pytest.mark.parametrize("account, topic_filter, granted", SUBSCRIBE)
def test_subscriptions_are_granted_only_where_a_read_rule_covers_them(account, topic_filter, granted):
    policy = BrokerPolicy.shipped()
    policy.admit(account, account, clean_session=True)
    assert policy.may_subscribe(account, topic_filter) is granted


def test_over_simulated_links_a_forged_publish_is_acked_and_dropped_and_a_stolen_id_is_refused():
    """The bridge receives node-1's reading and not mallory's forgery of it; mallory cannot take the bridge's
    client id, and the bridge keeps its connection."""
    rt = SimRuntime(seed=1, start=1_700_000_000.0)
    net = Network(rt)
    host = BrokerHost(rt, policy=BrokerPolicy.shipped())
    bridge = SimMqttClient(rt, host, net.link("bridge", "broker"), "bridge", clean_session=False)
    node = SimMqttClient(rt, host, net.link("node-1", "broker"), "node-1")
    mallory = SimMqttClient(rt, host, net.link("adversary", "broker"), "mallory")
    thief = SimMqttClient(rt, host, net.link("adversary", "broker"), "bridge", account="mallory")
    got, outcome = [], {}

    async def scene():
        await bridge.connect()
        assert await bridge.subscribe("sensors/+/reading", 1) == 1
        assert await mallory.connect() is False
        assert await mallory.subscribe("sensors/+/reading", 1) == 0x80
        await mallory.publish("sensors/node-1/reading", b"forged", qos=1)  # acknowledged, then dropped
        await node.connect()
        await node.publish("sensors/node-1/reading", b"real", qos=1)
        try:
            await thief.connect()
            outcome["thief"] = "connected"
        except ConnectionLost:
            outcome["thief"] = "refused"
        got.append((await bridge.next_message()).payload)
        outcome["bridge connected"] = bridge.connected

    rt.run(scene())
    assert got == [b"real"]
    assert outcome == {"thief": "refused", "bridge connected": True}
    assert host.refused == {"acl": 1, "not_yours": 1}
