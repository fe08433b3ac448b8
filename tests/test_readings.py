"""decode_reading: what the bridge accepts, and that nothing else gets through or crashes it."""

import json
import math
import re
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.kernel.runtime import SimRuntime
from system.services.bridge import Bridge
from system.errors import RefusedInput
from system.adapters.reading_store import ReadingStore
from firmware.reading import LEGACY_TOPIC
from system.decisions.readings import MAX_PAYLOAD, REASONS, TS_RANGE, Reading, decode_reading
from system.trace import Trace

START = 1_773_471_600.0
GOOD = {"node": "node-1", "seq": 42, "ts": 1_700_000_000, "temperature": 21.5, "humidity": 40.2, "wifi_rssi": -61}
LEGACY = {"temperature": 21.5, "humidity": 40.2, "wifi_rssi": -61, "ts": 1_700_000_000}
TOPIC = "sensors/node-1/reading"


def _bytes(doc) -> bytes:
    return json.dumps(doc).encode()


def _reason(topic, payload) -> str:
    with pytest.raises(RefusedInput) as info:
        decode_reading(topic, payload)
    return info.value.reason


# --- examples ------------------------------------------------------------------------


def test_the_contract_payload_is_accepted():
    assert decode_reading(TOPIC, _bytes(GOOD)) == Reading("node-1", 42, 1_700_000_000.0, 21.5, 40.2, -61.0)


def test_the_original_payload_on_the_legacy_topic_belongs_to_the_legacy_node():
    r = decode_reading(LEGACY_TOPIC, _bytes(LEGACY))
    assert (r.node, r.seq, r.temperature) == ("legacy", None, 21.5)
    assert decode_reading(LEGACY_TOPIC, _bytes(LEGACY), legacy_node="esp32-a1b2c3d4").node == "esp32-a1b2c3d4"


def test_a_reading_with_identity_on_the_legacy_topic_keeps_its_identity():
    r = decode_reading(LEGACY_TOPIC, _bytes(GOOD))
    assert (r.node, r.seq) == ("node-1", 42)


def test_a_payload_with_a_boot_is_keyed_by_it_and_one_without_by_boot_0():
    with_boot = decode_reading(TOPIC, _bytes({**GOOD, "boot": 7}))
    assert (with_boot.node, with_boot.boot, with_boot.seq, with_boot.boot_key) == ("node-1", 7, 42, 7)
    without = decode_reading(TOPIC, _bytes(GOOD))
    assert (without.boot, without.boot_key) == (None, 0)
    legacy = decode_reading(LEGACY_TOPIC, _bytes({**GOOD, "boot": 3}))
    assert (legacy.node, legacy.boot, legacy.seq) == ("node-1", 3, 42)


def test_ts_zero_means_clock_not_set_and_is_accepted():
    r = decode_reading(TOPIC, _bytes({**GOOD, "ts": 0}))
    assert r.ts == 0 and not r.clock_set


