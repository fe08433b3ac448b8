"""``hilsim virtual-board`` with the real tools: esptool identifies it, writes a 1 MiB image and verifies it;
mpremote deploys the firmware onto its (blank) filesystem, after which it boots the deployed code and
publishes readings to a real ``hilsim broker``. Also ``hilsim board info | flash | deploy | console``."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from hil.dut import Dut
from system.adapters.child_process import stop

from boards import Readings, hilsim_broker, node_config
from processes import ROOT

pytestmark = [pytest.mark.live, pytest.mark.micropython]


@pytest.fixture(params=["micropython"])
def virtual_board(request, tmp_path):
    """A blank virtual ESP32 (no main.py yet); yields (port, board directory)."""
    extra = ["--cpython"] if request.param == "cpython" else []
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(tmp_path / "fs"), "-v",
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    line = proc.stdout.readline()
    match = re.search(r"virtual board on (\S+)", line)
    assert match, f"no port line: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
    yield match.group(1), tmp_path
    stop(proc, 10)


def hilsim(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hilsim", *args], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT)


@pytest.mark.slow
def test_esptool_identifies_the_board_writes_a_1_mib_image_and_verifies_it(virtual_board):
    port, home = virtual_board
    image = home / "micropython.bin"
    image.write_bytes(os.urandom(1 << 20))
    esptool = [sys.executable, "-m", "esptool", "--port", port, "--before", "no-reset", "--after", "no-reset",
               "--no-stub"]
    done = subprocess.run([*esptool, "chip-id"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ESP32-D0WD-V3" in done.stdout and "MAC:                24:0a:c4:12:34:56" in done.stdout
    done = subprocess.run([*esptool, "write-flash", "0x1000", str(image)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert "Wrote 1048576 bytes at 0x00001000" in done.stdout and "Hash of data verified." in done.stdout
    done = subprocess.run([*esptool, "verify-flash", "0x1000", str(image)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and "verification successful" in done.stdout.lower(), done.stdout + done.stderr
    assert (home / "flash.bin").read_bytes()[0x1000:0x1000 + (1 << 20)] == image.read_bytes()  # persisted

    info = hilsim("board", "info", "--port", port)
    assert info.returncode == 0, info.stderr
    assert "ESP32-D0WD-V3 (revision v3.0)" in info.stdout and "24:0a:c4:12:34:56" in info.stdout
    assert "4MB" in info.stdout
    other = home / "other.bin"
    other.write_bytes(os.urandom(1 << 20))
    flashed = hilsim("board", "flash", "--port", port, str(other))
    assert flashed.returncode == 0 and "verified" in flashed.stdout, flashed.stderr
    assert (home / "flash.bin").read_bytes()[0x1000:0x1000 + (1 << 20)] == other.read_bytes()


@pytest.mark.parametrize("virtual_board", ["micropython", "cpython"], indirect=True)
def test_a_blank_board_gets_the_firmware_by_mpremote_boots_it_and_publishes_readings(virtual_board, tmp_path,
                                                                                     request):
    port, home = virtual_board
    runs_on = "unix" if request.node.callspec.params["virtual_board"] == "micropython" else "cpython"
    with hilsim_broker(tmp_path) as broker:
        readings = Readings(broker)
        try:
            config = home / "config.json"
            config.write_text(__import__("json").dumps(node_config("node-1", broker, sample_every=1)))
            done = hilsim("board", "deploy", "--port", port, "--config", str(config))
            assert done.returncode == 0, done.stderr
            assert re.match(rf"node-1 booted firmware \S+ on {runs_on}", done.stdout), done.stdout
            assert (home / "fs" / "main.py").exists() and (home / "fs" / "firmware" / "board" / "mqtt.py").exists()
            readings.wait_for(lambda r: len(r.seqs("node-1")) >= 3, "readings from the deployed firmware")
            assert readings.seqs("node-1")[:3] == [1, 2, 3]
            watched = hilsim("board", "console", "--port", port, "--for", "3")
            assert watched.returncode == 0
            assert re.search(r"\d\d:\d\d:\d\d reading\s+.*node=\"node-1\"", watched.stdout), watched.stdout
            ls = subprocess.run([sys.executable, "-m", "mpremote", "connect", port, "ls", ":firmware/board"],
                                capture_output=True, text=True, timeout=60)
            assert "app.py" in ls.stdout, ls.stdout + ls.stderr
        finally:
            readings.close()


def test_console_commands_and_reboot_on_the_virtual_board(virtual_board, tmp_path):
    port, home = virtual_board
    with hilsim_broker(tmp_path) as broker:
        from hil.provision import deploy

        boot = deploy(port, node_config("node-2", broker))
        assert boot["node"] == "node-2"
        with Dut.open(port) as dut:
            dut.send("inject", sensor="checksum", seconds=2)
            dut.expect_message("ack", cmd="inject")
            dut.expect_message("trace", kind="reading.failed", reason="checksum")
            dut.send("reboot")
            dut.expect_regex(r"rst:0xc \(SW_CPU_RESET\)")
            assert dut.expect_message("boot")["node"] == "node-2"


def test_deploy_refuses_a_bad_config_before_touching_the_board(virtual_board):
    port, home = virtual_board
    bad = home / "bad.json"
    bad.write_text('{"node": "node-1", "board": "sim", "broker": "http://x"}')
    done = hilsim("board", "deploy", "--port", port, "--config", str(bad))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"Error: {bad}: broker: want mqtt://")
    assert not (home / "fs" / "main.py").exists()


@pytest.mark.parametrize("virtual_board", ["micropython", "cpython"], indirect=True)
def test_mpremote_paths_are_the_boards_and_cannot_climb_out_of_its_filesystem(virtual_board):
    """'/' is the board's filesystem directory, on the Unix port and on the CPython fallback alike."""
    port, home = virtual_board
    source = home / "a.py"
    source.write_text("x = 41\n")
    mp = [sys.executable, "-m", "mpremote", "connect", port]
    done = subprocess.run([*mp, "cp", str(source), ":/a.py", "+", "mkdir", ":/lib", "+", "cp", str(source),
                           ":lib/b.py", "+", "exec", "import os; print(os.getcwd(), sorted(os.listdir('/')))"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "/ ['a.py', 'lib']" in done.stdout
    assert (home / "fs" / "a.py").read_text() == "x = 41\n" and (home / "fs" / "lib" / "b.py").exists()
    escape = subprocess.run([*mp, "cat", ":../a.py"], capture_output=True, text=True, timeout=60)
    assert escape.returncode != 0 and "Permission denied" in escape.stdout + escape.stderr


def test_a_board_rebooted_through_its_console_loses_no_reading(virtual_board, tmp_path):
    """Each reading line on the console after the reboot is in the bridge's store, with its boot and values:
    a reboot restarts seq at 1, and the boot counter on the board's flash makes those readings new ones."""
    from boards import USERS
    from processes import TracedProcess
    from system.adapters.reading_store import ReadingStore

    port, home = virtual_board
    db = str(tmp_path / "readings.sqlite3")
    with hilsim_broker(tmp_path) as broker:
        from hil.provision import deploy

        bridge = TracedProcess("bridge", "--broker", f"mqtt://127.0.0.1:{broker}", "--username", "bridge",
                               "--password", USERS["bridge"], "--db", db, "--metrics-port", "-1")
        try:
            bridge.until(lambda rs: any(r["kind"] == "bridge.connected" for r in rs), "bridge connected")
            first = deploy(port, node_config("node-2", broker))["boot"]
            with Dut.open(port) as dut:
                before = [dut.expect_message("reading", node="node-2") for _ in range(3)]
                dut.expect_message("trace", kind="reading.published", seq=before[-1]["seq"])
                dut.send("reboot")
                assert dut.expect_message("boot", timeout=30)["boot"] == first + 1
                after = [dut.expect_message("reading", node="node-2") for _ in range(6)]
                dut.expect_message("trace", kind="reading.published", seq=after[-1]["seq"])
            expected = {_row(r) for r in before + after}
            bridge.until(lambda rs: expected <= {_row(r) for r in ReadingStore(db).rows("node-2")},
                         "every reading of the console stored")
        finally:
            bridge.stop()
    assert [r["boot"] for r in before] == [first] * 3 and [r["boot"] for r in after] == [first + 1] * 6
    assert [r["seq"] for r in after][0] == 1  # the reboot restarted the sequence


def _row(reading: dict) -> tuple:
    """A reading as the console printed it, or as the store holds it."""
    return tuple(reading[k] for k in ("node", "boot", "seq", "ts", "temperature", "humidity", "wifi_rssi"))
