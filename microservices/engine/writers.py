"""Waiting requests, one queue per writer, served round-robin.

A writer's backlog waits behind their own requests, never in front of
another writer's: admission takes the next writer in turn whose oldest
request can start now, then moves that writer to the back."""
from __future__ import annotations

from collections import OrderedDict, deque
from typing import Callable, Iterator


class WriterQueues:
    def __init__(self):
        self._queues: OrderedDict[str, deque] = OrderedDict()
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator:
        for q in list(self._queues.values()):
            yield from list(q)

    def waiting(self, writer: str) -> int:
        q = self._queues.get(writer)
        return len(q) if q else 0

    def push(self, req) -> None:
        self._queues.setdefault(req.writer, deque()).append(req)
        self._count += 1

    def remove(self, req) -> None:
        q = self._queues.get(req.writer)
        if q is not None and req in q:
            q.remove(req)
            self._count -= 1
            if not q:
                del self._queues[req.writer]

    def pop_next(self, can_start: Callable[[object], bool]):
        """The oldest request of the first writer in turn for whom it can start, or None."""
        for writer, q in list(self._queues.items()):
            if can_start(q[0]):
                req = q.popleft()
                self._count -= 1
                del self._queues[writer]
                if q:  # the rest of this writer's backlog goes to the back of the line
                    self._queues[writer] = q
                return req
        return None
