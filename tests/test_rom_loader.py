"""hil/slip.py and hil/rom_loader.py: SLIP framing and the ESP32 ROM bootloader as a state machine,
driven with request bytes as esptool lays them out (the real esptool is in test_virtual_board_esptool.py)."""

from __future__ import annotations

import functools
import hashlib
import os
import operator
import struct
import zlib

import pytest
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


def rom_checksum(data: bytes) -> int:
    """The ROM's checksum computed here, independently of the loader: 0xEF XORed with every data byte."""
    return functools.reduce(operator.xor, data, 0xEF)


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
                                     rom_checksum(blocks[0])))
    assert reply(replies[0])[3] == (1, rl.ERR_BAD_CHECKSUM)
    for seq, block in enumerate(blocks):
        replies, _ = rom.receive(request(rl.FLASH_DEFL_DATA, struct.pack("<IIII", len(block), seq, 0, 0) + block,
                                         rom_checksum(block)))
        assert reply(replies[0])[3] == (0, 0)
    replies, events = rom.receive(request(rl.FLASH_DEFL_END, struct.pack("<I", 0)))
    assert events == [rl.FlashWritten(0x10000, len(image)), rl.RunRequested(reboot=True)]  # word 0: reboot
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
                                     rom_checksum(block)))
    assert reply(replies[0])[3] == (1, rl.ERR_FAILED)


def test_rdid_through_the_spi_registers_reports_a_4_mib_flash(tmp_path):
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_USR2, (7 << 28) | rl.RDID, 0xFFFFFFFF, 0)))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_CMD, rl.SPI_CMD_USR, 0xFFFFFFFF, 0)))
    assert reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.SPI_CMD)))[0][0])[1] == 0
    flash_id = reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.SPI_W0)))[0][0])[1]
    assert (flash_id >> 16) & 0xFF == 0x16  # 2**0x16 bytes = 4 MiB


# -- the ROM checksum and SLIP frames, against values written out by hand ----------------------

# data -> the ROM checksum, worked out by hand: 0xEF XOR each byte (an even number of equal bytes cancels)
ROM_CHECKSUMS = [
    (b"", 0xEF),                       # the seed alone
    (b"\x00", 0xEF),
    (b"\xef", 0x00),
    (b"\xff", 0x10),                   # 1110 1111 ^ 1111 1111
    (b"\x01\x02\x04", 0xE8),           # 0xEF ^ 0x07
    (b"\x12\x34\x56\x78", 0xE7),       # 0x12 ^ 0x34 ^ 0x56 ^ 0x78 = 0x08; 0x08 ^ 0xEF
    (b"\xaa" * 3, 0x45),               # 0xEF ^ 0xAA
    (b"\xaa" * 4096, 0xEF),
    (bytes(range(256)), 0xEF),         # 0 ^ 1 ^ ... ^ 255 = 0
]


def test_rom_checksum_rule_is_0xef_xor_every_data_byte():
    """ROM checksum rule: the checksum of a flash block is 0xEF XORed with every data byte (values by hand)."""
    assert [rl.checksum(data) for data, _ in ROM_CHECKSUMS] == [want for _, want in ROM_CHECKSUMS]
    assert [rom_checksum(data) for data, _ in ROM_CHECKSUMS] == [want for _, want in ROM_CHECKSUMS]  # the helper


