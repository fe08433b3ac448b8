"""One host's configuration (TOML): which services run here, and how, for ``hilsim serve``.

Each section names a service: ``[broker]``, ``[bridge]``, ``[controller]`` (with ``[controller.fixtures]``,
``[controller.alerts]`` and ``[controller.cloud]``) and ``[cloud]``; a host runs the sections it has. Reading
never stops at the first mistake: every problem is collected as (file, key, reason), so ``hilsim config
check`` reports them all at once and ``serve`` refuses to start while there is any. Relative paths are the
config file's neighbours. Secrets never sit in the file: ``password_file``/``password_env`` and
``token_file``/``token_env`` name where they are, and a password inside a URL is refused.

The example configs are ``deploy/one-host.toml``, ``deploy/pi.toml`` and ``deploy/server.toml``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from system.decisions.durations import parse_duration
from system.decisions.events import AlertRule
from system.errors import HilsimError

SERVICES = ("broker", "cloud", "bridge", "controller")  # the order serve starts them in
SECRET_KEYS = ("password", "token", "secret")


@dataclass(frozen=True)
class Problem:
    """One mistake in a config file: ``key`` is dotted (``controller.cloud.url``)."""

    file: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.reason}"


class ConfigProblems(HilsimError):
    """Every problem of a config file; ``str()`` is one line each."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass
class HostConfig:
    """What ``serve`` runs: a settings object per service (see :mod:`hilsim.wiring.serve`), its /healthz address."""

    path: Path
    services: dict[str, Any] = field(default_factory=dict)
    health: dict[str, Address] = field(default_factory=dict)


class Section:
    """One table of the file: typed reads that record problems instead of raising, and unknown keys."""

    def __init__(self, table: Any, key: str, problems: list[Problem], file: str, base: Path):
        self.table = table if isinstance(table, dict) else {}
        self.key, self.problems, self.file, self.base = key, problems, file, base
        self.read: set[str] = set()
        if not isinstance(table, dict):
            self.problem("", f"must be a table, got {type(table).__name__}")

    def problem(self, key: str, reason: str) -> None:
        self.problems.append(Problem(self.file, f"{self.key}.{key}" if key else self.key, reason))

    def value(self, key: str, kind: type | tuple, default: Any = None, *, required: bool = False) -> Any:
        self.read.add(key)
        if key not in self.table:
            if required:
                self.problem(key, "missing")
            return default
        value = self.table[key]
        if isinstance(value, bool) and kind is not bool and bool not in (kind if isinstance(kind, tuple) else ()):
            value = None  # TOML booleans are ints to Python; never one where a number is meant
        if value is None or not isinstance(value, kind):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            self.problem(key, f"must be {'an' if names[0] in 'aeiou' else 'a'} {names}, got {self.table[key]!r}")
            return default
        return value

    def checked(self, key: str, parse: Callable[[Any], Any], default: Any = None, *, required: bool = False,
                kind: type | tuple = str) -> Any:
        """``parse(value)``; a ValueError/HilsimError it raises becomes this key's problem."""
        raw = self.value(key, kind, required=required)
        if raw is None:
            return default
        try:
            return parse(raw)
        except (ValueError, HilsimError) as exc:
            self.problem(key, str(getattr(exc, "reason", None) or exc))
            return default

    def duration(self, key: str, default: float) -> float:
        return self.checked(key, _positive_duration, default)

    def path(self, key: str, *, required: bool = False, must_exist: bool = False) -> str | None:
        def resolve(raw: str) -> str:
            path = (self.base / raw) if not Path(raw).is_absolute() else Path(raw)
            if must_exist and not path.exists():
                raise ValueError(f"{raw}: no such file")
            return str(path)
        return self.checked(key, resolve, required=required)

    def address(self, key: str, default: str | None = None, *, required: bool = False) -> Address | None:
        parsed = self.checked(key, parse_address, required=required)
        return parsed if parsed is not None or default is None else parse_address(default)

    def url(self, key: str, schemes: tuple[str, ...], *, required: bool = False) -> str | None:
        return self.checked(key, lambda raw: parse_url(raw, schemes), required=required)

    def secret(self, name: str, *, required: bool = False) -> str | None:
        """``<name>_file`` or ``<name>_env``; an inline ``<name>`` is refused."""
        self.read.update({name, f"{name}_file", f"{name}_env"})
        if name in self.table:
            self.problem(name, f"secrets are not written in the config: use {name}_file or {name}_env")
        file, env = self.table.get(f"{name}_file"), self.table.get(f"{name}_env")
        if file is not None and env is not None:
            self.problem(f"{name}_file", f"give {name}_file or {name}_env, not both")
            return None
        if file is not None:
            return self.checked(f"{name}_file", self._read_secret_file)
        if env is not None:
            return self.checked(f"{name}_env", _read_secret_env)
        if required:
            self.problem(f"{name}_file", f"missing (or {name}_env)")
        return None

    def _read_secret_file(self, raw: str) -> str:
        path = (self.base / raw) if not Path(raw).is_absolute() else Path(raw)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ValueError(f"cannot read {raw} ({exc.strerror})") from None
        if not text:
            raise ValueError(f"{raw} is empty")
        return text

    def sub(self, key: str) -> "Section | None":
        self.read.add(key)
        if key not in self.table:
            return None
        return Section(self.table[key], f"{self.key}.{key}", self.problems, self.file, self.base)

    def finish(self) -> None:
        """Report the keys nobody read: a typo must not be a silent default."""
        for key in sorted(set(self.table) - self.read):
            if any(word in key for word in SECRET_KEYS):
                self.problem(key, "secrets are not written in the config: use a _file or _env key")
            else:
                self.problem(key, f"unknown key; known: {', '.join(sorted(self.read))}")


