"""The import rules of DESIGN.md ("Imports point one way"), checked on the source so they stay true.

- firmware/ imports nothing of ours but firmware/, and from the standard library only
  what MicroPython has (it must run on the board alone);
- system/ never imports sim/, hil/ or hilsim/;
- system/ services never touch the clock, sockets, asyncio or simpy themselves: only the
  live runtime and the live adapters that wrap asyncio libraries may;
- only the sim runtime imports simpy.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MICROPYTHON_STDLIB = {"json", "math", "struct", "time", "random", "sys", "gc", "micropython", "asyncio", "re"}
# the runtimes (seeded random streams live there) and the live adapters
RUNTIME_AND_ADAPTERS = {"runtime", "asyncio_runtime", "mqtt_live", "broker", "bridge_main", "controller_main",
                        "metrics_server"}
WALL_CLOCK_AND_IO = {"asyncio", "simpy", "time", "random", "socket", "threading", "select"}


def imports(path: Path) -> set[str]:
    """The top-level module names a file imports (``from a.b import c`` -> ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found - {"__future__"}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).glob("*.py"))


@pytest.mark.parametrize("path", modules("firmware"), ids=lambda p: p.name)
def test_firmware_runs_alone_on_micropython(path):
    assert imports(path) <= {"firmware"} | MICROPYTHON_STDLIB


@pytest.mark.parametrize("path", modules("system"), ids=lambda p: p.name)
def test_system_imports_point_one_way(path):
    found = imports(path)
    assert not found & {"sim", "hil", "hilsim"}
    if path.stem not in RUNTIME_AND_ADAPTERS:
        assert not found & WALL_CLOCK_AND_IO, f"{path.name}: clock, randomness and I/O come through rt and ports"


def test_only_the_sim_runtime_imports_simpy():
    users = {p.relative_to(ROOT).as_posix() for pkg in ("system", "firmware", "sim", "hil", "hilsim")
             for p in modules(pkg) if "simpy" in imports(p)}
    assert users == {"sim/runtime.py"}