def test_rom_checksum_rule_a_flash_block_is_taken_with_the_seeded_checksum_and_refused_without_the_seed(tmp_path):
    """ROM checksum rule, through the loader: FLASH_DATA and FLASH_DEFL_DATA take a block whose ``chk`` is
    0xEF XOR its bytes (0xE7 for 12 34 56 78) and refuse the unseeded XOR (0x08) with error 0xC1."""
    block = b"\x12\x34\x56\x78"
    header = struct.pack("<IIII", 4, 0, 0, 0)
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.FLASH_BEGIN, struct.pack("<IIII", 4, 1, 4, 0x10000)))
    assert rom.receive(request(rl.FLASH_DATA, header + block, 0x08))[0] == [
        bytes([0x01, rl.FLASH_DATA, 4, 0, 0, 0, 0, 0, 0x01, 0xC1, 0x00, 0x00])]
    assert rom.receive(request(rl.FLASH_DATA, header + block, 0xE7))[0] == [
        bytes([0x01, rl.FLASH_DATA, 4, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00, 0x00])]
    packed = zlib.compress(block)
    chk = functools.reduce(operator.xor, packed, 0xEF)
    header = struct.pack("<IIII", len(packed), 0, 0, 0)
    rom.receive(request(rl.FLASH_DEFL_BEGIN, struct.pack("<IIII", 4, 1, 1024, 0x20000)))
    assert reply(rom.receive(request(rl.FLASH_DEFL_DATA, header + packed, chk ^ 0xEF))[0][0])[3] == (1, 0xC1)
    assert reply(rom.receive(request(rl.FLASH_DEFL_DATA, header + packed, chk))[0][0])[3] == (0, 0)


# payload -> its SLIP frame, byte by byte: END = C0, ESC = DB; C0 inside is DB DC, DB inside is DB DD
SLIP_FRAMES = [
    (b"\x01", bytes([0xC0, 0x01, 0xC0])),
    (b"\xc0", bytes([0xC0, 0xDB, 0xDC, 0xC0])),
    (b"\xdb", bytes([0xC0, 0xDB, 0xDD, 0xC0])),
    (b"\xdb\xdc", bytes([0xC0, 0xDB, 0xDD, 0xDC, 0xC0])),      # an escaped ESC followed by a plain DC
    (b"\xdb\xdd", bytes([0xC0, 0xDB, 0xDD, 0xDD, 0xC0])),
    (b"\x01\xc0\xdb\x02", bytes([0xC0, 0x01, 0xDB, 0xDC, 0xDB, 0xDD, 0x02, 0xC0])),
    (b"\xc0\xc0", bytes([0xC0, 0xDB, 0xDC, 0xDB, 0xDC, 0xC0])),
    (b"\xdc\xdd", bytes([0xC0, 0xDC, 0xDD, 0xC0])),             # DC and DD alone are plain bytes
]


@pytest.mark.parametrize("payload, frame", SLIP_FRAMES)
def test_slip_escape_rule_frames_written_out_byte_by_byte(payload, frame):
    """SLIP escape rule (RFC 1055): a frame is C0 payload C0 with C0 sent as DB DC and DB as DB DD; the
    decoder reads each hand-written frame back to its payload."""
    assert encode(payload) == frame
    dec = SlipDecoder()
    assert dec.feed(frame) == [payload] and dec.bad_frames == 0


@pytest.mark.parametrize("bad", [0x00, 0x01, 0xDB, 0xC0, 0xDE, 0xFF])
def test_slip_invalid_escape_rule_drops_the_frame_and_counts_it(bad):
    """SLIP invalid escape rule: ESC followed by anything but DC or DD drops the frame being read (it is
    counted in ``bad_frames``, never delivered), and the next well-formed frame is read as usual."""
    dec = SlipDecoder()
    broken = bytes([0xC0, 0x01, 0xDB, bad, 0x02, 0xC0])
    following = bytes([0xC0, 0x05, 0xDB, 0xDC, 0xC0])
    assert dec.feed(broken + following) == [b"\x05\xc0"]
    assert dec.bad_frames == 1


# -- the flasher stub: uploaded through MEM_BEGIN/DATA/END, then the stub's own commands -------------------

STUB_TEXT_AT, STUB_ENTRY = 0x400BE000, 0x400BE598


