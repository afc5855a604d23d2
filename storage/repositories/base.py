"""What the repositories share: their session, and an INSERT that can say ON CONFLICT on either engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

Upsert = postgresql.Insert | sqlite.Insert


class Repository:
    """A view of one aggregate through the caller's session; nothing here commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def insert(self, model: Any) -> Upsert:
        """The dialect's own INSERT, which alone has `on_conflict_do_nothing/update` (same API on both)."""
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)
