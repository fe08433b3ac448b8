"""``hilsim cloud``: the cloud service (mirror, jobs, metrics, heartbeat alarm, logs, dashboard)."""

from __future__ import annotations

import ipaddress
import sys
import time

import click

from hilsim.commands.options import duration_option, mqtt_tls_options, trace_sink
from hilsim.commands.user_errors import UsageProblem, user_errors
from hilsim.wiring.live_cloud import LiveCloudConfig, run_live_cloud
from system.adapters.mqtt_client import TlsOptions
from system.adapters.notify import SmtpNotifier
from system.cloud.app import CloudSettings
from system.decisions.jobs_protocol import DEFAULT_PREFIX
from system.decisions.localtime import DEFAULT_TZ, zone
from system.errors import RefusedInput
from system.adapters.cloud_store import CloudStore
from system.adapters.metric_history import Retention


def _smtp(spec: str | None, sender: str, to: str | None) -> SmtpNotifier | None:
    if spec is None:
        return None
    host, _, port = spec.rpartition(":")
    if not host or not port.isdigit() or not to:
        raise UsageProblem("--smtp: use HOST:PORT together with --mail-to ADDRESS")
    return SmtpNotifier(host, int(port), sender, to)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, invoke_without_command=True,
             short_help="Live: the cloud service (mirror, jobs, alarm, dashboard).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--db", default="cloud.sqlite", show_default=True, type=click.Path(dir_okay=False),
              help="The cloud's SQLite store (created if missing).")
@click.option("--add-user", metavar="NAME", help="Add a dashboard user (password from stdin's first line) and exit.")
@click.option("--remove-user", metavar="NAME", help="Remove a dashboard user (their sessions end) and exit.")
@click.option("--add-device", metavar="NAME", help="Register a device, print its token once, and exit.")
@click.option("--mqtt-url", default=None, envvar="HILSIM_CLOUD_MQTT_URL",
              help="Broker for the jobs topics, mqtt://user:pass@host:port (omit: no jobs); or set "
                   "HILSIM_CLOUD_MQTT_URL, which ps does not show.")
@mqtt_tls_options("mqtt-", broker="the jobs broker")
@click.option("--jobs-prefix", default=DEFAULT_PREFIX, show_default=True,
              help="Topic prefix of the jobs API ('$aws/' on AWS IoT Core; e.g. 'hil/' where '$' is reserved).")
