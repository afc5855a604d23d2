"""What the repositories share: their session, its clock, and an INSERT that can say ON CONFLICT on either engine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.clock import Clock

Upsert = postgresql.Insert | sqlite.Insert

# Where a session of storage.db.Database carries the app's clock.
CLOCK_KEY = "clock"


class Repository:
    """A view of one aggregate through the caller's session; nothing here commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def now(self) -> datetime:
        """Now, by the app's clock (the one the session's database holds)."""
        clock = self.session.info.get(CLOCK_KEY)
        if not isinstance(clock, Clock):
            raise LookupError("no clock on this session: sessions come from storage.db.Database")
        return clock.now()

    def insert(self, model: Any) -> Upsert:
        """The dialect's own INSERT, which alone has `on_conflict_do_nothing/update` (same API on both)."""
        if self.session.get_bind().dialect.name == "postgresql":
            return postgresql.insert(model)
        return sqlite.insert(model)
