"""``hilsim board info | flash | deploy | console``: an ESP32 on a serial port (see ``hil/provision.py``).

Every command owns its port while it runs (``hil.serial_ports.claim``: a port another program holds
is refused, naming it) and fails fast on a silent board: one ``Error:`` line and exit 1 within
:data:`ANSWER_TIMEOUT` seconds (esptool gives up sooner).
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click

from hilsim.commands.user_errors import BackendProblem, UsageProblem, user_errors
from system.errors import BackendError, ConfigError

_PORT = click.option("--port", "-p", default=None, metavar="PORT",
                     help="Serial port of the board, or an rfc2217:// URL [default: the one ESP32 found by USB "
                          "VID:PID].")
ANSWER_TIMEOUT = 10.0  # seconds a board may stay silent before a command gives up on it


@contextlib.contextmanager
def board_errors() -> Iterator[None]:
    """``user_errors`` for board work: a timeout is the board's (exit 1), and every message is one line
    (esptool's and mpremote's span several: their lines are joined with ' | ')."""
    try:
        with user_errors():
            try:
                yield
            except TimeoutError as exc:
                raise BackendError(str(exc)) from None
    except click.ClickException as exc:
        exc.message = " | ".join(line.strip() for line in exc.message.splitlines() if line.strip())
        raise


def _port(port: str | None) -> str:
    if port:
        return port
    from hil.serial_ports import detect_port

    with user_errors():  # no board found, or several: pass --port
        found = detect_port()
    click.echo(f"using {found.device} ({found.bridge})", err=True)
    return found.device


@click.group(context_settings={"help_option_names": ["-h", "--help"]},
             short_help="Hardware: identify, flash, deploy to and watch an ESP32.")
def board() -> None:
    """Identify, flash, deploy to and watch an ESP32 (or a virtual board)."""


@board.command()
@_PORT
def info(port: str | None) -> None:
    """Identify the chip and its MAC with esptool, then reset the board back into its firmware."""
    from hil.dut import Dut
    from hil.provision import chip_info
    from hil.serial_ports import claim

    port = _port(port)
    with board_errors(), claim(port):
        chip = chip_info(port, after="no-reset")  # the reset below is ours, so that its boot is seen
        click.echo(f"port:        {port}\nchip:        {chip.description}\nfeatures:    {', '.join(chip.features)}\n"
                   f"MAC:         {chip.mac}\nflash size:  {chip.flash_size or 'unknown'}")
        with Dut.open(port, name=port) as dut:
            click.echo(_out_of_the_bootloader(dut), err=True)


def _out_of_the_bootloader(dut) -> str:
    """Reset the board after esptool had it in its bootloader; what it started into, for the user."""
    def started(line):
        if line.message is not None and line.message.get("msg") == "boot":
            return line.message
        return "repl" if 'Type "help()"' in line.text else None

    try:
        dut.restart(ANSWER_TIMEOUT)
        boot = dut.expect(started, "a boot message or MicroPython's banner", ANSWER_TIMEOUT)
    except TimeoutError:
        return (f"reset out of the bootloader; nothing started within {ANSWER_TIMEOUT:g} s (is MicroPython "
                "flashed? 'hilsim board flash')")
    if boot == "repl":
        return "reset back into MicroPython's REPL (no hilsim firmware on it yet: 'hilsim board deploy')"
    return f"reset back into the firmware: {boot.get('node')} booted {boot.get('version')} on {boot.get('board')}"


@board.command(short_help="Check a firmware image, write it and verify it (esptool).")
@_PORT
@click.argument("image", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--offset", default="0x1000", show_default=True, help="Flash address of the image "
              "(0x1000 for MicroPython's ESP32 images).")
def flash(port: str | None, image: Path, offset: str) -> None:
    """Write a MicroPython IMAGE (the .bin from micropython.org) and verify it.

    The image is checked first as the chip's boot would check it (an ESP32 image: magic
    byte, segments, checksum, SHA-256; for an image from 0x1000, the application at
    0x10000 too): a file that would not boot is refused and nothing is written. Progress
    is esptool's bar on a terminal, else one line per 10%.
    """
    from hil.esp_image import firmware_problem
    from hil.provision import flash_image
    from hil.serial_ports import claim

    try:
        address = int(offset, 0)
    except ValueError:
        raise UsageProblem(f"--offset: {offset!r} is not a number such as 0x1000") from None
    problem = firmware_problem(image.read_bytes(), address)
    if problem:
        raise UsageProblem(f"{image}: not an ESP32 firmware image, nothing written: {problem}")
    port = _port(port)
    out = sys.stdout  # esptool's own output is silenced by redirecting sys.stdout: our lines go here
    terminal = out.isatty()
    with board_errors(), claim(port):
        chip = flash_image(port, image, offset=address, quiet=not terminal,  # on a terminal, esptool's bar
                           progress=None if terminal else TenPercent(lambda line: click.echo(line, file=out)))
    click.echo(f"wrote {image} ({image.stat().st_size} bytes) at {address:#x} on {chip.description} "
               f"{chip.mac}; verified")


class TenPercent:
    """Progress as one line per 10% (for a log, not a terminal): ``__call__(done, total)``."""

    def __init__(self, say):
        self.say = say
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        tenths = done * 10 // total if total > 0 else 0
        for tenth in range(self.shown + 1, tenths + 1):
            self.say(f"written {tenth * 10}% of {total} bytes")
        self.shown = max(self.shown, tenths)


@board.command(short_help="Firmware and config.json onto the board (mpremote), reset.")
@_PORT
@click.option("--config", "config", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=True,
              help="The node's config.json (node id, WiFi, broker, credentials, pins, intervals).")
@click.option("--timeout", type=float, default=30.0, show_default=True, help="Seconds to wait for the boot banner.")
def deploy(port: str | None, config: Path, timeout: float) -> None:
    """Copy the firmware and CONFIG onto the board with mpremote, reset, wait for the boot banner."""
    from hil.dut import Dut
    from hil.provision import deploy as deploy_bundle
    from hil.serial_ports import claim

    try:
        doc = json.loads(config.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageProblem(f"{config}: not JSON: {exc}") from None
    port = _port(port)
    with board_errors(), claim(port):
        with Dut.open(port, name=port) as dut:  # a silent board fails here, not after mpremote's minutes
            dut.interrupt(ANSWER_TIMEOUT)
        try:
            boot = deploy_bundle(port, doc, boot_timeout=timeout, files_from=config.parent)
        except ConfigError as exc:
            raise UsageProblem(f"{config}: {exc.reason}") from None
    click.echo(f"{boot['node']} booted firmware {boot['version']} on {boot['board']} ({port})")


def pretty(line) -> str:
    """One console line for a person: messages as 'HH:MM:SS kind key=value ...', text as it is."""
    stamp = time.strftime("%H:%M:%S", time.localtime(line.t))
    m = line.message
    if m is None:
        return f"{stamp} | {line.text}"
    kind = m["msg"] if m["msg"] != "trace" else m.get("kind", "trace")
    rest = " ".join(f"{k}={json.dumps(v)}" for k, v in m.items() if k not in ("msg", "kind"))
    return f"{stamp} {kind:<18} {rest}"


@board.command(short_help="Serial monitor: the JSON lines pretty-printed.")
@_PORT
@click.option("--raw", is_flag=True, help="Print the JSON lines as they come.")
@click.option("--for", "seconds", type=float, default=None, help="Stop after this many seconds.")
@click.option("--timeout", type=float, default=ANSWER_TIMEOUT, show_default=True,
              help="Give up (exit 1) when the board sends nothing at all within this many seconds.")
def console(port: str | None, raw: bool, seconds: float | None, timeout: float) -> None:
    """A serial monitor that pretty-prints the board's JSON lines; type commands as JSON to send them.

    It asks the board for its state first (the 'state' command), so a live board answers at once;
    exit 1 when nothing arrives within --timeout or the port goes away.
    """
    from hil.dut import Dut
    from hil.serial_ports import claim

    port = _port(port)
    with board_errors(), claim(port), Dut.open(port, name=port) as dut:
        dut.on_line(lambda line: click.echo(line.text if raw else pretty(line)))
        dut.send("state")
        try:
            dut.expect_output(min(timeout, seconds) if seconds else timeout)
        except TimeoutError:
            raise BackendError(f"nothing from {port} within {timeout:g} s: is the board powered, on this port and "
                               "running its firmware?") from None
        _keyboard(dut)
        _watch(dut, seconds)
        skipped = dut.skipped
    if any(skipped.values()):
        click.echo(f"skipped lines: {skipped}", err=True)


def _keyboard(dut) -> None:
    if sys.stdin is not None and sys.stdin.isatty():
        import threading

        def keyboard() -> None:  # each line typed goes to the board as it is (a JSON command)
            for typed in sys.stdin:
                dut.write(typed.encode("utf-8"))

        threading.Thread(target=keyboard, daemon=True).start()


def _watch(dut, seconds: float | None) -> None:
    deadline = time.monotonic() + seconds if seconds else None
    try:
        while deadline is None or time.monotonic() < deadline:
            if dut.closed is not None:
                raise BackendError(f"{dut.name}: the port went away ({dut.closed})")
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