def stub_loader(tmp_path) -> rl.RomLoader:
    """A loader that has taken a stub upload (one RAM segment, entry inside it) as esptool sends it."""
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    text = bytes(range(256)) * 8
    assert reply(rom.receive(request(rl.MEM_BEGIN, struct.pack("<IIII", len(text), 1, 0x1800, STUB_TEXT_AT)))
                 [0][0])[3] == (0, 0)
    replies, _ = rom.receive(request(rl.MEM_DATA, struct.pack("<IIII", len(text), 0, 0, 0) + text,
                                     rom_checksum(text)))
    assert reply(replies[0])[3] == (0, 0)
    replies, events = rom.receive(request(rl.MEM_END, struct.pack("<II", 0, STUB_ENTRY)))
    assert replies[1] == b"OHAI" and events == [rl.StubStarted(STUB_ENTRY)]
    return rom


def stub_reply(raw: bytes) -> tuple[int, int, bytes, tuple[int, int]]:
    """(op, value, data, (status, error)) of one stub reply: two status bytes, not the ROM's four."""
    _, op, size, value = struct.unpack("<BBHI", raw[:8])
    body = raw[8:8 + size]
    return op, value, body[:-2], (body[-2], body[-1])


def test_the_stub_upload_is_greeted_and_the_stub_then_answers_sync_with_zero_and_two_status_bytes(tmp_path):
    rom = stub_loader(tmp_path)
    replies, _ = rom.receive(request(rl.SYNC, SYNC_DATA))
    assert len(replies) == 8 and replies[0] == bytes([1, rl.SYNC, 2, 0, 0, 0, 0, 0, 0, 0])
    # the ROM refuses what only the stub has
    rom2 = rl.RomLoader(rl.Flash(tmp_path / "rom-only.bin"))
    rom2.receive(request(rl.SYNC, SYNC_DATA))
    assert reply(rom2.receive(request(rl.ERASE_FLASH))[0][0])[3] == (1, rl.ERR_INVALID_MSG)


def test_mem_end_with_an_entry_outside_the_loaded_ram_or_the_stay_flag_starts_nothing(tmp_path):
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.MEM_BEGIN, struct.pack("<IIII", 4, 1, 0x1800, STUB_TEXT_AT)))
    rom.receive(request(rl.MEM_DATA, struct.pack("<IIII", 4, 0, 0, 0) + b"abcd", rom_checksum(b"abcd")))
    replies, events = rom.receive(request(rl.MEM_END, struct.pack("<II", 1, 0)))
    assert len(replies) == 1 and events == [] and not rom.stub
    replies, events = rom.receive(request(rl.MEM_END, struct.pack("<II", 0, 0x3FFB0000)))
    assert reply(replies[0])[3] == (1, rl.ERR_FAILED) and events == []


# FLASH_END's word -> what the chip does, from esptool's loader (flash_finish sends int(not reboot))
END_FLAGS = [
    (False, 1, [rl.RunRequested(reboot=False)]),  # ROM: run the application (esptool run, soft reset)
    (False, 0, [rl.RunRequested(reboot=True)]),   # ROM: reboot
    (True, 1, []),                                # stub: stay (the end of every write)
    (True, 0, [rl.BackToRom()]),                  # stub: reboot into the ROM bootloader
]


@pytest.mark.parametrize("stub, flag, events", END_FLAGS)
def test_flash_end_flag_rule(tmp_path, stub, flag, events):
    rom = stub_loader(tmp_path) if stub else loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.FLASH_BEGIN, struct.pack("<IIIII" if stub else "<IIII", 0, 0, 0x400, 0,
                                                    *([0] if stub else []))))
    assert rom.receive(request(rl.FLASH_END, struct.pack("<I", flag)))[1] == events


