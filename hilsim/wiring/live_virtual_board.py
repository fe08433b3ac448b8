"""The virtual board process: a ``hil.virtual_board.VirtualBoard`` run by the one process helper.

The board moves bytes in a blocking select loop, so it runs in a worker thread; its console is also
served over RFC 2217 (``hil/rfc2217_serving.py``, threads of its own). SIGINT or SIGTERM reach the
helper, which stops the board (it leaves its loop within 0.2 s, stopping the firmware) and closes its
pseudo-terminal. For example::

    run_virtual_board(VirtualBoard(Path("vboard/fs"), Path("vboard/flash.bin")), announce=print)
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Callable

from hil.rfc2217_serving import Rfc2217Server
from hil.virtual_board import VirtualBoard
from hilsim.wiring.process import run_process, start_part
from system.adapters.asyncio_runtime import AsyncioRuntime, LiveTask


class ServedBoard:
    """The board as a part: ``start`` opens its port and serves it in a thread, ``stop`` ends both."""

    def __init__(self, rt: AsyncioRuntime, board: VirtualBoard, announce: Callable[[str, str], None],
                 rfc2217_port: int = 0):
        self.rt = rt
        self.board = board
        self.announce = announce
        self.rfc2217_port = rfc2217_port
        self._serving: LiveTask | None = None
        self._rfc2217: Rfc2217Server | None = None

    async def start(self) -> None:
        port = self.board.open()
        self._rfc2217 = Rfc2217Server(self.board, port, port=self.rfc2217_port)
        url = self._rfc2217.start()
        self.rt.child("virtual-board").trace("virtual_board.started", port=port, url=url, fs=str(self.board.fs))
        self.announce(port, url)
        self._serving = self.rt.spawn(asyncio.to_thread(self.board.serve), "virtual-board")

    async def stop(self) -> None:
        if self._rfc2217 is not None:
            await asyncio.to_thread(self._rfc2217.stop)
        self.board.stop()
        if self._serving is not None:
            try:
                await self._serving
            except Exception:  # the loop failed: already raised by the runtime, which is why we stop
                pass
        self.board.close()


def run_virtual_board(board: VirtualBoard, *, announce: Callable[[str, str], None], rfc2217_port: int = 0) -> str:
    """Serve ``board`` until SIGINT/SIGTERM; ``announce`` gets its pty path and its ``rfc2217://`` URL once
    both are open. Returns why it stopped."""

    async def build(rt: AsyncioRuntime, stack: AsyncExitStack) -> None:
        await start_part(stack, ServedBoard(rt, board, announce, rfc2217_port))

    return run_process("virtual-board", build, header={"run": "virtual-board", "fs": str(board.fs)})
