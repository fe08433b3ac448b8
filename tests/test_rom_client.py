"""hil/rom_client.py: the ROM's reply frames taken out of console bytes however the reads split them."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hil import rom_client
from hil.slip import encode

# replies as the ESP32 ROM sends them: direction 1, op, size, value, then 4 status bytes (0 = success)
SYNC_REPLY = encode(struct.pack("<BBHI", 1, 0x08, 4, 0x20120707) + b"\x00\x00\x00\x00")
BEGIN_REPLY = encode(struct.pack("<BBHI", 1, 0x02, 4, 0) + b"\x00\x00\x00\x00")
REFUSED_END = encode(struct.pack("<BBHI", 1, 0x04, 4, 0) + b"\x01\x05\x00\x00")
VALUE_WITH_C0 = encode(struct.pack("<BBHI", 1, 0x08, 4, 0x20C0DB07) + b"\x00\x00\x00\x00")  # escaped inside


@given(st.lists(st.integers(min_value=1, max_value=40), max_size=30))
def test_the_console_text_and_the_replies_are_the_same_however_the_bytes_are_split(cuts):
    stream = (b"waiting for download\r\n" + SYNC_REPLY * 8 + BEGIN_REPLY + VALUE_WITH_C0 + REFUSED_END
              + b'{"msg": "boot"}\r\n')
    chunks, at = [], 0
    for n in cuts:
        chunks.append(stream[at:at + n])
        at += n
    chunks.append(stream[at:])
    filt = rom_client.ReplyFilter()
    console = b"".join(filt.feed(chunk) for chunk in chunks)
    assert console == b'waiting for download\r\n{"msg": "boot"}\r\n'
    assert [(r.op, r.value, r.ok) for r in filt.replies] == (
        [(0x08, 0x20120707, True)] * 8 + [(0x02, 0, True), (0x08, 0x20C0DB07, True), (0x04, 0, False)])


def test_the_requests_are_the_frames_esptool_sends():
    """SYNC's fixed 36 bytes; FLASH_END's one word: 1 runs the application, 0 reboots (esptool's flash_finish)."""
    assert rom_client.sync() == b"\xc0\x00\x08\x24\x00\x00\x00\x00\x00\x07\x07\x12\x20" + b"\x55" * 32 + b"\xc0"
    assert rom_client.flash_end(run=True) == b"\xc0\x00\x04\x04\x00\x00\x00\x00\x00\x01\x00\x00\x00\xc0"
    assert rom_client.flash_end(run=False) == b"\xc0\x00\x04\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xc0"


def test_a_truncated_reply_is_no_reply_and_console_text_around_frames_is_kept_whole():
    """A frame too short to hold op, size, value and status (noise that happened to be framed) answers nothing;
    a request echoed back (direction 0) is not a reply either, and stays console bytes."""
    filt = rom_client.ReplyFilter()
    echoed = encode(struct.pack("<BBHI", 0, 0x08, 0, 0))
    out = filt.feed(b"before\xc0\x01\x08\xc0after\r\n" + echoed)
    out += filt.feed(b"\r\n")  # a 0xC0 last in a read may open a frame: it waits for the next read
    assert filt.replies == [] and filt.take(0x08) is None
    assert out == b"beforeafter\r\n" + echoed + b"\r\n"
