"""The options several commands share, each written once: ``--trace``'s sink, the MQTT client's TLS files
(``hilsim bridge``, ``controller`` and ``cloud``) and durations written as people write them."""

from __future__ import annotations

import functools
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
