"""Relay backends and the driver: edges, blinking, retries, never stuck on, serial board, gpiod."""

import os
import select
import sys
import threading
import types
from enum import Enum

import pytest

from sim.kernel.runtime import SimRuntime
from system.errors import BackendError
from system.services.metrics import Metrics
from sim.models.sim_relay import SimRelay
from system.adapters.relays import GpiodRelay, SerialRelayBoard, TracedRelay
from system.services.relay import BLINK, LightPattern, RelayDriver
from system.trace import Trace

T0 = 1_774_000_000.0


def sim(seed=1):
    trace = Trace({"scenario": "relay"})
    return SimRuntime(seed=seed, start=T0, trace=trace), trace


def edges(trace, src="controller"):
    return [(r["t"], r["kind"]) for r in trace.records if r.get("kind") in ("relay.on", "relay.off") and r["src"] == src]


def test_sim_backend_traces_each_edge_once():
    rt, trace = sim()
    relay = SimRelay(rt.child("controller"))

    async def main():
        await relay.on()
        await relay.on()  # already on: no edge
        await rt.sleep(5)
        await relay.off()

    rt.run(main())
    assert edges(trace) == [(0.0, "relay.on"), (5.0, "relay.off")]
    assert relay.edges == [(T0, True), (T0 + 5, False)] and relay.commands == 3


def drive(rt, backend, wants, *, pattern=LightPattern(), until=120.0, metrics=None):
    """Run a driver over ``backend`` and apply ``wants`` [(t, on)] from a script."""
    driver = RelayDriver(rt.child("controller"), backend, pattern=pattern, metrics=metrics)

    async def script():
        t = 0.0
        for at, on in wants:
            await rt.sleep(at - t)
            t = at
            driver.set(on)

    async def main():
        rt.spawn(driver.run(), "relay-driver")
        await script()
        await rt.sleep(until - t_last)

    t_last = wants[-1][0] if wants else 0.0
    rt.run(main())
    return driver


def test_driver_switches_steady_light_on_and_off():
    rt, trace = sim()
    backend = SimRelay(rt.child("controller"))
    drive(rt, backend, [(10, True), (70, False)])
    assert edges(trace) == [(10.0, "relay.on"), (70.0, "relay.off")]


def test_blinking_pattern_follows_its_periods_and_ends_off():
    rt, trace = sim()
    backend = SimRelay(rt.child("controller"))
    drive(rt, backend, [(10, True), (17, False)], pattern=LightPattern(BLINK, on_seconds=2, off_seconds=1))
    assert edges(trace) == [(10.0, "relay.on"), (12.0, "relay.off"), (13.0, "relay.on"), (15.0, "relay.off"),
                            (16.0, "relay.on"), (17.0, "relay.off")]
    assert backend.state is False


def test_failing_backend_is_retried_reported_and_the_light_ends_off():
    rt, trace = sim()
    backend = SimRelay(rt.child("controller"))
    metrics = Metrics()

    async def breaks():
        await rt.sleep(69)
        backend.broken = True  # the relay dies while the light is on ...
        await rt.sleep(60)
        backend.broken = False  # ... and comes back a minute later

    rt.spawn(breaks(), "fault")
    driver = drive(rt, backend, [(10, True), (70, False)], until=400, metrics=metrics)
    failed = [r for r in trace.records if r["kind"] == "relay.failed"]
    assert failed and all(r["op"] == "off" for r in failed)
    assert driver.failures == len(failed) == metrics.snapshot()["relay_failures"]
    [(t_on, on), (t_off, off)] = edges(trace)
    assert (t_on, on, off) == (10.0, "relay.on", "relay.off")
    assert 129.0 <= t_off <= 129.0 + 60  # off as soon as a retry after the repair gets through
    assert backend.state is False and driver.actual is False


def test_a_failed_on_is_retried_until_it_works():
    rt, trace = sim()
    backend = SimRelay(rt.child("controller"))
    backend.fail_next = 3
    drive(rt, backend, [(0, True)], until=60)
    assert backend.state is True
    assert len([r for r in trace.records if r["kind"] == "relay.failed"]) == 3
    [(t_on, kind)] = edges(trace)  # retried after backoffs of at most 1 s, 2 s and 4 s
    assert kind == "relay.on" and 0.5 + 1 + 2 <= t_on <= 1 + 2 + 4


def test_driver_commands_off_at_start_so_a_light_left_on_is_cleared():
    rt, trace = sim()
    backend = SimRelay(rt.child("controller"))
    backend.state = True  # e.g. the previous process died with the light on
    drive(rt, backend, [], until=1)
    assert backend.state is False and edges(trace) == [(0.0, "relay.off")]


def test_light_pattern_is_validated():
    with pytest.raises(ValueError):
        LightPattern("disco")
    with pytest.raises(ValueError):
        LightPattern(BLINK, on_seconds=0)


# -- serial relay board over pyserial's loop:// --------------------------------------

@pytest.fixture
def board_pty():
    """A pseudo-terminal: the relay opens its path as a serial port, the test plays the board on the other end."""
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def board_answers(master, n, reply=None):
    """The board reads one ``n``-byte command and answers ``reply`` (default: echoes it)."""
    def serve():
        command = b""
        while len(command) < n:
            command += os.read(master, n - len(command))
        os.write(master, command if reply is None else reply)
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_default_commands_follow_the_lcus1_protocol():
    """LCUS-1 frame: A0, channel, state, checksum = sum of the first three bytes (mod 256)."""
    board = SerialRelayBoard("loop://")
    for command, state in ((board.on_command, 1), (board.off_command, 0)):
        assert command[:3] == bytes([0xA0, 1, state]) and command[3] == sum(command[:3]) % 256
    with pytest.raises(ValueError, match="not hex bytes"):
        SerialRelayBoard("loop://", on_command="relay on")  # a config typo is refused at start-up


