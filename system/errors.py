"""The exception tree of hilsim and its system.

Refusals of input are values (counted and traced), not exceptions that escape a
service; the classes below are what a caller can act on::

    HilsimError
     +-- ScenarioError        a scenario file that cannot be run (file, line, what is wrong)
     +-- ConfigError          a configuration mistake: a command-line option, a config, selectors or
                              password file, a store file written by newer code (where: the file or
                              option; key; reason); commands exit 2 with its one line
     +-- ConnectionLost       a link or session to a peer broke; the caller may reconnect
     +-- QueueFull            put_nowait() on a bounded runtime queue that is full
     +-- RefusedInput         raised inside pure decoders, turned into a counted refusal by services
     +-- BackendError         a hardware or network backend failed (relay, serial board, push target)

Timeouts use the builtin ``TimeoutError`` in every runtime, as asyncio does.
"""

from __future__ import annotations


class HilsimError(Exception):
    """Base class of every error hilsim raises on purpose."""


class ScenarioError(HilsimError):
    """A scenario file is unusable. ``str()`` names the file, the line and the fix."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.message = message
        self.file = file
        self.line = line
        where = file or "<scenario>"
        if line is not None:
            where = f"{where}:{line}"
        super().__init__(f"{where}: {message}")


class ConfigError(HilsimError, ValueError):
    """A configuration mistake: ``source`` is the file or option (``--relay``, ``selectors.toml``), ``key`` the
    key in it (None when the whole value is wrong), ``line`` the file's line where known, ``reason`` the fix.

    Also a ``ValueError``, so code that validated values with ``ValueError`` before still catches it.
    ``str()`` is one line for the user: ``selectors.toml:3: key 'rows': unknown key; known: row, home, ...``.
    """

    def __init__(self, reason: str, *, source: str | None = None, key: str | None = None, line: int | None = None):
        self.reason = reason
        self.source = source
        self.key = key
        self.line = line
        where = source or ""
        if source is not None and line is not None:
            where = f"{where}:{line}"
        head = ": ".join(part for part in (where, f"key {key!r}" if key else "") if part)
        super().__init__(f"{head}: {reason}" if head else reason)


class ConnectionLost(HilsimError, ConnectionError):
    """The connection to a peer broke before the operation completed.

    Also a ``ConnectionError`` (an ``OSError``), so firmware that catches ``OSError``
    as MicroPython's umqtt raises it handles the simulated network the same way.
    """


class QueueFull(HilsimError):
    """A bounded queue refused an item."""


class RefusedInput(HilsimError):
    """An input was refused; ``reason`` is a short stable code used in counters."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}" if detail else reason)


class BackendError(HilsimError):
    """A backend (GPIO, serial relay board, HTTP push target) failed."""