@pytest.mark.parametrize("topic, payload, reason", [
    (TOPIC, b"x" * (MAX_PAYLOAD + 1), "oversized"),
    (TOPIC, b'{"node": "node-1\xff"}', "not_utf8"),
    (TOPIC, b"\xfe\xff\x00{", "not_utf8"),
    (TOPIC, b'{"node": "node-1", "seq": 1,', "not_json"),
    (TOPIC, _bytes(GOOD).replace(b"21.5", b"NaN"), "not_json"),
    (TOPIC, _bytes(GOOD).replace(b"21.5", b"Infinity"), "not_json"),
    (TOPIC, _bytes(GOOD).replace(b"21.5", b"-Infinity"), "not_json"),
    (TOPIC, b"[" * 1000 + b"]" * 0, "not_json"),
    (TOPIC, b'{"a":' * 150 + b"1" + b"}" * 150, "node_mismatch"),
    (TOPIC, b"[1, 2]", "not_object"),
    (TOPIC, b'"a string"', "not_object"),
    (TOPIC, _bytes(GOOD)[:-1] + b', "seq": 43}', "duplicate_key"),
    ("sensors/node-1/status", _bytes(GOOD), "bad_topic"),
    ("sensors/node-1/reading/extra", _bytes(GOOD), "bad_topic"),
    ("sensors//reading", _bytes(GOOD), "bad_topic"),
    ("sensors/node-2/reading", _bytes(GOOD), "node_mismatch"),
    ("sensors/a b/reading", _bytes({**GOOD, "node": "a b"}), "bad_node"),
    (LEGACY_TOPIC, _bytes({**GOOD, "node": 7}), "bad_node"),
    (TOPIC, _bytes({**GOOD, "seq": 4.0}), "bad_seq"),
    (TOPIC, _bytes({**GOOD, "seq": -1}), "bad_seq"),
    (TOPIC, _bytes({**GOOD, "seq": True}), "bad_seq"),
    (TOPIC, _bytes({**GOOD, "seq": "42"}), "bad_seq"),
    (TOPIC, _bytes({k: v for k, v in GOOD.items() if k != "humidity"}), "missing_field"),
    (LEGACY_TOPIC, _bytes({k: v for k, v in LEGACY.items() if k != "ts"}), "missing_field"),
    (TOPIC, _bytes({**GOOD, "temperature": "21.5"}), "bad_type"),
    (TOPIC, _bytes({**GOOD, "humidity": True}), "bad_type"),
    (TOPIC, _bytes({**GOOD, "wifi_rssi": None}), "bad_type"),
    (TOPIC, _bytes({**GOOD, "temperature": [21.5]}), "bad_type"),
    (TOPIC, _bytes(GOOD).replace(b"21.5", b"1e999"), "out_of_range"),
    (TOPIC, _bytes(GOOD).replace(b"21.5", b"9" * 400), "out_of_range"),
    (TOPIC, _bytes({**GOOD, "temperature": 80.1}), "out_of_range"),
    (TOPIC, _bytes({**GOOD, "humidity": -0.1}), "out_of_range"),
    (TOPIC, _bytes({**GOOD, "wifi_rssi": 3}), "out_of_range"),
    (TOPIC, _bytes({**GOOD, "ts": 12345}), "bad_ts"),
    (TOPIC, _bytes({**GOOD, "ts": -1}), "bad_ts"),
    (TOPIC, _bytes({**GOOD, "ts": 5_000_000_000}), "bad_ts"),
    (TOPIC, _bytes({**GOOD, "boot": 0}), "bad_boot"),  # 0 is the key of "no boot", never a counter's value
    (TOPIC, _bytes({**GOOD, "boot": -1}), "bad_boot"),
    (TOPIC, _bytes({**GOOD, "boot": 2**53}), "bad_boot"),
    (TOPIC, _bytes({**GOOD, "boot": 2.0}), "bad_boot"),
    (TOPIC, _bytes({**GOOD, "boot": True}), "bad_boot"),
    (TOPIC, _bytes({**GOOD, "boot": None}), "bad_boot"),
])
def test_each_kind_of_bad_message_is_refused_with_its_reason(topic, payload, reason):
    assert reason in REASONS
    assert _reason(topic, payload) == reason


# --- every limit, at the limit and just past it ----------------------------------------------

def _padded(size: int) -> bytes:
    """The contract payload grown to exactly ``size`` bytes by a key the decoder ignores."""
    raw = _bytes({**GOOD, "pad": ""})
    return raw.replace(b'"pad": ""', b'"pad": "' + b"x" * (size - len(raw)) + b'"')


def _past(limit: float, direction: float) -> float:
    """The next float after ``limit`` towards ``direction``: JSON carries it exactly (shortest repr)."""
    return math.nextafter(limit, direction)


