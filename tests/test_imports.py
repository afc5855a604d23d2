"""External calendars: read from a local HTTP server with conditional GETs, merged into the shared calendar,
their failures told to admins once, and nothing of the calendar lost when a source misbehaves; the limit on events
a reading brings, a UID published twice or already used, the time zones Outlook and others describe themselves,
and what a hostile feed may not do."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
import vobject
from aiohttp import web
from sqlalchemy import select

from bot import jobs
from bot.app import App
from bot.config import Config
from calendars.feeds import FeedScope, events_for, render
from calendars.occurrences import occurrences
from storage.db import Database
from storage.models import Event
from storage.repositories import Repos
from tests.circuit import Circuit
from tests.db_fixtures import TEST_START

YEAR = TEST_START.year + 1
NOW = datetime(YEAR, 1, 10, 8, 0, tzinfo=UTC)  # 09:00 in Paris
PARIS = ZoneInfo("Europe/Paris")


def calendar(*events: str) -> bytes:
    body = "".join(events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//Agenda//FR\r\n" + body + "END:VCALENDAR\r\n").encode()


def vevent(uid: str, summary: str, start: str, end: str | None = None, *extra: str) -> str:
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", f"SUMMARY:{summary}", start]
    lines += [end] if end else []
    lines += [*extra, "END:VEVENT"]
    return "".join(line + "\r\n" for line in lines)


COMMISSION = vevent("commission-42@allier.fr", "Commission formation", f"DTSTART;TZID=Europe/Paris:{YEAR}0204T140000",
                    f"DTEND;TZID=Europe/Paris:{YEAR}0204T163000", "LOCATION:Moulins", "SEQUENCE:2",
                    "BEGIN:VALARM", "ACTION:DISPLAY", "TRIGGER:-PT15M", "DESCRIPTION:x", "END:VALARM",
                    "ATTENDEE;CN=Jeanne:mailto:jeanne@allier.fr")
JOURNEE = vevent("journee-7@allier.fr", "Journée départementale", f"DTSTART;VALUE=DATE:{YEAR}0312",
                 f"DTEND;VALUE=DATE:{YEAR}0313")


@dataclass
class FeedServer:
    """An external calendar server whose answers the test sets: body, ETag, status, delay."""

    body: bytes = b""
    etag: str | None = '"v1"'
    status: int = 200
    delay: float = 0
    requests: list[dict[str, str]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.status != 200:
            return web.Response(status=self.status, text="Internal Server Error")
        if self.etag and request.headers.get("If-None-Match") == self.etag:
            return web.Response(status=304)
        headers = {"ETag": self.etag} if self.etag else {}
        return web.Response(body=self.body, content_type="text/calendar", headers=headers)


async def serve(feed: FeedServer) -> web.AppRunner:
    web_app = web.Application()
    web_app.router.add_get("/agenda.ics", feed.handle)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feed.url = f"http://127.0.0.1:{port}/agenda.ics"
    return runner


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed = FeedServer(body=calendar(COMMISSION, JOURNEE))
    runner = await serve(feed)
    yield feed
    await runner.cleanup()


@pytest.fixture
async def other_server() -> AsyncIterator[FeedServer]:
    """A second source, another département's."""
    feed = FeedServer(body=calendar())
    runner = await serve(feed)
    yield feed
    await runner.cleanup()


def make_app(db: Database, tmp_path: Path, feeds: list[dict[str, object]], **calendar_settings: object) -> App:
    config = Config(
        database={"url": db.url.render_as_string(hide_password=False)},
        files={"dir": str(tmp_path / "files")},
        roles={"admins": ["@admin:console"], "reviewers": ["@onpe:console"]},
        rate_limit={"per_minute": 0},
        calendar={"external_feeds": feeds, "import_timeout_seconds": 1, **calendar_settings},
    )
    return App(config, db=db)


@pytest.fixture
async def circuit(migrated_db: Database, tmp_path: Path, server: FeedServer) -> Circuit:
    app = make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03", "refresh_minutes": 60}])
    return Circuit(app)


async def imported(app: App) -> dict[str, Event]:
    async with app.db.session() as session:
        rows = await session.scalars(select(Event).where(Event.source_url.is_not(None)))
        return {event.uid: event for event in rows}


async def department_feed(app: App, code: str = "03", now: datetime = NOW) -> bytes:
    async with app.db.session() as session:
        events = await events_for(session, FeedScope.of_department(code), now)
        return render(events, "Allier")


async def refresh(circuit: Circuit, now: datetime) -> int:
    """The import job, run at `now` by the app's clock (stopped there: readings are due to the second)."""
    circuit.app.clock.freeze(now)
    read = await jobs.refresh_calendars(circuit.app)
    await circuit.app.outbox.send_due()
    return read


def vevents(body: bytes) -> dict[str, Any]:
    """The VEVENTs of a feed by UID (a series: its rule, not its changed occurrences)."""
    found = icalendar.Calendar.from_ical(body).walk("VEVENT")
    return {str(e["UID"]): e for e in found if "RECURRENCE-ID" not in e}


def zones_of(body: bytes) -> set[str]:
    return {str(z["TZID"]) for z in icalendar.Calendar.from_ical(body).walk("VTIMEZONE")}


async def starts_of(app: App, uid: str, start: datetime, end: datetime) -> list[datetime]:
    """When the agenda (département 03) shows `uid` between `start` and `end`, each occurrence of a series apart."""
    async with app.db.session() as session:
        coming = occurrences(await Repos(session).events.coming(start, end, "03"), start, end, PARIS)
    return [o.starts_at for o in coming if o.event.uid == uid]


async def source_number(app: App, url: str) -> int:
    async with app.db.session() as session:
        source = await Repos(session).calendar_sources.by_url(url)
        assert source is not None
        return source.id


async def sources_line(circuit: Circuit, url: str) -> str:
    """The line `agenda sources` shows admins for the source at `url`, its number written N."""
    number = await source_number(circuit.app, url)
    lines = [line for line in (await circuit.text("!agenda sources", user="admin")).splitlines() if url in line]
    assert len(lines) == 1, lines
    return lines[0].strip().replace(f"• {number}. ", "• N. ", 1)


def listed(url: str, state: str, department: str = "03") -> str:
    """A configured source's line in `agenda sources`."""
    return f"• N. `{url}` — {department} — {state} — déclaré dans la configuration"