@click.option("--smtp", default=None, metavar="HOST:PORT", help="Send alarm e-mails through this SMTP server.")
@click.option("--mail-from", default="hilsim-cloud@localhost", show_default=True)
@click.option("--mail-to", default=None, help="Who gets the alarm e-mails.")
@click.option("--webhook", default=None, help="Also POST each alarm change as JSON to this URL.")
@click.option("--tls-cert", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Serve HTTPS with this certificate (PEM); with --tls-key.")
@click.option("--tls-key", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Private key of --tls-cert.")
@click.option("--insecure-cookies", is_flag=True,
              help="For localhost only (refused on any other --host): session cookies without Secure, so a browser "
                   "sends them over plain HTTP. Otherwise they are Secure (HTTPS, or a TLS proxy in front).")
@click.option("--secure-cookies", is_flag=True, hidden=True, help="Deprecated: cookies are Secure by default.")
@click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDRESS",
              help="A reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed (repeatable); "
                   "from anyone else they are ignored.")
@click.option("--metrics-retention", default="raw=1d,5m=30d,1h=365d", show_default=True,
              help="How long the metrics history keeps raw samples, then one point per step: raw=KEEP,STEP=KEEP,...")
@click.option("--heartbeat-period", type=float, default=300.0, show_default=True,
              help="Seconds between the devices' heartbeats; the alarm is raised after three missing. "
                   "Shorter values are for tests.")
@click.option("--job-timeout", type=float, default=600.0, show_default=True,
              help="Seconds a job may stay IN_PROGRESS before it is TIMED_OUT.")
@click.option("--timezone", default=DEFAULT_TZ, show_default=True,
              help="The club's time zone (IANA name): the dashboard shows every time in it, on a 24-hour clock.")
@click.option("--trace", "trace_path", default=None, help="Write the JSON Lines trace to this file ('-': stdout).")
@click.option("--for", "duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def cloud(host: str, port: int, db: str, add_user: str | None, remove_user: str | None, add_device: str | None,
          mqtt_url: str | None, tls: TlsOptions | None, jobs_prefix: str, smtp: str | None, mail_from: str,
          mail_to: str | None, webhook: str | None, tls_cert: str | None, tls_key: str | None, insecure_cookies: bool,
          secure_cookies: bool, trusted_proxies: tuple[str, ...], metrics_retention: str, heartbeat_period: float,
          job_timeout: float, timezone: str, trace_path: str | None, duration: float | None) -> None:
    """Run the cloud service: the devices' mirrors, jobs over MQTT, metrics, the heartbeat alarm and the dashboard.

    With a subcommand (aws-setup), set up the AWS backend instead: a controller with --cloud-url aws:REGION
    mirrors into DynamoDB and pushes its counters to CloudWatch, and no hilsim cloud runs.
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    if add_user or remove_user or add_device:
        _manage(db, add_user, remove_user, add_device)
        return
    for option, seconds in (("--heartbeat-period", heartbeat_period), ("--job-timeout", job_timeout)):
        if seconds <= 0:
            raise UsageProblem(f"{option}: {seconds:g} must be more than 0 seconds")
    if (tls_cert is None) != (tls_key is None):
        raise UsageProblem("--tls-cert/--tls-key: give both or neither")
    if insecure_cookies and not _loopback(host):
        raise UsageProblem(f"--insecure-cookies is for localhost only, not --host {host}; "
                           "serve HTTPS or use a TLS proxy")
    if insecure_cookies:
        click.echo("warning: --insecure-cookies: session cookies travel over plain HTTP; for localhost only", err=True)
    try:
        zone(timezone)
    except RefusedInput:
        raise UsageProblem(f"--timezone: {timezone!r} is not a time zone name like Europe/Brussels") from None
    with user_errors():
        retention = _retention(metrics_retention)
    settings = CloudSettings(secure_cookies=not insecure_cookies, job_timeout=job_timeout,
                             trusted_proxies=frozenset(trusted_proxies), timezone=timezone)
    config = LiveCloudConfig(db=db, host=host, port=port, mqtt_url=mqtt_url, prefix=jobs_prefix, mqtt_tls=tls,
                             heartbeat_period=heartbeat_period, smtp=_smtp(smtp, mail_from, mail_to), webhook=webhook,
                             settings=settings, sweep_every=min(30.0, job_timeout / 4),
                             tls=(tls_cert, tls_key) if tls_cert and tls_key else None, retention=retention)
    with user_errors(), trace_sink(trace_path) as sink:
        run_live_cloud(config, trace_file=sink, until=duration)


def _manage(db: str, add_user: str | None, remove_user: str | None, add_device: str | None) -> None:
    store = CloudStore(db)
    try:
        if add_user:
            password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else \
                click.prompt("password", hide_input=True, confirmation_prompt=True)
            new = store.add_user(add_user, password)
            click.echo(f"added user {add_user}" if new else f"updated user {add_user}; their sessions ended", err=True)
        if remove_user:
            if not store.remove_user(remove_user):
                raise ValueError(f"--remove-user: no user {remove_user!r}")
            click.echo(f"removed user {remove_user} and ended their sessions", err=True)
        if add_device:
            click.echo(store.add_device(add_device, time.time()))
    except ValueError as exc:
        raise UsageProblem(str(exc)) from None
    finally:
        store.close()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _retention(text: str) -> Retention:
    """``raw=1d,5m=30d,1h=365d``: raw samples kept a day, 5-minute points 30 days, hourly points a year."""
    raw_for, tiers = None, []
    for part in text.split(","):
        step, sep, keep = part.strip().partition("=")
        if not sep:
            raise UsageProblem(f"--metrics-retention: {part!r} is not STEP=KEEP (e.g. 5m=30d)")
        kept = duration_option(keep, "--metrics-retention")
        if step == "raw":
            raw_for = kept
        else:
            tiers.append((duration_option(step, "--metrics-retention"), kept))
    try:
        return Retention(raw_for=raw_for or Retention().raw_for, tiers=tuple(sorted(tiers)))
    except ValueError as exc:
        raise UsageProblem(f"--metrics-retention: {exc}") from None


@cloud.command("aws-setup")
@click.option("--region", required=True, help="The AWS region, e.g. eu-west-1.")
@click.option("--device", "devices", multiple=True, required=True, metavar="NAME",
              help="A controller's thing name: it gets a heartbeat alarm (repeatable).")
@click.option("--endpoint-url", default=None, metavar="URL", help="Another endpoint than AWS's own (a test server).")
@click.option("--table-prefix", default="", help="Prefix of the DynamoDB tables (events, alerts, jobs).")
@click.option("--alarm-action", "actions", multiple=True, metavar="ARN",
              help="Tell this SNS topic when a heartbeat alarm changes (repeatable).")
def aws_setup(region: str, devices: tuple[str, ...], endpoint_url: str | None, table_prefix: str,
              actions: tuple[str, ...]) -> None:
    """Create the DynamoDB tables (events, alerts, jobs) and each device's heartbeat alarm: three 5-minute
    periods without RPI_BACKEND_STATUS (missing data counts as breaching). Safe to run again.
    Credentials come from boto3's usual places (environment, ~/.aws, an instance role)."""
    from system.adapters.aws_cloud import AwsOptions
    from system.adapters.aws_setup import create_heartbeat_alarm, create_tables
    from botocore.exceptions import BotoCoreError, ClientError
    from system.errors import BackendError
    options = AwsOptions(region=region, endpoint_url=endpoint_url, table_prefix=table_prefix)
    with user_errors():
        try:
            created = create_tables(options)
            alarms = [create_heartbeat_alarm(options, device, actions) for device in devices]
        except (BotoCoreError, ClientError) as exc:
            raise BackendError(f"AWS: {exc}") from exc
    click.echo(f"tables: {', '.join(created) or 'all there already'}; alarms: {', '.join(alarms)}")
