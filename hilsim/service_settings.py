"""Each service's section of a host config read into the settings its live wiring takes.

One reader per service (:data:`SETTINGS`), each a straight list of keys with their defaults: the same
defaults as the service's own command line (``hilsim broker --help`` and so on).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote, urlparse, urlunparse

from hilsim.host_config import Section, alert_rules
from system.decisions.events import CUSTOM, GAME
from system.errors import HilsimError

MQTT = ("mqtt", "mqtts")
HTTP = ("http", "https")


def with_password(url: str | None, password: str | None) -> str | None:
    """``mqtt://user@host`` and a password read from a file -> the URL the client connects with."""
    if url is None or password is None:
        return url
    parsed = urlparse(url)
    netloc = f"{quote(parsed.username or '', safe='')}:{quote(password, safe='')}@{parsed.hostname}"
    return urlunparse(parsed._replace(netloc=netloc + (f":{parsed.port}" if parsed.port else "")))


def _mqtt_tls(section: Section) -> Any:
    from system.adapters.mqtt_client import TlsOptions
    ca, cert, key = (section.path(k, must_exist=True) for k in ("ca_file", "cert_file", "key_file"))
    if (cert is None) != (key is None):
        section.problem("cert_file", "cert_file and key_file go together")
    return TlsOptions(ca_file=ca, cert_file=cert, key_file=key) if ca or cert else None


def broker(section: Section) -> Any:
    from hilsim.wiring.live_broker import broker_policy
    from system.adapters.amqtt_broker import BrokerSettings, TlsConfig, read_password_file

    listen = section.address("listen", "127.0.0.1:1883")
    users = _attempt(section, "passwd_file", lambda path: read_password_file(Path(path)),
                     section.path("passwd_file", required=True, must_exist=True), {})
    acl_file = section.path("acl_file", must_exist=True)
    cert, key, ca = (section.path(k, must_exist=True) for k in ("tls_cert", "tls_key", "ca_cert"))
    require = section.value("require_client_cert", bool, False)
    if (cert is None) != (key is None):
        section.problem("tls_cert", "tls_cert and tls_key go together")
    if require and ca is None:
        section.problem("require_client_cert", "needs ca_cert to verify client certificates")
    try:
        policy = broker_policy(acl_file=Path(acl_file) if acl_file else None, no_acl=False,
                               client_id_rule="account", max_packet_size=section.value("max_packet_size", int, 65536),
                               connect_timeout=10.0, max_connections_per_address=256, login_failure_delay=1.0)
    except HilsimError as exc:
        section.problem("acl_file", str(exc))
        return None
    tls = TlsConfig(Path(cert), Path(key), Path(ca) if ca else None, require) if cert and key else None
    return BrokerSettings(host=listen.host, port=listen.port, users=users, tls=tls, **policy)


def bridge(section: Section) -> Any:
    from hilsim.wiring.live_bridge import LiveBridgeConfig

    url = section.url("broker", MQTT, required=True)
    metrics = section.address("metrics")
    tls_section = section.sub("tls")
    config = LiveBridgeConfig(
        broker_url=url or "mqtt://127.0.0.1:1883", db_path=section.path("db", required=True) or "",
        pushgateway_url=section.url("pushgateway", HTTP), remote_write_url=section.url("remote_write", HTTP),
        metrics_host=metrics.host if metrics else "127.0.0.1", metrics_port=metrics.port if metrics else None,
        client_id=section.value("client_id", str, urlparse(url or "").username or "bridge"),
        username=urlparse(url or "").username, password=section.secret("password"),
        tls=_mqtt_tls(tls_section) if tls_section else None)
    if tls_section:
        tls_section.finish()
    return config


def cloud(section: Section) -> Any:
    from hilsim.wiring.live_cloud import LiveCloudConfig
    from system.cloud.app import CloudSettings
    from system.decisions.localtime import DEFAULT_TZ, zone

    listen = section.address("listen", "127.0.0.1:8080")
    url = section.url("broker", MQTT)
    password = section.secret("password")
    insecure = section.value("insecure_cookies", bool, False)
    if insecure and listen.host not in ("127.0.0.1", "localhost", "::1"):
        section.problem("insecure_cookies", f"for localhost only, not {listen.host}; serve HTTPS or use a TLS proxy")
    timezone = section.checked("timezone", lambda raw: (zone(raw), raw)[1], DEFAULT_TZ)
    settings = CloudSettings(secure_cookies=not insecure, timezone=timezone,
                             job_timeout=section.duration("job_timeout", 600.0))
    tls_section = section.sub("tls")
    config = LiveCloudConfig(db=section.path("db", required=True) or "", host=listen.host, port=listen.port,
                             mqtt_url=with_password(url, password), prefix=section.value("jobs_prefix", str, "$aws/"),
                             heartbeat_period=section.duration("heartbeat_period", 300.0), settings=settings,
                             mqtt_tls=_mqtt_tls(tls_section) if tls_section else None)
    if tls_section:
        tls_section.finish()
    return config


