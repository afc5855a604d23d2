"""Everything `odpe-bot run` keeps going in one process: platforms, HTTP server, scheduler and outbox."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import jobs
from bot.app import App
from integrations.http import HttpServer
from storage.repositories import Repos

log = logging.getLogger(__name__)

PROCESSED_EVENTS_KEPT = timedelta(days=30)  # platforms do not redeliver that late
DELIVERY_NOTES = ("slack:delivered:",)


class Platform(Protocol):
    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def enabled_platforms(app: App) -> list[Platform]:
    platforms: list[Platform] = []
    if app.config.matrix.enabled:
        from integrations.matrix import MatrixIntegration

        platforms.append(MatrixIntegration(app))
    if app.config.slack.enabled:
        from integrations.slack import SlackIntegration

        platforms.append(SlackIntegration(app))
    return platforms


class Runtime:
    def __init__(self, app: App, platforms: list[Platform], http: bool = True) -> None:
        self.app = app
        self.platforms = platforms
        self.server = HttpServer(app) if http and app.config.http.enabled else None
        self.scheduler = AsyncIOScheduler(timezone=app.config.timezone)
        self._stop = asyncio.Event()
        self._outbox: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.app.router.platforms[:] = [platform.name for platform in self.platforms]
        # When a job runs is the scheduler's business, on its own (wall) clock; what a job does reads the app's.
        at_once = datetime.now(UTC)
        self.scheduler.add_job(self._job, "interval", hours=6, args=[housekeeping], id="housekeeping")
        self.scheduler.add_job(self._job, "interval", minutes=10, args=[jobs.expire_dialogs], id="dialogs")
        self.scheduler.add_job(self._job, "interval", hours=1, args=[jobs.weekly_digest], id="digest",
                               next_run_time=at_once)
        # Each source has its own interval (`refresh_minutes`); the job reads those whose time has come.
        self.scheduler.add_job(self._job, "interval", minutes=1, args=[jobs.refresh_calendars], id="calendar-imports",
                               next_run_time=at_once, max_instances=1, coalesce=True)
        self.scheduler.add_job(self._job, "interval", minutes=1, args=[jobs.remind_events], id="event-reminders",
                               next_run_time=at_once)
        # Hourly, and once now: the reminder goes out at the configured hour, or at start if that was missed.
        self.scheduler.add_job(self._job, "interval", hours=1, args=[jobs.remind_reviewers], id="reminders",
                               next_run_time=at_once)
        self.scheduler.start()
        if self.server:
            await self.server.start()
        for platform in self.platforms:
            await platform.start()
        self._stop.clear()
        self._outbox = asyncio.create_task(self.app.outbox.run(self._stop), name="outbox")

    async def _job(self, job: Callable[[App], Awaitable[object]]) -> None:
        """A scheduled job, counted as work under way (see App.idle) while it runs."""
        with self.app.activity.busy():
            await job(self.app)

    async def stop(self) -> None:
        self._stop.set()
        if self._outbox is not None:
            await self._outbox
        for platform in self.platforms:
            await platform.stop()
        self.scheduler.shutdown(wait=False)
        if self.server:
            await self.server.stop()
        await self.app.close()


async def housekeeping(app: App) -> None:
    cutoff = app.clock.now() - PROCESSED_EVENTS_KEPT
    async with app.db.session() as session:
        repos = Repos(session)
        pruned = await repos.processed.prune(cutoff)
        # What a platform noted of the messages it delivered, for retries that come within minutes.
        delivered = sum([await repos.kv.prune(prefix, cutoff) for prefix in DELIVERY_NOTES])
    log.info("housekeeping: %d processed event ids and %d delivery notes pruned", pruned, delivered)
