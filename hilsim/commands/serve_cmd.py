"""``hilsim serve CONFIG`` and ``hilsim config check CONFIG``: one host's services from one TOML file."""

from __future__ import annotations

import sys

import click

from hilsim.commands.options import trace_sink
from hilsim.commands.user_errors import user_errors
from hilsim.host_config import ConfigProblems, HostConfig, read_host_config
from hilsim.service_settings import SETTINGS


def _read(path: str) -> HostConfig:
    """The config, or every problem on stderr (``file: key: reason``, one a line) and exit 2."""
    try:
        return read_host_config(path, SETTINGS)
    except ConfigProblems as exc:
        for problem in exc.problems:
            click.echo(f"Error: {problem}", err=True)
        click.echo(f"{len(exc.problems)} problem{'s' if len(exc.problems) > 1 else ''} in {path}; nothing started",
                   err=True)
        sys.exit(2)


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Live: the services one host runs, from one TOML config.")
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--trace", "trace_path", default=None, help="Write the JSON Lines trace to this file ('-': stdout).")
@click.option("--for", "duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def serve(config: str, trace_path: str | None, duration: float | None) -> None:
    """Run the services CONFIG names (broker, cloud, bridge, controller) in one process, until SIGINT or
    SIGTERM, then stop them in reverse order and exit 0.

    CONFIG is checked first, as 'hilsim config check' does: any problem and nothing starts. At start, one
    line per service with its /healthz URL goes to stdout; state changes go to stderr as JSON lines. Under
    systemd (Type=notify) it reports readiness and feeds the watchdog. Examples: deploy/one-host.toml,
    deploy/pi.toml and deploy/server.toml.
    """
    from hilsim.wiring.serve import Served, run_serve

    host = _read(config)
    services = [Served(name, settings, host.health[name].host, host.health[name].port)
                for name, settings in host.services.items()]

    def announce(line: str) -> None:
        click.echo(line, err=trace_path == "-")  # stdout, unless the trace has it
        sys.stdout.flush()

    with user_errors(config), trace_sink(trace_path) as sink:
        run_serve(services, config_path=config, announce=announce, trace_file=sink, until=duration)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, short_help="Check a host's TOML config.")
def config() -> None:
    """A host's configuration for 'hilsim serve'."""


@config.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def check(path: str) -> None:
    """Report every problem of the config at PATH (file: key: reason), exit 2 if there is any; else one line
    naming the services it would run. Secrets are read as serve would (files, environment), never printed."""
    host = _read(path)
    names = ", ".join(f"{name} (health {host.health[name]})" for name in host.services)
    click.echo(f"{path}: ok: {names}")
