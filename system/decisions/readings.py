"""Sensor readings: the contract between nodes and the bridge, and its pure decoder.

``decode_reading(topic, payload)`` turns an MQTT message into a ``Reading`` or
raises ``RefusedInput`` with a short reason (one of ``REASONS``) that services
count. It is total: any bytes on any topic give a Reading or a RefusedInput.

Accepted topics (spelled in ``firmware/reading.py``, with the payload the node builds):

* a node's reading topic (``reading_topic(node)``): the payload names the same ``node`` and a ``seq``.
* the original project's legacy topic (``LEGACY_TOPIC``): the original payload
  ``{"temperature", "humidity", "wifi_rssi", "ts"}`` carries no identity, and
  MQTT does not tell a subscriber who published, so such a reading belongs to
  one configured *legacy node* (``legacy_node``, default ``"legacy"``; name it
  after the device, e.g. the first 4 MAC bytes in hex as the original's
  Pushgateway job did) and has no sequence number (``seq`` None). On the legacy
  topic ``node`` and ``seq`` are optional: when present they are validated and
  used, so an updated device may keep the old topic and still be de-duplicated.

Identity: a node's payload carries ``boot`` (its boot counter, 1, 2, ... kept on the
node's flash, ``firmware/boot_count.py``) and ``seq`` (1, 2, ... within that boot), so
a reading is ``(node, boot, seq)`` and a reboot, which restarts ``seq`` at 1, starts a
new series instead of repeating an old one. A payload without ``boot`` (firmware from
before the counter, an updated legacy device) has ``boot`` None and is keyed as boot
``LEGACY_BOOT`` (0, which no counter gives): its identity is ``(node, seq)`` as it
always was, with the old flaw that a reboot repeats it.

``ts`` keeps the node's meaning: Unix seconds from the node's clock, or 0 when
the node's clock was not set yet (SNTP); the bridge then dates the reading on
arrival (see ``reading_store``). Any other ts before 2000 or after 2100 is
refused: it is neither a set clock nor the "not set" marker.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from firmware.dht22 import HUMIDITY_MAX10, TEMP_MAX10, TEMP_MIN10
from firmware.reading import LEGACY_TOPIC, reading_topic_node, valid_node
from system.errors import RefusedInput

LEGACY_NODE = "legacy"
MAX_PAYLOAD = 1024  # bytes; a reading is about 110
# what a DHT22 can measure (its datasheet, as the firmware checks each frame) and what 802.11 reports
RANGES = {"temperature": (TEMP_MIN10 / 10, TEMP_MAX10 / 10), "humidity": (0.0, HUMIDITY_MAX10 / 10),
          "wifi_rssi": (-127.0, 0.0)}
TS_RANGE = (946_684_800, 4_102_444_800)  # 2000-01-01 .. 2100-01-01 UTC; 0 means "clock not set"
MAX_SEQ = 2**53  # exact in a float, in JSON everywhere; the bound of boot too
LEGACY_BOOT = 0  # the boot of a payload that has none (see the module docstring)

REASONS = (
    "oversized",       # payload longer than MAX_PAYLOAD bytes
    "not_utf8",        # payload bytes are not UTF-8 text
    "not_json",        # not JSON (including NaN/Infinity literals, too deep nesting)
    "not_object",      # JSON, but not an object
    "duplicate_key",   # the same key twice: which value was meant is unknowable
    "bad_topic",       # neither a node's reading topic nor the legacy topic
    "bad_node",        # node name missing or not a node id (firmware.reading.valid_node)
    "node_mismatch",   # payload's node differs from the topic's
    "bad_seq",         # seq missing, not an integer, or outside 0 .. 2**53
    "missing_field",   # temperature, humidity, wifi_rssi or ts absent
    "bad_type",        # a value that is not a JSON number (strings, booleans, null, ...)
    "out_of_range",    # a number outside the physical range, or not finite
    "bad_ts",          # ts neither 0 nor a date in 2000 .. 2100
    "bad_boot",        # boot present but not an integer in 1 .. 2**53
)


@dataclass(frozen=True)
class Reading:
    """One verified reading. ``ts`` is as the node sent it (0: the node's clock was not set)."""

    node: str
    seq: int | None
    ts: float
    temperature: float
    humidity: float
    wifi_rssi: float
    boot: int | None = None  # None: the payload had none (keyed as LEGACY_BOOT)

    @property
    def clock_set(self) -> bool:
        return self.ts > 0

    @property
    def boot_key(self) -> int:
        """The boot this reading is stored under: its own, or ``LEGACY_BOOT`` when it has none."""
        return LEGACY_BOOT if self.boot is None else self.boot


class _Duplicate(ValueError):
    pass


class _Constant(ValueError):
    pass


def decode_reading(topic: str, payload: bytes, *, legacy_node: str = LEGACY_NODE) -> Reading:
    """Validate one MQTT message; raise RefusedInput(reason) for anything not a plausible reading.

    For example::

        >>> decode_reading(LEGACY_TOPIC, b'{"temperature": 21.5, "humidity": 40.2, "wifi_rssi": -61, "ts": 0}')
        Reading(node='legacy', seq=None, ts=0.0, temperature=21.5, humidity=40.2, wifi_rssi=-61.0, boot=None)
    """
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogatepass")
    if len(payload) > MAX_PAYLOAD:
        raise RefusedInput("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD}")
    doc = _parse(bytes(payload))
    legacy = topic == LEGACY_TOPIC
    node = doc.get("node", legacy_node if legacy else None)
    if not legacy and _topic_node(topic) != node:
        raise RefusedInput("node_mismatch", f"topic says {_topic_node(topic)!r}, payload {node!r}"[:120])
    if not valid_node(node):
        raise RefusedInput("bad_node", repr(node)[:80])
    seq = doc.get("seq")
    if not (legacy and seq is None and "seq" not in doc) and (
            not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq < MAX_SEQ):
        raise RefusedInput("bad_seq", repr(seq)[:40])
    boot = doc.get("boot")
    if "boot" in doc and (not isinstance(boot, int) or isinstance(boot, bool) or not 0 < boot < MAX_SEQ):
        raise RefusedInput("bad_boot", repr(boot)[:40])
    values = {name: _number(doc, name, *RANGES[name]) for name in RANGES}
    ts = _number(doc, "ts", -math.inf, math.inf)
    if ts != 0 and not TS_RANGE[0] <= ts < TS_RANGE[1]:
        raise RefusedInput("bad_ts", f"ts={ts!r}: neither 0 (clock not set) nor a date in 2000..2100")
    return Reading(node, seq, ts, values["temperature"], values["humidity"], values["wifi_rssi"], boot)


def _parse(payload: bytes) -> dict:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RefusedInput("not_utf8", str(exc)[:80]) from None
    try:
        doc = json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except _Duplicate as exc:
        raise RefusedInput("duplicate_key", str(exc)[:80]) from None
    except _Constant as exc:
        raise RefusedInput("not_json", f"{exc} is not a JSON number") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digit limit, nesting
        raise RefusedInput("not_json", f"{type(exc).__name__}: {exc}"[:80]) from None
    if not isinstance(doc, dict):
        raise RefusedInput("not_object", type(doc).__name__)
    return doc


def _object(pairs: list[tuple[str, Any]]) -> dict:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Duplicate(f"key {twice!r} appears twice")
    return doc


def _constant(name: str) -> Any:
    raise _Constant(name)


def _topic_node(topic: str) -> str:
    node = reading_topic_node(topic)
    if node is None:
        raise RefusedInput("bad_topic", repr(topic)[:80])
    return node


def _number(doc: dict, name: str, low: float, high: float) -> float:
    if name not in doc:
        raise RefusedInput("missing_field", name)
    value = doc[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RefusedInput("bad_type", f"{name}={value!r}"[:80])
    try:
        number = float(value)
    except OverflowError:  # an int beyond float range
        raise RefusedInput("out_of_range", f"{name} has {len(str(value))} digits") from None
    if not math.isfinite(number) or not low <= number <= high:
        raise RefusedInput("out_of_range", f"{name}={number!r}"[:80])
    return number
