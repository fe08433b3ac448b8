"""The ESP32 ROM serial bootloader as a sans-I/O state machine, for the virtual board.

``RomLoader.receive(frame)`` takes one SLIP payload (see ``hil/slip.py``) and returns
``(reply payloads, events)``; it never touches a port or a clock. The flash lives in a
``Flash`` (a file, so it outlives the process). Facts from esptool's documentation of
the serial protocol:

- A request is ``00 op len16 chk32 data``; a reply is ``01 op len16 value32 data`` where
  the ESP32 ROM ends ``data`` with four status bytes ``status error 00 00`` (status 0 ok).
- ``chk`` matters only for the FLASH_DATA / FLASH_DEFL_DATA payload: 0xEF XORed with
  every data byte.
- SYNC is answered eight times (the ROM repeats itself; esptool reads the extra seven).
- SPI_FLASH_MD5 answers, in the ROM, with 32 lowercase hex characters.
- Commands the ESP32 ROM does not have (GET_SECURITY_INFO, ...) get status 1, error 5.

The rules, as a table (state -> commands accepted; anything else gets an error reply):

    UNSYNCED  SYNC -> SYNCED
    SYNCED    SYNC, READ_REG, WRITE_REG, SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, SPI_FLASH_MD5,
              FLASH_BEGIN -> FLASHING, FLASH_DEFL_BEGIN -> DEFLATING, FLASH_END / FLASH_DEFL_END (flag 0:
              leave the bootloader and run the flash)
    FLASHING  FLASH_DATA (in sequence, checksum ok), and every SYNCED command (an END -> SYNCED)
    DEFLATING FLASH_DEFL_DATA (in sequence), and every SYNCED command (an END -> SYNCED)

Registers hold what the chip would show: the chip-detect magic of an ESP32, eFuse words
giving the MAC and an ESP32-D0WD-V3, and the SPI controller answering RDID (0x9F) with
a 4 MiB Winbond flash.
"""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

SYNC, READ_REG, WRITE_REG = 0x08, 0x0A, 0x09
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13

UNSYNCED, SYNCED, FLASHING, DEFLATING = "UNSYNCED", "SYNCED", "FLASHING", "DEFLATING"
FLASH_CMDS = {SYNC, READ_REG, WRITE_REG, SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, SPI_FLASH_MD5, FLASH_BEGIN,
              FLASH_DEFL_BEGIN, FLASH_END, FLASH_DEFL_END}
ACCEPTS = {UNSYNCED: {SYNC}, SYNCED: FLASH_CMDS, FLASHING: FLASH_CMDS | {FLASH_DATA},
           DEFLATING: FLASH_CMDS | {FLASH_DEFL_DATA}}

# error codes in the second status byte
ERR_INVALID_MSG, ERR_BAD_DATA_LEN, ERR_BAD_CHECKSUM, ERR_FAILED = 0x05, 0xC0, 0xC1, 0xC2
SYNC_VALUE = 0x20120707  # the ROM answers SYNC with a non-zero value (a stub would say 0)

CHIP_DETECT_MAGIC_ADDR, ESP32_MAGIC = 0x40001000, 0x00F01D83
EFUSE_BASE = 0x3FF5A000
SPI_BASE = 0x3FF42000
SPI_CMD, SPI_USR2, SPI_W0 = SPI_BASE + 0x00, SPI_BASE + 0x24, SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18
RDID, RDSR = 0x9F, 0x05
FLASH_ID = 0x1640EF  # Winbond (EF), type 0x40, capacity 0x16 = 4 MiB
FLASH_SIZE = 4 * 1024 * 1024
SECTOR = 0x1000


def checksum(data: bytes) -> int:
    state = 0xEF
    for b in data:
        state ^= b
    return state


@dataclass(frozen=True)
class FlashWritten:
    """A FLASH_BEGIN..END (or DEFL) sequence finished: ``size`` bytes at ``offset``."""

    offset: int
    size: int


@dataclass(frozen=True)
class RunRequested:
    """FLASH_END asked the ROM to leave the bootloader and run the code in flash."""


