"""``hilsim controller``: run the live match-day controller until interrupted."""

from __future__ import annotations


import os
from pathlib import Path

import click

from hilsim.live import sigterm_as_interrupt, trace_sink

from hilsim.live_controller import LiveControllerConfig, parse_relay, run_live_controller
from system.errors import BackendError
from system.services.controller import CloudLink
from system.services.relay import LightPattern


@click.command()
@click.option("--db", required=True, type=click.Path(dir_okay=False),
              help="The controller's SQLite store (created if missing): the single source of truth.")
@click.option("--fixtures-url", default=None, help="The club's fixtures page or iCalendar feed (omit: no scraping).")
@click.option("--format", "fixtures_format", type=click.Choice(["html", "ical"]), default="html", show_default=True)
@click.option("--relay", default="sim", show_default=True,
              help="sim (trace only), gpiod:/dev/gpiochip0:17[:active-low], or serial:/dev/ttyUSB0.")
@click.option("--blink", type=float, default=None, metavar="SECONDS",
              help="Blink the light with this on/off period instead of a steady light.")
@click.option("--push-url", default=None, help="Pushgateway (or any HTTP endpoint) base URL for the counters.")
@click.option("--scrape-every", type=float, default=3600.0, show_default=True, help="Seconds between scrapes.")
@click.option("--push-every", type=float, default=300.0, show_default=True, help="Seconds between counter pushes.")
@click.option("--cloud-url", default=None, help="The cloud service (hilsim cloud) to sync with, e.g. http://cloud:8080.")
@click.option("--device", default=None, help="This controller's device name in the cloud (also its jobs thing name).")
@click.option("--token-file", type=click.Path(dir_okay=False, exists=True), default=None,
              help="File holding the device token (from `hilsim cloud --add-device NAME`); or set HILSIM_DEVICE_TOKEN.")
@click.option("--mqtt-url", default=None, help="Broker for cloud jobs, mqtt://user:pass@host:port (omit: no jobs).")
@click.option("--jobs-prefix", default="$aws/", show_default=True, help="Topic prefix of the jobs API.")
@click.option("--sync-every", type=float, default=300.0, show_default=True,
              help="Seconds between syncs when nothing changed (changes sync at once).")
@click.option("--poll-every", type=float, default=30.0, show_default=True, help="Seconds between job polls.")
@click.option("--log-every", type=float, default=60.0, show_default=True, help="Seconds between log batches.")
@click.option("--trace", "trace_path", default=None,
              help="Write the JSON Lines trace to this file ('-' for standard output).")
@click.option("--for", "duration", type=float, default=None, help="Stop after this many seconds.")
def controller(db: str, fixtures_url: str | None, fixtures_format: str, relay: str, blink: float | None,
               push_url: str | None, scrape_every: float, push_every: float, cloud_url: str | None,
               device: str | None, token_file: str | None, mqtt_url: str | None, jobs_prefix: str,
               sync_every: float, poll_every: float, log_every: float, trace_path: str | None,
               duration: float | None) -> None:
    """Run the match-day controller: scrape fixtures, plan alerts, switch the light, push counters.

    It keeps working offline: alerts come from the local store. Killing it at any
    moment loses no committed change, and after a restart no alert fires twice.
    """
    try:
        parse_relay(relay)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--relay") from None
    pattern = LightPattern("blink", blink, blink) if blink else LightPattern()
    link = None
    if cloud_url:
        token = Path(token_file).read_text(encoding="utf-8").strip() if token_file else \
            os.environ.get("HILSIM_DEVICE_TOKEN", "")
        if not device or not token:
            raise click.UsageError("--cloud-url needs --device and a token (--token-file or HILSIM_DEVICE_TOKEN)")
        link = CloudLink(cloud_url, device, token, prefix=jobs_prefix, sync_every=sync_every, poll_every=poll_every,
                         log_every=log_every)
    elif mqtt_url:
        raise click.UsageError("--mqtt-url (jobs) needs --cloud-url")
    config = LiveControllerConfig(db=db, fixtures_url=fixtures_url, fixtures_format=fixtures_format, relay=relay,
                                  pattern=pattern, push_url=push_url, scrape_every=scrape_every,
                                  push_every=push_every, cloud=link, mqtt_url=mqtt_url)
    try:
        with sigterm_as_interrupt(), trace_sink(trace_path) as sink:
            run_live_controller(config, trace_file=sink, until=duration)
    except BackendError as exc:
        raise click.ClickException(f"relay: {exc}") from None
    except KeyboardInterrupt:
        click.echo("controller: stopped", err=True)
