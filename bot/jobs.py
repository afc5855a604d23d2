"""What the scheduler runs: idle dialogs expire with a message, and reviewers get a daily reminder."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from bot import notify
from bot.app import App
from bot.dialogs import expired_notice
from bot.i18n import language
from calendars.imports import host_of, http_client, read_source, withdraw
from commands.calendar import record_reading, send_digest, send_reminders
from commands.questions import remind_unanswered
from commands.review import remind_waiting
from storage.repositories import Repos

log = logging.getLogger(__name__)


async def expire_dialogs(app: App) -> int:
    """Dialogs idle past their time are closed, and their person told so, once."""
    now = app.clock.now()
    flows = app.router.dialogs.flows
    async with app.db.session() as session:
        repo = Repos(session)
        states = await repo.dialogs.expired(now)
        for state in states:
            person = await repo.people.get(state.person_id)
            await repo.dialogs.delete(state.person_id)
            if person is None or state.form not in flows:
                continue
            with language(person.language or app.config.language):
                reply = expired_notice(flows[state.form], state, app.config.tz)
            await repo.outbox.enqueue(
                person.platform, notify.dm(person.platform_user_id), {"reply": reply.to_json()},
                dedupe_key=f"dialog-expired:{state.id}:{state.started_at.isoformat()}",
            )
    if states:
        app.outbox.wake()
        log.info("%d idle dialog(s) expired", len(states))
    return len(states)


async def remind_events(app: App) -> int:
    """Reminders of the events whose moment has come (see commands.calendar.send_reminders)."""
    now = app.clock.now()
    async with app.db.session() as session:
        count = await send_reminders(
            Repos(session), tuple(app.router.platforms), list(app.config.calendar.reminders), now,
            ZoneInfo(app.config.timezone), app.config.language,
        )
    if count:
        app.outbox.wake()
    return count


async def refresh_calendars(app: App) -> int:
    """Read the external calendars whose time has come (see calendars.imports); returns how many were read.

    The configured ones are brought in line with `calendar.external_feeds` first. Each is fetched outside any
    transaction (a slow server holds no lock), then merged.
    """
    now = app.clock.now()
    settings = app.config.calendar
    tz = ZoneInfo(app.config.timezone)
    past = timedelta(days=settings.feed_past_days)
    async with app.db.session() as session:
        repo = Repos(session)
        for removed in await repo.calendar_sources.sync_config(settings.external_feeds):
            await withdraw(repo, removed.url, now)
        due = [(s.id, s.url, s.etag, s.last_modified, s.body_digest) for s in await repo.calendar_sources.due(now)]
    if not due:
        return 0
    admins = notify.admins(app.config.roles.admins, tuple(app.router.platforms))
    async with http_client() as client:
        for source_id, url, etag, last_modified, digest in due:
            outcome = await read_source(
                client, url, etag, last_modified, digest, tz=tz, now=now, past=past,
                timeout=settings.import_timeout_seconds, max_bytes=int(settings.import_max_mb * 1024 * 1024),
                max_events=settings.import_max_events,
            )
            async with app.db.session() as session:
                await record_reading(Repos(session), source_id, outcome, now, admins=admins,
                                     lang=app.config.language, past=past)
            if outcome.problem is not None:
                log.warning("calendar source %d (%s): %s", source_id, host_of(url), outcome.problem)
    app.outbox.wake()
    return len(due)


async def weekly_digest(app: App) -> bool:
    now = app.clock.now()
    calendar = app.config.calendar
    async with app.db.session() as session:
        sent = await send_digest(
            Repos(session), tuple(app.router.platforms), now, ZoneInfo(app.config.timezone), app.config.language,
            calendar.digest_weekday, calendar.digest_hour,
        )
    if sent:
        app.outbox.wake()
    return sent


async def remind_reviewers(app: App) -> int:
    """The daily list of what waits too long; at most one a day (its outbox key has the date), so a restart
    after the hour sends it if it was missed, and never twice."""
    now = app.clock.now()
    local = now.astimezone(ZoneInfo(app.config.timezone))
    if local.hour < app.config.review.remind_hour:
        return 0
    async with app.db.session() as session:
        with language(app.config.language):
            repo, platforms = Repos(session), tuple(app.router.platforms)
            count = await remind_waiting(repo, platforms, now, app.config.review.remind_after_days)
            count += await remind_unanswered(repo, platforms, now)
    if count:
        app.outbox.wake()
    return count
