"""The iCal feeds: read back by two parsers that share no code (icalendar, vobject), and served over HTTP."""

from __future__ import annotations

import gzip
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import icalendar
import pytest
import vobject
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from dateutil.rrule import rrulestr
from sqlalchemy import update

from bot.app import App
from calendars.feeds import PAST_DAYS, FeedScope, events_for, render, stamp_of
from calendars.http import FEEDS_KEY, REVALIDATE, add_routes
from integrations.http import make_web_app
from storage.models import Event, Person
from storage.repositories import Repos

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2027, 1, 1, 9, tzinfo=UTC)


def paris(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def whole_days(first: date, days: int = 1) -> tuple[datetime, datetime]:
    """A whole-day event as the chat stores it: from its first local midnight to the one after its last day."""
    start = datetime.combine(first, time(0), PARIS)
    return start.astimezone(UTC), datetime.combine(first + timedelta(days=days), time(0), PARIS).astimezone(UTC)


@dataclass(frozen=True)
class Case:
    """An event to publish, and the instants (or dates) a calendar app must find in the feed."""

    uid: str
    start: datetime | date
    end: datetime | date
    title: str = "Réunion"


# Timed events in winter, in summer, and across both changes of 2027 in Paris: 28 March (02:00 CET -> 03:00
# CEST, at 01:00 UTC) and 31 October (03:00 CEST -> 02:00 CET, at 01:00 UTC: 02:00-03:00 happens twice).
CASES = (
    Case("winter@test", paris(2027, 1, 14, 10, 0), paris(2027, 1, 14, 12, 0), "Comité de pilotage, 1/2 ; « bilan »"),
    Case("summer@test", paris(2027, 7, 8, 14, 30), paris(2027, 7, 8, 16, 0)),
    Case("spring-across@test", utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 1, 30)),  # 01:30 CET -> 03:30 CEST
    Case("spring-after@test", utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 2, 30)),  # 03:30 -> 04:30 CEST
    Case("autumn-twice@test", utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 1, 30)),  # 02:30 CEST -> 02:30 CET
    Case("autumn-second@test", utc(2027, 10, 31, 1, 30), utc(2027, 10, 31, 2, 30)),  # 02:30 CET -> 03:30 CET
    Case("bastille@test", date(2027, 7, 14), date(2027, 7, 15)),
    Case("seminar@test", date(2027, 3, 27), date(2027, 3, 29)),  # two whole days over the spring change
)
CANCELLED = Case("cancelled@test", paris(2027, 2, 3, 9, 0), paris(2027, 2, 3, 10, 0), "Annulé")


async def add(repos: Repos, case: Case, **values: object) -> Event:
    if isinstance(case.start, datetime):
        assert isinstance(case.end, datetime)
        starts_at, ends_at, all_day = case.start, case.end, False
    else:
        assert not isinstance(case.end, datetime)
        starts_at, ends_at = whole_days(case.start, (case.end - case.start).days)
        all_day = True
    return await repos.events.create(
        title=case.title, starts_at=starts_at, ends_at=ends_at, all_day=all_day, uid=case.uid, **values  # type: ignore[arg-type]
    )


async def cancel(repos: Repos, event: Event) -> None:
    event.cancel(repos.events.now())
    await repos.session.flush()


@pytest.fixture
async def feed(repos: Repos) -> bytes:
    """The network feed of CASES and of a cancelled event, rendered from the database."""
    for case in CASES:
        await add(repos, case, description="Ordre du jour :\n1. bilan, 2. perspectives ; " + "é" * 90,
                  url="https://visio.example.org/odpe?salle=1")
    await cancel(repos, await add(repos, CANCELLED))
    return render(await events_for(repos.session, FeedScope.of_network(), NOW), "ODPE — Tout le réseau")


def icalendar_events(body: bytes) -> dict[str, icalendar.Component]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}


def vobject_events(body: bytes) -> dict[str, vobject.base.Component]:
    return {e.uid.value: e for e in vobject.readOne(body.decode("utf-8")).vevent_list}


def instant(value: datetime | date) -> datetime | date:
    return value.astimezone(UTC) if isinstance(value, datetime) else value


async def test_every_time_resolves_to_the_same_instant_in_two_parsers(feed: bytes) -> None:
    by_icalendar, by_vobject = icalendar_events(feed), vobject_events(feed)
    for case in (*CASES, CANCELLED):
        for parsed_start, parsed_end in (
            (by_icalendar[case.uid].decoded("DTSTART"), by_icalendar[case.uid].decoded("DTEND")),
            (by_vobject[case.uid].dtstart.value, by_vobject[case.uid].dtend.value),
        ):
            assert (instant(parsed_start), instant(parsed_end)) == (case.start, case.end), case.uid
            assert isinstance(parsed_start, datetime) == isinstance(case.start, datetime), case.uid


async def test_vobject_reads_times_through_the_feeds_own_vtimezone(feed: bytes) -> None:
    # vobject turns the VTIMEZONE itself into a tzinfo (dateutil's tzical): the RFC 5545 rules are what is read,
    # not the TZID looked up in the system's database as icalendar does.
    start = vobject_events(feed)["summer@test"].dtstart.value
    assert type(start.tzinfo).__name__ == "_tzicalvtz"


async def test_timed_events_are_written_in_paris_time_and_a_repeated_hour_in_utc(feed: bytes) -> None:
    text = feed.decode()
    assert "DTSTART;TZID=Europe/Paris:20270114T100000\r\n" in text
    assert "DTSTART;TZID=Europe/Paris:20270328T013000\r\nDTEND;TZID=Europe/Paris:20270328T033000\r\n" in text
    # 02:30 on 31 October happens twice; a TZID time names the first, so the second is written in UTC.
    assert "DTSTART;TZID=Europe/Paris:20271031T023000\r\nDTEND:20271031T013000Z\r\n" in text


async def test_whole_day_events_stay_dates_with_an_exclusive_end(feed: bytes) -> None:
    text = feed.decode()
    assert "DTSTART;VALUE=DATE:20270714\r\nDTEND;VALUE=DATE:20270715\r\n" in text
    assert "DTSTART;VALUE=DATE:20270327\r\nDTEND;VALUE=DATE:20270329\r\n" in text
    bastille = vobject_events(feed)["bastille@test"]
    assert type(bastille.dtstart.value) is date and type(bastille.dtend.value) is date


async def test_a_cancelled_event_stays_with_its_status_and_raised_sequence(feed: bytes) -> None:
    vevent = icalendar_events(feed)["cancelled@test"]
    assert (str(vevent["STATUS"]), vevent.decoded("SEQUENCE")) == ("CANCELLED", 1)
    other = vobject_events(feed)["cancelled@test"]
    assert (other.status.value, int(other.sequence.value)) == ("CANCELLED", 1)
    assert str(icalendar_events(feed)["winter@test"]["STATUS"]) == "CONFIRMED"


async def test_text_round_trips_escaped_and_folded(feed: bytes) -> None:
    lines = feed.split(b"\r\n")
    assert lines[-1] == b"" and all(len(line) <= 75 for line in lines)
    feed.decode("utf-8")  # folding never splits a character
    title = "Comité de pilotage, 1/2 ; « bilan »"
    description = "Ordre du jour :\n1. bilan, 2. perspectives ; " + "é" * 90
    assert str(icalendar_events(feed)["winter@test"]["SUMMARY"]) == title
    assert str(icalendar_events(feed)["winter@test"]["DESCRIPTION"]) == description
    assert vobject_events(feed)["winter@test"].summary.value == title
    assert vobject_events(feed)["winter@test"].description.value == description
    assert vobject_events(feed)["winter@test"].url.value == "https://visio.example.org/odpe?salle=1"