async def test_a_configured_feed_is_imported_with_its_own_uids_into_the_departments_feed(
    circuit: Circuit, server: FeedServer
) -> None:
    assert await refresh(circuit, NOW) == 1
    events = await imported(circuit.app)
    assert set(events) == {"commission-42@allier.fr", "journee-7@allier.fr"}
    commission = events["commission-42@allier.fr"]
    # 14:00–16:30 in Paris, winter.
    assert (commission.starts_at, commission.ends_at) == (datetime(YEAR, 2, 4, 13, 0, tzinfo=UTC),
                                                         datetime(YEAR, 2, 4, 15, 30, tzinfo=UTC))
    assert (commission.title, commission.location, commission.all_day) == ("Commission formation", "Moulins", False)
    assert (commission.scope, commission.department, commission.sequence) == ("department", "03", 2)
    body = await department_feed(circuit.app)
    parsed = vevents(body)
    assert set(parsed) == set(events)
    journee = parsed["journee-7@allier.fr"]
    assert (journee["DTSTART"].dt, journee["DTEND"].dt) == (date(YEAR, 3, 12), date(YEAR, 3, 13))
    # The source's alarms and attendees stay behind.
    assert b"VALARM" not in body and b"jeanne@allier.fr" not in body
    assert vevents(await department_feed(circuit.app, "63")) == {}


async def test_the_next_reading_is_conditional_and_a_304_changes_nothing(circuit: Circuit, server: FeedServer) -> None:
    await refresh(circuit, NOW)
    assert await refresh(circuit, NOW + timedelta(minutes=30)) == 0  # not due before its 60 minutes
    assert len(server.requests) == 1
    before = {uid: (e.sequence, e.updated_at) for uid, e in (await imported(circuit.app)).items()}
    assert len(before) == 2
    assert await refresh(circuit, NOW + timedelta(minutes=61)) == 1
    assert len(server.requests) == 2 and server.requests[-1]["If-None-Match"] == '"v1"'
    assert {uid: (e.sequence, e.updated_at) for uid, e in (await imported(circuit.app)).items()} == before


async def test_a_changed_event_gets_a_higher_sequence_and_a_removed_one_is_cancelled(
    circuit: Circuit, server: FeedServer
) -> None:
    await refresh(circuit, NOW)
    server.body = calendar(COMMISSION.replace("SUMMARY:Commission formation", "SUMMARY:Commission (salle B)"))
    server.etag = '"v2"'
    await refresh(circuit, NOW + timedelta(hours=2))
    events = await imported(circuit.app)
    assert events["commission-42@allier.fr"].title == "Commission (salle B)"
    assert events["commission-42@allier.fr"].sequence == 3
    assert (events["journee-7@allier.fr"].cancelled, events["journee-7@allier.fr"].sequence) == (True, 1)
    parsed = vevents(await department_feed(circuit.app))
    assert str(parsed["journee-7@allier.fr"]["STATUS"]) == "CANCELLED"
    assert str(parsed["commission-42@allier.fr"]["STATUS"]) == "CONFIRMED"


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (lambda s: setattr(s, "status", 500), "le serveur répond par une erreur (HTTP 500)"),
        (lambda s: setattr(s, "delay", 3), "le serveur n'a pas tout envoyé en 1 secondes"),
        (lambda s: setattr(s, "body", b"<html><body>Maintenance</body></html>"),
         "ce n'est pas un agenda au format iCalendar (.ics)"),
        (lambda s: setattr(s, "body", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n"),
         "ce n'est pas un agenda au format iCalendar (.ics)"),
        (lambda s: setattr(s, "body", calendar(COMMISSION * 4000)), "le fichier dépasse la taille permise (0.5 Mo)"),
    ],
    ids=["500", "timeout", "html", "truncated", "huge"],
)
async def test_a_failing_source_is_told_to_admins_once_and_keeps_its_events(
    migrated_db: Database, tmp_path: Path, server: FeedServer, setup, problem: str  # type: ignore[no-untyped-def]
) -> None:
    app = make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}], import_max_mb=0.5)
    circuit = Circuit(app)
    await refresh(circuit, NOW)
    server.etag = '"v2"'
    setup(server)
    await refresh(circuit, NOW + timedelta(hours=1))
    await refresh(circuit, NOW + timedelta(hours=2))
    told = circuit.to_person("admin")
    number = await source_number(app, server.url)
    assert [s.text for s in told] == [
        f"L'agenda extérieur {number} ({server.url}) n'a pas pu être lu : {problem}.\n"
        "Ses événements déjà importés restent dans l'agenda ; nouvel essai toutes les 60 min. "
        "« agenda sources » montre son état."
    ]
    events = await imported(app)
    assert set(events) == {"commission-42@allier.fr", "journee-7@allier.fr"}
    assert not any(e.cancelled for e in events.values())
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"en échec depuis le 10/01/{YEAR} 10:00 : {problem}")
    # Back to normal: admins hear it once, and the source reads again.
    server.status, server.delay, server.body, server.etag = 200, 0, calendar(COMMISSION), '"v3"'
    await refresh(circuit, NOW + timedelta(hours=3))
    assert [s.text for s in circuit.to_person("admin")[1:]] == [
        f"L'agenda extérieur {number} ({server.url}) se lit de nouveau."]
    events = await imported(app)
    assert (events["journee-7@allier.fr"].cancelled, events["commission-42@allier.fr"].cancelled) == (True, False)
    assert await sources_line(circuit, server.url) == listed(server.url, f"1 événement(s), lu le 10/01/{YEAR} 12:00")


async def test_unreadable_events_are_skipped_and_the_rest_imported(circuit: Circuit, server: FeedServer) -> None:
    no_start = "BEGIN:VEVENT\r\nUID:sans-date@allier.fr\r\nSUMMARY:Sans date\r\nEND:VEVENT\r\n"
    no_uid = f"BEGIN:VEVENT\r\nSUMMARY:Sans UID\r\nDTSTART:{YEAR}0201T100000Z\r\nEND:VEVENT\r\n"
    server.body = calendar(COMMISSION, no_start, no_uid)
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {"commission-42@allier.fr"}
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"1 événement(s), lu le 10/01/{YEAR} 09:00 (2 illisible(s) ou en double)")


def published(event: Event) -> tuple[object, ...]:
    return (event.title, event.starts_at, event.ends_at, event.source_url, event.sequence, event.cancelled,
            event.scope, event.department, event.updated_at)


