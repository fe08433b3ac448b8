"""Finding an ESP32 on the host's serial ports by its USB VID:PID (pyserial ``list_ports``)."""

from __future__ import annotations

from dataclasses import dataclass

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
