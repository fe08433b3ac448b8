"""MQTT framing as bytes flow: where each packet starts and how long it says it is.

Sans-I/O: :class:`FrameMeter` is fed the bytes a connection receives, in pieces of any size,
and follows the fixed header of each packet (a type byte, then the remaining length in 1 to 4
bytes of 7 bits each, least significant first [MQTT-2.2.3]). It raises :class:`PacketTooLarge`
as soon as a remaining length over the limit is complete, before the body is read, so a broker
never buffers a packet it will refuse.

For example::

    >>> meter = FrameMeter(max_packet=100)
    >>> meter.feed(bytes([0x30, 0x05]) + b"ab")   # PUBLISH, 5 bytes follow; 2 of them here
    >>> meter.packets, meter.first_type
    (0, 3)
    >>> meter.feed(b"cde")
    >>> meter.packets
    1
    >>> meter.feed(bytes([0x30, 0xff, 0x01]))  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    PacketTooLarge: a packet of 258 bytes, over the limit of 100
"""

from __future__ import annotations

_TYPE, _LENGTH, _BODY = 0, 1, 2


class PacketTooLarge(Exception):
    """A packet's header announced more bytes than the broker accepts."""

    def __init__(self, size: int, limit: int):
        super().__init__(f"a packet of {size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


class MalformedLength(Exception):
    """A remaining length of more than 4 bytes [MQTT-2.2.3]."""


class FrameMeter:
    """Follows packet boundaries in a byte stream; ``packets`` counts the complete ones."""

    def __init__(self, max_packet: int):
        self.max_packet = max_packet
        self.packets = 0
        self.first_type: int | None = None  # the packet type of the first packet (1 = CONNECT)
        self._state = _TYPE
        self._length = 0
        self._length_bytes = 0
        self._left = 0

    @property
    def body_left(self) -> int:
        """Bytes of the current packet's body still to come (0 between packets and in a header)."""
        return self._left

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the stream; raises PacketTooLarge or MalformedLength."""
        view = memoryview(data)
        at = 0
        while at < len(view):
            if self._state == _BODY:
                step = min(self._left, len(view) - at)
                self._left -= step
                at += step
                if self._left == 0:
                    self._end_packet()
                continue
            byte = view[at]
            at += 1
            if self._state == _TYPE:
                if self.first_type is None:
                    self.first_type = byte >> 4
                self._state, self._length, self._length_bytes = _LENGTH, 0, 0
            else:
                self._length_byte(byte)

    def _length_byte(self, byte: int) -> None:
        self._length += (byte & 0x7F) << (7 * self._length_bytes)
        self._length_bytes += 1
        if byte & 0x80:
            if self._length_bytes == 4:
                raise MalformedLength("a remaining length of more than 4 bytes")
            return
        size = 1 + self._length_bytes + self._length
        if size > self.max_packet:
            raise PacketTooLarge(size, self.max_packet)
        self._left = self._length
        if self._left == 0:
            self._end_packet()
        else:
            self._state = _BODY

    def _end_packet(self) -> None:
        self.packets += 1
        self._state = _TYPE
