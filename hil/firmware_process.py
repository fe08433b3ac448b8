"""The firmware as a host process: ``main.py`` of a bundle directory under the MicroPython Unix port
(or CPython when the port is not installed), its console on stdin/stdout."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from hil.esp32_emulation import esp32_command, wants_esp32
from system.adapters.child_process import stop


def interpreter(prefer: str = "micropython") -> list[str]:
    """The command that runs the firmware: the MicroPython Unix port when installed, else this CPython."""
    if prefer == "micropython":
        found = shutil.which("micropython")
        if found:
            return [found]
    return [sys.executable, "-u"]


def is_micropython(command: list[str]) -> bool:
    return Path(command[0]).name.startswith("micropython")


def start_firmware(fs: Path, command: list[str] | None = None, stderr=subprocess.STDOUT) -> subprocess.Popen:
    """Start ``main.py`` in directory ``fs`` (the board's filesystem) with its console on pipes.

    Under MicroPython, firmware whose config.json names the esp32 board runs on the emulated ESP32
    (``hil.esp32_emulation``): boot.py and main.py with the chip's own modules and its hardware."""
    command = command or interpreter()
    argv, env = [*command, "main.py"], None
    if is_micropython(command) and wants_esp32(fs):
        argv, env = esp32_command(fs, command)
    return subprocess.Popen(argv, cwd=fs, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr,
                            bufsize=0)


def stop_firmware(proc: subprocess.Popen) -> None:
    """Stop the firmware (SIGTERM, SIGKILL after 5 s) and close its console pipes."""
    stop(proc, 5)
    for stream in (proc.stdin, proc.stdout):
        if stream:
            stream.close()
