"""YAML with lines: the values a scenario file is made of, and the readers that type them.

Scalars are read as the strings written (no YAML 1.1 guessing: ``10:30`` is a time
of day, not 630) and typed when asked: durations like ``90s``, ``2h30m``, ``1d``;
times like ``09:00`` or ``9u30`` (first such time at or after the start, in the start's UTC
offset), ``+2h`` (after the start) or ISO timestamps with an offset. Every reader
raises a :class:`~system.errors.ScenarioError` naming the file and the line, and
``keys()`` refuses unknown keys with the keys that are allowed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import yaml

from system.decisions.durations import parse_duration
from system.decisions.localtime import parse_hhmm
from system.errors import RefusedInput, ScenarioError

_CLOCK = re.compile(r"^\d{1,2}\s*[:.uUhH]\s*\d{0,2}$")  # shaped like a time of day: 09:00, 9u, 20h30


class YamlValue:
    """A YAML value with the line it stands on, for messages that point at the file."""

    def __init__(self, value: Any, line: int, ctx: "Context"):
        self.value, self.line, self.ctx = value, line, ctx

    def error(self, message: str) -> ScenarioError:
        return ScenarioError(message, file=self.ctx.file, line=self.line)

    def mapping(self, what: str) -> dict[str, "YamlValue"]:
        if not isinstance(self.value, dict):
            raise self.error(f"{what} must be a mapping of keys to values")
        return self.value

    def sequence(self, what: str) -> list["YamlValue"]:
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
        raw = self.text(what)
        try:
            return parse_duration(raw)  # the one duration reader (system/decisions/durations.py)
        except RefusedInput:
            raise self.error(f"{what} must be a duration like 90s, 10m, 2h30m or 1d, got {raw!r}") from None

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
            return YamlValue(raw[1:], self.line, self.ctx).duration(what)
        if _CLOCK.match(raw):
            try:
                h, m = parse_hhmm(raw)  # the one HH:MM reader (system/decisions/localtime.py)
            except RefusedInput:
                raise self.error(f"{what}: {raw!r} is not a time of day") from None
            # in the start's fixed UTC offset, where every wall-clock time happens exactly once
            at = start.replace(hour=h, minute=m, second=0, microsecond=0)
            if at < start:
                at += timedelta(days=1)
            return (at - start).total_seconds()
        if "T" in raw or re.match(r"^\d{4}-\d{2}-\d{2}", raw):
            return (self.timestamp(what) - start).total_seconds()
        raise self.error(f"{what} must be a time like 09:00, +2h30m or 2026-03-14T18:30+01:00, got {raw!r}")

    def keys(self, what: str, allowed: dict[str, bool]) -> dict[str, "YamlValue"]:
        """The mapping, checked against ``allowed`` (key -> required)."""
        found = self.mapping(what)
        for key, node in found.items():
            if key not in allowed:
                raise node.error(f"unknown key {key!r} in {what}; allowed: {', '.join(sorted(allowed))}")
        for key, required in allowed.items():
            if required and key not in found:
                raise self.error(f"{what} needs '{key}'")
        return found

    def single(self, what: str, known: dict[str, Any]) -> tuple[str, "YamlValue"]:
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


def compose(text: str, file: str) -> YamlValue:
    """Parse YAML into a tree of ``YamlValue`` with lines, refusing duplicate keys."""
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


def _convert(node: yaml.Node, ctx: Context) -> YamlValue:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, YamlValue] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is None:
                raise ScenarioError("keys must be plain words", file=ctx.file, line=key_node.start_mark.line + 1)
            if key in out:
                raise ScenarioError(f"key {key!r} appears twice", file=ctx.file, line=key_node.start_mark.line + 1)
            out[key] = _convert(value_node, ctx)
        return YamlValue(out, line, ctx)
    if isinstance(node, yaml.SequenceNode):
        return YamlValue([_convert(n, ctx) for n in node.value], line, ctx)
    return YamlValue(node.value, line, ctx)
