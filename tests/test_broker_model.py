"""The broker model's MQTT 3.1.1 rules, by example and against a simple reference model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import pytest

from sim.models.broker_model import SUBACK_FAILURE, BrokerModel, Message, ProtocolViolation, topic_matches, valid_filter


def test_wildcards_match_levels_and_hide_dollar_topics():
    """``+`` is one level, ``#`` the rest including the parent; ``$`` topics need a literal first level."""
    assert topic_matches("sensors/+/reading", "sensors/node-1/reading")
    assert not topic_matches("sensors/+/reading", "sensors/node-1/x/reading")
    assert topic_matches("sensors/#", "sensors")
    assert topic_matches("sensors/#", "sensors/node-1/status")
    assert topic_matches("+/+", "/topic")  # the legacy topic has an empty first level
    assert not topic_matches("#", "$SYS/broker/uptime")
    assert not topic_matches("+/broker/uptime", "$SYS/broker/uptime")
    assert topic_matches("$SYS/#", "$SYS/broker/uptime")
    assert not valid_filter("sensors/#/x") and not valid_filter("sen+") and valid_filter("+/#")


def test_delivery_qos_is_the_minimum_and_one_copy_per_session():
    """Overlapping subscriptions give one copy at the highest granted QoS, capped by the published QoS."""
    b = BrokerModel()
    b.connect("s")
    b.subscribe("s", [("a/#", 0), ("a/+", 1)])
    b.connect("p")
    assert [(c, m.qos) for c, m in b.publish("p", Message("a/b", b"1", qos=1))] == [("s", 1)]
    assert [(c, m.qos) for c, m in b.publish("p", Message("a/b", b"2", qos=0))] == [("s", 0)]


def test_invalid_filters_are_refused_and_wildcard_publishes_are_violations():
    b = BrokerModel()
    b.connect("c")
    granted, _ = b.subscribe("c", [("a/#/b", 1), ("a/+", 2)])
    assert granted == [SUBACK_FAILURE, 1]  # QoS 2 is granted as 1: the model stops at QoS 1
    with pytest.raises(ProtocolViolation):
        b.publish("c", Message("a/+", b"x"))


def test_retained_message_goes_to_new_subscribers_and_empty_payload_clears_it():
    b = BrokerModel()
    b.connect("p")
    b.publish("p", Message("s/n1/status", b"online", 1, retain=True))
    b.connect("late")
    _, out = b.subscribe("late", [("s/+/status", 1)])
    assert [(m.payload, m.retain, m.qos) for _, m in out] == [(b"online", True, 1)]
    routed = b.publish("p", Message("s/n1/status", b"", 1, retain=True))
    assert [(m.payload, m.retain) for _, m in routed] == [(b"", False)]  # routed copies carry no retain flag
    b.connect("later")
    assert b.subscribe("later", [("s/#", 1)])[1] == []


def test_will_is_published_on_abrupt_end_only():
    b = BrokerModel()
    b.connect("bridge")
    b.subscribe("bridge", [("s/+/status", 1)])
    will = Message("s/n1/status", b"offline", 1, retain=True)
    b.connect("n1", will=will)
    assert b.disconnect("n1", graceful=True) == []
    b.connect("n1", will=will)
    out = b.disconnect("n1", graceful=False)
    assert [(c, m.payload) for c, m in out] == [("bridge", b"offline")]
    assert b.retained["s/n1/status"].payload == b"offline"


def test_persistent_session_queues_qos1_and_redelivers_unacked_with_dup():
    """Unacknowledged messages come again with DUP, then the ones queued while away, in order."""
    b = BrokerModel()
    present, _ = b.connect("bridge", clean_session=False)
    assert not present
    b.subscribe("bridge", [("r/#", 1)])
    b.connect("n")
    [(_, first)] = b.publish("n", Message("r/1", b"1", 1))
    [(_, second)] = b.publish("n", Message("r/1", b"2", 1))
    b.puback("bridge", second.packet_id)
    b.disconnect("bridge", graceful=False)
    assert b.publish("n", Message("r/1", b"3", 1)) == []
    assert b.publish("n", Message("r/1", b"q0", 0)) == []  # QoS 0 is not queued
    present, out = b.connect("bridge", clean_session=False)
    assert present
    assert [(m.payload, m.dup) for _, m in out] == [(b"1", True), (b"3", False)]
    assert out[0][1].packet_id == first.packet_id


