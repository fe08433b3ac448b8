"""The options several commands share, each written once: ``--trace``'s sink, the MQTT client's TLS files
(``hilsim bridge``, ``controller`` and ``cloud``), durations written as people write them, and passwords
that never show in ``ps`` (a file, stdin or the environment)."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click

from hilsim.commands.user_errors import UsageProblem
from system.adapters.mqtt_client import TlsOptions
from system.decisions.durations import parse_duration
from system.errors import ConfigError, RefusedInput

_PEM = click.Path(exists=True, dir_okay=False)


def mqtt_tls_options(prefix: str = "", *, broker: str = "the broker") -> Callable[[Callable], Callable]:
    """Decorator: ``--{prefix}ca-file``, ``--{prefix}cert-file`` and ``--{prefix}key-file``, handed to the
    command as one ``tls`` argument (``TlsOptions``, or None for plain MQTT; half a client certificate is
    refused with exit 2)."""
    names = [f"{prefix}{part}".replace("-", "_") for part in ("ca-file", "cert-file", "key-file")]
    options = [
        click.option(f"--{prefix}ca-file", type=_PEM, default=None,
                     help=f"CA certificate to verify {broker} (implies TLS; on AWS IoT Core its root CA)."),
        click.option(f"--{prefix}cert-file", type=_PEM, default=None,
                     help=f"Client certificate (PEM) for {broker}."),
        click.option(f"--{prefix}key-file", type=_PEM, default=None, help=f"Private key of --{prefix}cert-file (PEM)."),
    ]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_tls(*args: Any, **kwargs: Any) -> Any:
            ca_file, cert_file, key_file = (kwargs.pop(name) for name in names)
            if (cert_file is None) != (key_file is None):
                raise UsageProblem(f"--{prefix}cert-file/--{prefix}key-file: give both or neither")
            tls = TlsOptions(ca_file=ca_file, cert_file=cert_file, key_file=key_file) if ca_file or cert_file \
                else None
            return command(*args, tls=tls, **kwargs)

        for option in reversed(options):  # listed in --help in the order written above
            with_tls = option(with_tls)
        return with_tls

    return decorate


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


def duration_option(text: str, option: str, *, zero: bool = False) -> float:
    """An option's duration (``90s``, ``10m``, ``2h30m``) in seconds, more than zero unless ``zero``;
    a ConfigError naming ``option`` otherwise."""
    try:
        seconds = parse_duration(text)
    except RefusedInput as refused:
        raise ConfigError(refused.detail, source=option) from None
    if seconds <= 0 and not zero:
        raise ConfigError(f"{text!r} is not a duration like 90s, 10m, 2h30m or 1d (more than zero)",
                          source=option)
    return seconds


def password_options(envvar: str) -> Callable[[Callable], Callable]:
    """Decorator: a secret given by ``--password-file FILE`` (first line), ``--password-stdin`` (stdin's first
    line) or the environment variable ``envvar``, handed to the command as one ``password`` argument (None:
    none given). ``--password TEXT`` still works but is deprecated with a warning: other users see it in ``ps``."""
    options = [
        click.option("--password-file", type=click.File("r", encoding="utf-8"), default=None,
                     help=f"Read the password from this file's first line (or set {envvar})."),
        click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin."),
        click.option("--password", "password_argument", default=None,
                     help="Deprecated: shows in ps; use --password-file, --password-stdin or the environment."),
    ]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def with_password(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in ("password_file", "password_stdin", "password_argument")}
            return command(*args, password=_one_password(envvar, **given), **kwargs)

        for option in reversed(options):
            with_password = option(with_password)
        return with_password

    return decorate


def _one_password(envvar: str, password_file: IO[str] | None, password_stdin: bool,
                  password_argument: str | None) -> str | None:
    chosen = [name for name, on in (("--password-file", password_file is not None),
                                    ("--password-stdin", password_stdin),
                                    ("--password", password_argument is not None)) if on]
    if len(chosen) > 1:
        raise UsageProblem(f"{' and '.join(chosen)}: give the password one way only")
    if password_argument is not None:
        click.echo("warning: --password is deprecated (other users see it in ps); use --password-file, "
                   f"--password-stdin or {envvar}", err=True)
        return password_argument
    if password_file is not None:
        return password_file.readline().rstrip("\r\n")
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return os.environ.get(envvar) or None
