"""The live bridge against real parts: Mosquitto, an independent publisher (mosquitto_pub), a Pushgateway.

Each server is started by the test on a free loopback port and waited for by
polling its port. Readings must be stored exactly once, including a reading
published twice (what a node does when its PUBACK was lost) and readings queued
by the broker while the bridge was away (its persistent session).
"""

import asyncio
import getpass
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from system.adapters.asyncio_runtime import AsyncioRuntime
from hilsim.wiring.live_bridge import LiveBridge, LiveBridgeConfig
from system.adapters.reading_store import ReadingStore
from system.trace import Trace

from certificates import make_certificates
from processes import MOSQUITTO, free_port, start_server, stop_server, wait_for_port

pytestmark = pytest.mark.live

START = int(time.time())


def reading(seq: int, temperature: float = 21.5, node: str = "node-1") -> str:
    return json.dumps({"node": node, "seq": seq, "ts": START + seq, "temperature": temperature, "humidity": 40.2,
                       "wifi_rssi": -61})


async def mosquitto_pub(port: int, topic: str, lines: list[str]) -> None:
    """Publish each line as one QoS 1 message, from an independent client process."""
    proc = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-i", "publisher", "-t", topic, "-l",
        stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await proc.communicate(("\n".join(lines) + "\n").encode())
    assert proc.returncode == 0, err