def test_the_stub_streams_a_flash_read_block_by_block_as_acked_and_ends_with_the_md5(tmp_path):
    rom = stub_loader(tmp_path)
    content = os.urandom(3 * 4096 + 100)
    rl.Flash(tmp_path / "flash.bin").write(0x20000, content)
    replies, _ = rom.receive(request(rl.READ_FLASH, struct.pack("<IIII", 0x20000, len(content), 4096, 2)))
    assert stub_reply(replies[0])[3] == (0, 0)
    got = replies[1:]
    assert [len(b) for b in got] == [4096, 4096]  # two in flight, then it waits for acks
    assert rom.receive(b"\x00\x10\x00\x00")[0] == [content[8192:12288]]  # ack 4096 bytes: one more block
    got.append(content[8192:12288])
    more, _ = rom.receive(struct.pack("<I", 8192))
    assert more == [content[12288:]]
    got += more
    assert rom.receive(struct.pack("<I", 12288))[0] == []  # not all acked yet
    digest, _ = rom.receive(struct.pack("<I", len(content)))
    assert b"".join(got) == content and digest == [hashlib.md5(content).digest()]
    assert rom.state == rl.SYNCED


def test_the_stub_erases_regions_by_whole_sectors_and_all_the_flash(tmp_path):
    rom = stub_loader(tmp_path)
    flash = rl.Flash(tmp_path / "flash.bin")
    flash.write(0, b"\x00" * 0x3000)
    assert stub_reply(rom.receive(request(rl.ERASE_REGION, struct.pack("<II", 0x1000, 0x800)))[0][0])[3] == (
        1, rl.ERR_FAILED)
    rom.receive(request(rl.ERASE_REGION, struct.pack("<II", 0x1000, 0x1000)))
    assert flash.read(0, 0x3000) == b"\x00" * 0x1000 + b"\xff" * 0x1000 + b"\x00" * 0x1000
    rom.receive(request(rl.ERASE_FLASH))
    assert flash.read(0, flash.size) == b"\xff" * flash.size


def test_the_stub_inflates_a_write_that_starts_mid_sector_without_erasing_what_it_just_wrote(tmp_path):
    """The stub erases as it writes: pieces of the zlib stream land in sectors already erased, and the bytes
    the write came with are the ones read back; its MD5 answer is the raw 16-byte digest."""
    rom = stub_loader(tmp_path)
    image = os.urandom(10000)
    packed = zlib.compress(image)
    blocks = [packed[i:i + 700] for i in range(0, len(packed), 700)]
    rom.receive(request(rl.FLASH_DEFL_BEGIN, struct.pack("<IIIII", len(image), len(blocks), 700, 0x30000, 0)))
    for seq, block in enumerate(blocks):
        replies, _ = rom.receive(request(rl.FLASH_DEFL_DATA, struct.pack("<IIII", len(block), seq, 0, 0) + block,
                                         rom_checksum(block)))
        assert stub_reply(replies[0])[3] == (0, 0)
    replies, _ = rom.receive(request(rl.SPI_FLASH_MD5, struct.pack("<IIII", 0x30000, len(image), 0, 0)))
    assert stub_reply(replies[0])[2] == hashlib.md5(image).digest()


def test_read_sfdp_through_the_spi_registers_finds_the_sfdp_signature(tmp_path):
    """esptool checks that a flash is attached by reading SFDP address 0 (command 0x5A, a 24-bit address in the
    top bits of SPI_ADDR): the word is "SFDP" read little-endian."""
    rom = loader(tmp_path)
    rom.receive(request(rl.SYNC, SYNC_DATA))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_USR2, (7 << 28) | 0x5A, 0xFFFFFFFF, 0)))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_BASE + 4, 0 << 8, 0xFFFFFFFF, 0)))
    rom.receive(request(rl.WRITE_REG, struct.pack("<IIII", rl.SPI_CMD, rl.SPI_CMD_USR, 0xFFFFFFFF, 0)))
    word = reply(rom.receive(request(rl.READ_REG, struct.pack("<I", rl.SPI_W0)))[0][0])[1]
    assert word == 0x50444653 and word.to_bytes(4, "little") == b"SFDP"
