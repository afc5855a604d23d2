"""The occurrences of events in a span of time: an imported series gives each of its occurrences there."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

from calendars.feeds import PRODID
from storage.models import Event

_WRAP = f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:{PRODID}\r\n{{}}END:VCALENDAR\r\n"


@dataclass(frozen=True)
class Occurrence:
    event: Event
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool

    @property
    def title(self) -> str:
        return self.event.title


def instant(value: date | datetime, tz: ZoneInfo) -> datetime:
    """A DTSTART or DTEND as a UTC instant: a date is its local midnight, a floating time is in `tz`."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(UTC)
    return datetime.combine(value, time(0), tz).astimezone(UTC)


def _of_series(event: Event, start: datetime, end: datetime, tz: ZoneInfo) -> list[Occurrence]:
    assert event.recurrence is not None
    calendar = icalendar.Calendar.from_ical(_WRAP.format(event.recurrence))
    found = []
    for component in recurring_ical_events.of(calendar).between(start, end):
        if str(component.get("STATUS", "")).upper() == "CANCELLED":
            continue
        first = component["DTSTART"].dt
        last = component["DTEND"].dt if "DTEND" in component else None
        found.append(Occurrence(event, instant(first, tz), instant(last, tz) if last is not None else None,
                                not isinstance(first, datetime)))
    return found


def occurrences(events: Iterable[Event], start: datetime, end: datetime, tz: ZoneInfo) -> list[Occurrence]:
    """What happens between `start` and `end`, soonest first; a series' cancelled occurrences are left out."""
    found: list[Occurrence] = []
    for event in events:
        if event.recurrence is not None:
            found.extend(_of_series(event, start, end, tz))
        else:
            found.append(Occurrence(event, event.starts_at, event.ends_at, event.all_day))
    return sorted(found, key=lambda o: (o.starts_at, o.event.id))