async def until(condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not met within {timeout} s")
        await asyncio.sleep(0.02)


def run_live(main, seconds: float = 60.0) -> Trace:
    trace = Trace({"test": "live-bridge"})
    rt = AsyncioRuntime(seed=1, trace=trace)
    rt.run(main(rt), until=seconds)
    return trace


def gauges(text: str) -> dict:
    return {(s.name, s.labels.get("job")): s.value for f in text_string_to_metric_families(text) for s in f.samples}


def test_the_live_bridge_stores_every_reading_once_and_pushes_the_gauges(mosquitto, pushgateway, tmp_path):
    db = str(tmp_path / "readings.sqlite3")
    config = LiveBridgeConfig(broker_url=f"mqtt://127.0.0.1:{mosquitto}", db_path=db, pushgateway_url=pushgateway,
                              metrics_port=0, client_id="bridge-under-test")
    legacy = json.dumps({"temperature": 19.5, "humidity": 55.0, "wifi_rssi": -70, "ts": 0})
    scraped = {}

    async def main(rt):
        first = LiveBridge(rt, config)
        await first.start()
        await until(lambda: first.bridge.connects >= 1, what="bridge subscribed")
        # 1..5, with 3 published twice, and one original payload on the legacy topic.
        await mosquitto_pub(mosquitto, "sensors/node-1/reading", [reading(s) for s in (1, 2, 3, 3, 4, 5)])
        await mosquitto_pub(mosquitto, "/topic/qos1", [legacy])
        await until(lambda: first.bridge.stored + first.bridge.duplicates == 7, what="7 messages handled")
        await first.stop()
        # While the bridge is away the broker queues for its persistent session.
        await mosquitto_pub(mosquitto, "sensors/node-1/reading", [reading(s, 22.0 + s) for s in (6, 7, 8)])
        second = LiveBridge(rt, config)
        await second.start()
        await until(lambda: second.bridge.stored == 3, what="queued readings delivered")
        await until(lambda: second.bridge.pusher.pushes >= 1 and not second.bridge.pusher.pending,
                    what="pushed")
        async with httpx.AsyncClient() as http:
            scraped["bridge"] = (await http.get(f"http://127.0.0.1:{second.metrics_port}/metrics")).text
            scraped["pushgateway"] = (await http.get(f"{pushgateway}/metrics")).text
            scraped["404"] = (await http.get(f"http://127.0.0.1:{second.metrics_port}/")).status_code
        await second.stop()

    trace = run_live(main)
    store = ReadingStore(db)
    assert store.sequences("node-1") == [1, 2, 3, 4, 5, 6, 7, 8]
    (legacy_row,) = store.rows("legacy")
    assert legacy_row["ts"] == 0 and legacy_row["taken"] == legacy_row["received"] >= START
    assert len(trace.of_kind("reading.duplicate")) == 1 and not trace.of_kind("reading.refused")
    assert [r["session_present"] for r in trace.of_kind("bridge.connected")] == [False, True]

    pushed = gauges(scraped["pushgateway"])
    assert pushed[("temperature", "node-1")] == 30.0  # the latest reading, seq 8
    assert pushed[("humidity", "node-1")] == 40.2 and pushed[("RSSI", "node-1")] == -61
    own = {(s.name, tuple(sorted(s.labels.items()))): s.value
           for f in text_string_to_metric_families(scraped["bridge"]) for s in f.samples}
    assert own[("bridge_readings_stored_total", (("node", "node-1"),))] == 3  # this process's counters
    assert own[("bridge_mqtt_connected", ())] == 1 and own[("bridge_reading_lag_seconds_count", ())] == 3
    assert scraped["404"] == 404


def test_a_dead_pushgateway_costs_no_reading(mosquitto, tmp_path):
    db = str(tmp_path / "readings.sqlite3")
    config = LiveBridgeConfig(broker_url=f"mqtt://127.0.0.1:{mosquitto}", db_path=db,
                              pushgateway_url=f"http://127.0.0.1:{free_port()}", metrics_port=None)

    async def main(rt):
        live = LiveBridge(rt, config)
        await live.start()
        await until(lambda: live.bridge.connects >= 1, what="bridge subscribed")
        await mosquitto_pub(mosquitto, "sensors/node-1/reading", [reading(s) for s in range(1, 11)])
        await until(lambda: live.bridge.stored == 10 and live.bridge.pusher.failures >= 1, what="stored")
        await live.stop()

    trace = run_live(main)
    assert ReadingStore(db).sequences("node-1") == list(range(1, 11))
    assert trace.of_kind("metrics.failed") and not trace.of_kind("metrics.pushed")


def test_a_broker_that_goes_away_is_reported_as_connection_lost_and_the_bridge_reconnects(tmp_path):
    """Mosquitto stops and comes back on the same port: the bridge reconnects and goes on storing."""
    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    db = str(tmp_path / "readings.sqlite3")
    config = LiveBridgeConfig(broker_url=f"mqtt://127.0.0.1:{port}", db_path=db, metrics_port=None)
    procs = [start_server([MOSQUITTO, "-c", str(conf)], port)]

    async def main(rt):
        live = LiveBridge(rt, config)
        await live.start()
        await until(lambda: live.bridge.connects == 1, what="first connect")
        await mosquitto_pub(port, "sensors/node-1/reading", [reading(1)])
        await until(lambda: live.bridge.stored == 1, what="first reading")
        stop_server(procs[0])
        await until(lambda: not live.bridge.mqtt.connected, what="loss noticed")
        procs.append(await asyncio.to_thread(start_server, [MOSQUITTO, "-c", str(conf)], port))
        await until(lambda: live.bridge.connects == 2, timeout=40, what="reconnect")
        await mosquitto_pub(port, "sensors/node-1/reading", [reading(2)])
        await until(lambda: live.bridge.stored == 2, what="second reading")
        await live.stop()

    try:
        trace = run_live(main, seconds=90)
    finally:
        for p in procs:
            stop_server(p)
    assert ReadingStore(db).sequences("node-1") == [1, 2]
    assert trace.of_kind("bridge.disconnected")


# --- the MQTT port itself: credentials, TLS with client certificates, sessions ------------------


@pytest.fixture
def secured_mosquitto(tmp_path):
    """Mosquitto with a password file, on a plain port and on a TLS port that requires a client certificate."""
    if not os.access(MOSQUITTO, os.X_OK) or not shutil.which("mosquitto_passwd") or not shutil.which("openssl"):
        pytest.skip("mosquitto, mosquitto_passwd or openssl not installed")
    certs = {name: str(path) for name, path in make_certificates(tmp_path).items()}
    passwords = tmp_path / "passwords"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), "bridge", "s3cret"], check=True,
                   capture_output=True)
    passwords.chmod(0o600)
    plain, tls = free_port(), free_port()
    conf = tmp_path / "mosquitto.conf"
    # ``user``: as root, mosquitto would switch to user mosquitto, who cannot read the test's private tmp dir.
    conf.write_text(f"user {getpass.getuser()}\nper_listener_settings false\nallow_anonymous false\n"
                    f"password_file {passwords}\n"
                    f"persistence false\nlistener {plain} 127.0.0.1\nlistener {tls} 127.0.0.1\n"
                    f"cafile {certs['ca']}\ncertfile {certs['server']}\nkeyfile {certs['server_key']}\n"
                    f"require_certificate true\n")
    proc = start_server([MOSQUITTO, "-c", str(conf)], plain)
    wait_for_port(tls, proc)
    yield plain, tls, certs
    stop_server(proc)