async def test_a_uid_already_used_by_a_chat_event_is_not_taken_over(circuit: Circuit, server: FeedServer) -> None:
    async with circuit.app.db.session() as session:
        await Repos(session).events.create(title="Nôtre", starts_at=NOW + timedelta(days=3),
                                           ends_at=NOW + timedelta(days=3, hours=1), uid="commission-42@allier.fr")
    async with circuit.app.db.session() as session:
        ours = await Repos(session).events.by_uid("commission-42@allier.fr")
        assert ours is not None and (ours.source_url, ours.sequence, ours.cancelled) == (None, 0, False)
        before = published(ours)
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {"journee-7@allier.fr"}
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"1 événement(s), lu le 10/01/{YEAR} 09:00 (1 illisible(s) ou en double)")
    # Nor by a later change at the source.
    server.body = calendar(COMMISSION.replace("SEQUENCE:2", "SEQUENCE:7"), JOURNEE)
    server.etag = '"v2"'
    await refresh(circuit, NOW + timedelta(hours=2))
    async with circuit.app.db.session() as session:
        ours = await Repos(session).events.by_uid("commission-42@allier.fr")
        assert ours is not None and published(ours) == before


async def test_a_uid_another_followed_source_publishes_stays_with_it(
    migrated_db: Database, tmp_path: Path, server: FeedServer, other_server: FeedServer
) -> None:
    first: dict[str, object] = {"url": server.url, "department": "03"}
    await refresh(Circuit(make_app(migrated_db, tmp_path, [first])), NOW)
    atelier = vevent("atelier@puy-de-dome.fr", "Atelier", f"DTSTART;TZID=Europe/Paris:{YEAR}0205T090000")
    other_server.body = calendar(COMMISSION.replace("SUMMARY:Commission formation", "SUMMARY:Commission (copie)")
                                 .replace("SEQUENCE:2", "SEQUENCE:9"), atelier)
    both = Circuit(make_app(migrated_db, tmp_path, [first, {"url": other_server.url, "department": "63"}]))
    assert await refresh(both, NOW + timedelta(minutes=10)) == 1  # the first is not due yet: the other is read
    events = await imported(both.app)
    assert set(events) == {"commission-42@allier.fr", "journee-7@allier.fr", "atelier@puy-de-dome.fr"}
    commission = events["commission-42@allier.fr"]
    assert (commission.source_url, commission.department, commission.title, commission.sequence) == (
        server.url, "03", "Commission formation", 2)
    assert (events["atelier@puy-de-dome.fr"].source_url, events["atelier@puy-de-dome.fr"].department) == (
        other_server.url, "63")
    assert await sources_line(both, other_server.url) == listed(
        other_server.url, f"1 événement(s), lu le 10/01/{YEAR} 09:10 (1 illisible(s) ou en double)", "63")


WEEKLY = vevent("permanence@allier.fr", "Permanence ODPE", f"DTSTART;TZID=Europe/Paris:{YEAR}0316T100000",
                f"DTEND;TZID=Europe/Paris:{YEAR}0316T110000", "RRULE:FREQ=WEEKLY;COUNT=4",
                f"EXDATE;TZID=Europe/Paris:{YEAR}0330T100000")
WEEKLY_MOVED = vevent("permanence@allier.fr", "Permanence ODPE (déplacée)",
                      f"DTSTART;TZID=Europe/Paris:{YEAR}0324T150000", f"DTEND;TZID=Europe/Paris:{YEAR}0324T160000",
                      f"RECURRENCE-ID;TZID=Europe/Paris:{YEAR}0323T100000")
NEW_YORK = vevent("call@partner.org", "Appel partenaires", f"DTSTART;TZID=America/New_York:{YEAR}0305T090000",
                  "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3")
SPRING = (datetime(YEAR, 3, 1, tzinfo=UTC), datetime(YEAR, 5, 1, tzinfo=UTC))


async def test_a_series_keeps_its_rule_in_the_feed_and_is_expanded_in_the_agenda(
    circuit: Circuit, server: FeedServer
) -> None:
    server.body = calendar(WEEKLY, WEEKLY_MOVED, NEW_YORK)
    await refresh(circuit, NOW)
    body = await department_feed(circuit.app)
    # Summer time begins on the last Sunday of March, always between the 24th and the 6th of April: 10:00 in
    # Paris is 09:00 UTC on the 16th, 08:00 UTC on the 6th; the 30th is excluded, the 23rd moved to the 24th.
    expected = [datetime(YEAR, 3, 16, 9, tzinfo=UTC), datetime(YEAR, 3, 24, 14, tzinfo=UTC),
                datetime(YEAR, 4, 6, 8, tzinfo=UTC)]
    read_back = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(*SPRING)
    assert sorted(o["DTSTART"].dt.astimezone(UTC) for o in read_back if o["UID"] == "permanence@allier.fr") == expected
    card = vobject.readOne(body.decode())
    series = [e for e in card.vevent_list if e.uid.value == "permanence@allier.fr" and not hasattr(e, "recurrence_id")]
    starts = [moment.astimezone(UTC) for moment in series[0].getrruleset(addRDate=True)]
    # vobject reads the rule and its exclusion (not the moved occurrence, another VEVENT).
    assert sorted(starts) == [expected[0], datetime(YEAR, 3, 23, 9, tzinfo=UTC), expected[2]]
    # Every zone named has its VTIMEZONE.
    assert zones_of(body) == {"Europe/Paris", "America/New_York"}
    # The agenda lists each occurrence in Paris time.
    clock = datetime(YEAR, 3, 10, 8, tzinfo=UTC)
    assert await starts_of(circuit.app, "permanence@allier.fr", clock, clock + timedelta(days=60)) == expected
    # 09:00 in New York each week, whose summer time begins two weeks before Paris's; the 5th is past.
    assert await starts_of(circuit.app, "call@partner.org", clock, clock + timedelta(days=60)) == [
        datetime(YEAR, 3, 12, 14, tzinfo=UTC), datetime(YEAR, 3, 19, 13, tzinfo=UTC)]