class Flash:
    """SPI flash backed by a file, erased to 0xFF on creation."""

    def __init__(self, path: Path, size: int = FLASH_SIZE):
        self.path = Path(path)
        self.size = size
        if not self.path.exists() or self.path.stat().st_size != size:
            self.path.write_bytes(b"\xff" * size)

    def read(self, offset: int, size: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def write(self, offset: int, data: bytes) -> None:
        with open(self.path, "r+b") as f:
            f.seek(offset)
            f.write(data)

    def erase(self, offset: int, size: int) -> None:
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + size) // SECTOR) * SECTOR)
        self.write(start, b"\xff" * (end - start))


def efuse_words(mac: bytes) -> dict[int, int]:
    """eFuse read registers of an ESP32-D0WD-V3 (revision v3.0) with base MAC ``mac``."""
    return {
        EFUSE_BASE + 4: int.from_bytes(mac[2:6], "big"),
        EFUSE_BASE + 8: (mac[0] << 8) | mac[1],
        EFUSE_BASE + 12: (1 << 9) | (1 << 15),  # package D0WD, revision bit 0
        EFUSE_BASE + 16: 100,  # 8 MHz clock calibration: with the RTC value below, a 40 MHz crystal
        EFUSE_BASE + 20: 1 << 20,  # revision bit 1
        0x3FF66000 + 0x7C: 1 << 31,  # APB_CTL_DATE: revision bit 2 -> v3
        0x3FF5F06C: 1024 << 7,  # RTC calibration value
        0x3FF40014: 347,  # UART_CLKDIV: 40 MHz / 115200 baud, how esptool estimates the crystal
    }


