"""``hilsim broker``: the embedded live MQTT broker (amqtt), see ``system/adapters/amqtt_broker.py``."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hilsim.commands.options import trace_sink
from hilsim.commands.user_errors import UsageProblem, user_errors
from system.errors import ConfigError

if TYPE_CHECKING:
    from system.adapters.amqtt_broker import TlsConfig

_FILE = click.Path(dir_okay=False, path_type=Path)
_EXISTING = click.Path(dir_okay=False, exists=True, path_type=Path)


def _policy_options(command: Any) -> Any:
    """Who may do what, and the connection limits; passed through to BrokerSettings by ``broker_policy``."""
    options = [
        click.option("--acl-file", type=_EXISTING,
                     help="Topic access control in Mosquitto's acl_file format (user, topic and pattern lines). "
                          "Default: the shipped policy, deploy/mosquitto/acl."),
        click.option("--no-acl", is_flag=True, help="Let every account publish and subscribe to everything (warns)."),
        click.option("--client-id-rule", type=click.Choice(["account", "free"]), default="account", show_default=True,
                     help="account: a client id is the account name or starts with '<account>-'; free: any id."),
        click.option("--max-packet-size", type=click.IntRange(64), default=65536, show_default=True,
                     help="Close a connection that sends a larger packet (bytes)."),
        click.option("--connect-timeout", type=click.FloatRange(0.1), default=10.0, show_default=True,
                     help="Close a connection that sends no CONNECT within this many seconds."),
        click.option("--max-connections-per-address", type=click.IntRange(0), default=256, show_default=True,
                     help="Refuse more connections from one address (0: no cap)."),
        click.option("--login-failure-delay", type=click.FloatRange(0), default=1.0, show_default=True,
                     help="Seconds a refused login waits before its answer."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command(context_settings={"help_option_names": ["-h", "--help"]},
               short_help="Live: the embedded MQTT broker (passwords, TLS, sessions).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=1883, show_default=True,
              help="TCP port (8883 is usual with TLS; 0 picks a free port, printed on start).")
@click.option("--passwd", "passwd", type=_FILE, required=True,
              help="Password file: one 'user:$7$...' line per device (Mosquitto's format; Argon2 lines are "
                   "read too). Create and extend it with --add-user.")
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
@_policy_options
def broker(host: str, port: int, passwd: Path, add_user: str | None, password_stdin: bool, tls_cert: Path | None,
           tls_key: Path | None, ca_cert: Path | None, require_client_cert: bool, trace_path: str | None,
           verbose: bool, **policy: Any) -> None:
    """Run the embedded MQTT broker with per-device passwords and optional TLS, until SIGINT or SIGTERM.

    Prints 'hilsim broker: listening on mqtt://HOST:PORT' on stdout once it listens;
    state changes (started, stopped) go to stderr, one line each.

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
    from system.adapters.amqtt_broker import BrokerSettings, read_password_file
    from hilsim.wiring.live_broker import broker_policy, run_live_broker  # amqtt loads only when the broker runs

    if add_user is not None:
        _add_user(passwd, add_user, password_stdin)
        return
    tls = _tls(tls_cert, tls_key, ca_cert, require_client_cert)
    _log_to_stderr(verbose)
    with user_errors():
        if tls is not None:
            tls.context()  # a certificate that does not load is refused before anything listens
        users = read_password_file(passwd)
    if not users:
        click.echo(f"warning: {passwd} lists no users; only client certificates can log in", err=True)
    with user_errors():
        settings = BrokerSettings(host=host, port=port, users=users, tls=tls, **broker_policy(**policy))

    def announce(url: str) -> None:
        # On stdout, for whoever started it to read the port (--port 0); the state lines go to stderr.
        click.echo(f"hilsim broker: listening on {url} ({len(users)} users)")
        sys.stdout.flush()

    with user_errors(), trace_sink(trace_path) as sink:
        run_live_broker(settings, trace_file=sink, announce=announce)


def _add_user(passwd: Path, name: str, password_stdin: bool) -> None:
    """--add-user: NAME's password asked for (or read from stdin) and written into the password file."""
    from system.adapters.amqtt_broker import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    with user_errors(str(passwd)):
        try:
            new = add_user(passwd, name, password)
        except OSError as exc:
            raise ConfigError(f"cannot write the password file ({exc.strerror})") from exc
    click.echo(f"{'added' if new else 'changed password of'} {name} in {passwd}")


def _tls(cert: Path | None, key: Path | None, ca: Path | None, require_client_cert: bool) -> "TlsConfig | None":
    """The TLS options as one setting (None: plain MQTT), refused when they do not fit together."""
    from system.adapters.amqtt_broker import TlsConfig

    if (cert is None) != (key is None):
        raise UsageProblem("--tls-cert and --tls-key go together")
    if cert is None and (ca or require_client_cert):
        raise UsageProblem("--ca-cert and --require-client-cert need TLS (--tls-cert and --tls-key)")
    if require_client_cert and ca is None:
        raise UsageProblem("--require-client-cert needs --ca-cert to verify client certificates")
    return TlsConfig(cert, key, ca, require_client_cert) if cert else None


def _log_to_stderr(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.ERROR, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # our refusals stay visible; amqtt's chatter does not
        logging.getLogger("system.adapters.amqtt_broker").setLevel(logging.WARNING)
