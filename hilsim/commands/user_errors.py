"""How a command's mistakes reach the user: one idiom for every command.

- A bad option, file or scenario (``ConfigError``, ``ScenarioError``, or a check in the command):
  one line ``Error: ...`` on stderr and exit 2, as click's own usage errors;
- missing hardware, a port taken, a backend that fails (``BackendError``): one line ``Error: ...``
  and exit 1.

Never a traceback. A command wraps its work in :func:`user_errors`, or raises :class:`UsageProblem`
for a mistake it finds itself. For example::

    with user_errors("--job"):
        check_template(job)   # a ConfigError comes out as "Error: --job: ..." and exit 2
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click

from system.errors import BackendError, ConfigError, ScenarioError


class UsageProblem(click.ClickException):
    """A mistake of the user's (an option, a file, a scenario): ``Error: ...`` and exit 2."""

    exit_code = 2


class BackendProblem(click.ClickException):
    """Hardware or a service that is not there or fails (no board on the port, a port taken): exit 1."""

    exit_code = 1


@contextmanager
def user_errors(source: str | None = None) -> Iterator[None]:
    """Inside, a ConfigError or ScenarioError becomes a :class:`UsageProblem` (named ``source`` if it names
    no option or file itself), a BackendError a :class:`BackendProblem`."""
    try:
        yield
    except ConfigError as exc:
        if source is not None and exc.source is None:
            exc = ConfigError(exc.reason, source=source, key=exc.key, line=exc.line)
        raise UsageProblem(str(exc)) from None
    except ScenarioError as exc:
        raise UsageProblem(str(exc)) from None
    except BackendError as exc:
        raise BackendProblem(str(exc)) from None
