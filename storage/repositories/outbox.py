"""Messages waiting to be sent: written with what caused them, sent at least once, enqueued at most once."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from storage.models import OutboxMessage
from storage.repositories.base import Repository


class OutboxRepository(Repository):
    async def enqueue(
        self, platform: str, room_id: str, payload: Mapping[str, Any], dedupe_key: str
    ) -> OutboxMessage | None:
        """Queue a message; None when `dedupe_key` was queued before (that message alone goes out)."""
        now = self.now()
        statement = (
            self.insert(OutboxMessage)
            .values(
                platform=platform,
                room_id=room_id,
                payload=dict(payload),
                dedupe_key=dedupe_key,
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[OutboxMessage.dedupe_key])
            .returning(OutboxMessage.id)
        )
        message_id = (await self.session.execute(statement)).scalar_one_or_none()
        if message_id is None:
            return None
        return await self.session.get(OutboxMessage, message_id)

    async def get(self, message_id: int) -> OutboxMessage | None:
        return await self.session.get(OutboxMessage, message_id)

    async def due(self, now: datetime, limit: int = 50) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first."""
        statement = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def pending(self, platforms: Collection[str], limit: int = 10) -> list[OutboxMessage]:
        """Messages still to send to `platforms`, due or not, the soonest first."""
        statement = (
            select(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.platform.in_(list(platforms)))
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        return list(await self.session.scalars(statement))

    async def mark_sent(self, message_id: int, now: datetime) -> None:
        message = await self._require(message_id)
        message.status = "sent"
        message.sent_at = now
        message.attempts += 1
        message.last_error = None
        await self.session.flush()

    async def mark_failed(self, message_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: tried again at `retry_at`, or given up for good when it is None."""
        message = await self._require(message_id)
        message.attempts += 1
        message.last_error = error
        if retry_at is None:
            message.status = "failed"
        else:
            message.next_attempt_at = retry_at
        await self.session.flush()

    async def _require(self, message_id: int) -> OutboxMessage:
        message = await self.session.get(OutboxMessage, message_id)
        if message is None:
            raise LookupError(f"no outbox message {message_id}")
        return message

    async def retry_now(self, room_id: str, now: datetime) -> int:
        """Pending messages for `room_id` become due at once (their recipient just became reachable)."""
        statement = (
            update(OutboxMessage)
            .where(OutboxMessage.status == "pending", OutboxMessage.room_id == room_id)
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount
