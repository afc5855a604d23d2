"""Questions asked to the network (Q-n)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.ids import ReadableId
from storage.models import Question
from storage.repositories.base import Repository
from storage.repositories.counters import CounterRepository


class QuestionRepository(Repository):
    def __init__(self, session: AsyncSession, counters: CounterRepository) -> None:
        super().__init__(session)
        self.counters = counters

    async def create(self, asker_id: int, text: str, status: str = "open") -> Question:
        question = Question(number=await self.counters.next("question"), asker_id=asker_id, text=text, status=status)
        self.session.add(question)
        await self.session.flush()
        return question

    async def get(self, readable_id: ReadableId) -> Question | None:
        if readable_id.prefix != "Q":
            raise ValueError(f"{readable_id} is not a question")
        return await self.session.scalar(select(Question).where(Question.number == readable_id.number))

    async def get_by_id(self, question_id: int) -> Question | None:
        return await self.session.get(Question, question_id)

    async def escalated_before(self, cutoff: datetime) -> list[Question]:
        """Questions sent to ONPE before `cutoff` that are still without an answer, oldest first."""
        statement = select(Question).where(Question.status == "escalated", Question.created_at <= cutoff)
        return list(await self.session.scalars(statement.order_by(Question.created_at)))
