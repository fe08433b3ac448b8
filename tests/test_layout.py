"""The import rules of DESIGN.md ("Imports point one way"), checked on the source by package.

The rules speak of packages, never of file names, so a new module is held to them
the moment it is written:

- packages point one way: hilsim -> hil -> sim -> system -> firmware, and bench/ (benchmarks) sits
  beside hilsim: it may import every package and nothing imports it;
- inside sim/: scenario -> models -> kernel (the kernel knows no model, a model no scenario);
- hil/ never calls hilsim, not even as a subprocess (``python -m hilsim``): it is a backend below it;
- the live wiring (hilsim/wiring/) imports no sim: production code runs no simulated part;
- the cloud in layers: its handlers (auth, device and dashboard APIs) over views and the jobs API,
  over the cloud store adapter and decisions; no module of system/cloud/ opens SQLite itself;
- no function in the packages is over 60 lines (a function past that holds two ideas);
- firmware/ imports nothing of ours but firmware/, and from the standard library only
  what MicroPython has (it must run on the board alone);
- system/decisions/ (pure decisions) imports no I/O library, no clock and no randomness;
- system/services/ imports no adapter, and no clock, socket or event loop of its own;
- asyncio appears only in system/adapters/ and above sim (hil, hilsim); simpy only in sim/kernel/runtime.py;
- no import cycle among the project's modules, counting imports inside functions;
- importing modules, in any order, changes no other module's state (no registries filled on import).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("firmware", "system", "sim", "hil", "hilsim", "bench")
SHIPPED = PACKAGES[:-1]  # what the wheel holds; bench/ needs its own extras to import
# what each package may import of ours (the one-way arrow, and a package always imports itself)
MAY_IMPORT = {"firmware": {"firmware"}, "system": {"system", "firmware"}, "sim": {"sim", "system", "firmware"},
              "hil": {"hil", "sim", "system", "firmware"}, "hilsim": set(SHIPPED), "bench": set(PACKAGES)}
LONGEST_FUNCTION = 60
MICROPYTHON_STDLIB = {"json", "math", "struct", "time", "random", "sys", "gc", "micropython", "asyncio", "re",
                      "machine", "network", "dht", "ntptime", "socket", "os", "select", "binascii", "errno",
                      "hashlib", "io", "collections", "ssl", "umqtt", "uasyncio", "esp", "esp32", "select"}
IO_CLOCK_RANDOM = {"asyncio", "simpy", "time", "random", "socket", "sqlite3", "httpx", "paho", "amqtt", "gpiod",
                   "serial", "threading", "select", "subprocess", "urllib"}
SERVICE_FORBIDDEN = IO_CLOCK_RANDOM - {"httpx"}  # httpx is the HTTP port: in sim its transport is the simulated web


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))
            if "__pycache__" not in p.parts}


def imported_names(path: Path) -> set[str]:
    """Every dotted module name a file imports, anywhere in it (``from a.b import c`` gives a.b and a.b.c)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                base = module_name(path).split(".")
                base = base[: len(base) - node.level + (1 if path.name == "__init__.py" else 0)]
                module = ".".join(base + [node.module])
            else:
                module = node.module
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
    return found


def top_level(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_names(path)} - {"__future__"}


def in_package(prefix: str) -> list[Path]:
    return [p for name, p in project_modules().items() if name == prefix or name.startswith(prefix + ".")]


def ids(paths):
    return [p.relative_to(ROOT).as_posix() for p in paths]


ALL = list(project_modules().values())


@pytest.mark.parametrize("path", ALL, ids=ids(ALL))
def test_packages_point_one_way(path):
    package = path.relative_to(ROOT).parts[0]
    ours = top_level(path) & set(PACKAGES)
    assert ours <= MAY_IMPORT[package], f"{package} may import only {sorted(MAY_IMPORT[package])}"


FIRMWARE = in_package("firmware")


@pytest.mark.parametrize("path", FIRMWARE, ids=ids(FIRMWARE))
def test_firmware_runs_alone_on_micropython(path):
    assert top_level(path) <= {"firmware"} | MICROPYTHON_STDLIB


DECISIONS = in_package("system.decisions")


@pytest.mark.parametrize("path", DECISIONS, ids=ids(DECISIONS))
def test_decisions_are_pure(path):
    found = top_level(path)
    assert not found & IO_CLOCK_RANDOM, "decisions take data and return data: no I/O, clock or randomness"
    ours = {n for n in imported_names(path) if n.startswith("system.")}
    assert not {n for n in ours if n.startswith(("system.services", "system.adapters"))}


SERVICES = in_package("system.services")


@pytest.mark.parametrize("path", SERVICES, ids=ids(SERVICES))
def test_services_use_ports_not_adapters(path):
    assert not top_level(path) & SERVICE_FORBIDDEN, "clock, randomness and I/O come through rt and ports"
    assert not {n for n in imported_names(path) if n.startswith("system.adapters")}


def test_asyncio_only_in_live_adapters_and_above_sim():
    users = {name for name, p in project_modules().items() if "asyncio" in top_level(p)}
    # firmware: MicroPython's asyncio on the board; bench: the live ingest benchmark drives a live bridge
    allowed = ("system.adapters", "hil", "hilsim", "firmware", "bench")
    assert {u for u in users if not u.startswith(allowed)} == set()


def test_only_the_sim_runtime_imports_simpy():
    found = {name for name, p in project_modules().items() if "simpy" in top_level(p)}
    assert found == {"sim.kernel.runtime", "bench.bench_runtime"}  # the benchmark measures the kernel against raw simpy


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    graph = {}
    for name, path in modules.items():
        targets = set()
        for imported in imported_names(path):
            # ``from a import b`` names module a.b when it exists, else a symbol of module a
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), plus self-loops."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_cycle_through_a_package():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_the_project_modules():
    assert cycles(import_graph()) == []