async def test_the_calendar_says_what_it_is_and_how_often_to_come_back(feed: bytes) -> None:
    calendar = icalendar.Calendar.from_ical(feed)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"]).startswith("-//ONPE//odpe-bot")
    assert (str(calendar["CALSCALE"]), str(calendar["METHOD"])) == ("GREGORIAN", "PUBLISH")
    assert str(calendar["NAME"]) == str(calendar["X-WR-CALNAME"]) == "ODPE — Tout le réseau"
    assert str(calendar["X-WR-TIMEZONE"]) == "Europe/Paris"
    text = feed.decode()
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text and "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]
    assert vobject.readOne(text).vtimezone.tzid.value == "Europe/Paris"


def strict_offsets(vtimezone: icalendar.Component) -> list[tuple[datetime, timedelta]]:
    """(UTC onset, offset) of every observance, read as RFC 5545 § 3.6.5 says: each onset (DTSTART, RDATE,
    RRULE) is a local time of the offset in force before it, TZOFFSETFROM; UNTIL is in UTC."""
    onsets: list[tuple[datetime, timedelta]] = []
    for observance in vtimezone.subcomponents:
        start: datetime = observance.decoded("DTSTART")
        before: timedelta = observance.decoded("TZOFFSETFROM")
        after: timedelta = observance.decoded("TZOFFSETTO")
        local = [start]
        if "RRULE" in observance:
            rule = cast(icalendar.vRecur, observance["RRULE"])
            until = rule.get("UNTIL", [datetime(2100, 1, 1, tzinfo=UTC)])[0]
            text = re.sub(r";?UNTIL=[^;]*", "", bytes(rule.to_ical()).decode())
            local = list(rrulestr(text, dtstart=start).between(start, (until + before).replace(tzinfo=None), inc=True))
        rdates = observance.get("RDATE", [])
        for rdate in rdates if isinstance(rdates, list) else [rdates]:
            local += [moment.dt for moment in rdate.dts]
        onsets += [((moment - before).replace(tzinfo=UTC), after) for moment in local]
    return sorted(onsets)


async def test_the_vtimezone_follows_every_change_of_the_years_of_the_feed(feed: bytes) -> None:
    vtimezone = cast(icalendar.Timezone, icalendar.Calendar.from_ical(feed).walk("VTIMEZONE")[0])
    onsets = strict_offsets(vtimezone)
    # The same rules, read by dateutil's tzical (what vobject uses) rather than looked up by name.
    by_rules = vtimezone.to_tz(lookup_tzid=False)
    moment = datetime(2026, 1, 1, 0, 30, tzinfo=UTC)
    while moment < datetime(2029, 1, 1, tzinfo=UTC):
        expected = moment.astimezone(PARIS).utcoffset()
        strict = [offset for onset, offset in onsets if onset <= moment][-1]
        assert (strict, moment.astimezone(by_rules).utcoffset()) == (expected, expected), moment
        moment += timedelta(hours=1)


async def test_icalendars_own_vtimezone_would_get_the_first_hour_of_summer_time_wrong() -> None:
    # Why calendars.feeds builds its own: this one says summer time starts at 03:00 in the offset before it.
    theirs = icalendar.Timezone.from_tzid("Europe/Paris", first_date=date(2026, 1, 1), last_date=date(2028, 1, 1))
    onsets = strict_offsets(icalendar.Timezone.from_ical(theirs.to_ical()))
    moment = utc(2027, 3, 28, 1, 30)
    assert [offset for onset, offset in onsets if onset <= moment][-1] != moment.astimezone(PARIS).utcoffset()


async def test_two_renders_of_the_same_events_give_the_same_bytes(repos: Repos, feed: bytes) -> None:
    again = render(await events_for(repos.session, FeedScope.of_network(), NOW), "ODPE — Tout le réseau")
    assert again == feed
    # DTSTAMP is the event's last change, not the time of the request.
    vevent = icalendar_events(feed)["cancelled@test"]
    assert vevent.decoded("DTSTAMP") == vevent.decoded("LAST-MODIFIED")


