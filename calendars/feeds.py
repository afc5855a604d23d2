"""The iCalendar feeds of the shared calendar: which events a subscription sees, their RFC 5545 text, a cache."""

from __future__ import annotations

import asyncio
import calendar
import gzip
import hashlib
import re
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo

import icalendar
from icalendar import Timezone, TimezoneDaylight, TimezoneStandard
from sqlalchemy import ColumnElement, and_, case, func, inspect, or_, select
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

from storage import departments
from storage.models import Event, FeedToken, Person

PRODID = "-//ONPE//odpe-bot//FR"
# Events that ended longer ago than this leave the feeds: calendar apps keep what they already have, and the
# feed stays small (a few hundred bytes an event) however long the network has been using the bot.
PAST_DAYS = 180
REFRESH = timedelta(hours=1)
# The rendered bodies kept in memory, all scopes together (a scope is the network, a département, or both).
CACHE_BYTES = 64 * 1024 * 1024
# The VEVENT texts kept, all feeds together (a few hundred bytes each).
EVENTS_KEPT = 20_000
_END = b"END:VCALENDAR\r\n"
# The year a calendar without any event describes its time zone from (it has no date to start from).
EMPTY_CALENDAR_YEAR = 2000

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
# RFC 5545 TEXT may not hold control characters; a title pasted from elsewhere can carry some.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_SEQUENCE = re.compile(r"^SEQUENCE:\d+\r\n", re.MULTILINE)
_TZID = re.compile(r"^[A-Z-]+;(?:[^:\r\n]*;)?TZID=([^:;\r\n]+)", re.MULTILINE)


@dataclass(frozen=True)
class FeedScope:
    """What a feed shows: the network's events, one département's, or both (a person's own feed)."""

    network: bool
    department: str | None = None

    @classmethod
    def of_network(cls) -> FeedScope:
        return cls(network=True)

    @classmethod
    def of_department(cls, code: str) -> FeedScope:
        return cls(network=False, department=code)

    @classmethod
    def personal(cls, department: str | None) -> FeedScope:
        """The network and the person's département (the network alone while they have given none)."""
        return cls(network=True, department=department)

    def condition(self) -> ColumnElement[bool]:
        """The events of this scope, as a WHERE clause."""
        parts: list[ColumnElement[bool]] = []
        if self.network:
            parts.append(Event.scope == "network")
        if self.department is not None:
            parts.append(and_(Event.scope == "department", Event.department == self.department))
        return or_(*parts) if parts else Event.id.is_(None)

    def label(self) -> str:
        """The département's part of the feed's name, e.g. « Allier (03) »; empty for the network alone."""
        if self.department is None:
            return ""
        known = departments.get(self.department)
        return f"{known.name} ({self.department})" if known else self.department

    def filename(self) -> str:
        parts = (["reseau"] if self.network else []) + ([self.department] if self.department else [])
        return "odpe-" + "-".join(parts) + ".ics"


