"""``hilsim broker``: the embedded live MQTT broker (amqtt), see ``system/adapters/amqtt_broker.py``."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import click

from hilsim.live import trace_sink
from system.errors import BackendError

_FILE = click.Path(dir_okay=False, path_type=Path)
_EXISTING = click.Path(dir_okay=False, exists=True, path_type=Path)


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=1883, show_default=True,
              help="TCP port (8883 is usual with TLS; 0 picks a free port, printed on start).")
@click.option("--passwd", "passwd", type=_FILE, required=True,
              help="Password file: one 'user:$argon2id$...' line per device. Create and extend it with --add-user.")
@click.option("--add-user", metavar="NAME",
              help="Add NAME to the password file (or change its password) and exit; "
                   "the password is asked for, or read from stdin with --password-stdin.")
@click.option("--password-stdin", is_flag=True, help="With --add-user: read the password from the first line of stdin.")
@click.option("--tls-cert", type=_EXISTING, help="Server certificate (PEM); turns TLS on.")
@click.option("--tls-key", type=_EXISTING, help="Private key of --tls-cert (PEM).")
@click.option("--ca-cert", type=_EXISTING,
              help="CA certificate (PEM) that signs client certificates; a client with a certificate it "
                   "verifies is let in without a password.")
@click.option("--require-client-cert", is_flag=True,
              help="Refuse TLS clients without a certificate signed by --ca-cert (in the TLS handshake).")
@click.option("--trace", "trace_path", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="Append the JSON Lines trace (clients authenticated, refused, connected, gone) to this file "
                   "('-' for standard output).")
@click.option("-v", "--verbose", is_flag=True, help="Log connections and amqtt's own messages on stderr.")
def broker(host: str, port: int, passwd: Path, add_user: str | None, password_stdin: bool, tls_cert: Path | None,
           tls_key: Path | None, ca_cert: Path | None, require_client_cert: bool, trace_path: str | None,
           verbose: bool) -> None:
    """Run the embedded MQTT broker with per-device passwords and optional TLS.

    Persistent sessions (clean_session=False) of authenticated clients keep their
    subscriptions and queue QoS 1 messages while the client is offline. Sessions
    and retained messages are kept in memory only.

    \b
    Add a device, then run:
      hilsim broker --passwd broker.passwd --add-user node-1
      hilsim broker --passwd broker.passwd --port 1883
    \b
    With TLS and client certificates:
      hilsim broker --passwd broker.passwd --port 8883 --tls-cert server.pem \\
          --tls-key server.key --ca-cert ca.pem --require-client-cert
    """
    from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker, TlsConfig, read_password_file
    from system.adapters.amqtt_broker import add_user as add_user_to_file

    if add_user is not None:
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = click.prompt(f"password for {add_user}", hide_input=True, confirmation_prompt=True)
        try:
            new = add_user_to_file(passwd, add_user, password)
        except (ValueError, OSError) as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"{'added' if new else 'changed password of'} {add_user} in {passwd}")
        return
    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if tls_cert is None and (ca_cert or require_client_cert):
        raise click.UsageError("--ca-cert and --require-client-cert need TLS (--tls-cert and --tls-key)")
    if require_client_cert and ca_cert is None:
        raise click.UsageError("--require-client-cert needs --ca-cert to verify client certificates")
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # our refusals stay visible; amqtt's chatter does not
        logging.getLogger("system.adapters.amqtt_broker").setLevel(logging.WARNING)
    try:
        users = read_password_file(passwd)
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc
    if not users:
        click.echo(f"warning: {passwd} lists no users; only client certificates can log in", err=True)
    tls = TlsConfig(tls_cert, tls_key, ca_cert, require_client_cert) if tls_cert else None
    settings = BrokerSettings(host=host, port=port, users=users, tls=tls)
    try:
        with trace_sink(trace_path) as sink:
            rt = _trace_runtime(sink, host, port) if sink else None
            asyncio.run(_serve(EmbeddedBroker(settings, rt=rt)))
    except BackendError as exc:
        raise click.ClickException(str(exc)) from exc


def _trace_runtime(sink, host: str, port: int):
    """A runtime whose only use here is writing the broker's trace lines, flushed line by line."""
    from system.adapters.asyncio_runtime import AsyncioRuntime
    from system.trace import LineFlushed, Trace

    return AsyncioRuntime(trace=Trace({"run": "live-broker", "listen": f"{host}:{port}"}, sink=LineFlushed(sink)),
                          src="broker")


async def _serve(embedded) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with embedded:
        scheme = "mqtts" if embedded.settings.tls else "mqtt"
        click.echo(f"hilsim broker: listening on {scheme}://{embedded.settings.host}:{embedded.port} "
                   f"({len(embedded.settings.users)} users)", )
        sys.stdout.flush()
        await stop.wait()
    click.echo("hilsim broker: stopped")
