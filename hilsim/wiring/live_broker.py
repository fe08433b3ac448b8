"""The live broker process: the embedded amqtt broker (``system/adapters/amqtt_broker.py``) run until stopped.

For example::

    run_live_broker(BrokerSettings(port=1883, users=read_password_file(Path("broker.passwd"))))
"""

from __future__ import annotations

import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import IO, Any, Callable

from hilsim.wiring.process import Build, run_process, start_part
from system.adapters.amqtt_broker import DEFAULT_ACL_FILE, BrokerLimits, BrokerSettings, ClientIdRule, EmbeddedBroker
from system.adapters.asyncio_runtime import AsyncioRuntime
from system.decisions.mqtt_acl import parse_acl
from system.errors import ConfigError



def broker_policy(*, acl_file: Path | None, no_acl: bool, client_id_rule: str, max_packet_size: int,
                  connect_timeout: float, max_connections_per_address: int,
                  login_failure_delay: float) -> dict[str, Any]:
    """The BrokerSettings fields of ``hilsim broker``'s policy options; ``--no-acl`` warns on stderr."""
    if no_acl and acl_file is not None:
        raise ConfigError("--no-acl and --acl-file exclude each other", source="--no-acl")
    acl = None
    if no_acl:
        print("hilsim broker: warning: --no-acl: every account may publish and subscribe to every topic",
              file=sys.stderr, flush=True)
    else:
        path = acl_file or DEFAULT_ACL_FILE
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read the ACL file ({exc.strerror}); give one with --acl-file",
                              source=str(path)) from exc
        acl = parse_acl(text, str(path))
    limits = BrokerLimits(connect_timeout=connect_timeout, max_packet=max_packet_size,
                          max_per_address=max_connections_per_address, failure_delay=login_failure_delay)
    return {"acl": acl, "client_ids": ClientIdRule(client_id_rule), "limits": limits}


def broker_parts(settings: BrokerSettings, announce: Callable[[str], None] | None = None,
                 made: dict[str, Any] | None = None) -> Build:
    """The broker's parts, built on a runtime into an exit stack: one process runs them alone
    (``run_live_broker``) or beside others (``hilsim serve``, which finds the broker in ``made``)."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        embedded = await start_part(stack, EmbeddedBroker(settings, rt=rt.child("broker")))
        if made is not None:
            made["broker"] = embedded
        if announce is not None:
            announce(f"{'mqtts' if settings.tls else 'mqtt'}://{settings.host}:{embedded.port}")

    return build


def run_live_broker(settings: BrokerSettings, *, trace_file: IO[str] | None = None,
                    announce: Callable[[str], None] | None = None) -> str:
    """Run the broker until SIGINT/SIGTERM; returns why it stopped.

    Once it listens, ``announce`` gets ``mqtt[s]://HOST:PORT`` with the real port (``port=0`` picks a free one).
    A port already taken is a BackendError, a TLS certificate that does not load a ConfigError.
    """
    header = {"run": "live-broker", "listen": f"{settings.host}:{settings.port}"}
    return run_process("broker", broker_parts(settings, announce), header=header, trace_file=trace_file)
