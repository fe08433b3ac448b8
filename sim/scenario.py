"""Scenario files: YAML in, a validated ``Scenario`` out, or a ScenarioError naming file and line.

Scalars are read as the strings written (no YAML 1.1 guessing: ``10:30`` is a time
of day, not 630) and typed by the schema: durations like ``90s``, ``2h30m``, ``1d``;
times like ``09:00`` (first such time at or after the start, in the start's UTC
offset), ``+2h`` (after the start) or ISO timestamps with an offset. Unknown keys
are errors, with the keys that are allowed.

The timeline's and the expectations' vocabularies are open: ``sim/faults.py`` and
``sim/expect.py`` register a parser per key, so a new world event is one function.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable

import yaml

from system.errors import ScenarioError

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


class Node:
    """A YAML value with the line it stands on, for messages that point at the file."""

    def __init__(self, value: Any, line: int, ctx: "Context"):
        self.value, self.line, self.ctx = value, line, ctx

    def error(self, message: str) -> ScenarioError:
        return ScenarioError(message, file=self.ctx.file, line=self.line)

    def mapping(self, what: str) -> dict[str, "Node"]:
        if not isinstance(self.value, dict):
            raise self.error(f"{what} must be a mapping of keys to values")
        return self.value

    def sequence(self, what: str) -> list["Node"]:
        if not isinstance(self.value, list):
            raise self.error(f"{what} must be a list (lines starting with '- ')")
        return self.value

    def text(self, what: str) -> str:
        if not isinstance(self.value, str):
            raise self.error(f"{what} must be a single value, not a list or mapping")
        return self.value

    def integer(self, what: str, minimum: int | None = None) -> int:
        raw = self.text(what)
        try:
            number = int(raw)
        except ValueError:
            raise self.error(f"{what} must be a whole number, got {raw!r}") from None
        if minimum is not None and number < minimum:
            raise self.error(f"{what} must be at least {minimum}, got {number}")
        return number

    def number(self, what: str) -> float:
        raw = self.text(what)
        try:
            return float(raw)
        except ValueError:
            raise self.error(f"{what} must be a number, got {raw!r}") from None

    def boolean(self, what: str) -> bool:
        raw = self.text(what).lower()
        if raw in ("true", "yes", "on"):
            return True
        if raw in ("false", "no", "off"):
            return False
        raise self.error(f"{what} must be true or false, got {raw!r}")

    def duration(self, what: str) -> float:
        raw = self.text(what).replace(" ", "")
        if not _DURATION.match(raw):
            raise self.error(f"{what} must be a duration like 90s, 10m, 2h30m or 1d, got {raw!r}")
        return sum(float(n) * _UNITS[u] for n, u in _PART.findall(raw))

    def timestamp(self, what: str) -> datetime:
        raw = self.text(what)
        try:
            stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise self.error(f"{what} must be an ISO timestamp like 2026-03-14T08:00:00+01:00, got {raw!r}") from None
        if stamp.tzinfo is None:
            raise self.error(f"{what} needs a UTC offset, e.g. {raw}+01:00 or {raw}Z")
        return stamp

    def moment(self, what: str) -> float:
        """Seconds after the scenario start for ``09:00``, ``+2h`` or an ISO timestamp."""
        raw = self.text(what).strip()
        start = self.ctx.start
        if start is None:
            raise self.error("the scenario needs 'start' before times can be read")
        if raw.startswith("+"):
            return Node(raw[1:], self.line, self.ctx).duration(what)
        clock = _CLOCK.match(raw)
        if clock:
            h, m, s = int(clock[1]), int(clock[2]), int(clock[3] or 0)
            if h > 23 or m > 59 or s > 59:
                raise self.error(f"{what}: {raw!r} is not a time of day")
            at = start.replace(hour=h, minute=m, second=s, microsecond=0)
            if at < start:
                at += timedelta(days=1)
            return (at - start).total_seconds()
        if "T" in raw or re.match(r"^\d{4}-\d{2}-\d{2}", raw):
            return (self.timestamp(what) - start).total_seconds()
        raise self.error(f"{what} must be a time like 09:00, +2h30m or 2026-03-14T18:30+01:00, got {raw!r}")

    def keys(self, what: str, allowed: dict[str, bool]) -> dict[str, "Node"]:
        """The mapping, checked against ``allowed`` (key -> required)."""
        found = self.mapping(what)
        for key, node in found.items():
            if key not in allowed:
                raise node.error(f"unknown key {key!r} in {what}; allowed: {', '.join(sorted(allowed))}")
        for key, required in allowed.items():
            if required and key not in found:
                raise self.error(f"{what} needs '{key}'")
        return found

    def single(self, what: str, known: dict[str, Any]) -> tuple[str, "Node"]:
        """A one-key mapping whose key is one of ``known``: ``- link: {...}``."""
        items = dict(self.mapping(what))
        if len(items) != 1:
            raise self.error(f"each {what} has exactly one kind, one of: {', '.join(sorted(known))}")
        ((key, node),) = items.items()
        if key not in known:
            raise node.error(f"unknown {what} {key!r}; known: {', '.join(sorted(known))}")
        return key, node


@dataclass
class Context:
    file: str
    start: datetime | None = None


def compose(text: str, file: str) -> Node:
    """Parse YAML into a tree of ``Node`` with lines, refusing duplicate keys."""
    ctx = Context(file)
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ScenarioError(f"not valid YAML: {problem}", file=file,
                            line=mark.line + 1 if mark else None) from None
    if root is None:
        raise ScenarioError("the file is empty", file=file)
    return _convert(root, ctx)


def _convert(node: yaml.Node, ctx: Context) -> Node:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                raise ScenarioError("keys must be plain words", file=ctx.file, line=key_node.start_mark.line + 1)
            if key in out:
                raise ScenarioError(f"key {key!r} appears twice", file=ctx.file, line=key_node.start_mark.line + 1)
            out[key] = _convert(value_node, ctx)
        return Node(out, line, ctx)
    if isinstance(node, yaml.SequenceNode):
        return Node([_convert(n, ctx) for n in node.value], line, ctx)
    return Node(node.value, line, ctx)


@dataclass(frozen=True)
class TimedEvent:
    """A world event of the timeline: ``at`` seconds after the start, the fault object, its line."""

    at: float
    fault: Any
    line: int


@dataclass(frozen=True)
class Expectation:
    kind: str
    args: Any
    line: int


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    start: datetime
    duration: float
    world: dict[str, Any]
    timeline: tuple[TimedEvent, ...] = ()
    expect: tuple[Expectation, ...] = ()
    file: str = "<scenario>"
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def start_epoch(self) -> float:
        return self.start.timestamp()

    def with_seed(self, seed: int) -> "Scenario":
        from dataclasses import replace

        return replace(self, seed=seed)


# Registries filled by sim/world.py (world keys), sim/faults.py (timeline) and sim/expect.py (expect).
WorldKey = Callable[[Node], Any]
WORLD_KEYS: dict[str, tuple[WorldKey, Any]] = {}
TIMELINE: dict[str, Callable[[Node], Any]] = {}
EXPECTATIONS: dict[str, Callable[[Node], Any]] = {}

TOP = {"name": True, "seed": False, "start": True, "duration": True, "world": False,
       "timeline": False, "expect": False, "description": False}


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    return parse(text, str(path))


def parse(text: str, file: str = "<scenario>") -> Scenario:
    _load_vocabulary()
    root = compose(text, file)
    top = root.keys("the scenario", TOP)
    start = top["start"].timestamp("start")
    root.ctx.start = start
    world = _world(top.get("world"))
    timeline = tuple(_timeline(top["timeline"]) if "timeline" in top else ())
    expect = tuple(_expectations(top["expect"]) if "expect" in top else ())
    return Scenario(
        name=top["name"].text("name"),
        seed=top["seed"].integer("seed", minimum=0) if "seed" in top else 0,
        start=start,
        duration=top["duration"].duration("duration"),
        world=world,
        timeline=timeline,
        expect=expect,
        file=file,
    )


def _world(node: Node | None) -> dict[str, Any]:
    given = node.keys("world", {k: False for k in WORLD_KEYS}) if node is not None else {}
    world = {}
    for key, (parse_value, default) in WORLD_KEYS.items():
        world[key] = parse_value(given[key]) if key in given else default
    return world


def _timeline(node: Node) -> list[TimedEvent]:
    events = []
    for entry in node.sequence("timeline"):
        items = dict(entry.mapping("a timeline entry"))
        if "at" not in items:
            raise entry.error("each timeline entry needs 'at' (a time like 09:00 or +2h)")
        at_node = items.pop("at")
        at = at_node.moment("at")
        if at < 0:
            raise at_node.error("this time is before the scenario start")
        rest = Node(items, entry.line, entry.ctx)
        kind, body = rest.single("timeline event", TIMELINE)
        events.append(TimedEvent(at, TIMELINE[kind](body), entry.line))
    return sorted(events, key=lambda e: e.at)


def _expectations(node: Node) -> list[Expectation]:
    out = []
    for entry in node.sequence("expect"):
        kind, body = entry.single("expectation", EXPECTATIONS)
        out.append(Expectation(kind, EXPECTATIONS[kind](body), entry.line))
    return out


def _load_vocabulary() -> None:
    # The registering modules import this one; importing them here fills the registries.
    import sim.controller_world  # noqa: F401
    import sim.expect  # noqa: F401
    import sim.light_check  # noqa: F401
    import sim.faults  # noqa: F401
    import sim.world  # noqa: F401
