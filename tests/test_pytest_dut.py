"""The ``hilsim-dut`` pytest plugin (hil/pytest_dut.py) in inner pytest sessions against virtual boards, and the
hardware suite run twice in a row on one board with its console logs in the JUnit XML."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from system.adapters.child_process import stop

from processes import ROOT

pytest_plugins = ["pytester"]

TWO_BOARDS = """
def test_every_board_is_reset_and_booted(duts):
    assert [d.boot["node"] for d in duts] == ["bench-1", "bench-2"]
    for d in duts:
        d.send("state")
        assert d.expect_message("status", timeout=10)["node"] == d.boot["node"]


def test_dut_is_the_first_board_booted_again(dut):
    assert dut.boot["node"] == "bench-1"
    open("boots.txt", "a").write(str(dut.boot["boot"]) + "\\n")


def test_dut_again(dut):
    open("boots.txt", "a").write(str(dut.boot["boot"]) + "\\n")
"""


def _properties(junit) -> dict[str, dict[str, str]]:
    return {case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
            for case in ET.parse(junit).getroot().iter("testcase")}


@pytest.mark.live
@pytest.mark.micropython
def test_virtual_boards_are_deployed_then_reset_for_each_test_and_their_logs_reach_the_junit_xml(pytester):
    """--hil-deploy copies the firmware and the config onto each board with mpremote: they boot as bench-N."""
    pytester.makepyfile(test_boards=TWO_BOARDS)
    (pytester.path / "bench.json").write_text(json.dumps({"node": "bench", "board": "sim", "broker":
                                                          "mqtt://127.0.0.1:1", "sample_every": 1, "web_port": 0}))
    result = pytester.runpytest("--hil-port", "virtual", "--count", "2", "--hil-deploy", "bench.json",
                                "--junitxml=junit.xml", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    boots = [int(n) for n in (pytester.path / "boots.txt").read_text().split()]
    assert boots[1] == boots[0] + 1, "each test starts from a boot of its own"
    cases = _properties(pytester.path / "junit.xml")
    logs = cases["test_every_board_is_reset_and_booted"]
    assert set(logs) == {"console bench-1", "console bench-2"}
    for node, log in (("bench-1", logs["console bench-1"]), ("bench-2", logs["console bench-2"])):
        boots = [line for line in log.splitlines() if '"msg": "boot"' in line and f'"node": "{node}"' in line]
        assert boots and re.match(r"\d{10}\.\d{3} \{", boots[-1]), log[:500]
        assert '"msg": "status"' in log
    assert set(cases["test_dut_again"]) == {"console bench-1"}


def test_without_a_board_the_tests_skip_saying_how_and_a_wrong_count_is_a_usage_error(pytester):
    pytester.makepyfile(test_boards=TWO_BOARDS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(skipped=3)
    result.stdout.fnmatch_lines(["*no board under test: pass --hil-port PORT*or --hil-port virtual*"])
    wrong = pytester.runpytest("--hil-port", "/dev/ttyUSB0,/dev/ttyUSB1", "--count", "3", "-p", "no:cacheprovider")
    assert wrong.ret == pytest.ExitCode.USAGE_ERROR
    wrong.stderr.fnmatch_lines(["*--count 3 but --hil-port lists 2 port(s)*"])


@pytest.mark.live
@pytest.mark.micropython
def test_the_hardware_suite_passes_twice_in_a_row_on_one_virtual_board(tmp_path):
    """The board outlives both sessions: what one leaves behind (esptool's bootloader) must not fail the next."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"node": "node-1", "board": "sim", "broker": "mqtt://127.0.0.1:1",
                                  "sample_every": 1, "read_every": 0.5, "web_port": 0}))
    board = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(tmp_path / "fs"),
                              "--config", str(config)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             cwd=ROOT)
    try:
        port = re.search(r"virtual board on (\S+)", board.stdout.readline()).group(1)
        for run in (1, 2):
            junit = tmp_path / f"junit-{run}.xml"
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                   str(ROOT / "tests" / "test_hardware.py"), "--hil-port", port,
                                   f"--junitxml={junit}"], capture_output=True, text=True, timeout=120, cwd=ROOT)
            assert done.returncode == 0, f"run {run}: {done.stdout[-3000:]}"
            assert "3 passed" in done.stdout
            cases = _properties(junit)
            assert '"msg": "boot"' in cases["test_the_board_resets_and_shows_its_boot_banner"]["console node-1"]
            assert '"reading.failed"' in cases["test_the_board_answers_state_and_takes_a_sensor_fault"][
                "console node-1"]
    finally:
        stop(board, 10)
