"""SLIP framing (RFC 1055) as the ESP32 ROM bootloader uses it: sans-I/O, bytes in, frames out.

A frame is ``0xC0 payload 0xC0``; inside, 0xC0 is sent as ``0xDB 0xDC`` and 0xDB as
``0xDB 0xDD``. Bytes outside a frame (console text, noise) are counted and dropped; an
invalid escape drops the frame being read.
"""

from __future__ import annotations

END, ESC, ESC_END, ESC_ESC = 0xC0, 0xDB, 0xDC, 0xDD


def encode(payload: bytes) -> bytes:
    """One SLIP frame carrying ``payload``."""
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SlipDecoder:
    """``feed(bytes)`` -> complete frame payloads; ``outside`` counts bytes seen between frames."""

    def __init__(self) -> None:
        self.outside = 0
        self.bad_frames = 0
        self._frame: bytearray | None = None
        self._escaped = False

    @property
    def in_frame(self) -> bool:
        return self._frame is not None

    def feed(self, data: bytes) -> list[bytes]:
        frames = []
        for b in data:
            if self._frame is None:
                if b == END:
                    self._frame = bytearray()
                else:
                    self.outside += 1
                continue
            if self._escaped:
                self._escaped = False
                if b == ESC_END:
                    self._frame.append(END)
                elif b == ESC_ESC:
                    self._frame.append(ESC)
                else:
                    self.bad_frames += 1
                    self._frame = None
                continue
            if b == ESC:
                self._escaped = True
            elif b == END:
                if self._frame:
                    frames.append(bytes(self._frame))
                    self._frame = None
                # an empty frame is two ENDs in a row: the second starts the next frame
            else:
                self._frame.append(b)
        return frames