def _positive_duration(raw: str) -> float:
    seconds = parse_duration(raw)
    if seconds <= 0:
        raise ValueError(f"{raw!r} must be more than 0 seconds")
    return seconds


def _read_secret_env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ValueError(f"the environment variable {name} is not set")
    return value


def parse_address(raw: str) -> Address:
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"{raw!r} is not HOST:PORT, e.g. 127.0.0.1:8080")
    return Address(host.strip("[]"), int(port))


def parse_url(raw: str, schemes: tuple[str, ...]) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ValueError(f"{raw!r} is not a {' or '.join(s + '://' for s in schemes)} URL")
    if parsed.password:
        raise ValueError("a password in a URL: put it in a password_file or password_env")
    return raw


def alert_rules(raw: list) -> tuple[AlertRule, ...]:
    """``["4h", {before = "3h", duration = "5m"}]`` -> rules; a plain duration lights for 10 minutes."""
    rules = []
    for item in raw:
        if isinstance(item, str):
            rules.append(AlertRule(before=parse_duration(item)))
        elif isinstance(item, dict) and set(item) <= {"before", "duration"} and "before" in item:
            rules.append(AlertRule(before=parse_duration(item["before"]),
                                   duration=_positive_duration(item.get("duration", "10m"))))
        else:
            raise ValueError(f"{item!r}: each rule is a duration before the start, or {{before, duration}}")
    return tuple(rules)


def load(path: str | Path) -> tuple[dict, list[Problem]]:
    """The file's tables, or the one problem that it cannot be read as TOML."""
    file = str(path)
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8")), []
    except OSError as exc:
        return {}, [Problem(file, "(file)", f"cannot read it ({exc.strerror})")]
    except tomllib.TOMLDecodeError as exc:
        return {}, [Problem(file, "(file)", f"not TOML: {exc}")]
    except UnicodeDecodeError:
        return {}, [Problem(file, "(file)", "not UTF-8 text")]


def read_host_config(path: str | Path, readers: dict[str, Callable[[Section], Any]]) -> HostConfig:
    """The host's config, each service's section read by its reader (:data:`hilsim.service_settings.SETTINGS`);
    :class:`ConfigProblems` listing every mistake when there is any."""
    tables, problems = load(path)
    config = HostConfig(Path(path))
    base = Path(path).resolve().parent
    for name in tables:
        if name not in SERVICES:
            problems.append(Problem(str(path), name, f"unknown service; known: {', '.join(SERVICES)}"))
    if not problems and not any(name in tables for name in SERVICES):
        problems.append(Problem(str(path), "(file)", f"names no service; give one of {', '.join(SERVICES)}"))
    for name in SERVICES:
        if name not in tables:
            continue
        section = Section(tables[name], name, problems, str(path), base)
        config.health[name] = section.address("health", required=True)
        config.services[name] = readers[name](section)
        section.finish()
    if problems:
        raise ConfigProblems(problems)
    return config