async def test_the_agenda_command_shows_each_coming_occurrence(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    today = TEST_START  # Tuesday 24/11
    start = (today + timedelta(days=3)).strftime("%Y%m%d")
    server.body = calendar(vevent("hebdo@allier.fr", "Point hebdomadaire", f"DTSTART;TZID=Europe/Paris:{start}T093000",
                                  f"DTEND;TZID=Europe/Paris:{start}T100000", "RRULE:FREQ=WEEKLY"))
    circuit = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}]))
    await refresh(circuit, today)
    await circuit.say("!profil departement 03")
    agenda = await circuit.text("!agenda")
    # Weekly from Friday 27/11, over the agenda's 60 days (to 23/01): 27/11, 4, 11, 18, 25/12, 1, 8, 15, 22/01.
    lines = [line for line in agenda.splitlines() if "Point hebdomadaire" in line]
    assert len(lines) == 9, agenda
    assert all("09:30–10:00" in line for line in lines)
    assert [line.split(" — ")[1][:10] for line in lines] == [
        "27/11/2026", "04/12/2026", "11/12/2026", "18/12/2026", "25/12/2026", "01/01/2027", "08/01/2027",
        "15/01/2027", "22/01/2027"]
    assert "Point hebdomadaire" not in await circuit.text("!agenda", user="paul")  # no département: network only
    rid = next(word for word in agenda.split() if word.startswith("E-"))
    refused = await circuit.text(f"!evenement annuler {rid}")
    assert "vient d'un agenda extérieur (127.0.0.1)" in refused


async def test_admins_add_list_and_remove_sources_in_chat(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    circuit = Circuit(make_app(migrated_db, tmp_path, []))
    assert "gérés par les administrateurs" in await circuit.text(f"!agenda importer {server.url} 03")
    assert "n'est pas une adresse d'agenda" in await circuit.text("!agenda importer ftp://x/y.ics", user="admin")
    assert "n'est pas un code de département" in await circuit.text(f"!agenda importer {server.url} 999",
                                                                    user="admin")
    added = await circuit.text(f"!agenda importer {server.url} 03", user="admin")
    number = re.search(r"Agenda extérieur (\d+) suivi, pour 03", added)
    assert number, added
    assert "déjà suivi" in await circuit.text(f"!agenda importer {server.url}", user="admin")
    assert await sources_line(circuit, server.url) == f"• N. `{server.url}` — 03 — pas encore lu"
    await refresh(circuit, NOW)
    assert circuit.to_person("admin")[-1].text == f"Agenda extérieur {number[1]} lu : 2 événement(s) importé(s)."
    assert await sources_line(circuit, server.url) == (
        f"• N. `{server.url}` — 03 — 2 événement(s), lu le 10/01/{YEAR} 09:00")
    assert "numéro d'une source" in await circuit.text("!agenda retirer 99999", user="admin")
    removed = await circuit.text(f"!agenda retirer {number[1]}", user="admin")
    assert f"Source {number[1]} retirée ; 2 événement(s) annulé(s) dans les agendas abonnés." in removed
    events = await imported(circuit.app)
    assert {uid: e.cancelled for uid, e in events.items()} == {"commission-42@allier.fr": True,
                                                               "journee-7@allier.fr": True}
    assert "Aucun agenda extérieur n'est suivi." in await circuit.text("!agenda sources", user="admin")


async def test_a_feed_taken_out_of_the_configuration_has_its_events_cancelled(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    await refresh(Circuit(make_app(migrated_db, tmp_path, [{"url": server.url}])), NOW)
    events = await imported(make_app(migrated_db, tmp_path, []))
    assert {uid: (e.scope, e.cancelled) for uid, e in events.items()} == {
        "commission-42@allier.fr": ("network", False), "journee-7@allier.fr": ("network", False)}
    circuit = Circuit(make_app(migrated_db, tmp_path, []))
    await refresh(circuit, NOW + timedelta(minutes=1))
    assert "Aucun agenda extérieur n'est suivi." in await circuit.text("!agenda sources", user="admin")
    assert {uid: (e.cancelled, e.sequence) for uid, e in (await imported(circuit.app)).items()} == {
        "commission-42@allier.fr": (True, 3), "journee-7@allier.fr": (True, 1)}


async def test_a_series_changed_at_its_source_gets_a_higher_sequence_in_the_feed(
    circuit: Circuit, server: FeedServer
) -> None:
    server.body = calendar(WEEKLY)
    await refresh(circuit, NOW)
    server.body = calendar(WEEKLY.replace("SUMMARY:Permanence ODPE", "SUMMARY:Permanence (salle 2)"))
    server.etag = '"v2"'  # the source changed the title and left SEQUENCE alone
    await refresh(circuit, NOW + timedelta(hours=2))
    [series] = cast(list[Any], icalendar.Calendar.from_ical(await department_feed(circuit.app)).walk("VEVENT"))
    assert str(series["SUMMARY"]) == "Permanence (salle 2)" and series["SEQUENCE"] == 1
    assert series["RRULE"].to_ical() == b"FREQ=WEEKLY;COUNT=4"
    assert [d.dt for d in series["EXDATE"].dts] == [datetime(YEAR, 3, 30, 10, tzinfo=PARIS)]


def test_admins_are_told_on_the_platform_their_id_names() -> None:
    from bot import notify

    both = ("matrix", "slack")
    assert notify.admins(["@admin:example.org", "slack:U0ADMIN"], both) == [
        ("matrix", "@admin:example.org"), ("slack", "slack:U0ADMIN")]
    assert notify.admins(["slack:U0ADMIN"], ("matrix",)) == []  # Slack is not running: nobody to tell there


async def test_a_body_without_validators_is_read_once_a_day_when_unchanged(
    circuit: Circuit, server: FeedServer
) -> None:
    from calendars.imports import AHEAD

    far = NOW + AHEAD + timedelta(hours=12)
    server.etag = None  # the server says neither ETag nor Last-Modified
    server.body = calendar(COMMISSION, vevent("loin@allier.fr", "Dans trois ans", f"DTSTART:{far:%Y%m%dT%H%M%SZ}"))
    await refresh(circuit, NOW)
    async with circuit.app.db.session() as session:
        commission = await Repos(session).events.by_uid("commission-42@allier.fr")
        assert commission is not None
        commission.title = "Changé ici"  # what a new reading of the source would set back
    await refresh(circuit, NOW + timedelta(hours=2))
    events = await imported(circuit.app)
    assert set(events) == {"commission-42@allier.fr"} and events["commission-42@allier.fr"].title == "Changé ici"
    # The next day the same body is read again: the far event has entered the three years read.
    await refresh(circuit, NOW + timedelta(days=1))
    events = await imported(circuit.app)
    assert set(events) == {"commission-42@allier.fr", "loin@allier.fr"}
    assert events["commission-42@allier.fr"].title == "Commission formation"
    assert events["loin@allier.fr"].starts_at == far


async def test_a_source_given_another_department_moves_its_events_even_when_the_server_says_304(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    await refresh(Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}])), NOW)
    moved = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "63"}]))
    await refresh(moved, NOW + timedelta(hours=2))
    assert len(server.requests) == 2 and server.requests[-1].get("If-None-Match") is None
    assert {e.department for e in (await imported(moved.app)).values()} == {"63"}
    assert set(vevents(await department_feed(moved.app, "63"))) == {"commission-42@allier.fr", "journee-7@allier.fr"}
    assert vevents(await department_feed(moved.app, "03")) == {}


