"""The work in flight in this process — a message being handled, a sync being read, messages being delivered —
so that one can wait until there is none: a clean stop, and tests that check that nothing more happens."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager


class Activity:
    """Counts the pieces of work under way; `quiet()` returns when none is."""

    def __init__(self) -> None:
        self._running = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def running(self) -> int:
        return self._running

    @contextmanager
    def busy(self) -> Iterator[None]:
        """`with activity.busy():` around one piece of work (entering and leaving never wait)."""
        self._running += 1
        self._quiet.clear()
        try:
            yield
        finally:
            self._running -= 1
            if self._running == 0:
                self._quiet.set()

    async def quiet(self) -> None:
        await self._quiet.wait()