def test_clean_session_forgets_everything():
    b = BrokerModel()
    b.connect("c", clean_session=False)
    b.subscribe("c", [("x", 1)])
    b.disconnect("c", graceful=True)
    b.connect("p")
    b.publish("p", Message("x", b"1", 1))
    present, out = b.connect("c", clean_session=True)
    assert not present and out == []
    b.disconnect("c", graceful=True)
    assert "c" not in b.sessions
    assert b.publish("p", Message("x", b"2", 1)) == []


def test_takeover_ends_the_old_connection_with_its_will_and_keeps_the_session():
    b = BrokerModel()
    b.connect("w")
    b.subscribe("w", [("status", 0)])
    b.connect("n", clean_session=False, will=Message("status", b"gone"))
    b.subscribe("n", [("cmd", 1)])
    present, out = b.connect("n", clean_session=False)
    assert present and [(c, m.payload) for c, m in out] == [("w", b"gone")]
    assert b.sessions["n"].subscriptions == {"cmd": 1}


def test_bounded_queue_drops_oldest_and_counts():
    b = BrokerModel(max_queued=2)
    b.connect("c", clean_session=False)
    b.subscribe("c", [("x", 1)])
    b.disconnect("c", graceful=True)
    b.connect("p")
    for i in range(3):
        b.publish("p", Message("x", str(i).encode(), 1))
    assert b.dropped == {"c": 1}
    assert [m.payload for _, m in b.connect("c", clean_session=False)[1]] == [b"1", b"2"]


# --- stateful test against a reference model ----------------------------------------------------------
#
# The reference keeps, per client, the QoS 1 messages it is owed (delivered or not, not yet acknowledged)
# and nothing about packet ids. The checks: every delivery the model makes is explained by the reference
# (nothing invented, right QoS and flags), and on every reconnect of a persistent session exactly the
# owed messages come, in order, before anything new.

CLIENTS = ("a", "b", "c")
TOPICS = ("s/1/r", "s/2/r", "s/1/status", "t")
FILTERS = ("s/+/r", "s/#", "#", "s/1/status", "t", "+/+/+")


class BrokerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.broker = BrokerModel()
        self.connected: dict[str, bool] = {}  # session exists -> connected?
        self.clean: dict[str, bool] = {}
        self.subs: dict[str, dict[str, int]] = {}
        self.owed: dict[str, list[tuple[str, bytes]]] = {}  # unacked QoS 1, in send order
        self.unacked: dict[str, list[Message]] = {}  # deliveries the client holds without PUBACK
        self.wills: dict[str, Message | None] = {}
        self.retained: dict[str, bytes] = {}
        self.counter = 0

    def _expect(self, deliveries, expected: dict[str, list[tuple[str, bytes, int]]]) -> None:
        got: dict[str, list[tuple[str, bytes, int]]] = {}
        for cid, msg in deliveries:
            assert self.connected.get(cid), f"delivery to {cid}, which is not connected"
            got.setdefault(cid, []).append((msg.topic, msg.payload, msg.qos))
            if msg.qos == 1:
                assert msg.packet_id is not None
                self.unacked[cid].append(msg)
        assert got == {c: v for c, v in expected.items() if v}

    def _route(self, topic: str, payload: bytes, qos: int) -> dict[str, list]:
        expected: dict[str, list] = {}
        for cid, subs in self.subs.items():
            q = max((g for f, g in subs.items() if topic_matches(f, topic)), default=None)
            if q is None:
                continue
            q = min(q, qos)
            if q == 1:
                self.owed[cid].append((topic, payload))
            if self.connected[cid]:
                expected.setdefault(cid, []).append((topic, payload, q))
        return expected

    @rule(cid=st.sampled_from(CLIENTS), clean=st.booleans(), will=st.booleans(), qos=st.integers(0, 1))
    def connect(self, cid, clean, will, qos):
        expected: dict[str, list] = {}
        if self.connected.get(cid):
            expected = self._abrupt(cid)
        w = Message("s/1/status", f"will-{cid}".encode(), qos, retain=True) if will else None
        had = cid in self.connected
        present, out = self.broker.connect(cid, clean_session=clean, will=w)
        assert present == (had and not clean)
        if not present:
            self.subs[cid], self.owed[cid] = {}, []
        self.connected[cid], self.clean[cid], self.wills[cid] = True, clean, w
        self.unacked[cid] = []
        owed = [(t, p, 1) for t, p in self.owed[cid]]
        expected[cid] = expected.get(cid, []) + owed
        self._expect(out, expected)

    def _abrupt(self, cid) -> dict[str, list]:
        self.connected[cid] = False
        will = self.wills.pop(cid, None)
        if self.clean[cid]:
            for d in (self.connected, self.subs, self.owed):
                d.pop(cid)
        if will is None:
            return {}
        if will.payload:
            self.retained[will.topic] = will.payload
        return self._route(will.topic, will.payload, will.qos)

    @precondition(lambda self: any(self.connected.values()))
    @rule(data=st.data(), graceful=st.booleans())
    def disconnect(self, data, graceful):
        cid = data.draw(st.sampled_from(sorted(c for c, up in self.connected.items() if up)))
        out = self.broker.disconnect(cid, graceful=graceful)
        if graceful:
            self.wills[cid] = None
        self._expect(out, self._abrupt(cid))

    @precondition(lambda self: any(self.connected.values()))
    @rule(data=st.data(), topic_filter=st.sampled_from(FILTERS), qos=st.integers(0, 1))
    def subscribe(self, data, topic_filter, qos):
        cid = data.draw(st.sampled_from(sorted(c for c, up in self.connected.items() if up)))
        granted, out = self.broker.subscribe(cid, [(topic_filter, qos)])
        assert granted == [qos]
        self.subs[cid][topic_filter] = qos
        expected = []
        for topic in sorted(self.retained):
            if topic_matches(topic_filter, topic):
                expected.append((topic, self.retained[topic], min(qos, self.retained_qos[topic])))
                if expected[-1][2] == 1:
                    self.owed[cid].append((topic, self.retained[topic]))
        assert all(m.retain for _, m in out)
        self._expect(out, {cid: expected})

    @property
    def retained_qos(self) -> dict[str, int]:
        return {t: m.qos for t, m in self.broker.retained.items()}

    @precondition(lambda self: any(self.connected.values()))
    @rule(data=st.data(), topic=st.sampled_from(TOPICS), qos=st.integers(0, 1), retain=st.booleans(),
          empty=st.booleans())
    def publish(self, data, topic, qos, retain, empty):
        cid = data.draw(st.sampled_from(sorted(c for c, up in self.connected.items() if up)))
        self.counter += 1
        payload = b"" if (retain and empty) else str(self.counter).encode()
        out = self.broker.publish(cid, Message(topic, payload, qos, retain))
        if retain:
            if payload:
                self.retained[topic] = payload
            else:
                self.retained.pop(topic, None)
        assert not any(m.retain for _, m in out)
        self._expect(out, self._route(topic, payload, qos))

    @precondition(lambda self: any(self.unacked.get(c) for c, up in self.connected.items() if up))
    @rule(data=st.data())
    def ack(self, data):
        cid = data.draw(st.sampled_from(sorted(c for c, up in self.connected.items() if up and self.unacked[c])))
        # While a client is connected, everything it is owed has been delivered: the lists run in parallel.
        assert len(self.unacked[cid]) == len(self.owed[cid])
        i = data.draw(st.integers(0, len(self.unacked[cid]) - 1))
        msg = self.unacked[cid].pop(i)
        assert self.owed[cid].pop(i) == (msg.topic, msg.payload)
        self.broker.puback(cid, msg.packet_id)

    @invariant()
    def owed_matches(self):
        for cid in self.owed:
            assert [(m.topic, m.payload) for m in self.broker.owed(cid)] == self.owed[cid]
        assert {t: m.payload for t, m in self.broker.retained.items()} == self.retained


TestBrokerMachine = BrokerMachine.TestCase
TestBrokerMachine.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)


@given(st.lists(st.sampled_from(["a", "b", "+", "#", "$x", ""]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["a", "b", "c", "$x", ""]), min_size=1, max_size=4))
def test_matching_agrees_with_a_regex_reading_of_the_rules(filter_levels, topic_levels):
    """An independent formulation: translate the filter to a regular expression."""
    import re

    topic_filter, topic = "/".join(filter_levels), "/".join(topic_levels)
    if not valid_filter(topic_filter):
        return
    pattern = "/".join("[^/]*" if lv == "+" else ".*" if lv == "#" else re.escape(lv) for lv in filter_levels)
    if topic_filter.endswith("/#"):
        pattern = pattern[: -len("/.*")] + "(/.*)?"
    expected = re.fullmatch(pattern, topic) is not None
    if topic.startswith("$") and topic_filter[0] in "+#":
        expected = False
    assert topic_matches(topic_filter, topic) == expected
