"""``hilsim virtual-board``: a virtual ESP32 on a pseudo-terminal (see ``hil/virtual_board.py``)."""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

import click

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
    broker in its config.json. esptool (--before no-reset --no-stub --after no-reset)
    and mpremote work on the printed port. Stop with Ctrl-C.

    \b
      hilsim virtual-board --fs vboard/fs
      mpremote connect /dev/pts/N ls
    """
    from hil.bundle import write_bundle
    from hil.firmware_process import interpreter
    from hil.virtual_board import VirtualBoard

    if config is not None:
        try:
            doc = json.loads(config.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"not JSON: {exc}", source=str(config)) from exc
        write_bundle(fs, doc)
    command = interpreter("cpython" if cpython else "micropython")
    board = VirtualBoard(fs, flash or fs.parent / "flash.bin", command=command,
                         log=(lambda s: click.echo(f"virtual-board: {s}", err=True)) if verbose else None)
    port = board.open()
    click.echo(f"virtual board on {port} (firmware under {Path(command[0]).name}, filesystem {fs})")
    sys.stdout.flush()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: board.stop())
    try:
        board.serve()
    finally:
        board.close()
    click.echo("virtual board: stopped", err=True)