async def test_feeds_show_the_network_a_departement_or_both(repos: Repos) -> None:
    await add(repos, Case("network@test", utc(2027, 2, 1, 9), utc(2027, 2, 1, 10)))
    await add(repos, Case("allier@test", utc(2027, 2, 2, 9), utc(2027, 2, 2, 10)), scope="department", department="03")
    await add(repos, Case("rhone@test", utc(2027, 2, 3, 9), utc(2027, 2, 3, 10)), scope="department", department="69")
    await cancel(repos, await add(repos, Case("off@test", utc(2027, 2, 4, 9), utc(2027, 2, 4, 10))))
    await add(repos, Case("long-ago@test", utc(2026, 1, 5, 9), utc(2026, 1, 5, 10)))
    await add(repos, Case("lately@test", utc(2026, 12, 1, 9), utc(2026, 12, 1, 10)))

    async def uids(scope: FeedScope) -> list[str]:
        return [event.uid for event in await events_for(repos.session, scope, NOW, past_days=90)]

    assert await uids(FeedScope.of_network()) == ["lately@test", "network@test", "off@test"]
    assert await uids(FeedScope.of_department("03")) == ["allier@test"]
    assert await uids(FeedScope.personal("03")) == ["lately@test", "network@test", "allier@test", "off@test"]
    assert await uids(FeedScope.personal(None)) == await uids(FeedScope.of_network())


async def test_the_stamp_moves_on_a_change_and_when_an_event_grows_old(repos: Repos) -> None:
    scope = FeedScope.of_network()
    assert await stamp_of(repos.session, scope, NOW) == await stamp_of(repos.session, scope, NOW)
    event = await add(repos, Case("one@test", utc(2027, 2, 1, 9), utc(2027, 2, 1, 10)))
    first = await stamp_of(repos.session, scope, NOW)
    assert (first.last_change, first.count) == (event.updated_at, 1)
    event.title, event.updated_at = "Renommé", event.updated_at + timedelta(seconds=5)
    await repos.session.flush()
    assert (await stamp_of(repos.session, scope, NOW)).last_change == event.updated_at
    later = utc(2027, 6, 1)  # the event ended more than 90 days before
    old = await stamp_of(repos.session, scope, later, past_days=90)
    assert (old.last_change, old.count) == (utc(2027, 2, 1, 10) + timedelta(days=90), 0)


# --- HTTP --------------------------------------------------------------------------------------------------------


@pytest.fixture
async def client(app: App) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    web_app = make_web_app(app)
    add_routes(web_app, app)
    app.clock.freeze(NOW)
    async with TestClient(TestServer(web_app)) as test_client:
        yield test_client


async def person(app: App, name: str, department: str | None) -> int:
    async with app.db.session() as session:
        repos = Repos(session)
        someone = await repos.people.get_or_create("console", f"@{name}:console", name)
        await repos.people.set_department(someone, department)
        return someone.id


async def token(app: App, person_id: int, scope: str, department: str | None = None) -> str:
    async with app.db.session() as session:
        return await Repos(session).feeds.issue(person_id, scope, department)


async def publish(app: App, case: Case, **values: object) -> None:
    async with app.db.session() as session:
        await add(Repos(session), case, **values)


@pytest.fixture
async def calendar(app: App) -> dict[str, str]:
    """Three events (network, Allier, Rhône) and the tokens of someone from the Allier."""
    await publish(app, Case("network@test", utc(2027, 2, 1, 9), utc(2027, 2, 1, 10), "Webinaire du réseau"))
    await publish(app, Case("allier@test", utc(2027, 2, 2, 9), utc(2027, 2, 2, 10)), scope="department",
                  department="03")
    await publish(app, Case("rhone@test", utc(2027, 2, 3, 9), utc(2027, 2, 3, 10)), scope="department",
                  department="69")
    marie = await person(app, "marie", "03")
    return {
        "network": await token(app, marie, "network"),
        "department": await token(app, marie, "department", "03"),
        "personal": await token(app, marie, "personal"),
        "person": str(marie),
    }


