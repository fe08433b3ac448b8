"""``hilsim board ...`` and ``hilsim record`` fail fast and loud: a silent board, a port another program holds.
Each failure is one ``Error:`` line and exit 1 within 30 s."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
import tty

import pytest

from hil.dut import Dut

from processes import ROOT
from test_esp_image import esptool_image

BOUND = 30.0  # seconds: the user-visible promise for a board that never answers


@pytest.fixture
def silent_board():
    """A port nobody answers on, as a board without power: (master fd, path); each call a new one."""
    opened = []

    def make():
        master, slave = pty.openpty()
        tty.setraw(slave)
        opened.extend((master, slave))
        return master, os.ttyname(slave)

    yield make
    for fd in opened:
        os.close(fd)


def hilsim(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hilsim", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=ROOT)


@pytest.mark.live
def test_every_board_command_gives_up_on_a_silent_board_with_one_line_within_30_s(silent_board, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"node": "node-1", "board": "sim", "broker": "mqtt://127.0.0.1:1883"}))
    image = tmp_path / "app.bin"
    image.write_bytes(esptool_image(1000, 2000))
    commands = {"info": ["board", "info"], "deploy": ["board", "deploy", "--config", str(config)],
                "flash": ["board", "flash", str(image), "--offset", "0x10000"],
                "console": ["board", "console"],
                "record": ["record", "--for", "10m", "--out", str(tmp_path / "recording.jsonl")]}
    started = time.monotonic()
    running = {name: hilsim(*args, "--port", silent_board()[1]) for name, args in commands.items()}  # at once
    says = {"info": "esptool could not reach the ROM bootloader", "deploy": "no answer from",
            "flash": "esptool could not reach the ROM bootloader",
            "console": "nothing from", "record": "no message from"}
    for name, proc in running.items():
        out, err = proc.communicate(timeout=60)
        assert time.monotonic() - started < BOUND, name
        assert proc.returncode == 1, (name, out, err)
        assert len(err.splitlines()) == 1 and err.startswith(f"Error: {says[name]}"), (name, err)


@pytest.mark.live
def test_a_port_another_program_holds_is_refused_naming_it(silent_board):
    master, path = silent_board()
    with Dut.open(path):  # this test process holds the port, as a serial monitor would
        done = subprocess.run([sys.executable, "-m", "hilsim", "board", "console", "--port", path],
                              capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 1 and len(done.stderr.splitlines()) == 1
    assert done.stderr.startswith(f"Error: {path} is in use by pid {os.getpid()} (")
    assert done.stderr.endswith("); close it there first\n")


@pytest.mark.live
def test_a_second_hilsim_command_on_a_board_names_the_first(silent_board, tmp_path):
    master, path = silent_board()
    first = hilsim("board", "console", "--port", path, "--for", "60")
    try:
        assert os.read(master, 100) == b'{"cmd": "state"}\n', "the console asks the board for its state"
        os.write(master, b'{"msg": "boot", "node": "node-1"}\n')  # enough for a console to stay
        assert "boot" in first.stdout.readline(), "the first console is up"
        second = subprocess.run([sys.executable, "-m", "hilsim", "record", "--port", path, "--for", "5s"],
                                capture_output=True, text=True, timeout=60, cwd=ROOT)
    finally:
        first.terminate()
        first.wait(10)
    assert second.returncode == 1
    assert second.stderr.startswith(f"Error: {path} is in use by pid {first.pid} (")
    assert "-m hilsim board console --port" in second.stderr and len(second.stderr.splitlines()) == 1


@pytest.mark.live
@pytest.mark.micropython
def test_board_info_leaves_the_board_running_its_firmware_and_says_so(tmp_path):
    import threading

    from hil.board_node import idle_config
    from hil.bundle import write_bundle
    from hil.virtual_board import VirtualBoard

    board = VirtualBoard(write_bundle(tmp_path / "fs", idle_config("node-1")), tmp_path / "flash.bin")
    path = board.open()
    serving = threading.Thread(target=board.serve, daemon=True)
    serving.start()
    try:
        done = subprocess.run([sys.executable, "-m", "hilsim", "board", "info", "--port", path], capture_output=True,
                              text=True, timeout=60, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert "chip:        ESP32-D0WD-V3" in done.stdout
        assert done.stderr == "reset back into the firmware: node-1 booted 0.1.0 on unix\n"
        with Dut.open(path) as dut:
            assert dut.expect_message("reading", timeout=20)["node"] == "node-1", "the firmware runs"
    finally:
        board.stop()
        serving.join(10)
        board.close()


@pytest.mark.live
def test_a_wall_clock_run_with_a_silent_board_stops_with_one_line_within_30_s(silent_board, tmp_path):
    from processes import free_port
    from system.adapters.amqtt_broker import add_user

    passwd = tmp_path / "broker.passwd"
    add_user(passwd, "node-1", "pw")
    started = time.monotonic()
    run = hilsim("run", str(ROOT / "scenarios" / "hil-quickstart.yaml"), "--hil", f"node-1={silent_board()[1]}",
                 "--passwd", str(passwd), "--board-proxy-port", str(free_port()), "--out", str(tmp_path / "run"))
    out, err = run.communicate(timeout=60)
    assert time.monotonic() - started < BOUND
    assert run.returncode == 1, (out, err)
    errors = [line for line in err.splitlines() if not line.startswith("  ")]  # the run's progress is indented
    assert errors == [f"Error: timed out: node-1: silent: neither MicroPython nor a ROM bootloader answers "
                      f"within 10 s (is the board powered, on this port, at this baud rate?)"], err
