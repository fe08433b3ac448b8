"""``hilsim virtual-board``: a virtual ESP32 on a pseudo-terminal (see ``hil/virtual_board.py``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from hilsim.commands.user_errors import user_errors
from system.errors import ConfigError


@click.command("virtual-board", context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Hardware: a virtual ESP32 on a pseudo-terminal.")
@click.option("--fs", "fs", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Directory that is the board's filesystem (created if missing; mpremote copies files here).")
@click.option("--flash", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the 4 MiB SPI flash esptool writes [default: FS/../flash.bin].")
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Lay the firmware and this config.json onto the filesystem first, as 'hilsim board deploy' "
                   "would.")
@click.option("--cpython", is_flag=True, help="Run the firmware under this CPython even if the MicroPython Unix "
                                             "port is installed.")
@click.option("-v", "--verbose", is_flag=True, help="Log mode changes (boot, REPL, bootloader) on stderr.")
def virtual_board(fs: Path, flash: Path | None, config: Path | None, cpython: bool, verbose: bool) -> None:
    """Run a virtual ESP32 behind a pseudo-terminal and print its port path.

    The board runs our firmware (main.py on FS) under the MicroPython Unix port when it
    is installed, else CPython, with a simulated sensor and WiFi and real TCP to the
    broker in its config.json. With "board": "esp32" (Unix port only) it runs the ESP32
    board layer on emulated machine, dht, network and ntptime modules, whose hardware is
    driven through FS.hw (hil.esp32_emulation.Esp32Hardware). esptool (--before no-reset --no-stub --after no-reset)
    and mpremote work on the printed port. Until SIGINT (Ctrl-C) or SIGTERM; state
    changes (started, stopped) go to stderr, one line each.

    \b
      hilsim virtual-board --fs vboard/fs
      mpremote connect /dev/pts/N ls
    """
    from hil.bundle import write_bundle
    from hil.firmware_process import interpreter
    from hil.virtual_board import VirtualBoard
    from hilsim.wiring.live_virtual_board import run_virtual_board

    if config is not None:
        with user_errors():
            try:
                doc = json.loads(config.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ConfigError(f"not JSON: {exc}", source=str(config)) from exc
            write_bundle(fs, doc, config.parent)
    command = interpreter("cpython" if cpython else "micropython")
    board = VirtualBoard(fs, flash or fs.parent / "flash.bin", command=command,
                         log=(lambda s: click.echo(f"virtual-board: {s}", err=True)) if verbose else None)

    def announce(port: str) -> None:
        # On stdout, for whoever started it to read the port; the state lines go to stderr.
        click.echo(f"virtual board on {port} (firmware under {Path(command[0]).name}, filesystem {fs})")
        sys.stdout.flush()

    with user_errors():
        run_virtual_board(board, announce=announce)
