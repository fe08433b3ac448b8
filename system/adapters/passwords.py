"""Password hashing for everything that lets people or devices in: the broker and the cloud service.

Two formats, told apart by their prefix; the cost parameters travel inside each hash, so raising
the costs later keeps old hashes valid:

- **Argon2id** (``$argon2id$...``, through pwdlib) for passwords that people choose (the cloud's
  dashboard users). Memory-hard and slow on purpose: about 0.2 s a check.
- **PBKDF2-SHA512 in Mosquitto's own format** (``$7$<iterations>$<salt>$<hash>``, base64, a
  12-byte salt and a 64-byte hash) for the broker's device accounts. Why: one password file then
  serves both brokers (``hilsim broker`` and Mosquitto, whose ``mosquitto_passwd`` writes the same
  lines), and a fleet's reconnect storm stays short. After a broker restart every node logs in
  at once; at Argon2's 0.2 s, 1,000 nodes wait about 90 s on two cores, while PBKDF2 at
  :data:`DEVICE_ITERATIONS` costs about 0.5 ms a check (Mosquitto itself uses 101 iterations).
  Device passwords should be generated secrets of at least 128 bits, for which a slow hash adds
  little: nobody guesses them, and a stolen file gives no dictionary to try.

The broker keeps reading Argon2 lines written before (a file may mix both); only Mosquitto
cannot read them.

A server checks passwords through :class:`PasswordPool` (a bounded thread pool), never on its
event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
from concurrent.futures import ThreadPoolExecutor

from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = Argon2Hasher()
DEVICE_ITERATIONS = 1000
_SALT_BYTES = 12
_HASH_BYTES = 64


def hash_password(password: str, *, time_cost: int = 3, memory_cost: int = 65536) -> str:
    """An Argon2id hash of ``password`` (the cost parameters travel inside the hash).

    Lower costs are for tests only: they make a brute-force attack cheap too.
    """
    return Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1).hash(password)


def hash_device_password(password: str, *, iterations: int = DEVICE_ITERATIONS, salt: bytes | None = None) -> str:
    """A ``$7$`` PBKDF2-SHA512 hash of ``password``, as Mosquitto's password file holds it."""
    salt = os.urandom(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, _HASH_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def is_known_format(password_hash: str) -> bool:
    """True for the formats :func:`verify_password` reads (Argon2 and Mosquitto's ``$7$``)."""
    return password_hash.startswith("$argon2") or _pbkdf2_parts(password_hash) is not None


def verify_password(password: str, password_hash: str) -> bool:
    """True if ``password`` matches ``password_hash``; a malformed hash never matches."""
    parts = _pbkdf2_parts(password_hash)
    if parts is not None:
        iterations, salt, expected = parts
        digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, iterations, len(expected))
        return hmac.compare_digest(digest, expected)
    try:
        return _HASHER.verify(password, password_hash)
    except Exception:  # a corrupt stored hash must refuse the login, not crash the server
        return False


def dummy_hash_like(password_hash: str | None) -> str:
    """A hash of a random password that costs as much to check as ``password_hash``.

    Checked for an unknown user, so that refusing an unknown name takes as long as refusing a
    known name with a wrong password (the time must not tell which names exist).
    """
    parts = _pbkdf2_parts(password_hash or "")
    if parts is not None:
        return hash_device_password(os.urandom(16).hex(), iterations=parts[0])
    if password_hash and password_hash.startswith("$argon2"):
        return password_hash.rsplit("$", 1)[0] + "$" + base64.b64encode(os.urandom(32)).decode().rstrip("=")
    return hash_device_password(os.urandom(16).hex())


def _pbkdf2_parts(password_hash: str) -> tuple[int, bytes, bytes] | None:
    fields = password_hash.split("$")
    if len(fields) != 5 or fields[0] != "" or fields[1] != "7" or not fields[2].isdigit():
        return None
    try:
        salt = base64.b64decode(fields[3], validate=True)
        digest = base64.b64decode(fields[4], validate=True)
    except ValueError:
        return None
    iterations = int(fields[2])
    return (iterations, salt, digest) if 0 < iterations <= 10_000_000 and digest else None


class PasswordPool:
    """Password checks off the event loop: at most ``workers`` Argon2 runs at once in a thread pool (Argon2
    releases the GIL), at most ``waiting`` more queued; beyond that :meth:`verify` raises :class:`Busy` at
    once. So a login flood costs the server ``workers`` cores, and every other request still gets its answer.
    """

    def __init__(self, workers: int = 2, waiting: int = 32):
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._slots = asyncio.Semaphore(workers + waiting)

    async def verify(self, password: str, password_hash: str) -> bool:
        if self._slots.locked():
            raise Busy("too many logins at once")
        async with self._slots:
            return await asyncio.get_running_loop().run_in_executor(self._pool, verify_password, password,
                                                                    password_hash)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


class Busy(Exception):
    """Every password-check slot is taken: answer 503 and let the client try again."""


async def verify_inline(password: str, password_hash: str) -> bool:
    """The password check on the caller's own thread (the simulated world, where there is one thread)."""
    return verify_password(password, password_hash)
