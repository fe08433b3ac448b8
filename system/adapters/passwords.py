"""Password hashing for everything that lets people or devices in: the broker and the cloud service.

Argon2id through pwdlib; the cost parameters travel inside each hash, so a hash made with
test-only low costs still verifies, and raising the costs later keeps old hashes valid.
"""

from __future__ import annotations

from pwdlib.hashers.argon2 import Argon2Hasher

_HASHER = Argon2Hasher()


def hash_password(password: str, *, time_cost: int = 3, memory_cost: int = 65536) -> str:
    """An Argon2id hash of ``password`` (the cost parameters travel inside the hash).

    Lower costs are for tests only: they make a brute-force attack cheap too.
    """
    return Argon2Hasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=1).hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    """True if ``password`` matches ``password_hash``; a malformed hash never matches."""
    try:
        return _HASHER.verify(password, password_hash)
    except Exception:  # a corrupt stored hash must refuse the login, not crash the server
        return False
