"""The embedded broker as a bare process: ``python -m system.adapters.broker_main --passwd FILE [--port P]``.

For harnesses below the command line: ``hil/broker_process.py`` starts it for wall-clock runs (``hil``
never calls up into ``hilsim``). It prints ``broker: listening on mqtt://HOST:PORT (N users)`` on stdout
once it listens (``--port 0``: a free port) and runs until SIGINT or SIGTERM, with the shipped policy
(the default ACL, client ids bound to accounts, the connection limits), as ``hilsim broker`` by default. Operators run ``hilsim
broker`` instead, which adds TLS, the trace, state lines and managing the password file.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path
from typing import Callable, Sequence

from system.adapters.amqtt_broker import BrokerSettings, EmbeddedBroker, read_password_file, secure_settings
from system.errors import BackendError, ConfigError


async def serve(settings: BrokerSettings, announce: Callable[[str], None]) -> None:
    """Run the broker until SIGINT or SIGTERM; ``announce`` gets its URL once it listens."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with EmbeddedBroker(settings) as broker:
        announce(f"mqtt://{settings.host}:{broker.port}")
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv``, run the broker; 0 when stopped by a signal, 2 for a bad password file, 1 when it
    cannot listen."""
    parser = argparse.ArgumentParser(prog="python -m system.adapters.broker_main", description=__doc__)
    parser.add_argument("--passwd", required=True, type=Path, help="password file (user:$7$... or user:$argon2id$... lines)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    args = parser.parse_args(argv)
    # amqtt's chatter stays quiet; our refusals stay visible (and few: stderr may be a pipe nobody reads).
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    logging.getLogger("system.adapters.amqtt_broker").setLevel(logging.WARNING)
    try:
        users = read_password_file(args.passwd)
        settings = secure_settings(host=args.host, port=args.port, users=users)
        asyncio.run(serve(settings, lambda url: print(f"broker: listening on {url} ({len(users)} users)",
                                                      flush=True)))
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except BackendError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
