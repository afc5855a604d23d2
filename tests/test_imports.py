"""External calendars: read from a local HTTP server with conditional GETs, merged into the shared calendar,
their failures told to admins once, and nothing of the calendar lost when a source misbehaves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
NOW = datetime(YEAR, 1, 10, 8, 0, tzinfo=UTC)


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


@pytest.fixture
async def server() -> AsyncIterator[FeedServer]:
    feed = FeedServer(body=calendar(COMMISSION, JOURNEE))
    web_app = web.Application()
    web_app.router.add_get("/agenda.ics", feed.handle)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    feed.url = f"http://127.0.0.1:{port}/agenda.ics"
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


async def test_a_configured_feed_is_imported_with_its_own_uids_into_the_departments_feed(
    circuit: Circuit, server: FeedServer
) -> None:
    assert await refresh(circuit, NOW) == 1
    events = await imported(circuit.app)
    assert set(events) == {"commission-42@allier.fr", "journee-7@allier.fr"}
    commission = events["commission-42@allier.fr"]
    assert commission.starts_at == datetime(YEAR, 2, 4, 13, 0, tzinfo=UTC)  # 14:00 in Paris, winter
    assert (commission.scope, commission.department, commission.sequence) == ("department", "03", 2)
    body = await department_feed(circuit.app)
    parsed: dict[str, Any] = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).walk("VEVENT")}
    assert set(parsed) == set(events)
    assert parsed["journee-7@allier.fr"]["DTSTART"].dt == datetime(YEAR, 3, 12).date()
    # The source's alarms and attendees stay behind.
    assert b"VALARM" not in body and b"jeanne@allier.fr" not in body
    assert "commission-42@allier.fr" not in (await department_feed(circuit.app, "63")).decode()


async def test_the_next_reading_is_conditional_and_a_304_changes_nothing(circuit: Circuit, server: FeedServer) -> None:
    await refresh(circuit, NOW)
    assert await refresh(circuit, NOW + timedelta(minutes=30)) == 0  # not due before its 60 minutes
    before = {uid: (e.sequence, e.updated_at) for uid, e in (await imported(circuit.app)).items()}
    assert await refresh(circuit, NOW + timedelta(minutes=61)) == 1
    assert server.requests[-1]["If-None-Match"] == '"v1"'
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
    assert events["journee-7@allier.fr"].cancelled and events["journee-7@allier.fr"].sequence == 1
    parsed = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(await department_feed(circuit.app)).walk("VEVENT")}
    assert parsed["journee-7@allier.fr"]["STATUS"] == "CANCELLED"


@pytest.mark.parametrize(
    ("setup", "problem"),
    [
        (lambda s: setattr(s, "status", 500), "le serveur répond par une erreur (HTTP 500)"),
        (lambda s: setattr(s, "delay", 3), "le serveur n'a pas tout envoyé en 1 secondes"),
        (lambda s: setattr(s, "body", b"<html><body>Maintenance</body></html>"), "pas un agenda au format iCalendar"),
        (lambda s: setattr(s, "body", b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n"),
         "pas un agenda au format iCalendar"),
        (lambda s: setattr(s, "body", calendar(COMMISSION * 4000)), "dépasse la taille permise (0.5 Mo)"),
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
    assert len(told) == 1, [s.text for s in told]
    assert problem in told[0].text and "déjà importés restent" in told[0].text
    events = await imported(app)
    assert len(events) == 2 and not any(e.cancelled for e in events.values())
    assert problem in await circuit.text("!agenda sources", user="admin")
    # Back to normal: admins hear it once, and the source reads again.
    server.status, server.delay, server.body, server.etag = 200, 0, calendar(COMMISSION), '"v3"'
    await refresh(circuit, NOW + timedelta(hours=3))
    assert "se lit de nouveau" in circuit.to_person("admin")[-1].text
    assert (await imported(app))["journee-7@allier.fr"].cancelled


async def test_unreadable_events_are_skipped_and_the_rest_imported(circuit: Circuit, server: FeedServer) -> None:
    no_start = "BEGIN:VEVENT\r\nUID:sans-date@allier.fr\r\nSUMMARY:Sans date\r\nEND:VEVENT\r\n"
    no_uid = "BEGIN:VEVENT\r\nSUMMARY:Sans UID\r\nDTSTART:20270101T100000Z\r\nEND:VEVENT\r\n"
    server.body = calendar(COMMISSION, no_start, no_uid)
    await refresh(circuit, NOW)
    assert set(await imported(circuit.app)) == {"commission-42@allier.fr"}
    listing = await circuit.text("!agenda sources", user="admin")
    assert "1 événement(s)" in listing and "2 illisible(s) ou en double" in listing


async def test_a_uid_already_used_by_another_event_is_not_taken_over(circuit: Circuit, server: FeedServer) -> None:
    async with circuit.app.db.session() as session:
        await Repos(session).events.create(title="Nôtre", starts_at=NOW, ends_at=NOW + timedelta(hours=1),
                                           uid="commission-42@allier.fr")
    await refresh(circuit, NOW)
    async with circuit.app.db.session() as session:
        ours = await Repos(session).events.by_uid("commission-42@allier.fr")
        assert ours is not None and ours.title == "Nôtre" and ours.source_url is None
    assert set(await imported(circuit.app)) == {"journee-7@allier.fr"}


WEEKLY = vevent("permanence@allier.fr", "Permanence ODPE", f"DTSTART;TZID=Europe/Paris:{YEAR}0316T100000",
                f"DTEND;TZID=Europe/Paris:{YEAR}0316T110000", "RRULE:FREQ=WEEKLY;COUNT=4",
                f"EXDATE;TZID=Europe/Paris:{YEAR}0330T100000")
WEEKLY_MOVED = vevent("permanence@allier.fr", "Permanence ODPE (déplacée)",
                      f"DTSTART;TZID=Europe/Paris:{YEAR}0324T150000", f"DTEND;TZID=Europe/Paris:{YEAR}0324T160000",
                      f"RECURRENCE-ID;TZID=Europe/Paris:{YEAR}0323T100000")
NEW_YORK = vevent("call@partner.org", "Appel partenaires", f"DTSTART;TZID=America/New_York:{YEAR}0305T090000",
                  "DURATION:PT1H", "RRULE:FREQ=WEEKLY;COUNT=3")


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
    window = (datetime(YEAR, 3, 1, tzinfo=UTC), datetime(YEAR, 5, 1, tzinfo=UTC))
    read_back = recurring_ical_events.of(icalendar.Calendar.from_ical(body)).between(*window)
    assert sorted(o["DTSTART"].dt.astimezone(UTC) for o in read_back if o["UID"] == "permanence@allier.fr") == expected
    card = vobject.readOne(body.decode())
    series = [e for e in card.vevent_list if e.uid.value == "permanence@allier.fr" and not hasattr(e, "recurrence_id")]
    starts = [moment.astimezone(UTC) for moment in series[0].getrruleset(addRDate=True)]
    assert {expected[0], expected[2]} <= set(starts)
    # Every zone named has its VTIMEZONE.
    zones = {str(z["TZID"]) for z in icalendar.Calendar.from_ical(body).walk("VTIMEZONE")}
    assert zones == {"Europe/Paris", "America/New_York"}
    # The agenda lists each occurrence in Paris time.
    clock = datetime(YEAR, 3, 10, 8, tzinfo=UTC)
    async with circuit.app.db.session() as session:
        coming = occurrences(await Repos(session).events.coming(clock, clock + timedelta(days=60), "03"), clock,
                             clock + timedelta(days=60), ZoneInfo("Europe/Paris"))
    permanence = [o.starts_at for o in coming if o.event.uid == "permanence@allier.fr"]
    assert permanence == expected
    calls = [o.starts_at for o in coming if o.event.uid == "call@partner.org"]
    # 09:00 in New York each week, whose summer time begins two weeks before Paris's; the 5th is past.
    new_york = ZoneInfo("America/New_York")
    assert calls == [datetime(YEAR, 3, day, 9, tzinfo=new_york).astimezone(UTC) for day in (12, 19)]


async def test_the_agenda_command_shows_each_coming_occurrence(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    today = TEST_START
    start = (today + timedelta(days=3)).strftime("%Y%m%d")
    server.body = calendar(vevent("hebdo@allier.fr", "Point hebdomadaire", f"DTSTART;TZID=Europe/Paris:{start}T093000",
                                  f"DTEND;TZID=Europe/Paris:{start}T100000", "RRULE:FREQ=WEEKLY"))
    circuit = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}]))
    await refresh(circuit, today)
    await circuit.say("!profil departement 03")
    agenda = await circuit.text("!agenda")
    assert agenda.count("Point hebdomadaire") >= 8  # weekly, over the agenda's 60 days
    assert "09:30–10:00" in agenda
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
    assert "pas encore lu" in await circuit.text("!agenda sources", user="admin")
    await refresh(circuit, NOW)
    assert "2 événement(s) importé(s)" in circuit.to_person("admin")[-1].text
    assert "2 événement(s), lu le" in await circuit.text("!agenda sources", user="admin")
    assert "numéro d'une source" in await circuit.text("!agenda retirer 99999", user="admin")
    removed = await circuit.text(f"!agenda retirer {number[1]}", user="admin")
    assert f"Source {number[1]} retirée ; 2 événement(s) annulé(s)" in removed
    assert all(e.cancelled for e in (await imported(circuit.app)).values())
    assert "Aucun agenda extérieur" in await circuit.text("!agenda sources", user="admin")


async def test_a_feed_taken_out_of_the_configuration_has_its_events_cancelled(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    await refresh(Circuit(make_app(migrated_db, tmp_path, [{"url": server.url}])), NOW)
    events = await imported(make_app(migrated_db, tmp_path, []))
    assert {e.scope for e in events.values()} == {"network"}
    circuit = Circuit(make_app(migrated_db, tmp_path, []))
    await refresh(circuit, NOW + timedelta(minutes=1))
    assert "Aucun agenda extérieur" in await circuit.text("!agenda sources", user="admin")
    assert all(e.cancelled for e in (await imported(circuit.app)).values())


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
    assert "RRULE" in series and "EXDATE" in series


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
    assert events["commission-42@allier.fr"].title == "Changé ici" and "loin@allier.fr" not in events
    # The next day the same body is read again: the far event has entered the three years read.
    await refresh(circuit, NOW + timedelta(days=1))
    events = await imported(circuit.app)
    assert events["commission-42@allier.fr"].title == "Commission formation" and "loin@allier.fr" in events


async def test_a_source_given_another_department_moves_its_events_even_when_the_server_says_304(
    migrated_db: Database, tmp_path: Path, server: FeedServer
) -> None:
    await refresh(Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "03"}])), NOW)
    moved = Circuit(make_app(migrated_db, tmp_path, [{"url": server.url, "department": "63"}]))
    await refresh(moved, NOW + timedelta(hours=2))
    assert server.requests[-1].get("If-None-Match") is None
    assert {e.department for e in (await imported(moved.app)).values()} == {"63"}
    assert "commission-42@allier.fr" in (await department_feed(moved.app, "63")).decode()


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
    listing = await moved.text("!agenda sources", user="admin")
    assert "2 événement(s)" in listing and "illisible" not in listing