def test_the_port_checks_credentials_and_speaks_tls_with_client_certificates(secured_mosquitto):
    from system.errors import ConnectionLost
    from system.adapters.mqtt_client import LiveMqttClient, TlsOptions

    plain, tls, certs = secured_mosquitto
    with_cert = TlsOptions(ca_file=certs["ca"], cert_file=certs["client"], key_file=certs["client_key"])
    outcomes = {}

    async def attempt(name, url, **options):
        client = LiveMqttClient(url, f"probe-{name}", **options)
        try:
            await client.connect()
        except ConnectionLost as exc:
            outcomes[name] = f"lost: {exc}"
            return
        assert await client.subscribe("probe/#", 1) == 1
        await client.publish("probe/x", b"hello", qos=1)
        msg = await asyncio.wait_for(client.next_message(), 5)
        outcomes[name] = (msg.topic, msg.payload, msg.qos)
        await client.disconnect()

    async def main(rt):
        await attempt("password", f"mqtt://bridge:s3cret@127.0.0.1:{plain}")
        await attempt("wrong-password", f"mqtt://127.0.0.1:{plain}", username="bridge", password="guess")
        await attempt("anonymous", f"mqtt://127.0.0.1:{plain}")
        await attempt("tls", f"mqtts://127.0.0.1:{tls}", username="bridge", password="s3cret", tls=with_cert)
        await attempt("tls-no-cert", f"mqtts://127.0.0.1:{tls}", username="bridge", password="s3cret",
                      tls=TlsOptions(ca_file=certs["ca"]))
        await attempt("tls-unknown-ca", f"mqtts://127.0.0.1:{tls}", username="bridge", password="s3cret")

    run_live(main)
    assert outcomes["password"] == outcomes["tls"] == ("probe/x", b"hello", 1)
    for refused in ("wrong-password", "anonymous", "tls-no-cert", "tls-unknown-ca"):
        assert str(outcomes[refused]).startswith("lost: "), (refused, outcomes[refused])
    assert "Not authorized" in outcomes["wrong-password"] and "Not authorized" in outcomes["anonymous"]
    assert "CERTIFICATE_VERIFY_FAILED" in outcomes["tls-unknown-ca"]


def test_a_persistent_session_is_present_on_reconnect_and_keeps_queued_messages(mosquitto):
    from system.adapters.mqtt_client import LiveMqttClient

    seen = {}

    async def main(rt):
        url = f"mqtt://127.0.0.1:{mosquitto}"
        sub = LiveMqttClient(url, "keeper", clean_session=False)
        seen["first"] = await sub.connect()
        await sub.subscribe("q/#", 1)
        await sub.disconnect()
        pub = LiveMqttClient(url, "pub")
        await pub.connect()
        for i in range(3):
            await pub.publish("q/x", str(i).encode(), qos=1)
        await pub.disconnect()
        seen["again"] = await sub.connect()
        seen["queued"] = [(await asyncio.wait_for(sub.next_message(), 5)).payload for _ in range(3)]
        await sub.disconnect()

    run_live(main)
    assert seen == {"first": False, "again": True, "queued": [b"0", b"1", b"2"]}


