"""Events of external iCalendar feeds: fetched with a conditional GET, read, and merged into the shared calendar.

An imported event keeps its own UID. One that repeats keeps its rule: the feeds publish it as its source wrote
it (with its changed occurrences, time zones named by their IANA id), and the agenda expands it. Alarms,
organisers and attendees stay behind: they are the source's business, and attendees' addresses are personal.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import icalendar
import recurring_ical_events

from calendars.occurrences import instant
from storage.models import CalendarSource, Event
from storage.repositories import Repos

# The end of a series that repeats forever: later than any date a feed or the agenda looks at.
FOREVER = datetime(9999, 12, 31, tzinfo=UTC)
# Events further ahead than this are left at the source: a calendar app sees them on a later reading.
AHEAD = timedelta(days=3 * 366)
USER_AGENT = "odpe-bot (shared calendar of the ODPE network)"  # HTTP headers are ASCII
# The properties an imported VEVENT keeps; the rest (alarms, attendees, organiser, X- properties) stays behind.
KEPT = ("UID", "DTSTAMP", "CREATED", "LAST-MODIFIED", "SEQUENCE", "SUMMARY", "DTSTART", "DTEND", "DURATION",
        "RRULE", "RDATE", "EXDATE", "RECURRENCE-ID", "LOCATION", "URL", "DESCRIPTION", "STATUS", "TRANSP")
_DATE_TIMES = ("DTSTART", "DTEND", "RECURRENCE-ID", "RDATE", "EXDATE")


class FeedError(Exception):
    """Why a feed could not be read: `kind` names the reason (commands word it), `detail` adds a fact (the HTTP
    status, the seconds waited, the size allowed in MiB, the exception's name)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class ImportedEvent:
    """An event as a source publishes it, in the bot's terms (UTC instants; whole days as local midnights)."""

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool
    location: str | None
    url: str | None
    description: str | None
    sequence: int
    cancelled: bool
    recurrence: str | None = None
    series_ends_at: datetime | None = None

    @property
    def last_moment(self) -> datetime:  # as Event.last_moment
        return self.series_ends_at or self.ends_at or self.starts_at


@dataclass(frozen=True)
class Reading:
    events: list[ImportedEvent]
    skipped: int  # events that could not be taken: no UID, no start, unreadable dates, over the limit


@dataclass(frozen=True)
class Fetched:
    """What a GET gave: None as body when the server said nothing changed (304)."""

    body: bytes | None
    etag: str | None
    last_modified: str | None


def http_url(url: str) -> str:
    """webcal:// is https:// for a program that fetches it."""
    return "https://" + url.split("://", 1)[1] if url.lower().startswith("webcal://") else url


def host_of(url: str) -> str:
    """The host alone, for logs: a feed's path or query often holds its secret."""
    return urlsplit(http_url(url)).hostname or "?"


async def fetch(
    client: httpx.AsyncClient, url: str, etag: str | None, last_modified: str | None, *, timeout: float,
    max_bytes: int,
) -> Fetched:
    """GET `url`, conditionally; a slow, failing, huge or unreachable server raises `FeedError`."""
    headers = {"Accept": "text/calendar, */*;q=0.5", "User-Agent": USER_AGENT}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("GET", http_url(url), headers=headers, timeout=timeout) as response:
                if response.status_code == 304:
                    return Fetched(None, etag, last_modified)
                if response.status_code >= 400:
                    raise FeedError("status", str(response.status_code))
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise FeedError("too_large", _megabytes(max_bytes))
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise FeedError("too_large", _megabytes(max_bytes))
                return Fetched(bytes(body), response.headers.get("ETag"), response.headers.get("Last-Modified"))
    except TimeoutError:
        raise FeedError("timeout", f"{timeout:g}") from None
    except httpx.HTTPError as error:
        raise FeedError("unreachable", type(error).__name__) from None


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g}"


@dataclass(frozen=True)
class Outcome:
    """How a reading of a source went: a problem, or the server's validators and, when the body was new, what
    it holds (no reading: nothing changed) and its digest (see CalendarSource.body_digest)."""

    problem: FeedError | None = None
    etag: str | None = None
    last_modified: str | None = None
    reading: Reading | None = None
    digest: str | None = None


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(follow_redirects=True)


async def read_source(
    client: httpx.AsyncClient, url: str, etag: str | None, last_modified: str | None, digest: str | None, *,
    tz: ZoneInfo, now: datetime, past: timedelta, timeout: float, max_bytes: int, max_events: int,
) -> Outcome:
    """Fetch a source and read what changed: a 304, or a body already read today, is not read again."""
    try:
        fetched = await fetch(client, url, etag, last_modified, timeout=timeout, max_bytes=max_bytes)
        if fetched.body is None:
            return Outcome(etag=fetched.etag, last_modified=fetched.last_modified)
        body_digest = hashlib.sha256(fetched.body + now.astimezone(tz).date().isoformat().encode()).hexdigest()
        if body_digest == digest:
            return Outcome(etag=fetched.etag, last_modified=fetched.last_modified, digest=digest)
        # A big calendar takes a while to read: in a thread, so that the bot goes on answering.
        reading = await asyncio.to_thread(read, fetched.body, tz, now, past=past, max_events=max_events)
    except FeedError as problem:
        return Outcome(problem=problem)
    return Outcome(etag=fetched.etag, last_modified=fetched.last_modified, reading=reading, digest=body_digest)


