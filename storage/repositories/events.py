"""Calendar events (E-n) of the network and of the départements."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.ids import ReadableId
from storage.models import Event
from storage.repositories.base import Repository
from storage.repositories.counters import CounterRepository

EVENT_SCOPES: tuple[str, ...] = ("network", "department")


def new_uid() -> str:
    """An iCal UID for an event created here; the domain part tells calendar apps whose it is."""
    return f"{uuid.uuid4()}@odpe-bot"


class EventRepository(Repository):
    def __init__(self, session: AsyncSession, counters: CounterRepository) -> None:
        super().__init__(session)
        self.counters = counters

    async def create(
        self,
        *,
        title: str,
        starts_at: datetime,
        ends_at: datetime | None = None,
        all_day: bool = False,
        location: str | None = None,
        url: str | None = None,
        description: str | None = None,
        scope: str = "network",
        department: str | None = None,
        created_by_id: int | None = None,
        source_url: str | None = None,
        uid: str | None = None,
    ) -> Event:
        """A new event numbered E-n; `uid` is given for imported events, generated otherwise."""
        if scope not in EVENT_SCOPES:
            raise ValueError(f"unknown event scope {scope!r}")
        if scope == "department" and not department:
            raise ValueError("a department event needs its department")
        event = Event(
            number=await self.counters.next("event"),
            uid=uid or new_uid(),
            title=title,
            starts_at=starts_at,
            ends_at=ends_at,
            all_day=all_day,
            location=location,
            url=url,
            description=description,
            scope=scope,
            department=department,
            created_by_id=created_by_id,
            source_url=source_url,
        )
        self.session.add(event)
        await self.session.flush()
        return event

    async def add_many(self, events: list[Event]) -> None:
        """Number and store events made elsewhere (an import), in one flush."""
        for event, number in zip(events, await self.counters.take("event", len(events)), strict=True):
            event.number = number
        self.session.add_all(events)
        await self.session.flush()

    async def by_uids(self, uids: Iterable[str]) -> dict[str, Event]:
        """The events that have one of `uids`, by UID."""
        wanted, found = list(uids), dict[str, Event]()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            found.update((e.uid, e) for e in await self.session.scalars(select(Event).where(Event.uid.in_(chunk))))
        return found

    async def get(self, readable_id: ReadableId) -> Event | None:
        if readable_id.prefix != "E":
            raise ValueError(f"{readable_id} is not an event")
        return await self.session.scalar(select(Event).where(Event.number == readable_id.number))

    async def by_uid(self, uid: str) -> Event | None:
        return await self.session.scalar(select(Event).where(Event.uid == uid))

    async def coming(self, start: datetime, end: datetime, department: str | None) -> list[Event]:
        """Events not cancelled that end after `start` and begin before `end`, for the network and for
        `department`, soonest first; a series is there when one of its occurrences may be
        (`calendars.occurrences` finds which)."""
        shown = Event.scope == "network"
        if department:
            shown = or_(shown, Event.department == department)
        statement = (
            select(Event)
            .where(Event.cancelled.is_(False), Event.starts_at < end, Event.last_moment > start, shown)
            .order_by(Event.starts_at, Event.id)
        )
        return list(await self.session.scalars(statement))

    async def starting_between(self, start: datetime, end: datetime) -> list[Event]:
        """Events not cancelled that begin after `start` and no later than `end` (for reminders); a series of
        an external calendar is left to its own calendar's reminders."""
        statement = select(Event).where(
            Event.cancelled.is_(False), Event.recurrence.is_(None), Event.starts_at > start, Event.starts_at <= end
        ).order_by(Event.starts_at, Event.id)
        return list(await self.session.scalars(statement))
