"""Small pieces of bot state stored as JSON under a key (sync tokens, last digest date…)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select

from storage.models import KeyValue
from storage.repositories.base import Repository


class KeyValueRepository(Repository):
    async def get(self, key: str, default: Any = None) -> Any:
        # The column, not the entity: a KeyValue in the identity map may predate an upsert by `set`.
        row = (await self.session.execute(select(KeyValue.value).where(KeyValue.key == key))).first()
        return default if row is None else row[0]

    async def set(self, key: str, value: Any) -> None:
        now = self.now()
        statement = (
            self.insert(KeyValue)
            .values(key=key, value=value, updated_at=now)
            .on_conflict_do_update(index_elements=[KeyValue.key], set_={"value": value, "updated_at": now})
        )
        await self.session.execute(statement)

    async def prune(self, prefix: str, older_than: datetime) -> int:
        """Forget the keys starting with `prefix` last written before `older_than`; how many went."""
        statement = delete(KeyValue).where(KeyValue.key.startswith(prefix, autoescape=True),
                                           KeyValue.updated_at < older_than)
        result = await self.session.execute(statement)
        return int(cast(CursorResult[Any], result).rowcount)
