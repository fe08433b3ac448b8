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
@click.option("--fs", "fs", type=click.Path(file_okay=False, path_type=Path), default=Path("virtual-board-fs"),
              show_default=True,
              help="Directory that is the board's filesystem (created if missing; mpremote copies files here).")
@click.option("--flash", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="File holding the 4 MiB SPI flash esptool writes, kept between runs; a new one holds a factory "
                   "image [default: FS/../flash.bin].")
@click.option("--strapping", type=click.Choice(["flash", "download"]), default="flash", show_default=True,
              help="The IO0 strapping pin: 'download' holds it low (a jumper), so every reset starts the ROM "
                   "bootloader; 'flash' boots the firmware unless a reset sequence pulls IO0 low.")
@click.option("--rfc2217-port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="TCP port of the rfc2217:// console (0: a free one; the URL is printed at start).")
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="Lay the firmware and this config.json onto the filesystem first, as 'hilsim board deploy' "
                   "would.")
@click.option("--cpython", is_flag=True, help="Run the firmware under this CPython even if the MicroPython Unix "
                                             "port is installed.")
@click.option("-v", "--verbose", is_flag=True, help="Log mode changes (boot, REPL, bootloader) on stderr.")
def virtual_board(fs: Path, flash: Path | None, strapping: str, rfc2217_port: int, config: Path | None,
                  cpython: bool, verbose: bool) -> None:
    """Run a virtual ESP32 behind a pseudo-terminal and an rfc2217:// URL, and print both.

    The board runs our firmware (main.py on FS) under the MicroPython Unix port when it
    is installed, else CPython, with a simulated sensor and WiFi and real TCP to the
    broker in its config.json, once its flash holds a valid ESP32 image (a new flash
    does). With "board": "esp32" (Unix port only) it runs the ESP32 board layer on
    emulated machine, dht, network and ntptime modules, whose hardware is driven through
    FS.hw (hil.esp32_emulation.Esp32Hardware). esptool with its default options works on
    the rfc2217:// URL, whose DTR/RTS reset the board as a USB bridge does; a pty has no
    such lines, so there start the board with --strapping download (or run
    machine.bootloader() with mpremote). mpremote works on either. Until SIGINT (Ctrl-C)
    or SIGTERM; state changes go to stderr, one line each.

    \b
      hilsim virtual-board
      esptool --port rfc2217://127.0.0.1:PORT chip-id
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
    board = VirtualBoard(fs, flash or fs.parent / "flash.bin", command=command, strapping=strapping,
                         log=(lambda s: click.echo(f"virtual-board: {s}", err=True)) if verbose else None)

    def announce(port: str, url: str) -> None:
        # On stdout, for whoever started it to read the port; the state lines go to stderr.
        click.echo(f"virtual board on {port} and {url} (firmware under {Path(command[0]).name}, filesystem {fs})")
        sys.stdout.flush()

    with user_errors():
        run_virtual_board(board, announce=announce, rfc2217_port=rfc2217_port)
