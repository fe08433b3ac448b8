"""The names faults share: the parties of a world, the internet link, and the trace line of a fault.

A fault that announces itself (``trace_kind``, a ``fault.*`` kind) gets one trace line with its fields
when the player applies it (:func:`fields_of`); the faults that existed before the announcement keep
their trace as it was (their effects, ``link.down`` and the like, are traced where they happen), so
existing scenarios keep their hashes.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

BROKER, BRIDGE, CLUB_SITE, CLOUD, CONTROLLER = "broker", "bridge", "club-site", "cloud", "controller"
ADVERSARY = "adversary"  # the party of a device account that attacks (sim.models.adversary)
INTERNET = "controller~internet"  # the link an ``internet:`` event acts on


def fields_of(fault: Any) -> dict[str, Any]:
    """A fault's fields as a trace line holds them (tuples as lists, None left out)."""
    out: dict[str, Any] = {}
    for f in fields(fault):
        value = getattr(fault, f.name)
        if value is not None:
            out[f.name] = list(value) if isinstance(value, tuple) else value
    return out