async def test_a_source_whose_address_changes_keeps_its_events(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    await refresh(Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}])), NOW)
    moved = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url + "?v=2", "department": "03"}]))
    await refresh(moved, NOW + timedelta(hours=2))
    events = await imported(moved.app)
    assert set(events) == {"commission-42@allier.fr", "journee-7@allier.fr"}
    assert not any(e.cancelled for e in events.values())
    assert {e.source_url for e in events.values()} == {server.url + "?v=2"}
    assert events["commission-42@allier.fr"].sequence == 4  # cancelled with the old address, then back: 2 → 3 → 4
    assert await sources_line(moved, server.url + "?v=2") == listed(
        server.url + "?v=2", f"2 événement(s), lu le 10/01/{YEAR} 11:00")


# --- The limit on events -------------------------------------------------------------------------------------------


def paris(uid: str, summary: str, start: datetime, hours: int = 2, *extra: str) -> str:
    """A VEVENT at `start`, a wall time in Paris."""
    end = start + timedelta(hours=hours)
    return vevent(uid, summary, f"DTSTART;TZID=Europe/Paris:{start:%Y%m%dT%H%M%S}",
                  f"DTEND;TZID=Europe/Paris:{end:%Y%m%dT%H%M%S}", *extra)


# Around NOW (Sunday 10/01, 09:00 in Paris): one under way, four to come, two over.
UNDER_WAY = vevent("en-cours@allier.fr", "Permanence du matin", f"DTSTART:{YEAR}0110T070000Z",
                   f"DTEND:{YEAR}0110T110000Z")
TOMORROW = paris("demain@allier.fr", "Réunion de service", datetime(YEAR, 1, 11, 14))
NEXT_WEEK = paris("semaine@allier.fr", "Comité technique", datetime(YEAR, 1, 17, 10))
NEXT_MONTH = paris("mois@allier.fr", "Commission plénière", datetime(YEAR, 2, 10, 9, 30))
# A yearly series that began five years ago: its next occurrence, in June, is what counts, not its first one.
YEARLY = paris("ag@allier.fr", "Assemblée générale", datetime(YEAR - 5, 6, 12, 10), 3, "RRULE:FREQ=YEARLY")
YESTERDAY = paris("hier@allier.fr", "Point d'équipe", datetime(YEAR, 1, 9, 15))
AUTUMN = paris("automne@allier.fr", "Journée d'automne", datetime(YEAR - 1, 10, 15, 9), 8)


@pytest.mark.parametrize(
    ("limit", "kept"),
    [
        (3, {"en-cours@allier.fr", "demain@allier.fr", "semaine@allier.fr"}),
        (6, {"en-cours@allier.fr", "demain@allier.fr", "semaine@allier.fr", "mois@allier.fr", "ag@allier.fr",
             "hier@allier.fr"}),
    ],
    ids=["coming-only", "and-the-latest-over"],
)
async def test_the_limit_on_events_keeps_the_soonest_and_admins_see_how_many_were_left_out(
    migrated_db: Database, tmp_path: Path, server: FeedServer, limit: int, kept: set[str]
) -> None:
    circuit = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}],
                               import_max_events=limit))
    server.body = calendar(AUTUMN, NEXT_MONTH, YEARLY, TOMORROW, YESTERDAY, UNDER_WAY, NEXT_WEEK)
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == kept
    assert set(vevents(await department_feed(circuit.app))) == kept
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"{limit} événement(s), lu le 10/01/{YEAR} 09:00 ({7 - limit} illisible(s) ou en double)")


async def test_an_event_left_out_by_the_limit_is_not_cancelled_but_one_the_source_removed_is(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    circuit = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}], import_max_events=2))
    server.body = calendar(TOMORROW, NEXT_MONTH)
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {"demain@allier.fr", "mois@allier.fr"}
    # A sooner event pushes next month's out of the two read: it still happens, and stays as it was.
    server.body, server.etag = calendar(TOMORROW, NEXT_MONTH, NEXT_WEEK), '"v2"'
    await refresh(circuit, NOW + timedelta(hours=2))
    events = await imported(circuit.app)
    assert {uid: (e.cancelled, e.sequence) for uid, e in events.items()} == {
        "demain@allier.fr": (False, 0), "semaine@allier.fr": (False, 0), "mois@allier.fr": (False, 0)}
    assert str(vevents(await department_feed(circuit.app))["mois@allier.fr"]["STATUS"]) == "CONFIRMED"
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"2 événement(s), lu le 10/01/{YEAR} 11:00 (1 illisible(s) ou en double)")
    # Once the source no longer publishes it, it is cancelled, even while the limit leaves out another.
    monday = paris("lundi@allier.fr", "Formation", datetime(YEAR, 1, 18, 9))
    server.body, server.etag = calendar(TOMORROW, NEXT_WEEK, monday), '"v3"'
    await refresh(circuit, NOW + timedelta(hours=4))
    events = await imported(circuit.app)
    assert {uid: (e.cancelled, e.sequence) for uid, e in events.items()} == {
        "demain@allier.fr": (False, 0), "semaine@allier.fr": (False, 0), "mois@allier.fr": (True, 1)}


# --- One UID, twice in a feed -------------------------------------------------------------------------------------


