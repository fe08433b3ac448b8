"""What the long-running live commands share: where their trace goes, and how their errors reach the user."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

import click

from system.errors import BackendError, ConfigError


class ConfigProblem(click.ClickException):
    """A configuration mistake, shown as one ``Error: ...`` line; exit 2 as for click's own usage errors."""

    exit_code = 2


@contextmanager
def user_errors(source: str | None = None) -> Iterator[None]:
    """Inside, a ConfigError becomes one line and exit 2 (named ``source`` if it names no option or file
    itself), a BackendError (hardware missing, port taken) one line and exit 1: never a traceback."""
    try:
        yield
    except ConfigError as exc:
        if source is not None and exc.source is None:
            exc = ConfigError(exc.reason, source=source, key=exc.key, line=exc.line)
        raise ConfigProblem(str(exc)) from None
    except BackendError as exc:
        raise click.ClickException(str(exc)) from None


@contextmanager
def trace_sink(path: str | None) -> Iterator[IO[str] | None]:
    """``--trace``: None (no trace), ``-`` (standard output) or a file appended to, so a restart keeps
    the last run's lines."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout
    else:
        try:
            sink = open(path, "a", encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot append to the trace file ({exc.strerror})", source=path) from exc
        with sink:
            yield sink
