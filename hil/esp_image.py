"""ESP32 application images: the one check of what the chip's boot would accept, and a factory image.

Used by the virtual board at boot (``hil/virtual_board.py``) and by ``hilsim board flash``
before it writes. The format, from Espressif's documentation of the application image:

- a 24-byte header: magic 0xE9, segment count, SPI mode, size/frequency, entry address
  (u32), then the extended header: WP pin, three drive bytes, chip id (u16, 0 = ESP32),
  minimum revision, minimum and maximum full revision (u16 each), four reserved bytes and
  the ``hash appended`` byte;
- each segment: load address (u32), length (u32), the data;
- zero padding so that the checksum byte ends a 16-byte block; the checksum is 0xEF XOR
  every byte of the segments' data;
- with ``hash appended`` = 1, the SHA-256 of everything from the magic byte through the
  checksum byte.

Messages are worded as the ROM and the second-stage bootloader word them, e.g.
``invalid header: 0xffffffff`` for an erased flash.
"""

from __future__ import annotations

import hashlib
import struct

MAGIC = 0xE9
HEADER = struct.Struct("<BBBBIBBBBHBHH4xB")  # 24 bytes
SEGMENT = struct.Struct("<II")
MAX_SEGMENTS = 16
ESP32_CHIP_ID = 0
CHECKSUM_SEED = 0xEF
BOOTLOADER_OFFSET = 0x1000  # where the ROM looks for the second-stage bootloader
APP_OFFSET = 0x10000  # the factory app partition of the default partition table


def image_problem(data: bytes) -> str | None:
    """Why ``data`` (read from its first byte, trailing bytes ignored) is not a valid ESP32 image, or None.

    For example::

        >>> image_problem(b"\\xff" * 64)
        'invalid header: 0xffffffff'
    """
    if len(data) < HEADER.size or data[0] != MAGIC:
        word = int.from_bytes(data[:4].ljust(4, b"\xff"), "little")
        return f"invalid header: {word:#010x}"
    fields = HEADER.unpack_from(data)
    count, chip_id, hash_appended = fields[1], fields[9], fields[13]
    if not 0 < count <= MAX_SEGMENTS:
        return f"invalid segment count {count}"
    if chip_id != ESP32_CHIP_ID:
        return f"image is for chip id {chip_id:#06x}, not an ESP32 (0x0000)"
    pos, check = HEADER.size, CHECKSUM_SEED
    for n in range(count):
        if pos + SEGMENT.size > len(data):
            return f"segment {n} header past the end of the image ({len(data)} bytes)"
        addr, length = SEGMENT.unpack_from(data, pos)
        pos += SEGMENT.size
        if pos + length > len(data):
            return f"segment {n} (load {addr:#010x}, {length} bytes) runs past the end of the image"
        for b in data[pos:pos + length]:
            check ^= b
        pos += length
    pos += 15 - pos % 16  # the checksum byte ends a 16-byte block
    if pos >= len(data):
        return "image truncated before its checksum byte"
    if data[pos] != check:
        return f"Checksum failed. Calculated {check:#04x} read {data[pos]:#04x}"
    end = pos + 1
    if hash_appended == 1:
        if end + 32 > len(data):
            return "image truncated before its SHA-256"
        if hashlib.sha256(data[:end]).digest() != data[end:end + 32]:
            return "Image hash failed - image is corrupt"
    return None


def factory_image(text: bytes, *, entry: int = 0x400D0000, load: int = 0x400D0000) -> bytes:
    """A valid one-segment image carrying ``text`` (its SHA-256 appended): what a new virtual board's flash
    holds, standing for the firmware it left the factory with."""
    text = text + b"\0" * (-len(text) % 4)
    body = HEADER.pack(MAGIC, 1, 2, 0x20, entry, 0xEE, 0, 0, 0, ESP32_CHIP_ID, 0, 0, 0xFFFF, 1)
    body += SEGMENT.pack(load, len(text)) + text
    check = CHECKSUM_SEED
    for b in text:
        check ^= b
    body += b"\0" * (15 - len(body) % 16) + bytes((check,))
    return body + hashlib.sha256(body).digest()


def firmware_problem(image: bytes, offset: int) -> str | None:
    """What is wrong with ``image`` written at flash ``offset``, checked as the boot would: the image itself,
    and, where it reaches the app partition (a merged image from 0x1000), the application in it."""
    problem = image_problem(image)
    if problem:
        return problem
    if offset < APP_OFFSET < offset + len(image):
        problem = image_problem(image[APP_OFFSET - offset:])
        if problem:
            return f"the application at {APP_OFFSET:#x}: {problem}"
    return None
