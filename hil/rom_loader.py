"""The ESP32 ROM serial bootloader and esptool's flasher stub, as one sans-I/O state machine.

``RomLoader.receive(frame)`` takes one SLIP payload (see ``hil/slip.py``) and returns
``(reply payloads, events)``; it never touches a port or a clock. The flash lives in a
``Flash`` (a file, so it outlives the process). Facts from esptool's documentation of
the serial protocol and its loader:

- A request is ``00 op len16 chk32 data``; a reply is ``01 op len16 value32 data
  status``: the ESP32 ROM sends four status bytes ``status error 00 00``, the stub two
  (status 0 ok).
- ``chk`` matters only for the DATA payloads (FLASH, FLASH_DEFL, MEM): 0xEF XORed with
  every data byte.
- SYNC is answered eight times (esptool reads the extra seven); the ROM's value is
  non-zero, the stub's is 0 (which is how esptool sees a stub already running).
- MEM_BEGIN/MEM_DATA/MEM_END load a program into RAM; MEM_END's first word 0 runs it at
  the entry address in its second. The virtual chip runs no Xtensa code: whatever RAM
  program is started is taken for esptool's flasher stub, which greets with an "OHAI"
  frame and from then on answers as the stub does.
- FLASH_END / FLASH_DEFL_END's word: in the ROM, 1 runs the application in flash and 0
  reboots (both leave the bootloader); in the stub, 1 stays and 0 reboots into the ROM
  bootloader. esptool sends ``int(not reboot)``.
- SPI_FLASH_MD5 answers with 32 hex characters in the ROM, 16 raw bytes in the stub.
- The stub's FLASH_BEGIN / FLASH_DEFL_BEGIN carry a fifth word (encrypted write), and
  its DEFL_BEGIN size is the uncompressed size; it erases as it writes.
- Stub-only: ERASE_FLASH, ERASE_REGION (sector-aligned), and READ_FLASH (offset, length,
  block size, blocks in flight): after the reply it streams ``block size`` frames, the
  host acks each with the byte count received so far (a 4-byte frame), and after the
  last ack the stub sends the MD5 of the data (16 raw bytes).
- Commands the chip does not have (GET_SECURITY_INFO on an ESP32, the stub commands in
  the ROM) get status 1, error 5.

The rules, as a table (state -> commands accepted; anything else gets an error reply):

    UNSYNCED  SYNC -> SYNCED
    SYNCED    SYNC, READ_REG, WRITE_REG, SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, SPI_FLASH_MD5,
              FLASH_BEGIN -> FLASHING, FLASH_DEFL_BEGIN -> DEFLATING, MEM_BEGIN -> LOADING,
              FLASH_END / FLASH_DEFL_END (see above), MEM_END;
              stub only: ERASE_FLASH, ERASE_REGION, READ_FLASH -> READING
    FLASHING  FLASH_DATA (in sequence, checksum ok), and every SYNCED command (an END -> SYNCED)
    DEFLATING FLASH_DEFL_DATA (in sequence), and every SYNCED command (an END -> SYNCED)
    LOADING   MEM_DATA (in sequence), and every SYNCED command
    READING   the host's acks only; the last one -> SYNCED

Registers hold what the chip would show: the chip-detect magic of an ESP32, eFuse words
giving the MAC and an ESP32-D0WD-V3, and the SPI controller answering RDID (0x9F) with
a 4 MiB Winbond flash, and read SFDP (0x5A) with the start of its SFDP table.
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
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SPI_SET_PARAMS, SPI_ATTACH, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END, SPI_FLASH_MD5 = 0x10, 0x11, 0x12, 0x13
ERASE_FLASH, ERASE_REGION, READ_FLASH = 0xD0, 0xD1, 0xD2

UNSYNCED, SYNCED, FLASHING, DEFLATING, LOADING, READING = (
    "UNSYNCED", "SYNCED", "FLASHING", "DEFLATING", "LOADING", "READING")
COMMON = {SYNC, READ_REG, WRITE_REG, SPI_ATTACH, SPI_SET_PARAMS, CHANGE_BAUDRATE, SPI_FLASH_MD5, FLASH_BEGIN,
          FLASH_DEFL_BEGIN, FLASH_END, FLASH_DEFL_END, MEM_BEGIN, MEM_END}
STUB_ONLY = {ERASE_FLASH, ERASE_REGION, READ_FLASH}
ACCEPTS = {UNSYNCED: {SYNC}, SYNCED: COMMON, FLASHING: COMMON | {FLASH_DATA},
           DEFLATING: COMMON | {FLASH_DEFL_DATA}, LOADING: COMMON | {MEM_DATA}, READING: set()}

# error codes in the second status byte
ERR_INVALID_MSG, ERR_BAD_DATA_LEN, ERR_BAD_CHECKSUM, ERR_FAILED = 0x05, 0xC0, 0xC1, 0xC2
SYNC_VALUE = 0x20120707  # the ROM answers SYNC with a non-zero value (the stub says 0)
SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32  # what a SYNC request carries
STUB_GREETING = b"OHAI"

CHIP_DETECT_MAGIC_ADDR, ESP32_MAGIC = 0x40001000, 0x00F01D83
EFUSE_BASE = 0x3FF5A000
SPI_BASE = 0x3FF42000
SPI_CMD, SPI_ADDR, SPI_USR2, SPI_W0 = SPI_BASE + 0x00, SPI_BASE + 0x04, SPI_BASE + 0x24, SPI_BASE + 0x80
SPI_CMD_USR = 1 << 18
RDID, RDSR, RDSFDP = 0x9F, 0x05, 0x5A
FLASH_ID = 0x1640EF  # Winbond (EF), type 0x40, capacity 0x16 = 4 MiB
# The start of the flash's SFDP table (JESD216): the "SFDP" signature, revision 1.6, two parameter headers
# (the JEDEC basic table, then Winbond's own, ID 0xEF).
SFDP = b"SFDP" + bytes([0x06, 0x01, 0x01, 0xFF, 0x00, 0x06, 0x01, 0x10, 0x80, 0x00, 0x00, 0xFF,
                        0xEF, 0x00, 0x01, 0x03, 0xD0, 0x00, 0x00, 0xFF])
FLASH_SIZE = 4 * 1024 * 1024
SECTOR = 0x1000


def checksum(data: bytes) -> int:
    state = 0xEF
    for b in data:
        state ^= b
    return state


@dataclass(frozen=True)
class FlashWritten:
    """A FLASH_BEGIN..END (or DEFL) sequence, or an erase, changed ``size`` bytes at ``offset``."""

    offset: int
    size: int


@dataclass(frozen=True)
class RunRequested:
    """The loader leaves download mode for the application in flash: ``reboot`` through a chip reset (the
    strapping pins are read again), else by jumping to it."""

    reboot: bool = False


@dataclass(frozen=True)
class StubStarted:
    """MEM_END started the program loaded into RAM at ``entry``: from now on the flasher stub answers."""

    entry: int


@dataclass(frozen=True)
class BackToRom:
    """The stub rebooted the chip into the ROM bootloader (its FLASH_END with the reboot flag)."""


class Flash:
    """SPI flash backed by a file: a file of the right size is kept as it is; a new one is erased (0xFF) and
    gets ``factory``'s contents (offset -> bytes), what the board left the factory with."""

    def __init__(self, path: Path, size: int = FLASH_SIZE, factory: dict[int, bytes] | None = None):
        self.path = Path(path)
        self.size = size
        if not self.path.exists() or self.path.stat().st_size != size:
            self.path.write_bytes(b"\xff" * size)
            if factory:
                for offset, data in factory.items():
                    self.write(offset, data)

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
class _Reading:
    """A stub READ_FLASH in progress: what is left to send, and how far the host has acked."""

    offset: int
    length: int
    block: int
    in_flight: int
    sent: int = 0
    acked: int = 0