def test_with_manual_ack_mosquitto_redelivers_what_was_taken_but_not_acked(mosquitto):
    """The bridge's guarantee against a crash between receiving and storing, with a real broker: a QoS 1
    message taken but not acked before the connection ended comes again; an acked one does not."""
    from system.adapters.mqtt_client import LiveMqttClient

    seen = {}

    async def main(rt):
        url = f"mqtt://127.0.0.1:{mosquitto}"
        sub = LiveMqttClient(url, "careful", clean_session=False, manual_ack=True)
        await sub.connect()
        await sub.subscribe("q/#", 1)
        await mosquitto_pub(mosquitto, "q/x", ["kept", "dropped"])
        kept = await asyncio.wait_for(sub.next_message(), 5)
        sub.ack(kept)
        dropped = await asyncio.wait_for(sub.next_message(), 5)  # taken, never acked: as if we crashed now
        await sub.disconnect()
        await sub.connect()
        again = await asyncio.wait_for(sub.next_message(), 5)
        seen["first"] = [kept.payload, dropped.payload]
        seen["again"] = (again.payload, again.dup)
        sub.ack(again)
        await sub.disconnect()
        await mosquitto_pub(mosquitto, "q/x", ["marker"])
        await sub.connect()
        seen["next"] = (await asyncio.wait_for(sub.next_message(), 5)).payload  # not "dropped" a third time
        await sub.disconnect()

    run_live(main)
    assert seen["first"] == [b"kept", b"dropped"]
    assert seen["again"] == (b"dropped", True)
    assert seen["next"] == b"marker"


def test_the_bridge_command_runs_the_live_bridge(mosquitto, tmp_path):
    """``hilsim bridge`` (hilsim/commands/bridge_cmd.py): stores what a node publishes while it runs."""
    from click.testing import CliRunner

    from hilsim.commands.bridge_cmd import bridge

    from system.adapters.mqtt_client import LiveMqttClient

    db, trace = tmp_path / "r.sqlite3", tmp_path / "trace.jsonl"

    async def earlier_session(rt):  # the bridge ran before: the broker keeps its session and queues for it
        client = LiveMqttClient(f"mqtt://127.0.0.1:{mosquitto}", "bridge", clean_session=False)
        await client.connect()
        await client.subscribe("sensors/+/reading", 1)
        await client.disconnect()
        await mosquitto_pub(mosquitto, "sensors/node-9/reading", [reading(1, node="node-9")])

    run_live(earlier_session)
    result = CliRunner().invoke(bridge, ["--broker", f"mqtt://127.0.0.1:{mosquitto}", "--db", str(db),
                                         "--metrics-port", "-1", "--trace", str(trace), "--for", "1.5"])
    assert result.exit_code == 0, result.output
    assert ReadingStore(str(db)).sequences("node-9") == [1]
    assert any(json.loads(line)["kind"] == "reading.stored" for line in trace.read_text().splitlines())


