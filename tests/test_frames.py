"""The frame meter (system/mqtt/frames.py): packet boundaries and sizes from the fixed header.

The packets are written out by hand from the MQTT 3.1.1 specification (2.2.3: the remaining
length, 7 bits a byte, least significant first; its table of 1- to 4-byte lengths)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from system.mqtt.frames import FrameMeter, MalformedLength, PacketTooLarge

PINGREQ = bytes([0xC0, 0x00])
PUBLISH = bytes([0x30, 0x04]) + b"\x00\x01tx"  # topic "t", payload "x"
CONNECT = bytes([0x10, 0x0C]) + b"\x00\x04MQTT\x04\x02\x00\x3c\x00\x00"  # empty client id, clean session
STREAM = CONNECT + PUBLISH + PINGREQ + PUBLISH


@pytest.mark.parametrize("length_bytes, length", [
    (b"\x00", 0), (b"\x7f", 127), (b"\x80\x01", 128), (b"\xff\x7f", 16383), (b"\x80\x80\x01", 16384),
    (b"\xff\xff\x7f", 2097151), (b"\x80\x80\x80\x01", 2097152), (b"\xff\xff\xff\x7f", 268435455)])
def test_the_remaining_length_table_of_the_specification(length_bytes, length):
    meter = FrameMeter(max_packet=1 << 30)
    size = 1 + len(length_bytes) + length
    if size > meter.max_packet:
        with pytest.raises(PacketTooLarge) as caught:
            meter.feed(b"\x30" + length_bytes)
        assert caught.value.size == size
    else:
        meter.feed(b"\x30" + length_bytes)
        assert meter.body_left == length and meter.packets == (1 if length == 0 else 0)


@given(st.lists(st.integers(0, len(STREAM)), max_size=8))
def test_packets_are_counted_however_the_stream_is_cut(cuts):
    meter = FrameMeter(max_packet=64)
    points = [0, *sorted(cuts), len(STREAM)]
    for start, end in zip(points, points[1:]):
        meter.feed(STREAM[start:end])
    assert meter.packets == 4 and meter.first_type == 1 and meter.body_left == 0


def test_a_packet_over_the_limit_is_refused_before_its_body():
    meter = FrameMeter(max_packet=1024)
    meter.feed(CONNECT)
    with pytest.raises(PacketTooLarge) as caught:
        meter.feed(bytes([0x30, 0x80, 0x08]))  # 1024 bytes follow: 1027 in all; no body byte sent yet
    assert (caught.value.size, caught.value.limit) == (1027, 1024)
    exact = FrameMeter(max_packet=1027)
    exact.feed(bytes([0x30, 0x80, 0x08]) + bytes(1024))
    assert exact.packets == 1


def test_a_fifth_length_byte_is_malformed():
    with pytest.raises(MalformedLength):
        FrameMeter(max_packet=1 << 30).feed(b"\x30\xff\xff\xff\xff")
