"""The audit trail: every decision and change, appended and never modified."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from storage.models import AuditEntry
from storage.repositories.base import Repository


class AuditRepository(Repository):
    async def append(
        self,
        subject: str,
        action: str,
        actor_id: int | None = None,
        from_state: str | None = None,
        to_state: str | None = None,
        detail: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Add an entry about `subject` (e.g. "D-12"); `actor_id` None means the bot itself."""
        entry = AuditEntry(
            subject=subject,
            action=action,
            actor_id=actor_id,
            from_state=from_state,
            to_state=to_state,
            detail=dict(detail or {}),
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def for_subject(self, subject: str) -> list[AuditEntry]:
        """The entries about `subject`, oldest first."""
        statement = select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.id)
        return list(await self.session.scalars(statement))
