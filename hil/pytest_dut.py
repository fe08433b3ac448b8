"""The pytest plugin ``hilsim-dut``: boards under test as fixtures (``dut``, ``duts``, ``hil_port``).

Registered through the ``pytest11`` entry point, so any project that installs hilsim can write::

    def test_boots_and_reads(dut):
        dut.send("state")
        assert dut.expect_message("status", timeout=10)["node"] == "node-1"

and run it against a board: ``pytest --hil-port /dev/ttyUSB0``, a URL (``--hil-port
rfc2217://127.0.0.1:4000``), or ``--hil-port virtual`` for virtual boards started for the
session (our firmware under the MicroPython Unix port). ``--count N`` asks for N boards
(the ``duts`` fixture; a comma-separated list of ports, or N virtual boards);
``--hil-deploy CONFIG`` deploys the firmware and that config.json onto every board before
the session (mpremote, as ``hilsim board deploy``).

Each test starts from a known state: its boards are reset (by EN, or through the REPL on a
port without DTR/RTS) and their boot messages awaited. Each test's console logs are
attached to its report: a ``console <node>`` property of its JUnit test case
(``--junitxml``) and a report section shown with a failure. The expect API fails at once
on a traceback or a panic on the console (:class:`hil.dut.BoardCrashed`).

Without ``--hil-port`` the fixtures skip the test, saying how to run it. The session owns its
boards' ports (``hil.serial_ports.claim``): a ``hilsim board`` command run meanwhile is refused.
A test that uses a board is marked ``hardware``. ``--hil-count`` is ``--count``'s other name, for
when pytest-repeat holds ``--count``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

VIRTUAL = "virtual"
BOOT_TIMEOUT = 30.0
LOG_LIMIT = 64_000  # characters of console log kept per board and test (the end of it)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hilsim-dut", "boards under test (hilsim)")
    group.addoption("--hil-port", default=None, metavar="PORT",
                    help="The board(s) under test: a serial port, an rfc2217:// URL, 'virtual' for virtual boards "
                         "started for the session, or several ports separated by commas. Runs the tests that "
                         "use the dut fixtures (marker hardware); they skip without it.")
    count = dict(dest="hil_count", type=int, default=None, metavar="N",
                 help="How many boards (the duts fixture): N virtual boards with --hil-port virtual, else as many "
                      "ports as --hil-port lists [default: 1].")
    try:
        group.addoption("--count", "--hil-count", **count)
    except ValueError:  # --count taken by a plugin loaded before (pytest-repeat): --hil-count alone
        group.addoption("--hil-count", **count)
    group.addoption("--hil-deploy", default=None, metavar="CONFIG",
                    help="Deploy the firmware and this config.json onto every board before the session "
                         "(mpremote; with several boards their node names get -1, -2, ...).")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hardware: runs on the board(s) given with --hil-port (the dut fixtures)")
    option, deploy = config.getoption("--hil-port"), config.getoption("--hil-deploy")
    if option:  # a mistake in the options stops the session before any test, as pytest's own do
        _ports(option, config.getoption("hil_count"))
    if deploy and not Path(deploy).is_file():
        raise pytest.UsageError(f"--hil-deploy: no such config.json: {deploy}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a board is a hardware test, marked or not (``-m "not hardware"`` leaves it out)."""
    for item in items:
        if {"dut", "duts", "hil_port"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.hardware)


@dataclass(frozen=True)
class BoardSpec:
    """One board of the session: the port the tests open and the node its firmware answers as."""

    port: str
    node: str | None


def _ports(option: str, count: int | None) -> list[str]:
    if option == VIRTUAL:
        return [VIRTUAL] * (count or 1)
    ports = [p.strip() for p in option.split(",") if p.strip()]
    if count is not None and count != len(ports):
        raise pytest.UsageError(f"--count {count} but --hil-port lists {len(ports)} port(s): {option}")
    return ports


def _config(base: dict | None, index: int, count: int) -> dict:
    from hil.board_node import idle_config

    if base is None:
        return idle_config(f"node-{index + 1}")
    return dict(base, node=base["node"] if count == 1 else f"{base['node']}-{index + 1}")