async def test_an_event_published_twice_is_imported_once_in_its_latest_version(
    circuit: Circuit, server: FeedServer
) -> None:
    server.body = calendar(
        paris("reunion@allier.fr", "Réunion (ancienne)", datetime(YEAR, 2, 1, 10), 2, "SEQUENCE:3"),
        paris("bureau@allier.fr", "Bureau (mardi)", datetime(YEAR, 2, 9, 10)),
        paris("reunion@allier.fr", "Réunion (salle 4)", datetime(YEAR, 2, 2, 14), 2, "SEQUENCE:5"),
        COMMISSION,
        paris("bureau@allier.fr", "Bureau (jeudi)", datetime(YEAR, 2, 11, 10)),
        # Later in the text, but an older version.
        paris("reunion@allier.fr", "Réunion (brouillon)", datetime(YEAR, 2, 3, 10), 2, "SEQUENCE:4"),
    )
    await refresh(circuit, NOW)
    events = await imported(circuit.app)
    assert {uid: (e.title, e.starts_at, e.sequence) for uid, e in events.items()} == {
        "reunion@allier.fr": ("Réunion (salle 4)", datetime(YEAR, 2, 2, 13, tzinfo=UTC), 5),
        # The same SEQUENCE (none): the later in the text.
        "bureau@allier.fr": ("Bureau (jeudi)", datetime(YEAR, 2, 11, 9, tzinfo=UTC), 0),
        "commission-42@allier.fr": ("Commission formation", datetime(YEAR, 2, 4, 13, tzinfo=UTC), 2),
    }
    found = icalendar.Calendar.from_ical(await department_feed(circuit.app)).walk("VEVENT")
    assert sorted(str(e["UID"]) for e in found) == ["bureau@allier.fr", "commission-42@allier.fr", "reunion@allier.fr"]
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"3 événement(s), lu le 10/01/{YEAR} 09:00 (3 illisible(s) ou en double)")


async def test_a_series_published_twice_keeps_its_latest_rule_with_its_changed_occurrences(
    circuit: Circuit, server: FeedServer
) -> None:
    newer = WEEKLY.replace("SUMMARY:Permanence ODPE", "SUMMARY:Permanence (salle 2)").replace(
        "COUNT=4", "COUNT=3\r\nSEQUENCE:1").replace(f"EXDATE;TZID=Europe/Paris:{YEAR}0330T100000\r\n", "")
    server.body = calendar(newer, WEEKLY, WEEKLY_MOVED)
    await refresh(circuit, NOW)
    events = await imported(circuit.app)
    assert {uid: (e.title, e.sequence) for uid, e in events.items()} == {
        "permanence@allier.fr": ("Permanence (salle 2)", 1)}
    # Three Tuesdays, the 23rd moved to the 24th, the 30th not excluded any more.
    assert await starts_of(circuit.app, "permanence@allier.fr", *SPRING) == [
        datetime(YEAR, 3, 16, 9, tzinfo=UTC), datetime(YEAR, 3, 24, 14, tzinfo=UTC),
        datetime(YEAR, 3, 30, 8, tzinfo=UTC)]
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"1 événement(s), lu le 10/01/{YEAR} 09:00 (1 illisible(s) ou en double)")


# --- Outlook's time zones, and others a feed describes itself ---------------------------------------------------

# As Outlook (Windows) exports a calendar: Windows zone names, each with its VTIMEZONE, quoted where used.
ROMANCE = """BEGIN:VTIMEZONE
TZID:Romance Standard Time
BEGIN:STANDARD
DTSTART:16011028T030000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010325T020000
RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
END:VTIMEZONE
"""
EASTERN = """BEGIN:VTIMEZONE
TZID:Eastern Standard Time
BEGIN:STANDARD
DTSTART:16011104T020000
RRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
END:STANDARD
BEGIN:DAYLIGHT
DTSTART:16010311T020000
RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
END:DAYLIGHT
END:VTIMEZONE
"""
# A zone whose name no library knows: five hours and a half ahead of UTC all year.
PONDICHERRY = """BEGIN:VTIMEZONE
TZID:Bureau de Pondichéry
BEGIN:STANDARD
DTSTART:16010101T000000
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
END:STANDARD
END:VTIMEZONE
"""


def outlook(zones: str, *events: str) -> bytes:
    head = """BEGIN:VCALENDAR
PRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN
VERSION:2.0
METHOD:PUBLISH
X-MS-OLK-FORCEINSPECTOROPEN:TRUE
X-WR-CALNAME:ODPE Allier
"""
    return (head + zones + "".join(events) + "END:VCALENDAR\n").replace("\n", "\r\n").encode()


def outlook_uid(number: int) -> str:
    return f"040000008200E00074C5B7101A82E00800000000{number:032X}{number:040X}"


def outlook_event(number: int, summary: str, zone: str, start: datetime, end: datetime, *extra: str) -> str:
    """A VEVENT as Outlook writes it, with its UID of 112 hexadecimal digits, its X- properties and its reminder."""
    uid = outlook_uid(number)
    tzid = f'TZID="{zone}"'
    return "\n".join([
        "BEGIN:VEVENT", "CLASS:PUBLIC", "CREATED:20261105T093512Z", "DESCRIPTION:Ordre du jour en pièce jointe.\\n",
        f"DTEND;{tzid}:{end:%Y%m%dT%H%M%S}", "DTSTAMP:20261120T101500Z", f"DTSTART;{tzid}:{start:%Y%m%dT%H%M%S}",
        "LAST-MODIFIED:20261105T093512Z", "LOCATION:Moulins\\, salle du conseil", "PRIORITY:5", "SEQUENCE:0",
        f"SUMMARY;LANGUAGE=fr:{summary}", "TRANSP:OPAQUE", f"UID:{uid}",
        *[line.replace("TZID=ZONE", tzid) for line in extra],
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY", "X-MICROSOFT-CDO-IMPORTANCE:1", "X-MICROSOFT-DISALLOW-COUNTER:FALSE",
        "X-MS-OLK-AUTOFILLLOCATION:FALSE", "X-MS-OLK-CONFTYPE:0",
        "BEGIN:VALARM", "TRIGGER:-PT15M", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "END:VALARM",
        "END:VEVENT", "",
    ])


