"""hil/slip.py and hil/rom_loader.py: SLIP framing and the ESP32 ROM bootloader as a state machine,
driven with request bytes as esptool lays them out (the real esptool is in test_virtual_board.py)."""

from __future__ import annotations

import hashlib
import struct
import zlib

from hypothesis import given
from hypothesis import strategies as st

from hil import rom_loader as rl
from hil.slip import SlipDecoder, encode


def request(op: int, data: bytes = b"", chk: int = 0) -> bytes:
    return struct.pack("<BBHI", 0, op, len(data), chk) + data


def reply(raw: bytes) -> tuple[int, int, bytes, tuple[int, int]]:
    """(op, value, data, (status, error)) of one ROM reply."""
    _, op, size, value = struct.unpack("<BBHI", raw[:8])
    body = raw[8:8 + size]
    return op, value, body[:-4], (body[-4], body[-3])


SYNC_DATA = b"\x07\x07\x12\x20" + b"\x55" * 32


@given(st.lists(st.binary(min_size=1, max_size=200), max_size=6), st.binary(max_size=50), st.integers(1, 40))
def test_slip_frames_survive_escaping_chunking_and_noise_between_frames(payloads, noise, step):
    noise = noise.replace(b"\xc0", b"")
    stream = noise + b"".join(encode(p) for p in payloads)
    dec, got = SlipDecoder(), []
    for i in range(0, len(stream), step):
        got += dec.feed(stream[i:i + step])
    assert got == payloads and dec.outside == len(noise)


def loader(tmp_path) -> rl.RomLoader:
    return rl.RomLoader(rl.Flash(tmp_path / "flash.bin"), mac=bytes.fromhex("240ac4abcdef"))


def test_nothing_but_sync_is_answered_until_synced_and_sync_is_answered_eight_times(tmp_path):
    rom = loader(tmp_path)
    replies, _ = rom.receive(request(rl.READ_REG, struct.pack("<I", rl.CHIP_DETECT_MAGIC_ADDR)))
    assert reply(replies[0])[3] == (1, rl.ERR_INVALID_MSG)
    replies, _ = rom.receive(request(rl.SYNC, SYNC_DATA))
    assert len(replies) == 8 and all(reply(r)[:2] == (rl.SYNC, rl.SYNC_VALUE) for r in replies)
    replies, _ = rom.receive(request(rl.READ_REG, struct.pack("<I", rl.CHIP_DETECT_MAGIC_ADDR)))
    assert reply(replies[0])[1] == rl.ESP32_MAGIC
    # the MAC is in eFuse words 2 (high bytes) and 1 (low four), as esptool reads an ESP32's
    words = [reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.EFUSE_BASE + 4 * n)))[0][0])[1]
             for n in (2, 1)]
    assert struct.pack(">II", *words)[2:] == bytes.fromhex("240ac4abcdef")
    assert reply(rom.receive(request(0x14))[0][0])[3] == (1, rl.ERR_INVALID_MSG)  # no GET_SECURITY_INFO in ROM


def test_a_deflated_write_lands_in_the_flash_file_and_md5_answers_in_hex(tmp_path):
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    image = bytes(range(256)) * 40
    packed = zlib.compress(image)
    blocks = [packed[i:i + 1024] for i in range(0, len(packed), 1024)]
    ok = rom.receive(request(rl.FLASH_DEFL_BEGIN, struct.pack("<IIII", len(image), len(blocks), 1024, 0x10000)))
    assert reply(ok[0][0])[3] == (0, 0)
    bad = blocks[0][:-1] + bytes((blocks[0][-1] ^ 1,))
    replies, _ = rom.receive(request(rl.FLASH_DEFL_DATA, struct.pack("<IIII", len(bad), 0, 0, 0) + bad,
                                     rl.checksum(blocks[0])))
    assert reply(replies[0])[3] == (1, rl.ERR_BAD_CHECKSUM)
    for seq, block in enumerate(blocks):
        replies, _ = rom.receive(request(rl.FLASH_DEFL_DATA, struct.pack("<IIII", len(block), seq, 0, 0) + block,
                                         rl.checksum(block)))
        assert reply(replies[0])[3] == (0, 0)
    replies, events = rom.receive(request(rl.FLASH_DEFL_END, struct.pack("<I", 0)))
    assert events == [rl.FlashWritten(0x10000, len(image)), rl.RunRequested()]
    assert rl.Flash(tmp_path / "flash.bin").read(0x10000, len(image)) == image  # persisted
    replies, _ = rom.receive(request(rl.SPI_FLASH_MD5, struct.pack("<IIII", 0x10000, len(image), 0, 0)))
    assert reply(replies[0])[2] == hashlib.md5(image).hexdigest().encode()


def test_flash_write_out_of_sequence_or_past_the_end_is_refused(tmp_path):
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    assert reply(rom.receive(request(rl.FLASH_BEGIN, struct.pack("<IIII", 8192, 2, 4096, rl.FLASH_SIZE - 4096)))
                 [0][0])[3] == (1, rl.ERR_FAILED)
    rom.receive(request(rl.FLASH_BEGIN, struct.pack("<IIII", 8192, 2, 4096, 0)))
    block = b"\xaa" * 4096
    replies, _ = rom.receive(request(rl.FLASH_DATA, struct.pack("<IIII", 4096, 1, 0, 0) + block,
                                     rl.checksum(block)))
    assert reply(replies[0])[3] == (1, rl.ERR_FAILED)


def test_rdid_through_the_spi_registers_reports_a_4_mib_flash(tmp_path):
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_USR2, (7 << 28) | rl.RDID, 0xFFFFFFFF, 0)))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_CMD, rl.SPI_CMD_USR, 0xFFFFFFFF, 0)))
    assert reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.SPI_CMD)))[0][0])[1] == 0
    flash_id = reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.SPI_W0)))[0][0])[1]
    assert (flash_id >> 16) & 0xFF == 0x16  # 2**0x16 bytes = 4 MiB
