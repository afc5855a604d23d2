"""People seen lately, kept between messages so that answering one needs no profile query.

The bot runs as one process, and every profile change goes through it (write-through); the time limit
bounds what a change made elsewhere (another tool on the same database) can leave stale.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from storage.models import Person


class PeopleCache:
    def __init__(self, ttl: float = 300.0, size: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self._people: OrderedDict[str, tuple[float, Person]] = OrderedDict()

    def get(self, key: str) -> Person | None:
        entry = self._people.get(key)
        if entry is None:
            return None
        stored, person = entry
        if self.clock() - stored > self.ttl:
            del self._people[key]
            return None
        self._people.move_to_end(key)
        return person

    def put(self, key: str, person: Person) -> None:
        self._people[key] = (self.clock(), person)
        self._people.move_to_end(key)
        while len(self._people) > self.size:
            self._people.popitem(last=False)

    def drop(self, key: str) -> None:
        self._people.pop(key, None)