async def test_an_outlook_calendar_in_romance_standard_time_lands_at_the_right_utc_instants(
    circuit: Circuit, server: FeedServer
) -> None:
    zone = "Romance Standard Time"
    server.body = outlook(
        ROMANCE,
        outlook_event(1, "Commission formation", zone, datetime(YEAR, 2, 4, 14), datetime(YEAR, 2, 4, 16, 30)),
        outlook_event(2, "Séminaire d'été", zone, datetime(YEAR, 7, 1, 9, 30), datetime(YEAR, 7, 1, 11)),
        # Tuesdays around the change to summer time (28/03), the 23rd excepted.
        outlook_event(3, "Permanence", zone, datetime(YEAR, 3, 16, 10), datetime(YEAR, 3, 16, 11),
                      "RRULE:FREQ=WEEKLY;COUNT=4;BYDAY=TU", f"EXDATE;TZID=ZONE:{YEAR}0323T100000"),
    )
    await refresh(circuit, NOW)
    events = await imported(circuit.app)
    assert {uid: (e.title, e.starts_at, e.ends_at) for uid, e in events.items()} == {
        outlook_uid(1): ("Commission formation", datetime(YEAR, 2, 4, 13, tzinfo=UTC),
                         datetime(YEAR, 2, 4, 15, 30, tzinfo=UTC)),
        outlook_uid(2): ("Séminaire d'été", datetime(YEAR, 7, 1, 7, 30, tzinfo=UTC),
                         datetime(YEAR, 7, 1, 9, tzinfo=UTC)),
        outlook_uid(3): ("Permanence", datetime(YEAR, 3, 16, 9, tzinfo=UTC), datetime(YEAR, 3, 16, 10, tzinfo=UTC)),
    }
    assert await starts_of(circuit.app, outlook_uid(3), *SPRING) == [
        datetime(YEAR, 3, 16, 9, tzinfo=UTC), datetime(YEAR, 3, 30, 8, tzinfo=UTC), datetime(YEAR, 4, 6, 8, tzinfo=UTC)]
    # The feed names the zone by its IANA id, which every calendar app knows.
    body = await department_feed(circuit.app)
    assert b"Romance" not in body and zones_of(body) == {"Europe/Paris"}
    series = vevents(body)[outlook_uid(3)]
    assert series["DTSTART"].params["TZID"] == "Europe/Paris"
    assert series["DTSTART"].dt == datetime(YEAR, 3, 16, 10, tzinfo=PARIS)
    assert [d.dt for d in series["EXDATE"].dts] == [datetime(YEAR, 3, 23, 10, tzinfo=PARIS)]
    assert b"X-MICROSOFT" not in body and b"VALARM" not in body


def last_sunday(year: int, month: int) -> date:
    end = date(year, month + 1, 1) - timedelta(days=1)
    return end - timedelta(days=(end.weekday() + 1) % 7)


def paris_rules_from(year: int, name: str) -> str:
    """Paris's rules under a name of the exporting app's own, from `year` on (some apps write a zone from the year
    before the first event they export)."""
    spring, autumn = last_sunday(year, 3), last_sunday(year, 10)
    return f"""BEGIN:VTIMEZONE
TZID:{name}
BEGIN:DAYLIGHT
DTSTART:{spring:%Y%m%d}T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
END:DAYLIGHT
BEGIN:STANDARD
DTSTART:{autumn:%Y%m%d}T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
END:STANDARD
END:VTIMEZONE
"""


@pytest.mark.parametrize("year", [2019, 2031])
async def test_a_zone_with_a_name_of_its_own_and_paris_rules_is_published_as_europe_paris(
    circuit: Circuit, server: FeedServer, year: int
) -> None:
    zone = "(UTC+01:00) Bruxelles, Copenhague, Madrid, Paris"
    server.body = outlook(
        paris_rules_from(year - 1, zone),
        outlook_event(1, "Bureau mensuel", zone, datetime(year, 1, 15, 10), datetime(year, 1, 15, 11),
                      "RRULE:FREQ=MONTHLY;COUNT=12"),
        outlook_event(2, "Séminaire d'été", zone, datetime(year, 7, 2, 9, 30), datetime(year, 7, 2, 12)),
    )
    now = datetime(year, 1, 10, 8, tzinfo=UTC)
    await refresh(circuit, now)
    events = await imported(circuit.app)
    assert set(events) == {outlook_uid(1), outlook_uid(2)}
    assert events[outlook_uid(2)].starts_at == datetime(year, 7, 2, 7, 30, tzinfo=UTC)
    # 10:00 in Paris on the 15th of each month: 09:00 UTC in winter, 08:00 UTC from April to October.
    span = (now, datetime(year + 1, 1, 1, tzinfo=UTC))
    assert await starts_of(circuit.app, outlook_uid(1), *span) == [
        datetime(year, month, 15, 8 if 4 <= month <= 10 else 9, tzinfo=UTC) for month in range(1, 13)]
    body = await department_feed(circuit.app, now=now)
    assert zone.encode() not in body and zones_of(body) == {"Europe/Paris"}
    series = vevents(body)[outlook_uid(1)]
    assert (series["DTSTART"].params["TZID"], series["DTSTART"].dt) == (
        "Europe/Paris", datetime(year, 1, 15, 10, tzinfo=PARIS))


@pytest.mark.parametrize(
    ("zones", "zone", "winter", "summer", "series", "published"),
    [
        # Outlook's New York: its Windows name's zone, whose rules its VTIMEZONE follows.
        (EASTERN, "Eastern Standard Time", datetime(YEAR, 2, 4, 14, tzinfo=UTC),
         datetime(YEAR, 7, 1, 13, tzinfo=UTC),
         [datetime(YEAR, 3, day, 14 if day < 14 else 13, tzinfo=UTC) for day in (3, 10, 17, 24)],
         "America/New_York"),
        # A zone no IANA id is known for: the series is published in UTC.
        (PONDICHERRY, "Bureau de Pondichéry", datetime(YEAR, 2, 4, 3, 30, tzinfo=UTC),
         datetime(YEAR, 7, 1, 3, 30, tzinfo=UTC),
         [datetime(YEAR, 3, day, 3, 30, tzinfo=UTC) for day in (3, 10, 17, 24)], None),
    ],
    ids=["eastern", "plus-5h30"],
)
async def test_a_zone_of_elsewhere_described_by_the_feed_lands_at_the_right_utc_instants(
    circuit: Circuit, server: FeedServer, zones: str, zone: str, winter: datetime, summer: datetime,
    series: list[datetime], published: str | None,
) -> None:
    server.body = outlook(
        zones,
        outlook_event(1, "Appel partenaires", zone, datetime(YEAR, 2, 4, 9), datetime(YEAR, 2, 4, 10)),
        outlook_event(2, "Appel d'été", zone, datetime(YEAR, 7, 1, 9), datetime(YEAR, 7, 1, 10)),
        # Wednesdays at 09:00; New York changes to summer time on 14/03.
        outlook_event(3, "Point hebdomadaire", zone, datetime(YEAR, 3, 3, 9), datetime(YEAR, 3, 3, 10),
                      "RRULE:FREQ=WEEKLY;COUNT=4"),
    )
    await refresh(circuit, NOW)
    events = await imported(circuit.app)
    assert {uid: (e.starts_at, e.ends_at) for uid, e in events.items() if uid != outlook_uid(3)} == {
        outlook_uid(1): (winter, winter + timedelta(hours=1)), outlook_uid(2): (summer, summer + timedelta(hours=1))}
    assert await starts_of(circuit.app, outlook_uid(3), *SPRING) == series
    body = await department_feed(circuit.app)
    assert zone.encode() not in body
    assert zones_of(body) == {"Europe/Paris", *([published] if published else [])}
    start = vevents(body)[outlook_uid(3)]["DTSTART"]
    assert (start.params.get("TZID"), start.dt) == (
        (published, datetime(YEAR, 3, 3, 9, tzinfo=ZoneInfo(published))) if published else (None, series[0]))


