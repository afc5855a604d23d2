"""The FAQ curated by ONPE: entries searched before a question is escalated."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import FaqEntry
from storage.repositories.base import Repository


class FaqRepository(Repository):
    async def add(
        self,
        question: str,
        answer: str,
        *,
        source_question_id: int | None = None,
        created_by_id: int | None = None,
    ) -> FaqEntry:
        entry = FaqEntry(
            question=question,
            answer=answer,
            source_question_id=source_question_id,
            created_by_id=created_by_id,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def get(self, entry_id: int) -> FaqEntry | None:
        return await self.session.get(FaqEntry, entry_id)

    async def entries(self) -> list[FaqEntry]:
        """Every entry, oldest first."""
        return list(await self.session.scalars(select(FaqEntry).order_by(FaqEntry.id)))

    async def remove(self, entry_id: int) -> bool:
        entry = await self.get(entry_id)
        if entry is None:
            return False
        await self.session.delete(entry)
        await self.session.flush()
        return True
