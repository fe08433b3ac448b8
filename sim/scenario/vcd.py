"""waves.vcd: the run's relay, link, WiFi and power states as a Value Change Dump, for waveform viewers.

One 1-bit wire per relay (1 on), link (1 up), node radio (1 associated) and powered party (1 on),
in scopes ``relay``, ``link``, ``wifi`` and ``power``; times in milliseconds since the run's start.
Each wire starts in its resting state (relay off, the rest up) and changes where the trace says.
"""

from __future__ import annotations

import re
from pathlib import Path

# trace kind -> (scope, value, field naming the party (None: the source))
CHANGES = {
    "relay.on": ("relay", 1, None), "relay.off": ("relay", 0, None),
    "link.up": ("link", 1, None), "link.down": ("link", 0, None),
    "wifi.connected": ("wifi", 1, "node"), "wifi.disconnected": ("wifi", 0, "node"),
    "power.on": ("power", 1, "node"), "power.off": ("power", 0, "node"),
    "power.restored": ("power", 1, "party"), "power.lost": ("power", 0, "party"),
}
RESTING = {"relay": 0, "link": 1, "wifi": 1, "power": 1}


def wire_name(party: str) -> str:
    """A party's name as a VCD identifier (letters, digits and underscores)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", party)


def changes(records: list[dict]) -> list[tuple[int, str, str, int]]:
    """(ms since start, scope, party, value) for every state change the trace records, in order."""
    out = []
    for r in records:
        change = CHANGES.get(r["kind"])
        if change is None:
            continue
        scope, value, field = change
        party = r.get(field) if field else r.get("src")
        if isinstance(party, str):
            out.append((int(round(r["t"] * 1000)), scope, party, value))
    return out


def write_vcd(records: list[dict], header: dict, path: Path) -> None:
    """Write ``path``: a wire per party that changes state, declared first, then the changes in time order."""
    from vcd import VCDWriter

    steps = changes(records)
    wires = sorted({(scope, party) for _, scope, party, _ in steps})
    with open(path, "w", encoding="utf-8") as out, VCDWriter(
            out, timescale="1 ms", date=str(header.get("start", "")),
            comment=f"hilsim {header.get('scenario', '')} seed {header.get('seed', '')}") as writer:
        var = {(scope, party): writer.register_var(f"hilsim.{scope}", wire_name(party), "wire", size=1,
                                                   init=RESTING[scope]) for scope, party in wires}
        last = 0
        for ms, scope, party, value in steps:
            last = max(last, ms)  # the trace is in time order; never step back
            writer.change(var[(scope, party)], last, value)
