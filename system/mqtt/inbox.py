"""What an MQTT port has received and not handed over yet: messages, and the loss of the connection.

Both MQTT ports (``sim/models/sim_mqtt.py`` and ``system/adapters/mqtt_client.py``) keep one, over their
runtime's queue, so the rule of a burst lives in one place: :meth:`Inbox.received` hands
over the messages that arrived before a lost connection, and the loss is raised by the
next :meth:`Inbox.next`, after that burst has been handled (stored, then acknowledged).
"""

from __future__ import annotations

from typing import Any

from system.mqtt.message import Message
from system.errors import ConnectionLost


class Inbox:
    """Messages and connection losses in arrival order, over ``queue`` (``put_nowait``, ``get_nowait``,
    ``empty`` and ``await get()``: an asyncio queue live, ``rt.queue()`` in sim)."""

    def __init__(self, queue: Any):
        self._queue = queue
        self._pending_loss: ConnectionLost | None = None

    def put(self, item: Message | ConnectionLost) -> None:
        self._queue.put_nowait(item)

    async def next(self) -> Message:
        """The next message; raises ConnectionLost where the connection dropped."""
        if self._pending_loss is not None:
            lost, self._pending_loss = self._pending_loss, None
            raise lost
        item = await self._queue.get()
        if isinstance(item, ConnectionLost):
            raise item
        return item

    def received(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages that have already arrived, without waiting (a burst to store together)."""
        out: list[Message] = []
        queue = self._queue
        while len(out) < limit and not queue.empty():
            item = queue.get_nowait()
            if isinstance(item, ConnectionLost):
                self._pending_loss = item  # raised by the next next(), after this burst is handled
                break
            out.append(item)
        return out
