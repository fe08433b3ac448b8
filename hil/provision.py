"""Board provisioning: identify (esptool), flash a MicroPython image and verify it (esptool), deploy the
firmware bundle (mpremote), watch the boot banner.

esptool is used through its public Python API (``esptool.cmds``); mpremote through its
command line, the interface it documents. Both talk to a real board on a USB port, to an
``rfc2217://`` URL, or to ``hilsim virtual-board``'s pseudo-terminal: a pty has no
DTR/RTS lines, so there the board is sent to its bootloader through MicroPython's raw
REPL (``machine.bootloader()``, as ``mpremote bootloader`` does) and reached with
esptool's ``no-reset`` mode, and left with esptool's soft reset, which runs the
application (the ROM's FLASH_END "run").
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from hil.bundle import write_bundle
from hil.dut import Dut
from system.errors import BackendError, ConfigError

MICROPYTHON_OFFSET = 0x1000  # where MicroPython's ESP32 image starts (bootloader + partitions + app)


def is_virtual(port: str) -> bool:
    """A pseudo-terminal (a virtual board, QEMU): no modem lines, so no DTR/RTS reset."""
    return os.path.realpath(port).startswith("/dev/pts/")


@dataclass(frozen=True)
class ChipInfo:
    """What esptool reads from the ROM bootloader."""

    chip: str
    description: str
    features: tuple[str, ...]
    mac: str
    flash_size: str | None


@contextlib.contextmanager
def _esptool(port: str, before: str | None, after: str | None, quiet: bool = True):
    """An esptool ESPLoader connected to ``port`` in ROM mode (no stub); closed and reset as ``after`` says."""
    from esptool.cmds import detect_chip, reset_chip
    from esptool.util import FatalError

    virtual = is_virtual(port)
    if virtual and before is None:
        _bootloader_by_repl(port)
    before = before or ("no-reset" if virtual else "default-reset")
    after = after or ("soft-reset" if virtual else "hard-reset")  # soft: the ROM runs the application
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
            esp = detect_chip(port, connect_mode=before, connect_attempts=3)
    except (FatalError, OSError) as exc:
        raise BackendError(f"esptool could not reach the ROM bootloader on {port}: {exc}"
                           + ("" if virtual else " (hold BOOT while pressing EN, then retry)")) from exc
    with esp:  # the loader closes its port on leaving
        try:
            yield esp
        except FatalError as exc:
            raise BackendError(f"esptool on {port}: {exc}") from exc
        finally:
            with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
                if after != "no-reset":
                    reset_chip(esp, after)


def _bootloader_by_repl(port: str, timeout: float = 10.0) -> None:
    """Into the ROM bootloader through MicroPython's raw REPL: Ctrl-C stops main.py, Ctrl-A enters the raw
    REPL, ``machine.bootloader()`` restarts the chip in download mode. A board already in its bootloader
    ignores all this (its ROM reads SLIP frames only)."""
    import serial

    try:
        with serial.Serial(port, 115200, timeout=0.2) as link:
            link.write(b"\r\x03\x03\x01import machine; machine.bootloader()\x04")
            seen, deadline = b"", time.monotonic() + timeout
            while b"waiting for download" not in seen and time.monotonic() < deadline:
                seen = (seen + link.read(256))[-512:]
    except (OSError, serial.SerialException) as exc:
        raise BackendError(f"{port}: {exc}") from exc


class _Progress:
    """esptool's log, quiet but for its progress bars, which go to ``report(done, total)``."""

    def __init__(self, report: Callable[[int, int], None]):
        self.report = report

    def progress_bar(self, cur_iter: int, total_iters: int, prefix: str = "", suffix: str = "",
                     bar_length: int = 30) -> None:
        self.report(cur_iter, total_iters)

    def print(self, *args, **kwargs) -> None:
        pass

    note = warning = error = stage = set_verbosity = print


@contextlib.contextmanager
def _esptool_progress(report: Callable[[int, int], None] | None):
    if report is None:
        yield
        return
    from esp_pylib.logger import EspLog
    from esptool.logger import TemplateLogger, log

    saved = EspLog.instance
    log.set_logger(type("ProgressLog", (_Progress, TemplateLogger), {})(report))
    try:
        yield
    finally:
        EspLog.instance = saved


def chip_info(port: str, *, before: str | None = None, after: str | None = None) -> ChipInfo:
    """Chip type, features, MAC and flash size, read by esptool."""
    from esptool.cmds import detect_flash_size

    with _esptool(port, before, after) as esp:
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink):
            size = detect_flash_size(esp)
        return ChipInfo(esp.CHIP_NAME, esp.get_chip_description(), tuple(esp.get_chip_features()), mac, size)


def flash_image(port: str, image: Path, *, offset: int = MICROPYTHON_OFFSET, before: str | None = None,
                after: str | None = None, quiet: bool = True,
                progress: Callable[[int, int], None] | None = None) -> ChipInfo:
    """Write ``image`` at ``offset`` and verify it by MD5 (esptool's write and verify commands); ``progress``
    gets (bytes written, bytes in all) as esptool reports them."""
    from esptool.cmds import attach_flash, verify_flash, write_flash

    if not image.is_file():
        raise ConfigError("no such image file", source=str(image))
    with _esptool(port, before, after, quiet=quiet) as esp:
        mac = ":".join(f"{b:02x}" for b in esp.read_mac())
        description = esp.get_chip_description()
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext(), _esptool_progress(progress):
            attach_flash(esp)
            write_flash(esp, [(offset, str(image))])
            verify_flash(esp, [(offset, str(image))])
        return ChipInfo(esp.CHIP_NAME, description, (), mac, None)


def mpremote_command() -> list[str]:
    """mpremote's console script beside this Python (as a user runs it), else ``python -m mpremote``."""
    script = shutil.which("mpremote", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "mpremote"]


def mpremote(port: str, *args: str, cwd: Path | None = None, timeout: float = 300) -> str:
    """Run ``mpremote connect PORT ARGS...``; its output, or a BackendError with its message."""
    try:
        done = subprocess.run([*mpremote_command(), "connect", port, *args], cwd=cwd,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BackendError(f"mpremote on {port} did not finish within {timeout:g} s") from exc
    if done.returncode != 0:
        raise BackendError(f"mpremote on {port} failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return done.stdout


def deploy(port: str, config: dict, *, boot_timeout: float = 30.0, log: Path | None = None,
           files_from: Path | None = None) -> dict:
    """Copy the firmware, its MicroPython dependencies (none: the MQTT client is ours), ``config`` and the TLS
    files it names (read from ``files_from``, default the working directory) onto the board with mpremote,
    soft-reset it into the new code, and return its boot banner."""
    from firmware.board.config import check_config

    try:
        check_config(config)
    except ValueError as exc:
        raise ConfigError(str(exc), source="config.json") from exc
    with tempfile.TemporaryDirectory(prefix="hilsim-bundle-") as tmp:
        staged = write_bundle(Path(tmp), config, files_from)
        names = sorted(p.name for p in staged.iterdir())
        mpremote(port, "cp", "-r", *names, ":./", cwd=staged)
    with Dut.open(port, log=log, name=config["node"]) as dut:
        dut.write(b"\r\x03\x03")  # stop whatever runs, to the friendly REPL
        dut.write(b"\x04")  # Ctrl-D there: soft reboot, which runs boot.py and main.py
        return dut.expect_message("boot", node=config["node"], timeout=boot_timeout)