# --- Reading -----------------------------------------------------------------------------------------------------


def _zone_name(zone: tzinfo | None, tz: ZoneInfo, year: int) -> str | None:
    """The IANA name of `zone`: its own, or the bot's when a VTIMEZONE of the source describes the same zone
    in the years around `year` (the moment's)."""
    if zone is None:
        return None
    key = getattr(zone, "key", None)
    if key:
        try:
            ZoneInfo(key)
            return str(key)
        except (ZoneInfoNotFoundError, ValueError):
            return None
    if zone is UTC or (zone.utcoffset(datetime(2000, 1, 1)) == timedelta() and zone.dst(datetime(2000, 7, 1)) in (
        None, timedelta()
    )):
        return "UTC"
    # A zone the source described itself (Outlook's names, say): the bot's zone if it agrees twice a month
    # over the years around the moment, which is what the feeds of the network use.
    for moment in (datetime(y, m, d, 12) for y in range(year - 1, year + 3) for m in range(1, 13) for d in (1, 15)):
        if zone.utcoffset(moment) != tz.utcoffset(moment):
            return None
    return tz.key


def _normalised(value: Any, tz: ZoneInfo) -> Any:
    """A date or date-time that any reader can place: floating times are the bot's zone's, zones named by IANA
    ids, and a zone that cannot be named becomes UTC."""
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    name = _zone_name(value.tzinfo, tz, value.year)
    if name in (None, "UTC"):
        return value.astimezone(UTC)
    return value.replace(tzinfo=ZoneInfo(name))


def _clean_component(source: Any, tz: ZoneInfo) -> icalendar.Event:
    clean = icalendar.Event()
    for name in KEPT:
        if name not in source:
            continue
        found: Any = source[name]
        values: list[Any] = found if isinstance(found, list) else [found]
        for value in values:
            if name in _DATE_TIMES:
                moments = [_normalised(v.dt, tz) for v in getattr(value, "dts", [value])]
                if name in ("RDATE", "EXDATE"):
                    clean.add(name, moments)
                else:
                    clean.add(name, moments[0])
            else:
                clean.add(name, value)
    return clean


def _text(component: Any, name: str) -> str | None:
    value = component.get(name)
    text = str(value).strip() if value is not None else ""
    return text or None


def _span(component: Any, tz: ZoneInfo) -> tuple[datetime, datetime | None, bool]:
    start: Any = component["DTSTART"].dt
    all_day = not isinstance(start, datetime)
    end: Any = None
    if "DTEND" in component:
        end = component["DTEND"].dt
    elif "DURATION" in component:
        end = start + component["DURATION"].dt
    elif all_day:
        end = start + timedelta(days=1)
    starts_at = instant(start, tz)
    ends_at = instant(end, tz) if end is not None else None
    if ends_at is not None and ends_at < starts_at:
        ends_at = None
    if all_day and (ends_at is None or ends_at <= starts_at):
        ends_at = instant(start + timedelta(days=1), tz)
    return starts_at, ends_at, all_day


def _series_end(calendar: icalendar.Calendar, master: Any, window: tuple[datetime, datetime],
                tz: ZoneInfo) -> datetime | None:
    """The end of the series' last occurrence (None when none falls in `window`), FOREVER for an endless rule."""
    rules = master.get("RRULE")
    rules = rules if isinstance(rules, list) else [rules] if rules is not None else []
    endless = any("COUNT" not in rule and "UNTIL" not in rule for rule in rules)
    occurrences = recurring_ical_events.of(calendar).between(*window)
    ends = [instant(o["DTEND"].dt if "DTEND" in o else o["DTSTART"].dt, tz) for o in occurrences]
    if not ends:
        return None
    return FOREVER if endless else max(ends)


