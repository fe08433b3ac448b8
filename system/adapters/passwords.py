"""Password hashing for everything that lets people or devices in: the broker and the cloud service.

Argon2id through pwdlib; the cost parameters travel inside each hash, so a hash made with
test-only low costs still verifies, and raising the costs later keeps old hashes valid. A server checks
passwords through :class:`PasswordPool` (a bounded thread pool), never on its event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

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