@dataclass
class RomLoader:
    """The bootloader's state; ``receive(frame) -> (replies, events)``."""

    flash: Flash
    mac: bytes = bytes.fromhex("240ac4123456")
    state: str = UNSYNCED
    regs: dict[int, int] = field(default_factory=dict)
    _begin: tuple[int, int, int, int] | None = None  # (size, blocks, block size, offset)
    _seq: int = 0
    _inflate: object | None = None
    _written: int = 0

    def __post_init__(self) -> None:
        self.regs = {CHIP_DETECT_MAGIC_ADDR: ESP32_MAGIC, **efuse_words(self.mac), **self.regs}

    def receive(self, frame: bytes) -> tuple[list[bytes], list[object]]:
        if len(frame) < 8 or frame[0] != 0x00:
            return [], []  # not a request (our own echo, noise that happened to be framed)
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8:8 + size]
        if len(data) != size:
            return [self._reply(op, error=ERR_BAD_DATA_LEN)], []
        if op not in ACCEPTS[self.state]:
            return [self._reply(op, error=ERR_INVALID_MSG)], []
        try:
            return getattr(self, f"_op_{op:02x}")(data, chk)
        except (struct.error, zlib.error, ValueError):
            return [self._reply(op, error=ERR_FAILED)], []

    @staticmethod
    def _reply(op: int, value: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        body = data + bytes((1 if error else 0, error, 0, 0))
        return struct.pack("<BBHI", 0x01, op, len(body), value) + body

    # --- commands, one method each (named by opcode) -----------------------------------

    def _op_08(self, data, chk):  # SYNC
        if data != b"\x07\x07\x12\x20" + b"\x55" * 32:
            return [self._reply(SYNC, error=ERR_INVALID_MSG)], []
        if self.state == UNSYNCED:
            self.state = SYNCED
        return [self._reply(SYNC, SYNC_VALUE)] * 8, []

    def _op_0a(self, data, chk):  # READ_REG
        (addr,) = struct.unpack("<I", data[:4])
        return [self._reply(READ_REG, self.regs.get(addr, 0))], []

    def _op_09(self, data, chk):  # WRITE_REG: address, value, mask, delay
        addr, value, mask, _ = struct.unpack("<IIII", data[:16])
        self.regs[addr] = (self.regs.get(addr, 0) & ~mask) | (value & mask)
        if addr == SPI_CMD and value & SPI_CMD_USR:
            self._spi_command()
        return [self._reply(WRITE_REG)], []

    def _spi_command(self) -> None:
        # The SPI controller runs the command at once: W0 gets what the flash answers, CMD reads back done.
        command = self.regs.get(SPI_USR2, 0) & 0xFFFF
        if command == RDID:
            self.regs[SPI_W0] = FLASH_ID
        elif command == RDSR:
            self.regs[SPI_W0] = 0
        self.regs[SPI_CMD] = 0

    def _op_0d(self, data, chk):  # SPI_ATTACH
        return [self._reply(SPI_ATTACH)], []

    def _op_0b(self, data, chk):  # SPI_SET_PARAMS
        return [self._reply(SPI_SET_PARAMS)], []

    def _op_0f(self, data, chk):  # CHANGE_BAUDRATE: a pseudo-terminal has no baud rate
        return [self._reply(CHANGE_BAUDRATE)], []

    def _begin_write(self, op: int, data: bytes):
        size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        if offset + size > self.flash.size:
            return [self._reply(op, error=ERR_FAILED)], []
        self.flash.erase(offset, size)  # the ROM erases up front
        self._begin = (size, blocks, block_size, offset)
        self._seq = 0
        self._written = 0
        return [self._reply(op)], []

    def _op_02(self, data, chk):  # FLASH_BEGIN
        replies = self._begin_write(FLASH_BEGIN, data)
        self.state = FLASHING
        return replies

    def _op_10(self, data, chk):  # FLASH_DEFL_BEGIN
        replies = self._begin_write(FLASH_DEFL_BEGIN, data)
        self._inflate = zlib.decompressobj()
        self.state = DEFLATING
        return replies

    def _block(self, op: int, data: bytes, chk: int) -> tuple[bytes | None, bytes | None]:
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        payload = data[16:]
        if len(payload) != length:
            return None, self._reply(op, error=ERR_BAD_DATA_LEN)
        if checksum(payload) != chk:
            return None, self._reply(op, error=ERR_BAD_CHECKSUM)
        if seq != self._seq:
            return None, self._reply(op, error=ERR_FAILED)
        self._seq += 1
        return payload, None

    def _op_03(self, data, chk):  # FLASH_DATA: block ``seq`` at offset + seq * block size
        payload, error = self._block(FLASH_DATA, data, chk)
        if error:
            return [error], []
        size, _, block_size, offset = self._begin
        at = offset + (self._seq - 1) * block_size
        self.flash.write(at, payload[:max(0, min(len(payload), offset + size - at, self.flash.size - at))])
        self._written = max(self._written, at - offset + len(payload))
        return [self._reply(FLASH_DATA)], []

    def _op_11(self, data, chk):  # FLASH_DEFL_DATA: the next piece of one zlib stream
        payload, error = self._block(FLASH_DEFL_DATA, data, chk)
        if error:
            return [error], []
        out = self._inflate.decompress(payload)
        offset = self._begin[3]
        if offset + self._written + len(out) > self.flash.size:
            return [self._reply(FLASH_DEFL_DATA, error=ERR_FAILED)], []
        self.flash.write(offset + self._written, out)
        self._written += len(out)
        return [self._reply(FLASH_DEFL_DATA)], []

    def _finish(self, op: int, data: bytes) -> tuple[list[bytes], list[object]]:
        events: list[object] = []
        if self.state in (FLASHING, DEFLATING) and self._begin is not None and self._written:
            events.append(FlashWritten(self._begin[3], self._written))
        self.state = SYNCED
        self._begin, self._inflate = None, None
        stay = struct.unpack("<I", data[:4])[0] if len(data) >= 4 else 1
        if not stay:
            events.append(RunRequested())
        return [self._reply(op)], events

    def _op_04(self, data, chk):  # FLASH_END: 0 = reboot into the flash, 1 = stay in the bootloader
        return self._finish(FLASH_END, data)

    def _op_12(self, data, chk):  # FLASH_DEFL_END
        return self._finish(FLASH_DEFL_END, data)

    def _op_13(self, data, chk):  # SPI_FLASH_MD5: address, size -> 32 hex characters
        addr, size = struct.unpack("<II", data[:8])
        if addr + size > self.flash.size:
            return [self._reply(SPI_FLASH_MD5, error=ERR_FAILED)], []
        digest = hashlib.md5(self.flash.read(addr, size)).hexdigest().encode("ascii")
        return [self._reply(SPI_FLASH_MD5, data=digest)], []


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def random_mac(seed: bytes | None = None) -> bytes:
    """An Espressif-OUI MAC (24:0a:c4:xx:xx:xx), random unless ``seed`` fixes it."""
    tail = hashlib.sha256(seed).digest()[:3] if seed is not None else os.urandom(3)
    return bytes.fromhex("240ac4") + tail
