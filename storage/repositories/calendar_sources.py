"""External calendar feeds: those of `calendar.external_feeds` and those admins add in chat."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select

from storage.models import CalendarSource, Event
from storage.repositories.base import Repository


class ConfiguredFeed(Protocol):
    @property
    def url(self) -> str: ...
    @property
    def department(self) -> str | None: ...
    @property
    def refresh_minutes(self) -> int: ...


class CalendarSourceRepository(Repository):
    async def all(self) -> list[CalendarSource]:
        return list(await self.session.scalars(select(CalendarSource).order_by(CalendarSource.id)))

    async def get(self, source_id: int) -> CalendarSource | None:
        return await self.session.get(CalendarSource, source_id)

    async def by_url(self, url: str) -> CalendarSource | None:
        return await self.session.scalar(select(CalendarSource).where(CalendarSource.url == url))

    async def add(
        self, url: str, department: str | None, refresh_minutes: int, *, added_by_id: int | None = None,
        from_config: bool = False,
    ) -> CalendarSource:
        source = CalendarSource(url=url, department=department, refresh_minutes=refresh_minutes,
                                added_by_id=added_by_id, from_config=from_config)
        self.session.add(source)
        await self.session.flush()
        return source

    async def sync_config(self, feeds: Iterable[ConfiguredFeed]) -> list[CalendarSource]:
        """Make the configured feeds sources (or update them); those no longer configured are removed.

        Returns the removed sources, whose events the caller cancels.
        """
        wanted = {feed.url: feed for feed in feeds}
        removed: list[CalendarSource] = []
        for source in await self.all():
            feed = wanted.pop(source.url, None)
            if feed is None:
                if source.from_config:
                    removed.append(source)
                continue
            source.from_config = True
            if source.department != feed.department:
                # Its events move: the next reading must merge them again, even if the server says 304.
                source.department = feed.department
                source.etag = source.last_modified = source.body_digest = None
            source.refresh_minutes = feed.refresh_minutes
        for feed in wanted.values():
            await self.add(feed.url, feed.department, feed.refresh_minutes, from_config=True)
        for source in removed:
            await self.session.delete(source)
        await self.session.flush()
        return removed

    async def remove(self, source: CalendarSource) -> None:
        await self.session.delete(source)
        await self.session.flush()

    async def due(self, now: datetime) -> list[CalendarSource]:
        """The sources never read, or read longer ago than their refresh interval."""
        return [
            source for source in await self.all()
            if source.checked_at is None or source.checked_at + timedelta(minutes=source.refresh_minutes) <= now
        ]

    async def events_of(self, url: str) -> list[Event]:
        return list(await self.session.scalars(select(Event).where(Event.source_url == url).order_by(Event.id)))
