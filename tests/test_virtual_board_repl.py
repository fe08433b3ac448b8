"""mpremote's ``mount`` and ``repl`` on ``hilsim virtual-board``, and the REPL's ``machine``: code typed at the board's
REPLs runs with the console as its stdin, so mpremote's mount hook serves a host directory at /remote (import,
read, write, umount, the friendly REPL, a Ctrl-D soft reboot remounting it); a Ctrl-C interrupts running code;
with an esp32 config the REPL's ``machine`` is the emulated chip's, so ``mpremote reset`` is a software reset
that the next boot reports as the ESP32 port does."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import threading
import time

import pytest

from hil.bundle import write_bundle
from hil.dut import Dut
from hil.esp32_emulation import Esp32Hardware
from hil.firmware_process import interpreter
from hil.virtual_board import VirtualBoard

pytestmark = [pytest.mark.live, pytest.mark.micropython]

WAIT = 20.0


@pytest.fixture
def board(tmp_path):
    """A virtual board (MicroPython) on a pty; yields (port, serve) where serve() powers it on."""
    board = VirtualBoard(tmp_path / "fs", tmp_path / "flash.bin", command=interpreter("micropython"))
    port = board.open()
    thread = threading.Thread(target=board.serve, daemon=True)
    yield port, thread.start
    board.stop()
    if thread.is_alive():
        thread.join(10)  # serve() stops its interpreters on its way out
    board.close()


def mpremote(port: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mpremote", "connect", port, *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


def test_mpremote_mount_serves_a_host_directory_to_code_on_the_board(board, tmp_path):
    port, serve = board
    serve()
    host = tmp_path / "host"
    host.mkdir()
    (host / "sensors.py").write_text("MODEL = 'DHT22'\n")
    (host / "notes.txt").write_text("calibrated 2026-03-14\n")
    blob = bytes(range(256)) * 400  # every byte value (Ctrl-C, Ctrl-D, mpremote's 0x18 among them), past the
    (host / "blob.bin").write_bytes(blob)  # console's 64 KiB buffer
    done = mpremote(port, "mount", str(host), "exec",
                    "import os, sensors; print(sensors.MODEL, os.getcwd()); print(open('notes.txt').read().strip()); "
                    "open('/remote/log.txt', 'w').write('from the board'); "
                    "b = open('blob.bin', 'rb').read(); print(len(b)); open('copy.bin', 'wb').write(b)",
                    "+", "umount", "+", "exec", "import os; print(os.getcwd(), sorted(os.listdir()))")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"Local directory {host} is mounted at /remote", "DHT22 /remote",
                                        "calibrated 2026-03-14", "102400", "/ []"]
    assert (host / "log.txt").read_text() == "from the board"
    assert (host / "copy.bin").read_bytes() == blob
    assert sorted(os.listdir(tmp_path / "fs")) == []  # the board's own flash got nothing


def test_mpremote_repl_on_a_mount_imports_is_interrupted_and_remounts_after_a_soft_reboot(board, tmp_path):
    port, serve = board
    serve()
    host = tmp_path / "host"
    host.mkdir()
    (host / "sensors.py").write_text("MODEL = 'DHT22'\n")
    term = Terminal([sys.executable, "-m", "mpremote", "connect", port, "mount", str(host), "repl"])
    try:
        term.expect(b">>> ")
        term.type(b"import sensors\r")
        term.expect(b">>> ")
        term.type(b"sensors.MODEL\r")
        term.expect(b"'DHT22'\r\n>>> ")
        term.type(b"\x04")  # Ctrl-D: a soft reboot, after which mpremote mounts the directory again
        term.expect(b"Remount local directory")
        term.expect(b">>> ")
        term.type(b"import sensors; print(sensors.MODEL * 2)\r")
        term.expect(b"DHT22DHT22\r\n>>> ")
        term.type(b"while True: pass\r")
        term.expect(b"while True: pass\r\n")
        term.type(b"\x03")
        term.expect(b"KeyboardInterrupt: \r\n>>> ")
        term.type(b"\x1d")  # Ctrl-]: mpremote unmounts and leaves
        assert term.proc.wait(WAIT) == 0
    finally:
        term.close()


def test_mpremote_stops_a_program_another_mpremote_left_running(board):
    """``exec --no-follow`` leaves the loop running; the next mpremote's Ctrl-C interrupts it, and what it types
    next reaches the REPL although the code never read it."""
    port, serve = board
    serve()
    left = mpremote(port, "exec", "--no-follow", "n = 0\nwhile True: n += 1")
    assert left.returncode == 0, left.stderr
    done = mpremote(port, "exec", "print(6 * 7)")
    assert (done.returncode, done.stdout) == (0, "42\n"), done.stderr


class Terminal:
    """A program on a pseudo-terminal, as a user at a keyboard runs it."""

    def __init__(self, argv: list[str]):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave)
        os.close(slave)
        self.seen = b""

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def expect(self, text: bytes, timeout: float = WAIT) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"{text!r} not on the terminal; it shows {self.seen[-400:]!r}"
            if select.select([self.master], [], [], left)[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the program has gone
                    assert text in self.seen, f"{text!r} not on the terminal; it shows {self.seen[-400:]!r}"
        self.seen = self.seen[self.seen.index(text) + len(text):]

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)


def test_mpremote_reset_of_an_esp32_board_is_a_software_reset_its_next_boot_reports(board, tmp_path):
    """The ESP32 port's machine.reset() is esp_restart(): reset_cause() says SOFT_RESET at the next boot, in the
    firmware's boot message and at the REPL."""
    port, serve = board
    write_bundle(tmp_path / "fs", {"node": "node-1", "board": "esp32", "broker": "mqtt://127.0.0.1:9",
                                   "wifi": {"ssid": "hilsim-lab", "password": "s3cret"}, "sample_every": 60})
    Esp32Hardware(tmp_path / "fs").wifi(ssid="hilsim-lab", password="s3cret")
    serve()
    with Dut.open(port, name="esp32") as dut:
        assert dut.expect_message("boot", timeout=WAIT)["reset"] == "power_on"
    done = mpremote(port, "exec", "import machine; print(machine.unique_id(), machine.Pin(4))", "+", "reset")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines()[0] == "b'$\\n\\xc4\\x124V' Pin(4)"  # 24:0a:c4:12:34:56, the ROM loader's MAC
    with Dut.open(port, name="esp32") as dut:
        boot = dut.expect_message("boot", timeout=WAIT)
    assert (boot["reset"], boot["boot"]) == ("soft", 2)
    done = mpremote(port, "exec", "import machine; print(machine.reset_cause() == machine.SOFT_RESET)")
    assert done.stdout.splitlines() == ["True"], done.stdout + done.stderr  # the REPL sees this boot's cause
