"""The real esptool against ``hilsim virtual-board``: seconds per command, over the pty and over RFC 2217.

Each command is esptool with its default options (reset, flasher stub, compressed write, hard reset);
the image is a valid ESP32 application image of ``--size`` bytes, written at 0x10000 and read back.
Over RFC 2217 most of the time is pyserial's client: it waits about 0.1 s for each change of the port's
timeout to be acknowledged, and esptool changes it twice per command.

    python -m bench.virtual_board_esptool [--size 262144]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hil.esp_image import factory_image
from system.adapters.child_process import stop

ROOT = Path(__file__).resolve().parent.parent


def start_board(home: Path, *args: str) -> tuple[subprocess.Popen, str, str]:
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(home / "fs"), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    pty, url = re.search(r"virtual board on (\S+) and (\S+)", proc.stdout.readline()).groups()
    return proc, pty, url


def timed(port: str, *args: str) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "esptool", "--port", port, *args], check=True, capture_output=True)
    return time.monotonic() - start


def measure(size: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for transport, extra in (("pty", ("--strapping", "download")), ("rfc2217", ())):
        with tempfile.TemporaryDirectory(prefix="bench-vb-") as tmp:
            home = Path(tmp)
            image = home / "app.bin"
            image.write_bytes(factory_image(os.urandom(size)))  # random: the zlib stream as large as the image
            proc, pty, url = start_board(home, *extra)
            port = pty if transport == "pty" else url
            try:
                results[transport] = {
                    "chip-id": timed(port, "chip-id"),
                    f"write-flash {image.stat().st_size} B": timed(port, "write-flash", "0x10000", str(image)),
                    f"read-flash {image.stat().st_size} B": timed(port, "read-flash", "0x10000",
                                                                  str(image.stat().st_size), str(home / "b.bin")),
                    "erase-flash": timed(port, "erase-flash"),
                }
            finally:
                stop(proc, 10)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256 * 1024, help="image size in bytes")
    args = parser.parse_args()
    for transport, rows in measure(args.size).items():
        for command, seconds in rows.items():
            print(f"{transport:8} {command:28} {seconds:6.2f} s")


if __name__ == "__main__":
    main()