MAX_NODE = "n" * 64  # [A-Za-z0-9][A-Za-z0-9_.:-]{0,63}
INF = math.inf

# (field, value at the limit: accepted, value just past it: refused with reason)
LIMITS = [
    ("seq", 2**53 - 1, 2**53, "bad_seq"),  # exact in a float, in JSON everywhere
    ("seq", 0, -1, "bad_seq"),
    ("temperature", 80.0, _past(80.0, INF), "out_of_range"),
    ("temperature", -40.0, _past(-40.0, -INF), "out_of_range"),
    ("humidity", 100.0, _past(100.0, INF), "out_of_range"),
    ("humidity", 0.0, _past(0.0, -INF), "out_of_range"),
    ("wifi_rssi", 0, _past(0.0, INF), "out_of_range"),
    ("wifi_rssi", -127, _past(-127.0, -INF), "out_of_range"),
    ("ts", TS_RANGE[0], _past(TS_RANGE[0], -INF), "bad_ts"),  # 2000-01-01 is a date...
    ("ts", _past(TS_RANGE[1], -INF), TS_RANGE[1], "bad_ts"),  # ...2100-01-01 no longer
    ("ts", 0, _past(0.0, INF), "bad_ts"),  # exactly 0 means "clock not set", nothing near it does
]


@pytest.mark.parametrize("field, limit, past, reason", LIMITS, ids=[f"{f}={v}" for f, v, _, _ in LIMITS])
def test_a_value_at_its_limit_is_accepted_and_one_just_past_it_refused(field, limit, past, reason):
    assert getattr(decode_reading(TOPIC, _bytes({**GOOD, field: limit})), field) == limit
    assert _reason(TOPIC, _bytes({**GOOD, field: past})) == reason


def test_a_payload_of_exactly_the_maximum_size_is_accepted_and_one_byte_more_refused():
    assert len(_padded(MAX_PAYLOAD)) == MAX_PAYLOAD
    assert decode_reading(TOPIC, _padded(MAX_PAYLOAD)) == decode_reading(TOPIC, _bytes(GOOD))
    assert _reason(TOPIC, _padded(MAX_PAYLOAD + 1)) == "oversized"


def test_a_node_name_of_the_maximum_length_is_accepted_and_one_character_more_refused():
    assert decode_reading(f"sensors/{MAX_NODE}/reading", _bytes({**GOOD, "node": MAX_NODE})).node == MAX_NODE
    longer = MAX_NODE + "n"
    assert _reason(f"sensors/{longer}/reading", _bytes({**GOOD, "node": longer})) == "bad_node"
    assert _reason(LEGACY_TOPIC, _bytes({**GOOD, "node": longer})) == "bad_node"


# --- properties -----------------------------------------------------------------------

nodes = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}", fullmatch=True)  # every length allowed
tenths = lambda lo, hi: st.integers(lo * 10, hi * 10).map(lambda n: n / 10)  # noqa: E731
timestamps = st.one_of(st.just(0), st.integers(TS_RANGE[0], TS_RANGE[1] - 1))
values = st.fixed_dictionaries({"temperature": tenths(-40, 80), "humidity": tenths(0, 100),
                                "wifi_rssi": st.integers(-127, 0), "ts": timestamps})


@given(nodes, st.integers(0, 2**53 - 1), values)
def test_valid_readings_round_trip(node, seq, vals):
    doc = {"node": node, "seq": seq, **vals}
    r = decode_reading(f"sensors/{node}/reading", _bytes(doc))
    assert (r.node, r.seq, r.ts, r.temperature, r.humidity, r.wifi_rssi) == (
        node, seq, vals["ts"], vals["temperature"], vals["humidity"], vals["wifi_rssi"])


@given(values)
def test_valid_legacy_readings_round_trip(vals):
    r = decode_reading(LEGACY_TOPIC, _bytes(vals))
    assert (r.node, r.seq, r.ts, r.temperature, r.humidity, r.wifi_rssi) == (
        "legacy", None, vals["ts"], vals["temperature"], vals["humidity"], vals["wifi_rssi"])