# In a fresh interpreter: import every module in a random order, and after each import compare every
# module-level dict, list and set of the modules imported before with its state right after its own import.
_PROBE = r"""
import importlib, json, random, sys
names = json.loads(sys.argv[1])
random.Random(int(sys.argv[2])).shuffle(names)
def containers(module):
    out = {}
    for key, value in vars(module).items():
        if isinstance(value, (dict, list, set)) and not key.startswith("__"):
            try:
                out[key] = repr(sorted(value.items(), key=repr) if isinstance(value, dict)
                                else sorted(value, key=repr) if isinstance(value, set) else value)
            except Exception as exc:
                out[key] = "unrepresentable " + type(exc).__name__
    return out
seen, changed = {}, []
for name in names:
    importlib.import_module(name)
    for other, before in seen.items():
        now = containers(sys.modules[other])
        for key, value in before.items():
            if now.get(key) != value:
                changed.append(f"importing {name} changed {other}.{key}")
        seen[other] = now
    seen[name] = containers(sys.modules[name])
print(json.dumps(sorted(set(changed))))
"""


@pytest.mark.parametrize("order_seed", [1, 2, 3])
def test_importing_modules_in_any_order_changes_no_module_state(order_seed):
    names = sorted(n for n in project_modules() if not n.endswith("__main__") and n.split(".")[0] in SHIPPED)
    out = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(names), str(order_seed)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


SIM_PARTS = ("sim.kernel", "sim.models", "sim.scenario")  # each may import only the parts before it


@pytest.mark.parametrize("path", in_package("sim"), ids=ids(in_package("sim")))
def test_sim_parts_point_one_way(path):
    name = module_name(path)
    mine = next((i for i, part in enumerate(SIM_PARTS) if name == part or name.startswith(part + ".")), None)
    if mine is None:  # sim/__init__.py
        return
    above = SIM_PARTS[mine + 1:]
    assert not {n for n in imported_names(path) if n.startswith(above)}, f"{SIM_PARTS[mine]} may not import {above}"


@pytest.mark.parametrize("path", in_package("hil"), ids=ids(in_package("hil")))
def test_hil_never_calls_hilsim(path):
    """A backend below the command line: no ``python -m hilsim`` (nor a console script) in its code."""
    literals = {node.value for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not {s for s in literals if s.split(".")[0] == "hilsim"}


WIRING = in_package("hilsim.wiring")


@pytest.mark.parametrize("path", WIRING, ids=ids(WIRING))
def test_live_wiring_runs_no_simulated_part(path):
    assert "sim" not in top_level(path)


CLOUD = in_package("system.cloud")
CLOUD_STORE = "system.adapters.cloud_store"


# The cloud's layers, top down: the app, its handler modules, what they share, and the services below
# them (views, the jobs API, the alarm), which know nothing of HTTP. Each may import only the layers below.
CLOUD_LAYERS = (("system.cloud.app", "system.cloud.openapi"),
                ("system.cloud.auth", "system.cloud.pages", "system.cloud.dashboard_api", "system.cloud.device_api"),
                ("system.cloud.handling", "system.cloud.bodies"),
                ("system.cloud.views", "system.cloud.jobs_api", "system.cloud.alarm"))


@pytest.mark.parametrize("path", CLOUD, ids=ids(CLOUD))
def test_cloud_keeps_its_layers(path):
    assert not top_level(path) & {"sqlite3", "asyncio"}, "the cloud's SQLite is the cloud_store adapter's"
    assert not {n for n in imported_names(path) if n.startswith(("system.services", "sim", "hil"))}
    name = module_name(path)
    level = next((i for i, layer in enumerate(CLOUD_LAYERS) if name in layer), None)
    if level is None:
        assert name == "system.cloud", f"{name}: give it a layer in CLOUD_LAYERS"
        return
    above = {m for layer in CLOUD_LAYERS[:level] for m in layer}
    assert not imported_names(path) & above, f"{name} imports a layer above it"
    if level == 1:
        assert not imported_names(path) & {"system.cloud.jobs_api", "system.cloud.alarm"}, \
            "a handler queues a job in the store; the jobs API hears of it through the app's callback"
    if level == len(CLOUD_LAYERS) - 1:
        assert "starlette" not in top_level(path), "the cloud's services know nothing of HTTP"
        siblings = set(CLOUD_LAYERS[level]) - {name}
        assert not imported_names(path) & siblings, "a queued job reaches the jobs API only through a callback"


def test_cloud_store_is_below_the_cloud():
    path = project_modules()[CLOUD_STORE]
    assert not {n for n in imported_names(path) if n.startswith("system.cloud")}


def long_functions(source: str, limit: int = LONGEST_FUNCTION) -> list[str]:
    """``name (N lines)`` for every function or method from its ``def`` line to its last line past ``limit``."""
    return [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > limit]


def test_long_function_finder_counts_def_to_last_line():
    body = "\n".join(f"    x{i} = {i}" for i in range(59))
    assert long_functions(f"def fits():\n{body}\n") == []
    assert long_functions(f"class A:\n    async def over(self):\n    {body.replace(chr(10), chr(10) + '    ')}\n"
                          "        return 1\n") == ["over (61 lines)"]


SHIPPED_MODULES = [p for name, p in project_modules().items() if name.split(".")[0] in SHIPPED]


@pytest.mark.parametrize("path", SHIPPED_MODULES, ids=ids(SHIPPED_MODULES))
def test_no_function_over_60_lines(path):
    assert long_functions(path.read_text(encoding="utf-8")) == []