async def test_a_feeds_time_zones_are_its_own_not_those_an_earlier_reading_named_alike(
    circuit: Circuit, server: FeedServer
) -> None:
    # icalendar keeps the first VTIMEZONE of a name it reads for the whole process: another source, or this one
    # before it put its zone right, must not place this reading's times.
    zone = "Heure du bureau"
    server.body = outlook(PONDICHERRY.replace("Bureau de Pondichéry", zone),
                          outlook_event(1, "Réunion", zone, datetime(YEAR, 2, 4, 9), datetime(YEAR, 2, 4, 10)))
    await refresh(circuit, NOW)
    assert (await imported(circuit.app))[outlook_uid(1)].starts_at == datetime(YEAR, 2, 4, 3, 30, tzinfo=UTC)
    server.body = outlook(ROMANCE.replace("Romance Standard Time", zone),
                          outlook_event(1, "Réunion", zone, datetime(YEAR, 2, 4, 9), datetime(YEAR, 2, 4, 10)))
    server.etag = '"v2"'
    await refresh(circuit, NOW + timedelta(hours=2))
    assert (await imported(circuit.app))[outlook_uid(1)].starts_at == datetime(YEAR, 2, 4, 8, tzinfo=UTC)


# --- What a feed may not do ----------------------------------------------------------------------------------------


async def test_a_time_zone_whose_rules_would_keep_the_reading_busy_skips_its_events_only(
    circuit: Circuit, server: FeedServer
) -> None:
    # Followed from 1601 at each offset asked, a daily rule already takes seconds an event; one every second, days.
    busy = ROMANCE.replace("Romance Standard Time", "Heure du serveur").replace(
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10", "RRULE:FREQ=DAILY").replace(
        "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3", "RRULE:FREQ=DAILY")
    server.body = outlook(
        ROMANCE + busy,
        outlook_event(1, "Commission formation", "Romance Standard Time", datetime(YEAR, 2, 4, 14),
                      datetime(YEAR, 2, 4, 16)),
        outlook_event(2, "Réunion", "Heure du serveur", datetime(YEAR, 2, 5, 14), datetime(YEAR, 2, 5, 16)),
    )
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {outlook_uid(1)}
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"1 événement(s), lu le 10/01/{YEAR} 09:00 (1 illisible(s) ou en double)")


async def test_a_series_repeating_too_often_to_be_read_is_skipped_and_the_rest_imported(
    circuit: Circuit, server: FeedServer
) -> None:
    server.body = calendar(
        COMMISSION,
        # Every hour, endlessly: some 30,000 occurrences over the span read.
        paris("horloge@allier.fr", "Relevé", datetime(YEAR, 1, 4, 8), 1, "RRULE:FREQ=HOURLY"),
        # What calendars do publish: every day for two years now, or eight hours of a training day.
        paris("quotidien@allier.fr", "Point du matin", datetime(YEAR - 2, 1, 4, 9), 1, "RRULE:FREQ=DAILY"),
        paris("formation@allier.fr", "Formation (une heure)", datetime(YEAR, 1, 20, 9), 1, "RRULE:FREQ=HOURLY;COUNT=8"),
    )
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {"commission-42@allier.fr", "quotidien@allier.fr",
                                                 "formation@allier.fr"}
    assert await starts_of(circuit.app, "formation@allier.fr", NOW, NOW + timedelta(days=30)) == [
        datetime(YEAR, 1, 20, hour, tzinfo=UTC) for hour in range(8, 16)]
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"3 événement(s), lu le 10/01/{YEAR} 09:00 (1 illisible(s) ou en double)")


LONG_UID = "".join(hashlib.sha256(str(n).encode()).hexdigest() for n in range(128)) + "@allier.fr"


async def test_values_a_database_would_refuse_are_made_safe_or_skipped(circuit: Circuit, server: FeedServer) -> None:
    server.body = calendar(
        # A SEQUENCE beyond PostgreSQL's integers, and a NUL, which PostgreSQL refuses in text.
        paris("reunion@allier.fr", "Réunion\x00 de bureau", datetime(YEAR, 2, 1, 10), 2, "SEQUENCE:99999999999",
              "DESCRIPTION:Ordre\x07 du jour"),
        # A UID longer than PostgreSQL's unique index takes (8 kB that do not compress).
        paris(LONG_UID, "Trop long", datetime(YEAR, 2, 2, 10)),
        COMMISSION,
    )
    await refresh(circuit, NOW)
    events = await imported(circuit.app)
    assert set(events) == {"reunion@allier.fr", "commission-42@allier.fr"}
    reunion = events["reunion@allier.fr"]
    assert (reunion.title, reunion.description, reunion.sequence) == ("Réunion de bureau", "Ordre du jour", 1_000_000)
    assert await sources_line(circuit, server.url) == listed(
        server.url, f"2 événement(s), lu le 10/01/{YEAR} 09:00 (1 illisible(s) ou en double)")
    # The bot's own SEQUENCE goes on from there.
    server.body = calendar(paris("reunion@allier.fr", "Réunion de bureau (salle 2)", datetime(YEAR, 2, 1, 10), 2,
                                 "SEQUENCE:99999999999"), COMMISSION)
    server.etag = '"v2"'
    await refresh(circuit, NOW + timedelta(hours=2))
    assert (await imported(circuit.app))["reunion@allier.fr"].sequence == 1_000_001
