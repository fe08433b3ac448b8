# The node on a board: config, HAL, console, web server and the node's coroutines on asyncio.
#
# main.py calls ``main()``. The console speaks the protocol of firmware/console.py
# (hil/PROTOCOL.md): a boot banner, each reading, the node's trace lines, status, and
# the commands state / interval / inject / wifi_drop / reboot. Everything the node does
# is in firmware/node.py; this module only builds its world on a real (or simulated) board.

import asyncio
import json
import sys

from firmware import console
from firmware.boot_count import FileFlash
from firmware.board.aio import MICROPYTHON, BoardRuntime
from firmware.board.config import load_config
from firmware.board.faults import FaultySensor
from firmware.board.mqtt import MqttClient
from firmware.node import Node
from firmware.reading import encode_reading, last_will

VERSION = "0.1.0"
REBOOT_EXIT = 75  # exit status of a reboot off the ESP32: the virtual board starts the firmware again


def write_stdout(data):
    sys.stdout.write(data.decode("utf-8"))
    if not MICROPYTHON:
        sys.stdout.flush()


class Hal:
    pass


class App:
    def __init__(self, config, write=write_stdout):
        self.config = config
        self.write = write
        self.rt = BoardRuntime(self._trace)
        self.reboot = asyncio.Event()
        self.board = config["board"]
        self.node = None
        self._servers = []
        hal = Hal()
        hal.flash = FileFlash()  # the working directory: / on the board, the board's directory off it
        if self.board == "esp32":
            from firmware.board import esp32_hal
            self._esp32 = esp32_hal
            sensor = esp32_hal.DhtSensor(config["pins"]["dht"])
            hal.wifi = esp32_hal.Wlan(config["wifi"]["ssid"], config["wifi"].get("password", ""), self.rt.now)
            hal.clock = esp32_hal.NtpClock(config["ntp_host"])
        else:
            from firmware.board import sim_hal
            self._esp32 = None
            replay = config["sensor"] and config["sensor"].get("replay")
            sensor = sim_hal.ReplaySensor(replay) if replay else sim_hal.SimSensor()
            hal.wifi = sim_hal.SimWifi()
            hal.clock = sim_hal.SystemClock()
        hal.sensor = FaultySensor(sensor, self.rt.now)
        hal.mqtt = MqttClient(config["node"], config["broker_host"], config["broker_port"], config["user"],
                              config["password"], config["keepalive"],
                              will=last_will(config["node"]),
                              ssl=self._tls() if config["broker_tls"] else None, gate=self._wifi_gate)
        hal.wifi.on_drop = hal.mqtt.close
        self.hal = hal

    def _wifi_gate(self):
        if not self.hal.wifi.isconnected():
            raise OSError("wifi not connected")

    def _tls(self):
        import ssl
        tls = self.config["tls"] or {}
        if not MICROPYTHON:
            ctx = ssl.create_default_context(cafile=tls.get("ca"))
            if tls.get("cert"):
                ctx.load_cert_chain(tls["cert"], tls.get("key"))
            return ctx
        # MicroPython's ssl takes certificates and keys as DER bytes: PEM files are decoded here.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if tls.get("ca"):
            for der in der_blocks(tls["ca"]):
                ctx.load_verify_locations(cadata=der)
            ctx.verify_mode = ssl.CERT_REQUIRED
        else:
            ctx.verify_mode = ssl.CERT_NONE
        if tls.get("cert"):
            ctx.load_cert_chain(der_blocks(tls["cert"])[0], der_blocks(tls.get("key") or tls["cert"], "KEY")[0])
        return ctx

    # --- console out ------------------------------------------------------------------

    def emit(self, msg):
        self.write(console.encode(msg))

    def _trace(self, kind, fields):
        if kind == "reading.sampled" and self.node is not None:
            reading = json.loads(encode_reading(self.node.history.items(1)[0]))
            reading["msg"] = "reading"
            self.emit(reading)
        msg = {"msg": "trace", "kind": kind}
        for k in fields:
            msg[k] = fields[k]
        self.emit(msg)

    def status(self):
        msg = {"msg": "status", "node": self.config["node"], "wifi": self.hal.wifi.isconnected(),
               "mqtt": self.hal.mqtt.connected, "ip": self.hal.wifi.ip(), "sample_every": self.node.sample_every,
               "uptime": int(self.rt.now() - self.rt.start), "sensor_fault": self.hal.sensor.active()}
        stats = self.node.stats()
        for k in stats:
            msg[k] = stats[k]
        return msg

    # --- console in -------------------------------------------------------------------

    def handle_command(self, msg):
        try:
            name, args = console.check_command(msg)
        except ValueError as exc:
            self.emit({"msg": "error", "reason": "bad_command", "detail": str(exc)})
            return
        if name == "state":
            self.emit(self.status())
            return
        if name == "interval":
            self.node.sample_every = args["sample_every"]
        elif name == "inject":
            self.hal.sensor.inject(args["sensor"], args["for"])
        elif name == "wifi_drop":
            self.hal.wifi.drop(args["for"])
        ack = {"msg": "ack", "cmd": name}
        for k in args:
            ack[k] = args[k]
        self.emit(ack)
        if name == "reboot":
            self.reboot.set()

    async def console_loop(self):
        reader = await _stdin_reader()
        decoder = console.LineDecoder(key="cmd")
        # MicroPython's blocking stdin read(n) waits for all n bytes: one byte at a time never blocks.
        chunk = 1 if MICROPYTHON else 256
        while True:
            data = await reader.read(chunk)
            if not data:
                return  # stdin closed (a detached Unix-port run): keep running without a console
            for kind, value in decoder.feed(data):
                if kind == "message":
                    self.handle_command(value)

    # --- the rest ---------------------------------------------------------------------

    async def status_loop(self):
        while True:
            await self.rt.sleep(self.config["status_every"])
            self.emit(self.status())

    async def start_web(self, port):
        node = self.node

        async def client(reader, writer):
            try:
                data = await reader.read(1025)
                writer.write(node.handle_http(data))
                await writer.drain()
            except OSError:
                pass
            finally:
                try:
                    writer.close()
                    await writer.wait_closed()
                except OSError:
                    pass

        self._servers.append(await asyncio.start_server(client, "0.0.0.0", port))

    async def run(self):
        # The node and its helpers until a reboot is asked for; returns "reboot".
        config = self.config
        self.node = Node(self.rt, self.hal, config["node"], sample_every=config["sample_every"],
                         read_every=config["read_every"], buffer_size=config["buffer_size"])
        board = "esp32" if self.board == "esp32" else ("unix" if MICROPYTHON else "cpython")
        reset = self._esp32.reset_cause() if self._esp32 else "power_on"
        # platform: "esp32" on the chip, "linux" under the Unix port: what the harness calls real hardware
        self.emit({"msg": "boot", "version": VERSION, "node": config["node"], "board": board, "reset": reset,
                   "boot": self.node.boot, "platform": sys.platform})
        rt = self.rt
        rt.spawn(self.hal.wifi.keep_connected(self._wifi_changed), "wifi")
        if self._esp32 is not None:
            rt.spawn(self.hal.clock.keep_synced(self.hal.wifi, self._trace), "ntp")
        if config["web_port"]:
            try:
                await self.start_web(config["web_port"])
            except OSError as exc:
                self.emit({"msg": "error", "reason": "web", "detail": str(exc)})
        rt.spawn(self.console_loop(), "console")
        rt.spawn(self.status_loop(), "status")
        rt.spawn(self.node.run(), config["node"])
        if config["watchdog"]:
            rt.spawn(self.feed_watchdog(config["watchdog"]), "watchdog")
        await self.reboot.wait()
        await asyncio.sleep(0.1)  # let the ack leave the UART
        return "reboot"

    async def feed_watchdog(self, seconds):
        # The hardware watchdog, fed from the event loop: a task that blocks the loop starves it and the
        # board resets (machine.WDT on the ESP32; the simulated one elsewhere).
        wdt = self._esp32.watchdog(seconds) if self._esp32 else self._sim_watchdog(seconds)
        while True:
            wdt.feed()
            await self.rt.sleep(seconds / 4)

    def _sim_watchdog(self, seconds):
        from firmware.board import sim_hal

        return sim_hal.Watchdog(seconds, self.rt.now, lambda: self.emit(
            {"msg": "error", "reason": "watchdog", "detail": "not fed for %ss: resetting" % seconds}))

    def _wifi_changed(self, up):
        self.emit({"msg": "trace", "kind": "wifi.up" if up else "wifi.down", "node": self.config["node"]})


