"""``hilsim controller``: run the live match-day controller until stopped."""

from __future__ import annotations

import os
from pathlib import Path

import click

from hilsim.commands.fixtures_cmd import load_selectors_file
from hilsim.commands.options import mqtt_tls_options, trace_sink
from hilsim.commands.user_errors import UsageProblem, user_errors
from hilsim.wiring.live_controller import LiveControllerConfig, parse_relay, run_live_controller
from system.adapters.aws_cloud import AwsOptions
from system.adapters.mqtt_client import TlsOptions
from system.adapters.release_keys import read_public_key
from system.decisions.jobs_protocol import DEFAULT_PREFIX
from system.services.controller import CloudLink
from system.services.relay import LightPattern


def _cloud_link(url: str | None, device: str | None, token_file: str | None, mqtt_url: str | None, prefix: str,
                sync_every: float, poll_every: float, log_every: float) -> CloudLink | None:
    if not url:
        if mqtt_url:
            raise UsageProblem("--mqtt-url: cloud jobs need --cloud-url too")
        return None
    if url.startswith("aws:"):  # boto3 finds the credentials (environment, ~/.aws, an instance role)
        if not device:
            raise UsageProblem("--cloud-url aws:REGION: needs --device (the thing name)")
        return CloudLink(url, device, "", prefix=prefix, sync_every=sync_every, poll_every=poll_every,
                         log_every=log_every)
    if token_file:
        try:
            token = Path(token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageProblem(f"--token-file: cannot read {token_file} ({exc.strerror})") from None
    else:
        token = os.environ.get("HILSIM_DEVICE_TOKEN", "").strip()
    if not device or not token:
        raise UsageProblem("--cloud-url: needs --device and a token (--token-file or HILSIM_DEVICE_TOKEN)")
    return CloudLink(url, device, token, prefix=prefix, sync_every=sync_every, poll_every=poll_every,
                     log_every=log_every)


def _aws(cloud_url: str | None, endpoint_url: str | None, table_prefix: str) -> AwsOptions | None:
    if not cloud_url or not cloud_url.startswith("aws:"):
        if endpoint_url:
            raise UsageProblem("--aws-endpoint-url: only with --cloud-url aws:REGION")
        return None
    region = cloud_url.removeprefix("aws:").strip("/")
    if not region:
        raise UsageProblem("--cloud-url aws:REGION: name the region, e.g. aws:eu-west-1")
    return AwsOptions(region=region, endpoint_url=endpoint_url, table_prefix=table_prefix)


@click.command(short_help="Live: the match-day controller (fixtures, alerts, the light).")
@click.option("--db", required=True, type=click.Path(dir_okay=False),
              help="The controller's SQLite store (created if missing): the single source of truth.")
@click.option("--fixtures-url", default=None, help="The club's fixtures page or iCalendar feed (omit: no scraping).")
@click.option("--format", "fixtures_format", type=click.Choice(["html", "ical", "auto"]), default="html",
              show_default=True, help="html, ical, or auto (told apart by content).")
@click.option("--selectors", "selectors_path", default=None, metavar="FILE",
              help="Selectors file (TOML) for the club's page; try it first with hilsim fixtures check.")
@click.option("--club", multiple=True, metavar="NAME", help="A name the club goes by (repeat for more).")
@click.option("--relay", default="sim", show_default=True,
              help="sim (trace only), gpiod:/dev/gpiochip0:17[:active-low], or serial:/dev/ttyUSB0.")
@click.option("--blink", type=float, default=None, metavar="SECONDS",
              help="Blink the light with this on/off period instead of a steady light.")
@click.option("--push-url", default=None, help="Pushgateway (or any HTTP endpoint) base URL for the counters.")
@click.option("--scrape-every", type=float, default=3600.0, show_default=True, help="Seconds between scrapes.")
@click.option("--push-every", type=float, default=300.0, show_default=True, help="Seconds between counter pushes.")
@click.option("--cloud-url", default=None,
              help="The cloud service (hilsim cloud) to sync with, e.g. http://cloud:8080; or aws:REGION for the "
                   "AWS backend (DynamoDB mirror, CloudWatch counters; run 'hilsim cloud aws-setup' once).")
@click.option("--aws-endpoint-url", default=None, metavar="URL",
              help="With --cloud-url aws:REGION: another endpoint than AWS's own (a local test server).")
@click.option("--aws-table-prefix", default="", help="With --cloud-url aws:REGION: prefix of the DynamoDB tables.")
@click.option("--device", default=None, help="This controller's device name in the cloud (also its jobs thing name).")
@click.option("--token-file", type=click.Path(dir_okay=False), default=None,
              help="File holding the device token (from `hilsim cloud --add-device NAME`); or set HILSIM_DEVICE_TOKEN.")
@click.option("--mqtt-url", default=None, help="Broker for cloud jobs, mqtt://user:pass@host:port (omit: no jobs).")
@mqtt_tls_options("mqtt-", broker="the jobs broker")
@click.option("--jobs-prefix", default=DEFAULT_PREFIX, show_default=True,
              help="Topic prefix of the jobs API ('$aws/' on AWS IoT Core; another where a broker reserves '$').")
@click.option("--sync-every", type=float, default=300.0, show_default=True,
              help="Seconds between syncs when nothing changed (changes sync at once).")
@click.option("--poll-every", type=float, default=30.0, show_default=True, help="Seconds between job polls.")
@click.option("--log-every", type=float, default=60.0, show_default=True, help="Seconds between log batches.")
@click.option("--ota-root", default=None, type=click.Path(file_okay=False),
              help="Accept updateApplication jobs: install versions here (run under `hilsim supervise`).")
@click.option("--update-key", default=None, type=click.Path(dir_okay=False), metavar="FILE",
              help="The public release key (PEM, from `hilsim release keygen`) updates must be signed by. "
                   "Without it every update is refused (FAILED: no update key is configured).")
@click.option("--trace", "trace_path", default=None,
              help="Write the JSON Lines trace to this file ('-' for standard output).")
@click.option("--for", "duration", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
def controller(db: str, fixtures_url: str | None, fixtures_format: str, selectors_path: str | None,
               club: tuple[str, ...], relay: str, blink: float | None,
               push_url: str | None, scrape_every: float, push_every: float, cloud_url: str | None,
               device: str | None, token_file: str | None, mqtt_url: str | None, tls: TlsOptions | None,
               jobs_prefix: str, sync_every: float, poll_every: float, log_every: float, ota_root: str | None,
               update_key: str | None, aws_endpoint_url: str | None, aws_table_prefix: str,
               trace_path: str | None, duration: float | None) -> None:
    """Run the match-day controller: scrape fixtures, plan alerts, switch the light, push counters.

    It keeps working offline: alerts come from the local store. Killing it at any
    moment loses no committed change, and after a restart no alert fires twice.
    Until SIGINT or SIGTERM (or --for): state changes (started, relay or scrape
    failures, refused pages, stopped) go to stderr, one line each.
    """
    with user_errors("--blink"):
        parse_relay(relay)
        pattern = LightPattern("blink", blink, blink) if blink is not None else LightPattern()
    for option, seconds in (("--scrape-every", scrape_every), ("--push-every", push_every),
                            ("--sync-every", sync_every), ("--poll-every", poll_every), ("--log-every", log_every)):
        if seconds <= 0:
            raise UsageProblem(f"{option}: {seconds:g} must be more than 0 seconds")
    with user_errors():
        page = load_selectors_file(selectors_path) if selectors_path else None
        trusted = read_public_key(update_key) if update_key else None
    config = LiveControllerConfig(db=db, fixtures_url=fixtures_url, fixtures_format=fixtures_format, relay=relay,
                                  pattern=pattern, push_url=push_url, scrape_every=scrape_every,
                                  push_every=push_every, page=page, club=club, mqtt_url=mqtt_url, ota_root=ota_root,
                                  update_key=trusted, mqtt_tls=tls,
                                  aws=_aws(cloud_url, aws_endpoint_url, aws_table_prefix),
                                  cloud=_cloud_link(cloud_url, device, token_file, mqtt_url, jobs_prefix,
                                                    sync_every, poll_every, log_every))
    with user_errors(), trace_sink(trace_path) as sink:
        run_live_controller(config, trace_file=sink, until=duration)
