"""The live broker process: the embedded amqtt broker (``system/adapters/amqtt_broker.py``) run until stopped.

For example::

    run_live_broker(BrokerSettings(port=1883, users=read_password_file(Path("broker.passwd"))))
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import IO, Callable

from hilsim.wiring.process import run_process, start_part
from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker
from system.adapters.asyncio_runtime import AsyncioRuntime


def run_live_broker(settings: BrokerSettings, *, trace_file: IO[str] | None = None,
                    announce: Callable[[str], None] | None = None) -> str:
    """Run the broker until SIGINT/SIGTERM; returns why it stopped.

    Once it listens, ``announce`` gets ``mqtt[s]://HOST:PORT`` with the real port (``port=0`` picks a free one).
    A port already taken is a BackendError, a TLS certificate that does not load a ConfigError.
    """

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        embedded = await start_part(stack, EmbeddedBroker(settings, rt=rt.child("broker")))
        if announce is not None:
            announce(f"{'mqtts' if settings.tls else 'mqtt'}://{settings.host}:{embedded.port}")

    return run_process("broker", build, header={"run": "live-broker", "listen": f"{settings.host}:{settings.port}"},
                       trace_file=trace_file)
