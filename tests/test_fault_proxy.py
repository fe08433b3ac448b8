"""hil/fault_proxy.py: a cut, a delay, a throttle and a reset, on real loopback TCP to an echo server."""

from __future__ import annotations

import asyncio
import time

import pytest

from hil.fault_proxy import FaultProxy

pytestmark = pytest.mark.live


async def echo_server():
    async def echo(reader, writer):
        try:
            while data := await reader.read(4096):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _roundtrip(port: int, payload: bytes) -> tuple[bytes, float]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    got = await asyncio.wait_for(reader.readexactly(len(payload)), 10)
    elapsed = time.monotonic() - started
    writer.close()
    return got, elapsed


def test_cut_drops_open_connections_and_refuses_new_ones_until_restored():
    async def main():
        server, port = await echo_server()
        proxy = FaultProxy("node-1~broker", "127.0.0.1", port)
        await proxy.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"ping")
        assert await reader.readexactly(4) == b"ping"
        proxy.cut()
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await _roundtrip(proxy.port, b"x")
        proxy.restore()
        assert (await _roundtrip(proxy.port, b"back"))[0] == b"back"
        assert proxy.refused == 1
        await proxy.stop()
        server.close()

    asyncio.run(main())


def test_delay_and_throttle_slow_the_stream_without_reordering_it_and_reset_sends_rst():
    async def main():
        server, port = await echo_server()
        proxy = FaultProxy("node-1~broker", "127.0.0.1", port)
        await proxy.start()
        proxy.delay(0.3)
        got, elapsed = await _roundtrip(proxy.port, bytes(range(256)) * 4)
        assert got == bytes(range(256)) * 4 and elapsed >= 0.6  # delayed both ways
        proxy.configure()
        proxy.throttle(20_000)
        got, elapsed = await _roundtrip(proxy.port, b"z" * 8192)
        assert got == b"z" * 8192 and elapsed >= 0.4
        proxy.configure()
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(b"a")
        await reader.readexactly(1)
        proxy.reset()
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            await asyncio.wait_for(reader.readexactly(1), 5)
        assert (await _roundtrip(proxy.port, b"ok"))[0] == b"ok"  # a reset is not a cut
        await proxy.stop()
        server.close()

    asyncio.run(main())