def uids_of(body: bytes) -> list[str]:
    return list(icalendar_events(body))


IDENTITY = {"Accept-Encoding": "identity"}


async def test_a_feed_is_served_with_its_caching_headers(client: TestClient, calendar: dict[str, str]) -> None:
    response = await client.get(f"/ical/{calendar['network']}.ics", headers=IDENTITY)
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert response.headers["Cache-Control"] == "private, max-age=300"
    assert response.headers["Content-Disposition"] == 'inline; filename="odpe-reseau.ics"'
    assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["ETag"])
    assert response.headers["Last-Modified"].endswith(" GMT")
    assert "Content-Encoding" not in response.headers and response.headers["Vary"] == "Accept-Encoding"
    body = await response.read()
    assert uids_of(body) == ["network@test"]
    assert str(icalendar.Calendar.from_ical(body)["NAME"]) == "ODPE — Tout le réseau"


async def test_a_client_that_accepts_gzip_gets_the_same_feed_gzipped(
    client: TestClient, calendar: dict[str, str]
) -> None:
    url = f"/ical/{calendar['network']}.ics"
    plain = await client.get(url, headers=IDENTITY)
    packed = await client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip" and packed.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(await packed.read()) == await plain.read()
    # Other bytes, so a weak tag; either one says the client's copy is current.
    assert packed.headers["ETag"] == "W/" + plain.headers["ETag"]
    for etag in (plain.headers["ETag"], packed.headers["ETag"]):
        assert (await client.get(url, headers={"If-None-Match": etag})).status == 304


