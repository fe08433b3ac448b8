"""hil/esp_image.py: what the ESP32's boot accepts, judged against images built and read by esptool itself
(its ``bin_image`` module is the oracle), and against messages written out by hand."""

from __future__ import annotations

import os

import pytest
from esptool.bin_image import ELFSection, ESP32FirmwareImage, LoadFirmwareImage
from hypothesis import given, settings
from hypothesis import strategies as st

from hil.esp_image import factory_image, firmware_problem, image_problem


def esptool_image(*sizes: int, digest: bool = True, seed: bytes = b"") -> bytes:
    """An ESP32 application image laid out by esptool: one segment per size, random contents."""
    image = ESP32FirmwareImage()
    image.entrypoint = 0x40080000
    image.append_digest = digest
    image.segments = [ELFSection(b".seg%d" % n, 0x3FFB0000 + n * 0x10000, os.urandom(size), 0)
                      for n, size in enumerate(sizes)]
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"esp-image-{os.getpid()}-{os.urandom(4).hex()}.bin")
    try:
        image.save(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)


@pytest.mark.parametrize("sizes, digest", [((4,), True), ((1000, 3000), True), ((7, 4096, 13), False)])
def test_images_esptool_builds_are_valid(sizes, digest):
    assert image_problem(esptool_image(*sizes, digest=digest)) is None


def test_the_factory_image_is_one_esptool_reads_back_with_a_valid_checksum_and_digest():
    loaded = LoadFirmwareImage("esp32", factory_image(b"firmware as shipped"))
    assert loaded.checksum == loaded.calculate_checksum()
    assert loaded.stored_digest == loaded.calc_digest and len(loaded.segments) == 1


# the first four bytes (little-endian word) as the ROM prints them, by hand
BAD_HEADERS = [
    (b"\xff" * 64, "invalid header: 0xffffffff"),  # an erased flash
    (b"\x00" * 64, "invalid header: 0x00000000"),
    (b"\x12\x34\x56\x78" + b"\0" * 60, "invalid header: 0x78563412"),
    (b"\xe9", "invalid header: 0xffffffe9"),  # shorter than a header
]


@pytest.mark.parametrize("data, message", BAD_HEADERS)
def test_a_bad_magic_byte_is_refused_as_the_rom_words_it(data, message):
    assert image_problem(data) == message


def test_a_changed_checksum_byte_or_digest_is_refused():
    image = bytearray(esptool_image(1000))
    checksum_at = len(image) - 33  # the byte before the 32-byte SHA-256
    stored = image[checksum_at]
    image[checksum_at] ^= 0x5A
    assert image_problem(bytes(image)) == (f"Checksum failed. Calculated {stored:#04x} read "
                                           f"{stored ^ 0x5A:#04x}")
    image[checksum_at] ^= 0x5A
    image[-1] ^= 1
    assert image_problem(bytes(image)) == "Image hash failed - image is corrupt"


def test_segment_counts_and_lengths_that_do_not_fit_are_refused():
    image = bytearray(esptool_image(100))
    image[1] = 0
    assert image_problem(bytes(image)) == "invalid segment count 0"
    image[1] = 17  # more than the 16 a bootloader takes
    assert image_problem(bytes(image)) == "invalid segment count 17"
    assert "runs past the end" in image_problem(esptool_image(5000)[:3000])


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_any_single_changed_byte_of_segment_data_is_caught(data):
    """The checksum (and, with the digest, the SHA-256) covers every byte of every segment."""
    image = bytearray(esptool_image(64, 200, digest=data.draw(st.booleans())))
    first, second = 24 + 8, 24 + 8 + 64 + 8  # segment data starts after the header and each segment header
    at = data.draw(st.one_of(st.integers(first, first + 63), st.integers(second, second + 199)))
    image[at] ^= data.draw(st.integers(1, 255))
    assert image_problem(bytes(image)) is not None


def test_a_merged_image_from_0x1000_is_checked_down_to_its_application_at_0x10000():
    bootloader, app = esptool_image(500), esptool_image(2000)
    merged = bootloader + b"\xff" * (0xF000 - len(bootloader)) + app
    assert firmware_problem(merged, 0x1000) is None
    broken = merged[:0xF000] + b"\xff" * 16 + merged[0xF010:]
    assert firmware_problem(broken, 0x1000) == "the application at 0x10000: invalid header: 0xffffffff"
    assert firmware_problem(app, 0x10000) is None