def read(body: bytes, tz: ZoneInfo, now: datetime, *, past: timedelta, max_events: int) -> Reading:
    """The events of an iCalendar text that end after `now - past` and begin within `AHEAD`.

    Raises `FeedError("not_calendar")` when the text is not iCalendar at all; an event that cannot be read is
    counted in `skipped` and the others are kept.
    """
    try:
        calendar = icalendar.Calendar.from_ical(body)
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError... on text it cannot read
        raise FeedError("not_calendar", type(error).__name__) from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise FeedError("not_calendar")
    window = (now - past, now + AHEAD)
    by_uid: dict[str, list[Any]] = defaultdict(list)
    skipped = 0
    for component in calendar.walk("VEVENT"):
        uid = _text(component, "UID")
        if uid is None or "DTSTART" not in component:
            skipped += 1
            continue
        by_uid[uid].append(component)
    events: list[ImportedEvent] = []
    for uid, components in by_uid.items():
        masters = [c for c in components if "RECURRENCE-ID" not in c]
        if len(masters) != 1:  # changed occurrences without their series, or two events sharing a UID
            skipped += 1
            continue
        try:
            event = _event(uid, masters[0], components, tz, window)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            skipped += 1
            continue
        if event is not None:
            events.append(event)
    if len(events) > max_events:
        events.sort(key=lambda e: e.starts_at)
        skipped += len(events) - max_events
        # The soonest are kept: what is coming matters more than what is far ahead.
        past_ones = [e for e in events if e.last_moment < now]
        coming = [e for e in events if e.last_moment >= now]
        events = (coming + past_ones[::-1])[:max_events]
    return Reading(events, skipped)


def _event(uid: str, master: Any, components: Sequence[Any], tz: ZoneInfo,
           window: tuple[datetime, datetime]) -> ImportedEvent | None:
    starts_at, ends_at, all_day = _span(master, tz)
    recurring = "RRULE" in master or "RDATE" in master
    recurrence = series_ends_at = None
    if recurring:
        series = icalendar.Calendar()
        for component in components:
            series.add_component(_clean_component(component, tz))
        series_ends_at = _series_end(series, master, window, tz)
        if series_ends_at is None:
            return None
        recurrence = b"".join(bytes(c.to_ical()) for c in series.subcomponents).decode()
    elif (ends_at or starts_at) < window[0] or starts_at > window[1]:
        return None
    sequence = master.get("SEQUENCE")
    return ImportedEvent(
        uid=uid, title=_text(master, "SUMMARY") or "—", starts_at=starts_at, ends_at=ends_at, all_day=all_day,
        location=_text(master, "LOCATION"), url=_text(master, "URL"), description=_text(master, "DESCRIPTION"),
        sequence=int(sequence) if sequence is not None else 0,
        cancelled=(_text(master, "STATUS") or "").upper() == "CANCELLED",
        recurrence=recurrence, series_ends_at=series_ends_at,
    )


# --- Merging -----------------------------------------------------------------------------------------------------

# What a source says of an event, as the event's columns.
_FROM_SOURCE = ("title", "starts_at", "ends_at", "all_day", "location", "url", "description", "cancelled",
                "recurrence", "series_ends_at")


@dataclass
class Merge:
    added: int = 0
    changed: int = 0
    removed: int = 0
    taken: list[str] = field(default_factory=list)  # UIDs already used by another event


async def merge(repo: Repos, source: CalendarSource, reading: Reading, now: datetime, past: timedelta) -> Merge:
    """Bring the source's events in the database to what it publishes now.

    A changed event gets a higher SEQUENCE; one the source no longer publishes is cancelled (calendar apps then
    remove it), unless it simply grew too old to be read. Events of a source no longer followed (one whose address
    changed, say) are taken over by the source that publishes them now.
    """
    result = Merge()
    known = {event.uid: event for event in await repo.calendar_sources.events_of(source.url)}
    scope = "department" if source.department else "network"
    others = await repo.events.by_uids(e.uid for e in reading.events if e.uid not in known)
    followed = {s.url for s in await repo.calendar_sources.all()}
    new: list[Event] = []
    for imported in reading.events:
        values = {name: getattr(imported, name) for name in _FROM_SOURCE}
        values.update(scope=scope, department=source.department)
        event = known.pop(imported.uid, None)
        if event is None:
            other = others.get(imported.uid)
            if other is None:
                new.append(Event(uid=imported.uid, source_url=source.url, sequence=imported.sequence,
                                 created_at=now, updated_at=now, **values))
                continue
            if other.source_url is None or other.source_url in followed:
                result.taken.append(imported.uid)
                continue
            event = other
            event.source_url = source.url
        if all(getattr(event, name) == value for name, value in values.items()):
            continue
        for name, value in values.items():
            setattr(event, name, value)
        event.changed(now, at_least=imported.sequence)
        result.changed += 1
    if new:
        await repo.events.add_many(new)
        result.added = len(new)
    for event in known.values():
        gone_by_age = event.last_moment < now - past
        if event.cancelled or gone_by_age:
            continue
        event.cancel(now)
        result.removed += 1
    return result


async def withdraw(repo: Repos, url: str, now: datetime) -> int:
    """Cancel the events of a source that is no longer followed: calendar apps remove them."""
    count = 0
    for event in await repo.calendar_sources.events_of(url):
        if not event.cancelled:
            event.cancel(now)
            count += 1
    return count