def test_serial_board_sends_the_configured_bytes_down_the_line(board_pty):
    master, path = board_pty
    board = SerialRelayBoard(path, on_command=b"ON\n", off_command="4f 46 46 0a")
    rt, _ = sim()
    rt.run(board.on())
    rt.run(board.off())
    board.close()
    received = b""
    while len(received) < 7 and select.select([master], [], [], 1.0)[0]:
        received += os.read(master, 64)
    assert received == b"ON\nOFF\n"


def test_serial_board_with_echo_accepts_its_echo_and_refuses_silence_or_a_wrong_answer(board_pty):
    master, path = board_pty
    board = SerialRelayBoard(path, echo=True, timeout=1.0)
    rt, _ = sim()
    answering = board_answers(master, 4)
    rt.run(board.on())  # echoed: accepted
    answering.join()
    answering = board_answers(master, 4, reply=b"\xa0\x01\x01\xa2")  # the on frame in answer to off
    with pytest.raises(BackendError, match="answered"):
        rt.run(board.off())
    answering.join()
    board.timeout = 0.05
    board.close()  # reopened with the short timeout on the next command
    with pytest.raises(BackendError, match="answered ''"):
        rt.run(board.on())  # nobody answers


def test_unopenable_serial_port_is_a_backend_error():
    board = SerialRelayBoard("/dev/does-not-exist-relay")
    rt, _ = sim()
    with pytest.raises(BackendError):
        rt.run(board.on())


# -- gpiod backend against a fake libgpiod v2 module ------------------------------------

class FakeRequest:
    """Models the kernel side: the physical level is the logical value XOR active_low."""

    def __init__(self, config):
        (self.offset, self.settings), = config.items()
        self.levels = [self._level(self.settings.output_value)]
        self.released = False

    def _level(self, value):
        return int((value is FakeValue.ACTIVE) != self.settings.active_low)

    def set_value(self, offset, value):
        assert offset == self.offset and not self.released
        self.levels.append(self._level(value))

    def release(self):
        self.released = True


class FakeValue(Enum):
    INACTIVE = 0
    ACTIVE = 1


@pytest.fixture
def fake_gpiod(monkeypatch):
    requests = []
    gpiod = types.ModuleType("gpiod")
    line = types.ModuleType("gpiod.line")
    line.Value = FakeValue
    line.Direction = Enum("Direction", "AS_IS INPUT OUTPUT")
    gpiod.line = line
    gpiod.LineSettings = lambda **kw: types.SimpleNamespace(**kw)

    def request_lines(path, consumer=None, config=None):
        if path not in ("/dev/gpiochip0", "/dev/gpiochip4"):
            raise FileNotFoundError(path)
        req = FakeRequest(config)
        req.path, req.consumer = path, consumer
        requests.append(req)
        return req

    gpiod.request_lines = request_lines
    monkeypatch.setitem(sys.modules, "gpiod", gpiod)
    monkeypatch.setitem(sys.modules, "gpiod.line", line)
    return requests


@pytest.mark.parametrize("active_low, expected", [(False, [0, 1, 0]), (True, [1, 0, 1])])
def test_gpiod_relay_requests_an_output_line_and_drives_it(fake_gpiod, active_low, expected):
    relay = GpiodRelay("/dev/gpiochip4", line=27, active_low=active_low)  # not the defaults: configurable
    rt, _ = sim()

    async def main():
        await relay.on()
        await relay.off()

    rt.run(main())
    [req] = fake_gpiod
    assert (req.path, req.offset) == ("/dev/gpiochip4", 27)
    assert req.settings.direction.name == "OUTPUT" and req.settings.active_low is active_low
    assert req.levels == expected  # starts with the light off, then on, then off
    relay.close()
    assert req.released


def test_gpiod_relay_on_a_missing_chip_is_a_backend_error(fake_gpiod):
    relay = GpiodRelay("/dev/gpiochip9", line=17)
    rt, _ = sim()
    with pytest.raises(BackendError):
        rt.run(relay.on())


def test_with_the_real_libgpiod_bindings_a_missing_chip_is_a_clear_backend_error():
    """The fake above stands in for a GPIO chip this machine lacks; the library itself is real here: our
    calls must fit its v2 API (LineSettings, request_lines) up to the point where the kernel answers."""
    pytest.importorskip("gpiod", minversion="2.1")
    relay = GpiodRelay("/dev/gpiochip-hilsim-missing", line=17, active_low=True)
    rt, _ = sim()
    with pytest.raises(BackendError, match="cannot request /dev/gpiochip-hilsim-missing line 17"):
        rt.run(relay.on())


def test_the_live_relay_without_hardware_traces_each_edge_once():
    """``--relay sim`` in the live controller: no hardware, the edges only go to the trace."""
    rt, trace = sim()
    relay = TracedRelay(rt.child("controller"))
    relay.open()

    async def main():
        await relay.on()
        await relay.on()  # already on: no edge
        await rt.sleep(5)
        await relay.off()
        await relay.off()

    rt.run(main())
    relay.close()
    assert edges(trace) == [(0.0, "relay.on"), (5.0, "relay.off")]