class FeedEventLike(Protocol):
    """What rendering reads of an event: an `Event` row or its `FeedEvent` snapshot."""

    @property
    def uid(self) -> str: ...
    @property
    def sequence(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def starts_at(self) -> datetime: ...
    @property
    def ends_at(self) -> datetime | None: ...
    @property
    def all_day(self) -> bool: ...
    @property
    def location(self) -> str | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def recurrence(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def updated_at(self) -> datetime: ...


@dataclass(frozen=True)
class FeedEvent:
    """A copy of an event's published fields, so that rendering can run outside the session and the loop."""

    uid: str
    sequence: int
    title: str
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool
    location: str | None
    url: str | None
    description: str | None
    cancelled: bool
    created_at: datetime
    updated_at: datetime
    recurrence: str | None = None  # an imported series, published as its source wrote it

    @classmethod
    def of(cls, event: FeedEventLike) -> FeedEvent:
        return cls(**{f.name: getattr(event, f.name) for f in fields(cls)})


def local_dates(event: FeedEventLike, tz: ZoneInfo) -> tuple[date, date]:
    """The first day and the day after the last of a whole-day event.

    A whole-day event is stored as the span from its first local midnight to the local midnight after its last
    day, in UTC (what `commands.calendar.times` writes); its days are those midnights read back in `tz`.
    """
    first = event.starts_at.astimezone(tz).date()
    after = event.ends_at.astimezone(tz).date() if event.ends_at is not None else first
    return first, max(after, first + timedelta(days=1))


async def events_for(session: AsyncSession, scope: FeedScope, now: datetime, past_days: int = PAST_DAYS) -> list[Event]:
    """The events a feed of `scope` publishes, in feed order (start, then UID).

    Cancelled events stay, so that calendar apps see their STATUS:CANCELLED and remove them; events that ended
    more than `past_days` ago are left out.
    """
    cutoff = now - timedelta(days=past_days)
    statement = select(Event).where(scope.condition(), Event.last_moment >= cutoff).order_by(Event.starts_at, Event.uid)
    return list(await session.scalars(statement))


@dataclass(frozen=True)
class FeedStamp:
    """What a feed's body depends on: its last change, how many events it holds, and their versions.

    `last_change` is the latest `updated_at` of its events, or the moment an event left the feed by growing
    old if that is later, so that it only moves forward; None for a feed that never held an event. Every
    published change raises an event's SEQUENCE, so `sequences` (their sum) moves even when a change bears the
    same time as the one before it (a clock set back, two changes within its resolution).
    """

    last_change: datetime | None
    count: int
    sequences: int


async def stamp_of(session: AsyncSession, scope: FeedScope, now: datetime, past_days: int = PAST_DAYS) -> FeedStamp:
    """The stamp of `scope`'s feed, in one query."""
    cutoff = now - timedelta(days=past_days)
    end = Event.last_moment
    kept = end >= cutoff
    statement = select(
        func.max(case((kept, Event.updated_at))),
        func.count(case((kept, 1))),
        func.max(case((~kept, end))),
        func.coalesce(func.sum(case((kept, Event.sequence))), 0),
    ).where(scope.condition())
    row = (await session.execute(statement)).one()
    updated: datetime | None = row[0]
    dropped: datetime | None = row[2]
    left = dropped + timedelta(days=past_days) if dropped is not None else None
    changes = [moment for moment in (updated, left) if moment is not None]
    return FeedStamp(max(changes) if changes else None, int(row[1]), int(row[3]))


# --- Rendering ---------------------------------------------------------------------------------------------------


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    cleaned = _CONTROL.sub("", value).strip()
    return cleaned or None


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _wall_clock(moment: datetime, tz: ZoneInfo) -> datetime:
    """`moment` in `tz` when its local time names it; in UTC otherwise.

    RFC 5545 reads a local time that occurs twice (the hour repeated when summer time ends) as the first
    one, so an instant in the second is written in UTC, which names it without doubt.
    """
    local = moment.astimezone(tz)
    if local.replace(fold=0).astimezone(UTC) != moment.astimezone(UTC):
        return _utc(moment)
    return local.replace(fold=0)


def _vevent(event: FeedEventLike, tz: ZoneInfo) -> icalendar.Event:
    vevent = icalendar.Event()
    vevent.add("UID", event.uid)
    # The stamp of the change, not of the request: two fetches of an unchanged feed give the same bytes.
    vevent.add("DTSTAMP", _utc(event.updated_at))
    vevent.add("CREATED", _utc(event.created_at))
    vevent.add("LAST-MODIFIED", _utc(event.updated_at))
    vevent.add("SEQUENCE", event.sequence)
    vevent.add("SUMMARY", _text(event.title) or "—")
    if event.all_day:
        first, after = local_dates(event, tz)
        vevent.add("DTSTART", first)
        vevent.add("DTEND", after)
        # A whole day on the calendar does not make its people busy all day (RFC 5545's default for dates).
        vevent.add("TRANSP", "TRANSPARENT")
    else:
        vevent.add("DTSTART", _wall_clock(event.starts_at, tz))
        if event.ends_at is not None:
            vevent.add("DTEND", _wall_clock(event.ends_at, tz))
    url = _text(event.url)
    # Many apps show LOCATION but not URL: a video link is also the place where the meeting happens.
    location = _text(event.location) or url
    if location:
        vevent.add("LOCATION", location)
    if url:
        vevent.add("URL", url)
    description = _text(event.description)
    if description:
        vevent.add("DESCRIPTION", description)
    vevent.add("STATUS", "CANCELLED" if event.cancelled else "CONFIRMED")
    return vevent


@dataclass(frozen=True)
class _Transition:
    onset: datetime  # UTC
    before: timedelta
    after: timedelta
    name: str
    daylight: bool

    @property
    def local(self) -> datetime:
        """The onset as RFC 5545 writes it: the local time of the offset in force until then."""
        return (self.onset + self.before).replace(tzinfo=None)

    @property
    def rule(self) -> tuple[timedelta, timedelta, str, bool, int, int, int, time]:
        """What a yearly RRULE repeats: the offsets and name, the month, the weekday and its rank, the time."""
        local = self.local
        days = calendar.monthrange(local.year, local.month)[1]
        rank = -1 if local.day + 7 > days else (local.day - 1) // 7 + 1
        return (self.before, self.after, self.name, self.daylight, local.month, local.weekday(), rank, local.time())


_State = tuple[timedelta, timedelta, str]


def _state(tz: ZoneInfo, instant: datetime) -> _State:
    local = instant.astimezone(tz)
    return local.utcoffset() or timedelta(), local.dst() or timedelta(), local.tzname() or ""


def _transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    """The changes of offset (or name) of `tz` between two UTC instants, found to the second.

    Steps a day at a time, which finds every change of the zones in use (they are months apart).
    """
    found: list[_Transition] = []
    second = timedelta(seconds=1)
    low, low_state = start, _state(tz, start)
    while low < end:
        high = min(low + timedelta(days=1), end)
        high_state = _state(tz, high)
        if high_state != low_state:
            before, after = low, high
            while after - before > second:
                middle = before + ((after - before) // second // 2) * second
                if _state(tz, middle) == low_state:
                    before = middle
                else:
                    after = middle
            offset, dst, name = high_state
            found.append(_Transition(after, low_state[0], offset, name, dst != timedelta()))
        low, low_state = high, high_state
    return found


def _observance(transition: _Transition) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if transition.daylight else TimezoneStandard()
    observance.add("DTSTART", transition.local)
    observance.add("TZOFFSETFROM", transition.before)
    observance.add("TZOFFSETTO", transition.after)
    observance.add("TZNAME", transition.name)
    return observance


@lru_cache(maxsize=32)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """A VTIMEZONE for `tzid`, right from `first_year` to `last_year` and, while its rules hold, after.

    Built from the system's time zone database. icalendar's own `Timezone.from_tzinfo` writes the onset of
    summer time as the local time after the change (03:00 in Paris), where RFC 5545 wants the local time before
    it (02:00): strict readers would then move the first hour of summer time by an hour. Yearly changes on the
    same weekday of the same month become one RRULE, the way the IANA-derived VTIMEZONEs of calendar apps are.
    The component is shared between renders: nothing may change it.
    """
    tz = ZoneInfo(tzid)
    start = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    offset, dst, name = _state(tz, start)
    initial = _Transition(start, offset, offset, name, dst != timedelta())
    runs: list[list[_Transition]] = [[initial]]
    open_runs: dict[tuple[timedelta, timedelta, str, bool, int, int, int, time], list[_Transition]] = {}
    for transition in _transitions(tz, start, end):
        run = open_runs.get(transition.rule)
        if run is not None and run[-1].onset.year == transition.onset.year - 1:
            run.append(transition)
        else:
            run = [transition]
            open_runs[transition.rule] = run
            runs.append(run)
    component = Timezone()
    component.add("TZID", tzid)
    for run in sorted(runs, key=lambda r: r[0].onset):
        observance = _observance(run[0])
        if len(run) > 1:
            _before, _after, _name, _daylight, month, weekday, rank, _time = run[0].rule
            recurrence: dict[str, object] = {"FREQ": "YEARLY", "BYMONTH": month, "BYDAY": f"{rank}{_WEEKDAYS[weekday]}"}
            if run[-1].onset.year < last_year:  # the rule stopped within the years looked at
                recurrence["UNTIL"] = run[-1].onset
            observance.add("RRULE", recurrence)
        component.add_component(observance)
    return component


def _with_sequence(components: str, sequence: int) -> str:
    """An imported series with the bot's SEQUENCE, which rises at every change seen, even one its source made
    without raising its own: calendar apps take a change only with a higher SEQUENCE."""
    without = _SEQUENCE.sub("", components)
    return without.replace("BEGIN:VEVENT\r\n", f"BEGIN:VEVENT\r\nSEQUENCE:{sequence}\r\n")


@lru_cache(maxsize=EVENTS_KEPT)
def vevent_text(event: FeedEvent, timezone: str) -> bytes:
    """The VEVENT of `event`, kept: the key is every published field, so a changed event is never stale.

    An imported series is its source's components (kept when imported, see calendars.imports); cancelled, it is
    one VEVENT with its UID, which calendar apps remove with every occurrence.
    """
    if event.recurrence is not None and not event.cancelled:
        return _with_sequence(event.recurrence, event.sequence).encode()
    return bytes(_vevent(event, ZoneInfo(timezone)).to_ical())


def render(
    events: Iterable[FeedEventLike], name: str, timezone: str = "Europe/Paris", refresh: timedelta = REFRESH
) -> bytes:
    """The iCalendar text (RFC 5545, with RFC 7986's NAME and REFRESH-INTERVAL) of `events`.

    The same events give the same bytes: nothing depends on the time of the call. Each VEVENT's text is kept
    (`EVENTS_KEPT`), so a feed rebuilt after one change renders one event, and the feeds that share the
    network's events render them once.
    """
    tz = ZoneInfo(timezone)
    ordered = sorted((FeedEvent.of(e) for e in events), key=lambda e: (_utc(e.starts_at), e.uid))
    years = [moment.astimezone(tz).year for e in ordered for moment in (e.starts_at, e.ends_at) if moment is not None]
    cal = icalendar.Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("NAME", name)
    cal.add("X-WR-CALNAME", name)
    cal.add("X-WR-TIMEZONE", timezone)
    cal.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", icalendar.vDuration(refresh))  # an X- property: its type is not known
    # From a year before the first event, so that its date finds the offset in force at its start.
    first_year = min(years, default=EMPTY_CALENDAR_YEAR + 1) - 1
    last_year = max(years, default=first_year + 1) + 1
    cal.add_component(vtimezone(timezone, first_year, last_year))
    # Imported series may name other zones (calendars.imports keeps only IANA ids): each gets its VTIMEZONE.
    others = {tzid for e in ordered if e.recurrence and not e.cancelled for tzid in _TZID.findall(e.recurrence)}
    for tzid in sorted(others - {timezone, "UTC"}):
        cal.add_component(vtimezone(tzid, first_year, last_year))
    head = bytes(cal.to_ical())
    if not head.endswith(_END):
        raise RuntimeError("icalendar no longer ends a calendar with END:VCALENDAR")
    # The events go between the VTIMEZONE and the calendar's end, each a complete, folded component.
    return b"".join((head[: -len(_END)], *(vevent_text(event, timezone) for event in ordered), _END))


# --- Cache -------------------------------------------------------------------------------------------------------


class _Changes:
    """A count of this process's commits that changed what a feed shows: a check made since is still true."""

    generation = 0


CHANGES = _Changes()
_DIRTY = "feeds:changed"
# Tables whose bulk statements can change a feed; a new person or token cannot change one already served.
_BULK_WATCHED: dict[str, tuple[str, ...]] = {
    "event": ("insert", "update", "delete"),
    "feed_token": ("update", "delete"),
    "person": ("update", "delete"),
}
_WATCHED_COLUMNS: dict[type, tuple[str, ...]] = {
    FeedToken: ("revoked_at", "scope", "department", "person_id"),
    Person: ("department",),
}


def _changes_a_feed(instance: object) -> bool:
    if isinstance(instance, Event):
        return True
    watched = _WATCHED_COLUMNS.get(type(instance))
    if watched is None:
        return False
    # `resolve` notes a token's last use every few minutes: that is no reason to look at every feed again.
    state = inspect(instance)
    return any(state.attrs[name].history.has_changes() for name in watched)


@orm_event.listens_for(Session, "after_flush")
def _note_flushed_changes(session: Session, flush_context: UOWTransaction) -> None:
    deleted = any(isinstance(instance, (Event, *_WATCHED_COLUMNS)) for instance in session.deleted)
    if deleted or any(_changes_a_feed(instance) for instance in (*session.new, *session.dirty)):
        session.info[_DIRTY] = True


@orm_event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state: ORMExecuteState) -> None:
    table = getattr(getattr(state.statement, "table", None), "name", None)
    kinds = _BULK_WATCHED.get(table or "", ())
    if ("insert" in kinds and state.is_insert) or ("update" in kinds and state.is_update) or (
        "delete" in kinds and state.is_delete
    ):
        state.session.info[_DIRTY] = True


@orm_event.listens_for(Session, "after_commit")
def _count_committed_changes(session: Session) -> None:
    if session.info.pop(_DIRTY, False):
        CHANGES.generation += 1


@orm_event.listens_for(Session, "after_rollback")
def _forget_rolled_back_changes(session: Session) -> None:
    session.info.pop(_DIRTY, None)



@dataclass(frozen=True)
class RenderedFeed:
    """A feed's body, also gzipped, with what HTTP says about it."""

    body: bytes
    gzipped: bytes
    etag: str  # of `body`, without quotes
    stamp: FeedStamp

    @property
    def last_modified(self) -> datetime | None:
        return self.stamp.last_change

    @classmethod
    def of(cls, body: bytes, stamp: FeedStamp) -> RenderedFeed:
        # iCalendar text shrinks about tenfold, and calendar apps accept gzip; mtime=0 keeps the bytes stable.
        gzipped = gzip.compress(body, compresslevel=6, mtime=0)
        return cls(body, gzipped, hashlib.sha256(body).hexdigest()[:32], stamp)


def _render_feed(events: Sequence[FeedEvent], name: str, timezone: str, stamp: FeedStamp) -> RenderedFeed:
    return RenderedFeed.of(render(events, name, timezone), stamp)


class FeedCache:
    """Rendered bodies by scope, rebuilt only when the scope's stamp moves; least recently used go first."""

    def __init__(self, max_bytes: int = CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self._feeds: OrderedDict[tuple[FeedScope, str], RenderedFeed] = OrderedDict()
        self._size = 0
        self._building: dict[tuple[FeedScope, str], asyncio.Lock] = {}
        self.renders = 0  # how many bodies were built: a test tells a cache hit from a rebuild

    def get(self, scope: FeedScope, name: str, stamp: FeedStamp) -> RenderedFeed | None:
        feed = self._feeds.get((scope, name))
        if feed is None or feed.stamp != stamp:
            return None
        self._feeds.move_to_end((scope, name))
        return feed

    async def build(
        self, scope: FeedScope, name: str, stamp: FeedStamp, events: Sequence[FeedEvent], timezone: str
    ) -> RenderedFeed:
        """Render `events` for `scope` off the event loop (thousands of events take a while), and keep it.

        Requests for the same scope wait for one render rather than each making their own.
        """
        key = (scope, name)
        lock = self._building.setdefault(key, asyncio.Lock())
        async with lock:
            ready = self.get(scope, name, stamp)
            if ready is not None:
                return ready
            feed = await asyncio.to_thread(_render_feed, events, name, timezone, stamp)
            self.renders += 1
            self._store(key, feed)
            return feed

    def _store(self, key: tuple[FeedScope, str], feed: RenderedFeed) -> None:
        old = self._feeds.pop(key, None)
        if old is not None:
            self._size -= len(old.body) + len(old.gzipped)
        self._feeds[key] = feed
        self._size += len(feed.body) + len(feed.gzipped)
        while self._size > self.max_bytes and len(self._feeds) > 1:
            _key, dropped = self._feeds.popitem(last=False)
            self._size -= len(dropped.body) + len(dropped.gzipped)
