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
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import icalendar
import recurring_ical_events
from icalendar.timezone import tzp
from icalendar.timezone.windows_to_olson import WINDOWS_TO_OLSON

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
    next_occurrence: datetime | None = None  # of a series: the start of its first occurrence not over when read

    @property
    def last_moment(self) -> datetime:  # as Event.last_moment
        return self.series_ends_at or self.ends_at or self.starts_at

    @property
    def next_start(self) -> datetime:
        """When it next begins, for a series; when it began, for a single event (the soonest are kept)."""
        return self.next_occurrence or self.starts_at


@dataclass(frozen=True)
class Reading:
    events: list[ImportedEvent]
    skipped: int  # events that could not be taken: no UID, no start, unreadable dates, published twice, over the limit
    left_out: frozenset[str] = frozenset()  # UIDs of the events over the limit: still published, not read this time


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

# What a feed may ask of a reading, far above what the calendars of the network publish: beyond, an event is skipped.
MAX_UID = 500  # characters: PostgreSQL's unique index takes a few thousand bytes at most
MAX_SEQUENCE = 1_000_000  # a higher SEQUENCE is taken as this one, from which the bot's own goes on rising
MAX_OCCURRENCES = 4000  # of a series within the span read (a daily one has some 1300)
MAX_STEPS = 50_000  # occurrences a series computes from its first one to the end of the span read
# Control characters but tab and line ends: no calendar text holds them, and PostgreSQL refuses NUL in text.
_CONTROLS = bytes([*range(9), 11, 12, *range(14, 32), 127])


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


# A VTIMEZONE is followed from its first onset at each offset asked: only the yearly rules of real time zones are,
# so that a feed cannot keep the reading busy for hours (a rule every hour from 1601 on, say).
_ZONE_RULE_PARTS = frozenset({"FREQ", "INTERVAL", "UNTIL", "COUNT", "WKST", "BYMONTH", "BYDAY", "BYMONTHDAY"})


def _followable(vtimezone: Any) -> bool:
    observances = [c for c in vtimezone.subcomponents if c.name in ("STANDARD", "DAYLIGHT")]
    if not 0 < len(observances) <= 200:
        return False
    ruled = dates = 0
    for observance in observances:
        rules = _as_list(observance.get("RRULE"))
        ruled += bool(rules)
        for rule in rules:
            if not isinstance(rule, icalendar.vRecur) or not set(rule) <= _ZONE_RULE_PARTS:
                return False
            if rule.get("FREQ") != ["YEARLY"] or any(int(n) < 1 for n in rule.get("INTERVAL", [])):
                return False
            if len(rule.get("BYMONTH", [])) > 1 or max(len(rule.get(p, [])) for p in ("BYDAY", "BYMONTHDAY")) > 7:
                return False
        dates += sum(len(getattr(value, "dts", [value])) for value in _as_list(observance.get("RDATE")))
    return ruled <= 20 and dates <= 1000


