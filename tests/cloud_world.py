"""The cloud's live world for tests: ``hilsim broker``, ``hilsim cloud`` and ``hilsim controller`` as real
processes on loopback ports, with a dashboard user and a registered device."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from processes import ROOT, TracedProcess, free_port, start_server, stop_server

PASSWORD = "correct horse"


def hilsim(*args: str, stdin: str = "") -> str:
    """Run a short ``hilsim`` command; its standard output."""
    done = subprocess.run([sys.executable, "-m", "hilsim", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


class CloudWorld:
    """Broker and cloud running; ``start_controller()`` starts (or restarts) the device ``pi``."""

    def __init__(self, tmp_path, *, cloud_args: tuple[str, ...] = (), controller_args: tuple[str, ...] = (),
                 certificates: dict | None = None):
        """``certificates`` (CA, server and client certificate files): the broker requires client certificates
        over TLS, and the cloud and the controller present one instead of a password."""
        passwd = tmp_path / "broker.passwd"
        for user in ("cloud", "pi"):
            hilsim("broker", "--passwd", str(passwd), "--add-user", user, "--password-stdin", stdin="mqtt-secret\n")
        db = str(tmp_path / "cloud.sqlite")
        hilsim("cloud", "--db", db, "--add-user", "ann", stdin=PASSWORD + "\n")
        token = tmp_path / "pi.token"
        token.write_text(hilsim("cloud", "--db", db, "--add-device", "pi"))
        mqtt_port, http_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{http_port}"
        self.controller_db = tmp_path / "controller.sqlite"
        tls_broker: list[str] = []
        tls_client: dict[str, list[str]] = {"cloud": [], "pi": []}
        urls = {user: f"mqtt://{user}:mqtt-secret@127.0.0.1:{mqtt_port}" for user in ("cloud", "pi")}
        if certificates is not None:  # each account's certificate names it (CN), as the broker's ACL wants
            c = certificates
            tls_broker = ["--tls-cert", str(c["server"]), "--tls-key", str(c["server_key"]), "--ca-cert", str(c["ca"]),
                          "--require-client-cert"]
            tls_client = {user: ["--mqtt-ca-file", str(c["ca"]), "--mqtt-cert-file", str(c[f"client-{user}"]),
                                 "--mqtt-key-file", str(c[f"client-{user}_key"])] for user in urls}
            urls = {user: f"mqtts://127.0.0.1:{mqtt_port}" for user in urls}
        self.broker = start_server([sys.executable, "-m", "hilsim", "broker", "--passwd", str(passwd),
                                    "--port", str(mqtt_port), *tls_broker], mqtt_port)
        self.mqtt_port, self.cloud_db = mqtt_port, db
        self.cloud_args = ["--db", db, "--port", str(http_port), "--jobs-prefix", "hil/",
                           "--insecure-cookies",  # plain HTTP on loopback
                           "--mqtt-url", urls["cloud"], *tls_client["cloud"], *cloud_args]
        self.start_cloud()
        self.controller_args = ["--db", str(self.controller_db), "--cloud-url", self.url, "--device", "pi",
                                "--token-file", str(token), "--jobs-prefix", "hil/",
                                "--mqtt-url", urls["pi"], *tls_client["pi"], *controller_args]
        self.controller: TracedProcess | None = None

    def start_cloud(self) -> TracedProcess:
        """Start (or, once the last one stopped, restart) the cloud on the same store and ports."""
        self.cloud = TracedProcess("cloud", *self.cloud_args)
        self.cloud.until(lambda r: any(x["kind"] == "cloud.started" for x in r), "cloud started")
        return self.cloud

    def start_controller(self) -> TracedProcess:
        self.controller = TracedProcess("controller", *self.controller_args)
        self.controller.until(lambda r: any(x["kind"] == "jobs.connected" for x in r), "controller connected for jobs")
        return self.controller

    def stop(self) -> None:
        for proc in (self.controller, self.cloud):
            if proc is not None:
                proc.stop()
        stop_server(self.broker)

    def session(self) -> tuple[httpx.Client, str]:
        """A logged-in HTTP client of the dashboard API, and its CSRF token."""
        client = httpx.Client(base_url=self.url, timeout=10.0)
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        assert client.post("/login", data={"csrf": csrf, "username": "ann", "password": PASSWORD}).status_code == 303
        return client, client.get("/api/me").json()["csrf"]

    def seen(self, kind: str, since: int = 0, **fields) -> None:
        """Wait until the cloud traced ``kind`` (with these fields) after record ``since``."""
        self.cloud.until(lambda r: any(x["kind"] == kind and all(x.get(k) == v for k, v in fields.items())
                                       for x in r[since:]), f"{kind} {fields}", timeout=60)
