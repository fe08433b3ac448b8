"""``hilsim bridge``: run the live bridge (MQTT -> SQLite, Pushgateway, /metrics) until stopped."""

from __future__ import annotations

import click

from firmware.reading import LEGACY_TOPIC
from hilsim.commands.options import mqtt_tls_options, password_options, trace_sink
from hilsim.commands.user_errors import user_errors
from hilsim.wiring.live_bridge import LiveBridgeConfig, run_live_bridge
from system.adapters.mqtt_client import TlsOptions
from system.decisions.readings import LEGACY_NODE
from system.errors import ConfigError


@click.command(short_help="Live: MQTT readings into SQLite, a Pushgateway, remote write and /metrics.")
@click.option("--broker", "broker_url", default="mqtt://127.0.0.1:1883", show_default=True,
              help="mqtt://[user:pass@]host[:port] or mqtts://... for TLS.")
@click.option("--db", "db_path", default="readings.sqlite3", show_default=True, help="SQLite file of readings.")
@click.option("--pushgateway", "pushgateway_url", default=None,
              help="Pushgateway base URL, e.g. http://127.0.0.1:9091 (omit: no pushes).")
@click.option("--remote-write", "remote_write_url", default=None, metavar="URL",
              help="Also write every reading at its own time through Prometheus remote write, e.g. "
                   "http://127.0.0.1:9090/api/v1/write (the receiver needs an out-of-order window for outages).")
@click.option("--job", default="{node}", show_default=True, help="Pushgateway job per node: a template on {node}.")
@click.option("--metrics-port", type=click.IntRange(-1, 65535), default=9108, show_default=True,
              help="Port of the bridge's own /metrics (0: any free port, -1: none).")
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
@click.option("--client-id", default="bridge", show_default=True,
              help="MQTT client id; keep it stable, the broker keeps the session under it. A broker that binds "
                   "ids to accounts wants the account name, or it and a suffix (bridge-2).")
@click.option("--username", default=None)
@password_options("HILSIM_MQTT_PASSWORD")
@mqtt_tls_options()
@click.option("--legacy-node", default=LEGACY_NODE, show_default=True,
              help=f"Node id for readings on the original {LEGACY_TOPIC}, which carry no identity.")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, writable=True, allow_dash=True), default=None,
              help="Append the JSON Lines trace to this file ('-' for standard output).")
@click.option("--for", "duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def bridge(broker_url: str, db_path: str, pushgateway_url: str | None, remote_write_url: str | None, job: str, metrics_port: int,
           metrics_host: str, client_id: str, username: str | None, password: str | None, tls: TlsOptions | None,
           legacy_node: str, trace_path: str | None,
           duration: float | None) -> None:
    """Run the live bridge: readings from the broker into SQLite, gauges to a Pushgateway, /metrics served.

    Until SIGINT or SIGTERM (or --for): state changes (started, connected, disconnected with the reason
    and the retry delay, refused input, stopped) go to stderr, one line each, with or without --trace.
    """
    with user_errors("--job"):
        try:
            job.format(node="node-1")
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"{job!r} is not a template on {{node}} ({exc!r})") from None
    config = LiveBridgeConfig(broker_url=broker_url, db_path=db_path, pushgateway_url=pushgateway_url, job=job,
                              metrics_port=None if metrics_port < 0 else metrics_port, metrics_host=metrics_host,
                              client_id=client_id, username=username, password=password, tls=tls,
                              legacy_node=legacy_node, remote_write_url=remote_write_url)
    with user_errors("--broker"), trace_sink(trace_path) as sink:
        run_live_bridge(config, trace_file=sink, until=duration)
