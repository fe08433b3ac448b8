"""``hilsim virtual-board`` with the real tools: ``hilsim board info`` and ``flash`` identify it and write a
checked image (esptool's defaults are in test_virtual_board_esptool.py); mpremote deploys the firmware onto its (blank) filesystem, after which it boots the deployed code and
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


def test_board_info_and_flash_reach_the_bootloader_of_a_board_on_a_pty_and_flash_checks_the_image(virtual_board):
    """On a pty (no DTR/RTS) the board is sent to its bootloader through the REPL's machine.bootloader();
    flash refuses a file that is not an ESP32 image with one line, and off a terminal shows its progress as
    one line per 10%."""
    from test_esp_image import esptool_image

    port, home = virtual_board
    info = hilsim("board", "info", "--port", port)
    assert info.returncode == 0, info.stderr
    assert "ESP32-D0WD-V3 (revision v3.0)" in info.stdout and "24:0a:c4:12:34:56" in info.stdout
    assert "4MB" in info.stdout
    noise = home / "noise.bin"
    noise.write_bytes(b"\x12\x34\x56\x78" + os.urandom(5000))
    refused = hilsim("board", "flash", "--port", port, "--offset", "0x10000", str(noise))
    assert refused.returncode == 2 and refused.stderr == (f"Error: {noise}: not an ESP32 firmware image, nothing "
                                                          "written: invalid header: 0x78563412\n")
    image = home / "app.bin"
    image.write_bytes(esptool_image(2000, 60000))
    flashed = hilsim("board", "flash", "--port", port, "--offset", "0x10000", str(image))
    assert flashed.returncode == 0, flashed.stderr
    progress = [line for line in flashed.stdout.splitlines() if line.startswith("written ")]
    assert progress == [f"written {p}% of {image.stat().st_size} bytes" for p in range(10, 101, 10)]
    assert "verified" in flashed.stdout
    assert (home / "flash.bin").read_bytes()[0x10000:0x10000 + image.stat().st_size] == image.read_bytes()


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


def test_mpremote_df_reports_the_boards_flash_filesystem(virtual_board):
    """df: a 2 MiB LittleFS (512 blocks of 4 KiB, MicroPython's ESP32 layout), whatever the host disk holds;
    a 10,000-byte file takes 3 blocks more than the empty filesystem's 3 (two superblocks and the root)."""
    port, home = virtual_board
    data = home / "x.bin"
    data.write_bytes(os.urandom(10000))
    mp = [sys.executable, "-m", "mpremote", "connect", port]
    done = subprocess.run([*mp, "df", "+", "cp", str(data), ":x.bin", "+", "df"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line.endswith(" /")]
    assert rows == [["<VfsLfs2>", "2097152", "12288", "2084864", "0", "/"],
                    ["<VfsLfs2>", "2097152", "24576", "2072576", "1", "/"]]
