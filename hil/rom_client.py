"""The few ROM bootloader commands the harness sends itself: out of download mode on a port without DTR/RTS.

A board in its ROM bootloader reads nothing but SLIP frames: Ctrl-C does not reach it, and on
a port without an EN line nothing can reset it. What esptool's ``--after soft-reset`` sends
gets it out: FLASH_BEGIN of nothing, then FLASH_END with "run the application". The flasher
stub cannot run the application: the same FLASH_END with "reboot" restarts the chip, into
its flash or, when the strapping pins latched download mode, into the ROM again.

Sans-I/O: :func:`sync`, :func:`flash_begin_nothing` and :func:`flash_end` build the frames;
:class:`ReplyFilter` takes the ROM's reply frames out of the console's bytes. They carry no
newline, so left in they would spoil the first line the application prints.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from hil import slip
from hil.rom_loader import FLASH_BEGIN, FLASH_END, SYNC, SYNC_DATA  # the protocol's numbers, as the ROM knows them

REPLY = re.compile(rb"\xc0\x01([^\xc0]+)\xc0")  # SLIP escapes every 0xC0 inside a frame


def _request(op: int, data: bytes) -> bytes:
    return slip.encode(struct.pack("<BBHI", 0x00, op, len(data), 0) + data)


def sync() -> bytes:
    return _request(SYNC, SYNC_DATA)


def flash_begin_nothing() -> bytes:
    """FLASH_BEGIN of 0 bytes at 0 (the ESP32's four words: size, blocks, block size, offset): erases nothing."""
    return _request(FLASH_BEGIN, struct.pack("<IIII", 0, 0, 0x4000, 0))


def flash_end(run: bool) -> bytes:
    """FLASH_END: 1 asks the ROM to run the application, 0 to reboot."""
    return _request(FLASH_END, struct.pack("<I", 1 if run else 0))


@dataclass(frozen=True)
class Reply:
    op: int
    value: int  # SYNC: non-zero from the ROM, 0 from the flasher stub
    ok: bool


def _unescape(frame: bytes) -> bytes:
    return frame.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")


class ReplyFilter:
    """``feed(bytes)`` -> the console bytes without the ROM's reply frames, which go to ``replies``. An
    unfinished frame at the end of one read waits for the rest in the next."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self._held = b""

    def feed(self, data: bytes) -> bytes:
        data, self._held = self._held + data, b""
        for match in REPLY.finditer(data):
            payload = _unescape(match.group(1))
            if len(payload) >= 9:  # op, size, value, then the status bytes (4 from the ROM, 2 from the stub)
                op, size, value = struct.unpack("<BHI", payload[:7])
                self.replies.append(Reply(op, value, payload[7:8] == b"\x00"))
        out = REPLY.sub(b"", data)
        start = out.rfind(b"\xc0\x01")
        if start < 0 and out.endswith(b"\xc0"):  # a frame's first byte, read alone
            start = len(out) - 1
        if start >= 0:
            self._held, out = out[start:], out[:start]
        return out

    def take(self, op: int) -> Reply | None:
        """The first reply to ``op`` so far (removed), or None."""
        for i, reply in enumerate(self.replies):
            if reply.op == op:
                return self.replies.pop(i)
        return None
