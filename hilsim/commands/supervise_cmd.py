"""``hilsim supervise``: run a live command from the current installed version, and restart it for updates.

The one long-running command that does not go through the process helper (``hilsim/wiring/process.py``):
it starts no parts and runs no event loop, it is a parent process. It must pass SIGINT and SIGTERM on to
its child and exit with the child's code, where the helper takes a signal as its own order to stop and
shut its parts down. The loop lives in ``system/adapters/ota_supervisor.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from system.adapters.ota_supervisor import supervise as run_supervised


@click.command(context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True,
                                 "allow_interspersed_args": False},  # everything after COMMAND is COMMAND's
               short_help="Live: the controller, restarted into its updates.")
@click.option("--ota-root", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The update root: versions/, current, pending.json (created if missing).")
@click.argument("command", nargs=-1, type=click.UNPROCESSED, required=True)
def supervise(ota_root: Path, command: tuple[str, ...]) -> None:
    """Run ``hilsim COMMAND...`` (e.g. ``controller --db ... --ota-root DIR``) from the version ``current`` points
    at; when it installed an update and stopped, start the new version; if that one exits before it confirmed,
    put the previous one back. Meant as a systemd unit's ExecStart (see deploy/systemd/).

    Secure by default: the controller installs only wheels signed by the key its ``--update-key`` names
    (``hilsim release keygen``, ``hilsim release sign``); started without one it refuses every update."""
    ota_root.mkdir(parents=True, exist_ok=True)
    sys.exit(run_supervised(ota_root, list(command)))