def _start_virtual(stack: ExitStack, workdir: Path, config: dict) -> str:
    from hil.bundle import write_bundle
    from hil.virtual_board import VirtualBoard

    board = VirtualBoard(write_bundle(workdir / "fs", config), workdir / "flash.bin")
    port = board.open()
    thread = threading.Thread(target=board.serve, name=f"virtual-{config['node']}", daemon=True)
    thread.start()

    def stop() -> None:
        board.stop()
        thread.join(10)
        board.close()

    stack.callback(stop)
    return port


@pytest.fixture(scope="session")
def _hil_boards(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[BoardSpec]]:
    option = request.config.getoption("--hil-port")
    if not option:
        pytest.skip("no board under test: pass --hil-port PORT (e.g. /dev/ttyUSB0, rfc2217://HOST:PORT) or "
                    "--hil-port virtual")
    from hil.dut import Dut
    from hil.provision import deploy
    from hil.serial_ports import claim

    ports = _ports(option, request.config.getoption("hil_count"))
    deploy_path = request.config.getoption("--hil-deploy")
    base = json.loads(Path(deploy_path).read_text(encoding="utf-8")) if deploy_path else None
    with ExitStack() as stack:
        boards = []
        for i, port in enumerate(ports):
            config = _config(base, i, len(ports))
            if port == VIRTUAL:  # it starts as a fresh board would: our firmware, no config of the tests' yet
                port = _start_virtual(stack, tmp_path_factory.mktemp(f"board-{i + 1}"), _config(None, i, len(ports)))
            stack.enter_context(claim(port))
            if base is not None:
                with Dut.open(port) as dut:  # a silent board fails the session in seconds, not mpremote's minutes
                    dut.interrupt()
                deploy(port, config, boot_timeout=BOOT_TIMEOUT)
            boards.append(BoardSpec(port, config["node"] if base is not None or option == VIRTUAL else None))
        yield boards
        if option != VIRTUAL:
            for i, spec in enumerate(boards):
                _leave_running(spec, i)


def _leave_running(spec: BoardSpec, index: int) -> None:
    # a board a test left in its bootloader (esptool) is reset into its firmware for whoever comes next
    from hil.dut import Dut
    from system.errors import BackendError

    try:
        with Dut.open(spec.port, name=spec.node or f"board-{index + 1}") as dut:
            dut.reset(timeout=BOOT_TIMEOUT)
    except (BackendError, TimeoutError):
        pass  # the session's verdicts are in; a board that does not come back shows in the next one


@pytest.fixture
def hil_port(_hil_boards: list[BoardSpec]) -> str:
    """The port of the (first) board under test, for tools that open it themselves (esptool, mpremote)."""
    return _hil_boards[0].port


def _open(request: pytest.FixtureRequest, stack: ExitStack, spec: BoardSpec, index: int) -> Any:
    from hil.dut import Dut

    dut = stack.enter_context(Dut.open(spec.port, name=spec.node or f"board-{index + 1}"))

    def attach() -> None:  # named by the node the board says it is
        name = f"console {(dut.boot or {}).get('node') or spec.node or spec.port}"
        log = "\n".join(f"{line.t:.3f} {line.text}" for line in dut.lines)[-LOG_LIMIT:]
        request.node.user_properties.append((name, log))
        request.node.add_report_section("teardown", name, log)

    stack.callback(attach)  # after the test, before the port closes: its whole log
    dut.reset(timeout=BOOT_TIMEOUT, **({"node": spec.node} if spec.node else {}))
    return dut


@pytest.fixture
def duts(request: pytest.FixtureRequest, _hil_boards: list[BoardSpec]) -> Iterator[list[Any]]:
    """Every board under test as a :class:`hil.dut.Dut`, each reset with its boot message awaited
    (``dut.boot``); their console logs go into the test's report."""
    with ExitStack() as stack:
        yield [_open(request, stack, spec, i) for i, spec in enumerate(_hil_boards)]


@pytest.fixture
def dut(request: pytest.FixtureRequest, _hil_boards: list[BoardSpec]) -> Iterator[Any]:
    """The (first) board under test as a :class:`hil.dut.Dut`, reset, its boot message awaited (``dut.boot``)."""
    with ExitStack() as stack:
        yield _open(request, stack, _hil_boards[0], 0)
