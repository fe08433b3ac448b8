"""Durations as people write them: the one reader, for scenario files and command-line options alike.

A duration is one or more parts, each a number and a unit: ``ms``, ``s``, ``m``, ``h``, ``d``
(``90s``, ``10m``, ``2h30m``, ``1d``, ``250ms``, ``1.5h``). Spaces are ignored and units may be
written in capitals; the parts add up. Zero is a duration (``0s``); a caller that needs more
than zero says so itself. For example::

    >>> parse_duration("2h30m")
    9000.0
    >>> parse_duration("1m 30s")
    90.0
"""

from __future__ import annotations

import re

from system.errors import RefusedInput

UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")


def parse_duration(text: str) -> float:
    """The seconds ``text`` stands for; RefusedInput (reason ``not_a_duration``) for anything else."""
    raw = text.replace(" ", "").lower()
    if not _DURATION.match(raw):
        raise RefusedInput("not_a_duration", f"{text!r} is not a duration like 90s, 10m, 2h30m or 1d")
    # Summed part by part from 0, in the order written: scenario hashes depend on these exact floats.
    return sum(float(n) * UNITS[u] for n, u in _PART.findall(raw))