@pytest.mark.parametrize("if_none_match", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
async def test_an_unchanged_feed_answers_304_to_its_etag(
    client: TestClient, calendar: dict[str, str], if_none_match: str
) -> None:
    url = f"/ical/{calendar['network']}.ics"
    first = await client.get(url, headers=IDENTITY)
    etag = first.headers["ETag"]
    again = await client.get(url, headers={**IDENTITY, "If-None-Match": if_none_match.format(etag=etag)})
    assert again.status == 304 and await again.read() == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "private, max-age=300"
    other = await client.get(url, headers={"If-None-Match": '"other"'})
    assert other.status == 200


async def test_an_unchanged_feed_answers_304_when_not_modified_since(
    client: TestClient, calendar: dict[str, str]
) -> None:
    url = f"/ical/{calendar['network']}.ics"
    last_modified = (await client.get(url)).headers["Last-Modified"]
    assert (await client.get(url, headers={"If-Modified-Since": last_modified})).status == 304
    assert (await client.get(url, headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"})).status == 200
    # If-None-Match, when sent, decides alone.
    both = {"If-Modified-Since": last_modified, "If-None-Match": '"other"'}
    assert (await client.get(url, headers=both)).status == 200


async def test_head_gives_the_headers_without_the_body(client: TestClient, calendar: dict[str, str]) -> None:
    url = f"/ical/{calendar['network']}.ics"
    for headers in (IDENTITY, {"Accept-Encoding": "gzip"}):
        full = await client.get(url, headers=headers, auto_decompress=False)
        head = await client.head(url, headers=headers)
        assert head.status == 200 and await head.read() == b""
        assert head.headers["ETag"] == full.headers["ETag"]
        assert head.headers["Content-Length"] == str(len(await full.read()))
        assert head.headers["Content-Type"] == "text/calendar; charset=utf-8"


async def test_unknown_and_revoked_tokens_get_a_bare_404(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    unknown = await client.get("/ical/" + "x" * 43 + ".ics")
    assert unknown.status == 404
    assert await unknown.text() == "404: Not Found"
    url = f"/ical/{calendar['department']}.ics"
    assert (await client.get(url)).status == 200
    async with app.db.session() as session:
        assert await Repos(session).feeds.revoke(int(calendar["person"]), "department") == 1
    revoked = await client.get(url)
    assert revoked.status == 404 and await revoked.text() == "404: Not Found"


async def test_a_departement_feed_shows_that_departement_alone(client: TestClient, calendar: dict[str, str]) -> None:
    response = await client.get(f"/ical/{calendar['department']}.ics")
    body = await response.read()
    assert uids_of(body) == ["allier@test"]
    assert response.headers["Content-Disposition"] == 'inline; filename="odpe-03.ics"'
    assert str(icalendar.Calendar.from_ical(body)["NAME"]) == "ODPE — Allier (03)"


async def test_a_personal_feed_follows_the_persons_departement(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    url = f"/ical/{calendar['personal']}.ics"
    assert uids_of(await (await client.get(url)).read()) == ["network@test", "allier@test"]
    await person(app, "marie", "69")
    body = await (await client.get(url)).read()
    assert uids_of(body) == ["network@test", "rhone@test"]
    assert str(icalendar.Calendar.from_ical(body)["NAME"]) == "ODPE — Tout le réseau + Rhône (69)"


async def test_the_public_network_feed_exists_only_when_enabled(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    assert (await client.get("/ical/reseau.ics")).status == 404
    app.config.calendar.public_network_feed = True
    response = await client.get("/ical/reseau.ics")
    assert response.status == 200 and response.headers["Cache-Control"] == "public, max-age=300"
    assert uids_of(await response.read()) == ["network@test"]


async def test_an_unchanged_feed_is_not_rebuilt_and_a_change_is_seen(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    cache = client.app[FEEDS_KEY].cache
    url = f"/ical/{calendar['network']}.ics"
    first = await client.get(url)
    renders = cache.renders
    for _ in range(3):
        assert (await client.get(url)).headers["ETag"] == first.headers["ETag"]
    assert cache.renders == renders
    async with app.db.session() as session:
        event = await Repos(session).events.by_uid("network@test")
        assert event is not None
        await cancel(Repos(session), event)  # at the instant the feed was read (the clock is stopped): its
    # SEQUENCE, not its time, tells the change
    changed = await client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status == 200 and changed.headers["ETag"] != first.headers["ETag"]
    vevent = icalendar_events(await changed.read())["network@test"]
    assert (str(vevent["STATUS"]), vevent.decoded("SEQUENCE")) == ("CANCELLED", 1)
    assert cache.renders == renders + 1


async def test_a_person_without_departement_gets_the_network_in_the_personal_feed(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    async with app.db.session() as session:
        someone = await session.get(Person, int(calendar["person"]))
        assert someone is not None
        someone.department = None
    assert uids_of(await (await client.get(f"/ical/{calendar['personal']}.ics")).read()) == ["network@test"]


async def test_a_change_made_elsewhere_or_an_old_event_is_seen_within_the_revalidation_delay(
    app: App, client: TestClient, calendar: dict[str, str]
) -> None:
    url = f"/ical/{calendar['network']}.ics"
    first = await client.get(url, headers=IDENTITY)
    # A statement on a bare connection, as another process would write: this process is not told.
    async with app.db.engine.begin() as connection:
        await connection.execute(
            update(Event).where(Event.uid == "network@test")
            .values(title="Renommé", updated_at=NOW + timedelta(minutes=1))
        )
    assert (await client.get(url, headers=IDENTITY)).headers["ETag"] == first.headers["ETag"]
    app.clock.freeze(NOW + REVALIDATE)
    renamed = await client.get(url, headers=IDENTITY)
    assert str(icalendar_events(await renamed.read())["network@test"]["SUMMARY"]) == "Renommé"
    # Half a year after it ended, the event leaves the feed; Last-Modified moves forward with it.
    app.clock.freeze(utc(2027, 2, 1, 10) + timedelta(days=PAST_DAYS, seconds=1))
    later = await client.get(url, headers={**IDENTITY, "If-Modified-Since": renamed.headers["Last-Modified"]})
    assert later.status == 200 and uids_of(await later.read()) == []