def _hilsim_broker(tmp_path: Path, users: dict[str, str]):
    """``hilsim broker`` as its own process on a free port; returns (process, port) once it listens."""
    import re
    import sys

    passwd = tmp_path / "broker.passwd"
    for user, password in users.items():
        subprocess.run([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--add-user", user,
                        "--password-stdin"], input=password + "\n", text=True, check=True, capture_output=True,
                       timeout=60)
    proc = subprocess.Popen([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd), "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()  # blocks until it listens, or returns "" when it died
    match = re.search(r"listening on mqtt://127\.0\.0\.1:(\d+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"hilsim broker did not start: {line!r} {proc.stderr.read()!r}")
    return proc, int(match.group(1))


def test_the_live_bridge_against_hilsim_broker_with_passwords_and_a_queueing_session(tmp_path):
    """The project's own broker (``hilsim broker``, a separate process) between mosquitto_pub and the bridge:
    the bridge logs in with its password, a wrong password publishes nothing, and readings published while
    the bridge is away are queued for its persistent session and stored once it is back."""
    if not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto_pub not installed")
    proc, port = _hilsim_broker(tmp_path, {"bridge": "bridge-pw", "node-1": "node-pw"})
    db = str(tmp_path / "readings.sqlite3")
    config = LiveBridgeConfig(broker_url=f"mqtt://bridge:bridge-pw@127.0.0.1:{port}", db_path=db,
                              metrics_port=None, client_id="bridge-under-test")
    node = ["-u", "node-1", "-P", "node-pw"]
    refused = {}

    async def publish(lines, login):
        p = await asyncio.create_subprocess_exec(
            "mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-i", "node-1", *login,
            "-t", "sensors/node-1/reading", "-l", stdin=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, err = await p.communicate(("\n".join(lines) + "\n").encode())
        return p.returncode, err.decode()

    async def main(rt):
        first = LiveBridge(rt, config)
        await first.start()
        await until(lambda: first.bridge.connects >= 1, what="bridge subscribed")
        assert await publish([reading(s) for s in (1, 2, 2, 3)], node) == (0, "")
        await until(lambda: first.bridge.stored + first.bridge.duplicates == 4, what="4 messages handled")
        refused["wrong"] = await publish([reading(99)], ["-u", "node-1", "-P", "guess"])
        refused["anonymous"] = await publish([reading(98)], [])
        await first.stop()
        assert await publish([reading(s) for s in (4, 5, 6)], node) == (0, "")  # nobody subscribed right now
        second = LiveBridge(rt, config)
        await second.start()
        await until(lambda: second.bridge.stored == 3, what="queued readings delivered")
        await second.stop()

    try:
        trace = run_live(main)
    finally:
        stop_server(proc)
    assert ReadingStore(db).sequences("node-1") == [1, 2, 3, 4, 5, 6]
    assert len(trace.of_kind("reading.duplicate")) == 1 and not trace.of_kind("reading.refused")
    assert [r["session_present"] for r in trace.of_kind("bridge.connected")] == [False, True]
    for outcome in refused.values():  # refused at CONNECT: mosquitto_pub fails and says why
        assert outcome[0] != 0 and "not authori" in outcome[1].lower(), outcome
    assert "refused client 'node-1' (user 'node-1'): wrong_password" in proc.stderr.read()


@pytest.mark.slow
def test_a_bridge_killed_again_and_again_loses_and_doubles_no_reading(tmp_path):
    """``hilsim bridge`` against ``hilsim broker``, both real processes; a node publishes 600 readings while
    the bridge is SIGKILLed at least three times in mid-stream and restarted. Whatever was in flight at each kill
    (delivered but not stored, stored but not acked) comes again and is stored exactly once."""
    from processes import TracedProcess

    if not shutil.which("mosquitto_pub"):
        pytest.skip("mosquitto_pub not installed")
    broker, port = _hilsim_broker(tmp_path, {"bridge": "bridge-pw", "node-1": "node-pw"})
    db = str(tmp_path / "readings.sqlite3")
    args = ["--broker", f"mqtt://bridge:bridge-pw@127.0.0.1:{port}", "--db", db, "--metrics-port", "-1"]
    total, kills = 600, 0

    def count() -> int:
        return len(ReadingStore(db).sequences("node-1"))

    publisher = subprocess.Popen(
        ["mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-i", "node-1", "-u", "node-1",
         "-P", "node-pw", "-t", "sensors/node-1/reading", "-l"], stdin=subprocess.PIPE, text=True)
    redelivered, before = [], set()  # redelivered: (seq, the seqs stored when that bridge started)
    try:
        bridge = TracedProcess("bridge", *args)
        bridge.until(lambda rs: bridge.of_kind("bridge.connected"), "first connect")
        for i in range(1, total + 1):
            publisher.stdin.write(reading(i) + "\n")
        publisher.stdin.flush()
        while kills < 3 or (not redelivered and kills < 10 and count() < total - 40):
            # kill while readings are streaming in: 40 more in the store (a burst is one commit, so the store may
            # be ahead of the trace, and near the end fewer than 40 may be left). Three kills at least, and more
            # (while readings are left) until one has caught a reading between its commit and its ack.
            goal = min(count() + 40, total)
            kills += 1
            bridge.until(lambda rs: count() >= goal, f"kill {kills}")
            bridge.kill()
            redelivered += [(r["seq"], before) for r in bridge.of_kind("reading.duplicate")]
            before = set(ReadingStore(db).sequences("node-1"))  # stored by the killed bridges (traced or not)
            bridge = TracedProcess("bridge", *args)
        # The killed bridges may have committed every reading already (a burst is one commit): let the last
        # one come up before stopping it, so the SIGINT reaches a running bridge, not one still importing.
        bridge.until(lambda rs: bridge.of_kind("bridge.connected"), "last restart connects")
        bridge.until(lambda rs: len(ReadingStore(db).sequences("node-1")) == total, "every reading stored",
                     timeout=60)
        assert bridge.stop() == 0
        redelivered += [(r["seq"], before) for r in bridge.of_kind("reading.duplicate")]
    finally:
        publisher.stdin.close()
        publisher.wait(30)
        stop_server(broker)
    assert ReadingStore(db).sequences("node-1") == list(range(1, total + 1))  # once each: the key is (node, seq)
    assert publisher.returncode == 0
    print(f"{kills} kills; readings delivered again after a kill (stored, not yet acked): {len(redelivered)}")
    # The kills really hit readings in flight: some that a killed bridge had stored came again to the next one
    # (mosquitto_pub sends each once, so only the broker's redelivery brings one twice); stored once only.
    assert redelivered, "no kill caught a reading between storing and acking it; nothing was redelivered"
    assert all(seq in earlier for seq, earlier in redelivered)


def _paho(port: int, client_id: str, login: tuple[str, str] | None, *, clean_session: bool = True):
    from paho.mqtt import client as paho

    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session,
                    protocol=paho.MQTTv311)
    if login:
        c.username_pw_set(*login)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _publish_readings(port: int, login: tuple[str, str] | None, seqs: range) -> None:
    node = _paho(port, "node-1", login)
    for seq in seqs:
        node.publish("sensors/node-1/reading", reading(seq), 1).wait_for_publish(10)
    node.disconnect()
    node.loop_stop()


@pytest.mark.parametrize("broker", ["hilsim", "mosquitto"])
def test_a_bridge_whose_session_is_taken_six_times_takes_it_back_and_counts_what_the_thief_ate(broker, tmp_path,
                                                                                              request):
    """A device account connects 6 times with the bridge's client id while 300 readings are sent (what the
    thief takes is lost, and counted as missing); the bridge notices each time (its connection closed, or
    its probe not fed back), takes its session back, and stores all 20 readings sent after the thieves.
    (``hilsim broker`` refuses the thief, whose account is not the bridge's, so nothing is lost there; Mosquitto
    without ``use_username_as_clientid`` lets it take the session.)"""
    if broker == "hilsim":
        proc, port = _hilsim_broker(tmp_path, {"bridge": "bridge-pw", "node-1": "node-pw", "mallory": "m-pw"})
        url, node, thief = f"mqtt://bridge:bridge-pw@127.0.0.1:{port}", ("node-1", "node-pw"), ("mallory", "m-pw")
    else:
        proc, port = None, request.getfixturevalue("mosquitto")
        url, node, thief = f"mqtt://127.0.0.1:{port}", None, None
    config = LiveBridgeConfig(broker_url=url, db_path=str(tmp_path / "r.sqlite3"), metrics_port=None,
                              client_id="bridge", probe_every=1.0)
    seen = {}

    async def main(rt):
        live = LiveBridge(rt, config)
        await live.start()
        await until(lambda: live.bridge.connects >= 1, what="bridge subscribed")
        loop = asyncio.get_running_loop()
        for i in range(6):
            thieves = _paho(port, config.client_id, thief, clean_session=False)  # hilsim broker: refused
            await loop.run_in_executor(None, _publish_readings, port, node, range(1 + 50 * i, 51 + 50 * i))
            await asyncio.sleep(0.3)
            thieves.loop_stop()  # gone without a word; its socket stays open
        await loop.run_in_executor(None, _publish_readings, port, node, range(301, 321))
        await until(lambda: set(range(301, 321)) <= set(live.store.sequences("node-1")), timeout=30.0,
                    what="the 20 readings after the thieves stored")
        seen["metrics"] = live.bridge.exposition()
        seen["seqs"] = live.store.sequences("node-1")
        await live.stop()

    try:
        trace = run_live(main, seconds=90.0)
    finally:
        if proc is not None:
            stop_server(proc)
    assert [s for s in seen["seqs"] if s > 300] == list(range(301, 321))
    metrics = {s.name: s.value for f in text_string_to_metric_families(seen["metrics"]) for s in f.samples}
    assert metrics["bridge_readings_missing_total"] == 320 - len(seen["seqs"])  # every reading the thieves ate
    assert metrics["bridge_mqtt_connected"] == 1.0
    noticed = trace.of_kind("bridge.disconnected", "bridge.session_lost")
    assert noticed or len(seen["seqs"]) == 320  # a thief that got the session was noticed


def test_a_restarted_live_bridge_keeps_its_missing_and_boot_counts(mosquitto, tmp_path):
    """Readings of boot 1 (seq 1, 2, 5) and boot 2 (seq 1): 2 missing, 2 boots, scraped from /metrics before
    and after a restart of the bridge on the same store; a late seq 3 then takes one back off."""
    config = LiveBridgeConfig(broker_url=f"mqtt://127.0.0.1:{mosquitto}", db_path=str(tmp_path / "r.sqlite3"),
                              metrics_port=0, client_id="bridge-under-test")

    def booted(boot: int, seq: int) -> str:
        return json.dumps({**json.loads(reading(seq)), "boot": boot})

    def counts(text: str) -> tuple[float, float]:
        values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples
                  if s.labels.get("node") == "node-1"}
        return values["bridge_readings_missing_total"], values["bridge_node_boots"]

    scraped = []

    async def scrape(live):
        async with httpx.AsyncClient() as http:
            scraped.append(counts((await http.get(f"http://127.0.0.1:{live.metrics_port}/metrics")).text))

    async def main(rt):
        first = LiveBridge(rt, config)
        await first.start()
        await until(lambda: first.bridge.connects >= 1, what="bridge subscribed")
        await mosquitto_pub(mosquitto, "sensors/node-1/reading", [booted(1, 1), booted(1, 2), booted(1, 5),
                                                                  booted(2, 1)])
        await until(lambda: first.bridge.stored == 4, what="4 readings stored")
        await scrape(first)
        await first.stop()
        second = LiveBridge(rt, config)
        await second.start()
        await scrape(second)
        await until(lambda: second.bridge.connects >= 1, what="bridge subscribed again")
        await mosquitto_pub(mosquitto, "sensors/node-1/reading", [booted(1, 3)])
        await until(lambda: second.bridge.stored == 1, what="the late reading stored")
        await scrape(second)
        await second.stop()

    trace = run_live(main)
    assert scraped == [(2.0, 2.0), (2.0, 2.0), (1.0, 2.0)]
    assert [(r["boot"], r["from"], r["to"]) for r in trace.of_kind("reading.missing")] == [(1, 3, 4)]
    assert [(r["boot"], r["seq"]) for r in trace.of_kind("reading.late")] == [(1, 3)]
