"""Subscriptions indexed by topic level, so routing a message costs what its topic has, not what the broker holds.

A trie over topic levels: each node has its children by level text, and the
subscribers of the filter that ends there (``client id -> granted QoS``). A topic
is matched by walking its levels, following at each level the exact child, the
``+`` child, and collecting the ``#`` child's subscribers (MQTT 3.1.1, 4.7:
``#`` also matches the parent level; a filter starting with a wildcard does not
match a topic starting with ``$``). The work per message grows with the number
of levels and of matching filters, never with the number of sessions or of
unrelated subscriptions.
"""

from __future__ import annotations


class _Level:
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Level] = {}
        self.subscribers: dict[str, int] = {}


class SubscriptionIndex:
    """``add``/``remove`` (filter, client) pairs; ``match(topic)`` gives each subscribed client's highest QoS."""

    def __init__(self) -> None:
        self._root = _Level()

    def add(self, topic_filter: str, client_id: str, qos: int) -> None:
        """Subscribe ``client_id`` to ``topic_filter`` at ``qos`` (replacing an earlier QoS)."""
        level = self._root
        for part in topic_filter.split("/"):
            level = level.children.setdefault(part, _Level())
        level.subscribers[client_id] = qos

    def remove(self, topic_filter: str, client_id: str) -> None:
        """Drop the subscription if present, pruning levels nobody uses any more."""
        path = [self._root]
        for part in topic_filter.split("/"):
            nxt = path[-1].children.get(part)
            if nxt is None:
                return
            path.append(nxt)
        path[-1].subscribers.pop(client_id, None)
        parts = topic_filter.split("/")
        for depth in range(len(parts), 0, -1):
            level = path[depth]
            if level.subscribers or level.children:
                break
            del path[depth - 1].children[parts[depth - 1]]

    def match(self, topic: str) -> dict[str, int]:
        """Clients with a filter matching ``topic``, each at the highest QoS among its matching filters."""
        out: dict[str, int] = {}
        levels = topic.split("/")
        last = len(levels)
        # (trie level, index of the next topic level); the root skips wildcards for $-topics
        stack = [(self._root, 0)]
        dollar = topic.startswith("$")
        while stack:
            level, i = stack.pop()
            children = level.children
            wild = not (dollar and i == 0)
            if wild:
                rest = children.get("#")
                if rest is not None:
                    _merge(out, rest.subscribers)
            if i == last:
                _merge(out, level.subscribers)
                continue
            if wild:
                one = children.get("+")
                if one is not None:
                    stack.append((one, i + 1))
            exact = children.get(levels[i])
            if exact is not None:
                stack.append((exact, i + 1))
        return out


def _merge(out: dict[str, int], subscribers: dict[str, int]) -> None:
    for client_id, qos in subscribers.items():
        if out.get(client_id, -1) < qos:
            out[client_id] = qos
