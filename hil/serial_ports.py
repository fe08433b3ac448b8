"""Serial ports: finding an ESP32 by its USB VID:PID (pyserial ``list_ports``), and owning a port.

A port belongs to one program at a time. Two locks say so:

- the device itself is opened with pyserial's ``exclusive=True`` (an ``flock`` on it), as esptool and
  mpremote open it too, so none of the three can open a port another holds;
- a hilsim command that opens a port several times (deploy: mpremote, then the console) holds a lock
  file for the whole command (:func:`claim`), so no other hilsim command slips in between; an
  ``rfc2217://`` URL, which has no device to ``flock``, is owned by that lock file alone.

When a port is taken, :func:`holders` says who holds it, where Linux tells (``/proc/locks`` for the
``flock``, ``/proc/*/fd`` for a program that opened it without one).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import serial
from serial.tools import list_ports

from system.errors import BackendError, ConfigError

# USB VID:PID of ESP32 boards' USB-serial bridges and of Espressif's native USB.
KNOWN_BRIDGES: dict[tuple[int, int], str] = {
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x1A86, 0x55D3): "WCH CH343",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6015): "FTDI FT231X",
    (0x303A, 0x1001): "Espressif USB-Serial/JTAG (native USB)",
    (0x303A, 0x0002): "Espressif USB CDC (ESP32-S2/S3 ROM)",
}
NATIVE_USB_VID = 0x303A


@dataclass(frozen=True)
class FoundPort:
    """One serial port that looks like an ESP32: its device path and what the USB IDs say it is."""

    device: str
    vid: int
    pid: int
    bridge: str
    serial_number: str | None = None

    @property
    def native_usb(self) -> bool:
        return self.vid == NATIVE_USB_VID


def find_boards(ports=None) -> list[FoundPort]:
    """Every port whose VID:PID is a known ESP32 bridge, sorted by device; ``ports`` defaults to list_ports."""
    found = []
    for info in ports if ports is not None else list_ports.comports():
        key = (info.vid, info.pid)
        if key in KNOWN_BRIDGES:
            found.append(FoundPort(info.device, info.vid, info.pid, KNOWN_BRIDGES[key], info.serial_number))
    return sorted(found, key=lambda p: p.device)


def detect_port(ports=None) -> FoundPort:
    """The one attached ESP32; a BackendError when none is attached (missing hardware), a ConfigError
    naming them when several are (the user picks one with --port)."""
    found = find_boards(ports)
    if not found:
        raise BackendError("no ESP32 found on USB (looked for CP210x, CH340/CH9102, FTDI and Espressif native "
                           "USB); plug one in or pass --port")
    if len(found) > 1:
        listed = ", ".join(f"{p.device} ({p.bridge})" for p in found)
        raise ConfigError(f"several ESP32 boards found: {listed}; pick one with --port", source="--port")
    return found[0]


def is_url(port: str) -> bool:
    """A pyserial URL (``rfc2217://host:port``, ``socket://``, ``loop://``) rather than a device path."""
    return "://" in port


def _describe(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return f"pid {pid}"
    return f"pid {pid} ({cmdline[:80]})" if cmdline else f"pid {pid}"


def _lock_holders(path: str) -> list[int]:
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text()
    except OSError:
        return []
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    # "1: FLOCK  ADVISORY  WRITE 1234 00:19:3 0 EOF"; the device part is major:minor in hex
    pids = [int(m.group(1)) for m in re.finditer(r"^\d+: FLOCK\s+\S+\s+\S+\s+(\d+)\s+(\S+)", table, re.M)
            if m.group(2).lower() == inode]
    return sorted(set(pids))


def _fd_holders(path: str) -> list[int]:
    target = os.path.realpath(path)
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if any(os.readlink(fd) == target for fd in (entry / "fd").iterdir()):
                pids.append(int(entry.name))
        except OSError:  # another user's process, or one that just ended
            continue
    return sorted(pids)


def holders(path: str) -> list[str]:
    """Who holds device (or lock file) ``path``: the processes with an ``flock`` on it, else those that have it
    open; "pid N (command line)" each, empty where Linux does not tell."""
    pids = [pid for pid in _lock_holders(path) if pid != os.getpid()] or _fd_holders(path)
    return [_describe(pid) for pid in pids]


def _busy(port: str, path: str) -> BackendError:
    who = holders(path)
    return BackendError(f"{port} is in use" + (f" by {', '.join(who)}" if who else " by another program")
                        + "; close it there first")


def open_serial(port: str, baudrate: int = 115200, timeout: float = 0.1) -> serial.Serial:
    """Open ``port`` (a device path or an ``rfc2217://`` URL) for this program alone; a BackendError that names
    the holder when another program has it, or that says why it cannot be opened."""
    try:
        return serial.serial_for_url(port, baudrate, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        if "exclusively lock" in str(exc) or getattr(exc, "errno", None) == 16:  # EBUSY: TIOCEXCL
            raise _busy(port, port) from exc
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendError(f"cannot open serial port {port}: {detail}") from exc


def _lock_file(port: str) -> Path:
    key = port if is_url(port) else os.path.realpath(port)
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("_")
    folder = Path(tempfile.gettempdir()) / f"hilsim-ports-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder / f"{name}.lock"


@contextlib.contextmanager
def claim(port: str) -> Iterator[None]:
    """Own ``port`` for the length of a command: a BackendError naming the holder when another hilsim command
    owns it, or when another program holds the device. The device's own lock is taken by each open."""
    if not is_url(port) and not os.path.exists(port):
        raise BackendError(f"no serial port {port}: is the board plugged in, and is this its port?")
    path = _lock_file(port)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(port, str(path)) from None
        if not is_url(port):
            taken = [pid for pid in _lock_holders(port) if pid != os.getpid()]
            if taken:
                raise BackendError(f"{port} is in use by {', '.join(map(_describe, taken))}; close it there first")
        yield
    finally:
        os.close(fd)
