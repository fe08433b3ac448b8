# A bounded FIFO ring: the node's offline buffer and its recent-readings history.
#
# Fixed storage, O(1) push and pop; when full, push drops the oldest item and
# returns it so the caller can count and trace the loss.


class Ring:
    def __init__(self, size):
        if size < 1:
            raise ValueError("ring size must be at least 1")
        self.size = size
        self._items = [None] * size
        self._head = 0
        self._count = 0

    def __len__(self):
        return self._count

    def push(self, item):
        # Append; returns the dropped oldest item when the ring was full, else None.
        dropped = None
        if self._count == self.size:
            dropped = self._items[self._head]
            self._items[self._head] = item
            self._head = (self._head + 1) % self.size
            return dropped
        self._items[(self._head + self._count) % self.size] = item
        self._count += 1
        return dropped

    def peek(self):
        # The oldest item, or None when empty.
        if not self._count:
            return None
        return self._items[self._head]

    def pop(self):
        # Remove and return the oldest item; IndexError when empty.
        if not self._count:
            raise IndexError("pop from an empty ring")
        item = self._items[self._head]
        self._items[self._head] = None
        self._head = (self._head + 1) % self.size
        self._count -= 1
        return item

    def items(self, last=None):
        # Oldest first; ``last`` limits to the newest ``last`` items.
        n = self._count if last is None else min(last, self._count)
        start = self._count - n
        return [self._items[(self._head + i) % self.size] for i in range(start, self._count)]
