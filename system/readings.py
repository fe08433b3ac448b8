"""Sensor readings: the contract between nodes and the bridge, and its pure decoder.

``decode_reading(topic, payload)`` turns an MQTT message into a ``Reading`` or
raises ``RefusedInput`` with a short reason that services count. Accepted topics:
``sensors/<node>/reading`` (payload names node and seq) and the original
project's ``/topic/qos1`` (no identity: the node is ``legacy``, no seq).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from system.errors import RefusedInput

LEGACY_TOPIC = "/topic/qos1"
MAX_PAYLOAD = 1024
RANGES = {"temperature": (-40.0, 80.0), "humidity": (0.0, 100.0), "wifi_rssi": (-127.0, 0.0)}


@dataclass(frozen=True)
class Reading:
    node: str
    seq: int | None
    ts: float
    temperature: float
    humidity: float
    wifi_rssi: float


def decode_reading(topic: str, payload: bytes) -> Reading:
    """Validate one message; raise RefusedInput(reason) for anything not a plausible reading."""
    if len(payload) > MAX_PAYLOAD:
        raise RefusedInput("oversized", f"{len(payload)} bytes")
    try:
        doc = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RefusedInput("not_json", str(exc)[:80]) from None
    if not isinstance(doc, dict):
        raise RefusedInput("not_object", type(doc).__name__)
    if topic == LEGACY_TOPIC:
        node, seq = "legacy", None
    else:
        node = _topic_node(topic)
        if doc.get("node") != node:
            raise RefusedInput("node_mismatch", f"topic says {node!r}, payload {doc.get('node')!r}")
        seq = doc.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < 2**53:
            raise RefusedInput("bad_seq", repr(seq)[:40])
    values = {name: _number(doc, name) for name in RANGES}
    ts = _number(doc, "ts", ranges=(0, 2**33))
    return Reading(node, seq, ts, values["temperature"], values["humidity"], values["wifi_rssi"])


def _topic_node(topic: str) -> str:
    parts = topic.split("/")
    if len(parts) != 3 or parts[0] != "sensors" or parts[2] != "reading" or not parts[1]:
        raise RefusedInput("bad_topic", topic[:80])
    return parts[1]


def _number(doc: dict, name: str, ranges: tuple[float, float] | None = None) -> float:
    if name not in doc:
        raise RefusedInput("missing_field", name)
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RefusedInput("bad_type", f"{name}={value!r}"[:80])
    low, high = ranges or RANGES[name]
    if not math.isfinite(value) or not low <= value <= high:
        raise RefusedInput("out_of_range", f"{name}={value!r}"[:80])
    return float(value)
