"""The outbox dispatcher: messages written to the database go out once their platform can take them.

A message is queued in the transaction of what caused it (or when a direct send failed), then sent by
the platform's deliverer; a failure is retried with a growing delay, so a homeserver that was away gets
every queued message once it is back. Network I/O never happens inside a database transaction.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.activity import Activity
from storage.db import Database
from storage.models import OutboxMessage
from storage.repositories import Repos

log = logging.getLogger(__name__)

# Gets the outbox row's id (for idempotent sends), its room or target, and its payload; raises
# PermanentDeliveryError when retrying cannot help.
Deliverer = Callable[[int, str, dict[str, Any]], Awaitable[None]]

FIRST_RETRY = timedelta(seconds=2)
LAST_RETRY = timedelta(minutes=10)
MAX_ATTEMPTS = 200  # about a day and a half at the longest delay


class PermanentDeliveryError(Exception):
    """The platform refused the message for good (the room is gone, the bot was banned…)."""


def retry_delay(attempts: int) -> timedelta:
    return min(FIRST_RETRY * (2 ** min(attempts, 20)), LAST_RETRY)


class Outbox:
    def __init__(self, db: Database, activity: Activity | None = None) -> None:
        self.db = db
        self.clock = db.clock
        self.activity = activity or Activity()
        self.deliverers: dict[str, Deliverer] = {}
        self._wake = asyncio.Event()
        # One round at a time: two rounds reading the same due row would send it twice.
        self._round = asyncio.Lock()

    def register(self, platform: str, deliverer: Deliverer) -> None:
        self.deliverers[platform] = deliverer
        self.wake()

    def wake(self) -> None:
        """Something was queued: look now rather than at the next tick."""
        self._wake.set()

    async def enqueue(self, platform: str, room_id: str, payload: dict[str, Any], dedupe_key: str) -> bool:
        """Queue in a transaction of its own; False when that dedupe key was queued before."""
        async with self.db.session() as session:
            queued = await Repos(session).outbox.enqueue(platform, room_id, payload, dedupe_key)
        self.wake()
        return queued is not None

    async def send_due(self, limit: int = 50) -> int:
        """Try every message whose time has come, for the platforms that can take them; returns how many went."""
        with self.activity.busy():
            async with self._round:
                return await self._send_due(limit)

    async def _send_due(self, limit: int) -> int:
        async with self.db.session() as session:
            due = [
                (m.id, m.platform, m.room_id, m.payload, m.attempts)
                for m in await Repos(session).outbox.due(self.clock.now(), limit)
                if m.platform in self.deliverers
            ]
        sent = 0
        for message_id, platform, room_id, payload, attempts in due:
            try:
                await self.deliverers[platform](message_id, room_id, payload)
            except PermanentDeliveryError as exc:
                log.warning("outbox message %s to %s given up: %s", message_id, room_id, exc)
                await self._record(message_id, error=str(exc), retry_at=None)
            except Exception as exc:  # any failure is retried later; the dispatcher must keep going
                retry_at = self.clock.now() + retry_delay(attempts) if attempts + 1 < MAX_ATTEMPTS else None
                log.info("outbox message %s to %s not sent yet (%s)", message_id, room_id, type(exc).__name__)
                await self._record(message_id, error=f"{type(exc).__name__}: {exc}"[:500], retry_at=retry_at)
            else:
                await self._record(message_id)
                sent += 1
        return sent

    async def waiting(self) -> list[OutboxMessage]:
        """What is still to send to the platforms this process delivers to (a few, the soonest first)."""
        async with self.db.session() as session:
            return await Repos(session).outbox.pending(list(self.deliverers))

    async def _record(self, message_id: int, error: str | None = None, retry_at: datetime | None = None) -> None:
        async with self.db.session() as session:
            outbox = Repos(session).outbox
            if error is None:
                await outbox.mark_sent(message_id, self.clock.now())
            else:
                await outbox.mark_failed(message_id, error, retry_at)

    async def run(self, stop: asyncio.Event, interval: float = 2.0) -> None:
        """Send what is due until `stop` is set; a failing round is logged and the loop goes on."""
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.send_due()
            except Exception:
                log.exception("outbox round failed")
            waker = asyncio.ensure_future(self._wake.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waker, stopper}, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            waker.cancel()
            stopper.cancel()