def controller(section: Section) -> Any:
    from hilsim.wiring.live_controller import LiveControllerConfig, parse_relay

    section.checked("relay", parse_relay, None)
    fixtures = section.sub("fixtures")
    source: dict[str, Any] = _fixtures(fixtures) if fixtures else {}
    alerts = section.sub("alerts")
    policies = _policies(alerts) if alerts else None
    cloud = section.sub("cloud")
    link, aws, mqtt_url, tls = _cloud(cloud) if cloud else (None, None, None, None)
    config = LiveControllerConfig(
        db=section.path("db", required=True) or "", relay=section.value("relay", str, "sim"),
        push_url=section.url("push", HTTP), scrape_every=section.duration("scrape_every", 3600.0),
        push_every=section.duration("push_every", 300.0), cloud=link, aws=aws, mqtt_url=mqtt_url, mqtt_tls=tls,
        **source, **({"policies": policies} if policies else {}))
    for sub in (fixtures, alerts, cloud):
        if sub is not None:
            sub.finish()
    return config


def _fixtures(section: Section) -> dict[str, Any]:
    from hilsim.commands.fixtures_cmd import load_selectors_file

    url = section.value("url", str, required=True)
    if url and "://" not in url:  # a local file, beside the config; the controller reads file:// URLs
        local = section.path("url", must_exist=True)
        # With a host: httpx takes a URL without one for a relative one.
        url = "file://localhost" + Path(local).resolve().as_uri().removeprefix("file://") if local else None
    fmt = section.checked("format", lambda raw: _choice(raw, ("html", "ical", "auto")), "html")
    page = _attempt(section, "selectors", load_selectors_file, section.path("selectors", must_exist=True), None)
    club = section.value("club", list, [])
    if not all(isinstance(name, str) and name.strip() for name in club):
        section.problem("club", "must be a list of names, e.g. [\"KAA Gent\", \"AA Gent\"]")
        club = []
    return {"fixtures_url": url, "fixtures_format": fmt, "page": page, "club": tuple(club)}


def _policies(section: Section) -> dict[str, Any] | None:
    from system.decisions.alerts import DEFAULT_POLICIES

    policies = dict(DEFAULT_POLICIES)
    for kind in (GAME, CUSTOM):
        rules = section.checked(kind, alert_rules, kind=list)
        if rules is not None:
            policies[kind] = rules
    return policies


def _cloud(section: Section) -> tuple[Any, Any, str | None, Any]:
    from system.adapters.aws_cloud import AwsOptions
    from system.services.controller import CloudLink

    backend = section.checked("backend", lambda raw: _choice(raw, ("hilsim", "aws")), "hilsim")
    device = section.value("device", str, required=True) or ""
    mqtt_url = with_password(section.url("broker", MQTT), section.secret("password"))
    tls_section = section.sub("tls")
    tls = _mqtt_tls(tls_section) if tls_section else None
    if tls_section:
        tls_section.finish()
    common = {"prefix": section.value("jobs_prefix", str, "$aws/"),
              "sync_every": section.duration("sync_every", 300.0), "poll_every": section.duration("poll_every", 30.0)}
    if backend == "aws":
        region = section.value("region", str, required=True) or ""
        aws = AwsOptions(region=region, endpoint_url=section.url("endpoint_url", HTTP),
                         table_prefix=section.value("table_prefix", str, ""))
        return CloudLink(f"aws:{region}", device, "", **common), aws, mqtt_url, tls
    url = section.url("url", HTTP, required=True) or ""
    token = section.secret("token", required=True) or ""
    return CloudLink(url, device, token, **common), None, mqtt_url, tls


def _attempt(section: Section, key: str, read: Callable[[Any], Any], path: str | None, default: Any) -> Any:
    """``read(path)`` for a file that exists; what it refuses becomes ``key``'s problem."""
    if path is None:
        return default
    try:
        return read(path)
    except (OSError, ValueError, HilsimError) as exc:
        section.problem(key, str(getattr(exc, "reason", None) or exc))
        return default


def _choice(raw: str, choices: tuple[str, ...]) -> str:
    if raw not in choices:
        raise ValueError(f"{raw!r}: one of {', '.join(choices)}")
    return raw


SETTINGS: dict[str, Callable[[Section], Any]] = {"broker": broker, "bridge": bridge, "cloud": cloud,
                                                  "controller": controller}
