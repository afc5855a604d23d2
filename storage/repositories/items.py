"""Documents (D-n) and inspiring practices (P-n): creation with their readable number, lookup, state changes."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.ids import ITEM_KINDS, ItemKind, ReadableId
from storage.models import Item
from storage.repositories.base import Repository
from storage.repositories.counters import CounterRepository


class ItemRepository(Repository):
    def __init__(self, session: AsyncSession, counters: CounterRepository) -> None:
        super().__init__(session)
        self.counters = counters

    async def create(
        self,
        kind: ItemKind,
        *,
        title: str,
        submitter_id: int,
        fields: Mapping[str, Any] | None = None,
        department: str | None = None,
        file_id: int | None = None,
        status: str = "submitted",
    ) -> Item:
        """A new item numbered in its kind's sequence ("document" -> D-1, D-2…, "practice" -> P-1…)."""
        if kind not in ITEM_KINDS:
            raise ValueError(f"unknown item kind {kind!r}")
        item = Item(
            kind=kind,
            number=await self.counters.next(kind),
            status=status,
            title=title,
            submitter_id=submitter_id,
            fields=dict(fields or {}),
            department=department,
            file_id=file_id,
        )
        self.session.add(item)
        await self.session.flush()
        return item

    async def get(self, readable_id: ReadableId) -> Item | None:
        kind = readable_id.item_kind
        if kind is None:
            raise ValueError(f"{readable_id} is not a document or a practice")
        statement = select(Item).where(Item.kind == kind, Item.number == readable_id.number)
        return await self.session.scalar(statement)

    async def get_by_id(self, item_id: int) -> Item | None:
        return await self.session.get(Item, item_id)

    async def transition(self, item: Item, allowed_from: Collection[str], to_state: str, **changes: Any) -> bool:
        """Move `item` to `to_state` only if it is still in one of `allowed_from`, with other column changes.

        The check and the write are one UPDATE, so two reviewers acting at once cannot both win, on either
        engine. False when the item had moved on meanwhile; `item` then shows its current state.
        """
        statement = (
            update(Item)
            .where(Item.id == item.id, Item.status.in_(list(allowed_from)))
            .values(status=to_state, updated_at=self.now(), **changes)
            .execution_options(synchronize_session=False)
        )
        result = cast(CursorResult[Any], await self.session.execute(statement))
        await self.session.refresh(item)
        return result.rowcount == 1

    async def in_statuses(self, statuses: Collection[str], kind: ItemKind | None = None) -> list[Item]:
        """Items in one of `statuses`, oldest first (the review queue)."""
        statement = select(Item).where(Item.status.in_(list(statuses))).order_by(Item.created_at, Item.id)
        if kind is not None:
            statement = statement.where(Item.kind == kind)
        return list(await self.session.scalars(statement))

    async def by_submitter(self, person_id: int) -> list[Item]:
        statement = select(Item).where(Item.submitter_id == person_id).order_by(Item.created_at.desc(), Item.id)
        return list(await self.session.scalars(statement))

    async def with_file(self, file_id: int) -> list[Item]:
        statement = select(Item).where(Item.file_id == file_id).order_by(Item.created_at)
        return list(await self.session.scalars(statement))

    async def featured(self, since: Any | None = None) -> list[Item]:
        """Featured items whose submitter agreed, decided after `since` (for the newsletter)."""
        statement = select(Item).where(Item.featured.is_(True), Item.feature_consent == "given")
        if since is not None:
            statement = statement.where(Item.updated_at > since)
        return list(await self.session.scalars(statement.order_by(Item.decided_at, Item.id)))

    async def decided_since(self, statuses: Collection[str], since: Any) -> list[Item]:
        """Items that reached one of `statuses` after `since`, in the order they did."""
        statement = (
            select(Item)
            .where(Item.status.in_(list(statuses)), Item.decided_at > since)
            .order_by(Item.decided_at, Item.id)
        )
        return list(await self.session.scalars(statement))
