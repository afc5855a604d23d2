"""The platform events already handled, so a redelivery or a replayed sync is handled only once."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete

from storage.models import ProcessedEvent
from storage.repositories.base import Repository


class ProcessedEventRepository(Repository):
    async def mark(self, platform: str, event_id: str) -> bool:
        """Record the event: True when it is new, False when it was processed already.

        On PostgreSQL a concurrent transaction marking the same event waits for this one to end.
        """
        statement = self.insert(ProcessedEvent).on_conflict_do_nothing(
            index_elements=[ProcessedEvent.platform, ProcessedEvent.event_id]
        )
        # Core execution on the session's connection, with the row count rather than RETURNING: this
        # runs for every message, and skips the ORM's bookkeeping and a fetch.
        connection = await self.session.connection()
        result = await connection.execute(
            statement, {"platform": platform, "event_id": event_id, "processed_at": self.now()}
        )
        return result.rowcount == 1

    async def prune(self, older_than: datetime) -> int:
        """Forget the events processed before `older_than`; returns how many were forgotten."""
        statement = (
            delete(ProcessedEvent)
            .where(ProcessedEvent.processed_at < older_than)
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        return result.rowcount