def der_blocks(path, kind="CERTIFICATE"):
    # The DER blocks of a PEM file whose labels contain ``kind`` (all its certificates, or its key),
    # or the file itself when it is DER already.
    import binascii

    with open(path, "rb") as f:
        data = f.read()
    if not data.startswith(b"-----BEGIN"):
        return [data]
    blocks, body = [], None
    for line in data.split(b"\n"):
        line = line.strip()
        if line.startswith(b"-----BEGIN") and kind.encode() in line:
            body = []
        elif line.startswith(b"-----END") and body is not None:
            blocks.append(binascii.a2b_base64(b"".join(body)))
            body = None
        elif body is not None and line:
            body.append(line)
    if not blocks:
        raise ValueError(path + ": no " + kind + " in this PEM file")
    return blocks


async def _stdin_reader():
    if MICROPYTHON:
        # the byte stream: the text one would wait for the rest of a UTF-8 character that never comes
        return asyncio.StreamReader(getattr(sys.stdin, "buffer", sys.stdin))
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def main(path="config.json"):
    # The entry point main.py calls: run until a reboot is asked for, then reset.
    try:
        config = load_config(path)
    except (OSError, ValueError) as exc:
        write_stdout(console.encode({"msg": "error", "reason": "config", "detail": str(exc)}))
        return
    app = App(config)
    asyncio.run(app.run())
    if app._esp32 is not None:
        app._esp32.reset()
    sys.exit(REBOOT_EXIT)