# Malformed payloads, each broken on purpose so it can never be a valid reading.
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                st.dictionaries(st.text(max_size=8), inner,
                                                                                max_size=4)), max_leaves=12)
wrong_types = st.one_of(st.none(), st.booleans(), st.text(max_size=12), st.lists(json_scalars, max_size=3),
                        st.dictionaries(st.text(max_size=4), json_scalars, max_size=2),
                        st.floats(allow_nan=False).map(str))
bad_numbers = st.sampled_from([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"9" * 500, b"-" + b"9" * 400,
                               b"1e400", b"1000", b"-1000", b"0x10", b"+1", b".5", b"01"])
fields = st.sampled_from(["temperature", "humidity", "wifi_rssi", "ts"])


OUT_OF_RANGE = {"temperature": [-40.1, 80.1, 1e6, -1e6, 10**30], "humidity": [-0.1, 100.1, 1e6, -1e6],
                "wifi_rssi": [0.5, 1, -128, -1e6, 2**62], "ts": [-1, 1, TS_RANGE[0] - 1, TS_RANGE[1], 10**30]}


# Topics the bridge does not take readings on (anything but sensors/<node>/reading and the legacy topic).
other_topics = st.one_of(
    st.sampled_from(["sensors/node-1/status", "sensors/node-1/reading/x", "sensors//reading", "topic/qos1",
                     "/topic/qos1/", "", "#", "sensors/+/reading"]),
    st.text(max_size=40)).filter(lambda t: t != LEGACY_TOPIC and not re.fullmatch(r"sensors/[^/]+/reading", t))


@st.composite
def malformed(draw) -> tuple[str, bytes]:
    """(topic, payload) that no correct bridge may store: a reading topic with a broken payload, or any
    payload (even a good one) on a topic that is not a reading topic."""
    topic = draw(st.sampled_from([TOPIC, LEGACY_TOPIC, TOPIC, LEGACY_TOPIC, None])) or draw(other_topics)
    if topic not in (TOPIC, LEGACY_TOPIC) and draw(st.booleans()):
        return topic, _bytes(GOOD)
    return topic, draw(malformed_payload(TOPIC if topic != LEGACY_TOPIC else topic))


@st.composite
def malformed_payload(draw, topic: str) -> bytes:
    doc = dict(GOOD)
    kind = draw(st.integers(0, 12))
    if kind == 0:  # random bytes that cannot start a JSON text
        return draw(st.sampled_from([b"\x00", b"\xff", b"}", b"x"])) + draw(st.binary(max_size=300))
    if kind == 1:  # a reading cut short
        raw = _bytes(doc)
        return raw[:draw(st.integers(0, len(raw) - 1))]
    if kind == 2:  # a field missing (node and seq are optional on the legacy topic only)
        identity = ["node", "seq"] if topic == TOPIC else []
        del doc[draw(st.sampled_from(identity + ["temperature", "humidity", "wifi_rssi", "ts"]))]
        return _bytes(doc)
    if kind == 3:  # a value of the wrong JSON type (numbers as strings, booleans, null, ...)
        doc[draw(st.sampled_from(["seq", "temperature", "humidity", "wifi_rssi", "ts"]))] = draw(wrong_types)
        return _bytes(doc)
    if kind == 4:  # a non-number literal or a number out of every range
        return _bytes(doc).replace(b"40.2", draw(bad_numbers))
    if kind == 5:  # a finite number outside the physical range
        name = draw(fields)
        doc[name] = draw(st.sampled_from(OUT_OF_RANGE[name]))
        return _bytes(doc)
    if kind == 6:  # JSON that is not an object
        value = draw(json_values.filter(lambda v: not isinstance(v, dict)))
        return json.dumps(value).encode()
    if kind == 7:  # an arbitrary object without a temperature
        other = draw(st.dictionaries(st.text(max_size=10), json_values, max_size=6))
        other.pop("temperature", None)
        return json.dumps(other).encode()
    if kind == 8:  # oversized: padding, a long field, or a huge message
        size = draw(st.sampled_from([MAX_PAYLOAD + 1, 4096, 65536, 1_000_000]))
        doc["pad"] = "x" * size
        return _bytes(doc)
    if kind == 9:  # deeply nested
        depth = draw(st.integers(100, 2000))
        return draw(st.sampled_from([b"[" * depth + b"]" * depth, b'{"a":' * depth + b"1" + b"}" * depth,
                                     b'{"node":' + b"[" * depth]))
    if kind == 10:  # invalid UTF-8 inside an otherwise good reading
        raw = _bytes(doc)
        at = draw(st.integers(1, len(raw) - 2))
        return raw[:at] + draw(st.sampled_from([b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\x80"])) + raw[at:]
    if kind == 11:  # JSON true/false where a number belongs: Python's bool is an int, JSON's is not a number
        doc[draw(st.sampled_from(["seq", "temperature", "humidity", "wifi_rssi", "ts"]))] = draw(st.booleans())
        return _bytes(doc)
    # kind 12: the same key twice, or a bad identity
    return draw(st.sampled_from([
        _bytes(GOOD)[:-1] + b', "temperature": 22.0}',
        _bytes({**GOOD, "node": "node-2" if topic == TOPIC else "a b"}),
        _bytes({**GOOD, "seq": -7}), _bytes({**GOOD, "ts": 99}),
        _bytes({**GOOD, "boot": 0}), _bytes({**GOOD, "boot": "2"}),
    ]))


BATCH = 20
EXAMPLES = 500


@settings(max_examples=300)  # still about a second; every kind of malformation comes many times
@given(malformed())
def test_a_malformed_message_is_refused_with_a_known_reason(message):
    topic, payload = message
    with pytest.raises(RefusedInput) as refusal:
        decode_reading(topic, payload)
    assert refusal.value.reason in REASONS


@pytest.mark.slow
def test_ten_thousand_malformed_payloads_are_each_refused_and_counted():
    """10,000 generated malformed payloads (and messages on topics that are not reading topics) through
    Bridge.handle: no crash, nothing stored, every one counted and traced with its reason, every reason seen."""
    trace = Trace({"test": "malformed"})
    rt = SimRuntime(seed=3, start=START, trace=trace)
    bridge = Bridge(rt.child("bridge"), mqtt=None, store=ReadingStore())
    fed = [0]

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(st.lists(malformed(), min_size=BATCH, max_size=BATCH))
    def feed(batch):
        before = bridge.refusals
        for topic, payload in batch:
            assert bridge.handle(topic, payload) == "refused", payload[:200]
        fed[0] += len(batch)
        assert bridge.refusals - before == len(batch)

    feed()
    print(f"\n{fed[0]} malformed payloads refused; by reason: { {k: v for k, v in sorted(bridge.refused.items())} }")
    assert fed[0] >= 10_000
    assert bridge.refusals == fed[0] == len(trace.of_kind("reading.refused"))
    assert set(bridge.refused) == set(REASONS)  # no decoder_error: the decoder itself never failed
    assert all(bridge.refused[reason] > 0 for reason in REASONS)  # every refusal path was taken
    assert Counter(r["reason"] for r in trace.of_kind("reading.refused")) == +bridge.refused
    assert bridge.store.count() == 0 and bridge.stored == 0


@given(st.text(max_size=40), st.binary(max_size=200))
def test_decoding_is_total_on_any_topic_and_bytes(topic, payload):
    try:
        r = decode_reading(topic, payload)
    except RefusedInput as refusal:
        assert refusal.reason in REASONS
    else:
        assert math.isfinite(r.temperature)