@lru_cache(maxsize=512)
def _iana(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name longer than a file name may be
        return None


def _named(tzid: str) -> ZoneInfo | None:
    """The IANA zone a TZID names without its VTIMEZONE: a Windows name (Outlook's), or a "globally unique" id
    ending with an IANA one (/mozilla.org/20050126_1/Europe/Paris)."""
    cleaned = tzid.strip("/")
    names = [WINDOWS_TO_OLSON.get(cleaned)]
    if tzid.startswith("/"):
        parts = cleaned.split("/")
        names += ["/".join(parts[start:]) for start in range(1, len(parts))]
    return next((zone for name in names if name and (zone := _iana(name)) is not None), None)


@lru_cache(maxsize=256)
def _zone_name(zone: tzinfo, candidates: tuple[str, ...], year: int) -> str | None:
    """The first of `candidates` (IANA ids) that a zone a source described itself agrees with, twice a month over
    the years around `year` (the moment's), if one does."""
    years = range(max(year - 1, 1), min(year + 3, 10000))
    moments = [datetime(y, m, d, 12) for y in years for m in range(1, 13) for d in (1, 15)]
    for name in candidates:
        known = ZoneInfo(name)
        if all(zone.utcoffset(moment) == known.utcoffset(moment) for moment in moments):
            return name
    return None


@dataclass(frozen=True)
class _Zones:
    """The time zones one feed names. icalendar keeps, for the whole process, the first VTIMEZONE it meets of a
    name, whichever feed it came from: a feed's date-times are placed again here, by its own VTIMEZONEs."""

    own: dict[str, tzinfo | None]  # TZID -> its VTIMEZONE's zone; None: rules too costly to follow
    tz: ZoneInfo

    @classmethod
    def of(cls, calendar: icalendar.Calendar, tz: ZoneInfo) -> _Zones:
        own: dict[str, tzinfo | None] = {}
        for component in calendar.walk("VTIMEZONE"):
            tzid = _text(component, "TZID")
            if tzid is None or tzid in own:
                continue
            try:
                own[tzid] = tzp.create_timezone(component) if _followable(component) else None
            except Exception:  # whatever icalendar or dateutil raise on a VTIMEZONE they cannot build: not followed
                own[tzid] = None
        return cls(own, tz)

    def place(self, moment: datetime, tzid: str) -> datetime:
        """`moment`'s wall time in the zone `tzid` names: its IANA zone when it is one (the name is trusted over
        its VTIMEZONE), or when the feed's VTIMEZONE agrees with the one its Windows name, or the bot's, names;
        else the VTIMEZONE itself; a name known nowhere is the bot's zone (a floating time)."""
        wall = moment.replace(tzinfo=None)
        known = _iana(tzid.strip("/"))
        if known is not None:
            return wall.replace(tzinfo=known)
        if tzid not in self.own:
            return wall.replace(tzinfo=_named(tzid))
        zone = self.own[tzid]
        if zone is None:
            raise ValueError(f"time zone {tzid!r} not followed")
        guessed = _named(tzid)
        candidates = tuple(dict.fromkeys([*([guessed.key] if guessed else []), self.tz.key]))
        name = _zone_name(zone, candidates, moment.year)
        return wall.replace(tzinfo=ZoneInfo(name) if name else zone)

    def localise(self, component: Any) -> None:
        """Place the date-times of a VEVENT that name a zone (raises ValueError for a zone not followed)."""
        for name in _DATE_TIMES:
            for prop in _as_list(component.get(name)):
                tzid = prop.params.get("TZID")
                if not tzid:
                    continue
                for item in getattr(prop, "dts", [prop]):
                    item.dt = self._placed(item.dt, str(tzid))

    def _placed(self, value: Any, tzid: str) -> Any:
        if isinstance(value, tuple):  # a PERIOD: its start, and its end or duration
            return tuple(self._placed(part, tzid) for part in value)
        return self.place(value, tzid) if isinstance(value, datetime) else value


def _normalised(value: Any, tz: ZoneInfo) -> Any:
    """A date or date-time that any reader can place: floating times are the bot's zone's, zones named by IANA
    ids, and a zone that has no IANA id becomes UTC."""
    if isinstance(value, tuple):
        return tuple(_normalised(part, tz) for part in value)
    if not isinstance(value, datetime):
        return value
    if value.tzinfo is None:
        return value.replace(tzinfo=tz)
    if isinstance(value.tzinfo, ZoneInfo) and value.tzinfo.key not in (None, "UTC"):
        return value
    return value.astimezone(UTC)


def _clean_component(source: Any, tz: ZoneInfo) -> icalendar.Event:
    clean = icalendar.Event()
    for name in KEPT:
        if name not in source:
            continue
        if name == "SEQUENCE":  # a number, or nothing: recurring_ical_events compares them
            sequence = _sequence(source)
            if sequence is not None:
                clean.add(name, min(max(sequence, 0), MAX_SEQUENCE))
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


def _sequence(component: Any) -> int | None:
    """A VEVENT's SEQUENCE (0 when it has none), None when it is not a number."""
    value = component.get("SEQUENCE")
    if value is None:
        return 0
    try:
        return int(str(value).strip())
    except ValueError:
        return None


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


# At most how many days a year, and times a day, a rule of each frequency gives before its BY parts expand it.
_DAYS = {"YEARLY": 1, "MONTHLY": 12, "WEEKLY": 53, "DAILY": 366}
_TIMES = {"HOURLY": 24, "MINUTELY": 24 * 60, "SECONDLY": 24 * 3600}
_DAY_PARTS = ("BYMONTH", "BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY")
_TIME_PARTS = {"HOURLY": ("BYMINUTE", "BYSECOND"), "MINUTELY": ("BYSECOND",), "SECONDLY": ()}


def _a_year(rule: Any) -> float:
    """At most how many occurrences a year `rule` gives (more when it limits rather than expands: a bound)."""
    freq = str(rule["FREQ"][0]).upper()
    interval = max(int(rule.get("INTERVAL", [1])[0]), 1)
    count = {part: len(rule.get(part, [])) or 1 for part in ("BYHOUR", "BYMINUTE", "BYSECOND")}
    if freq in _TIMES:
        days: float = 366
        times = _TIMES[freq] / interval
        for part in _TIME_PARTS[freq]:
            times *= count[part]
    else:
        days = 366 if any(part in rule for part in _DAY_PARTS) else _DAYS[freq] / interval
        times = count["BYHOUR"] * count["BYMINUTE"] * count["BYSECOND"]
    return days * times


def _check_size(master: Any, window: tuple[datetime, datetime], tz: ZoneInfo) -> None:
    """Raise ValueError for a series that would give more occurrences than a reading computes (every minute, say)."""
    first = instant(master["DTSTART"].dt, tz)
    steps = in_window = float(sum(len(getattr(v, "dts", [v])) for v in _as_list(master.get("RDATE"))))
    year = timedelta(days=365.25)
    for rule in _as_list(master.get("RRULE")):
        last = window[1]
        if rule.get("UNTIL"):
            last = min(last, instant(rule["UNTIL"][0], tz))
        a_year = _a_year(rule)
        limit = float(rule["COUNT"][0]) if rule.get("COUNT") else float("inf")
        steps += min(limit, a_year * (max(last - first, timedelta()) / year + 1))
        in_window += min(limit, a_year * (max(last - max(first, window[0]), timedelta()) / year + 1))
    if steps > MAX_STEPS or in_window > MAX_OCCURRENCES:
        raise ValueError("too many occurrences")


def _series_times(calendar: icalendar.Calendar, master: Any, window: tuple[datetime, datetime], now: datetime,
                  tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The end of the series' last occurrence (FOREVER for an endless rule) and the start of its first not over
    at `now` (of its last when all are); None when no occurrence falls in `window`."""
    rules = _as_list(master.get("RRULE"))
    endless = any("COUNT" not in rule and "UNTIL" not in rule for rule in rules)
    spans = []
    for occurrence in recurring_ical_events.of(calendar).between(*window):
        start = instant(occurrence["DTSTART"].dt, tz)
        spans.append((start, instant(occurrence["DTEND"].dt, tz) if "DTEND" in occurrence else start))
    if not spans:
        return None
    coming = [start for start, end in spans if end >= now]
    return (FOREVER if endless else max(end for _, end in spans)), min(coming, default=max(spans)[0])


def read(body: bytes, tz: ZoneInfo, now: datetime, *, past: timedelta, max_events: int) -> Reading:
    """The events of an iCalendar text that end after `now - past` and begin within `AHEAD`; the `max_events`
    soonest when there are more.

    Raises `FeedError("not_calendar")` when the text is not iCalendar at all; an event that cannot be read is
    counted in `skipped` and the others are kept.
    """
    try:
        calendar = icalendar.Calendar.from_ical(body.translate(None, _CONTROLS))
    except Exception as error:  # icalendar raises ValueError, KeyError, IndexError... on text it cannot read
        raise FeedError("not_calendar", type(error).__name__) from None
    if not isinstance(calendar, icalendar.Calendar) or calendar.name != "VCALENDAR":
        raise FeedError("not_calendar")
    window = (now - past, now + AHEAD)
    zones = _Zones.of(calendar, tz)
    by_uid: dict[str, list[Any]] = defaultdict(list)
    skipped = 0
    for component in calendar.walk("VEVENT"):
        uid = _text(component, "UID")
        if uid is None or len(uid) > MAX_UID or "DTSTART" not in component:
            skipped += 1
            continue
        by_uid[uid].append(component)
    events: list[ImportedEvent] = []
    for uid, components in by_uid.items():
        masters = [c for c in components if "RECURRENCE-ID" not in c]
        if not masters:  # changed occurrences without their series
            skipped += 1
            continue
        # One event published twice: the source's latest version counts, the one with the higher SEQUENCE, or
        # the later in the text when they have the same; the others are skipped.
        skipped += len(masters) - 1
        versions = [(sequence, n) for n, c in enumerate(masters) if (sequence := _sequence(c)) is not None]
        if not versions:
            skipped += 1
            continue
        sequence, n = max(versions)
        master = masters[n]
        try:
            series = [master, *(c for c in components if "RECURRENCE-ID" in c)]
            for component in series:
                zones.localise(component)
            event = _event(uid, master, series, min(max(sequence, 0), MAX_SEQUENCE), tz, window, now)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError):
            skipped += 1
            continue
        if event is not None:
            events.append(event)
    left_out: frozenset[str] = frozenset()
    if len(events) > max_events:
        # The soonest are kept: what comes next matters more than what is far ahead, and that more than what is
        # over. An event left out stays as it was last read (see merge).
        coming = sorted((e for e in events if e.last_moment >= now), key=lambda e: (e.next_start, e.uid))
        over = sorted((e for e in events if e.last_moment < now), key=lambda e: (e.last_moment, e.uid), reverse=True)
        ranked = coming + over
        events, left_out = ranked[:max_events], frozenset(e.uid for e in ranked[max_events:])
        skipped += len(left_out)
    return Reading(events, skipped, left_out)


def _event(uid: str, master: Any, components: Sequence[Any], sequence: int, tz: ZoneInfo,
           window: tuple[datetime, datetime], now: datetime) -> ImportedEvent | None:
    starts_at, ends_at, all_day = _span(master, tz)
    recurring = "RRULE" in master or "RDATE" in master
    recurrence = series_ends_at = next_start = None
    if recurring:
        _check_size(master, window, tz)
        series = icalendar.Calendar()
        for component in components:
            series.add_component(_clean_component(component, tz))
        times = _series_times(series, master, window, now, tz)
        if times is None:
            return None
        series_ends_at, next_start = times
        recurrence = b"".join(bytes(c.to_ical()) for c in series.subcomponents).decode()
    elif (ends_at or starts_at) < window[0] or starts_at > window[1]:
        return None
    return ImportedEvent(
        uid=uid, title=_text(master, "SUMMARY") or "—", starts_at=starts_at, ends_at=ends_at, all_day=all_day,
        location=_text(master, "LOCATION"), url=_text(master, "URL"), description=_text(master, "DESCRIPTION"),
        sequence=sequence, cancelled=(_text(master, "STATUS") or "").upper() == "CANCELLED",
        recurrence=recurrence, series_ends_at=series_ends_at, next_occurrence=next_start,
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
    remove it), unless it simply grew too old to be read, or is still published but was left out of this reading
    by the limit on events (it stays as it was last read). Events of a source no longer followed (one whose address
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
        if event.cancelled or gone_by_age or event.uid in reading.left_out:
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

