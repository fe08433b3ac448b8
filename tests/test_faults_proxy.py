"""The TCP fault proxy suffers the new link faults of a wall-clock run: jitter that keeps the byte order, and a
clog that holds the bytes on an open connection until it is lifted (real loopback TCP, an echo server)."""

from __future__ import annotations

import asyncio

import pytest

from hil.fault_proxy import FaultProxy, ProxyLink
from test_fault_proxy import echo_server
from system.errors import BackendError

pytestmark = pytest.mark.live


def test_jitter_keeps_the_byte_order_and_a_clog_holds_bytes_on_an_open_connection():
    async def main():
        server, port = await echo_server()
        proxy = FaultProxy("node-1~broker", "127.0.0.1", port)
        await proxy.start()
        link = ProxyLink(proxy)
        link.configure(jitter=0.02)
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        sent = bytes(range(100))
        for i in range(100):  # one chunk each, each with its own jitter
            writer.write(sent[i:i + 1])
            await writer.drain()
            await asyncio.sleep(0)
        assert await asyncio.wait_for(reader.readexactly(100), 10) == sent
        link.clog()
        writer.write(b"held")
        await writer.drain()
        with pytest.raises(asyncio.TimeoutError):  # a bounded check that nothing came through
            await asyncio.wait_for(reader.readexactly(4), 0.5)
        link.unclog()
        assert await asyncio.wait_for(reader.readexactly(4), 10) == b"held"
        assert proxy.accepted == 1  # the same connection all along
        with pytest.raises(BackendError, match="cannot duplicate"):
            link.configure(duplicate=0.1)
        writer.close()
        await proxy.stop()
        server.close()

    asyncio.run(main())
