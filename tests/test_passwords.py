"""Password hashes (system/adapters/passwords.py): Mosquitto's ``$7$`` lines, judged by Mosquitto's own
``mosquitto_passwd``, and the Argon2 lines written before."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess

import pytest

from system.adapters.amqtt_broker import read_password_file
from system.adapters.passwords import (dummy_hash_like, hash_device_password, hash_password, is_known_format,
                                       verify_password)


def _mosquitto_passwd(path, user: str, password: str) -> str:
    if not shutil.which("mosquitto_passwd"):
        pytest.skip("mosquitto_passwd (Debian package mosquitto) not installed")
    path.touch()
    subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True, capture_output=True, timeout=30)
    return next(line for line in path.read_text().splitlines() if line.startswith(user + ":")).split(":", 1)[1]


def test_a_hash_written_by_mosquitto_passwd_verifies(tmp_path):
    stored = _mosquitto_passwd(tmp_path / "passwd", "node-1", "s3cret with spaces ü")
    assert stored.startswith("$7$")
    assert verify_password("s3cret with spaces ü", stored)
    assert not verify_password("s3cret with spaces u", stored)
    assert not verify_password("", stored)


def test_a_file_written_by_mosquitto_passwd_is_read_with_its_argon2_neighbours(tmp_path):
    path = tmp_path / "passwd"
    _mosquitto_passwd(path, "node-1", "one")
    _mosquitto_passwd(path, "node-2", "two")
    with path.open("a") as out:
        out.write(f"# written before\nold:{hash_password('three', time_cost=1, memory_cost=1024)}\n")
    users = read_password_file(path)
    assert sorted(users) == ["node-1", "node-2", "old"]
    assert verify_password("two", users["node-2"]) and verify_password("three", users["old"])
    assert not verify_password("one", users["node-2"])


def test_our_line_is_pbkdf2_sha512_as_the_format_says():
    """Recomputed here from the format's definition (hashlib, base64), not through our verifier."""
    salt = bytes(range(12))
    line = hash_device_password("pw", iterations=1000, salt=salt)
    iterations, salt_b64, digest_b64 = line.split("$")[2:]
    assert iterations == "1000" and base64.b64decode(salt_b64) == salt
    assert base64.b64decode(digest_b64) == hashlib.pbkdf2_hmac("sha512", b"pw", salt, 1000, 64)


@pytest.mark.parametrize("stored", ["$7$", "$7$x$AAAA$AAAA", "$7$1000$not base64!$AAAA", "$6$abc$def", "plain",
                                    "$argon2id$broken"])
def test_a_malformed_hash_never_matches(stored):
    assert not verify_password("anything", stored)


def test_the_dummy_hash_is_of_the_same_kind_and_cost():
    real = hash_device_password("pw", iterations=4321)
    dummy = dummy_hash_like(real)
    assert dummy.split("$")[:3] == ["", "7", "4321"] and is_known_format(dummy)
    argon = hash_password("pw", time_cost=1, memory_cost=1024)
    assert dummy_hash_like(argon).rsplit("$", 1)[0] == argon.rsplit("$", 1)[0]
    assert not verify_password("pw", dummy_hash_like(argon))