@dataclass
class RomLoader:
    """The bootloader's state; ``receive(frame) -> (replies, events)``."""

    flash: Flash
    mac: bytes = bytes.fromhex("240ac4123456")
    state: str = UNSYNCED
    stub: bool = False
    regs: dict[int, int] = field(default_factory=dict)
    _begin: tuple[int, int, int, int] | None = None  # (size, blocks, block size, offset)
    _seq: int = 0
    _inflate: object | None = None
    _written: int = 0
    _erased_to: int = 0  # the stub's write has erased the flash up to here
    _ram: list[tuple[int, int]] = field(default_factory=list)  # (address, size) of the RAM segments loaded
    _reading: _Reading | None = None
    _md5: object | None = None

    def __post_init__(self) -> None:
        self.regs = {CHIP_DETECT_MAGIC_ADDR: ESP32_MAGIC, **efuse_words(self.mac), **self.regs}

    def receive(self, frame: bytes) -> tuple[list[bytes], list[object]]:
        if self.state == READING:
            return self._ack(frame)
        if len(frame) < 8 or frame[0] != 0x00:
            return [], []  # not a request (our own echo, noise that happened to be framed)
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8:8 + size]
        if len(data) != size:
            return [self._reply(op, error=ERR_BAD_DATA_LEN)], []
        if op not in ACCEPTS[self.state] | (STUB_ONLY if self.stub and self.state != UNSYNCED else set()):
            return [self._reply(op, error=ERR_INVALID_MSG)], []
        try:
            return getattr(self, f"_op_{op:02x}")(data, chk)
        except (struct.error, zlib.error, ValueError, TypeError):
            return [self._reply(op, error=ERR_FAILED)], []

    def _reply(self, op: int, value: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        status = bytes((1 if error else 0, error)) + (b"" if self.stub else b"\0\0")
        body = data + status
        return struct.pack("<BBHI", 0x01, op, len(body), value) + body

    # --- commands, one method each (named by opcode) -----------------------------------

    def _op_08(self, data, chk):  # SYNC
        if data != SYNC_DATA:
            return [self._reply(SYNC, error=ERR_INVALID_MSG)], []
        if self.state == UNSYNCED:
            self.state = SYNCED
        return [self._reply(SYNC, 0 if self.stub else SYNC_VALUE)] * 8, []

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
        elif command == RDSFDP:  # a 24-bit address, sent from the register's top bits
            at = self.regs.get(SPI_ADDR, 0) >> 8
            self.regs[SPI_W0] = int.from_bytes(SFDP[at:at + 4].ljust(4, b"\xff"), "little")
        self.regs[SPI_CMD] = 0

    def _op_0d(self, data, chk):  # SPI_ATTACH
        return [self._reply(SPI_ATTACH)], []

    def _op_0b(self, data, chk):  # SPI_SET_PARAMS
        return [self._reply(SPI_SET_PARAMS)], []

    def _op_0f(self, data, chk):  # CHANGE_BAUDRATE: new rate (and the old one, from the stub); a pty has none
        struct.unpack("<II", data[:8])
        return [self._reply(CHANGE_BAUDRATE)], []

    # --- writing the flash ----------------------------------------------------------------

    def _begin_write(self, op: int, data: bytes, state: str):
        size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        if offset + size > self.flash.size:
            return [self._reply(op, error=ERR_FAILED)], []
        if not self.stub:
            self.flash.erase(offset, size)  # the ROM erases up front; the stub as it writes
        self._begin = (size, blocks, block_size, offset)
        self._seq = 0
        self._written = 0
        self._erased_to = offset - offset % SECTOR
        self.state = state
        return [self._reply(op)], []

    def _op_02(self, data, chk):  # FLASH_BEGIN
        return self._begin_write(FLASH_BEGIN, data, FLASHING)

    def _op_10(self, data, chk):  # FLASH_DEFL_BEGIN
        self._inflate = zlib.decompressobj()
        return self._begin_write(FLASH_DEFL_BEGIN, data, DEFLATING)

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

    def _store(self, at: int, data: bytes) -> None:
        end = at + len(data)
        if self.stub and end > self._erased_to:  # the stub erases each sector as the write first reaches it
            self.flash.erase(self._erased_to, end - self._erased_to)
            self._erased_to = min(self.flash.size, -(-end // SECTOR) * SECTOR)
        self.flash.write(at, data)

    def _op_03(self, data, chk):  # FLASH_DATA: block ``seq`` at offset + seq * block size
        payload, error = self._block(FLASH_DATA, data, chk)
        if error:
            return [error], []
        size, _, block_size, offset = self._begin
        at = offset + (self._seq - 1) * block_size
        self._store(at, payload[:max(0, min(len(payload), offset + size - at, self.flash.size - at))])
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
        self._store(offset + self._written, out)
        self._written += len(out)
        return [self._reply(FLASH_DEFL_DATA)], []

    def _finish(self, op: int, data: bytes) -> tuple[list[bytes], list[object]]:
        events: list[object] = []
        if self.state in (FLASHING, DEFLATING) and self._begin is not None and self._written:
            events.append(FlashWritten(self._begin[3], self._written))
        self.state = SYNCED
        self._begin, self._inflate = None, None
        (flag,) = struct.unpack("<I", data[:4])
        reply = self._reply(op)
        if self.stub and flag == 0:
            self.stub, self.state = False, UNSYNCED
            events.append(BackToRom())
        elif not self.stub:
            events.append(RunRequested(reboot=flag == 0))
        return [reply], events

    def _op_04(self, data, chk):  # FLASH_END
        return self._finish(FLASH_END, data)

    def _op_12(self, data, chk):  # FLASH_DEFL_END
        return self._finish(FLASH_DEFL_END, data)

    def _op_13(self, data, chk):  # SPI_FLASH_MD5: address, size -> hex text (ROM) or the raw digest (stub)
        addr, size = struct.unpack("<II", data[:8])
        if addr + size > self.flash.size:
            return [self._reply(SPI_FLASH_MD5, error=ERR_FAILED)], []
        digest = hashlib.md5(self.flash.read(addr, size))
        answer = digest.digest() if self.stub else digest.hexdigest().encode("ascii")
        return [self._reply(SPI_FLASH_MD5, data=answer)], []

    # --- loading a program into RAM ----------------------------------------------------------

    def _op_05(self, data, chk):  # MEM_BEGIN: size, blocks, block size, address
        size, blocks, block_size, addr = struct.unpack("<IIII", data[:16])
        self._begin = (size, blocks, block_size, addr)
        self._seq = 0
        self._ram.append((addr, size))
        self.state = LOADING
        return [self._reply(MEM_BEGIN)], []

    def _op_07(self, data, chk):  # MEM_DATA: kept nowhere (the virtual chip runs no Xtensa code)
        _, error = self._block(MEM_DATA, data, chk)
        return [error or self._reply(MEM_DATA)], []

    def _op_06(self, data, chk):  # MEM_END: stay flag, entry address
        stay, entry = struct.unpack("<II", data[:8])
        self.state, self._begin = SYNCED, None
        reply = self._reply(MEM_END)
        if stay or self.stub:
            return [reply], []
        if not any(addr <= entry < addr + size for addr, size in self._ram):
            return [self._reply(MEM_END, error=ERR_FAILED)], []
        self.stub, self._ram = True, []
        return [reply, STUB_GREETING], [StubStarted(entry)]

    # --- the stub's own commands ------------------------------------------------------------

    def _op_d0(self, data, chk):  # ERASE_FLASH
        self.flash.erase(0, self.flash.size)
        return [self._reply(ERASE_FLASH)], [FlashWritten(0, self.flash.size)]

    def _op_d1(self, data, chk):  # ERASE_REGION: offset, size, both whole sectors
        offset, size = struct.unpack("<II", data[:8])
        if offset % SECTOR or size % SECTOR or offset + size > self.flash.size:
            return [self._reply(ERASE_REGION, error=ERR_FAILED)], []
        self.flash.erase(offset, size)
        return [self._reply(ERASE_REGION)], [FlashWritten(offset, size)]

    def _op_d2(self, data, chk):  # READ_FLASH: offset, length, block size, blocks in flight
        offset, length, block, in_flight = struct.unpack("<IIII", data[:16])
        if offset + length > self.flash.size or not block or not in_flight:
            return [self._reply(READ_FLASH, error=ERR_FAILED)], []
        self._reading = _Reading(offset, length, block, in_flight)
        self._md5 = hashlib.md5()
        self.state = READING
        return [self._reply(READ_FLASH), *self._send_blocks()], []

    def _send_blocks(self) -> list[bytes]:
        r, frames = self._reading, []
        while r.sent < r.length and r.sent - r.acked < r.in_flight * r.block:
            piece = self.flash.read(r.offset + r.sent, min(r.block, r.length - r.sent))
            self._md5.update(piece)
            r.sent += len(piece)
            frames.append(piece)
        return frames

    def _ack(self, frame: bytes) -> tuple[list[bytes], list[object]]:
        if len(frame) != 4:
            return [], []
        r = self._reading
        r.acked = max(r.acked, struct.unpack("<I", frame)[0])
        if r.acked < r.length:
            return self._send_blocks(), []
        digest = self._md5.digest()
        self._reading, self._md5, self.state = None, None, SYNCED
        return [digest], []


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def random_mac(seed: bytes | None = None) -> bytes:
    """An Espressif-OUI MAC (24:0a:c4:xx:xx:xx), random unless ``seed`` fixes it."""
    tail = hashlib.sha256(seed).digest()[:3] if seed is not None else os.urandom(3)
    return bytes.fromhex("240ac4") + tail
